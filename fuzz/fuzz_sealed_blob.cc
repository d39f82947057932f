// Sealed blobs read back from (untrusted) disk.
#include "tee/seal.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace supernet;
  static const Bytes key(32, 0x42);
  (void)tee::unseal_with_key(key, tee::Kind::kVirtual, "label", ByteView(data, size));
  return 0;
}
