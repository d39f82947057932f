// Splitting a peer's byte stream into frames (u32 big-endian length, then that many bytes, at
// most kFrameBytesMax), sans-IO: the transport reads into space(), commits what it read, and
// takes every complete frame with next(). One read (one TLS record, one system call) yields all
// the frames it holds.
#pragma once

#include <optional>
#include <span>

#include "net/ratls.h"
#include "util/bytes.h"
#include "util/result.h"

namespace supernet::net {

class FrameBuffer {
 public:
  // Where the next bytes from the peer go: never empty, and large enough for the frame being
  // read once its length is known.
  std::span<uint8_t> space();
  // `n` bytes were written at the start of space().
  void commit(size_t n);
  // The next complete frame; nothing while it is incomplete; an error (and the connection must
  // end) when the peer announced a frame over kFrameBytesMax.
  Result<std::optional<Bytes>> next();

 private:
  static constexpr size_t kMinBuffer = 64 * 1024;
  Bytes buf_;
  size_t start_ = 0, end_ = 0;
};

}  // namespace supernet::net
