#include "tee/snp.h"

#include <openssl/evp.h>

#include <cassert>
#include <cstdio>

namespace supernet::tee {

using crypto::Certificate;

const std::vector<Bytes>& amd_root_pins() {
  static const std::vector<Bytes> pins = [] {
    std::vector<Bytes> out;
    for (const char* hex : {
             "9f056bee44377e29308cb5ffa895bdfb62d18881fa6bed8d6f075b0204089cb9",  // ARK-Milan
             "429a69c9422aa258ee4d8db5fcda9c6470ef15f8cd5a9cebd6cbc7d90b863831",  // ARK-Genoa
             "4f125410563a2ab9a50356f9243f6fe0b6f73de98603f53f90339c70e9d7ad08",  // ARK-Turin
         }) {
      out.push_back(from_hex(hex).value());
    }
    return out;
  }();
  return pins;
}

Result<SnpReport> parse_snp_report(ByteView d) {
  if (d.size() != kSnpReportBytes) {
    return make_error("snp.size", "SNP report must be " + std::to_string(kSnpReportBytes) +
                                      " bytes, got " + std::to_string(d.size()));
  }
  SnpReport r;
  const uint8_t* p = d.data();
  r.version = load_le32(p + 0x000);
  if (r.version < 2 || r.version > 5) {
    return make_error("snp.version", "unsupported SNP report version " + std::to_string(r.version));
  }
  r.guest_svn = load_le32(p + 0x004);
  r.policy = load_le64(p + 0x008);
  r.family_id.assign(p + 0x010, p + 0x020);
  r.image_id.assign(p + 0x020, p + 0x030);
  r.vmpl = load_le32(p + 0x030);
  r.signature_algo = load_le32(p + 0x034);
  r.current_tcb = load_le64(p + 0x038);
  r.platform_info = load_le64(p + 0x040);
  r.key_info = load_le32(p + 0x048);
  r.report_data.assign(p + 0x050, p + 0x090);
  r.measurement.assign(p + 0x090, p + 0x0C0);
  r.host_data.assign(p + 0x0C0, p + 0x0E0);
  r.id_key_digest.assign(p + 0x0E0, p + 0x110);
  r.author_key_digest.assign(p + 0x110, p + 0x140);
  r.report_id.assign(p + 0x140, p + 0x160);
  r.reported_tcb = load_le64(p + 0x180);
  if (r.version >= 3) {
    r.cpuid_family = p[0x188];
    r.cpuid_model = p[0x189];
    r.cpuid_stepping = p[0x18A];
  }
  r.chip_id.assign(p + 0x1A0, p + 0x1E0);
  r.committed_tcb = load_le64(p + 0x1E0);
  r.current_build = p[0x1E8];
  r.current_minor = p[0x1E9];
  r.current_major = p[0x1EA];
  r.launch_tcb = load_le64(p + 0x1F0);
  r.signed_bytes = d.subspan(0, kSnpSignedBytes);
  r.sig_r_le = d.subspan(0x2A0, 72);
  r.sig_s_le = d.subspan(0x2E8, 72);
  if ((r.key_info >> 5) != 0) {
    return make_error("snp.reserved", "reserved bits of the key information field are set");
  }
  return r;
}

SnpTcb decode_snp_tcb(uint64_t raw, bool turin) {
  SnpTcb t;
  auto byte = [&](int i) { return static_cast<uint8_t>(raw >> (8 * i)); };
  if (turin) {
    t.fmc = byte(0);
    t.bootloader = byte(1);
    t.tee = byte(2);
    t.snp = byte(3);
  } else {
    t.bootloader = byte(0);
    t.tee = byte(1);
    t.snp = byte(6);
  }
  t.microcode = byte(7);
  return t;
}

namespace {

constexpr const char* kOidProductName = "1.3.6.1.4.1.3704.1.2";
constexpr const char* kOidBlSpl = "1.3.6.1.4.1.3704.1.3.1";
constexpr const char* kOidTeeSpl = "1.3.6.1.4.1.3704.1.3.2";
constexpr const char* kOidSnpSpl = "1.3.6.1.4.1.3704.1.3.3";
constexpr const char* kOidUcodeSpl = "1.3.6.1.4.1.3704.1.3.8";
constexpr const char* kOidFmcSpl = "1.3.6.1.4.1.3704.1.3.9";
constexpr const char* kOidHwId = "1.3.6.1.4.1.3704.1.4";

// A small DER INTEGER (the SPL extensions hold values 0..255).
Result<uint64_t> der_small_int(const Bytes& v, const char* what) {
  if (v.size() < 3 || v[0] != 0x02 || v[1] != v.size() - 2 || v[1] > 8) {
    return make_error("snp.vcek_ext", std::string("VCEK extension ") + what + " is not a small DER INTEGER");
  }
  uint64_t out = 0;
  for (size_t i = 2; i < v.size(); i++) out = out << 8 | v[i];
  return out;
}

Result<std::string> der_ia5(const Bytes& v, const char* what) {
  if (v.size() < 2 || (v[0] != 0x16 && v[0] != 0x0c) || v[1] != v.size() - 2) {
    return make_error("snp.vcek_ext", std::string("VCEK extension ") + what + " is not a short string");
  }
  return std::string(v.begin() + 2, v.end());
}

Status check_spl(const Certificate& vek, const char* oid, const char* name, uint8_t reported) {
  auto ext = vek.extension(oid);
  if (!ext) return make_error("snp.vcek_ext", std::string("VCEK/VLEK lacks the ") + name + " extension");
  SN_ASSIGN(uint64_t spl, der_small_int(*ext, name));
  if (spl != reported) {
    return make_error("snp.tcb_mismatch", std::string("VCEK/VLEK ") + name + " is " + std::to_string(spl) +
                                              " but the report's REPORTED_TCB has " + std::to_string(reported));
  }
  return ok_status();
}

Status verify_report_signature(const SnpReport& r, const crypto::PublicKey& key) {
  SN_ASSIGN(Bytes der, crypto::ecdsa_le_to_der(r.sig_r_le.subspan(0, 48), r.sig_s_le.subspan(0, 48)));
  if (!all_zero(r.sig_r_le.subspan(48)) || !all_zero(r.sig_s_le.subspan(48))) {
    return make_error("snp.signature", "signature R/S have non-zero bytes above 48");
  }
  return key.verify_ecdsa_der(crypto::HashAlg::kSha384, r.signed_bytes, der);
}

std::string hex_u64(uint64_t v) {
  char b[24];
  snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(v));
  return b;
}

}  // namespace

Result<Claims> verify_snp(ByteView data, const Collateral& collateral, UnixSeconds at) {
  SN_ASSIGN(SnpReport r, parse_snp_report(data));
  if (r.signature_algo != 1) {
    return make_error("snp.sig_algo", "signature algorithm " + std::to_string(r.signature_algo) +
                                          " is not ECDSA P-384 with SHA-384 (1)");
  }
  if (r.signing_key() > 1) {
    return make_error("snp.signing_key", "SIGNING_KEY " + std::to_string(r.signing_key()) +
                                             " is neither VCEK (0) nor VLEK (1)");
  }
  if (((r.policy >> 17) & 1) == 0) {
    return make_error("snp.policy", "guest policy bit 17 (reserved, must be one) is zero");
  }
  bool vlek = r.signing_key() == 1;
  const char* vek_name = vlek ? "VLEK" : "VCEK";

  // Pick the endorsement key certificate whose key verifies the report.
  const Certificate* vek = nullptr;
  size_t candidates = 0;
  for (const auto& c : collateral.certs) {
    if (c.is_ca() || c.public_key().describe() != "EC P-384") continue;
    candidates++;
    if (verify_report_signature(r, c.public_key()).ok()) {
      vek = &c;
      break;
    }
  }
  if (candidates == 0) {
    return make_error("snp.no_vek", std::string("no ") + vek_name + " certificate supplied (use --collateral)");
  }
  if (vek == nullptr) {
    return make_error("snp.signature", std::string("report signature does not verify under any of the ") +
                                           std::to_string(candidates) + " supplied VCEK/VLEK certificates");
  }
  if (vek->common_name() != (vlek ? "SEV-VLEK" : "SEV-VCEK")) {
    return make_error("snp.key_type", std::string("report says it is signed by a ") + vek_name +
                                          " but the signing certificate is '" + vek->common_name() + "'");
  }

  SN_ASSIGN(auto chain, crypto::verify_chain(*vek, collateral.certs, amd_root_pins(), at));
  if (chain.size() != 3) {
    return make_error("snp.chain", "expected VEK <- ASK/ASVK <- ARK, got a chain of " + std::to_string(chain.size()));
  }
  std::string ask_cn = chain[1].common_name();
  bool ask_is_vlek = ask_cn.rfind("SEV-VLEK-", 0) == 0;
  if (ask_is_vlek != vlek) {
    return make_error("snp.chain", std::string(vek_name) + " must be issued by " +
                                       (vlek ? "an ASVK (SEV-VLEK-*)" : "an ASK (SEV-*)") + ", not '" + ask_cn + "'");
  }

  std::string product;
  if (auto ext = vek->extension(kOidProductName)) {
    SN_ASSIGN(product, der_ia5(*ext, "productName"));
  }
  bool turin = r.cpuid_family == 0x1A || product.rfind("Turin", 0) == 0;
  SnpTcb reported = decode_snp_tcb(r.reported_tcb, turin);
  SN_TRY(check_spl(*vek, kOidBlSpl, "blSPL", reported.bootloader));
  SN_TRY(check_spl(*vek, kOidTeeSpl, "teeSPL", reported.tee));
  SN_TRY(check_spl(*vek, kOidSnpSpl, "snpSPL", reported.snp));
  SN_TRY(check_spl(*vek, kOidUcodeSpl, "ucodeSPL", reported.microcode));
  if (turin) SN_TRY(check_spl(*vek, kOidFmcSpl, "fmcSPL", reported.fmc));

  Claims c;
  if (!vlek && !r.mask_chip_key()) {
    auto hwid = vek->extension(kOidHwId);
    if (!hwid) return make_error("snp.vcek_ext", "VCEK lacks the hwID extension");
    size_t n = hwid->size();
    if ((n != 64 && n != 8) || !crypto::ct_equal(*hwid, ByteView(r.chip_id).subspan(0, n)) ||
        !all_zero(ByteView(r.chip_id).subspan(n))) {
      return make_error("snp.chip_id", "VCEK hwID " + to_hex(*hwid) + " does not match CHIP_ID " + to_hex(r.chip_id));
    }
  } else {
    c.notes.push_back(vlek ? "VLEK-signed: no chip binding" : "MASK_CHIP_KEY set: no chip binding");
  }

  c.platform = Kind::kSevSnp;
  c.measurement = r.measurement;
  c.report_data = r.report_data;
  c.host_data = r.host_data;
  c.signer = r.id_key_digest;
  c.chip_id = r.chip_id;
  c.debug = r.debug();
  c.tcb = {{"bootloader", reported.bootloader}, {"tee", reported.tee}, {"snp", reported.snp},
           {"microcode", reported.microcode}, {"guest_svn", r.guest_svn}};
  if (turin) c.tcb["fmc"] = reported.fmc;
  c.attributes = {{"version", std::to_string(r.version)},
                  {"vmpl", std::to_string(r.vmpl)},
                  {"policy", hex_u64(r.policy)},
                  {"migrate_ma", r.migrate_ma() ? "true" : "false"},
                  {"signing_key", vek_name},
                  {"product", product.empty() ? "unknown" : product},
                  {"firmware", std::to_string(r.current_major) + "." + std::to_string(r.current_minor) +
                                   " build " + std::to_string(r.current_build)},
                  {"root", chain[2].common_name()}};
  c.tcb_status = "not evaluated";
  c.notes.push_back("SNP has no TCB status service offline; compare tcb with the policy minimum");
  return c;
}

}  // namespace supernet::tee
