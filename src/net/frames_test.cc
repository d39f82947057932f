#include "net/frames.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "util/codec.h"

namespace supernet::net {
namespace {

Bytes framed(const std::vector<Bytes>& frames) {
  Bytes out;
  for (const auto& f : frames) {
    uint8_t hdr[4];
    store_be32(hdr, static_cast<uint32_t>(f.size()));
    out.insert(out.end(), hdr, hdr + 4);
    out.insert(out.end(), f.begin(), f.end());
  }
  return out;
}

// Feeds `stream` in pieces of at most `piece` bytes; returns the frames taken out.
std::vector<Bytes> feed(const Bytes& stream, size_t piece) {
  FrameBuffer fb;
  std::vector<Bytes> got;
  size_t at = 0;
  while (true) {
    auto n = fb.next();
    EXPECT_TRUE(n.ok());
    if (!n.ok()) break;
    if (*n) {
      got.push_back(std::move(**n));
      continue;
    }
    if (at == stream.size()) break;
    auto space = fb.space();
    EXPECT_FALSE(space.empty());
    size_t k = std::min({piece, space.size(), stream.size() - at});
    std::copy(stream.begin() + static_cast<std::ptrdiff_t>(at), stream.begin() + static_cast<std::ptrdiff_t>(at + k), space.begin());
    fb.commit(k);
    at += k;
  }
  return got;
}

TEST(FrameBuffer, SplitsAStreamReadInAnyPieces) {
  std::vector<Bytes> frames = {Bytes{}, Bytes(3, 1), Bytes(70000, 2), Bytes(1, 3), Bytes(kFrameBytesMax, 4), Bytes(5, 5)};
  Bytes stream = framed(frames);
  for (size_t piece : {size_t{1}, size_t{3}, size_t{4096}, size_t{65536}, stream.size()}) {
    EXPECT_EQ(feed(stream, piece), frames) << "pieces of " << piece;
  }
}

TEST(FrameBuffer, IncompleteFrameWaits) {
  Bytes stream = framed({Bytes(10, 7)});
  stream.pop_back();
  EXPECT_TRUE(feed(stream, 4).empty());
}

TEST(FrameBuffer, RefusesALengthOverTheLimit) {
  FrameBuffer fb;
  auto space = fb.space();
  store_be32(space.data(), static_cast<uint32_t>(kFrameBytesMax + 1));
  fb.commit(4);
  auto n = fb.next();
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.error().code, "net.frame");
  EXPECT_LE(fb.space().size(), kFrameBytesMax + 4 + 65536);  // no allocation of the announced size
}

}  // namespace
}  // namespace supernet::net
