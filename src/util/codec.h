// Explicit binary encoding for signed and transmitted structures: big-endian fixed-width
// integers and u32-length-prefixed byte strings. One byte form per value, so what is signed or
// hashed is unambiguous. The reader bounds every length by what remains of the input.
#pragma once

#include <string>

#include "util/bytes.h"
#include "util/result.h"

namespace supernet {

class Writer {
 public:
  Writer& u8(uint8_t v) {
    out_.push_back(v);
    return *this;
  }
  Writer& u32(uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) out_.push_back(static_cast<uint8_t>(v >> s));
    return *this;
  }
  Writer& u64(uint64_t v) {
    for (int s = 56; s >= 0; s -= 8) out_.push_back(static_cast<uint8_t>(v >> s));
    return *this;
  }
  Writer& fixed(ByteView v) {
    out_.insert(out_.end(), v.begin(), v.end());
    return *this;
  }
  Writer& bytes(ByteView v) {
    u32(static_cast<uint32_t>(v.size()));
    return fixed(v);
  }
  Writer& str(std::string_view s) { return bytes(as_bytes(s)); }
  const Bytes& data() const { return out_; }
  Bytes take() { return std::move(out_); }

 private:
  Bytes out_;
};

class Reader {
 public:
  explicit Reader(ByteView data) : data_(data) {}
  Result<uint8_t> u8();
  Result<uint32_t> u32();
  Result<uint64_t> u64();
  Result<ByteView> fixed(size_t n);
  Result<ByteView> bytes(size_t max);
  // A count of items that each take at least `min_item_bytes`; bounded by the input.
  Result<uint32_t> count(size_t max, size_t min_item_bytes);
  bool done() const { return pos_ == data_.size(); }
  Status finish() const;

 private:
  ByteView data_;
  size_t pos_ = 0;
};

}  // namespace supernet
