// Appraisal policy: which evidence a node accepts. Loaded from TOML:
//
//   profile = "production"              # or "development"
//   allowed_platforms = ["sev-snp", "tdx"]
//   debug_allowed = false
//   max_evidence_age_seconds = 86400    # for evidence that carries its issue time
//   trusted_virtual_platform_keys = []  # hex SHA-256 of virtual platform key SPKIs
//
//   [platform.sev-snp]
//   measurements = ["<hex>", ...]       # required: an empty list accepts nothing
//   min_tcb = { bootloader = 3, snp = 8, microcode = 115 }
//   attributes = { vmpl = "0", migrate_ma = "false" }
//   allowed_tcb_status = ["UpToDate"]   # SGX/TDX; default ["UpToDate"]
//
// A production profile rejects virtual evidence outright and refuses to load if it names
// the virtual platform or trusts a virtual platform key.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "tee/claims.h"

namespace supernet::tee {

struct PlatformPolicy {
  std::vector<Bytes> measurements;
  std::map<std::string, uint64_t> min_tcb;
  std::map<std::string, std::string> attributes;
  std::vector<std::string> allowed_tcb_status{"UpToDate"};
};

struct Policy {
  bool production = true;
  std::set<Kind> allowed_platforms;
  bool debug_allowed = false;
  int64_t max_evidence_age_seconds = 86400;
  std::vector<Bytes> trusted_virtual_platform_keys;
  std::map<Kind, PlatformPolicy> platforms;
};

Result<Policy> parse_policy(std::string_view toml_text, const std::string& source = "policy");
Result<Policy> load_policy(const std::string& path);
std::string policy_to_toml(const Policy& p);

struct Appraisal {
  std::vector<std::string> failures;  // every reason, not just the first
  bool pass() const { return failures.empty(); }
};

// Appraises verified claims against the policy at time `now`. When `expected_report_data`
// is given, the claims must bind exactly those bytes.
Appraisal appraise(const Policy& policy, const Claims& claims, UnixSeconds now,
                   std::optional<ByteView> expected_report_data = std::nullopt);

}  // namespace supernet::tee
