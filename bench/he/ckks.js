// CKKS baseline for bench_aggregation: one federated round of K updates of D values, with
// Microsoft SEAL (node-seal). Each party encodes and encrypts its update; the aggregator adds
// the ciphertexts; the key holder decrypts and decodes the sum. Prints one JSON line of
// milliseconds: {"d", "k", "encrypt_ms", "add_ms", "decrypt_ms", "round_ms", "max_error"}.
// Usage: node ckks.js D K
const SEAL = require('node-seal');

(async () => {
  const d = parseInt(process.argv[2], 10), k = parseInt(process.argv[3], 10);
  const seal = await SEAL();
  const parms = seal.EncryptionParameters(seal.SchemeType.ckks);
  const n = 8192;  // 4096 slots per ciphertext, 128-bit security with these moduli
  parms.setPolyModulusDegree(n);
  parms.setCoeffModulus(seal.CoeffModulus.Create(n, Int32Array.from([60, 40, 40, 60])));
  const context = seal.Context(parms, true, seal.SecurityLevel.tc128);
  if (!context.parametersSet()) throw new Error('CKKS parameters not accepted');
  const keys = seal.KeyGenerator(context);
  const encoder = seal.CKKSEncoder(context);
  const encryptor = seal.Encryptor(context, keys.createPublicKey());
  const decryptor = seal.Decryptor(context, keys.secretKey());
  const evaluator = seal.Evaluator(context);
  const slots = encoder.slotCount, scale = Math.pow(2, 40), chunks = Math.ceil(d / slots);

  // Updates: values like model deltas, in [-1, 1), seeded.
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 1073741824) - 1;
  const updates = [];
  for (let p = 0; p < k; p++) {
    const u = new Float64Array(d);
    for (let i = 0; i < d; i++) u[i] = rand();
    updates.push(u);
  }
  const now = () => Number(process.hrtime.bigint()) / 1e6;

  // Party by party, so that only the running sum is kept (memory stays one update's worth).
  let encrypt_ms = 0, add_ms = 0, t;
  const sum = [];
  for (let p = 0; p < k; p++) {
    for (let c = 0; c < chunks; c++) {
      t = now();
      const part = new Float64Array(slots);
      part.set(updates[p].subarray(c * slots, Math.min(d, (c + 1) * slots)));
      const pt = encoder.encode(part, scale);
      const ct = encryptor.encrypt(pt);
      pt.delete();
      encrypt_ms += now() - t;
      t = now();
      if (p === 0) {
        sum.push(ct);
      } else {
        evaluator.add(sum[c], ct, sum[c]);
        ct.delete();
      }
      add_ms += now() - t;
    }
  }

  t = now();
  let max_error = 0;
  for (let c = 0; c < chunks; c++) {
    const pt = decryptor.decrypt(sum[c]);
    const vals = encoder.decode(pt);
    pt.delete();
    for (let i = 0; i < slots && c * slots + i < d; i++) {
      let want = 0;
      for (let p = 0; p < k; p++) want += updates[p][c * slots + i];
      max_error = Math.max(max_error, Math.abs(vals[i] - want));
    }
  }
  const decrypt_ms = now() - t;
  console.log(JSON.stringify({d, k, encrypt_ms, add_ms, decrypt_ms, round_ms: encrypt_ms + add_ms + decrypt_ms, max_error}));
})().catch((e) => { console.error(String(e)); process.exit(1); });
