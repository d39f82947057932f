#include "market/market.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "crypto/hash.h"
#include "util/file.h"

namespace supernet::market {
namespace {

namespace fs = std::filesystem;

// A network of two validators and three clients (a member, two users), and a publisher.
struct World {
  consensus::ChainGenesis genesis;
  crypto::PrivateKey member = crypto::PrivateKey::generate_ec(crypto::Curve::kP256);
  crypto::PrivateKey alice = crypto::PrivateKey::generate_ec(crypto::Curve::kP256);
  crypto::PrivateKey bob = crypto::PrivateKey::generate_ec(crypto::Curve::kP256);
  crypto::Ed25519KeyPair node1 = crypto::ed25519_generate(), node2 = crypto::ed25519_generate();
  agents::PublisherKey publisher = agents::generate_publisher_key();
  Directory dir;
  uint64_t nonce = 1;
  World() {
    genesis.clients = {{"member", "member", crypto::sha256(member.public_key().spki_der())},
                       {"alice", "user", crypto::sha256(alice.public_key().spki_der())},
                       {"bob", "user", crypto::sha256(bob.public_key().spki_der())}};
    dir.genesis = &genesis;
    dir.identity_key = [this](uint32_t n) -> const Bytes* { return n == 1 ? &node1.public_key : n == 2 ? &node2.public_key : nullptr; };
  }
  Bytes credit(Kind k, const crypto::PrivateKey& from, const std::string& to, uint64_t amount) { return make_credit_tx(k, to, amount, nonce++, from); }
};

// The envelope of a freshly packed template agent of this name and version.
std::string envelope(const agents::PublisherKey& key, const std::string& name, const std::string& version, uint64_t price = 3,
                     bool model = false) {
  fs::path dir = fs::temp_directory_path() / ("market-test-" + std::to_string(getpid()) + "-" + name + "-" + version);
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (auto [path, text] : agents::template_files(name)) {
    if (path == "agent.toml") {
      text.replace(text.find("version = \"0.1.0\""), 17, "version = \"" + version + "\"");
      text.replace(text.find("price = 1"), 9, "price = " + std::to_string(price));
      if (model) text.replace(text.find("models = []"), 11, "models = [\"model.json\"]");
    }
    EXPECT_TRUE(write_file_atomic((dir / path).string(), as_bytes(text)).ok());
  }
  if (model) {
    EXPECT_TRUE(write_file_atomic((dir / "model.json").string(), as_bytes(std::string("{\"weights\": [1, 2]}"))).ok());
  }
  auto p = agents::pack_folder(dir.string(), key);
  fs::remove_all(dir);
  EXPECT_TRUE(p.ok()) << p.error().to_string();
  return p.ok() ? p->envelope_json : "";
}

TEST(Market, TransactionsRoundTripAndRefuseTruncation) {
  World w;
  Bytes l = make_listing_tx(1, "alice", envelope(w.publisher, "a", "1.0.0"), w.node1.secret_key);
  Bytes dl = make_delist_tx("a", "1.0.0", 5, w.publisher);
  Bytes c = w.credit(Kind::kMint, w.member, "alice", 10);
  for (const Bytes& tx : {l, dl, c}) {
    EXPECT_TRUE(is_market_tx(tx));
    for (size_t n = 0; n + 1 < tx.size(); n += 7) EXPECT_FALSE(Market().check(ByteView(tx.data(), n), w.dir).ok()) << n;
  }
  EXPECT_EQ(ListingTx::decode(l)->node, 1u);
  EXPECT_EQ(DelistTx::decode(dl)->nonce, 5u);
  EXPECT_EQ(CreditTx::decode(c)->amount, 10u);
  EXPECT_EQ(CreditTx::decode(c)->kind, Kind::kMint);
  EXPECT_FALSE(is_market_tx(as_bytes(std::string("SNFJxxxx"))));
}

TEST(Market, ListingsComeFromThePublishersSignatureAndKeepEveryVersion) {
  World w;
  Market m;
  std::string v1 = envelope(w.publisher, "greeter", "1.0.0");
  ASSERT_TRUE(m.apply(make_listing_tx(1, "alice", v1, w.node1.secret_key), 10, w.dir).ok());
  const Listing* l = m.latest("greeter");
  ASSERT_NE(l, nullptr);
  EXPECT_EQ(l->version, "1.0.0");
  EXPECT_EQ(l->price, 3u);
  EXPECT_EQ(l->publisher, w.publisher.public_key);
  EXPECT_EQ(l->node, 1u);
  EXPECT_EQ(l->height, 10u);
  EXPECT_EQ(m.by_root(l->root), l);
  // The same listing again, a lower or equal version, another publisher's package of the name.
  EXPECT_EQ(m.apply(make_listing_tx(2, "alice", v1, w.node2.secret_key), 11, w.dir).error().code, "market.duplicate");
  std::string v2 = envelope(w.publisher, "greeter", "1.10.0", 5);
  ASSERT_TRUE(m.apply(make_listing_tx(2, "alice", v2, w.node2.secret_key), 12, w.dir).ok());
  EXPECT_EQ(m.latest("greeter")->version, "1.10.0");  // numerically above 1.9 and 1.2
  EXPECT_EQ(m.apply(make_listing_tx(1, "alice", envelope(w.publisher, "greeter", "1.2.0"), w.node1.secret_key), 13, w.dir).error().code, "market.version");
  agents::PublisherKey mallory = agents::generate_publisher_key();
  EXPECT_EQ(m.apply(make_listing_tx(1, "alice", envelope(mallory, "greeter", "9.0.0"), w.node1.secret_key), 14, w.dir).error().code, "market.name");
  // A listing needs a validator's signature over exactly this envelope.
  EXPECT_EQ(m.check(make_listing_tx(3, "alice", envelope(w.publisher, "other", "1.0.0"), w.node1.secret_key), w.dir).error().code, "market.node");
  EXPECT_EQ(m.check(make_listing_tx(2, "alice", envelope(w.publisher, "other", "1.0.0"), w.node1.secret_key), w.dir).error().code, "market.node");
  // An envelope whose payload was changed does not verify (the publisher signed the terms).
  std::string forged = envelope(w.publisher, "other", "1.0.0");
  forged[forged.find("\"payload\":\"") + 20] ^= 1;
  EXPECT_FALSE(m.check(make_listing_tx(1, "alice", forged, w.node1.secret_key), w.dir).ok());
  // Old versions stay, by version and by root; delisting is the publisher's alone, once.
  ASSERT_EQ(m.versions("greeter").size(), 2u);
  EXPECT_EQ(m.apply(make_delist_tx("greeter", "1.10.0", 1, mallory), 15, w.dir).error().code, "market.publisher");
  ASSERT_TRUE(m.apply(make_delist_tx("greeter", "1.10.0", 1, w.publisher), 15, w.dir).ok());
  EXPECT_TRUE(m.find("greeter", "1.10.0")->delisted);
  EXPECT_EQ(m.latest("greeter")->version, "1.0.0");
  EXPECT_EQ(m.apply(make_delist_tx("greeter", "1.10.0", 2, w.publisher), 16, w.dir).error().code, "market.delisted");
  EXPECT_EQ(m.apply(make_delist_tx("greeter", "3.0.0", 3, w.publisher), 16, w.dir).error().code, "market.unknown");
  ASSERT_TRUE(m.apply(make_delist_tx("greeter", "1.0.0", 4, w.publisher), 17, w.dir).ok());
  EXPECT_EQ(m.latest("greeter"), nullptr);
  EXPECT_EQ(m.names(), std::vector<std::string>{"greeter"});
}

TEST(Market, TheContentKeyIsHandedOverOnceByThePublisherWrapped) {
  World w;
  Market m;
  std::string env = envelope(w.publisher, "diag", "1.0.0", 2, true);
  ASSERT_TRUE(m.apply(make_listing_tx(1, "alice", env, w.node1.secret_key), 1, w.dir).ok());
  const Listing* l = m.latest("diag");
  ASSERT_NE(l, nullptr);
  EXPECT_TRUE(l->has_models);
  EXPECT_EQ(l->client, "alice");
  EXPECT_TRUE(l->wrapped_content_key.empty());
  Bytes root = l->root;
  // The wrap: only the resource key opens it, and only for this root.
  crypto::SecureBytes resource_key(crypto::random_bytes(32)), ck(crypto::random_bytes(64));
  auto wrapped = wrap_content_key(resource_key, ck, root);
  ASSERT_TRUE(wrapped.ok());
  auto back = unwrap_content_key(resource_key, *wrapped, root);
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(crypto::ct_equal(back->view(), ck.view()));
  EXPECT_FALSE(unwrap_content_key(crypto::SecureBytes(crypto::random_bytes(32)), *wrapped, root).ok());
  EXPECT_FALSE(unwrap_content_key(resource_key, *wrapped, crypto::sha256(root)).ok());
  EXPECT_EQ(content_key_resource(root), "agent:" + to_hex(root));
  // Handed over by the publisher only, once, for a listed package with models.
  agents::PublisherKey mallory = agents::generate_publisher_key();
  EXPECT_EQ(m.apply(make_content_key_tx(root, *wrapped, mallory), 2, w.dir).error().code, "market.publisher");
  EXPECT_EQ(m.apply(make_content_key_tx(crypto::sha256(root), *wrapped, w.publisher), 2, w.dir).error().code, "market.unknown");
  ASSERT_TRUE(m.apply(make_content_key_tx(root, *wrapped, w.publisher), 2, w.dir).ok());
  EXPECT_EQ(m.latest("diag")->wrapped_content_key, *wrapped);
  EXPECT_EQ(m.apply(make_content_key_tx(root, *wrapped, w.publisher), 3, w.dir).error().code, "market.content_key");
  ASSERT_TRUE(m.apply(make_listing_tx(1, "alice", envelope(w.publisher, "plain", "1.0.0"), w.node1.secret_key), 4, w.dir).ok());
  EXPECT_EQ(m.apply(make_content_key_tx(m.latest("plain")->root, *wrapped, w.publisher), 5, w.dir).error().code, "market.content_key");
  // A listing must name a client of the network.
  EXPECT_EQ(m.check(make_listing_tx(1, "nobody", envelope(w.publisher, "other", "1.0.0"), w.node1.secret_key), w.dir).error().code, "market.client");
}

TEST(Market, CreditsAreMintedByMembersAndNeverOverdrawn) {
  World w;
  Market m;
  EXPECT_EQ(m.apply(w.credit(Kind::kMint, w.alice, "alice", 100), 1, w.dir).error().code, "market.mint");
  Bytes mint = w.credit(Kind::kMint, w.member, "alice", 100);
  ASSERT_TRUE(m.apply(mint, 1, w.dir).ok());
  EXPECT_EQ(m.balance("alice"), 100u);
  EXPECT_EQ(m.apply(mint, 2, w.dir).error().code, "market.replay");  // the same signed mint counts once
  EXPECT_EQ(m.balance("alice"), 100u);
  ASSERT_TRUE(m.apply(w.credit(Kind::kTransfer, w.alice, "bob", 30), 3, w.dir).ok());
  EXPECT_EQ(m.balance("alice"), 70u);
  EXPECT_EQ(m.balance("bob"), 30u);
  EXPECT_EQ(m.apply(w.credit(Kind::kTransfer, w.alice, "bob", 71), 4, w.dir).error().code, "market.balance");
  EXPECT_EQ(m.apply(w.credit(Kind::kTransfer, w.alice, "carol", 1), 4, w.dir).error().code, "market.client");
  EXPECT_EQ(m.apply(w.credit(Kind::kTransfer, w.alice, "alice", 1), 4, w.dir).error().code, "market.transfer");
  EXPECT_EQ(m.apply(w.credit(Kind::kTransfer, w.alice, "bob", 0), 4, w.dir).error().code, "market.amount");
  EXPECT_EQ(m.apply(w.credit(Kind::kMint, w.member, "bob", kAmountMax + 1), 4, w.dir).error().code, "market.amount");
  // Up to the balance bound, not past it.
  for (int i = 0; i < 4; i++) ASSERT_TRUE(m.apply(w.credit(Kind::kMint, w.member, "bob", kAmountMax), 5, w.dir).ok());
  while (m.balance("bob") + kAmountMax <= kBalanceMax) ASSERT_TRUE(m.apply(w.credit(Kind::kMint, w.member, "bob", kAmountMax), 5, w.dir).ok());
  EXPECT_EQ(m.apply(w.credit(Kind::kMint, w.member, "bob", kAmountMax), 6, w.dir).error().code, "market.amount");
  // A key that is no client's, and a signature over other bytes.
  crypto::PrivateKey stranger = crypto::PrivateKey::generate_ec(crypto::Curve::kP256);
  EXPECT_EQ(m.apply(w.credit(Kind::kMint, stranger, "bob", 1), 7, w.dir).error().code, "market.signer");
  auto t = CreditTx::decode(w.credit(Kind::kMint, w.member, "alice", 1)).value();
  t.amount = 1000;
  EXPECT_EQ(m.apply(t.encode(), 7, w.dir).error().code, "market.signature");
  EXPECT_EQ(m.balance("alice"), 70u);
}

TEST(Market, EveryNodeApplyingTheSameTransactionsHoldsTheSameState) {
  World w;
  std::vector<Bytes> txs;
  txs.push_back(w.credit(Kind::kMint, w.member, "alice", 50));
  txs.push_back(make_listing_tx(1, "alice", envelope(w.publisher, "x", "1.0.0"), w.node1.secret_key));
  txs.push_back(w.credit(Kind::kTransfer, w.alice, "bob", 60));  // refused: alice has 50
  txs.push_back(w.credit(Kind::kTransfer, w.alice, "bob", 20));
  txs.push_back(make_delist_tx("x", "1.0.0", 9, w.publisher));
  Market a, b;
  std::vector<std::string> ra, rb;
  for (size_t i = 0; i < txs.size(); i++) {
    auto x = a.apply(txs[i], i, w.dir);
    auto y = b.apply(txs[i], i, w.dir);
    ra.push_back(x.ok() ? "ok" : x.error().code);
    rb.push_back(y.ok() ? "ok" : y.error().code);
  }
  EXPECT_EQ(ra, rb);
  EXPECT_EQ(ra[2], "market.balance");
  EXPECT_EQ(a.balances(), b.balances());
  EXPECT_EQ(a.balance("bob"), 20u);
  EXPECT_TRUE(a.find("x", "1.0.0")->delisted && b.find("x", "1.0.0")->delisted);
}

}  // namespace
}  // namespace supernet::market
