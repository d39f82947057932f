// bench_attestation: the cost of verifying one piece of evidence, per platform, with its
// collateral already loaded, against the floor of the bare signature operations that
// verification must perform, measured in the same run. Goal: ratio under 2x.
//
// The floor for each platform is built from the same keys, signatures and signed bytes and
// calls only the signature checks (ECDSA, RSA-PSS certificate signatures, CRL signatures):
//   sev-snp: report ECDSA P-384 + VCEK, ASK, ARK certificate signatures (RSA-PSS 4096)
//   sgx/tdx: quote + QE report ECDSA P-256, PCK leaf/intermediate/root, root and PCK CRLs,
//            TCB info and QE identity signatures, TCB signing certificate + root
//   psa: one ES256;  cca: two ES384;  virtual: one ES384
//   tpm: three RSASSA-PKCS1 quotes + AK, intermediate, root certificate signatures
// Runs interleave verification and floor in rounds and report medians, so drift and noise
// on a shared machine hit both alike. DCAP rows come twice: "cold" parses the quote's
// embedded PCK chain on every call (a peer seen for the first time), "warm" reuses the parse
// of an identical chain (a known peer reconnecting); see Certificate::all_from_pem_cached.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "cbor/cbor.h"
#include "crypto/keys.h"
#include "crypto/x509.h"
#include "tee/cose.h"
#include "tee/dcap.h"
#include "tee/evidence.h"
#include "tee/snp.h"
#include "tee/tpm.h"
#include "tee/virtual_platform.h"
#include "util/file.h"

using namespace supernet;
using Clock = std::chrono::steady_clock;

namespace {

std::string vectors_dir() {
  if (const char* env = std::getenv("SUPERNET_ATTESTATION_VECTORS")) return env;
  return std::string(SUPERNET_SOURCE_DIR) + "/../shared/vectors/attestation";
}

Bytes must_read(const std::string& rel) {
  auto r = read_file(vectors_dir() + "/" + rel);
  if (!r.ok()) {
    std::fprintf(stderr, "%s\n", r.error().to_string().c_str());
    std::exit(2);
  }
  return *r;
}

void must(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "benchmark setup failed: %s\n", what);
    std::exit(2);
  }
}

// Median microseconds per call of `fn`, over `rounds` rounds of `iters` calls.
double time_us(const std::function<void()>& fn, int iters) {
  auto t0 = Clock::now();
  for (int i = 0; i < iters; i++) fn();
  return std::chrono::duration<double, std::micro>(Clock::now() - t0).count() / iters;
}

struct Row {
  std::string name;
  std::function<void()> verify;
  std::function<void()> floor;
  std::string floor_ops;
};

void run(const Row& row, int rounds, int iters) {
  std::vector<double> v, f;
  row.verify();  // warm caches
  row.floor();
  for (int r = 0; r < rounds; r++) {
    v.push_back(time_us(row.verify, iters));
    f.push_back(time_us(row.floor, iters));
  }
  std::sort(v.begin(), v.end());
  std::sort(f.begin(), f.end());
  double vm = v[v.size() / 2], fm = f[f.size() / 2];
  std::printf("%-10s %11.1f %10.1f %7.2fx  %-6s %s\n", row.name.c_str(), vm, fm, vm / fm, vm / fm < 2.0 ? "yes" : "NO",
              row.floor_ops.c_str());
}

Bytes ecdsa_raw_der(ByteView rs) { return crypto::ecdsa_raw_to_der(rs).value(); }

Row snp_row() {
  static Bytes report = must_read("snp/oak_milan_v3_report.bin");
  static tee::Collateral col;
  must(col.add_file(vectors_dir() + "/snp/oak_milan_v3_vcek.der").ok() &&
           col.add_file(vectors_dir() + "/snp/amd/ask_ark_milan.pem").ok(), "SNP collateral");
  static UnixSeconds at = parse_rfc3339("2025-10-01T08:00:00Z").value();
  must(tee::verify_evidence(report, col, at).ok(), "SNP report verifies");
  static crypto::Certificate vcek = col.certs[0], ask = col.certs[1], ark = col.certs[2];
  static crypto::PublicKey vcek_key = vcek.public_key();
  static tee::SnpReport parsed = tee::parse_snp_report(report).value();
  static Bytes sig = crypto::ecdsa_le_to_der(parsed.sig_r_le.subspan(0, 48), parsed.sig_s_le.subspan(0, 48)).value();
  return {"sev-snp",
          [] { must(tee::verify_evidence(report, col, at).ok(), "verify"); },
          [] {
            must(vcek_key.verify_ecdsa_der(crypto::HashAlg::kSha384, ByteView(report).subspan(0, tee::kSnpSignedBytes), sig).ok() &&
                     vcek.verify_signed_by(ask).ok() && ask.verify_signed_by(ark).ok() && ark.verify_signed_by(ark).ok(),
                 "floor");
          },
          "1 ECDSA P-384 + 3 RSA-PSS-4096 cert"};
}

// The DCAP floor from a verified quote and its collateral.
Row dcap_row(const char* name, const char* quote_rel, std::vector<const char*> collateral, const char* when, bool cold) {
  struct State {
    Bytes quote;
    tee::Collateral col;
    UnixSeconds at;
    crypto::PublicKey att_key, pck_key, tcb_key;
    Bytes quote_sig, qe_sig, tcb_sig, qe_id_sig;
    ByteView signed_bytes, qe_report;
    std::vector<crypto::Certificate> chain;
    std::vector<crypto::Crl> crls;
    std::vector<crypto::Certificate> crl_issuers;
    crypto::Certificate tcb_signer, root;
  };
  auto s = std::make_shared<State>();
  s->quote = must_read(quote_rel);
  for (const char* c : collateral) must(s->col.add_path(vectors_dir() + "/" + c).ok(), "DCAP collateral");
  s->at = parse_rfc3339(when).value();
  auto claims = tee::verify_evidence(s->quote, s->col, s->at);
  must(claims.ok(), name);
  auto q = tee::parse_dcap_quote(s->quote).value();
  s->signed_bytes = q.signed_bytes;
  s->qe_report = q.qe_report;
  s->att_key = crypto::PublicKey::from_ec_point(crypto::Curve::kP256, concat({Bytes{4}, q.attestation_key})).value();
  s->quote_sig = ecdsa_raw_der(q.signature);
  s->qe_sig = ecdsa_raw_der(q.qe_report_signature);
  auto embedded = crypto::Certificate::all_from_pem(to_string(q.cert_data)).value();
  const crypto::Certificate* leaf = nullptr;
  for (auto& c : embedded) if (!c.is_ca()) leaf = &c;
  std::vector<crypto::Certificate> pool = embedded;
  pool.insert(pool.end(), s->col.certs.begin(), s->col.certs.end());
  s->chain = crypto::verify_chain(*leaf, pool, {tee::intel_root_pin()}, s->at).value();
  s->pck_key = s->chain[0].public_key();
  s->root = s->chain.back();
  for (size_t i = 0; i + 1 < s->chain.size(); i++) {
    for (const auto& crl : s->col.crls) {
      if (crl.issuer() == s->chain[i + 1].subject() && crl.verify_signed_by(s->chain[i + 1]).ok()) {
        s->crls.push_back(crl);
        s->crl_issuers.push_back(s->chain[i + 1]);
        break;
      }
    }
  }
  for (const auto& c : s->col.certs) {
    if (c.common_name() == "Intel SGX TCB Signing" && c.check_time(s->at).ok()) s->tcb_signer = c;
  }
  s->tcb_key = s->tcb_signer.public_key();
  s->tcb_sig = ecdsa_raw_der(s->col.tcb_infos.at(0).signature());
  bool has_qe_id = !s->col.qe_identities.empty();
  if (has_qe_id) s->qe_id_sig = ecdsa_raw_der(s->col.qe_identities[0].signature());
  std::string ops = "2 quote/QE + " + std::to_string(s->chain.size()) + " PCK chain + " + std::to_string(s->crls.size()) +
                    " CRL + " + std::to_string(has_qe_id ? 2 : 1) + " collateral + 2 signer chain, ECDSA P-256";
  return {name,
          [s, cold] {
            // Cold: the quote's PCK chain is parsed afresh, as for a peer seen the first time.
            if (cold) crypto::Certificate::clear_pem_cache();
            must(tee::verify_evidence(s->quote, s->col, s->at).ok(), "verify");
          },
          [s, has_qe_id] {
            bool ok = s->att_key.verify_ecdsa_der(crypto::HashAlg::kSha256, s->signed_bytes, s->quote_sig).ok() &&
                      s->pck_key.verify_ecdsa_der(crypto::HashAlg::kSha256, s->qe_report, s->qe_sig).ok();
            for (size_t i = 0; i + 1 < s->chain.size(); i++) ok = ok && s->chain[i].verify_signed_by(s->chain[i + 1]).ok();
            ok = ok && s->root.verify_signed_by(s->root).ok();
            for (size_t i = 0; i < s->crls.size(); i++) ok = ok && s->crls[i].verify_signed_by(s->crl_issuers[i]).ok();
            ok = ok && s->tcb_key.verify_ecdsa_der(crypto::HashAlg::kSha256, as_bytes(s->col.tcb_infos[0].body()), s->tcb_sig).ok();
            if (has_qe_id) {
              ok = ok && s->tcb_key.verify_ecdsa_der(crypto::HashAlg::kSha256, as_bytes(s->col.qe_identities[0].body()), s->qe_id_sig).ok();
            }
            ok = ok && s->tcb_signer.verify_signed_by(s->root).ok() && s->root.verify_signed_by(s->root).ok();
            must(ok, "floor");
          },
          ops};
}

Row cose_row(const char* name, const char* token_rel, const char* key_rel, bool cca) {
  struct State {
    Bytes token;
    tee::Collateral col;
    std::vector<std::pair<crypto::PublicKey, tee::CoseSign1>> checks;
  };
  auto s = std::make_shared<State>();
  s->token = must_read(token_rel);
  must(s->col.add_file(vectors_dir() + "/" + key_rel).ok(), "key");
  must(tee::verify_evidence(s->token, s->col, 0).ok(), name);
  if (cca) {
    auto v = cbor::decode(s->token).value();
    auto plat = tee::parse_cose_sign1(v.tagged().find(44234)->as_bytes()).value();
    auto realm = tee::parse_cose_sign1(v.tagged().find(44241)->as_bytes()).value();
    auto rak_bytes = cbor::decode(realm.payload).value().find(44237)->as_bytes();
    s->checks.push_back({crypto::PublicKey::from_ec_point(crypto::Curve::kP384, rak_bytes).value(), realm});
    s->checks.push_back({s->col.public_keys[0], plat});
  } else {
    s->checks.push_back({s->col.public_keys[0], tee::parse_cose_sign1(s->token).value()});
  }
  return {name,
          [s] { must(tee::verify_evidence(s->token, s->col, 0).ok(), "verify"); },
          [s] {
            for (auto& [key, msg] : s->checks) {
              Bytes der = ecdsa_raw_der(msg.signature);
              must(key.verify_ecdsa_der(msg.alg == tee::kCoseAlgEs256 ? crypto::HashAlg::kSha256 : crypto::HashAlg::kSha384,
                                        tee::cose_sig_structure(msg), der).ok(), "floor");
            }
          },
          cca ? "2 ECDSA P-384 (ES384)" : "1 ECDSA P-256 (ES256)"};
}

Row tpm_row() {
  struct State {
    Bytes pb;
    tee::Collateral col;
    UnixSeconds at;
    crypto::Certificate ak, intermediate, root;
    crypto::PublicKey ak_key;
    std::vector<std::pair<ByteView, Bytes>> quotes;  // signed bytes, RSA signature
  };
  auto s = std::make_shared<State>();
  s->pb = must_read("tpm/gce_cos85_nonce9009.pb");
  must(s->col.add_file(vectors_dir() + "/tpm/gce_tpm_ek_intermediate_2.crt").ok() &&
           s->col.add_file(vectors_dir() + "/tpm/gce_tpm_ek_root_1.cer").ok(), "TPM roots");
  s->at = parse_rfc3339("2026-11-24T00:00:00Z").value();
  must(tee::verify_evidence(s->pb, s->col, s->at).ok(), "tpm");
  auto a = tee::parse_tpm_attestation(s->pb).value();
  s->ak = crypto::Certificate::from_der(a.ak_cert).value();
  s->intermediate = s->col.certs[0];
  s->root = s->col.certs[1];
  s->ak_key = s->ak.public_key();
  for (const auto& q : a.quotes) s->quotes.push_back({q.attest, to_bytes(q.signature.subspan(6))});
  return {"tpm warm",
          [s] { must(tee::verify_evidence(s->pb, s->col, s->at).ok(), "verify"); },
          [s] {
            bool ok = true;
            for (auto& [data, sig] : s->quotes) ok = ok && s->ak_key.verify_rsa_pkcs1(crypto::HashAlg::kSha256, data, sig).ok();
            ok = ok && s->ak.verify_signed_by(s->intermediate).ok() && s->intermediate.verify_signed_by(s->root).ok() &&
                 s->root.verify_signed_by(s->root).ok();
            must(ok, "floor");
          },
          "3 RSA-2048 PKCS#1 quotes + 3 RSA cert"};
}

Row virtual_row() {
  struct State {
    std::unique_ptr<tee::VirtualPlatform> platform;
    Bytes evidence;
    crypto::PublicKey key;
    tee::CoseSign1 msg;
  };
  auto s = std::make_shared<State>();
  std::string dir = "bench-virtual-platform";
  s->platform = tee::VirtualPlatform::open(dir).value();
  s->evidence = s->platform->evidence(Bytes(64, 1)).value();
  s->key = s->platform->platform_key();
  s->msg = tee::parse_cose_sign1(s->evidence).value();
  return {"virtual",
          [s] { must(tee::verify_evidence(s->evidence, tee::Collateral{}, 0).ok(), "verify"); },
          [s] {
            must(s->key.verify_ecdsa_der(crypto::HashAlg::kSha384, tee::cose_sig_structure(s->msg), ecdsa_raw_der(s->msg.signature)).ok(),
                 "floor");
          },
          "1 ECDSA P-384 (ES384)"};
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = argc > 1 ? std::atoi(argv[1]) : 15;
  if (!std::getenv("SUPERNET_ATTESTATION_VECTORS") &&
      read_file(vectors_dir() + "/snp/oak_milan_v3_report.bin").ok() == false) {
    std::printf("attestation vectors not found at %s: set SUPERNET_ATTESTATION_VECTORS\n", vectors_dir().c_str());
    return 2;
  }
  std::printf("Evidence verification with collateral loaded vs. the bare signature operations it performs\n");
  std::printf("(medians of %d interleaved rounds; goal: ratio under 2x)\n\n", rounds);
  std::printf("%-10s %11s %10s %8s  %-6s %s\n", "platform", "verify(us)", "floor(us)", "ratio", "<2x?", "floor operations");
  run(snp_row(), rounds, 40);
  for (bool cold : {true, false}) {
    run(dcap_row(cold ? "sgx cold" : "sgx warm", "sgx/automata_sgx_v3_quote.bin",
                 {"sgx/automata_sgx_tcbinfo_00606a000000.json", "sgx/automata_sgx_qe_identity.json",
                  "sgx/automata_pck_platform_crl.der", "sgx/intel"},
                 "2025-08-15T05:45:00Z", cold),
        rounds, 40);
    run(dcap_row(cold ? "tdx cold" : "tdx warm", "tdx/phala_tdx_v4_quote.bin", {"tdx/phala_tdx_v4_collateral.json"},
                 "2025-07-19T10:00:34Z", cold),
        rounds, 40);
  }
  run(cose_row("psa", "psa/tfm_psa_2_0_0_sign1.cbor", "psa/tfm_iak_pub.pem", false), rounds, 100);
  run(cose_row("cca", "cca/tfrmm_cca_token.cbor", "cca/tfrmm_cpak_pub.pem", true), rounds, 40);
  crypto::Certificate::clear_pem_cache();
  run(tpm_row(), rounds, 40);
  run(virtual_row(), rounds, 40);
  return 0;
}
