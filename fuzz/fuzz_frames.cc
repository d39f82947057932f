// The peer transport's frame splitting (net/frames.h): the input's first byte picks the read
// size, the rest is the peer's byte stream. Whatever the piece sizes, the frames taken out must
// be exactly those a whole-buffer parse finds, and a length over the limit must be refused.
#include <algorithm>
#include <cstdlib>
#include <vector>

#include "net/frames.h"
#include "util/codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace supernet;
  if (size < 1) return 0;
  size_t piece = 1 + data[0] * 97;
  ByteView stream(data + 1, size - 1);
  // Reference: parse the whole stream at once.
  std::vector<Bytes> want;
  bool want_error = false;
  for (size_t at = 0; at + 4 <= stream.size();) {
    uint32_t len = load_be32(stream.data() + at);
    if (len > net::kFrameBytesMax) {
      want_error = true;
      break;
    }
    if (at + 4 + len > stream.size()) break;
    want.emplace_back(stream.begin() + static_cast<std::ptrdiff_t>(at + 4), stream.begin() + static_cast<std::ptrdiff_t>(at + 4 + len));
    at += 4 + len;
  }
  net::FrameBuffer fb;
  std::vector<Bytes> got;
  bool got_error = false;
  size_t at = 0;
  while (true) {
    auto n = fb.next();
    if (!n.ok()) {
      got_error = true;
      break;
    }
    if (*n) {
      got.push_back(std::move(**n));
      continue;
    }
    if (at == stream.size()) break;
    auto space = fb.space();
    if (space.empty()) std::abort();
    size_t k = std::min({piece, space.size(), stream.size() - at});
    std::copy(stream.begin() + static_cast<std::ptrdiff_t>(at), stream.begin() + static_cast<std::ptrdiff_t>(at + k), space.begin());
    fb.commit(k);
    at += k;
  }
  if (got != want || got_error != want_error) std::abort();
  return 0;
}
