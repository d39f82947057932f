// Merkle trees over transactions, as in RFC 6962 (Certificate Transparency): leaf hash
// SHA-256(0x00 || data), node hash SHA-256(0x01 || left || right), an unbalanced tree split at
// the largest power of two below n. Inclusion proofs let a client check a transaction against
// a block's root offline.
#pragma once

#include <vector>

#include "util/bytes.h"
#include "util/result.h"

namespace supernet::ledger {

using Hash = Bytes;  // 32 bytes

Hash leaf_hash(ByteView data);
Hash merkle_root(const std::vector<Hash>& leaves);  // root of the empty tree: SHA-256("")
std::vector<Hash> inclusion_proof(const std::vector<Hash>& leaves, size_t index);
bool verify_inclusion(const Hash& leaf, size_t index, size_t tree_size, const std::vector<Hash>& proof,
                      const Hash& root);

}  // namespace supernet::ledger
