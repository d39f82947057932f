// CBOR decoder: anything it accepts must re-encode to something it decodes to the same value.
#include <cstdlib>

#include "cbor/cbor.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace supernet;
  auto v = cbor::decode(ByteView(data, size));
  if (!v.ok()) return 0;
  Bytes enc = cbor::encode(*v);
  auto again = cbor::decode(enc);
  if (!again.ok() || cbor::encode(*again) != enc) std::abort();
  (void)cbor::diagnostic(*v);
  return 0;
}
