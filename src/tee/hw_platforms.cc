// Hardware TEE backends, written against the documented kernel and Gramine interfaces:
// - Linux configfs-tsm (Documentation/ABI/testing/configfs-tsm): mkdir an entry under
//   /sys/kernel/config/tsm/report, write 64 bytes to inblob, read outblob (SNP report or
//   TDX quote), check `provider` and `generation`, rmdir.
// - /dev/sev-guest (include/uapi/linux/sev-guest.h): SNP_GET_REPORT and SNP_GET_DERIVED_KEY.
// - Gramine (/dev/attestation): write user_report_data, read quote; keys/_sgx_mrenclave.
// None of this hardware is present on the development machines; these paths are exercised
// only for detection and their error messages.
#include <fcntl.h>
#include <linux/sev-guest.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "crypto/hash.h"
#include "tee/dcap_quote.h"
#include "tee/platform.h"
#include "tee/snp.h"
#include "util/file.h"

namespace supernet::tee {

namespace {

namespace fs = std::filesystem;

std::string errno_text() { return std::strerror(errno); }

Status write_all(const std::string& path, ByteView data) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return make_error("tee.io", "cannot open '" + path + "': " + errno_text());
  ssize_t n = ::write(fd, data.data(), data.size());
  ::close(fd);
  if (n != static_cast<ssize_t>(data.size())) return make_error("tee.io", "cannot write '" + path + "': " + errno_text());
  return ok_status();
}

Result<std::string> read_text(const std::string& path) {
  SN_ASSIGN(Bytes b, read_file(path, 4096));
  std::string s = to_string(b);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// One configfs-tsm report request.
Result<Bytes> tsm_report(const std::string& root, const char* provider, ByteView report_data) {
  static std::atomic<unsigned> counter{0};
  std::string dir = root + "/supernet-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  if (::mkdir(dir.c_str(), 0700) != 0) {
    return make_error("tee.tsm", "cannot create configfs-tsm entry '" + dir + "': " + errno_text());
  }
  auto cleanup = [&] { ::rmdir(dir.c_str()); };
  auto gen_before = read_text(dir + "/generation");
  Status w = write_all(dir + "/inblob", report_data);
  if (!w.ok()) {
    cleanup();
    return w.error();
  }
  auto out = read_file(dir + "/outblob", 64 * 1024);
  auto prov = read_text(dir + "/provider");
  auto gen_after = read_text(dir + "/generation");
  cleanup();
  if (!out.ok()) return out.error();
  if (!prov.ok() || *prov != provider) {
    return make_error("tee.tsm", std::string("configfs-tsm provider is '") + (prov.ok() ? *prov : "?") + "', expected '" + provider + "'");
  }
  // A concurrent writer to the same entry would bump the generation twice.
  if (gen_before.ok() && gen_after.ok() && std::stoul("0" + *gen_after) != std::stoul("0" + *gen_before) + 1) {
    return make_error("tee.tsm", "configfs-tsm entry was written concurrently; retry");
  }
  return std::move(out).value();
}

std::string tsm_root(const std::string& sysfs_root) {
  return (sysfs_root.empty() ? std::string() : sysfs_root) + "/sys/kernel/config/tsm/report";
}

class SnpPlatform : public Platform {
 public:
  SnpPlatform(std::string tsm, std::string dev) : tsm_(std::move(tsm)), dev_(std::move(dev)) {}
  Kind kind() const override { return Kind::kSevSnp; }

  Result<Bytes> evidence(ByteView report_data) override {
    SN_TRY(check_report_data(report_data));
    if (!tsm_.empty()) return tsm_report(tsm_, "sev_guest", report_data);
    return ioctl_report(report_data);
  }

  Result<Bytes> measurement() override {
    SN_ASSIGN(Bytes report, evidence(Bytes(kReportDataBytes, 0)));
    SN_ASSIGN(SnpReport r, parse_snp_report(report));
    return r.measurement;
  }

  // SNP_GET_DERIVED_KEY: root VCEK, mixing in the launch measurement and guest SVN.
  Result<crypto::SecureBytes> sealing_key() override {
    if (dev_.empty()) return make_error("tee.snp", "sealing needs /dev/sev-guest (SNP_GET_DERIVED_KEY); it is absent");
    snp_derived_key_req req{};
    req.root_key_select = 0;
    req.guest_field_select = (1u << 3) | (1u << 4);  // measurement, guest SVN
    snp_derived_key_resp resp{};
    SN_TRY(guest_request(SNP_GET_DERIVED_KEY, &req, &resp));
    uint32_t status = load_le32(resp.data);
    if (status != 0) return make_error("tee.snp", "SNP_GET_DERIVED_KEY firmware status " + std::to_string(status));
    crypto::SecureBytes key(ByteView(resp.data + 0x20, 32));
    crypto::zeroize(resp.data, sizeof resp.data);
    return key;
  }

 private:
  Status guest_request(unsigned long cmd, void* req, void* resp) {
    int fd = ::open(dev_.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) return make_error("tee.snp", "cannot open '" + dev_ + "': " + errno_text());
    snp_guest_request_ioctl io{};
    io.msg_version = 1;
    io.req_data = reinterpret_cast<__u64>(req);
    io.resp_data = reinterpret_cast<__u64>(resp);
    int rc = ::ioctl(fd, cmd, &io);
    ::close(fd);
    if (rc != 0) {
      return make_error("tee.snp", "SEV guest request failed: " + errno_text() + " (firmware error " +
                                       std::to_string(io.fw_error) + ", VMM error " + std::to_string(io.vmm_error) + ")");
    }
    return ok_status();
  }

  Result<Bytes> ioctl_report(ByteView report_data) {
    snp_report_req req{};
    std::memcpy(req.user_data, report_data.data(), kReportDataBytes);
    snp_report_resp resp{};
    SN_TRY(guest_request(SNP_GET_REPORT, &req, &resp));
    uint32_t status = load_le32(resp.data);
    uint32_t size = load_le32(resp.data + 4);
    if (status != 0 || size != kSnpReportBytes) {
      return make_error("tee.snp", "SNP_GET_REPORT status " + std::to_string(status) + ", size " + std::to_string(size));
    }
    return Bytes(resp.data + 0x20, resp.data + 0x20 + kSnpReportBytes);
  }

  std::string tsm_, dev_;
};

class TdxPlatform : public Platform {
 public:
  explicit TdxPlatform(std::string tsm) : tsm_(std::move(tsm)) {}
  Kind kind() const override { return Kind::kTdx; }
  Result<Bytes> evidence(ByteView report_data) override {
    SN_TRY(check_report_data(report_data));
    return tsm_report(tsm_, "tdx_guest", report_data);
  }
  Result<Bytes> measurement() override {
    SN_ASSIGN(Bytes quote, evidence(Bytes(kReportDataBytes, 0)));
    SN_ASSIGN(DcapQuote q, parse_dcap_quote(quote));
    SN_ASSIGN(TdReportBody td, parse_td_report_body(q.body));
    return to_bytes(td.mr_td);
  }
  Result<crypto::SecureBytes> sealing_key() override {
    return make_error("tee.tdx_sealing", "TDX has no hardware sealing key; sealing on TDX needs key release from the "
                                         "network's key management, which is not implemented yet");
  }

 private:
  std::string tsm_;
};

class SgxGraminePlatform : public Platform {
 public:
  explicit SgxGraminePlatform(std::string root) : root_(std::move(root)) {}
  Kind kind() const override { return Kind::kSgx; }
  Result<Bytes> evidence(ByteView report_data) override {
    SN_TRY(check_report_data(report_data));
    SN_TRY(write_all(root_ + "/user_report_data", report_data));
    return read_file(root_ + "/quote", 64 * 1024);
  }
  Result<Bytes> measurement() override {
    SN_ASSIGN(Bytes quote, evidence(Bytes(kReportDataBytes, 0)));
    SN_ASSIGN(DcapQuote q, parse_dcap_quote(quote));
    SN_ASSIGN(SgxReportBody b, parse_sgx_report_body(q.body));
    return to_bytes(b.mr_enclave);
  }
  // Gramine's MRENCLAVE-bound sealing key (16 bytes), stretched to 32 with HKDF.
  Result<crypto::SecureBytes> sealing_key() override {
    SN_ASSIGN(Bytes k, read_file(root_ + "/keys/_sgx_mrenclave", 64));
    if (k.size() != 16) return make_error("tee.sgx", "Gramine sealing key is not 16 bytes");
    auto out = crypto::hkdf_sha256(k, {}, as_bytes("supernet-sgx-seal-v1"), 32);
    crypto::zeroize(k.data(), k.size());
    return out;
  }

 private:
  std::string root_;
};

bool exists(const std::string& p) {
  std::error_code ec;
  return fs::exists(p, ec);
}

}  // namespace

Result<std::unique_ptr<Platform>> open_snp_platform(const std::string& sysfs_root) {
  std::string tsm = tsm_root(sysfs_root);
  std::string dev = sysfs_root + "/dev/sev-guest";
  bool have_dev = exists(dev);
  bool have_tsm = exists(tsm) && have_dev;  // the SNP provider registers with /dev/sev-guest
  if (!have_dev) {
    return make_error("tee.snp_absent", "SEV-SNP needs " + dev + " (sev-guest driver) or configfs-tsm at " + tsm +
                                            "; neither is present: this is not an SEV-SNP guest");
  }
  return std::unique_ptr<Platform>(new SnpPlatform(have_tsm ? tsm : "", dev));
}

Result<std::unique_ptr<Platform>> open_tdx_platform(const std::string& sysfs_root) {
  std::string tsm = tsm_root(sysfs_root);
  std::string dev = sysfs_root + "/dev/tdx_guest";
  if (!exists(dev)) {
    return make_error("tee.tdx_absent", "TDX needs " + dev + " (tdx-guest driver); it is absent: this is not a TD");
  }
  if (!exists(tsm)) {
    return make_error("tee.tdx_absent", "TDX quotes need configfs-tsm at " + tsm + " (Linux 6.7+, configfs mounted)");
  }
  return std::unique_ptr<Platform>(new TdxPlatform(tsm));
}

Result<std::unique_ptr<Platform>> open_sgx_platform(const std::string& dev_root) {
  std::string root = dev_root + "/dev/attestation";
  if (!exists(root + "/quote") || !exists(root + "/user_report_data")) {
    return make_error("tee.sgx_absent", "SGX needs Gramine's " + root +
                                            "/{user_report_data,quote} (run under gramine-sgx with remote attestation "
                                            "enabled); they are absent");
  }
  return std::unique_ptr<Platform>(new SgxGraminePlatform(root));
}

}  // namespace supernet::tee
