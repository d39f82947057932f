#include "keys/release.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "crypto/hash.h"
#include "keys/hpke.h"
#include "keys/private_table.h"
#include "ledger/tx.h"
#include "tee/evidence.h"
#include "tee/policy.h"
#include "tee/virtual_platform.h"
#include "util/time.h"

namespace supernet::keys {
namespace {

// A 2-of-3 group from a trusted dealer's split, which gives the secret to compare with.
struct Group {
  crypto::SecureBytes secret;
  std::vector<frost::KeyShare> shares;
  std::map<uint16_t, frost::Element> public_shares;
  frost::Element group_key{};
};

Group make_group(uint16_t t, uint16_t n) {
  Group g;
  g.secret = frost::hash_to_scalar("test/secret", {as_bytes("release")});
  std::vector<crypto::SecureBytes> coefficients;
  for (uint16_t k = 1; k < t; k++) coefficients.push_back(frost::hash_to_scalar("test/coef", {Bytes{static_cast<uint8_t>(k)}}));
  g.shares = frost::split(g.secret, coefficients, n).value();
  for (const auto& s : g.shares) g.public_shares[s.identifier] = s.public_share;
  g.group_key = g.shares[0].group_public_key;
  return g;
}

TEST(KeyDerivation, AnyTPartsGiveTheKeyOfTheSecretAndABadPartIsNamed) {
  Group g = make_group(3, 5);
  const std::string resource = "model:weights/v1";
  auto expected = resource_key_from_secret(g.secret, g.group_key, resource);
  ASSERT_EQ(expected.size(), kResourceKeyBytes);
  std::vector<DerivedPart> parts;
  for (const auto& s : g.shares) {
    auto p = derive_part(s, resource);
    ASSERT_TRUE(p.ok()) << p.error().message;
    EXPECT_TRUE(verify_part(*p, s.public_share, resource).ok());
    // The encoding round-trips.
    auto d = DerivedPart::decode(p->encode());
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(d->encode(), p->encode());
    parts.push_back(*p);
  }
  for (const auto& subset : std::vector<std::vector<size_t>>{{0, 1, 2}, {2, 3, 4}, {4, 0, 2}, {1, 3, 4}}) {
    std::vector<DerivedPart> chosen;
    for (size_t i : subset) chosen.push_back(parts[i]);
    auto key = combine_parts(chosen, 3, g.public_shares, g.group_key, resource);
    ASSERT_TRUE(key.ok()) << key.error().message;
    EXPECT_TRUE(crypto::ct_equal(key->view(), expected.view()));
  }
  // Fewer than t parts give nothing.
  auto two = combine_parts({parts[0], parts[1]}, 3, g.public_shares, g.group_key, resource);
  ASSERT_FALSE(two.ok());
  EXPECT_NE(two.error().message.find("2 valid parts, 3 needed"), std::string::npos);
  // Another resource has another key; a part for one does not verify for the other.
  auto other = resource_key_from_secret(g.secret, g.group_key, "model:weights/v2");
  EXPECT_FALSE(crypto::ct_equal(other.view(), expected.view()));
  EXPECT_FALSE(verify_part(parts[0], g.shares[0].public_share, "model:weights/v2").ok());
  // A part under another validator's public share, a changed value, a changed proof: named.
  EXPECT_FALSE(verify_part(parts[0], g.shares[1].public_share, resource).ok());
  DerivedPart bad = parts[1];
  bad.value = parts[2].value;
  auto s = combine_parts({parts[0], bad, parts[3]}, 3, g.public_shares, g.group_key, resource);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("validator 2's key part"), std::string::npos) << s.error().message;
  bad = parts[1];
  bad.proof_z[0] ^= 1;
  EXPECT_FALSE(verify_part(bad, g.shares[1].public_share, resource).ok());
  // Repeats and unknown validators are refused.
  EXPECT_FALSE(combine_parts({parts[0], parts[0], parts[1]}, 3, g.public_shares, g.group_key, resource).ok());
  auto missing = g.public_shares;
  missing.erase(1);
  EXPECT_FALSE(combine_parts({parts[0], parts[1], parts[2]}, 3, missing, g.group_key, resource).ok());
  // Names outside the alphabet are refused before any arithmetic.
  EXPECT_FALSE(resource_point("").ok());
  EXPECT_FALSE(resource_point("a b").ok());
  EXPECT_FALSE(resource_point(std::string(kResourceNameBytesMax + 1, 'a')).ok());
  EXPECT_TRUE(resource_point(std::string(kResourceNameBytesMax, 'a')).ok());
}

TEST(KeyRelease, RequestsParseStrictly) {
  std::string pk(64, 'a');
  auto ok = parse_release_request(R"({"resource":"r1","public_key":")" + pk + R"("})");
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->resource, "r1");
  auto round = parse_release_request(release_request_json(*ok));
  ASSERT_TRUE(round.ok());
  EXPECT_EQ(round->public_key, ok->public_key);
  for (const std::string& body : std::vector<std::string>{std::string("[]"), std::string("{"), std::string(R"({"resource":"r1"})"),
                                  R"({"resource":"r 1","public_key":")" + pk + R"("})",
                                  std::string(R"({"resource":"r1","public_key":"abcd"})"),
                                  R"({"resource":"r1","public_key":")" + pk + R"(","evidence":"00"})",
                                  R"({"resource":"r1","public_key":")" + pk + R"(","package":")" + pk + R"("})",
                                  R"({"resource":"r1","public_key":")" + pk + R"(","extra":1})",
                                  R"({"resource":1,"public_key":")" + pk + R"("})"}) {
    auto r = parse_release_request(body);
    EXPECT_FALSE(r.ok()) << body;
    if (!r.ok()) {
      EXPECT_EQ(r.error().code.rfind("release.", 0), 0u) << r.error().code;
    }
  }
  EXPECT_FALSE(parse_release_request(std::string(kReleaseRequestBytesMax + 1, ' ')).ok());
}

TEST(KeyRelease, NoncesAreGoodOnceAndExpireAndTheBookIsBounded) {
  NonceBook book;
  Bytes n = book.issue(1000).value();
  EXPECT_TRUE(book.consume(n, 1500).ok());
  auto again = book.consume(n, 1600);
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.error().message.find("used already"), std::string::npos);
  Bytes old = book.issue(2000).value();
  auto stale = book.consume(old, 2000 + kReleaseNonceTtlMs + 1);
  ASSERT_FALSE(stale.ok());
  EXPECT_NE(stale.error().message.find("expired"), std::string::npos);
  EXPECT_FALSE(book.consume(Bytes(32, 7), 2000).ok());
  // One requester gets at most its share; others still get theirs.
  for (size_t i = 0; i < kReleaseNoncesPerRequesterMax; i++) ASSERT_TRUE(book.issue(3000, "greedy").ok());
  auto greedy = book.issue(3000, "greedy");
  ASSERT_FALSE(greedy.ok());
  EXPECT_EQ(greedy.error().code, "release.busy");
  EXPECT_TRUE(book.issue(3000, "other").ok());
  EXPECT_TRUE(book.issue(3000 + kReleaseNonceTtlMs + 1, "greedy").ok());  // its old ones expired
  for (size_t i = 0; book.outstanding() < kReleaseNoncesMax; i++) ASSERT_TRUE(book.issue(5000, "r" + std::to_string(i % 100)).ok());
  auto full = book.issue(5001, "fresh");
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.error().code, "release.busy");
  // Once the old ones expired, there is room again.
  EXPECT_TRUE(book.issue(5000 + kReleaseNonceTtlMs + 1).ok());
  EXPECT_EQ(book.outstanding(), 2u);  // the new one, and greedy's from 3000 + TTL + 1
}

// A validator's decisions, with real virtual-platform evidence appraised against a policy, as
// the node wires it; the requester is whatever the host hands in.
class Release : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (std::filesystem::temp_directory_path() / ("supernet-release-" + std::to_string(::getpid()))).string();
    std::filesystem::remove_all(dir_);
    platform_ = tee::VirtualPlatform::open(dir_ + "/platform").value();
    other_ = tee::VirtualPlatform::open(dir_ + "/other").value();
    policy_.production = false;
    policy_.allowed_platforms = {tee::Kind::kVirtual};
    policy_.trusted_virtual_platform_keys = {from_hex(platform_->platform_key_id()).value()};
    policy_.platforms[tee::Kind::kVirtual].measurements = {platform_->measurement().value()};
    requester_ = hpke_generate_key_pair();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  EvidenceCheck check() {
    return [this](ByteView evidence, ByteView report_data) -> Result<tee::Claims> {
      SN_ASSIGN(tee::Claims c, tee::verify_evidence(evidence, {}, now_unix()));
      tee::Appraisal a = tee::appraise(policy_, c, now_unix(), report_data);
      if (!a.pass()) return make_error("appraisal", a.failures.front());
      return c;
    };
  }
  ReleaseRequest attested(tee::Platform& p, ByteView nonce, ByteView package = {}) {
    ReleaseRequest r{"agent:content", requester_.public_key, {}, to_bytes(nonce), to_bytes(package)};
    r.evidence = p.evidence(release_report_data(chain_, nonce, r.public_key, package)).value();
    return r;
  }
  std::string measurement() { return to_hex(platform_->measurement().value()); }

  std::string dir_;
  std::unique_ptr<tee::VirtualPlatform> platform_, other_;
  tee::Policy policy_;
  HpkeKeyPair requester_;
  Bytes chain_ = Bytes(32, 0xcc);
  Group group_ = make_group(2, 3);
  NonceBook nonces_;
};

TEST_F(Release, AClientNamedByThePolicyGetsItsPartsAndCombinesThem) {
  ReleasePolicy policy{{"alice"}, {}, {}};
  ReleaseRequest req{"dataset:key", requester_.public_key, {}, {}, {}};
  std::vector<DerivedPart> parts;
  std::set<Bytes> records;  // the same request at the same time: still two records (two ledger transactions)
  for (int i : {0, 2}) {
    auto g = decide_release(req, policy, "alice", chain_, group_.shares[i], nonces_, check(), 1000);
    ASSERT_TRUE(g.ok()) << g.error().message;
    EXPECT_EQ(g->record.requester, "client:alice");
    EXPECT_EQ(g->record.resource, "dataset:key");
    // What the ledger records holds no key material: resource, requester, time, the request key.
    auto rec = ReleaseRecord::decode(g->record.encode());
    ASSERT_TRUE(rec.ok());
    EXPECT_EQ(rec->encode(), g->record.encode());
    records.insert(g->record.encode());
    // Only the requester opens it, and only for this chain, resource and key.
    auto part = open_part(requester_.secret, requester_.public_key, chain_, "dataset:key", g->sealed);
    ASSERT_TRUE(part.ok()) << part.error().message;
    EXPECT_FALSE(open_part(hpke_generate_key_pair().secret, requester_.public_key, chain_, "dataset:key", g->sealed).ok());
    EXPECT_FALSE(open_part(requester_.secret, requester_.public_key, Bytes(32, 1), "dataset:key", g->sealed).ok());
    EXPECT_FALSE(open_part(requester_.secret, requester_.public_key, chain_, "dataset:other", g->sealed).ok());
    parts.push_back(*part);
  }
  auto key = combine_parts(parts, 2, group_.public_shares, group_.group_key, "dataset:key");
  ASSERT_TRUE(key.ok()) << key.error().message;
  EXPECT_TRUE(crypto::ct_equal(key->view(), resource_key_from_secret(group_.secret, group_.group_key, "dataset:key").view()));
  auto twice = decide_release(req, policy, "alice", chain_, group_.shares[0], nonces_, check(), 1000);
  ASSERT_TRUE(twice.ok());
  EXPECT_FALSE(records.contains(twice->record.encode()));
  // Another client, an unknown resource, a request for attested code where the policy names
  // only clients: each refused, naming the check.
  auto bob = decide_release(req, policy, "bob", chain_, group_.shares[0], nonces_, check(), 1000);
  ASSERT_FALSE(bob.ok());
  EXPECT_EQ(bob.error().code, "release.policy");
  EXPECT_NE(bob.error().message.find("client 'bob' may not obtain"), std::string::npos);
  auto unknown = decide_release(req, std::nullopt, "alice", chain_, group_.shares[0], nonces_, check(), 1000);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, "release.resource");
  Bytes n = nonces_.issue(1000).value();
  auto code = decide_release(attested(*platform_, n), policy, "alice", chain_, group_.shares[0], nonces_, check(), 1000);
  ASSERT_FALSE(code.ok());
  EXPECT_NE(code.error().message.find("released to no attested code"), std::string::npos);
}

TEST_F(Release, AttestedCodeGetsItsPartOnlyWithFreshEvidenceThePolicyAllows) {
  Bytes package(32, 0xab), other_package(32, 0xcd);
  ReleasePolicy policy{{}, {measurement()}, {to_hex(package)}};
  // The good case: a fresh nonce, evidence binding it, the key and the package.
  Bytes n = nonces_.issue(1000).value();
  auto g = decide_release(attested(*platform_, n, package), policy, "host", chain_, group_.shares[1], nonces_, check(), 1200);
  ASSERT_TRUE(g.ok()) << g.error().message;
  EXPECT_EQ(g->record.requester.rfind("evidence:", 0), 0u);
  EXPECT_EQ(g->record.measurement, measurement());
  EXPECT_EQ(g->record.package, to_hex(package));
  EXPECT_TRUE(open_part(requester_.secret, requester_.public_key, chain_, "agent:content", g->sealed).ok());

  auto refused = [&](ReleaseRequest r, const std::string& code, const std::string& words, int64_t now = 1200) {
    auto d = decide_release(r, policy, "host", chain_, group_.shares[1], nonces_, check(), now);
    ASSERT_FALSE(d.ok()) << words;
    EXPECT_EQ(d.error().code, code) << d.error().message;
    EXPECT_NE(d.error().message.find(words), std::string::npos) << d.error().message;
  };
  // Replayed: the same evidence and nonce again.
  refused(attested(*platform_, n, package), "release.nonce", "used already");
  // Stale: a nonce older than its life.
  Bytes old = nonces_.issue(1000).value();
  refused(attested(*platform_, old, package), "release.nonce", "expired", 1000 + kReleaseNonceTtlMs + 5);
  // A nonce this validator never issued (the host made one up).
  refused(attested(*platform_, Bytes(32, 9), package), "release.nonce", "not one this validator issued");
  // A package the policy does not allow, or none.
  refused(attested(*platform_, nonces_.issue(1000).value(), other_package), "release.policy", "package cdcdcdcd");
  refused(attested(*platform_, nonces_.issue(1000).value()), "release.policy", "names none");
  // Evidence for another key than the one in the request (a host swapping in its own key).
  {
    Bytes m = nonces_.issue(1000).value();
    ReleaseRequest r = attested(*platform_, m, package);
    r.public_key = hpke_generate_key_pair().public_key;
    refused(r, "release.evidence", "report data");
  }
  // Evidence from a platform the network does not trust.
  refused(attested(*other_, nonces_.issue(1000).value(), package), "release.evidence", "");
  // Garbage for evidence.
  {
    ReleaseRequest r = attested(*platform_, nonces_.issue(1000).value(), package);
    r.evidence = Bytes(100, 0x41);
    refused(r, "release.evidence", "");
  }
  // A measurement the release policy does not name (the network accepts it).
  {
    ReleasePolicy narrow{{}, {std::string(96, 'e')}, {}};
    auto d = decide_release(attested(*platform_, nonces_.issue(1000).value()), narrow, "host", chain_, group_.shares[1], nonces_,
                            check(), 1200);
    ASSERT_FALSE(d.ok());
    EXPECT_EQ(d.error().code, "release.policy");
    EXPECT_NE(d.error().message.find("measurement"), std::string::npos);
  }
  // A measurement the members revoked from the network policy: the appraisal refuses it first.
  policy_.platforms[tee::Kind::kVirtual].measurements = {Bytes(48, 1)};
  refused(attested(*platform_, nonces_.issue(1000).value(), package), "release.evidence", "");
}

TEST(PrivateTables, ValuesSealDeterministicallyAndOpenOnlyWhereTheyWereWritten) {
  crypto::SecureBytes key(Bytes(32, 5)), other(Bytes(32, 6));
  Bytes chain(32, 1);
  Bytes value = to_bytes("a model's weights, say");
  auto sealed = seal_private_value(key, chain, "private.models", "alpha", value);
  ASSERT_TRUE(sealed.ok()) << sealed.error().message;
  EXPECT_TRUE(ledger::is_private_envelope(*sealed));
  EXPECT_EQ(sealed->size(), value.size() + ledger::kPrivateValueOverhead);
  EXPECT_EQ(seal_private_value(key, chain, "private.models", "alpha", value).value(), *sealed);  // every node alike
  EXPECT_EQ(std::search(sealed->begin(), sealed->end(), value.begin(), value.end()), sealed->end());
  auto back = open_private_value(key, chain, "private.models", "alpha", *sealed);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(to_bytes(back->view()), value);
  // Another key, chain, table or entry key; an altered byte: refused.
  EXPECT_FALSE(open_private_value(other, chain, "private.models", "alpha", *sealed).ok());
  EXPECT_FALSE(open_private_value(key, Bytes(32, 2), "private.models", "alpha", *sealed).ok());
  EXPECT_FALSE(open_private_value(key, chain, "private.other", "alpha", *sealed).ok());
  EXPECT_FALSE(open_private_value(key, chain, "private.models", "beta", *sealed).ok());
  Bytes bad = *sealed;
  bad[10] ^= 1;
  EXPECT_FALSE(open_private_value(key, chain, "private.models", "alpha", bad).ok());
  EXPECT_FALSE(open_private_value(key, chain, "private.models", "alpha", value).ok());
  // An empty value seals too; a table that is not private does not.
  auto empty = seal_private_value(key, chain, "private.models", "empty", {});
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(open_private_value(key, chain, "private.models", "empty", *empty).value().empty());
  EXPECT_FALSE(seal_private_value(key, chain, "models", "alpha", value).ok());
}

TEST(KeyRelease, NodeFramesRoundTripAndAreBounded) {
  ReleaseRequest req{std::string(kLedgerKeyResource), Bytes(32, 1), Bytes(300, 2), Bytes(32, 3), {}};
  std::vector<KeyFrame> frames(4);
  frames[0] = KeyFrame::make(KeyFrame::Type::kNonceAsk, 7);
  frames[1] = KeyFrame::make(KeyFrame::Type::kNonceReply, 7);
  frames[1].nonce = Bytes(32, 4);
  frames[2] = KeyFrame::make(KeyFrame::Type::kReleaseAsk, 8);
  frames[2].release = req;
  frames[3] = KeyFrame::make(KeyFrame::Type::kReleaseReply, 8);
  frames[3].error_code = "release.policy";
  frames[3].error_message = "no";
  for (const auto& f : frames) {
    Bytes b = f.encode();
    EXPECT_TRUE(is_key_frame(b));
    auto d = KeyFrame::decode(b);
    ASSERT_TRUE(d.ok()) << d.error().message;
    EXPECT_EQ(d->encode(), b);
    Bytes cut(b.begin(), b.end() - 1);
    if (f.type != KeyFrame::Type::kNonceAsk) {
      EXPECT_FALSE(KeyFrame::decode(cut).ok());
    }
    Bytes longer = b;
    longer.push_back(0);
    EXPECT_FALSE(KeyFrame::decode(longer).ok());
  }
  Bytes unknown = frames[0].encode();
  unknown[4] = 9;
  EXPECT_FALSE(KeyFrame::decode(unknown).ok());
  EXPECT_FALSE(KeyFrame::decode(Bytes(kKeyFrameBytesMax + 1, 0)).ok());
}

TEST(KeyRelease, PoliciesAreChecked) {
  EXPECT_TRUE(check_release_policy({{"alice"}, {std::string(96, 'a')}, {std::string(64, 'b')}}).ok());
  EXPECT_FALSE(check_release_policy({{"alice", "alice"}, {}, {}}).ok());
  EXPECT_FALSE(check_release_policy({{""}, {}, {}}).ok());
  EXPECT_FALSE(check_release_policy({{}, {"XYZ"}, {}}).ok());
  EXPECT_FALSE(check_release_policy({{}, {}, {std::string(62, 'b')}}).ok());
  ReleasePolicy big;
  for (size_t i = 0; i <= kReleasePolicyEntriesMax; i++) big.clients.push_back("c" + std::to_string(i));
  EXPECT_FALSE(check_release_policy(big).ok());
  // Members vote policies on their own resources, never on the network's or the marketplace's.
  EXPECT_TRUE(check_votable_resource("model:job-7").ok());
  EXPECT_FALSE(check_votable_resource("supernet:ledger").ok());
  EXPECT_FALSE(check_votable_resource("agent:" + std::string(64, 'a')).ok());
}

}  // namespace
}  // namespace supernet::keys
