// A bounded CBOR (RFC 8949) decoder and a deterministic encoder.
//
// The decoder takes outside bytes: it rejects indefinite lengths, nesting deeper than
// kDepthMax, more than kItemsMax items, and trailing bytes, each with an Error. The encoder
// writes core deterministic encoding (shortest integers, definite lengths, map keys sorted by
// their encoded bytes), so signed CBOR has exactly one byte form.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "util/bytes.h"
#include "util/result.h"

namespace supernet::cbor {

inline constexpr size_t kDepthMax = 16;
inline constexpr size_t kItemsMax = 100000;

enum class Type { kUnsigned, kNegative, kBytes, kText, kArray, kMap, kTag, kBool, kNull, kFloat };

class Value;
using Array = std::vector<Value>;
using Map = std::vector<std::pair<Value, Value>>;

class Value {
 public:
  Value() : type_(Type::kNull) {}
  static Value uint(uint64_t v);
  static Value integer(int64_t v);
  // The negative integer -1 - arg (covers values below INT64_MIN).
  static Value negative_raw(uint64_t arg);
  static Value bytes(ByteView v);
  static Value text(std::string_view v);
  static Value array(Array items);
  static Value map(Map entries);
  static Value tag(uint64_t tag, Value inner);
  static Value boolean(bool v);
  static Value null() { return Value(); }
  static Value floating(double v);

  Type type() const { return type_; }
  bool is_int() const { return type_ == Type::kUnsigned || type_ == Type::kNegative; }
  // Integer value when it fits in int64.
  std::optional<int64_t> as_int() const;
  uint64_t raw_uint() const { return u_; }
  const Bytes& as_bytes() const { return bytes_; }
  const std::string& as_text() const { return text_; }
  const Array& as_array() const { return array_; }
  const Map& as_map() const { return map_; }
  uint64_t tag_number() const { return u_; }
  const Value& tagged() const { return *tagged_; }
  bool as_bool() const { return u_ != 0; }
  double as_float() const { return f_; }

  // Map lookup by integer or text key; nullptr when absent or when this is not a map.
  const Value* find(int64_t key) const;
  const Value* find(std::string_view key) const;

  bool operator==(const Value& o) const;

 private:
  Type type_;
  uint64_t u_ = 0;  // unsigned value, negative argument, tag number or bool
  double f_ = 0;
  Bytes bytes_;
  std::string text_;
  Array array_;
  Map map_;
  std::shared_ptr<Value> tagged_;
};

// Decodes exactly one item that spans the whole input.
Result<Value> decode(ByteView data);
// Decodes one item from the front and reports how many bytes it used.
Result<Value> decode_prefix(ByteView data, size_t* used);

Bytes encode(const Value& v);

// Diagnostic notation (RFC 8949 section 8), for `attest inspect`.
std::string diagnostic(const Value& v, size_t bytes_shown_max = 64);

}  // namespace supernet::cbor
