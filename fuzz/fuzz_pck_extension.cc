// DER reader and Intel's PCK SGX certificate extension.
#include "crypto/der.h"
#include "tee/dcap.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace supernet;
  ByteView in(data, size);
  (void)tee::parse_pck_extension(in);
  (void)crypto::der::oid_text(in);
  crypto::der::Reader r(in);
  for (int i = 0; i < 64 && !r.done(); i++) {
    if (!r.next().ok()) break;
  }
  return 0;
}
