// Regression tests for the three safety holes of the consensus review (issue 10): each drives
// the real Replica and Checker classes through the exact message sequence of the attack, with
// the test playing a Byzantine host that controls its own node's inputs and the network. On the
// code before the fix (commit 3de75fd) each sequence committed two blocks at one height; now
// each is refused at the step that the fix closes, and the honest nodes agree.
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
#include "sim/sim_platform.h"

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

// A block extending `parent` on the membership state `m` (what a leader fills in).
Block make_block(uint64_t height, const Hash& parent, const Membership& m, NodeId creator, std::vector<Bytes> txs) {
  Block b;
  b.header.height = height;
  b.header.parent = parent;
  m.fill_header(b.header);
  b.header.creator = creator;
  std::vector<Hash> leaves;
  for (auto& t : txs) leaves.push_back(ledger::leaf_hash(t));
  b.txs = std::move(txs);
  b.header.tx_count = static_cast<uint32_t>(b.txs.size());
  b.header.tx_root = ledger::merkle_root(leaves);
  return b;
}

// n tee-bft validators over one genesis with a simulated platform; the test runs the replicas
// of `honest` and plays the others' hosts by hand.
struct TeeCluster {
  sim::SimPlatform platform{crypto::ed25519_generate()};
  std::shared_ptr<const EvidenceAppraiser> appraiser = sim::sim_appraiser(platform.public_key());
  std::vector<crypto::Ed25519KeyPair> identity;
  std::vector<std::unique_ptr<Checker>> checkers;
  std::vector<Validator> vals;
  ChainGenesis genesis;
  Bytes genesis_bytes;
  Net net;

  std::vector<crypto::PrivateKey> members;

  TeeCluster(int n, const std::set<NodeId>& honest, int member_count = 0, uint32_t approvals = 0) {
    for (NodeId id = 1; id <= static_cast<NodeId>(n); id++) {
      identity.push_back(crypto::ed25519_generate());
      checkers.push_back(std::make_unique<Checker>(id));
      vals.push_back({id, 1, checkers.back()->public_key(), identity.back().public_key, 0});
      net.ids.push_back(id);
    }
    GovernanceRules rules;
    for (int m = 0; m < member_count; m++) {
      members.push_back(crypto::PrivateKey::generate_ec(crypto::Curve::kP256));
      rules.members.push_back({"m" + std::to_string(m + 1), crypto::sha256(members.back().public_key().spki_der())});
    }
    rules.approvals = approvals;
    genesis = genesis_for_set(Protocol::kTeeBft, ValidatorSet(vals, 0), "attack", rules, "simulated policy");
    genesis_bytes = genesis.encode();
    for (NodeId id : honest) {
      EXPECT_TRUE(checkers[id - 1]->begin(genesis_bytes, appraiser).ok());
      net.nodes[id] = std::make_unique<Replica>(config(id), std::move(checkers[id - 1]));
      net.start(id);
    }
  }
  ReplicaConfig config(NodeId id) {
    ReplicaConfig rc;
    rc.self = id;
    rc.genesis = genesis;
    rc.appraiser = appraiser;
    rc.attest = [this](ByteView rd) -> Result<Bytes> { return platform.evidence(rd); };
    rc.identity_secret = identity[id - 1].secret_key;
    return rc;
  }
  // What a host can make: its identity key's signature over a rotation with any evidence.
  Bytes rotation(NodeId id, const Bytes& key, Bytes evidence, uint64_t nonce = 1, int64_t issued_at = 0) {
    KeyRotation k;
    k.node = id;
    k.new_vote_key = key;
    k.nonce = nonce;
    k.issued_at = issued_at;
    k.evidence = std::move(evidence);
    k.signature = crypto::ed25519_sign(identity[id - 1].secret_key, k.signed_bytes());
    return k.encode();
  }
};

Bytes tx(const std::string& s) { return to_bytes(s); }

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
// with that key as the leader of height 2 (A to node 1, B to node 2). Before the fix the
// rotation committed on the identity key's signature alone and both blocks committed. Now a
// rotation needs evidence that binds the new key, made inside the TEE over what the checker
// computed: the host has none for its own key, and evidence made for another key or chain does
// not bind it.
TEST(Attack, A_RotationToAHostKeyIsRefused) {
  TeeCluster c(3, {1, 2});
  Net& net = c.net;
  auto kh = crypto::ed25519_generate();
  const Membership& m = net.nodes[1]->membership();
  // No evidence at all.
  Bytes bare = c.rotation(3, kh.public_key, {});
  auto s = m.check(bare);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("without evidence"), std::string::npos) << s.error().message;
  // Genuine evidence, but made for node 3's real checker key: it binds that key, not KH.
  Checker real(3);
  ASSERT_TRUE(real.begin(c.genesis_bytes, c.appraiser).ok());
  auto req = real.key_rotation(0);
  ASSERT_TRUE(req.ok());
  Bytes stolen = c.rotation(3, kh.public_key, c.platform.evidence(req->report_data));
  s = m.check(stolen);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("does not bind"), std::string::npos) << s.error().message;
  // The same evidence on a rotation to the key it binds, but with another nonce or time.
  EXPECT_FALSE(m.check(c.rotation(3, real.public_key(), c.platform.evidence(req->report_data), 2)).ok());
  EXPECT_FALSE(m.check(c.rotation(3, real.public_key(), c.platform.evidence(req->report_data), 1, 99)).ok());
  // The attack as before the fix: both rotations submitted to node 2, which leads height 1.
  net.submit_bytes(2, bare);
  net.submit_bytes(2, stolen);
  net.submit(2, "x");
  net.pump();
  ASSERT_EQ(net.nodes[1]->chain().size(), 1u);
  EXPECT_EQ(net.nodes[1]->chain()[0].block.txs.size(), 1u) << "only the plain write commits";
  EXPECT_EQ(net.nodes[1]->validators().find(3)->vote_key, c.vals[2].vote_key);
  // Height 2, round 0: node 3 leads; the host signs A and B with KH as before.
  const CommittedBlock first = net.nodes[1]->chain()[0];
  for (NodeId victim = 1; victim <= 2; victim++) {
    Proposal p;
    p.proposer = 3;
    p.block = make_block(2, first.block.header.hash(), net.nodes[1]->membership(), 3, {tx(victim == 1 ? "A" : "B")});
    p.parent_qc = first.commit_qc;
    p.signature = crypto::ed25519_sign(kh.secret_key, p.signed_bytes());
    net.deliver(3, victim, p);
    net.deliver(3, victim, forge_vote(kh, Protocol::kTeeBft, Phase::kVote, 3, 2, 0, p.block.header.hash()));
    EXPECT_TRUE(net.nodes[victim]->is_isolated(3)) << "a proposal under a key the set does not hold is misbehaviour";
  }
  net.pump();
  EXPECT_EQ(net.nodes[1]->chain().size(), 1u);
  EXPECT_EQ(net.nodes[2]->chain().size(), 1u);
  // The honest path still works: node 3's real checker, its rotation attested by the platform.
  Bytes honest = c.rotation(3, real.public_key(), c.platform.evidence(req->report_data));
  EXPECT_TRUE(m.check(honest).ok()) << m.check(honest).error().to_string();
}

// B. A Byzantine host restarts its node with a checker begun on a fake validator set (node 1's
// key replaced by a host key) and the real genesis hash, so that forged "node 1" messages walk
// the checker into voting B in a later round of the height where it voted A. Before the fix the
// set and the hash were two separate inputs (the sequence committed A at node 1 and B at node
// 2). Now the checker is begun with the genesis' encoding and hashes it itself: a fake set is a
// fake chain, whose rotation evidence binds the fake hash and is refused, and on which the
// checker signs nothing that extends the real chain. Given the real genesis, it refuses the
// forged certificate it would need to follow the chain.
TEST(Attack, B_CheckerOnAFakeSetIsRefused) {
  TeeCluster c(3, {1, 2});
  Net& net = c.net;
  auto kf = crypto::ed25519_generate();
  std::vector<Validator> fake_vals = c.vals;
  fake_vals[0].vote_key = kf.public_key;
  ChainGenesis fake = c.genesis;
  fake.validators[0].vote_key = kf.public_key;
  Checker host_checker(3);
  ASSERT_TRUE(host_checker.begin(fake.encode(), c.appraiser).ok());
  EXPECT_NE(host_checker.genesis_hash(), c.genesis.hash());
  // The node program attests exactly what its checker computed; it binds the fake chain.
  auto req = host_checker.key_rotation(0);
  ASSERT_TRUE(req.ok());
  Bytes rotation = c.rotation(3, host_checker.public_key(), c.platform.evidence(req->report_data));
  auto s = net.nodes[1]->membership().check(rotation);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("does not bind"), std::string::npos) << s.error().message;
  net.submit_bytes(2, rotation);
  net.submit(2, "x");
  net.pump();
  ASSERT_EQ(net.nodes[1]->chain().size(), 1u);
  EXPECT_EQ(net.nodes[1]->chain()[0].block.txs.size(), 1u) << "the rotation is left out";
  const CommittedBlock first = net.nodes[1]->chain()[0];
  // On the fake chain the checker cannot follow the real one, even with a forged certificate.
  QuorumCert qc = first.commit_qc;
  for (auto& v : qc.votes) {
    if (v.voter == 1) v = forge_vote(kf, Protocol::kTeeBft, Phase::kVote, 1, 1, qc.round, qc.block);
  }
  EXPECT_FALSE(host_checker.advance(first.block, qc).ok());
  // Begun on the real genesis, it refuses the forged certificate and so never reaches height 2.
  Checker real_genesis(3);
  ASSERT_TRUE(real_genesis.begin(c.genesis_bytes, c.appraiser).ok());
  EXPECT_FALSE(real_genesis.advance(first.block, qc).ok());
  ASSERT_TRUE(real_genesis.advance(first.block, first.commit_qc).ok());
  // ... and nothing "node 1" never signed moves it: a forged view change is refused.
  Block b = make_block(2, first.block.header.hash(), net.nodes[1]->membership(), 1, {tx("B")});
  ViewChange vc1;
  vc1.chain = c.genesis.hash();
  vc1.epoch = net.nodes[1]->validators().epoch();
  vc1.height = 2;
  vc1.new_round = 1;
  vc1.sender = 1;
  vc1.has_last_vote = true;
  vc1.last_block = b.header.hash();
  vc1.signature = crypto::ed25519_sign(kf.secret_key, vc1.signed_bytes());
  ViewChange vc3;
  vc3.height = 2;
  vc3.new_round = 1;
  ASSERT_TRUE(real_genesis.sign_view_change(vc3).ok());
  Proposal pb1;
  pb1.round = 1;
  pb1.proposer = 1;
  pb1.block = b;
  pb1.parent_qc = first.commit_qc;
  pb1.view_changes = {vc1, vc3};
  pb1.signature = crypto::ed25519_sign(kf.secret_key, pb1.signed_bytes());
  Vote vb1;
  vb1.height = 2;
  vb1.round = 1;
  vb1.block = b.header.hash();
  EXPECT_FALSE(real_genesis.sign_vote(vb1, &pb1).ok());
  EXPECT_EQ(net.committed(1, 1), net.committed(2, 1));
}

// C. bft, n = 4, no Byzantine node: nodes 1-3 lock on B in round 0 and precommit; only node 1
// receives the precommits and commits B, and is cut off; nodes 2 and 3 restart one after the
// other with their sign state intact. Before the fix the lock lived only in memory: round 1's
// view changes carried no certificate and nodes 2-4 committed C. Now the lock, its block and
// the prevote certificate are persisted with the sign state before the precommit is released,
// and a restarted node takes them up again: round 1 must re-propose B.
// The scenario of C at height `h`; with `rollback`, the restarted nodes come back with an empty
// disk (the host rolled their storage back), catch up by sync, and must take their lock up
// again when they reach height h (the simulator found that variant).
void lock_scenario(bool rollback) {
  std::vector<crypto::Ed25519KeyPair> keys, identity;
  std::vector<std::shared_ptr<SignState>> state;
  std::vector<Validator> vals;
  for (NodeId id = 1; id <= 4; id++) {
    keys.push_back(crypto::ed25519_generate());
    identity.push_back(crypto::ed25519_generate());
    state.push_back(std::make_shared<SignState>());
    vals.push_back({id, 1, keys.back().public_key, identity.back().public_key, 0});
  }
  ChainGenesis genesis = genesis_for_set(Protocol::kBft, ValidatorSet(vals, 0), "attack-c");
  Net net;
  net.ids = {1, 2, 3, 4};
  auto boot = [&](NodeId id, const std::vector<CommittedBlock>& stored) {
    ReplicaConfig rc;
    rc.self = id;
    rc.genesis = genesis;
    rc.identity_secret = identity[id - 1].secret_key;
    auto signer = std::make_unique<PlainSigner>(id, keys[id - 1].secret_key, keys[id - 1].public_key, state[id - 1]);
    net.nodes[id] = std::make_unique<Replica>(rc, std::move(signer));
    ASSERT_TRUE(net.nodes[id]->restore(stored).ok());
    net.start(id);
  };
  for (NodeId id = 1; id <= 4; id++) boot(id, {});
  uint64_t h = 1;
  if (rollback) {  // one block everyone commits first
    net.submit(2, "first");
    net.pump();
    ASSERT_EQ(net.nodes[4]->chain().size(), 1u);
    h = 2;
  }
  // Node 4 hears nothing; precommits reach node 1 only.
  net.link = [](NodeId from, NodeId to, const Message& m) {
    if (from == 4 || to == 4) return false;
    auto* v = std::get_if<Vote>(&m);
    return !(v && v->phase == Phase::kPrecommit && to != 1);
  };
  NodeId leader = net.nodes[1]->validators().leader(h, 0);
  ASSERT_NE(leader, 4u);
  net.submit(leader, "B");
  net.pump();
  ASSERT_EQ(net.nodes[1]->chain().size(), h);
  Hash b = net.committed(1, h);
  EXPECT_EQ(net.nodes[2]->chain().size(), h - 1);
  // Node 1 is cut off; nodes 2 and 3 restart one after the other.
  net.down.insert(1);
  net.queue.clear();
  net.link = [](NodeId, NodeId, const Message&) { return true; };
  for (NodeId id : {2u, 3u}) {
    ASSERT_TRUE(state[id - 1]->lock.has_value()) << "node " << id << " persisted its lock";
    boot(id, rollback ? std::vector<CommittedBlock>{} : net.nodes[id]->chain());
    net.pump();
  }
  net.submit(3, "C");
  for (int i = 0; i < 400 && net.nodes[2]->chain().size() < h; i++) {
    net.tick(50, {2, 3, 4});
    net.pump();
  }
  ASSERT_GE(net.nodes[2]->chain().size(), h);
  EXPECT_EQ(net.committed(2, h), b) << "one block at height " << h;
  EXPECT_EQ(net.committed(4, h), b);
}

TEST(Attack, C_BftKeepsItsLockAcrossRestarts) { lock_scenario(false); }
TEST(Attack, C_BftKeepsItsLockAcrossARolledBackDisk) { lock_scenario(true); }

// Issue 13: every node of a tee-bft network restarts at once, so every vote key is gone and
// nothing commits. The members recover it: the recovery builds on the highest committed block,
// admits each node's new attested checker key with the members' approvals (2 of 3 here), and
// the network goes on; a node that was behind catches up through the recovery block by sync,
// its checker verifying the approvals itself. Too few approvals, a recovery on another base, or
// a rotation it does not name are refused.
TEST(Recovery, MembersRestartATeeBftNetworkAfterATotalStop) {
  TeeCluster c(3, {1, 2, 3}, 3, 2);
  Net& net = c.net;
  for (int i = 0; i < 5; i++) {
    net.submit(1 + i % 3, "before-" + std::to_string(i));
    net.pump();
  }
  ASSERT_GE(net.nodes[1]->chain().size(), 3u);
  // Node 3 misses the last block; then every node stops.
  uint64_t tip = net.nodes[1]->chain().size();
  std::map<NodeId, std::vector<CommittedBlock>> disks;
  for (NodeId id = 1; id <= 3; id++) disks[id] = net.nodes[id]->chain();
  disks[3].pop_back();
  // All restart with new checkers: nobody can sign.
  std::map<NodeId, Checker*> checkers;
  for (NodeId id = 1; id <= 3; id++) {
    auto checker = std::make_unique<Checker>(id);
    ASSERT_TRUE(checker->begin(c.genesis_bytes, c.appraiser).ok());
    checkers[id] = checker.get();
    net.nodes[id] = std::make_unique<Replica>(c.config(id), std::move(checker));
    ASSERT_TRUE(net.nodes[id]->restore(disks[id]).ok());
    net.start(id);
  }
  net.queue.clear();
  net.submit(1, "stuck");
  for (int i = 0; i < 20; i++) {
    net.tick(100, {1, 2, 3});
    net.pump();
  }
  EXPECT_EQ(net.nodes[1]->chain().size(), tip) << "no quorum of vote keys: nothing commits";
  for (NodeId id = 1; id <= 3; id++) EXPECT_FALSE(net.nodes[id]->can_sign());
  // The members: the highest committed block is node 1's; every node's rotation, attested.
  Recovery r;
  r.height = tip;
  r.block = net.nodes[1]->chain().back().block.header.hash();
  Replica::RecoveryRequest req;
  for (NodeId id = 1; id <= 3; id++) {
    auto rot = checkers[id]->key_rotation(0).value();
    Bytes tx = c.rotation(id, rot.rotation.new_vote_key, c.platform.evidence(rot.report_data), rot.rotation.nonce);
    r.rotation_ids.push_back(crypto::sha256(tx));
    req.rotations.push_back(tx);
  }
  r.note = "total stop";
  req.recovery = r.encode();
  Hash genesis_hash = c.genesis.hash();
  req.approvals = {approve_recovery(r, genesis_hash, c.members[0])};
  Output out;
  auto one = net.nodes[1]->recover(net.now, req, out);
  ASSERT_FALSE(one.ok());
  EXPECT_NE(one.error().message.find("1 member approval(s), 2 needed"), std::string::npos) << one.error().message;
  Replica::RecoveryRequest wrong_base = req;
  Recovery other = r;
  other.block = Bytes(32, 9);
  wrong_base.recovery = other.encode();
  wrong_base.approvals = {approve_recovery(other, genesis_hash, c.members[0]), approve_recovery(other, genesis_hash, c.members[1])};
  EXPECT_FALSE(net.nodes[1]->recover(net.now, wrong_base, out).ok());
  Replica::RecoveryRequest extra = req;
  extra.approvals = {approve_recovery(r, genesis_hash, c.members[0]), approve_recovery(r, genesis_hash, c.members[2])};
  extra.rotations[2] = c.rotation(3, crypto::ed25519_generate().public_key, {}, 1);
  EXPECT_FALSE(net.nodes[1]->recover(net.now, extra, out).ok());
  // Two approvals: node 1 commits the recovery block; node 3 is behind and catches up.
  req.approvals.push_back(approve_recovery(r, genesis_hash, c.members[2]));
  ASSERT_TRUE(net.nodes[1]->recover(net.now, req, out).value());
  net.emit(1, out);
  ASSERT_TRUE(net.nodes[2]->recover(net.now, req, out).value());
  net.emit(2, out);
  {
    // A node still behind the recovery's base keeps it for later (it catches up by sync).
    auto late_checker = std::make_unique<Checker>(3);
    ASSERT_TRUE(late_checker->begin(c.genesis_bytes, c.appraiser).ok());
    Replica late(c.config(3), std::move(late_checker));
    ASSERT_TRUE(late.restore(disks[3]).ok());
    Output ignored;
    EXPECT_FALSE(late.recover(net.now, req, ignored).value());
  }
  // Node 3 is not told: it learns the recovery block from its peers by sync.
  for (int i = 0; i < 40 && !net.nodes[3]->can_sign(); i++) {
    net.tick(100, {1, 2, 3});
    net.pump();
  }
  EXPECT_TRUE(net.nodes[3]->can_sign()) << "node 3 caught up through the recovery block";
  net.submit(2, "after");
  for (int i = 0; i < 40 && net.nodes[3]->chain().size() < tip + 2; i++) {
    net.tick(100, {1, 2, 3});
    net.pump();
  }
  ASSERT_GE(net.nodes[3]->chain().size(), tip + 2);
  for (NodeId id = 1; id <= 3; id++) {
    EXPECT_TRUE(net.nodes[id]->can_sign());
    EXPECT_EQ(net.committed(id, tip + 1), net.committed(1, tip + 1));
    EXPECT_EQ(net.committed(id, tip + 2), net.committed(1, tip + 2));
  }
  // The whole chain, recovery included, verifies from the genesis alone.
  Chain replay(c.genesis, c.appraiser);
  for (const auto& cb : net.nodes[3]->chain()) ASSERT_TRUE(replay.append(cb).ok());
}

// Issue 13: the bft liveness failure the simulator found outside CI's seeds (9001856, 9002599
// on the old fault model). Nodes 2 and 3 have isolated Byzantine node 4; node 1 has not. Node 4
// gathers the round-2 view changes of 2 and 3 and, as round 2's leader, sends node 1 alone a
// proposal that carries them: node 1 enters round 2 without ever signing a round-2 view change.
// Nodes 2 and 3 stay in round 1, short of a round-2 quorum by node 1's view change, and node 1
// relayed only what it had itself collected for round 2: nothing. Every node waited forever.
TEST(Liveness, ANodeThatEnteredARoundByAProposalRelaysItsQuorum) {
  std::vector<crypto::Ed25519KeyPair> keys, identity;
  std::vector<Validator> vals;
  for (NodeId id = 1; id <= 4; id++) {
    keys.push_back(crypto::ed25519_generate());
    identity.push_back(crypto::ed25519_generate());
    vals.push_back({id, 1, keys.back().public_key, identity.back().public_key, 0});
  }
  ChainGenesis genesis = genesis_for_set(Protocol::kBft, ValidatorSet(vals, 0), "liveness");
  Net net;
  net.ids = {1, 2, 3, 4};
  for (NodeId id = 1; id <= 3; id++) {
    ReplicaConfig rc;
    rc.self = id;
    rc.genesis = genesis;
    rc.identity_secret = identity[id - 1].secret_key;
    net.nodes[id] = std::make_unique<Replica>(
        rc, std::make_unique<PlainSigner>(id, keys[id - 1].secret_key, keys[id - 1].public_key, std::make_shared<SignState>()));
    net.start(id);
  }
  // Nodes 2 and 3 isolate node 4 (it relayed a vote it did not make).
  for (NodeId id : {2u, 3u}) net.deliver(4, id, forge_vote(keys[0], Protocol::kBft, Phase::kVote, 1, 1, 0, Bytes(32, 7)));
  ASSERT_TRUE(net.nodes[2]->is_isolated(4) && net.nodes[3]->is_isolated(4));
  ASSERT_FALSE(net.nodes[1]->is_isolated(4));
  // Rounds 0 and 1 fail: proposals are lost; nothing passes between 1, 2 and 3 for now.
  net.link = [](NodeId from, NodeId to, const Message& m) { return to == 4 || (std::holds_alternative<ViewChange>(m) && from != 4); };
  net.submit(1, "x");
  net.submit(2, "y");
  net.submit(3, "z");
  auto vc_of = [&](NodeId id, uint64_t round) -> std::optional<ViewChange> {
    for (const auto& m : net.host_inbox) {
      auto* vc = std::get_if<ViewChange>(&m.m);
      if (vc && m.from == id && vc->sender == id && vc->height == 1 && vc->new_round == round) return *vc;
    }
    return std::nullopt;
  };
  auto sign_vc = [&](uint64_t round) {
    ViewChange vc;
    vc.chain = genesis.hash();
    vc.height = 1;
    vc.new_round = round;
    vc.sender = 4;
    vc.signature = crypto::ed25519_sign(keys[3].secret_key, vc.signed_bytes());
    return vc;
  };
  // Round 1 for everyone: node 4's view change completes each quorum.
  for (int i = 0; i < 100 && !(vc_of(1, 1) && vc_of(2, 1) && vc_of(3, 1)); i++) {
    net.tick(50, {1, 2, 3});
    net.pump();
  }
  for (NodeId id = 1; id <= 3; id++) {
    for (NodeId other = 1; other <= 3; other++) {
      if (other != id) net.deliver(other, id, *vc_of(other, 1));
    }
    net.deliver(4, id, sign_vc(1));
  }
  net.pump();
  for (NodeId id = 1; id <= 3; id++) ASSERT_EQ(net.nodes[id]->round(), 1u) << "node " << id;
  // Round 1 times out at 2 and 3 first, and their round-2 view changes do not reach node 1;
  // node 4 leads round 2 and sends node 1 alone a proposal justified by the view changes of 2,
  // 3 and itself.
  net.link = [](NodeId from, NodeId to, const Message& m) {
    return to == 4 || (std::holds_alternative<ViewChange>(m) && from != 1 && to != 1 && from != 4);
  };
  for (int i = 0; i < 100 && !(vc_of(2, 2) && vc_of(3, 2)); i++) {
    net.tick(50, {2, 3});
    net.pump();
  }
  ASSERT_TRUE(vc_of(2, 2) && vc_of(3, 2));
  ASSERT_EQ(net.nodes[1]->validators().leader(1, 2), 4u);
  Proposal p;
  p.round = 2;
  p.proposer = 4;
  p.block = make_block(1, genesis.hash(), net.nodes[1]->membership(), 4, {tx("from-4")});
  p.view_changes = {*vc_of(2, 2), *vc_of(3, 2), sign_vc(2)};
  p.signature = crypto::ed25519_sign(keys[3].secret_key, p.signed_bytes());
  net.deliver(4, 1, p);
  ASSERT_EQ(net.nodes[1]->round(), 2u);
  // Node 4 falls silent; the network between 1, 2 and 3 heals. The honest three must commit.
  net.down.insert(4);
  net.queue.clear();
  net.link = [](NodeId, NodeId, const Message&) { return true; };
  for (int i = 0; i < 600 && net.nodes[2]->chain().empty(); i++) {
    net.tick(50, {1, 2, 3});
    net.pump();
  }
  EXPECT_FALSE(net.nodes[2]->chain().empty()) << "nodes 2 and 3 never left round " << net.nodes[2]->round() << ", node 1 is in round "
                                              << net.nodes[1]->round();
  EXPECT_EQ(net.committed(1, 1), net.committed(2, 1));
}

}  // namespace
}  // namespace supernet::consensus
