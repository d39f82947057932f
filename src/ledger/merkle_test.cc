#include "ledger/merkle.h"

#include <gtest/gtest.h>

namespace supernet::ledger {
namespace {

TEST(Merkle, Rfc6962KnownRoots) {
  // Test vectors from RFC 6962's reference implementation (merkle_tree_test).
  EXPECT_EQ(to_hex(merkle_root({})), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  std::vector<Hash> leaves;
  const char* inputs[] = {"", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"};
  for (const char* h : inputs) leaves.push_back(leaf_hash(from_hex(h).value()));
  EXPECT_EQ(to_hex(merkle_root({leaves[0]})), "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
  EXPECT_EQ(to_hex(merkle_root(leaves)), "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328");
  std::vector<Hash> seven(leaves.begin(), leaves.begin() + 7);
  EXPECT_EQ(to_hex(merkle_root(seven)), "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c");
}

TEST(Merkle, EveryProofVerifiesAndNoOtherDoes) {
  for (size_t n = 1; n <= 17; n++) {
    std::vector<Hash> leaves;
    for (size_t i = 0; i < n; i++) leaves.push_back(leaf_hash(as_bytes("tx" + std::to_string(i))));
    Hash root = merkle_root(leaves);
    for (size_t i = 0; i < n; i++) {
      auto proof = inclusion_proof(leaves, i);
      EXPECT_TRUE(verify_inclusion(leaves[i], i, n, proof, root)) << n << "/" << i;
      EXPECT_FALSE(verify_inclusion(leaves[(i + 1) % n], i, n, proof, root) && n > 1);
      if (!proof.empty()) {
        auto bad = proof;
        bad[0][0] ^= 1;
        EXPECT_FALSE(verify_inclusion(leaves[i], i, n, bad, root));
      }
      EXPECT_FALSE(verify_inclusion(leaves[i], i + n, n, proof, root));
    }
  }
}

}  // namespace
}  // namespace supernet::ledger
