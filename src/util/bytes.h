// Byte strings, hex, and a bounds-checked reader for parsing outside bytes.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.h"

namespace supernet {

using Bytes = std::vector<uint8_t>;
using ByteView = std::span<const uint8_t>;

std::string to_hex(ByteView bytes);
// Accepts upper or lower case; rejects odd length and non-hex characters.
Result<Bytes> from_hex(std::string_view hex);

inline ByteView as_bytes(std::string_view s) {
  return ByteView(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}
inline Bytes to_bytes(std::string_view s) { return Bytes(s.begin(), s.end()); }
inline Bytes to_bytes(ByteView v) { return Bytes(v.begin(), v.end()); }
inline std::string to_string(ByteView v) { return std::string(v.begin(), v.end()); }
bool all_zero(ByteView v);
Bytes concat(std::initializer_list<ByteView> parts);

uint16_t load_le16(const uint8_t* p);
uint32_t load_le32(const uint8_t* p);
uint64_t load_le64(const uint8_t* p);
void store_be32(uint8_t* p, uint32_t v);
uint32_t load_be32(const uint8_t* p);

// Reads fields from a byte span; every read is bounds-checked and a short input
// becomes an Error naming the field, never an out-of-bounds access.
class ByteReader {
 public:
  explicit ByteReader(ByteView data) : data_(data) {}

  size_t offset() const { return offset_; }
  size_t remaining() const { return data_.size() - offset_; }

  Result<ByteView> take(size_t n, const char* field);
  Result<uint16_t> le16(const char* field);
  Result<uint32_t> le32(const char* field);

 private:
  ByteView data_;
  size_t offset_ = 0;
};

}  // namespace supernet
