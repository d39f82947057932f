#include "tee/tpm.h"

#include "crypto/hash.h"
#include "crypto/x509.h"
#include "util/protowire.h"

namespace supernet::tee {

using crypto::Certificate;

namespace {

constexpr uint32_t kTpmGeneratedValue = 0xff544347;
constexpr uint16_t kTpmStAttestQuote = 0x8018;
constexpr uint16_t kAlgRsa = 0x0001, kAlgSha1 = 0x0004, kAlgSha256 = 0x000b, kAlgSha384 = 0x000c;
constexpr uint16_t kAlgRsassa = 0x0014, kAlgNull = 0x0010;
constexpr size_t kQuotesMax = 8, kPcrsMax = 24;

uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

// Big-endian reader for TPM structures.
class TpmReader {
 public:
  explicit TpmReader(ByteView d) : r_(d) {}
  Result<uint16_t> u16(const char* f) {
    SN_ASSIGN(ByteView v, r_.take(2, f));
    return be16(v.data());
  }
  Result<uint32_t> u32(const char* f) {
    SN_ASSIGN(ByteView v, r_.take(4, f));
    return load_be32(v.data());
  }
  Result<uint64_t> u64(const char* f) {
    SN_ASSIGN(ByteView v, r_.take(8, f));
    return static_cast<uint64_t>(load_be32(v.data())) << 32 | load_be32(v.data() + 4);
  }
  Result<uint8_t> u8(const char* f) {
    SN_ASSIGN(ByteView v, r_.take(1, f));
    return v[0];
  }
  Result<ByteView> tpm2b(const char* f) {
    SN_ASSIGN(uint16_t n, u16(f));
    return r_.take(n, f);
  }
  Result<ByteView> take(size_t n, const char* f) { return r_.take(n, f); }
  size_t remaining() const { return r_.remaining(); }

 private:
  ByteReader r_;
};

Result<TpmQuote> parse_quote(ByteView data) {
  TpmQuote q;
  protowire::Reader r(data);
  for (int guard = 0; !r.done() && guard < 64; guard++) {
    SN_ASSIGN(auto f, r.next());
    if (f.number == 1 && f.wire_type == 2) q.attest = f.bytes;
    if (f.number == 2 && f.wire_type == 2) q.signature = f.bytes;
    if (f.number == 3 && f.wire_type == 2) {
      protowire::Reader pr(f.bytes);
      for (int g = 0; !pr.done() && g < 64; g++) {
        SN_ASSIGN(auto pf, pr.next());
        if (pf.number == 1 && pf.wire_type == 0) q.pcr_bank = static_cast<uint32_t>(pf.varint);
        if (pf.number == 2 && pf.wire_type == 2) {
          protowire::Reader er(pf.bytes);
          std::optional<uint64_t> index;
          ByteView value;
          for (int h = 0; !er.done() && h < 8; h++) {
            SN_ASSIGN(auto ef, er.next());
            if (ef.number == 1 && ef.wire_type == 0) index = ef.varint;
            if (ef.number == 2 && ef.wire_type == 2) value = ef.bytes;
          }
          if (!index || *index >= kPcrsMax) return make_error("tpm.pcrs", "PCR map entry without a valid index");
          q.pcrs[static_cast<uint32_t>(*index)] = value;
        }
      }
    }
  }
  if (q.attest.empty() || q.signature.empty()) return make_error("tpm.quote", "quote lacks its TPMS_ATTEST or signature");
  return q;
}

size_t digest_size(uint16_t alg) {
  return alg == kAlgSha1 ? 20 : alg == kAlgSha256 ? 32 : alg == kAlgSha384 ? 48 : 0;
}

// The RSA AK's modulus and exponent from TPMT_PUBLIC.
Result<std::pair<ByteView, uint64_t>> rsa_ak(ByteView tpmt_public) {
  TpmReader r(tpmt_public);
  SN_ASSIGN(uint16_t type, r.u16("type"));
  if (type != kAlgRsa) return make_error("tpm.ak", "AK is not an RSA key (type " + std::to_string(type) + ")");
  SN_ASSIGN(uint16_t name_alg, r.u16("nameAlg"));
  (void)name_alg;
  SN_ASSIGN(uint32_t attrs, r.u32("objectAttributes"));
  (void)attrs;
  SN_TRY(r.tpm2b("authPolicy"));
  SN_ASSIGN(uint16_t sym, r.u16("symmetric"));
  if (sym != kAlgNull) return make_error("tpm.ak", "AK has a symmetric algorithm: not a signing key");
  SN_ASSIGN(uint16_t scheme, r.u16("scheme"));
  if (scheme != kAlgNull) SN_TRY(r.u16("scheme hash"));
  SN_ASSIGN(uint16_t bits, r.u16("keyBits"));
  SN_ASSIGN(uint32_t exponent, r.u32("exponent"));
  SN_ASSIGN(ByteView modulus, r.tpm2b("unique"));
  if (modulus.size() * 8 != bits) return make_error("tpm.ak", "AK modulus length differs from keyBits");
  return std::pair<ByteView, uint64_t>(modulus, exponent == 0 ? 65537u : exponent);
}

}  // namespace

const std::vector<Bytes>& tpm_root_pins() {
  static const std::vector<Bytes> pins{
      // tpm_ek_v1_cloud_host_root-signer-0-2018-04-06 (Google Compute Engine)
      from_hex("f23057f4f97d1d90e4cae0ce91d5a0fc99069f0a1bc147021dca33b1e9c4d0d9").value()};
  return pins;
}

Result<TpmAttestation> parse_tpm_attestation(ByteView data) {
  if (data.size() > 256 * 1024) return make_error("tpm.size", "TPM attestation larger than 256 KiB");
  TpmAttestation a;
  protowire::Reader r(data);
  for (int guard = 0; !r.done() && guard < 256; guard++) {
    SN_ASSIGN(auto f, r.next());
    if (f.wire_type != 2) continue;
    if (f.number == 1) a.ak_public = f.bytes;
    if (f.number == 2) {
      if (a.quotes.size() >= kQuotesMax) return make_error("tpm.quotes", "more than 8 quotes");
      SN_ASSIGN(TpmQuote q, parse_quote(f.bytes));
      a.quotes.push_back(q);
    }
    if (f.number == 6) a.ak_cert = f.bytes;
    if (f.number == 7 && a.intermediates.size() < 8) a.intermediates.push_back(f.bytes);
  }
  if (a.ak_public.empty() || a.quotes.empty()) return make_error("tpm.attestation", "attestation lacks the AK public key or quotes");
  return a;
}

Result<TpmsAttest> parse_tpms_attest(ByteView data) {
  TpmReader r(data);
  TpmsAttest t;
  SN_ASSIGN(t.magic, r.u32("magic"));
  if (t.magic != kTpmGeneratedValue) return make_error("tpm.magic", "TPMS_ATTEST magic is not TPM_GENERATED_VALUE");
  SN_ASSIGN(t.type, r.u16("type"));
  if (t.type != kTpmStAttestQuote) return make_error("tpm.type", "TPMS_ATTEST is not a quote");
  SN_TRY(r.tpm2b("qualifiedSigner"));
  SN_ASSIGN(t.extra_data, r.tpm2b("extraData"));
  SN_ASSIGN(t.clock, r.u64("clock"));
  SN_ASSIGN(t.reset_count, r.u32("resetCount"));
  SN_ASSIGN(t.restart_count, r.u32("restartCount"));
  SN_TRY(r.u8("safe"));
  SN_ASSIGN(t.firmware_version, r.u64("firmwareVersion"));
  SN_ASSIGN(uint32_t count, r.u32("pcrSelect.count"));
  if (count > 16) return make_error("tpm.selection", "more than 16 PCR selections");
  for (uint32_t i = 0; i < count; i++) {
    TpmsAttest::Selection sel;
    SN_ASSIGN(sel.hash, r.u16("pcrSelect.hash"));
    SN_ASSIGN(uint8_t size, r.u8("pcrSelect.sizeofSelect"));
    SN_ASSIGN(ByteView bitmap, r.take(size, "pcrSelect.bitmap"));
    for (size_t byte = 0; byte < bitmap.size(); byte++) {
      for (int bit = 0; bit < 8; bit++) {
        if (bitmap[byte] & (1 << bit)) sel.pcrs.push_back(static_cast<uint32_t>(byte * 8 + bit));
      }
    }
    t.selections.push_back(sel);
  }
  SN_ASSIGN(t.pcr_digest, r.tpm2b("pcrDigest"));
  if (r.remaining() != 0) return make_error("tpm.trailing", "trailing bytes after TPMS_ATTEST");
  return t;
}

Result<Claims> verify_tpm(ByteView data, const Collateral& col, UnixSeconds at) {
  SN_ASSIGN(TpmAttestation a, parse_tpm_attestation(data));
  if (a.ak_cert.empty()) {
    return make_error("tpm.no_ak_cert", "attestation carries no AK certificate; a bare AK key is not trusted");
  }
  SN_ASSIGN(Certificate ak_cert, Certificate::from_der_cached(a.ak_cert));
  SN_ASSIGN(auto ak, rsa_ak(a.ak_public));
  crypto::PublicKey ak_key = ak_cert.public_key();
  if (!ak_key.is_rsa_key(ak.first, ak.second)) {
    return make_error("tpm.ak_mismatch", "the AK certificate is for another key than the attestation's AK");
  }
  std::vector<Certificate> pool = col.certs;
  for (ByteView der : a.intermediates) {
    SN_ASSIGN(Certificate c, Certificate::from_der_cached(der));
    pool.push_back(c);
  }
  SN_ASSIGN(auto chain, crypto::verify_chain(ak_cert, pool, tpm_root_pins(), at));

  Claims c;
  c.platform = Kind::kTpm;
  std::optional<Bytes> nonce;
  for (size_t i = 0; i < a.quotes.size(); i++) {
    const TpmQuote& q = a.quotes[i];
    std::string which = "quote " + std::to_string(i);
    TpmReader sr(q.signature);
    SN_ASSIGN(uint16_t sig_alg, sr.u16("sigAlg"));
    SN_ASSIGN(uint16_t hash_alg, sr.u16("hash"));
    SN_ASSIGN(ByteView sig, sr.tpm2b("signature"));
    if (sig_alg != kAlgRsassa || hash_alg != kAlgSha256) {
      return make_error("tpm.sig_alg", which + ": only RSASSA with SHA-256 is supported");
    }
    if (!ak_key.verify_rsa_pkcs1(crypto::HashAlg::kSha256, q.attest, sig).ok()) {
      return make_error("tpm.signature", which + ": signature does not verify under the AK");
    }
    SN_ASSIGN(TpmsAttest t, parse_tpms_attest(q.attest));
    Bytes extra = to_bytes(t.extra_data);
    if (nonce && *nonce != extra) return make_error("tpm.nonce", which + ": quotes carry different nonces");
    nonce = extra;
    // pcrDigest = H(selected PCR values in order), H the signing scheme's hash.
    if (t.selections.size() != 1 || t.selections[0].hash != q.pcr_bank) {
      return make_error("tpm.pcrs", which + ": PCR selection does not match the supplied PCR bank");
    }
    crypto::Hasher h(crypto::HashAlg::kSha256);
    std::string bank = q.pcr_bank == kAlgSha1 ? "sha1" : q.pcr_bank == kAlgSha256 ? "sha256" : q.pcr_bank == kAlgSha384 ? "sha384" : "";
    if (bank.empty()) return make_error("tpm.pcrs", which + ": unsupported PCR bank");
    for (uint32_t index : t.selections[0].pcrs) {
      auto it = q.pcrs.find(index);
      if (it == q.pcrs.end() || it->second.size() != digest_size(q.pcr_bank)) {
        return make_error("tpm.pcrs", which + ": PCR " + std::to_string(index) + " value missing or of the wrong size");
      }
      h.update(it->second);
      c.measurements[bank + "/pcr" + std::to_string(index)] = to_bytes(it->second);
    }
    Bytes digest = h.finish();
    if (!crypto::ct_equal(digest, t.pcr_digest)) {
      return make_error("tpm.pcr_digest", which + ": PCR values do not hash to the quoted digest");
    }
    if (q.pcr_bank == kAlgSha256 || c.measurement.empty()) c.measurement = digest;
    c.tcb["reset_count"] = t.reset_count;
    c.tcb["restart_count"] = t.restart_count;
    char fw[24];
    snprintf(fw, sizeof fw, "0x%016llx", static_cast<unsigned long long>(t.firmware_version));
    c.attributes["firmware_version"] = fw;
  }
  c.report_data = nonce.value_or(Bytes{});
  c.signer = ak_cert.spki_sha256();
  c.attributes["ak_issuer"] = chain.size() > 1 ? chain[1].common_name() : "";
  c.attributes["quotes"] = std::to_string(a.quotes.size());
  c.tcb_status = "not evaluated";
  c.notes.push_back("measurement is the SHA-256 PCR bank's quoted digest; the event log is not replayed");
  return c;
}

}  // namespace supernet::tee
