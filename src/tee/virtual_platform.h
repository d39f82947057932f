// The virtual platform: a signed stand-in for a TEE, for development and CI.
//
// Evidence is a COSE_Sign1 (ES384) over a deterministic CBOR claim set
//   {"platform": "virtual", "version": 1, "measurement": SHA-384(running executable),
//    "report_data": 64 bytes, "svn": build SVN, "debug": bool, "platform_key": SPKI DER,
//    "iat": unix seconds}
// signed with a per-machine P-384 platform key kept, with a 32-byte platform secret, in a
// 0600 file under a configurable directory. A verifier checks the signature under the
// embedded key; trust comes only from a policy that names the key's id (SHA-256 of its SPKI).
// It protects nothing against whoever can read the key file: it exercises the attestation
// path, it is not a TEE, and a production policy rejects it.
#pragma once

#include <string>

#include "crypto/keys.h"
#include "tee/platform.h"

namespace supernet::tee {

inline constexpr uint64_t kVirtualSvn = 1;
inline constexpr const char* kVirtualKeyFile = "virtual-platform.key";

// $SUPERNET_VIRTUAL_DIR, else $XDG_DATA_HOME/supernet, else $HOME/.local/share/supernet.
std::string default_virtual_dir();

class VirtualPlatform : public Platform {
 public:
  // Loads the key file from `dir`, creating it (0600) on first use. A key file readable by
  // group or others is refused.
  static Result<std::unique_ptr<VirtualPlatform>> open(const std::string& dir, bool debug = false);

  Kind kind() const override { return Kind::kVirtual; }
  Result<Bytes> measurement() override;
  Result<Bytes> evidence(ByteView report_data) override;
  Result<crypto::SecureBytes> sealing_key() override;

  const crypto::PublicKey& platform_key() const { return public_key_; }
  std::string platform_key_id() const;  // hex SHA-256 of the SPKI
  // For tests: evidence as if from another executable / at another time.
  void set_measurement_for_testing(Bytes m) { measurement_ = std::move(m); }
  void set_time_for_testing(UnixSeconds t) { fixed_time_ = t; }

 private:
  crypto::PrivateKey key_;
  crypto::PublicKey public_key_;
  crypto::SecureBytes secret_;
  Bytes measurement_;
  bool debug_ = false;
  UnixSeconds fixed_time_ = 0;
};

// SHA-384 of the file at `path` (the running executable for /proc/self/exe).
Result<Bytes> measure_executable(const std::string& path = "/proc/self/exe");

// Verifies virtual evidence under its embedded key. claims.signer is the platform key id.
Result<Claims> verify_virtual(ByteView evidence);

}  // namespace supernet::tee
