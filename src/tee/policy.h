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
//   tcb_status_reasons = { OutOfDate = "BIOS update scheduled for ..." }
//
// A production profile rejects virtual evidence outright and refuses to load if it names
// the virtual platform or trusts a virtual platform key, if it allows a TCB status of
// OutOfDate, OutOfDateConfigurationNeeded, Revoked or "not evaluated" without naming a reason
// for each in tcb_status_reasons, or if it allows sev-snp without a min_tcb.
//
// A network's genesis carries its policy as the floor: every node's and client's local policy
// must be at least as strict (policy_meets_floor).
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
  std::map<std::string, std::string> tcb_status_reasons;  // why a weak status is allowed
};

// TCB statuses a production policy may allow only with a reason.
bool is_weak_tcb_status(const std::string& status);

struct Policy {
  bool production = true;
  std::set<Kind> allowed_platforms;
  bool debug_allowed = false;
  int64_t max_evidence_age_seconds = 86400;
  std::vector<Bytes> trusted_virtual_platform_keys;
  std::map<Kind, PlatformPolicy> platforms;
  // Machines distrusted by chip id (SEV-SNP CHIP_ID, PSA/CCA instance id), whatever else passes:
  // the members' revocations (governance revoke-platform-key --chip-id), never written to a file.
  std::vector<Bytes> denied_chip_ids;
};

Result<Policy> parse_policy(std::string_view toml_text, const std::string& source = "policy");
Result<Policy> load_policy(const std::string& path);
std::string policy_to_toml(const Policy& p);

// `local` is at least as strict as `floor` (with `extra_measurements` and
// `extra_virtual_keys` allowed besides the floor's: governance's changes). The error lists every
// way it is weaker.
Status policy_meets_floor(const Policy& local, const Policy& floor, const std::vector<Bytes>& extra_measurements = {},
                          const std::vector<Bytes>& extra_virtual_keys = {});

struct Appraisal {
  std::vector<std::string> failures;  // every reason, not just the first
  bool pass() const { return failures.empty(); }
};

// Appraises verified claims against the policy at time `now`. When `expected_report_data`
// is given, the claims must bind exactly those bytes.
Appraisal appraise(const Policy& policy, const Claims& claims, UnixSeconds now,
                   std::optional<ByteView> expected_report_data = std::nullopt);

}  // namespace supernet::tee
