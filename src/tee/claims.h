// Normalized claims: what any verifier returns about a piece of evidence, whatever its platform.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "util/bytes.h"
#include "util/result.h"
#include "util/time.h"

namespace supernet::tee {

enum class Kind { kVirtual, kSevSnp, kSgx, kTdx, kPsa, kCca, kTpm };

const char* kind_name(Kind k);  // "virtual", "sev-snp", "sgx", "tdx", "psa", "cca", "tpm"
Result<Kind> parse_kind(std::string_view name);

struct Claims {
  Kind platform = Kind::kVirtual;
  // The launch measurement: SNP MEASUREMENT, SGX MRENCLAVE, TDX MRTD, virtual executable hash,
  // PSA/CCA: the hash over the software component measurements / realm initial measurement.
  Bytes measurement;
  // Further named measurements (TDX RTMRs and MRSEAM, PSA components, ...).
  std::map<std::string, Bytes> measurements;
  Bytes report_data;  // the 64 bytes (or nonce) bound by the evidence
  Bytes host_data;    // SNP HOST_DATA, TDX MRCONFIGID, SGX CONFIGID
  Bytes signer;       // SGX MRSIGNER, SNP ID key digest, virtual platform key id
  Bytes chip_id;      // SNP CHIP_ID, PSA instance id
  // Security version numbers by component; the policy compares these with its minimums.
  std::map<std::string, uint64_t> tcb;
  // "UpToDate", "SWHardeningNeeded", "OutOfDate", ... or "not evaluated" without collateral.
  std::string tcb_status = "not evaluated";
  std::vector<std::string> advisories;
  bool debug = false;
  std::optional<UnixSeconds> issued_at;
  // Platform-specific facts shown to humans and available to policy (vmpl, product, ...).
  std::map<std::string, std::string> attributes;
  // What was not checked and why (e.g. no CRL supplied), so nothing is silently skipped.
  std::vector<std::string> notes;
};

nlohmann::json claims_to_json(const Claims& c);

}  // namespace supernet::tee
