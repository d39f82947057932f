#include "node/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "util/file.h"

namespace supernet::node {
namespace {

Genesis sample() {
  Genesis g;
  g.chain_id = "test-chain";
  for (uint32_t i = 1; i <= 3; i++) {
    GenesisValidator v;
    v.id = i;
    v.peer = {"127.0.0.1", static_cast<uint16_t>(7100 + i)};
    v.api = {"127.0.0.1", static_cast<uint16_t>(8100 + i)};
    v.identity_key = Bytes(32, static_cast<uint8_t>(i));
    v.vote_key = Bytes(32, static_cast<uint8_t>(10 + i));
    g.validators.push_back(v);
  }
  return g;
}

TEST(Genesis, RoundTripsAndHashesStably) {
  Genesis g = sample();
  auto back = parse_genesis(genesis_toml(g));
  ASSERT_TRUE(back.ok()) << back.error().to_string();
  EXPECT_EQ(back->hash(), g.hash());
  EXPECT_EQ(back->validator_set().size(), 3u);
  Genesis other = g;
  other.chain_id = "another";
  EXPECT_NE(other.hash(), g.hash());
}

TEST(Genesis, BadFilesGiveClearErrors) {
  EXPECT_EQ(parse_genesis("chain_id = ").error().code, "config.syntax");
  EXPECT_EQ(parse_genesis("chain_id = \"x\"\nprotocol = \"raft\"").error().code, "config.protocol");
  EXPECT_EQ(parse_genesis("chain_id = \"x\"\nprotocol = \"bft\"").error().code, "config.validators");
  std::string dup = genesis_toml(sample());
  dup += "\n[[validators]]\nid = 1\nweight = 1\npeer = \"127.0.0.1:1\"\napi = \"127.0.0.1:2\"\nidentity_key = \"" +
         std::string(64, 'a') + "\"\nvote_key = \"" + std::string(64, 'b') + "\"\n";
  EXPECT_EQ(parse_genesis(dup).error().code, "config.validators");
  std::string short_key = "chain_id = \"x\"\nprotocol = \"bft\"\n[[validators]]\nid = 1\nweight = 1\npeer = \"h:1\"\napi = \"h:2\"\n"
                          "identity_key = \"00\"\nvote_key = \"00\"\n";
  EXPECT_EQ(parse_genesis(short_key).error().code, "config.key");
}

TEST(Genesis, ClientsRoundTripAndAreValidated) {
  Genesis g = sample();
  g.clients.push_back({"alice", "member", Bytes(32, 1)});
  g.clients.push_back({"bob", "user", Bytes(32, 2)});
  auto back = parse_genesis(genesis_toml(g));
  ASSERT_TRUE(back.ok()) << back.error().to_string();
  ASSERT_EQ(back->clients.size(), 2u);
  EXPECT_EQ(back->clients[1].name, "bob");
  EXPECT_EQ(back->clients[1].spki_sha256, Bytes(32, 2));
  EXPECT_EQ(back->hash(), g.hash());
  Genesis no_clients = sample();
  EXPECT_NE(no_clients.hash(), g.hash());  // who may use the API is part of the network's identity

  auto with = [&](const std::string& name, const std::string& role, const std::string& spki) {
    return parse_genesis(genesis_toml(sample()) + "\n[[clients]]\nname = \"" + name + "\"\nrole = \"" + role +
                         "\"\nspki_sha256 = \"" + spki + "\"\n");
  };
  EXPECT_TRUE(with("carol", "user", std::string(64, 'a')).ok());
  EXPECT_EQ(with("carol", "admin", std::string(64, 'a')).error().code, "config.clients");
  EXPECT_EQ(with("carol", "user", "abcd").error().code, "config.clients");
  EXPECT_EQ(with("ca rol", "user", std::string(64, 'a')).error().code, "config.clients");
  EXPECT_EQ(with("", "user", std::string(64, 'a')).error().code, "config.clients");
  Genesis dup = sample();
  dup.clients = {{"a", "user", Bytes(32, 1)}, {"b", "user", Bytes(32, 1)}};
  EXPECT_EQ(parse_genesis(genesis_toml(dup)).error().code, "config.clients");
}

TEST(HostPort, Parses) {
  EXPECT_EQ(parse_host_port("127.0.0.1:8080")->port, 8080);
  EXPECT_FALSE(parse_host_port("127.0.0.1").ok());
  EXPECT_FALSE(parse_host_port("127.0.0.1:99999").ok());
  EXPECT_FALSE(parse_host_port("127.0.0.1:http").ok());
}

}  // namespace
}  // namespace supernet::node

namespace supernet::node {
namespace {

TEST(NodeConfig, FaultDetectionIsPhiAccrualUnlessSetAndRoundTrips) {
  auto dir = std::filesystem::temp_directory_path() / ("supernet-config-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string base = "id = 1\npeer_listen = \"127.0.0.1:7101\"\napi_listen = \"127.0.0.1:8101\"\npolicy = \"p.toml\"\ngenesis = \"g.toml\"\n";
  auto load = [&](const std::string& text) {
    std::string path = (dir / "node.toml").string();
    EXPECT_TRUE(write_file_atomic(path, as_bytes(text)).ok());
    return load_node_config(path);
  };
  auto c = load(base);
  ASSERT_TRUE(c.ok()) << c.error().to_string();
  EXPECT_TRUE(c->phi_accrual);
  auto t = load(base + "fault_detection = \"timeout\"\n");
  ASSERT_TRUE(t.ok());
  EXPECT_FALSE(t->phi_accrual);
  auto again = load(node_config_toml(*t));
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->phi_accrual);
  auto bad = load(base + "fault_detection = \"heartbeat\"\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, "config.fault_detection");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace supernet::node
