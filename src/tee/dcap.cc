#include "tee/dcap.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "crypto/der.h"
#include "crypto/hash.h"

#include <openssl/x509.h>

namespace supernet::tee {

using crypto::Certificate;
using nlohmann::json;

const Bytes& intel_root_pin() {
  static const Bytes pin =
      from_hex("a0af031289f5d5d4132f9186068a7fc13628633ba235777472e29b6b6c67a49e").value();
  return pin;
}

static const char* kIntelQeVendor = "939a7233f79c4ca9940a0db3957f0607";
static const char* kOidSgxExt = "1.2.840.113741.1.13.1";

Result<PckExtension> parse_pck_extension(ByteView value) {
  crypto::der::Reader outer(value);
  SN_ASSIGN(auto seq, outer.next());
  if (seq.tag != 0x30) return make_error("pck.ext", "SGX extension is not a SEQUENCE");
  PckExtension out;
  bool have_fmspc = false, have_tcb = false;
  crypto::der::Reader items(seq.value);
  for (int guard = 0; !items.done() && guard < 64; guard++) {
    SN_ASSIGN(auto item, items.next());
    if (item.tag != 0x30) return make_error("pck.ext", "SGX extension entry is not a SEQUENCE");
    crypto::der::Reader kv(item.value);
    SN_ASSIGN(auto oid_el, kv.next());
    SN_ASSIGN(auto val, kv.next());
    if (oid_el.tag != 0x06) return make_error("pck.ext", "SGX extension entry lacks an OID");
    SN_ASSIGN(std::string oid, crypto::der::oid_text(oid_el.value));
    std::string sub = oid.rfind(std::string(kOidSgxExt) + ".", 0) == 0 ? oid.substr(22) : "";
    if (sub == "1") {
      out.ppid = to_bytes(val.value);
    } else if (sub == "3") {
      out.pce_id = to_bytes(val.value);
    } else if (sub == "4") {
      out.fmspc = to_bytes(val.value);
      have_fmspc = val.tag == 0x04 && out.fmspc.size() == 6;
    } else if (sub == "5") {
      SN_ASSIGN(uint64_t t, crypto::der::small_uint(val.value));
      out.sgx_type = static_cast<int>(t);
    } else if (sub == "2") {
      if (val.tag != 0x30) return make_error("pck.ext", "SGX TCB entry is not a SEQUENCE");
      crypto::der::Reader tcb(val.value);
      int found = 0;
      for (int g = 0; !tcb.done() && g < 32; g++) {
        SN_ASSIGN(auto comp, tcb.next());
        crypto::der::Reader ckv(comp.value);
        SN_ASSIGN(auto coid_el, ckv.next());
        SN_ASSIGN(auto cval, ckv.next());
        SN_ASSIGN(std::string coid, crypto::der::oid_text(coid_el.value));
        std::string prefix = std::string(kOidSgxExt) + ".2.";
        if (coid.rfind(prefix, 0) != 0) continue;
        int idx = std::atoi(coid.substr(prefix.size()).c_str());
        if (idx >= 1 && idx <= 16) {
          SN_ASSIGN(out.comp_svn[static_cast<size_t>(idx - 1)], crypto::der::small_uint(cval.value));
          found++;
        } else if (idx == 17) {
          SN_ASSIGN(out.pce_svn, crypto::der::small_uint(cval.value));
          found++;
        } else if (idx == 18) {
          out.cpu_svn = to_bytes(cval.value);
        }
      }
      have_tcb = found == 17;
    }
  }
  if (!have_fmspc || !have_tcb) {
    return make_error("pck.ext", "PCK SGX extension lacks the FMSPC or the 16 TCB components and PCESVN");
  }
  return out;
}

std::string merge_tcb_status(const std::string& platform, const std::string& other) {
  if (platform == "Revoked" || other == "Revoked") return "Revoked";
  if (other == "OutOfDate" || other == "OutOfDateConfigurationNeeded") {
    if (platform == "UpToDate" || platform == "SWHardeningNeeded") return "OutOfDate";
    if (platform == "ConfigurationNeeded" || platform == "ConfigurationAndSWHardeningNeeded") {
      return "OutOfDateConfigurationNeeded";
    }
  }
  return platform;
}

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// TCB signing certificates whose chain to the Intel root is already verified in this call:
// TCB info and QE identity share a signer, and its chain need not be checked twice.
using SignerCache = std::vector<Certificate>;

// Finds the TCB signing certificate that signed `sj` and chains to the Intel root at `at`.
Status verify_signed_json(const SignedJson& sj, const Collateral& col, UnixSeconds at, const char* what,
                          SignerCache* cache) {
  std::vector<Certificate> pool = sj.issuer_chain();
  pool.insert(pool.end(), col.certs.begin(), col.certs.end());
  Error last = make_error("dcap.collateral_signer", std::string("no 'Intel SGX TCB Signing' certificate supplied for the ") + what);
  for (const auto& cert : pool) {
    if (cert.common_name() != "Intel SGX TCB Signing") continue;
    auto sig = cert.public_key().verify_ecdsa_raw(crypto::HashAlg::kSha256, as_bytes(sj.body()), sj.signature());
    if (!sig.ok()) {
      last = make_error("dcap.collateral_signature", std::string(what) + " from " + sj.source() + " is not signed by the TCB signing key");
      continue;
    }
    for (const auto& known : *cache) {
      if (X509_cmp(known.get(), cert.get()) == 0) return ok_status();
    }
    auto chain = crypto::verify_chain(cert, pool, {intel_root_pin()}, at);
    if (chain.ok()) {
      cache->push_back(cert);
      return ok_status();
    }
    last = chain.error();
  }
  return last;
}

Status check_validity(const json& j, UnixSeconds at, const std::string& what) {
  SN_ASSIGN(UnixSeconds issue, parse_rfc3339(j.at("issueDate").get<std::string>()));
  SN_ASSIGN(UnixSeconds next, parse_rfc3339(j.at("nextUpdate").get<std::string>()));
  if (at < issue) return make_error("dcap.collateral_not_yet_valid", what + " is issued " + format_rfc3339(issue) + ", after " + format_rfc3339(at));
  if (at >= next) return make_error("dcap.collateral_expired", what + " expired at " + format_rfc3339(next) + " (checked at " + format_rfc3339(at) + ")");
  return ok_status();
}

struct Level {
  std::string status;
  std::vector<std::string> advisories;
  std::string date;
};

Level level_of(const json& l) {
  Level out;
  out.status = l.at("tcbStatus").get<std::string>();
  out.date = l.value("tcbDate", "");
  if (l.contains("advisoryIDs")) out.advisories = l["advisoryIDs"].get<std::vector<std::string>>();
  return out;
}

uint64_t comp_svn(const json& comps, size_t i) { return comps.at(i).at("svn").get<uint64_t>(); }

struct TcbEval {
  std::string status = "not evaluated";
  std::vector<std::string> advisories;
  std::map<std::string, std::string> attributes;
  std::vector<std::string> notes;
};

// Platform TCB level (Intel QVL): the first level the PCK (and TD) SVNs meet.
Result<Level> platform_level(const json& info, const PckExtension& pck, const TdReportBody* td) {
  const json& levels = info.at("tcbLevels");
  size_t skip = (td != nullptr && td->tee_tcb_svn[1] > 0) ? 2 : 0;
  for (const auto& l : levels) {
    const json& tcb = l.at("tcb");
    const json& sgx = tcb.at("sgxtcbcomponents");
    bool ok = sgx.size() == 16;
    for (size_t i = 0; ok && i < 16; i++) ok = pck.comp_svn[i] >= comp_svn(sgx, i);
    ok = ok && pck.pce_svn >= tcb.at("pcesvn").get<uint64_t>();
    if (ok && td != nullptr) {
      const json& tdx = tcb.at("tdxtcbcomponents");
      ok = tdx.size() == 16;
      for (size_t i = skip; ok && i < 16; i++) ok = td->tee_tcb_svn[i] >= comp_svn(tdx, i);
    }
    if (ok) return level_of(l);
  }
  return make_error("dcap.tcb_not_supported", "no TCB level in the TCB info matches this platform's SVNs (TCB level not supported)");
}

Result<TcbEval> evaluate_tcb(const DcapQuote& q, const SgxReportBody& qe, const PckExtension& pck,
                             const TdReportBody* td, const Collateral& col, UnixSeconds at) {
  TcbEval ev;
  SignerCache signers;
  std::string fmspc = to_hex(pck.fmspc);
  std::string want_id = td ? "TDX" : "SGX";
  // TCB info for this FMSPC.
  std::optional<std::string> platform_status;
  for (const auto& sj : col.tcb_infos) {
    const json& doc = sj.doc();
    if (lower(doc.value("fmspc", "")) != fmspc || doc.value("id", "SGX") != want_id) continue;
    if (doc.value("version", 0) < 3) return make_error("dcap.collateral_version", sj.source() + ": only TCB info version 3 is supported");
    SN_TRY(verify_signed_json(sj, col, at, "TCB info", &signers));
    SN_TRY(check_validity(doc, at, "TCB info for FMSPC " + fmspc));
    if (lower(doc.value("pceId", "")) != to_hex(pck.pce_id)) {
      return make_error("dcap.collateral_mismatch", "TCB info PCE-ID differs from the PCK's");
    }
    SN_ASSIGN(Level lvl, platform_level(doc, pck, td));
    platform_status = lvl.status;
    ev.advisories = lvl.advisories;
    ev.attributes["platform_tcb_status"] = lvl.status;
    ev.attributes["platform_tcb_date"] = lvl.date;
    ev.attributes["tcb_evaluation_data_number"] = std::to_string(doc.value("tcbEvaluationDataNumber", 0));
    if (td != nullptr && td->tee_tcb_svn[1] > 0 && doc.contains("tdxModuleIdentities")) {
      char id[16];
      snprintf(id, sizeof id, "TDX_%02d", td->tee_tcb_svn[1]);
      std::optional<std::string> module_status;
      for (const auto& m : doc["tdxModuleIdentities"]) {
        if (m.value("id", "") != id) continue;
        SN_ASSIGN(Bytes signer, from_hex(m.at("mrsigner").get<std::string>()));
        SN_ASSIGN(Bytes attrs, from_hex(m.at("attributes").get<std::string>()));
        SN_ASSIGN(Bytes mask, from_hex(m.at("attributesMask").get<std::string>()));
        if (signer != to_bytes(td->mr_signer_seam)) return make_error("dcap.tdx_module", std::string(id) + " MRSIGNER differs from the quote's MR_SIGNER_SEAM");
        for (size_t i = 0; i < std::min<size_t>(8, mask.size()); i++) {
          if ((td->seam_attributes[i] & mask[i]) != attrs[i]) return make_error("dcap.tdx_module", std::string(id) + " SEAM attributes differ");
        }
        for (const auto& l : m.at("tcbLevels")) {
          if (td->tee_tcb_svn[0] >= l.at("tcb").at("isvsvn").get<uint64_t>()) {
            module_status = level_of(l).status;
            break;
          }
        }
        if (!module_status) return make_error("dcap.tcb_not_supported", std::string("no ") + id + " TCB level matches TDX module SVN " + std::to_string(td->tee_tcb_svn[0]));
      }
      if (module_status) {
        ev.attributes["tdx_module_tcb_status"] = *module_status;
        *platform_status = merge_tcb_status(*platform_status, *module_status);
      } else {
        ev.notes.push_back(std::string("TCB info has no identity for TDX module ") + id);
      }
    }
    break;
  }
  if (!platform_status) ev.notes.push_back("no TCB info for FMSPC " + fmspc + " supplied: platform TCB status not evaluated");

  // QE identity.
  std::optional<std::string> qe_status;
  std::string want_qe = td ? "TD_QE" : "QE";
  for (const auto& sj : col.qe_identities) {
    const json& doc = sj.doc();
    if (doc.value("id", "") != want_qe) continue;
    SN_TRY(verify_signed_json(sj, col, at, "QE identity", &signers));
    SN_TRY(check_validity(doc, at, "QE identity"));
    SN_ASSIGN(Bytes mrsigner, from_hex(doc.at("mrsigner").get<std::string>()));
    if (mrsigner != to_bytes(qe.mr_signer)) return make_error("dcap.qe_identity", "QE MRSIGNER " + to_hex(qe.mr_signer) + " is not Intel's");
    if (doc.at("isvprodid").get<uint64_t>() != qe.isv_prod_id) return make_error("dcap.qe_identity", "QE ISVPRODID differs from the QE identity");
    SN_ASSIGN(Bytes misc, from_hex(doc.at("miscselect").get<std::string>()));
    SN_ASSIGN(Bytes misc_mask, from_hex(doc.at("miscselectMask").get<std::string>()));
    if (misc.size() != 4 || misc_mask.size() != 4 || (qe.miscselect & load_be32(misc_mask.data())) != load_be32(misc.data())) {
      return make_error("dcap.qe_identity", "QE MISCSELECT does not match the QE identity");
    }
    SN_ASSIGN(Bytes attrs, from_hex(doc.at("attributes").get<std::string>()));
    SN_ASSIGN(Bytes mask, from_hex(doc.at("attributesMask").get<std::string>()));
    if (attrs.size() != 16 || mask.size() != 16) return make_error("dcap.qe_identity", "QE identity attributes are not 16 bytes");
    for (size_t i = 0; i < 16; i++) {
      if ((qe.attributes[i] & mask[i]) != attrs[i]) return make_error("dcap.qe_identity", "QE ATTRIBUTES do not match the QE identity");
    }
    for (const auto& l : doc.at("tcbLevels")) {
      if (qe.isv_svn >= l.at("tcb").at("isvsvn").get<uint64_t>()) {
        Level lvl = level_of(l);
        qe_status = lvl.status;
        for (auto& a : lvl.advisories) ev.advisories.push_back(a);
        break;
      }
    }
    if (!qe_status) return make_error("dcap.tcb_not_supported", "no QE identity TCB level matches QE ISVSVN " + std::to_string(qe.isv_svn));
    ev.attributes["qe_tcb_status"] = *qe_status;
    break;
  }
  if (!qe_status) ev.notes.push_back("no " + want_qe + " identity supplied: QE TCB status not evaluated");

  if (platform_status) {
    ev.status = qe_status ? merge_tcb_status(*platform_status, *qe_status) : *platform_status;
  } else if (qe_status && *qe_status != "UpToDate") {
    ev.status = *qe_status;
  }
  std::sort(ev.advisories.begin(), ev.advisories.end());
  ev.advisories.erase(std::unique(ev.advisories.begin(), ev.advisories.end()), ev.advisories.end());
  (void)q;
  return ev;
}

// Revocation: the root CRL must not list the intermediate, the PCK CRL not the leaf.
Status check_revocation(const std::vector<Certificate>& chain, const Collateral& col, UnixSeconds at,
                        std::vector<std::string>* notes) {
  for (size_t i = 0; i + 1 < chain.size(); i++) {
    const Certificate& subject = chain[i];
    const Certificate& issuer = chain[i + 1];
    std::optional<Error> first_error;
    bool checked = false;
    for (const auto& crl : col.crls) {
      if (crl.issuer() != issuer.subject()) continue;
      Status s = crypto::check_crl(crl, issuer, subject, at);
      if (s.ok()) {
        checked = true;
        break;
      }
      if (s.error().code == "crl.revoked") return s.error();
      if (!first_error) first_error = s.error();
    }
    if (!checked && first_error) return *first_error;
    if (!checked) notes->push_back("no CRL from '" + issuer.common_name() + "' supplied: revocation of '" + subject.common_name() + "' not checked");
  }
  return ok_status();
}

Result<Claims> verify_dcap_impl(ByteView data, const Collateral& col, UnixSeconds at) {
  SN_ASSIGN(DcapQuote q, parse_dcap_quote(data));
  if (to_hex(q.qe_vendor_id) != kIntelQeVendor) {
    return make_error("dcap.qe_vendor", "QE vendor " + to_hex(q.qe_vendor_id) + " is not Intel");
  }
  // 1. Quote signature by the attestation key.
  Bytes point = concat({Bytes{0x04}, q.attestation_key});
  SN_ASSIGN(auto att_key, crypto::PublicKey::from_ec_point(crypto::Curve::kP256, point));
  if (!att_key.verify_ecdsa_raw(crypto::HashAlg::kSha256, q.signed_bytes, q.signature).ok()) {
    return make_error("dcap.quote_signature", "quote signature does not verify under the attestation key");
  }
  // 2. PCK chain embedded in the quote.
  if (q.cert_type != 5) {
    return make_error("dcap.cert_type", "certification data type " + std::to_string(q.cert_type) + " is not a PCK chain (5)");
  }
  SN_ASSIGN(auto embedded, Certificate::all_from_pem_cached(std::string_view(reinterpret_cast<const char*>(q.cert_data.data()), q.cert_data.size())));
  const Certificate* leaf = nullptr;
  for (const auto& c : embedded) {
    if (!c.is_ca()) {
      if (leaf != nullptr) return make_error("dcap.pck", "PCK chain holds more than one leaf certificate");
      leaf = &c;
    }
  }
  if (leaf == nullptr) return make_error("dcap.pck", "PCK chain holds no leaf certificate");
  SN_ASSIGN(SgxReportBody qe, parse_sgx_report_body(q.qe_report));
  if (!leaf->public_key().verify_ecdsa_raw(crypto::HashAlg::kSha256, q.qe_report, q.qe_report_signature).ok()) {
    return make_error("dcap.qe_report_signature", "QE report signature does not verify under the PCK certificate");
  }
  // 3. The QE report binds the attestation key.
  Bytes expect = crypto::sha256(concat({q.attestation_key, q.qe_auth_data}));
  if (!crypto::ct_equal(qe.report_data.subspan(0, 32), expect) || !all_zero(qe.report_data.subspan(32))) {
    return make_error("dcap.qe_binding", "QE report data is not SHA-256(attestation key || QE auth data)");
  }
  // 4. PCK chain to the pinned root, at `at`, and revocation.
  std::vector<Certificate> pool = embedded;
  pool.insert(pool.end(), col.certs.begin(), col.certs.end());
  SN_ASSIGN(auto chain, crypto::verify_chain(*leaf, pool, {intel_root_pin()}, at));
  Claims c;
  SN_TRY(check_revocation(chain, col, at, &c.notes));
  // 5. PCK extension.
  auto ext = leaf->extension(kOidSgxExt);
  if (!ext) return make_error("pck.ext", "PCK certificate lacks the SGX extension");
  SN_ASSIGN(PckExtension pck, parse_pck_extension(*ext));

  std::optional<TdReportBody> td;
  if (q.is_tdx()) {
    SN_ASSIGN(TdReportBody t, parse_td_report_body(q.body));
    td = t;
  }
  // 6-8. Collateral and TCB status.
  TcbEval ev;
  try {
    SN_ASSIGN(ev, evaluate_tcb(q, qe, pck, td ? &*td : nullptr, col, at));
  } catch (const json::exception& e) {
    return make_error("dcap.collateral_json", std::string("malformed TCB info or QE identity: ") + e.what());
  }
  c.tcb_status = ev.status;
  c.advisories = ev.advisories;
  c.attributes = ev.attributes;
  c.notes.insert(c.notes.end(), ev.notes.begin(), ev.notes.end());
  c.attributes["fmspc"] = to_hex(pck.fmspc);
  c.attributes["quote_version"] = std::to_string(q.version);
  c.attributes["pck_ca"] = chain.size() > 1 ? chain[1].common_name() : "";
  if (q.trailing_bytes) c.attributes["trailing_bytes"] = std::to_string(q.trailing_bytes);
  if (pck.sgx_type >= 0) c.attributes["sgx_type"] = std::to_string(pck.sgx_type);
  c.tcb["pce_svn"] = pck.pce_svn;
  c.tcb["qe_svn"] = qe.isv_svn;
  for (size_t i = 0; i < 16; i++) c.tcb["sgx_comp_" + std::string(i < 9 ? "0" : "") + std::to_string(i + 1)] = pck.comp_svn[i];

  if (td) {
    c.platform = Kind::kTdx;
    c.measurement = to_bytes(td->mr_td);
    c.report_data = to_bytes(td->report_data);
    c.host_data = to_bytes(td->mr_config_id);
    c.debug = td->debug();
    c.measurements = {{"mr_seam", to_bytes(td->mr_seam)}, {"mr_owner", to_bytes(td->mr_owner)},
                      {"mr_owner_config", to_bytes(td->mr_owner_config)}, {"mr_config_id", to_bytes(td->mr_config_id)}};
    for (size_t i = 0; i < 4; i++) c.measurements["rtmr" + std::to_string(i)] = to_bytes(td->rtmr[i]);
    c.tcb["tdx_module_svn"] = td->tee_tcb_svn[0];
    c.tcb["tdx_module_major"] = td->tee_tcb_svn[1];
    c.attributes["tee_tcb_svn"] = to_hex(td->tee_tcb_svn);
    c.attributes["td_attributes"] = to_hex(td->td_attributes);
    c.attributes["xfam"] = to_hex(td->xfam);
  } else {
    SN_ASSIGN(SgxReportBody b, parse_sgx_report_body(q.body));
    c.platform = Kind::kSgx;
    c.measurement = to_bytes(b.mr_enclave);
    c.signer = to_bytes(b.mr_signer);
    c.report_data = to_bytes(b.report_data);
    c.host_data = to_bytes(b.config_id);
    c.debug = b.debug();
    c.tcb["isv_svn"] = b.isv_svn;
    c.tcb["isv_prod_id"] = b.isv_prod_id;
    c.attributes["attributes"] = to_hex(b.attributes);
    c.attributes["cpu_svn"] = to_hex(b.cpu_svn);
    c.attributes["miscselect"] = std::to_string(b.miscselect);
  }
  return c;
}

}  // namespace

Result<Claims> verify_dcap(ByteView quote, const Collateral& collateral, UnixSeconds at) {
  try {
    return verify_dcap_impl(quote, collateral, at);
  } catch (const std::exception& e) {
    return make_error("dcap.collateral_json", std::string("malformed collateral: ") + e.what());
  }
}

}  // namespace supernet::tee
