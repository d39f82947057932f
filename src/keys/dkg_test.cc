// The DKG driven as the ledger drives it: every node's messages are ordered into one sequence
// that every live node reads, with seeded faults: a host that drops submissions (the node
// resubmits until its message is on the ledger), nodes that crash and stay down, and Byzantine
// participants (a bad share, a bad proof of knowledge, equivocation, a false complaint, a
// complaint with a bad proof). Every honest node must end with the same outcome, no honest node
// excluded, and the key must sign.
#include <gtest/gtest.h>

#include <cstdlib>
#include <random>

#include "crypto/keys.h"
#include "keys/dkg.h"
#include "keys/frost.h"

namespace supernet::keys {
namespace {

enum class Byzantine { kNone, kBadShare, kBadProof, kEquivocate, kFalseComplaint, kBadComplaintProof };

struct Faults {
  double drop = 0;                    // chance that the host drops a submission
  std::map<uint16_t, int> crash_at;   // node -> step at which it stops for good
  uint16_t byzantine = 0;
  Byzantine kind = Byzantine::kNone;
};

struct DkgRun {
  std::map<uint16_t, Dkg> nodes;
  std::set<uint16_t> crashed;
  uint64_t height = 0;
};

Bytes bump_scalar(const Bytes& s) { return to_bytes(frost::scalar_add(crypto::SecureBytes(s), frost::identifier_scalar(1)).view()); }

// Drives the nodes' runs over one ordered sequence, with the faults.
DkgRun drive(DkgRun r, std::mt19937_64& rng, const Faults& f);

DkgRun run_dkg(uint16_t n, uint16_t t, uint64_t seed, const Faults& f) {
  std::mt19937_64 rng(seed);
  DkgConfig config;
  config.session = to_bytes("test-session-" + std::to_string(seed));
  for (uint16_t i = 1; i <= n; i++) config.participants.push_back(i);
  config.threshold = t;
  config.window = 40;  // blocks; a host that drops 45% of submissions misses one by 0.45^40
  DkgRun r;
  for (uint16_t i = 1; i <= n; i++) {
    Bytes s(32);
    for (auto& b : s) b = static_cast<uint8_t>(rng());
    r.nodes.emplace(i, Dkg::create(config, i, s).value());
  }
  return drive(std::move(r), rng, f);
}

DkgRun drive(DkgRun r, std::mt19937_64& rng, const Faults& f) {
  std::map<uint16_t, std::vector<Bytes>> unordered;  // each node's submissions not yet on the ledger
  std::bernoulli_distribution drop(f.drop);
  for (int step = 0; step < 400; step++) {
    for (const auto& [id, at] : f.crash_at) {
      if (step >= at) r.crashed.insert(id);
    }
    std::vector<std::pair<uint16_t, Bytes>> batch;
    for (auto& [id, node] : r.nodes) {
      if (r.crashed.contains(id)) continue;
      for (auto& m : node.outbox()) {
        if (id == f.byzantine) {
          if (f.kind == Byzantine::kBadShare) {
            if (auto* b = std::get_if<DkgRound2>(&m)) {
              uint16_t victim = b->shares.rbegin()->first == id ? b->shares.begin()->first : b->shares.rbegin()->first;
              b->shares[victim] = bump_scalar(b->shares[victim]);
            }
          } else if (f.kind == Byzantine::kBadProof) {
            if (auto* a = std::get_if<DkgRound1>(&m)) a->proof_z = bump_scalar(a->proof_z);
          } else if (f.kind == Byzantine::kEquivocate) {
            if (auto* a = std::get_if<DkgRound1>(&m)) {
              DkgRound1 other = *a;
              // Another encryption key: a valid message, but a second one.
              other.encryption_key = other.proof_r;
              unordered[id].push_back(encode_dkg(other));
            }
          } else if (f.kind == Byzantine::kBadComplaintProof) {
            if (auto* c = std::get_if<DkgComplaint>(&m)) c->proof_z = bump_scalar(c->proof_z);
          }
        }
        unordered[id].push_back(encode_dkg(m));
      }
      for (const auto& bytes : unordered[id]) {
        if (!drop(rng)) batch.emplace_back(id, bytes);
      }
    }
    // One block per step, holding the step's submissions in a random order.
    std::shuffle(batch.begin(), batch.end(), rng);
    r.height++;
    for (auto& [id, node] : r.nodes) {
      if (!r.crashed.contains(id)) node.on_height(r.height);
    }
    for (const auto& [sender, bytes] : batch) {
      auto& mine = unordered[sender];
      mine.erase(std::remove(mine.begin(), mine.end(), bytes), mine.end());
      auto m = decode_dkg(bytes);
      EXPECT_TRUE(m.ok()) << m.error().to_string();
      for (auto& [id, node] : r.nodes) {
        if (r.crashed.contains(id)) continue;
        DkgMessage seen = *m;
        // The false complainer is shown a wrong share by its own host, so it complains in good faith.
        if (id == f.byzantine && (f.kind == Byzantine::kFalseComplaint || f.kind == Byzantine::kBadComplaintProof)) {
          if (auto* b = std::get_if<DkgRound2>(&seen); b && b->dealer != id && b->shares.contains(id)) b->shares[id] = bump_scalar(b->shares[id]);
        }
        (void)node.on_ledger(sender, seen, r.height);
      }
    }
    bool all_done = true;
    for (auto& [id, node] : r.nodes) all_done &= r.crashed.contains(id) || node.done();
    if (all_done) break;
  }
  return r;
}

// `signers` (t of them) sign with FROST, and the signature verifies as Ed25519 under the key.
void expect_signs(const std::vector<const frost::KeyShare*>& signers, const frost::Element& group_key, const std::string& what) {
  Bytes message = to_bytes("checkpoint");
  std::vector<frost::Commitment> commitments;
  std::vector<frost::Nonces> nonces;
  for (const auto* k : signers) {
    auto c = frost::commit(*k).value();
    nonces.push_back(std::move(c.first));
    commitments.push_back(c.second);
  }
  std::vector<Bytes> shares;
  std::vector<frost::Element> publics;
  for (size_t i = 0; i < signers.size(); i++) {
    shares.push_back(frost::sign(*signers[i], nonces[i], commitments, message).value());
    publics.push_back(signers[i]->public_share);
  }
  auto sig = frost::aggregate(commitments, message, group_key, shares, publics);
  ASSERT_TRUE(sig.ok()) << what;
  Bytes pk(group_key.begin(), group_key.end());
  EXPECT_TRUE(crypto::ed25519_verify(pk, message, *sig)) << what;
}

// Checks the run's invariants; returns the outcome every honest live node agrees on.
std::optional<DkgOutcome> check(const DkgRun& r, uint16_t t, const Faults& f, const std::string& what) {
  std::optional<DkgOutcome> agreed;
  std::optional<std::string> failure;
  bool first = true;
  for (const auto& [id, node] : r.nodes) {
    if (r.crashed.contains(id) || id == f.byzantine) continue;
    EXPECT_TRUE(node.done()) << what << ": node " << id << " did not finish";
    if (first) {
      agreed = node.outcome();
      failure = node.failure();
      first = false;
      continue;
    }
    EXPECT_EQ(node.failure(), failure) << what;
    EXPECT_EQ(node.outcome().has_value(), agreed.has_value()) << what;
    if (!node.outcome() || !agreed) continue;
    EXPECT_EQ(node.outcome()->group_public_key, agreed->group_public_key) << what << ": node " << id;
    EXPECT_EQ(node.outcome()->qualified, agreed->qualified) << what;
    EXPECT_EQ(node.outcome()->excluded, agreed->excluded) << what;
    EXPECT_EQ(node.outcome()->public_shares, agreed->public_shares) << what;
  }
  if (!agreed) {
    // Only when too few could qualify: fewer than t honest nodes that stayed up.
    size_t honest_up = 0;
    for (const auto& [id, node] : r.nodes) honest_up += !r.crashed.contains(id) && id != f.byzantine;
    EXPECT_LT(honest_up, t) << what << ": no key although " << honest_up << " honest nodes stayed up: " << failure.value_or("");
    return agreed;
  }
  for (const auto& [id, why] : agreed->excluded) {
    bool expected = r.crashed.contains(id) || id == f.byzantine;
    EXPECT_TRUE(expected) << what << ": honest node " << id << " excluded: " << why;
  }
  // t honest live shares sign, and every share matches its public share.
  std::vector<const frost::KeyShare*> signers;
  for (const auto& [id, node] : r.nodes) {
    if (r.crashed.contains(id) || id == f.byzantine) continue;
    EXPECT_TRUE(node.outcome()->share.has_value()) << what << ": honest node " << id << " has no share";
    if (!node.outcome()->share) continue;
    const auto& k = *node.outcome()->share;
    EXPECT_EQ(frost::base_times(k.secret).value(), agreed->public_shares.at(id)) << what;
    if (signers.size() < t) signers.push_back(&k);
  }
  if (signers.size() == t) expect_signs(signers, agreed->group_public_key, what);
  return agreed;
}

TEST(Dkg, HonestRunGivesOneKeyThatSigns) {
  Faults none;
  DkgRun r = run_dkg(4, 2, 1, none);
  auto o = check(r, 2, none, "honest");
  ASSERT_TRUE(o.has_value());
  EXPECT_EQ(o->qualified, (std::vector<uint16_t>{1, 2, 3, 4}));
  EXPECT_TRUE(o->excluded.empty());
}

TEST(Dkg, EachByzantineBehaviourExcludesItsAuthorAlone) {
  struct Case {
    Byzantine kind;
    const char* why;
  };
  for (const Case& c : {Case{Byzantine::kBadShare, "does not match its commitments"}, Case{Byzantine::kBadProof, "proof of knowledge"},
                        Case{Byzantine::kEquivocate, "two different round 1"}, Case{Byzantine::kFalseComplaint, "a false complaint"},
                        Case{Byzantine::kBadComplaintProof, "whose proof does not verify"}}) {
    Faults f;
    f.byzantine = 2;
    f.kind = c.kind;
    // A complaint needs a wrong share: node 2's host shows it one (for both complaint cases).
    DkgRun r = run_dkg(4, 2, 7, f);
    auto o = check(r, 2, f, c.why);
    ASSERT_TRUE(o.has_value()) << c.why;
    ASSERT_TRUE(o->excluded.contains(2)) << c.why;
    EXPECT_NE(o->excluded.at(2).find(c.why), std::string::npos) << o->excluded.at(2);
    EXPECT_EQ(o->excluded.size(), 1u) << c.why;
    EXPECT_EQ(std::count(o->qualified.begin(), o->qualified.end(), 2), 0);
  }
}

// Resharing from an honest 2-of-3 key to `to` with threshold `t_new`: every live honest recipient
// ends with a share of the same key, and t_new of them sign under it. `wrong_constant`: that old
// holder deals another secret than its share (with a valid proof of knowledge of it).
struct Reshared {
  DkgRun run;
  DkgOutcome before;
};
Reshared reshare(const std::vector<uint16_t>& to, uint16_t t_new, uint64_t seed, const Faults& f, uint16_t wrong_constant = 0) {
  DkgRun first = run_dkg(3, 2, seed, Faults{});
  Reshared out{{}, *first.nodes.at(1).outcome()};
  std::mt19937_64 rng(seed ^ 0x5eed);
  DkgConfig config;
  config.session = to_bytes("reshare-" + std::to_string(seed));
  config.threshold = t_new;
  config.window = 40;
  config.old_public_shares = out.before.public_shares;
  config.old_threshold = 2;
  config.old_group_key = out.before.group_public_key;
  config.recipients = to;
  std::set<uint16_t> all(to.begin(), to.end());
  for (const auto& [id, s] : config.old_public_shares) all.insert(id);
  config.participants.assign(all.begin(), all.end());
  for (uint16_t id : config.participants) {
    Bytes s(32);
    for (auto& b : s) b = static_cast<uint8_t>(rng());
    std::optional<frost::KeyShare> old;
    if (first.nodes.contains(id)) old = first.nodes.at(id).outcome()->share;
    DkgConfig mine = config;
    if (id == wrong_constant) {
      // Its own view of its old share is another secret: it deals that one.
      old->secret = frost::hash_to_scalar("test/other", {s});
      old->public_share = frost::base_times(old->secret).value();
      mine.old_public_shares[id] = old->public_share;
    }
    auto d = Dkg::create(mine, id, s, old);
    EXPECT_TRUE(d.ok()) << d.error().message;
    out.run.nodes.emplace(id, std::move(d).value());
  }
  out.run = drive(std::move(out.run), rng, f);
  return out;
}

void check_reshare(const Reshared& r, const std::vector<uint16_t>& to, uint16_t t_new, const Faults& f, uint16_t bad,
                   const std::string& what) {
  std::optional<DkgOutcome> agreed;
  std::vector<const frost::KeyShare*> signers;
  for (const auto& [id, node] : r.run.nodes) {
    if (r.run.crashed.contains(id) || id == bad || id == f.byzantine) continue;
    ASSERT_TRUE(node.done()) << what << ": node " << id;
    ASSERT_TRUE(node.outcome().has_value()) << what << ": node " << id << ": " << node.failure().value_or("");
    const auto& o = *node.outcome();
    EXPECT_EQ(o.group_public_key, r.before.group_public_key) << what << ": the key changed";
    if (agreed) {
      EXPECT_EQ(o.public_shares, agreed->public_shares) << what;
      EXPECT_EQ(o.excluded, agreed->excluded) << what;
    } else {
      agreed = o;
    }
    bool receives = std::find(to.begin(), to.end(), id) != to.end();
    EXPECT_EQ(o.share.has_value(), receives) << what << ": node " << id;
    if (!o.share) continue;
    EXPECT_EQ(frost::base_times(o.share->secret).value(), o.public_shares.at(id)) << what;
    EXPECT_EQ(o.share->group_public_key, r.before.group_public_key) << what;
    if (signers.size() < t_new) signers.push_back(&*o.share);
  }
  ASSERT_TRUE(agreed.has_value()) << what;
  for (const auto& [id, why] : agreed->excluded) {
    EXPECT_TRUE(r.run.crashed.contains(id) || id == bad || id == f.byzantine) << what << ": honest node " << id << " excluded: " << why;
  }
  ASSERT_EQ(signers.size(), t_new) << what;
  expect_signs(signers, r.before.group_public_key, what);
}

TEST(Dkg, ResharingKeepsTheKeyForANewSetAndExcludesADealerOfAnotherSecret) {
  // A fourth validator joins: 2 of {1,2,3} -> 2 of {1,2,3,4}.
  std::vector<uint16_t> grow{1, 2, 3, 4};
  check_reshare(reshare(grow, 2, 11, Faults{}), grow, 2, Faults{}, 0, "grow");
  // Validator 1 leaves and 4 and 5 join, with a larger threshold: 2 of {1,2,3} -> 3 of {2,3,4,5}.
  std::vector<uint16_t> turn{2, 3, 4, 5};
  auto r = reshare(turn, 3, 12, Faults{});
  check_reshare(r, turn, 3, Faults{}, 0, "turnover");
  EXPECT_FALSE(r.run.nodes.at(1).outcome()->share.has_value());  // the leaver holds nothing new
  // An old holder that deals another secret than its share is excluded; the others carry on.
  auto w = reshare(grow, 2, 13, Faults{}, 3);
  check_reshare(w, grow, 2, Faults{}, 3, "wrong constant");
  const auto& ex = w.run.nodes.at(1).outcome()->excluded;
  ASSERT_TRUE(ex.contains(3));
  EXPECT_NE(ex.at(3).find("constant term is not its share"), std::string::npos) << ex.at(3);
  // Too few old holders: two of three crash before round 1, so the key cannot be reshared.
  Faults crash;
  crash.crash_at = {{1, 0}, {2, 0}};
  auto dead = reshare(grow, 2, 14, crash);
  ASSERT_TRUE(dead.run.nodes.at(4).done());
  EXPECT_FALSE(dead.run.nodes.at(4).outcome().has_value());
  EXPECT_NE(dead.run.nodes.at(4).failure().value_or("").find("old holders"), std::string::npos) << dead.run.nodes.at(4).failure().value_or("");
  // A config that does not fit is refused: a participant that neither deals nor receives, a
  // recipient outside the participants, an old share that is not this node's.
  DkgConfig bad;
  bad.session = to_bytes("x");
  bad.participants = {1, 2, 9};
  bad.threshold = 2;
  bad.old_public_shares = {{1, frost::base_times(frost::identifier_scalar(1)).value()}, {2, frost::base_times(frost::identifier_scalar(2)).value()}};
  bad.old_threshold = 2;
  bad.recipients = {1, 2};
  EXPECT_EQ(Dkg::create(bad, 0).error().code, "dkg.config");
  bad.participants = {1, 2};
  bad.recipients = {1, 2, 3};
  EXPECT_EQ(Dkg::create(bad, 0).error().code, "dkg.config");
  bad.recipients = {1, 2};
  frost::KeyShare wrong{1, frost::identifier_scalar(5), {}, {}};
  EXPECT_EQ(Dkg::create(bad, 1, {}, wrong).error().code, "dkg.config");
}

// Seeded drops, a crashed old holder and a Byzantine recipient or dealer, over many seeds.
TEST(Dkg, ResharingUnderSeededFaults) {
  const char* env = std::getenv("SUPERNET_DKG_SEEDS");
  const char* base_env = std::getenv("SUPERNET_DKG_SEED_BASE");
  uint64_t seeds = env ? std::strtoull(env, nullptr, 10) : 20;
  uint64_t base = base_env ? std::strtoull(base_env, nullptr, 10) : 500;
  std::vector<uint16_t> to{1, 2, 3, 4, 5};
  for (uint64_t seed = base; seed < base + seeds; seed++) {
    std::mt19937_64 rng(seed);
    Faults f;
    f.drop = 0.3;
    uint16_t mode = static_cast<uint16_t>(seed % 4);
    if (mode == 1) f.crash_at = {{static_cast<uint16_t>(1 + rng() % 3), static_cast<int>(rng() % 6)}};
    if (mode == 2) {
      f.byzantine = 5;  // a new member: a false complaint or a bad complaint proof
      f.kind = rng() % 2 ? Byzantine::kFalseComplaint : Byzantine::kBadComplaintProof;
    }
    if (mode == 3) {
      f.byzantine = static_cast<uint16_t>(1 + rng() % 3);  // an old holder dealing a bad share
      f.kind = Byzantine::kBadShare;
    }
    auto r = reshare(to, 3, seed, f);
    check_reshare(r, to, 3, f, 0, "seed " + std::to_string(seed));
    if (::testing::Test::HasFatalFailure()) return;
  }
}

TEST(Dkg, MessagesDecodeOnceAndRefuseMalformedBytes) {
  Faults none;
  DkgConfig config{to_bytes("s"), {1, 2, 3}, 2, 0, 4, {}, 0, {}, {}};
  auto d = Dkg::create(config, 1, Bytes(32, 9));
  ASSERT_TRUE(d.ok());
  auto out = d->outbox();
  ASSERT_EQ(out.size(), 1u);
  Bytes enc = encode_dkg(out[0]);
  ASSERT_TRUE(decode_dkg(enc).ok());
  EXPECT_EQ(encode_dkg(decode_dkg(enc).value()), enc);
  for (size_t i = 0; i < enc.size(); i++) EXPECT_FALSE(decode_dkg(ByteView(enc.data(), i)).ok()) << i;
  Bytes trailing = enc;
  trailing.push_back(0);
  EXPECT_FALSE(decode_dkg(trailing).ok());
  Bytes bad_point = enc;
  bad_point[4 + 1 + 4 + 4] ^= 0x80;  // the first commitment's sign bit: another point, or none
  auto b = decode_dkg(bad_point);
  if (b.ok()) {
    EXPECT_NE(encode_dkg(*b), enc);
  }
  EXPECT_FALSE(decode_dkg(encode_dkg(DkgAck{0})).ok());
  // Configuration errors are named.
  EXPECT_EQ(Dkg::create(DkgConfig{to_bytes("s"), {2, 1}, 1, 0, 4, {}, 0, {}, {}}, 1).error().code, "dkg.config");
  EXPECT_EQ(Dkg::create(DkgConfig{to_bytes("s"), {1, 2}, 3, 0, 4, {}, 0, {}, {}}, 1).error().code, "dkg.config");
  EXPECT_EQ(Dkg::create(DkgConfig{to_bytes("s"), {1, 2}, 1, 0, 4, {}, 0, {}, {}}, 5).error().code, "dkg.config");
  // A message attributed to another sender is ignored.
  auto other = Dkg::create(config, 2, Bytes(32, 8)).value();
  EXPECT_EQ(other.on_ledger(3, out[0], 1).error().code, "dkg.sender");
}

// Seeded random faults: drops, crashes, one Byzantine participant of a random kind.
// SUPERNET_DKG_SEEDS=N runs more, SUPERNET_DKG_SEED_BASE=B starts elsewhere.
TEST(Dkg, SeededFaultsNeverSplitHonestNodes) {
  const char* env = std::getenv("SUPERNET_DKG_SEEDS");
  const char* base_env = std::getenv("SUPERNET_DKG_SEED_BASE");
  uint64_t seeds = env ? std::strtoull(env, nullptr, 10) : 60, base = base_env ? std::strtoull(base_env, nullptr, 10) : 1000;
  int keys = 0, failures = 0;
  for (uint64_t s = base; s < base + seeds; s++) {
    std::mt19937_64 rng(s);
    uint16_t n = static_cast<uint16_t>(3 + rng() % 5), t = static_cast<uint16_t>(1 + rng() % n);
    Faults f;
    f.drop = (rng() % 4) * 0.15;
    if (rng() % 2) f.crash_at[static_cast<uint16_t>(1 + rng() % n)] = static_cast<int>(rng() % 12);
    if (rng() % 2) {
      f.byzantine = static_cast<uint16_t>(1 + rng() % n);
      f.kind = static_cast<Byzantine>(1 + rng() % 5);
      f.crash_at.erase(f.byzantine);
    }
    DkgRun r = run_dkg(n, t, s, f);
    auto o = check(r, t, f, "seed " + std::to_string(s));
    if (o) keys++;
    else failures++;
    if (::testing::Test::HasFailure()) {
      ADD_FAILURE() << "seed " << s << " (n " << n << ", t " << t << ")";
      return;
    }
  }
  std::printf("dkg: %d runs made a key, %d ended without one (too few qualified), none split\n", keys, failures);
  EXPECT_GT(keys, 0);
}

}  // namespace
}  // namespace supernet::keys
