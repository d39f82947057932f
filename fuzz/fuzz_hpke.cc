// HPKE ciphertexts from outside (a key release's answer, as a requester receives it): opening
// arbitrary bytes fails with an error, never crashes, and never succeeds (that would be a forgery).
#include <cstdlib>

#include "keys/hpke.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace supernet;
  static const keys::HpkeKeyPair recipient = keys::hpke_derive_key_pair(Bytes(32, 7));
  static const Bytes info = to_bytes("fuzz");
  for (auto aead : {keys::HpkeAead::kAes256Gcm, keys::HpkeAead::kAes128Gcm, keys::HpkeAead::kChaCha20Poly1305}) {
    if (keys::hpke_open(recipient.secret, info, {}, ByteView(data, size), aead).ok()) std::abort();
  }
  return 0;
}
