// A network of real nodes in one process, for benchmarks: the Node runtime (replica, peer
// transport on 127.0.0.1, SQLite ledgers with synchronous=FULL) with virtual platforms, one
// thread and io_context per node, as if each ran in its own process.
#pragma once

#include <asio.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "consensus/signer.h"
#include "crypto/hash.h"
#include "crypto/keys.h"
#include "ledger/store.h"
#include "node/appraiser.h"
#include "node/node.h"
#include "node/sign_state.h"
#include "tee/virtual_platform.h"
#include "util/codec.h"
#include "util/file.h"

namespace supernet::bench {

struct NetworkNode {
  asio::io_context io;
  std::unique_ptr<tee::VirtualPlatform> platform;
  crypto::Ed25519KeyPair identity;
  std::unique_ptr<node::Node> node;
  std::thread thread;
};

class LocalNetwork {
 public:
  // Validators 1..n; `setup(i, node)` runs for each once its Node exists, before it starts (to
  // attach services and observers). `governance`: the member alone carries out proposals.
  LocalNetwork(consensus::Protocol protocol, int n, const std::string& dir, size_t block_txs,
               const std::function<void(int, NetworkNode&)>& setup = {}, bool governance = false)
      : n_(n), member_key_(crypto::PrivateKey::generate_ec(crypto::Curve::kP256)) {
    tee::Policy policy;
    policy.production = false;
    policy.allowed_platforms = {tee::Kind::kVirtual};
    std::map<int, crypto::Ed25519KeyPair> vote_keys;
    std::map<int, std::unique_ptr<consensus::Checker>> checkers;
    std::vector<consensus::Validator> vals;
    for (int i = 1; i <= n; i++) {
      auto nn = std::make_unique<NetworkNode>();
      nn->platform = tee::VirtualPlatform::open(dir + "/platform-" + std::to_string(i)).value();
      nn->identity = crypto::ed25519_generate();
      policy.trusted_virtual_platform_keys.push_back(from_hex(nn->platform->platform_key_id()).value());
      Bytes vote_key;
      if (protocol == consensus::Protocol::kTeeBft) {
        checkers[i] = std::make_unique<consensus::Checker>(static_cast<uint32_t>(i));
        vote_key = checkers[i]->public_key();
      } else {
        vote_keys[i] = crypto::ed25519_generate();
        vote_key = vote_keys[i].public_key;
      }
      vals.push_back({static_cast<uint32_t>(i), 1, vote_key, nn->identity.public_key, 0});
      nodes_[i] = std::move(nn);
    }
    policy.platforms[tee::Kind::kVirtual].measurements = {nodes_[1]->platform->measurement().value()};
    consensus::ValidatorSet set(vals, 0);
    consensus::GovernanceRules rules;
    if (governance) rules = {{{"member", crypto::sha256(member_key_.public_key().spki_der())}}, 1};
    consensus::ChainGenesis genesis = consensus::genesis_for_set(protocol, set, "bench", rules, tee::policy_to_toml(policy));
    if (!governance) genesis.clients.push_back({"member", "member", crypto::sha256(member_key_.public_key().spki_der())});  // signs jobs
    Bytes genesis_bytes = genesis.encode();
    std::map<int, uint16_t> ports;
    for (int i = n; i >= 1; i--) {  // higher ids first: lower ones dial them
      NetworkNode& nn = *nodes_[i];
      node::NodeOptions no;
      no.replica.self = static_cast<uint32_t>(i);
      no.replica.genesis = genesis;
      no.replica.appraiser = node::evidence_appraiser();
      tee::Platform* platform = nn.platform.get();
      no.replica.attest = [platform](ByteView rd) { return platform->evidence(rd); };
      no.replica.unix_now = [] { return static_cast<int64_t>(now_unix()); };
      no.replica.identity_secret = nn.identity.secret_key;
      no.replica.block_txs_max = block_txs;
      if (protocol == consensus::Protocol::kTeeBft) {
        (void)checkers[i]->begin(genesis_bytes, no.replica.appraiser);
        no.signer = std::move(checkers[i]);
      } else {
        // As a real bft node: the sealed sign state is stored durably before each signature.
        auto state = node::open_sign_state(*nn.platform, dir + "/sign-state-" + std::to_string(i) + ".sealed",
                                           static_cast<uint32_t>(i), true).value();
        no.signer = std::make_unique<consensus::PlainSigner>(static_cast<uint32_t>(i), vote_keys[i].secret_key, vote_keys[i].public_key,
                                                              state.state, state.persist);
      }
      no.transport.self = static_cast<uint32_t>(i);
      for (auto& [id, port] : ports) no.transport.dial.push_back({static_cast<uint32_t>(id), "127.0.0.1", port});
      no.transport.ratls.identity =
          net::make_identity(*nn.platform, "bench-" + std::to_string(i), {nn.identity.public_key, genesis.hash()}).value();
      no.transport.ratls.chain = genesis.hash();
      no.transport.ratls.policy = policy;
      no.transport.ratls.platform = nn.platform.get();
      no.transport.identity_secret = nn.identity.secret_key;
      for (int j = 1; j <= n; j++) no.transport.identity_keys[static_cast<uint32_t>(j)] = nodes_[j]->identity.public_key;
      no.store = ledger::open_sqlite_store(dir + "/ledger-" + std::to_string(i) + ".db").value();
      nn.node = std::make_unique<node::Node>(nn.io, std::move(no));
      if (setup) setup(i, nn);
      if (auto s = nn.node->start(); !s.ok()) {
        std::fprintf(stderr, "node %d: %s\n", i, s.error().to_string().c_str());
        std::exit(1);
      }
      ports[i] = nn.node->peer_port();
    }
    for (auto& [i, nn] : nodes_) {
      NetworkNode* raw = nn.get();
      raw->thread = std::thread([raw] {
        auto guard = asio::make_work_guard(raw->io);
        raw->io.run();
      });
    }
  }

  ~LocalNetwork() { stop(); }
  LocalNetwork(const LocalNetwork&) = delete;
  LocalNetwork& operator=(const LocalNetwork&) = delete;

  // Stops every node and joins its thread (services attached in `setup` may be destroyed after).
  void stop() {
    for (auto& [i, nn] : nodes_) {
      NetworkNode* raw = nn.get();
      if (!raw->thread.joinable()) continue;
      asio::post(raw->io, [raw] {
        raw->node->stop();
        raw->io.stop();
      });
    }
    for (auto& [i, nn] : nodes_) {
      if (nn->thread.joinable()) nn->thread.join();
    }
  }

  int size() const { return n_; }
  // The genesis' one client, a member: the key that signs jobs.
  const crypto::PrivateKey& member_key() const { return member_key_; }
  NetworkNode& operator[](int i) { return *nodes_.at(i); }

  // Runs f on node i's thread and waits for its result.
  template <typename F>
  auto on(int i, F f) {
    std::promise<decltype(f(*nodes_[i]))> p;
    auto fut = p.get_future();
    asio::post(nodes_[i]->io, [&] { p.set_value(f(*nodes_[i])); });
    return fut.get();
  }

  // Every node connected to every other and able to sign.
  bool wait_connected(int seconds) {
    auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (std::chrono::steady_clock::now() < end) {
      bool all = true;
      for (int i = 1; i <= n_; i++) {
        all &= on(i, [&](NetworkNode& b) {
          for (int j = 1; j <= n_; j++) {
            if (j != i && !b.node->connected(static_cast<uint32_t>(j))) return false;
          }
          return b.node->replica().can_sign();
        });
      }
      if (all) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

 private:
  int n_;
  crypto::PrivateKey member_key_;
  std::map<int, std::unique_ptr<NetworkNode>> nodes_;
};

}  // namespace supernet::bench
