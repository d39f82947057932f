// Frames a trusted application worker sends its node (and the node's tasks): whatever a worker
// running foreign code writes to its pipe is decoded here, so it must never crash the node.
#include <cstdlib>

#include "ta/frame.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace supernet;
  auto m = ta::decode_message(ByteView(data, size));
  if (m.ok()) {
    // One encoding per message: what decodes re-encodes to the same bytes.
    if (ta::encode_message(*m) != Bytes(data, data + size)) std::abort();
  }
  return 0;
}
