#include "crypto/der.h"

namespace supernet::crypto::der {

Result<Element> Reader::next() {
  if (data_.size() - pos_ < 2) return make_error("der.truncated", "DER element header truncated");
  Element e;
  e.tag = data_[pos_++];
  if ((e.tag & 0x1f) == 0x1f) return make_error("der.tag", "multi-byte DER tags are not supported");
  size_t len = data_[pos_++];
  if (len & 0x80) {
    size_t n = len & 0x7f;
    if (n == 0 || n > 4) return make_error("der.length", "unsupported DER length form");
    if (data_.size() - pos_ < n) return make_error("der.truncated", "DER length truncated");
    len = 0;
    for (size_t i = 0; i < n; i++) len = len << 8 | data_[pos_++];
  }
  if (len > data_.size() - pos_) return make_error("der.truncated", "DER value longer than its container");
  e.value = data_.subspan(pos_, len);
  pos_ += len;
  return e;
}

Result<std::string> oid_text(ByteView c) {
  if (c.empty() || c.size() > 64) return make_error("der.oid", "bad OBJECT IDENTIFIER length");
  std::string out;
  uint64_t v = 0;
  bool first = true;
  for (size_t i = 0; i < c.size(); i++) {
    if (v > (UINT64_MAX >> 7)) return make_error("der.oid", "OBJECT IDENTIFIER arc too large");
    v = v << 7 | (c[i] & 0x7f);
    if (c[i] & 0x80) {
      if (i + 1 == c.size()) return make_error("der.oid", "OBJECT IDENTIFIER ends mid-arc");
      continue;
    }
    if (first) {
      uint64_t a = v < 40 ? 0 : v < 80 ? 1 : 2;
      out = std::to_string(a) + "." + std::to_string(v - 40 * a);
      first = false;
    } else {
      out += "." + std::to_string(v);
    }
    v = 0;
  }
  return out;
}

Result<uint64_t> small_uint(ByteView c) {
  if (c.empty() || c.size() > 9 || (c[0] & 0x80)) return make_error("der.int", "not a small non-negative integer");
  if (c.size() == 9 && c[0] != 0) return make_error("der.int", "integer too large");
  uint64_t v = 0;
  for (uint8_t b : c) v = v << 8 | b;
  return v;
}

}  // namespace supernet::crypto::der
