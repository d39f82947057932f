#include "ledger/merkle.h"

#include <cassert>

#include "crypto/hash.h"
#include "crypto/secure.h"

namespace supernet::ledger {

namespace {

Hash node_hash(const Hash& l, const Hash& r) {
  Bytes in;
  in.reserve(65);
  in.push_back(0x01);
  in.insert(in.end(), l.begin(), l.end());
  in.insert(in.end(), r.begin(), r.end());
  return crypto::sha256(in);
}

size_t split_point(size_t n) {
  assert(n > 1);
  size_t k = 1;
  while (k << 1 < n) k <<= 1;
  return k;
}

Hash root_of(const Hash* leaves, size_t n) {
  if (n == 1) return leaves[0];
  size_t k = split_point(n);
  return node_hash(root_of(leaves, k), root_of(leaves + k, n - k));
}

void path(const Hash* leaves, size_t n, size_t index, std::vector<Hash>& out) {
  if (n <= 1) return;
  size_t k = split_point(n);
  if (index < k) {
    path(leaves, k, index, out);
    out.push_back(root_of(leaves + k, n - k));
  } else {
    path(leaves + k, n - k, index - k, out);
    out.push_back(root_of(leaves, k));
  }
}

}  // namespace

Hash leaf_hash(ByteView data) {
  Bytes in;
  in.reserve(data.size() + 1);
  in.push_back(0x00);
  in.insert(in.end(), data.begin(), data.end());
  return crypto::sha256(in);
}

Hash merkle_root(const std::vector<Hash>& leaves) {
  if (leaves.empty()) return crypto::sha256({});
  return root_of(leaves.data(), leaves.size());
}

std::vector<Hash> inclusion_proof(const std::vector<Hash>& leaves, size_t index) {
  assert(index < leaves.size());
  std::vector<Hash> out;
  path(leaves.data(), leaves.size(), index, out);
  return out;
}

// RFC 9162 section 2.1.3.2, verifying an inclusion proof.
bool verify_inclusion(const Hash& leaf, size_t index, size_t tree_size, const std::vector<Hash>& proof,
                      const Hash& root) {
  if (index >= tree_size || proof.size() > 64) return false;
  size_t fn = index, sn = tree_size - 1;
  Hash r = leaf;
  for (const Hash& p : proof) {
    if (p.size() != 32 || sn == 0) return false;
    if ((fn & 1) == 1 || fn == sn) {
      r = node_hash(p, r);
      if ((fn & 1) == 0) {
        while (fn != 0 && (fn & 1) == 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      r = node_hash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 && crypto::ct_equal(r, root);
}

}  // namespace supernet::ledger
