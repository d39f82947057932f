#include "node/sign_state.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "tee/seal.h"
#include "tee/virtual_platform.h"
#include "util/file.h"

namespace supernet::node {
namespace {

std::string temp_dir(const std::string& name) {
  auto d = std::filesystem::temp_directory_path() / ("supernet-signstate-" + std::to_string(::getpid()) + "-" + name);
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d.string();
}

// Issue 9: a node's sealed state names its owner and a version; another node's blob is refused
// by name even on the same machine (one sealing key), and a changed version does not unseal.
TEST(SealBound, OwnerAndVersionAreBound) {
  auto p = tee::VirtualPlatform::open(temp_dir("platform")).value();
  Bytes blob = tee::seal_bound(*p, "node-identity-key", 1, 7, as_bytes("secret")).value();
  auto back = tee::unseal_bound(*p, "node-identity-key", 1, blob);
  ASSERT_TRUE(back.ok()) << back.error().to_string();
  EXPECT_EQ(back->version, 7u);
  EXPECT_EQ(to_string(back->plaintext.view()), "secret");
  auto other = tee::unseal_bound(*p, "node-identity-key", 2, blob);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().code, "seal.owner");
  EXPECT_NE(other.error().message.find("sealed for node 1, not node 2"), std::string::npos);
  Bytes older = blob;
  older[19] ^= 1;  // the version field: authenticated
  EXPECT_EQ(tee::unseal_bound(*p, "node-identity-key", 1, older).error().code, "seal.auth");
  Bytes relabelled = blob;
  relabelled[11] ^= 1;  // claim another owner: refused by name, and would not decrypt either
  EXPECT_FALSE(tee::unseal_bound(*p, "node-identity-key", 1, relabelled).ok());
  EXPECT_EQ(tee::unseal_bound(*p, "node-vote-key", 1, blob).error().code, "seal.auth");
  EXPECT_FALSE(tee::unseal_bound(*p, "node-identity-key", 1, ByteView(blob).subspan(0, 30)).ok());
}

consensus::CommittedBlock certified(uint64_t height, uint64_t round, std::vector<uint32_t> voters) {
  consensus::CommittedBlock cb;
  cb.block.header.height = height;
  cb.commit_qc.phase = consensus::Phase::kPrecommit;
  cb.commit_qc.height = height;
  cb.commit_qc.round = round;
  for (uint32_t v : voters) {
    consensus::Vote vote;
    vote.voter = v;
    cb.commit_qc.votes.push_back(vote);
  }
  return cb;
}

// Issue 9 and 10 (C): the bft sign state is sealed, versioned, never silently reset, and a
// rolled-back copy is found against the ledger.
TEST(SignStateFile, NeverSilentlyResetAndRollbackIsFound) {
  std::string dir = temp_dir("state");
  auto p = tee::VirtualPlatform::open(dir + "/platform").value();
  std::string path = dir + "/sign-state.sealed";
  // Missing while the vote key exists: the node will not sign.
  auto missing = open_sign_state(*p, path, 1, false);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, "sign_state.missing");
  auto f = open_sign_state(*p, path, 1, true).value();
  consensus::SignState s;
  s.height = 5;
  s.round = 1;
  s.phase = 1;
  ASSERT_TRUE(f.persist(s).ok());
  Bytes at_5_1 = read_file(path).value();
  s.height = 9;
  s.round = 0;
  s.phase = 2;
  ASSERT_TRUE(f.persist(s).ok());
  auto again = open_sign_state(*p, path, 1, false).value();
  EXPECT_EQ(again.state->height, 9u);
  EXPECT_EQ(*again.version, 3u);
  // Short or another node's: refused.
  Bytes good = read_file(path).value();
  ASSERT_TRUE(write_file_atomic(path, ByteView(good).subspan(0, good.size() / 2), 0600).ok());
  EXPECT_FALSE(open_sign_state(*p, path, 1, false).ok());
  ASSERT_TRUE(write_file_atomic(path, good, 0600).ok());
  EXPECT_EQ(open_sign_state(*p, path, 2, false).error().code, "seal.owner");
  // The host rolls the file back to (5, 1): the ledger holds node 1's precommit at (9, 0).
  ASSERT_TRUE(write_file_atomic(path, at_5_1, 0600).ok());
  auto rolled = open_sign_state(*p, path, 1, false).value();
  EXPECT_EQ(*rolled.version, 2u);
  std::vector<consensus::CommittedBlock> chain{certified(8, 0, {1, 2, 3}), certified(9, 0, {1, 2, 4})};
  auto s2 = check_sign_state_against_ledger(*rolled.state, 1, chain);
  ASSERT_FALSE(s2.ok());
  EXPECT_EQ(s2.error().code, "sign_state.rolled_back");
  EXPECT_TRUE(check_sign_state_against_ledger(*again.state, 1, chain).ok());
  // Node 3 signed height 8, after (5, 1); node 5 never signed.
  EXPECT_FALSE(check_sign_state_against_ledger(*rolled.state, 3, chain).ok());  // it signed 8
  EXPECT_TRUE(check_sign_state_against_ledger(*rolled.state, 5, chain).ok());   // never signed
}

}  // namespace
}  // namespace supernet::node
