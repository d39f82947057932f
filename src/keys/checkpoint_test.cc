// Checkpoint signing driven as the ledger drives it: every node's messages are ordered into one
// sequence of blocks that every live node reads, with seeded faults: a host that drops
// submissions (the node resubmits until its message is on the ledger), nodes that crash (for
// good, or restarted: a fresh signer that replays the ledger and holds no nonces), and a
// Byzantine share holder (bad shares, a second commitment, abandon votes at will). Checked
// every run: every live honest node holds the same checkpoints, each verifies as Ed25519 under
// the group key, and checkpoints keep coming while t honest share holders are up.
#include "keys/checkpoint.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <random>

#include "crypto/hash.h"
#include "crypto/keys.h"
#include "util/codec.h"

namespace supernet::keys {
namespace {

struct Faults {
  double drop = 0;
  std::map<uint16_t, int> crash_at;    // node -> step it goes down
  std::map<uint16_t, int> restart_at;  // node -> step it comes back (with no nonces)
  uint16_t byzantine = 0;
};

Bytes block_hash_of(uint64_t h) {
  Writer w;
  w.str("block").u64(h);
  return crypto::sha256(w.data());
}

struct Harness {
  uint16_t n, t;
  CheckpointConfig config;
  std::vector<frost::KeyShare> shares;
  std::map<uint16_t, std::unique_ptr<CheckpointSigner>> nodes;
  std::set<uint16_t> down;
  struct Entry {
    uint16_t sender;
    Bytes message;
    uint64_t block;
  };
  std::vector<Entry> ledger;
  uint64_t height = 1;  // committed blocks so far
  std::map<uint16_t, std::vector<Bytes>> unconfirmed;
  std::map<uint16_t, uint64_t> seen_attempt, seen_at;  // node -> attempt id and the step it first saw it

  Harness(uint16_t n_, uint16_t t_, uint64_t seed) : n(n_), t(t_) {
    std::mt19937_64 rng(seed);
    auto rand_scalar = [&] {
      Bytes wide(64);
      for (auto& b : wide) b = static_cast<uint8_t>(rng());
      return frost::hash_to_scalar("test", {wide});
    };
    std::vector<crypto::SecureBytes> coefficients;
    for (uint16_t i = 1; i < t; i++) coefficients.push_back(rand_scalar());
    shares = frost::split(rand_scalar(), coefficients, n).value();
    config.chain = crypto::sha256(as_bytes(std::string_view("chain")));
    config.threshold = t;
    config.group_public_key = shares[0].group_public_key;
    for (const auto& s : shares) config.public_shares[s.identifier] = s.public_share;
    for (uint16_t i = 1; i <= n; i++) nodes[i] = make(i);
  }

  std::unique_ptr<CheckpointSigner> make(uint16_t id) {
    frost::KeyShare s;
    s.identifier = shares[id - 1].identifier;
    s.secret = crypto::SecureBytes(shares[id - 1].secret.view());
    s.public_share = shares[id - 1].public_share;
    s.group_public_key = shares[id - 1].group_public_key;
    return std::make_unique<CheckpointSigner>(config, std::move(s));
  }

  CheckpointSigner::BlockHash hashes() {
    return [this](uint64_t h) -> std::optional<Bytes> {
      if (h == 0 || h > height) return std::nullopt;
      return block_hash_of(h);
    };
  }

  void restart(uint16_t id) {
    nodes[id] = make(id);
    unconfirmed[id].clear();
    seen_attempt.erase(id);
    for (const auto& e : ledger) nodes[id]->on_ledger(e.sender, decode_checkpoint_message(e.message).value(), e.block, hashes());
  }

  // One block: what the live nodes submit (some dropped by the host), in a shuffled order.
  void step(int s, std::mt19937_64& rng, const Faults& f, int stall_steps) {
    std::bernoulli_distribution drop(f.drop);
    std::vector<Entry> batch;
    for (auto& [id, node] : nodes) {
      if (down.contains(id)) continue;
      std::vector<CheckpointMessage> out;
      if (id == f.byzantine) {
        // Whatever it likes: fresh commitments every block, a bad share, abandon votes.
        auto c = frost::commit(shares[id - 1]).value();
        out.push_back(CheckpointCommit{height, c.second.hiding, c.second.binding});
        if (const auto& a = node->attempt()) {
          out.push_back(CheckpointShare{a->height, a->opened_at, to_bytes(frost::identifier_scalar(static_cast<uint16_t>(rng() % 1000 + 1)).view())});
          if (rng() % 2) out.push_back(CheckpointAbandon{a->height, a->opened_at});
        }
        node->poll(std::nullopt);  // it follows the ledger like any node
      } else {
        out = node->poll(height);
        if (const auto& a = node->attempt()) {
          if (seen_attempt[id] != a->opened_at) {
            seen_attempt[id] = a->opened_at;
            seen_at[id] = static_cast<uint64_t>(s);
          } else if (s - static_cast<int>(seen_at[id]) >= stall_steps) {
            if (auto v = node->abandon()) out.push_back(*v);
          }
        }
      }
      auto& mine = unconfirmed[id];
      for (const auto& m : out) {
        // A new commitment supersedes this node's earlier submissions.
        if (std::holds_alternative<CheckpointCommit>(m) && id != f.byzantine) mine.clear();
        mine.push_back(encode_checkpoint_message(m));
      }
      for (const auto& m : mine) {
        if (!drop(rng)) batch.push_back(Entry{id, m, height + 1});
      }
    }
    std::shuffle(batch.begin(), batch.end(), rng);
    height++;
    for (const auto& e : batch) {
      auto& mine = unconfirmed[e.sender];
      mine.erase(std::remove(mine.begin(), mine.end(), e.message), mine.end());
      ledger.push_back(e);
      auto m = decode_checkpoint_message(e.message).value();
      for (auto& [id, node] : nodes) {
        if (!down.contains(id)) node->on_ledger(e.sender, m, e.block, hashes());
      }
    }
  }
};

struct Outcome {
  size_t checkpoints = 0;
  uint64_t abandoned = 0;
};

Outcome run(uint16_t n, uint16_t t, uint64_t seed, const Faults& f, int steps) {
  std::mt19937_64 rng(seed * 7919 + 1);
  Harness h(n, t, seed);
  for (int s = 0; s < steps; s++) {
    for (const auto& [id, at] : f.crash_at) {
      if (s == at) h.down.insert(id);
    }
    for (const auto& [id, at] : f.restart_at) {
      if (s == at && h.down.erase(id)) h.restart(id);
    }
    h.step(s, rng, f, 6);
  }
  // Every live honest node holds the same checkpoints, and each verifies under the group key.
  const std::map<uint64_t, ledger::Checkpoint>* reference = nullptr;
  Outcome o;
  for (const auto& [id, node] : h.nodes) {
    if (h.down.contains(id) || id == f.byzantine) continue;
    if (reference == nullptr) {
      reference = &node->checkpoints();
      o.abandoned = node->abandoned();
    }
    EXPECT_EQ(node->checkpoints().size(), reference->size()) << "node " << id << " seed " << seed;
    for (const auto& [height, cp] : node->checkpoints()) {
      auto other = reference->find(height);
      EXPECT_TRUE(other != reference->end() && other->second.encode() == cp.encode()) << "node " << id << " height " << height << " seed " << seed;
      EXPECT_TRUE(cp.verify(h.config.group_public_key).ok()) << "seed " << seed;
      EXPECT_TRUE(crypto::ed25519_verify(h.config.group_public_key, ledger::Checkpoint::message(cp.chain, cp.height, cp.block_hash), cp.signature));
      EXPECT_EQ(cp.block_hash, block_hash_of(height));
    }
  }
  if (reference) o.checkpoints = reference->size();
  return o;
}

TEST(Checkpoint, HonestSharesHoldersSignCheckpointsThatVerifyAsEd25519) {
  Outcome o = run(3, 2, 1, Faults{}, 30);
  EXPECT_GE(o.checkpoints, 5u);
  EXPECT_EQ(o.abandoned, 0u);
  o = run(7, 4, 2, Faults{}, 30);
  EXPECT_GE(o.checkpoints, 5u);
}

// A resharing mid-run (the key's new shares, same group key): every node rekeys at the same point
// of the ledger, the checkpoints made before stay, and new ones are signed by the new shares.
TEST(Checkpoint, ARekeyedSignerKeepsItsCheckpointsAndSignsWithTheNewShares) {
  std::mt19937_64 rng(99);
  Harness h(3, 2, 99);
  for (int s = 0; s < 15; s++) h.step(s, rng, Faults{}, 6);
  size_t before = h.nodes.at(1)->checkpoints().size();
  ASSERT_GE(before, 2u);
  // The same secret, from two old shares, on a new polynomial of a larger threshold.
  std::vector<uint16_t> ids{1, 2};
  crypto::SecureBytes secret(frost::kScalarBytes);
  for (uint16_t id : ids) {
    secret = frost::scalar_add(secret, frost::scalar_mul(frost::lagrange_at_zero(id, ids).value(), h.shares[id - 1].secret));
  }
  auto fresh = frost::split(secret, {frost::hash_to_scalar("c1", {}), frost::hash_to_scalar("c2", {})}, 3).value();
  ASSERT_EQ(fresh[0].group_public_key, h.config.group_public_key);
  h.shares = fresh;
  h.t = 3;
  h.config.threshold = 3;
  for (const auto& s : fresh) h.config.public_shares[s.identifier] = s.public_share;
  for (auto& [id, node] : h.nodes) {
    const auto& s = fresh[id - 1];
    node->rekey(h.config, frost::KeyShare{s.identifier, crypto::SecureBytes(s.secret.view()), s.public_share, s.group_public_key});
  }
  for (int s = 15; s < 40; s++) h.step(s, rng, Faults{}, 6);
  for (const auto& [id, node] : h.nodes) {
    EXPECT_GT(node->checkpoints().size(), before + 1) << "node " << id << " signed nothing after the rekey";
    EXPECT_EQ(node->checkpoints().size(), h.nodes.at(1)->checkpoints().size());
    for (const auto& [height, cp] : node->checkpoints()) EXPECT_TRUE(cp.verify(h.config.group_public_key).ok()) << height;
  }
}

TEST(Checkpoint, AChosenSignerThatCrashesIsPassedOverAfterTheAbandonVote) {
  // Node 1 goes down at once: whenever it was chosen before that, the attempt stalls until
  // the others vote it away; afterwards the two others sign alone.
  for (int at : {1, 2, 3}) {
    Faults f;
    f.crash_at[1] = at;
    Outcome o = run(3, 2, 10 + at, f, 60);
    EXPECT_GE(o.checkpoints, 3u) << "crash at " << at;
  }
}

TEST(Checkpoint, ARestartedSignerHoldsNoNoncesAndTheOthersGoOn) {
  Faults f;
  f.crash_at[2] = 2;
  f.restart_at[2] = 3;
  Outcome o = run(3, 3, 20, f, 80);  // t = 3: every node must sign, so the restarted one must come back in
  EXPECT_GE(o.checkpoints, 3u);
}

TEST(Checkpoint, AByzantineShareHolderCannotForgeOrSplitAndOnlyDelays) {
  Faults f;
  f.byzantine = 3;
  Outcome o = run(4, 2, 30, f, 80);
  EXPECT_GE(o.checkpoints, 3u);
}

TEST(Checkpoint, AShareThatDoesNotVerifyIsIgnoredAndAMessageOfAStrangerToo) {
  Harness h(3, 2, 40);
  auto& a = *h.nodes[1];
  auto c1 = frost::commit(h.shares[0]).value();
  auto c2 = frost::commit(h.shares[1]).value();
  h.height = 5;
  EXPECT_FALSE(a.on_ledger(9, CheckpointCommit{4, c1.second.hiding, c1.second.binding}, 6, h.hashes()));  // not a share holder
  EXPECT_FALSE(a.on_ledger(1, CheckpointCommit{6, c1.second.hiding, c1.second.binding}, 6, h.hashes()));  // not below its block
  EXPECT_TRUE(a.on_ledger(1, CheckpointCommit{4, c1.second.hiding, c1.second.binding}, 6, h.hashes()));
  EXPECT_FALSE(a.on_ledger(1, CheckpointCommit{4, c2.second.hiding, c2.second.binding}, 6, h.hashes()));  // a second one
  EXPECT_TRUE(a.on_ledger(2, CheckpointCommit{4, c2.second.hiding, c2.second.binding}, 6, h.hashes()));
  ASSERT_TRUE(a.attempt() && a.attempt()->chosen());
  Bytes msg = ledger::Checkpoint::message(h.config.chain, 4, block_hash_of(4));
  std::vector<frost::Commitment> list{c1.second, c2.second};
  Bytes s1 = frost::sign(h.shares[0], c1.first, list, msg).value();
  Bytes wrong = frost::sign(h.shares[1], c2.first, list, ledger::Checkpoint::message(h.config.chain, 3, block_hash_of(3))).value();
  EXPECT_FALSE(a.on_ledger(2, CheckpointShare{4, 6, wrong}, 7, h.hashes()));  // signs another block
  EXPECT_FALSE(a.on_ledger(1, CheckpointShare{4, 5, s1}, 7, h.hashes()));     // another attempt
  EXPECT_TRUE(a.on_ledger(1, CheckpointShare{4, 6, s1}, 7, h.hashes()));
  EXPECT_TRUE(a.checkpoints().empty());
  EXPECT_FALSE(a.latest());
  // Node 1's own poll: it did not make these commitments, so it signs nothing.
  EXPECT_TRUE(a.poll(5).empty());
}

TEST(Checkpoint, MessagesDecodeOnlyInTheirOneEncoding) {
  auto c = frost::commit(frost::split(frost::identifier_scalar(5), {frost::identifier_scalar(3)}, 2).value()[0]).value();
  CheckpointMessage m = CheckpointCommit{7, c.second.hiding, c.second.binding};
  Bytes e = encode_checkpoint_message(m);
  EXPECT_EQ(encode_checkpoint_message(decode_checkpoint_message(e).value()), e);
  Bytes longer = e;
  longer.push_back(0);
  EXPECT_FALSE(decode_checkpoint_message(longer).ok());
  Bytes identity = e;  // the identity point is no commitment
  std::fill(identity.begin() + 9, identity.begin() + 41, 0);
  identity[9] = 1;
  EXPECT_FALSE(decode_checkpoint_message(identity).ok());
  Bytes high(1 + 8 + 8 + 32, 0xFF);
  high[0] = 2;
  EXPECT_FALSE(decode_checkpoint_message(high).ok());  // a share scalar above the group order
  EXPECT_FALSE(decode_checkpoint_message(Bytes{9}).ok());
  auto id = crypto::ed25519_generate();
  Bytes tx = make_checkpoint_tx(as_bytes(std::string_view("s")), 4, m, id.secret_key);
  auto t = CheckpointTx::decode(tx).value();
  EXPECT_EQ(t.node, 4u);
  EXPECT_TRUE(crypto::ed25519_verify(id.public_key, CheckpointTx::signed_bytes(as_bytes(std::string_view("s")), 4, t.message), t.signature));
  tx.push_back(1);
  EXPECT_FALSE(CheckpointTx::decode(tx).ok());
}

// Seeded random faults: drops, a crash (for good or restarted), a Byzantine share holder.
// SUPERNET_CHECKPOINT_SEEDS=N runs more, SUPERNET_CHECKPOINT_SEED_BASE=B starts elsewhere.
TEST(Checkpoint, SeededFaultsNeverSplitHonestNodesAndCheckpointsKeepComing) {
  const char* env = std::getenv("SUPERNET_CHECKPOINT_SEEDS");
  const char* base_env = std::getenv("SUPERNET_CHECKPOINT_SEED_BASE");
  uint64_t seeds = env ? std::strtoull(env, nullptr, 10) : 10, base = base_env ? std::strtoull(base_env, nullptr, 10) : 5000;
  for (uint64_t s = base; s < base + seeds; s++) {
    std::mt19937_64 rng(s);
    uint16_t n = static_cast<uint16_t>(3 + rng() % 5);
    uint16_t f_count = static_cast<uint16_t>((n - 1) / 2);
    uint16_t t = static_cast<uint16_t>(f_count + 1);
    Faults f;
    f.drop = (rng() % 4) * 0.15;
    std::set<uint16_t> faulty;
    if (rng() % 2) {
      uint16_t id = static_cast<uint16_t>(1 + rng() % n);
      faulty.insert(id);
      f.crash_at[id] = static_cast<int>(rng() % 20);
      if (rng() % 2) f.restart_at[id] = f.crash_at[id] + 1 + static_cast<int>(rng() % 20);
    }
    if (rng() % 2 && faulty.size() < f_count) {
      uint16_t id = static_cast<uint16_t>(1 + rng() % n);
      if (!faulty.contains(id)) f.byzantine = id;
    }
    Outcome o = run(n, t, s, f, 150);
    // At most f faulty of n = 2f + 1: t = f + 1 honest share holders stay up.
    EXPECT_GE(o.checkpoints, 3u) << "seed " << s << " n " << n << " drop " << f.drop;
  }
}

}  // namespace
}  // namespace supernet::keys
