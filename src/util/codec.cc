#include "util/codec.h"

namespace supernet {

static Error truncated(size_t need, size_t have) {
  return make_error("codec.truncated", "need " + std::to_string(need) + " bytes, " + std::to_string(have) + " remain");
}

Result<uint8_t> Reader::u8() {
  if (data_.size() - pos_ < 1) return truncated(1, data_.size() - pos_);
  return data_[pos_++];
}

Result<uint32_t> Reader::u32() {
  if (data_.size() - pos_ < 4) return truncated(4, data_.size() - pos_);
  uint32_t v = load_be32(data_.data() + pos_);
  pos_ += 4;
  return v;
}

Result<uint64_t> Reader::u64() {
  SN_ASSIGN(uint32_t hi, u32());
  SN_ASSIGN(uint32_t lo, u32());
  return static_cast<uint64_t>(hi) << 32 | lo;
}

Result<ByteView> Reader::fixed(size_t n) {
  if (data_.size() - pos_ < n) return truncated(n, data_.size() - pos_);
  ByteView v = data_.subspan(pos_, n);
  pos_ += n;
  return v;
}

Result<ByteView> Reader::bytes(size_t max) {
  SN_ASSIGN(uint32_t n, u32());
  if (n > max) return make_error("codec.too_long", "field of " + std::to_string(n) + " bytes exceeds its limit " + std::to_string(max));
  return fixed(n);
}

Result<uint32_t> Reader::count(size_t max, size_t min_item_bytes) {
  SN_ASSIGN(uint32_t n, u32());
  if (n > max) return make_error("codec.too_many", std::to_string(n) + " items exceed the limit " + std::to_string(max));
  if (min_item_bytes > 0 && n > (data_.size() - pos_) / min_item_bytes) {
    return make_error("codec.truncated", std::to_string(n) + " items cannot fit in the remaining input");
  }
  return n;
}

Status Reader::finish() const {
  if (!done()) return make_error("codec.trailing", std::to_string(data_.size() - pos_) + " trailing bytes");
  return ok_status();
}

}  // namespace supernet
