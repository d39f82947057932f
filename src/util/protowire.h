// A bounded reader for the protocol buffers wire format (varints and length-delimited fields
// only), for the few protobuf messages SuperNet reads from outside (TPM attestations).
#pragma once

#include "util/bytes.h"
#include "util/result.h"

namespace supernet::protowire {

struct Field {
  uint32_t number = 0;
  uint32_t wire_type = 0;  // 0 varint, 2 length-delimited
  uint64_t varint = 0;
  ByteView bytes;
};

class Reader {
 public:
  explicit Reader(ByteView data) : data_(data) {}
  bool done() const { return pos_ >= data_.size(); }
  // The next field; wire types other than varint, 64-bit, length-delimited and 32-bit are errors.
  Result<Field> next();

 private:
  Result<uint64_t> varint();
  ByteView data_;
  size_t pos_ = 0;
};

}  // namespace supernet::protowire
