#include "tee/collateral.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "util/file.h"

namespace supernet::tee {

namespace fs = std::filesystem;
using crypto::Certificate;
using crypto::Crl;
using crypto::PublicKey;

static constexpr size_t kCollateralFilesMax = 512;

Result<std::string> raw_json_member(std::string_view json, std::string_view key) {
  std::string needle = "\"" + std::string(key) + "\"";
  size_t k = json.find(needle);
  if (k == std::string_view::npos) return make_error("json.member", "no member '" + std::string(key) + "'");
  size_t p = k + needle.size();
  while (p < json.size() && (json[p] == ' ' || json[p] == '\n' || json[p] == '\r' || json[p] == '\t')) p++;
  if (p >= json.size() || json[p] != ':') return make_error("json.member", "malformed member '" + std::string(key) + "'");
  p++;
  while (p < json.size() && (json[p] == ' ' || json[p] == '\n' || json[p] == '\r' || json[p] == '\t')) p++;
  if (p >= json.size() || json[p] != '{') return make_error("json.member", "'" + std::string(key) + "' is not an object");
  size_t start = p;
  int depth = 0;
  bool in_string = false;
  for (; p < json.size(); p++) {
    char c = json[p];
    if (in_string) {
      if (c == '\\') p++;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '{') depth++;
    else if (c == '}' && --depth == 0) return std::string(json.substr(start, p - start + 1));
  }
  return make_error("json.member", "unbalanced object '" + std::string(key) + "'");
}

Result<SignedJson> SignedJson::make(std::string body, Bytes signature, std::vector<crypto::Certificate> issuer_chain,
                                    std::string source) {
  auto doc = std::make_shared<nlohmann::json>(nlohmann::json::parse(body, nullptr, false));
  if (doc->is_discarded() || !doc->is_object()) {
    return make_error("collateral.json", source + ": signed collateral body is not a JSON object");
  }
  SignedJson out;
  out.body_ = std::move(body);
  out.doc_ = std::move(doc);
  out.signature_ = std::move(signature);
  out.issuer_chain_ = std::move(issuer_chain);
  out.source_ = std::move(source);
  return out;
}

static Result<SignedJson> pcs_body(const std::string& text, const nlohmann::json& doc,
                                   const char* key, const std::string& source) {
  SN_ASSIGN(std::string body, raw_json_member(text, key));
  if (!doc.contains("signature") || !doc["signature"].is_string()) {
    return make_error("collateral.json", source + ": no hex 'signature' beside '" + key + "'");
  }
  SN_ASSIGN(Bytes sig, from_hex(doc["signature"].get<std::string>()));
  return SignedJson::make(std::move(body), std::move(sig), {}, source);
}

// dcap-qvl's QuoteCollateralV3 JSON: chains as PEM, CRLs as hex, signed bodies as strings.
static Status add_qvl_json(Collateral& c, const nlohmann::json& doc, const std::string& source) {
  auto str = [&](const char* k) -> Result<std::string> {
    if (!doc.contains(k) || !doc[k].is_string()) {
      return make_error("collateral.json", source + ": missing string field '" + k + "'");
    }
    return doc[k].get<std::string>();
  };
  for (const char* chain : {"pck_crl_issuer_chain", "tcb_info_issuer_chain", "qe_identity_issuer_chain"}) {
    SN_ASSIGN(std::string pem, str(chain));
    SN_ASSIGN(auto certs, Certificate::all_from_pem(pem));
    c.certs.insert(c.certs.end(), certs.begin(), certs.end());
  }
  for (const char* crl : {"root_ca_crl", "pck_crl"}) {
    SN_ASSIGN(std::string hex, str(crl));
    SN_ASSIGN(Bytes der, from_hex(hex));
    SN_ASSIGN(Crl parsed, Crl::from_der(der));
    c.crls.push_back(parsed);
  }
  struct {
    const char* body;
    const char* sig;
    std::vector<SignedJson>* into;
  } items[] = {{"tcb_info", "tcb_info_signature", &c.tcb_infos},
               {"qe_identity", "qe_identity_signature", &c.qe_identities}};
  for (auto& item : items) {
    SN_ASSIGN(std::string body, str(item.body));
    SN_ASSIGN(std::string sig, str(item.sig));
    SN_ASSIGN(Bytes sig_bytes, from_hex(sig));
    SN_ASSIGN(SignedJson sj, SignedJson::make(std::move(body), std::move(sig_bytes), {}, source));
    item.into->push_back(std::move(sj));
  }
  return ok_status();
}

static Status add_json(Collateral& c, const std::string& text, const std::string& source) {
  nlohmann::json doc = nlohmann::json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return make_error("collateral.json", source + ": not a JSON object");
  }
  if (doc.contains("tcbInfo")) {
    SN_ASSIGN(SignedJson sj, pcs_body(text, doc, "tcbInfo", source));
    c.tcb_infos.push_back(std::move(sj));
    return ok_status();
  }
  if (doc.contains("enclaveIdentity")) {
    SN_ASSIGN(SignedJson sj, pcs_body(text, doc, "enclaveIdentity", source));
    c.qe_identities.push_back(std::move(sj));
    return ok_status();
  }
  if (doc.contains("tcb_info") && doc.contains("qe_identity")) return add_qvl_json(c, doc, source);
  return make_error("collateral.json", source + ": JSON is neither a PCS TCB info, a QE identity nor a collateral bundle");
}

static Status add_pem(Collateral& c, const std::string& text, const std::string& source) {
  bool any = false;
  if (text.find("-----BEGIN CERTIFICATE-----") != std::string::npos) {
    SN_ASSIGN(auto certs, Certificate::all_from_pem(text));
    c.certs.insert(c.certs.end(), certs.begin(), certs.end());
    any = true;
  }
  if (text.find("-----BEGIN X509 CRL-----") != std::string::npos) {
    SN_ASSIGN(Crl crl, Crl::from_pem(text));
    c.crls.push_back(crl);
    any = true;
  }
  if (text.find("-----BEGIN PUBLIC KEY-----") != std::string::npos) {
    SN_ASSIGN(PublicKey key, PublicKey::from_pem(text));
    c.public_keys.push_back(key);
    any = true;
  }
  if (!any) return make_error("collateral.pem", source + ": PEM holds no certificate, CRL or public key");
  return ok_status();
}

Status Collateral::add_bytes(ByteView data, const std::string& source) {
  size_t i = 0;
  while (i < data.size() && (data[i] == ' ' || data[i] == '\n' || data[i] == '\r' || data[i] == '\t')) i++;
  std::string text = to_string(data);
  if (i < data.size() && data[i] == '{') return add_json(*this, text, source);
  if (text.find("-----BEGIN ") != std::string::npos) return add_pem(*this, text, source);
  if (auto cert = Certificate::from_der(data); cert.ok()) {
    certs.push_back(*cert);
    return ok_status();
  }
  if (auto crl = Crl::from_der(data); crl.ok()) {
    crls.push_back(*crl);
    return ok_status();
  }
  if (auto key = PublicKey::from_spki(data); key.ok()) {
    public_keys.push_back(*key);
    return ok_status();
  }
  return make_error("collateral.unknown", source + ": not a certificate, CRL, public key or Intel collateral JSON");
}

Status Collateral::add_file(const std::string& path) {
  SN_ASSIGN(Bytes data, read_file(path, 4 * 1024 * 1024));
  return add_bytes(data, path);
}

Status Collateral::add_path(const std::string& path) {
  std::error_code ec;
  if (!fs::is_directory(path, ec)) return add_file(path);
  size_t files = 0;
  for (auto it = fs::recursive_directory_iterator(path, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (!it->is_regular_file()) continue;
    if (++files > kCollateralFilesMax) {
      return make_error("collateral.too_many", path + ": more than " + std::to_string(kCollateralFilesMax) + " files");
    }
    (void)add_file(it->path().string());  // a directory may hold evidence and notes too
  }
  if (ec) return make_error("io.dir", "cannot list '" + path + "': " + ec.message());
  return ok_status();
}

}  // namespace supernet::tee
