#include "tee/claims.h"

#include <nlohmann/json.hpp>

namespace supernet::tee {

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::kVirtual:
      return "virtual";
    case Kind::kSevSnp:
      return "sev-snp";
    case Kind::kSgx:
      return "sgx";
    case Kind::kTdx:
      return "tdx";
    case Kind::kPsa:
      return "psa";
    case Kind::kCca:
      return "cca";
    case Kind::kTpm:
      return "tpm";
  }
  return "?";
}

Result<Kind> parse_kind(std::string_view name) {
  for (Kind k : {Kind::kVirtual, Kind::kSevSnp, Kind::kSgx, Kind::kTdx, Kind::kPsa, Kind::kCca, Kind::kTpm}) {
    if (name == kind_name(k)) return k;
  }
  if (name == "snp") return Kind::kSevSnp;
  return make_error("platform.unknown", "unknown platform '" + std::string(name) +
                                            "' (expected virtual, sev-snp, sgx, tdx, psa, cca or tpm)");
}

nlohmann::json claims_to_json(const Claims& c) {
  nlohmann::json j;
  j["platform"] = kind_name(c.platform);
  j["measurement"] = to_hex(c.measurement);
  for (const auto& [name, value] : c.measurements) j["measurements"][name] = to_hex(value);
  j["report_data"] = to_hex(c.report_data);
  if (!c.host_data.empty()) j["host_data"] = to_hex(c.host_data);
  if (!c.signer.empty()) j["signer"] = to_hex(c.signer);
  if (!c.chip_id.empty()) j["chip_id"] = to_hex(c.chip_id);
  j["tcb"] = nlohmann::json::object();
  for (const auto& [name, svn] : c.tcb) j["tcb"][name] = svn;
  j["tcb_status"] = c.tcb_status;
  j["advisories"] = c.advisories;
  j["debug"] = c.debug;
  if (c.issued_at) j["issued_at"] = format_rfc3339(*c.issued_at);
  for (const auto& [name, value] : c.attributes) j["attributes"][name] = value;
  j["notes"] = c.notes;
  return j;
}

}  // namespace supernet::tee
