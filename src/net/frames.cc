#include "net/frames.h"

#include <algorithm>

#include "util/codec.h"

namespace supernet::net {

std::span<uint8_t> FrameBuffer::space() {
  size_t need = 4;
  if (end_ - start_ >= 4) need = 4 + std::min<size_t>(load_be32(buf_.data() + start_), kFrameBytesMax);
  // Move the partial frame to the front when the one being read would not fit behind it.
  if (start_ > 0 && (start_ == end_ || buf_.size() - start_ < std::max(need, kMinBuffer))) {
    std::copy(buf_.begin() + static_cast<std::ptrdiff_t>(start_), buf_.begin() + static_cast<std::ptrdiff_t>(end_), buf_.begin());
    end_ -= start_;
    start_ = 0;
  }
  size_t want = std::max(need, kMinBuffer);
  if (buf_.size() - start_ < want) buf_.resize(start_ + want);
  return {buf_.data() + end_, buf_.size() - end_};
}

void FrameBuffer::commit(size_t n) { end_ = std::min(end_ + n, buf_.size()); }

Result<std::optional<Bytes>> FrameBuffer::next() {
  size_t have = end_ - start_;
  if (have < 4) return std::optional<Bytes>{};
  uint32_t len = load_be32(buf_.data() + start_);
  if (len > kFrameBytesMax) {
    return make_error("net.frame", "peer announced a frame of " + std::to_string(len) + " bytes, over the limit");
  }
  if (have < 4 + size_t{len}) return std::optional<Bytes>{};
  auto first = buf_.begin() + static_cast<std::ptrdiff_t>(start_ + 4);
  Bytes out(first, first + len);
  start_ += 4 + size_t{len};
  if (start_ == end_) start_ = end_ = 0;
  return std::optional<Bytes>(std::move(out));
}

}  // namespace supernet::net
