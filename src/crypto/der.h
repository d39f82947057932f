// A minimal bounded DER reader for the few ASN.1 structures OpenSSL does not model for us
// (Intel's PCK SGX extension). Definite lengths only; every read is bounds-checked.
#pragma once

#include <string>

#include "util/bytes.h"
#include "util/result.h"

namespace supernet::crypto::der {

struct Element {
  uint8_t tag = 0;
  ByteView value;
};

class Reader {
 public:
  explicit Reader(ByteView data) : data_(data) {}
  bool done() const { return pos_ >= data_.size(); }
  Result<Element> next();

 private:
  ByteView data_;
  size_t pos_ = 0;
};

// Dotted text of an OBJECT IDENTIFIER's contents ("1.2.840.113741.1.13.1").
Result<std::string> oid_text(ByteView contents);
// Non-negative INTEGER or ENUMERATED contents that fit in 64 bits.
Result<uint64_t> small_uint(ByteView contents);

}  // namespace supernet::crypto::der
