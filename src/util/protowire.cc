#include "util/protowire.h"

namespace supernet::protowire {

Result<uint64_t> Reader::varint() {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (pos_ >= data_.size()) return make_error("protobuf.truncated", "input ends inside a varint");
    uint8_t b = data_[pos_++];
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return v;
  }
  return make_error("protobuf.varint", "varint longer than 10 bytes");
}

Result<Field> Reader::next() {
  SN_ASSIGN(uint64_t key, varint());
  Field f;
  f.number = static_cast<uint32_t>(key >> 3);
  f.wire_type = static_cast<uint32_t>(key & 7);
  if (f.number == 0 || key >> 3 > 0x1fffffff) return make_error("protobuf.field", "invalid field number");
  switch (f.wire_type) {
    case 0: {
      SN_ASSIGN(f.varint, varint());
      return f;
    }
    case 1:
    case 5: {
      size_t n = f.wire_type == 1 ? 8 : 4;
      if (data_.size() - pos_ < n) return make_error("protobuf.truncated", "input ends inside a fixed-width field");
      f.bytes = data_.subspan(pos_, n);
      pos_ += n;
      return f;
    }
    case 2: {
      SN_ASSIGN(uint64_t len, varint());
      if (len > data_.size() - pos_) return make_error("protobuf.truncated", "length-delimited field longer than the input");
      f.bytes = data_.subspan(pos_, static_cast<size_t>(len));
      pos_ += static_cast<size_t>(len);
      return f;
    }
    default:
      return make_error("protobuf.wire_type", "unsupported wire type " + std::to_string(f.wire_type));
  }
}

}  // namespace supernet::protowire
