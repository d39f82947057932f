// Regression tests for the three safety holes of the consensus review (issue 10): each drives
// the real Replica and Checker classes through the exact message sequence of the attack, with
// the test playing a Byzantine host that controls its own node's inputs and the network.
#include <gtest/gtest.h>

#include <deque>
#include <functional>
#include <set>

#include "consensus/replica.h"
#include "consensus/signer.h"
#include "consensus/verify.h"
#include "crypto/hash.h"
#include "crypto/keys.h"
#include "ledger/merkle.h"

namespace supernet::consensus {
namespace {

// Replicas over an in-memory network that the test steers: every message sent is queued, and
// `pump` delivers queued messages over the links the filter allows (others are dropped).
struct Net {
  std::map<NodeId, std::unique_ptr<Replica>> nodes;
  struct Msg {
    NodeId from, to;
    Message m;
  };
  std::deque<Msg> queue;
  TimeMs now = 0;
  // Which messages the network carries (the adversary decides).
  std::function<bool(NodeId, NodeId, const Message&)> link = [](NodeId, NodeId, const Message&) { return true; };
  std::set<NodeId> down;
  std::vector<NodeId> ids;       // every validator, the host's node included
  std::vector<Msg> host_inbox;   // what honest nodes sent to a node the test plays by hand

  void emit(NodeId from, Output& out) {
    for (auto& s : out.sends) {
      for (NodeId to : ids) {
        if (to != from && (!s.to || *s.to == to)) queue.push_back({from, to, s.message});
      }
    }
    out = Output{};
  }
  void deliver(NodeId from, NodeId to, const Message& m) {
    Output out;
    nodes.at(to)->on_message(now, from, m, out);
    emit(to, out);
  }
  void pump(int rounds_max = 100000) {
    for (int i = 0; i < rounds_max && !queue.empty(); i++) {
      Msg msg = std::move(queue.front());
      queue.pop_front();
      if (down.count(msg.to) || down.count(msg.from) || !link(msg.from, msg.to, msg.m)) continue;
      if (!nodes.count(msg.to)) {
        host_inbox.push_back(std::move(msg));
        continue;
      }
      deliver(msg.from, msg.to, msg.m);
    }
  }
  void tick(TimeMs dt, const std::set<NodeId>& who) {
    now += dt;
    for (NodeId id : who) {
      Output out;
      nodes.at(id)->on_tick(now, out);
      emit(id, out);
    }
  }
  void start(NodeId id) {
    Output out;
    nodes.at(id)->start(now, out);
    emit(id, out);
  }
  void submit(NodeId id, const std::string& tx) {
    Output out;
    nodes.at(id)->submit(to_bytes(tx), now, out);
    emit(id, out);
  }
  void submit_bytes(NodeId id, Bytes tx) {
    Output out;
    nodes.at(id)->submit(std::move(tx), now, out);
    emit(id, out);
  }
  // The hash of the block `id` committed at `height`, or empty.
  Hash committed(NodeId id, uint64_t height) const {
    const auto& c = nodes.at(id)->chain();
    return height <= c.size() ? c[height - 1].block.header.hash() : Hash{};
  }
};

Block make_block(uint64_t height, const Hash& parent, uint64_t epoch, NodeId creator, std::vector<Bytes> txs) {
  Block b;
  b.header.height = height;
  b.header.parent = parent;
  b.header.epoch = epoch;
  b.header.creator = creator;
  std::vector<Hash> leaves;
  for (auto& t : txs) leaves.push_back(ledger::leaf_hash(t));
  b.txs = std::move(txs);
  b.header.tx_count = static_cast<uint32_t>(b.txs.size());
  b.header.tx_root = ledger::merkle_root(leaves);
  return b;
}

Bytes tx(const std::string& s) { return to_bytes(s); }

// A view change `from` sent for (height, round), from what reached the host.
std::optional<ViewChange> host_got_view_change(const Net& net, NodeId from, uint64_t height, uint64_t round) {
  for (const auto& m : net.host_inbox) {
    auto* vc = std::get_if<ViewChange>(&m.m);
    if (vc && m.from == from && vc->sender == from && vc->height == height && vc->new_round == round) return *vc;
  }
  return std::nullopt;
}

// Ticks `who` until `from` has sent the host its view change for (height, round).
ViewChange tick_until_view_change(Net& net, const std::set<NodeId>& who, NodeId from, uint64_t height, uint64_t round) {
  for (int i = 0; i < 1000; i++) {
    if (auto vc = host_got_view_change(net, from, height, round)) return *vc;
    net.tick(50, who);
    net.pump();
  }
  ADD_FAILURE() << "node " << from << " never sent a view change for round " << round;
  return {};
}

Vote forge_vote(const crypto::Ed25519KeyPair& key, Protocol p, Phase phase, NodeId voter, uint64_t height, uint64_t round,
                const Hash& block) {
  Vote v;
  v.phase = phase;
  v.height = height;
  v.round = round;
  v.block = block;
  v.voter = voter;
  v.signature = crypto::ed25519_sign(key.secret_key, v.signed_bytes(p));
  return v;
}

// A. A Byzantine host rotates its node's vote key to a plain key it holds, then equivocates
// with that key as the leader of height 2: node 1 commits A, node 2 commits B.
TEST(Attack, A_RotationToAHostKeyCommitsTwoBlocks) {
  Hash genesis = crypto::sha256(as_bytes("attack-a"));
  std::vector<crypto::Ed25519KeyPair> identity;
  std::vector<std::unique_ptr<Checker>> checkers;
  std::vector<Validator> vals;
  for (NodeId id = 1; id <= 3; id++) {
    identity.push_back(crypto::ed25519_generate());
    checkers.push_back(std::make_unique<Checker>(id));
    vals.push_back({id, 1, checkers.back()->public_key(), identity.back().public_key, 0});
  }
  ValidatorSet set(vals, 0);
  Net net;
  net.ids = {1, 2, 3};
  for (NodeId id = 1; id <= 2; id++) {
    ASSERT_TRUE(checkers[id - 1]->begin(set, genesis).ok());
    ReplicaConfig rc;
    rc.self = id;
    rc.genesis = set;
    rc.genesis_hash = genesis;
    rc.identity_secret = identity[id - 1].secret_key;
    net.nodes[id] = std::make_unique<Replica>(rc, std::move(checkers[id - 1]));
    net.start(id);
  }
  // The host of node 3 signs a rotation to a key it holds, with its node's identity key.
  auto kh = crypto::ed25519_generate();
  KeyRotation k;
  k.node = 3;
  k.new_vote_key = kh.public_key;
  k.nonce = 1;
  k.signature = crypto::ed25519_sign(identity[2].secret_key, k.signed_bytes());
  net.submit_bytes(2, k.encode());  // node 2 leads height 1
  net.pump();
  ASSERT_EQ(net.nodes[1]->chain().size(), 1u);
  ASSERT_EQ(net.nodes[2]->chain().size(), 1u);
  EXPECT_EQ(net.nodes[1]->validators().find(3)->vote_key, kh.public_key);
  // Height 2, round 0: node 3 leads. A to node 1, B to node 2, each with node 3's vote.
  const CommittedBlock first = net.nodes[1]->chain()[0];
  uint64_t epoch = net.nodes[1]->validators().epoch();
  for (NodeId victim = 1; victim <= 2; victim++) {
    Proposal p;
    p.round = 0;
    p.proposer = 3;
    p.block = make_block(2, first.block.header.hash(), epoch, 3, {tx(victim == 1 ? "A" : "B")});
    p.parent_qc = first.commit_qc;
    p.signature = crypto::ed25519_sign(kh.secret_key, p.signed_bytes());
    net.deliver(3, victim, p);
    net.deliver(3, victim, forge_vote(kh, Protocol::kTeeBft, Phase::kVote, 3, 2, 0, p.block.header.hash()));
  }
  net.pump();
  Hash a = net.committed(1, 2), b = net.committed(2, 2);
  ASSERT_FALSE(a.empty());
  ASSERT_FALSE(b.empty());
  EXPECT_NE(a, b) << "today's code: two blocks at height 2";
}

// B. A Byzantine host restarts its node with a checker begun on a fake validator set (node 1's
// key replaced by a host key) and the real genesis hash. Its rotation commits; the host then
// walks the checker, with forged view changes and proposals from "node 1", into voting B in a
// later round of the height where it voted A, and commits B with node 2 alone.
TEST(Attack, B_CheckerOnAFakeSetCommitsTwoBlocks) {
  Hash genesis = crypto::sha256(as_bytes("attack-b"));
  std::vector<crypto::Ed25519KeyPair> identity;
  std::vector<std::unique_ptr<Checker>> checkers;
  std::vector<Validator> vals;
  for (NodeId id = 1; id <= 3; id++) {
    identity.push_back(crypto::ed25519_generate());
    checkers.push_back(std::make_unique<Checker>(id));
    vals.push_back({id, 1, checkers.back()->public_key(), identity.back().public_key, 0});
  }
  ValidatorSet set(vals, 0);
  Net net;
  net.ids = {1, 2, 3};
  for (NodeId id = 1; id <= 2; id++) {
    ASSERT_TRUE(checkers[id - 1]->begin(set, genesis).ok());
    ReplicaConfig rc;
    rc.self = id;
    rc.genesis = set;
    rc.genesis_hash = genesis;
    rc.identity_secret = identity[id - 1].secret_key;
    net.nodes[id] = std::make_unique<Replica>(rc, std::move(checkers[id - 1]));
    net.start(id);
  }
  // The host restarts node 3: a new checker, begun on a set where node 1's key is the host's.
  auto kf = crypto::ed25519_generate();
  std::vector<Validator> fake_vals = vals;
  fake_vals[0].vote_key = kf.public_key;
  Checker host_checker(3);
  ASSERT_TRUE(host_checker.begin(ValidatorSet(fake_vals, 0), genesis).ok());
  KeyRotation k;
  k.node = 3;
  k.new_vote_key = host_checker.public_key();
  k.nonce = 1;
  k.signature = crypto::ed25519_sign(identity[2].secret_key, k.signed_bytes());
  net.submit_bytes(2, k.encode());
  net.pump();
  ASSERT_EQ(net.nodes[1]->chain().size(), 1u);
  const CommittedBlock first = net.nodes[1]->chain()[0];
  // The checker follows the chain through a certificate with "node 1's" vote forged.
  QuorumCert qc = first.commit_qc;
  for (auto& v : qc.votes) {
    if (v.voter == 1) v = forge_vote(kf, Protocol::kTeeBft, Phase::kVote, 1, 1, qc.round, qc.block);
  }
  ASSERT_TRUE(host_checker.advance(first.block, qc).ok());
  uint64_t epoch = net.nodes[1]->validators().epoch();
  Hash parent = first.block.header.hash();
  // Height 2, round 0: node 3 leads; A goes to node 1 only, which commits it.
  Proposal pa;
  pa.proposer = 3;
  pa.block = make_block(2, parent, epoch, 3, {tx("A")});
  pa.parent_qc = first.commit_qc;
  ASSERT_TRUE(host_checker.sign_proposal(pa).ok());
  Vote va;
  va.height = 2;
  va.block = pa.block.header.hash();
  ASSERT_TRUE(host_checker.sign_vote(va, &pa).ok());
  net.deliver(3, 1, pa);
  net.deliver(3, 1, va);
  ASSERT_EQ(net.committed(1, 2), pa.block.header.hash());
  // Node 1 is cut off from here on.
  net.down.insert(1);
  net.queue.clear();
  net.submit(2, "c");  // a client write keeps node 2 busy
  // Round 1: the host's checker reports A; node 2 enters round 1 with it (node 1 leads).
  ViewChange vc3_r1;
  vc3_r1.height = 2;
  vc3_r1.new_round = 1;
  ASSERT_TRUE(host_checker.sign_view_change(vc3_r1).ok());
  tick_until_view_change(net, {2}, 2, 2, 1);
  net.deliver(3, 2, vc3_r1);
  // The walk: a forged "node 1" view change claiming a vote for B, and a forged proposal.
  Block b = make_block(2, parent, epoch, 1, {tx("B")});
  ViewChange vc1;
  vc1.height = 2;
  vc1.new_round = 1;
  vc1.sender = 1;
  vc1.has_last_vote = true;
  vc1.last_round = 0;
  vc1.last_block = b.header.hash();
  vc1.signature = crypto::ed25519_sign(kf.secret_key, vc1.signed_bytes());
  Proposal pb1;
  pb1.round = 1;
  pb1.proposer = 1;
  pb1.block = b;
  pb1.parent_qc = first.commit_qc;
  pb1.view_changes = {vc1, vc3_r1};
  pb1.signature = crypto::ed25519_sign(kf.secret_key, pb1.signed_bytes());
  Vote vb1;
  vb1.height = 2;
  vb1.round = 1;
  vb1.block = b.header.hash();
  ASSERT_TRUE(host_checker.sign_vote(vb1, &pb1).ok()) << "today's checker votes B after A at one height";
  // Rounds 2 and 3: the checker truthfully reports its vote for B; node 3 leads round 3.
  for (uint64_t r = 2; r <= 3; r++) {
    ViewChange vc3;
    vc3.height = 2;
    vc3.new_round = r;
    ASSERT_TRUE(host_checker.sign_view_change(vc3).ok());
    ViewChange vc2 = tick_until_view_change(net, {2}, 2, 2, r);
    net.deliver(3, 2, vc3);
    net.pump();
    if (r == 3) {
      Proposal pb3;
      pb3.round = 3;
      pb3.proposer = 3;
      pb3.block = b;
      pb3.parent_qc = first.commit_qc;
      pb3.view_changes = {vc2, vc3};
      ASSERT_TRUE(host_checker.sign_proposal(pb3).ok());
      Vote vb3;
      vb3.height = 2;
      vb3.round = 3;
      vb3.block = b.header.hash();
      ASSERT_TRUE(host_checker.sign_vote(vb3, &pb3).ok());
      net.deliver(3, 2, pb3);
      net.deliver(3, 2, vb3);
      net.pump();
    }
  }
  Hash at1 = net.committed(1, 2), at2 = net.committed(2, 2);
  ASSERT_FALSE(at2.empty());
  EXPECT_NE(at1, at2) << "today's code: two blocks at height 2";
}

// C. bft, n = 4, no Byzantine node: nodes 1-3 lock on B in round 0 and precommit; only node 1
// receives the precommits and commits B, and is cut off; nodes 2 and 3 restart one after the
// other with their sign state intact; round 1 commits C.
TEST(Attack, C_BftForgetsItsLockOnRestart) {
  Hash genesis = crypto::sha256(as_bytes("attack-c"));
  std::vector<crypto::Ed25519KeyPair> keys, identity;
  std::vector<std::shared_ptr<SignState>> state;
  std::vector<Validator> vals;
  for (NodeId id = 1; id <= 4; id++) {
    keys.push_back(crypto::ed25519_generate());
    identity.push_back(crypto::ed25519_generate());
    state.push_back(std::make_shared<SignState>());
    vals.push_back({id, 1, keys.back().public_key, identity.back().public_key, 0});
  }
  ValidatorSet set(vals, 0);
  Net net;
  net.ids = {1, 2, 3, 4};
  auto boot = [&](NodeId id) {
    ReplicaConfig rc;
    rc.self = id;
    rc.protocol = Protocol::kBft;
    rc.genesis = set;
    rc.genesis_hash = genesis;
    rc.identity_secret = identity[id - 1].secret_key;
    auto signer = std::make_unique<PlainSigner>(id, keys[id - 1].secret_key, keys[id - 1].public_key, state[id - 1]);
    net.nodes[id] = std::make_unique<Replica>(rc, std::move(signer));
    net.start(id);
  };
  for (NodeId id = 1; id <= 4; id++) boot(id);
  // Round 0: node 4 hears nothing; precommits reach node 1 only.
  net.link = [](NodeId from, NodeId to, const Message& m) {
    if (from == 4 || to == 4) return false;
    auto* v = std::get_if<Vote>(&m);
    return !(v && v->phase == Phase::kPrecommit && to != 1);
  };
  net.submit(2, "B");  // node 2 leads (1, 0)
  net.pump();
  ASSERT_EQ(net.nodes[1]->chain().size(), 1u);
  Hash b = net.committed(1, 1);
  EXPECT_EQ(net.nodes[2]->chain().size(), 0u);
  // Node 1 is cut off; nodes 2 and 3 restart one after the other (storage: nothing committed).
  net.down.insert(1);
  net.queue.clear();
  net.link = [](NodeId, NodeId, const Message&) { return true; };
  for (NodeId id : {2u, 3u}) {
    boot(id);
    net.pump();
  }
  net.submit(3, "C");
  for (int i = 0; i < 200 && net.nodes[2]->chain().empty(); i++) {
    net.tick(50, {2, 3, 4});
    net.pump();
  }
  ASSERT_EQ(net.nodes[2]->chain().size(), 1u);
  EXPECT_NE(net.committed(2, 1), b) << "today's code: two blocks at height 1";
}

}  // namespace
}  // namespace supernet::consensus
