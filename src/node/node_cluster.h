// Test only: three tee-bft nodes in one process over loopback RA-TLS (virtual platforms), for
// the node's tests and the rogue-validator harness in tests/. Never linked into the product.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <asio.hpp>
#include <filesystem>
#include <map>

#include "crypto/hash.h"
#include "crypto/keys.h"
#include "ledger/tx.h"
#include "net/test_io.h"
#include "node/appraiser.h"
#include "node/node.h"
#include "tee/virtual_platform.h"

namespace supernet::node::testing {

using consensus::Checker;
using consensus::NodeId;

// A folder per test, so no test reads another's ledger.
inline std::string test_dir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return (std::filesystem::temp_directory_path() /
          ("supernet-node-" + std::to_string(::getpid()) + "-" + info->name())).string();
}

inline std::string temp_path(const std::string& name) { return test_dir() + "/" + name; }

// Three tee-bft nodes in one process, talking over loopback RA-TLS.
class NodeCluster : public ::testing::Test {
 protected:
  static constexpr int kNodes = 3;

  void SetUp() override {
    std::filesystem::remove_all(test_dir());
    std::filesystem::create_directories(test_dir());
    for (int i = 1; i <= kNodes; i++) {
      auto p = tee::VirtualPlatform::open(temp_path("platform-" + std::to_string(i))).value();
      policy_.trusted_virtual_platform_keys.push_back(from_hex(p->platform_key_id()).value());
      platforms_[i] = std::move(p);
      identities_[i] = crypto::ed25519_generate();
      checkers_[i] = std::make_unique<Checker>(static_cast<NodeId>(i));
    }
    policy_.production = false;
    policy_.allowed_platforms = {tee::Kind::kVirtual};
    policy_.platforms[tee::Kind::kVirtual].measurements = {platforms_[1]->measurement().value()};
    std::vector<consensus::Validator> vals;
    for (int i = 1; i <= kNodes; i++) {
      vals.push_back({static_cast<NodeId>(i), 1, checkers_[i]->public_key(), identities_[i].public_key, 0});
    }
    genesis_ = consensus::ValidatorSet(vals, 0);
    chain_ = consensus::genesis_for_set(consensus::Protocol::kTeeBft, genesis_, "node-test", {}, tee::policy_to_toml(policy_));
    if (genesis_member_) {
      chain_.clients.push_back({"member", "member", crypto::sha256(member_key_.public_key().spki_der())});
      chain_.clients.push_back({"user", "user", crypto::sha256(user_key_.public_key().spki_der())});
    }
    for (int i = 1; i <= kNodes; i++) ASSERT_TRUE(checkers_[i]->begin(chain_.encode(), evidence_appraiser()).ok());
    for (int i = kNodes; i >= 1; i--) start_node(i, std::move(checkers_[i]));
  }

  void start_node(int i, std::unique_ptr<consensus::VoteSigner> signer) {
    NodeOptions o;
    o.replica.self = static_cast<NodeId>(i);
    o.replica.genesis = chain_;
    o.replica.appraiser = evidence_appraiser();
    tee::Platform* platform = platforms_[i].get();
    o.replica.attest = [platform](ByteView rd) { return platform->evidence(rd); };
    o.replica.unix_now = [] { return static_cast<int64_t>(now_unix()); };
    o.replica.round_timeout_ms = 300;
    o.replica.identity_secret = identities_[i].secret_key;
    o.transport.self = static_cast<uint32_t>(i);
    o.transport.listen_port = ports_.count(i) ? ports_[i] : 0;
    for (auto& [id, port] : ports_) {
      if (id > i) o.transport.dial.push_back({static_cast<uint32_t>(id), "127.0.0.1", port});
    }
    o.transport.ratls.identity =
        net::make_identity(*platforms_[i], "node-" + std::to_string(i), {identities_[i].public_key, chain_.hash()}).value();
    o.transport.ratls.chain = chain_.hash();
    o.transport.ratls.policy = policy_;
    o.transport.ratls.platform = platforms_[i].get();
    o.transport.identity_secret = identities_[i].secret_key;
    for (int j = 1; j <= kNodes; j++) o.transport.identity_keys[static_cast<uint32_t>(j)] = identities_[j].public_key;
    o.signer = std::move(signer);
    o.store = ledger::open_sqlite_store(temp_path("ledger-" + std::to_string(i) + ".db")).value();
    nodes_[i] = std::make_unique<Node>(io_, std::move(o));
    ASSERT_TRUE(nodes_[i]->start().ok());
    ports_[i] = nodes_[i]->peer_port();
  }

  bool run_until(const std::function<bool()>& done, int ms = 20000) { return net::testing::run_until(io_, done, ms); }

  bool all_committed(const std::vector<Bytes>& txs) {
    for (auto& [i, n] : nodes_) {
      for (const auto& tx : txs) {
        if (n->replica().find_committed_tx(consensus::tx_id(tx)) == nullptr) return false;
      }
    }
    return true;
  }

  std::vector<Bytes> submit_writes(int from, int count) {
    std::vector<Bytes> txs;
    for (int k = 0; k < count; k++) {
      Bytes tx = ledger::KvWrite{"accounts", "user-" + std::to_string(from + k), to_bytes(std::to_string(k)), "test", static_cast<uint64_t>(from + k)}.encode();
      int target = 1 + k % kNodes;
      if (!nodes_.count(target)) target = nodes_.begin()->first;  // skip a node that is down
      EXPECT_TRUE(nodes_[target]->submit(tx));
      txs.push_back(tx);
    }
    return txs;
  }

  asio::io_context io_;
  tee::Policy policy_;
  std::map<int, std::unique_ptr<tee::VirtualPlatform>> platforms_;
  std::map<int, crypto::Ed25519KeyPair> identities_;
  std::map<int, std::unique_ptr<Checker>> checkers_;
  consensus::ValidatorSet genesis_;
  consensus::ChainGenesis chain_;
  // A member client in the genesis, whose key signs jobs (this also turns governance on).
  bool genesis_member_ = false;
  crypto::PrivateKey member_key_ = crypto::PrivateKey::generate_ec(crypto::Curve::kP256);
  crypto::PrivateKey user_key_ = crypto::PrivateKey::generate_ec(crypto::Curve::kP256);  // a "user" client (with genesis_member_)
  std::map<int, uint16_t> ports_;
  std::map<int, std::unique_ptr<Node>> nodes_;
};

}  // namespace supernet::node::testing
