// Application transactions: writes to the key-value state. Encoded explicitly (magic "SNKV",
// then length-prefixed fields); the transaction id is SHA-256 of the encoding.
#pragma once

#include <string>
#include <vector>

#include "consensus/types.h"
#include "util/bytes.h"
#include "util/result.h"

namespace supernet::ledger {

inline constexpr size_t kTableBytesMax = 64;
inline constexpr size_t kKeyBytesMax = 256;
inline constexpr size_t kValueBytesMax = 48 * 1024;

struct KvWrite {
  std::string table;
  std::string key;
  Bytes value;
  std::string client;  // who submitted it (the client certificate's name)
  uint64_t nonce = 0;  // makes repeated writes of one value distinct transactions

  Bytes encode() const;
  static Result<KvWrite> decode(ByteView tx);
};

bool is_kv_write(ByteView tx);
Bytes tx_hash(ByteView tx);

// The state writes of a block's application transactions, in order (other transactions,
// such as key rotations, write no state). Undecodable ones are skipped: consensus orders
// bytes, the state machine decides what they mean, identically on every node.
std::vector<KvWrite> state_writes(const consensus::Block& b);

}  // namespace supernet::ledger
