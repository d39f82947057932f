#include "tee/platform.h"

#include "tee/virtual_platform.h"

namespace supernet::tee {

Status check_report_data(ByteView report_data) {
  if (report_data.size() != kReportDataBytes) {
    return make_error("evidence.report_data", "report data must be 64 bytes, got " + std::to_string(report_data.size()));
  }
  return ok_status();
}

Result<std::unique_ptr<Platform>> open_platform(const PlatformOptions& o, std::string* warning) {
  auto open_virtual = [&]() -> Result<std::unique_ptr<Platform>> {
    SN_ASSIGN(auto p, VirtualPlatform::open(o.virtual_dir.empty() ? default_virtual_dir() : o.virtual_dir, o.virtual_debug));
    return std::unique_ptr<Platform>(std::move(p));
  };
  if (o.kind == "virtual") return open_virtual();
  if (o.kind == "sev-snp" || o.kind == "snp") return open_snp_platform();
  if (o.kind == "tdx") return open_tdx_platform();
  if (o.kind == "sgx") return open_sgx_platform();
  if (o.kind != "auto") {
    return make_error("platform.unknown", "unknown platform '" + o.kind + "' (auto, virtual, sev-snp, tdx, sgx)");
  }
  if (auto p = open_sgx_platform(); p.ok()) return p;
  if (auto p = open_tdx_platform(); p.ok()) return p;
  if (auto p = open_snp_platform(); p.ok()) return p;
  if (warning != nullptr) {
    *warning = "no TEE hardware found (no SGX/Gramine, TDX or SEV-SNP device): using the virtual platform, which is "
               "NOT a hardware TEE and is rejected by production policies";
  }
  return open_virtual();
}

}  // namespace supernet::tee
