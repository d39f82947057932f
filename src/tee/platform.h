// The TEE platform seam: what kind of TEE this process runs in, its measurement, evidence
// binding 64 bytes of report data, and a sealing key bound to the measurement.
//
// Backends: virtual (development and CI; see virtual_platform.h), sev-snp (configfs-tsm, else
// /dev/sev-guest), tdx (configfs-tsm) and sgx (Gramine's /dev/attestation). Hardware backends
// detect their device at open time and fail with an error naming what is missing.
// Implementations are not thread-safe; callers serialize access.
#pragma once

#include <memory>
#include <string>

#include "crypto/secure.h"
#include "tee/claims.h"
#include "util/bytes.h"
#include "util/result.h"

namespace supernet::tee {

inline constexpr size_t kReportDataBytes = 64;

class Platform {
 public:
  virtual ~Platform() = default;
  virtual Kind kind() const = 0;
  // The measurement a verifier will see in this platform's evidence.
  virtual Result<Bytes> measurement() = 0;
  // Evidence binding exactly 64 bytes of report data, in the platform's native format.
  virtual Result<Bytes> evidence(ByteView report_data) = 0;
  // A 32-byte key that only code with this measurement on this platform can derive.
  virtual Result<crypto::SecureBytes> sealing_key() = 0;
};

// Every backend's evidence() starts with this check of its argument.
Status check_report_data(ByteView report_data);

struct PlatformOptions {
  // "auto", "virtual", "sev-snp", "tdx" or "sgx".
  std::string kind = "auto";
  // Where the virtual platform keeps its key file; empty means the default location.
  std::string virtual_dir;
  // The virtual platform reports this debug flag (hardware reports its own).
  bool virtual_debug = false;
};

// Opens the requested platform. For "auto" it picks the hardware present, else virtual and
// sets *warning to say that this is not a hardware TEE.
Result<std::unique_ptr<Platform>> open_platform(const PlatformOptions& options, std::string* warning);

// Hardware backends, exposed for tests of their detection and error paths.
Result<std::unique_ptr<Platform>> open_snp_platform(const std::string& sysfs_root = "");
Result<std::unique_ptr<Platform>> open_tdx_platform(const std::string& sysfs_root = "");
Result<std::unique_ptr<Platform>> open_sgx_platform(const std::string& dev_root = "");

}  // namespace supernet::tee
