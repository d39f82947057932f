// Evidence dispatch: format detection plus COSE/PSA/CCA/virtual verification of CBOR evidence.
#include "crypto/keys.h"
#include "tee/cose.h"
#include "tee/evidence.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace supernet;
  static const tee::Collateral col = [] {
    tee::Collateral c;
    c.public_keys.push_back(crypto::PrivateKey::generate_ec(crypto::Curve::kP256).public_key());
    c.public_keys.push_back(crypto::PrivateKey::generate_ec(crypto::Curve::kP384).public_key());
    return c;
  }();
  ByteView in(data, size);
  (void)tee::verify_evidence(in, col, 1759305600);
  (void)tee::verify_psa(in, col);
  (void)tee::verify_cca(in, col);
  return 0;
}
