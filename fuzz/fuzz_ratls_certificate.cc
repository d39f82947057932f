// A peer's RA-TLS certificate: X.509 parsing, the evidence extension wrapper, appraisal.
#include "net/ratls.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace supernet;
  static const tee::Policy policy = [] {
    tee::Policy p;
    p.production = false;
    p.allowed_platforms = {tee::Kind::kVirtual};
    return p;
  }();
  auto cert = crypto::Certificate::from_der(ByteView(data, size));
  if (cert.ok()) (void)net::verify_peer_certificate(*cert, policy, tee::Collateral{}, 1759305600);
  return 0;
}
