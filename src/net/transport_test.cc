#include "net/transport.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <asio.hpp>

#include "net/test_io.h"
#include <filesystem>
#include <map>

#include "crypto/keys.h"
#include "tee/virtual_platform.h"

namespace supernet::net {
namespace {

std::string temp_dir(const std::string& name) {
  auto d = std::filesystem::temp_directory_path() / ("supernet-transport-" + std::to_string(::getpid()) + "-" + name);
  std::filesystem::remove_all(d);
  return d.string();
}

struct TestNode {
  uint32_t id;
  std::unique_ptr<tee::VirtualPlatform> platform;
  crypto::Ed25519KeyPair identity;
  std::unique_ptr<Transport> transport;
  std::vector<std::pair<uint32_t, std::string>> received;
};

class TransportTest : public ::testing::Test {
 protected:
  void make_nodes(int n) {
    for (int i = 1; i <= n; i++) {
      auto node = std::make_unique<TestNode>();
      node->id = static_cast<uint32_t>(i);
      node->platform = tee::VirtualPlatform::open(temp_dir("p" + std::to_string(i))).value();
      node->identity = crypto::ed25519_generate();
      policy_.trusted_virtual_platform_keys.push_back(from_hex(node->platform->platform_key_id()).value());
      identity_keys_[node->id] = node->identity.public_key;
      nodes_.push_back(std::move(node));
    }
    policy_.production = false;
    policy_.allowed_platforms = {tee::Kind::kVirtual};
    policy_.platforms[tee::Kind::kVirtual].measurements = {nodes_[0]->platform->measurement().value()};
  }

  // Starts node `idx` (0-based); it dials every node with a higher id at its known port.
  void start(size_t idx, const crypto::SecureBytes* identity_override = nullptr) {
    TestNode& node = *nodes_[idx];
    TransportConfig cfg;
    cfg.self = node.id;
    cfg.listen_port = ports_.count(node.id) ? ports_[node.id] : 0;
    for (auto& [id, port] : ports_) {
      if (id > node.id) cfg.dial.push_back({id, "127.0.0.1", port});
    }
    // The certificate binds this node's identity key and the chain (issue 9).
    cfg.ratls.identity = make_identity(*node.platform, "node-" + std::to_string(node.id), {node.identity.public_key, chain_}).value();
    cfg.ratls.chain = chain_;
    cfg.ratls.policy = policy_;
    cfg.ratls.platform = node.platform.get();
    cfg.identity_secret = identity_override ? *identity_override : node.identity.secret_key;
    cfg.identity_keys = identity_keys_;
    node.transport = std::make_unique<Transport>(io_, std::move(cfg), [&node](uint32_t from, Bytes frame) {
      node.received.emplace_back(from, to_string(frame));
    });
    ASSERT_TRUE(node.transport->start().ok());
    ports_[node.id] = node.transport->listen_port();
  }

  // Runs the event loop until `done` or the deadline.
  bool run_until(const std::function<bool()>& done, int ms = 8000) { return testing::run_until(io_, done, ms); }

  asio::io_context io_;
  tee::Policy policy_;
  Bytes chain_ = crypto::sha256(as_bytes("transport-test-chain"));
  std::map<uint32_t, Bytes> identity_keys_;
  std::map<uint32_t, uint16_t> ports_;
  std::vector<std::unique_ptr<TestNode>> nodes_;
};

TEST_F(TransportTest, ThreeNodesAttestAndExchangeFrames) {
  make_nodes(3);
  for (size_t i = 3; i-- > 0;) start(i);  // highest id first, so lower ids know where to dial
  auto all_connected = [&] {
    return nodes_[0]->transport->connected(2) && nodes_[0]->transport->connected(3) && nodes_[1]->transport->connected(3) &&
           nodes_[2]->transport->connected(1);
  };
  ASSERT_TRUE(run_until(all_connected));
  for (auto& n : nodes_) n->transport->broadcast(to_bytes("hello from " + std::to_string(n->id)));
  ASSERT_TRUE(run_until([&] {
    for (auto& n : nodes_) {
      if (n->received.size() < 2) return false;
    }
    return true;
  }));
  for (auto& n : nodes_) {
    for (auto& [from, text] : n->received) EXPECT_EQ(text, "hello from " + std::to_string(from));
  }
}

TEST_F(TransportTest, ForgedIdentityIsRefused) {
  make_nodes(2);
  start(1);
  // Node 1 signs its hello with a key that is not its registered identity.
  auto wrong = crypto::ed25519_generate();
  start(0, &wrong.secret_key);
  EXPECT_FALSE(run_until([&] { return nodes_[0]->transport->connected(2) || nodes_[1]->transport->connected(1); }, 1500));
}

TEST_F(TransportTest, UntrustedPlatformIsRefused) {
  make_nodes(2);
  policy_.trusted_virtual_platform_keys.pop_back();  // node 2's platform is not trusted
  start(1);
  start(0);
  EXPECT_FALSE(run_until([&] { return nodes_[0]->transport->connected(2) || nodes_[1]->transport->connected(1); }, 1500));
}

TEST_F(TransportTest, ReconnectsAfterAPeerRestarts) {
  make_nodes(2);
  start(1);
  start(0);
  ASSERT_TRUE(run_until([&] { return nodes_[0]->transport->connected(2); }));
  nodes_[1]->transport->stop();
  nodes_[1]->transport.reset();
  ASSERT_TRUE(run_until([&] { return !nodes_[0]->transport->connected(2); }));
  // Frames sent while it is down wait in the queue.
  nodes_[0]->transport->send(2, to_bytes(std::string("queued while down")));
  start(1);  // same port
  ASSERT_TRUE(run_until([&] { return !nodes_[1]->received.empty(); }));
  EXPECT_EQ(nodes_[1]->received[0].second, "queued while down");
}

TEST_F(TransportTest, BannedPeerIsDisconnectedAndStaysOut) {
  make_nodes(2);
  start(1);
  start(0);
  ASSERT_TRUE(run_until([&] { return nodes_[0]->transport->connected(2); }));
  nodes_[1]->transport->ban(1);
  ASSERT_TRUE(run_until([&] { return !nodes_[0]->transport->connected(2) && !nodes_[1]->transport->connected(1); }));
  // Node 1 keeps dialling; node 2 keeps refusing.
  EXPECT_FALSE(run_until([&] { return nodes_[1]->transport->connected(1); }, 1000));
  nodes_[0]->transport->send(2, to_bytes(std::string("ignored")));
  run_until([] { return false; }, 300);
  EXPECT_TRUE(nodes_[1]->received.empty());
}

TEST_F(TransportTest, OversizeFrameIsDroppedAndTheLinkKeepsWorking) {
  make_nodes(2);
  start(1);
  start(0);
  ASSERT_TRUE(run_until([&] { return nodes_[0]->transport->connected(2); }));
  nodes_[0]->transport->send(2, Bytes(kFrameBytesMax + 1, 'x'));
  nodes_[0]->transport->send(2, to_bytes(std::string("after the oversize one")));
  ASSERT_TRUE(run_until([&] { return !nodes_[1]->received.empty(); }));
  EXPECT_EQ(nodes_[1]->received[0].second, "after the oversize one");
  EXPECT_TRUE(nodes_[0]->transport->connected(2));
}

}  // namespace
}  // namespace supernet::net
