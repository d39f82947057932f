#include <gtest/gtest.h>

#include <deque>

#include "consensus/replica.h"
#include "consensus/signer.h"
#include "consensus/verify.h"
#include "crypto/hash.h"
#include "crypto/keys.h"
#include "ledger/merkle.h"
#include "sim/sim_platform.h"

namespace supernet::consensus {
namespace {

// Three tee-bft checkers over one genesis, with a simulated platform.
struct Cluster {
  std::vector<std::unique_ptr<Checker>> checkers;
  std::vector<crypto::Ed25519KeyPair> identities;
  ValidatorSet set;
  sim::SimPlatform platform{crypto::ed25519_generate()};
  std::shared_ptr<const EvidenceAppraiser> appraiser = sim::sim_appraiser(platform.public_key());
  ChainGenesis chain;
  Bytes genesis_bytes;
  Hash genesis;
  Membership state;  // at the genesis

  explicit Cluster(int n) {
    std::vector<Validator> vals;
    for (int i = 0; i < n; i++) {
      NodeId id = static_cast<NodeId>(i + 1);
      checkers.push_back(std::make_unique<Checker>(id));
      identities.push_back(crypto::ed25519_generate());
      vals.push_back({id, 1, checkers.back()->public_key(), identities.back().public_key, 0});
    }
    set = ValidatorSet(vals, 0);
    chain = genesis_for_set(Protocol::kTeeBft, set, "test", {}, "simulated policy");
    genesis_bytes = chain.encode();
    genesis = chain.hash();
    state = Membership(chain, appraiser);
    for (auto& c : checkers) EXPECT_TRUE(c->begin(genesis_bytes, appraiser).ok());
  }

  Block block(uint64_t height, const Hash& parent, std::vector<std::string> txs) {
    Block b;
    b.header.height = height;
    b.header.parent = parent;
    state.fill_header(b.header);
    std::vector<Hash> leaves;
    for (auto& t : txs) {
      b.txs.push_back(to_bytes(t));
      leaves.push_back(ledger::leaf_hash(b.txs.back()));
    }
    b.header.tx_count = static_cast<uint32_t>(txs.size());
    b.header.tx_root = ledger::merkle_root(leaves);
    return b;
  }

  Proposal propose(const Block& b, uint64_t round) {
    Proposal p;
    p.round = round;
    p.proposer = set.leader(b.header.height, round);
    p.block = b;
    return p;
  }
};

TEST(Codec, EveryMessageRoundTrips) {
  Cluster c(3);
  Proposal p = c.propose(c.block(1, c.genesis, {"a", "b"}), 0);
  ASSERT_TRUE(c.checkers[p.proposer - 1]->sign_proposal(p).ok());
  Vote v;
  v.height = 1;
  v.block = p.block.header.hash();
  ASSERT_TRUE(c.checkers[0]->sign_vote(v, &p).ok());
  ViewChange vc;
  vc.height = 1;
  vc.new_round = 1;
  ASSERT_TRUE(c.checkers[0]->sign_view_change(vc).ok());
  for (const Message& m : std::vector<Message>{p, v, vc, SyncRequest{4}, Transactions{{to_bytes(std::string("t"))}}}) {
    Bytes enc = encode_message(m);
    auto dec = decode_message(enc);
    ASSERT_TRUE(dec.ok()) << message_name(m) << ": " << dec.error().to_string();
    EXPECT_EQ(encode_message(*dec), enc) << message_name(m);
    // Every strict prefix is refused, never read past its end.
    for (size_t cut = 0; cut < enc.size(); cut += 7) EXPECT_FALSE(decode_message(ByteView(enc).subspan(0, cut)).ok());
  }
  EXPECT_FALSE(decode_message(Bytes{99}).ok());
}

TEST(Checker, SignsOnlyWhatTheProtocolAllows) {
  Cluster c(3);
  Block a = c.block(1, c.genesis, {"a"});
  Block b = c.block(1, c.genesis, {"b"});
  Proposal pa = c.propose(a, 0);
  Proposal pb = c.propose(b, 0);
  Checker& leader = *c.checkers[pa.proposer - 1];
  ASSERT_TRUE(leader.sign_proposal(pa).ok());
  // One proposal per round: the leader's checker will not sign a second block.
  EXPECT_FALSE(leader.sign_proposal(pb).ok());
  // A non-leader's checker will not propose.
  Checker& other = *c.checkers[pa.proposer % 3];
  Proposal not_mine = c.propose(b, 0);
  not_mine.proposer = static_cast<NodeId>(pa.proposer % 3 + 1);
  EXPECT_FALSE(other.sign_proposal(not_mine).ok());
  // One vote per round, and never for an unsigned proposal.
  Vote v;
  v.height = 1;
  v.block = a.header.hash();
  ASSERT_TRUE(other.sign_vote(v, &pa).ok());
  Vote again = v;
  EXPECT_FALSE(other.sign_vote(again, &pa).ok());
  Vote forged;
  forged.height = 1;
  forged.block = b.header.hash();
  pb.signature = Bytes(64, 1);
  EXPECT_FALSE(c.checkers[2]->sign_vote(forged, &pb).ok());
  // A block that does not extend the committed chain is refused.
  Proposal off = c.propose(c.block(1, crypto::sha256(as_bytes("elsewhere")), {"x"}), 0);
  Vote v2;
  v2.height = 1;
  v2.block = off.block.header.hash();
  EXPECT_FALSE(c.checkers[2]->sign_vote(v2, &off).ok());
}

TEST(Checker, ViewChangeReportsTheLastVoteAndRoundTwoMustKeepIt) {
  Cluster c(3);
  Block a = c.block(1, c.genesis, {"a"});
  Proposal pa = c.propose(a, 0);
  ASSERT_TRUE(c.checkers[pa.proposer - 1]->sign_proposal(pa).ok());
  Vote v;
  v.height = 1;
  v.block = a.header.hash();
  ASSERT_TRUE(c.checkers[0]->sign_vote(v, &pa).ok());
  std::vector<ViewChange> vcs;
  for (auto& ch : c.checkers) {
    ViewChange vc;
    vc.height = 1;
    vc.new_round = 1;
    ASSERT_TRUE(ch->sign_view_change(vc).ok());
    vcs.push_back(vc);
  }
  EXPECT_TRUE(vcs[0].has_last_vote);
  EXPECT_EQ(vcs[0].last_block, a.header.hash());
  // After its view change the checker refuses to vote in round 0 again.
  Vote late;
  late.height = 1;
  late.block = a.header.hash();
  EXPECT_FALSE(c.checkers[1]->sign_vote(late, &pa).ok());
  // The round-1 leader must re-propose the voted block when the quorum includes that vote.
  std::vector<ViewChange> quorum{vcs[0], vcs[1]};
  auto j = verify_view_change_quorum(c.set, Protocol::kTeeBft, c.genesis, 1, 1, quorum);
  ASSERT_TRUE(j.ok());
  EXPECT_EQ(*j->required_block, a.header.hash());
  Proposal fresh = c.propose(c.block(1, c.genesis, {"other"}), 1);
  fresh.view_changes = quorum;
  EXPECT_FALSE(c.checkers[fresh.proposer - 1]->sign_proposal(fresh).ok());
  Proposal keep = c.propose(a, 1);
  keep.view_changes = quorum;
  EXPECT_TRUE(c.checkers[keep.proposer - 1]->sign_proposal(keep).ok());
  // Below quorum the justification is refused.
  EXPECT_FALSE(verify_view_change_quorum(c.set, Protocol::kTeeBft, c.genesis, 1, 1, {vcs[0]}).ok());
}

TEST(Checker, FollowsOnlyCertifiedBlocksAndAppliesRotations) {
  Cluster c(3);
  // Node 1 restarted: its new checker's rotation, attested, signed by its identity key.
  Checker fresh(1);
  ASSERT_TRUE(fresh.begin(c.genesis_bytes, c.appraiser).ok());
  auto req = fresh.key_rotation(1700000000);
  ASSERT_TRUE(req.ok());
  KeyRotation k = req->rotation;
  k.evidence = c.platform.evidence(req->report_data);
  k.signature = crypto::ed25519_sign(c.identities[0].secret_key, k.signed_bytes());
  Block b = c.block(1, c.genesis, {});
  b.txs.push_back(k.encode());
  b.header.tx_count = 1;
  b.header.tx_root = ledger::merkle_root({ledger::leaf_hash(b.txs[0])});
  Proposal p = c.propose(b, 0);
  ASSERT_TRUE(c.checkers[p.proposer - 1]->sign_proposal(p).ok());
  QuorumCert qc;
  qc.height = 1;
  qc.block = b.header.hash();
  for (int i = 0; i < 2; i++) {
    Vote v;
    v.height = 1;
    v.block = qc.block;
    ASSERT_TRUE(c.checkers[i]->sign_vote(v, &p).ok());
    qc.votes.push_back(v);
  }
  Checker& follower = *c.checkers[2];
  QuorumCert short_qc = qc;
  short_qc.votes.pop_back();
  EXPECT_FALSE(follower.advance(b, short_qc).ok());
  ASSERT_TRUE(follower.advance(b, qc).ok());
  EXPECT_EQ(follower.height(), 2u);
  EXPECT_EQ(follower.validator_set().find(1)->vote_key, fresh.public_key());
  EXPECT_EQ(follower.validator_set().epoch(), 1u);
  // The same rotation again is a replay.
  EXPECT_FALSE(verify_key_rotation(follower.validator_set(), k).ok());
}


// Three replicas over an in-memory network: every message they send, encoded, must fit one
// peer frame (1 MiB) even when the mempool holds many of the largest transactions, and a node
// that was away catches up through byte-bounded sync responses.
TEST(Replica, LargeTransactionsFitPeerFrames) {
  Cluster c(3);
  std::vector<std::unique_ptr<Replica>> rs;
  for (int i = 0; i < 3; i++) {
    ReplicaConfig rc;
    rc.self = static_cast<NodeId>(i + 1);
    rc.genesis = c.chain;
    rc.appraiser = c.appraiser;
    rc.identity_secret = c.identities[static_cast<size_t>(i)].secret_key;
    rs.push_back(std::make_unique<Replica>(rc, std::move(c.checkers[static_cast<size_t>(i)])));
  }
  struct Msg {
    NodeId from, to;
    Message m;
  };
  std::deque<Msg> net;
  size_t largest = 0;
  bool node3_away = true;
  auto emit = [&](NodeId from, Output& out) {
    for (auto& snd : out.sends) {
      largest = std::max(largest, encode_message(snd.message).size());
      for (NodeId to = 1; to <= 3; to++) {
        if (to != from && (!snd.to || *snd.to == to)) net.push_back({from, to, snd.message});
      }
    }
    out = Output{};
  };
  TimeMs now = 0;
  auto run = [&](int ticks) {
    for (int t = 0; t < ticks; t++) {
      now += 10;
      for (auto& r : rs) {
        Output out;
        r->on_tick(now, out);
        emit(r->self(), out);
      }
      while (!net.empty()) {
        Msg msg = std::move(net.front());
        net.pop_front();
        if (node3_away && (msg.to == 3 || msg.from == 3)) continue;
        Output out;
        rs[msg.to - 1]->on_message(now, msg.from, msg.m, out);
        emit(msg.to, out);
      }
    }
  };
  for (auto& r : rs) {
    Output out;
    r->start(now, out);
    emit(r->self(), out);
  }
  // 40 transactions of 60 KiB: 2.4 MB, more than two frames' worth.
  for (int i = 0; i < 40; i++) {
    Bytes tx(60 * 1024, static_cast<uint8_t>(i));
    Output out;
    ASSERT_TRUE(rs[static_cast<size_t>(i % 2)]->submit(tx, now, out));
    emit(rs[static_cast<size_t>(i % 2)]->self(), out);
  }
  run(300);
  size_t committed = 0;
  for (const auto& cb : rs[0]->chain()) {
    size_t bytes = 0;
    for (const auto& tx : cb.block.txs) bytes += tx.size();
    EXPECT_LE(bytes, kBlockTxBytesMax);
    committed += cb.block.txs.size();
  }
  EXPECT_EQ(committed, 40u);
  EXPECT_GE(rs[0]->chain().size(), 4u);  // 12 transactions per block at most
  // Node 3 comes back and catches up by sync, in bounded responses.
  node3_away = false;
  run(300);
  EXPECT_EQ(rs[2]->chain().size(), rs[0]->chain().size());
  EXPECT_LE(largest, size_t{1024 * 1024});
}

}  // namespace
}  // namespace supernet::consensus

namespace supernet::consensus {
namespace {

TEST(PlainSigner, KeepsTheBlocksItPrevotedEarlierAtAHeightBounded) {
  auto key = crypto::ed25519_from_seed(Bytes(32, 7));
  auto state = std::make_shared<SignState>();
  PlainSigner signer(1, key.secret_key, key.public_key, state);
  auto block = [](const std::string& tx) {
    Block b;
    b.header.height = 5;
    b.txs = {to_bytes(tx)};
    b.header.tx_root = crypto::sha256(as_bytes(tx));  // distinct headers
    b.header.parent = b.header.chain = b.header.validators = b.header.changes = Bytes(kHashBytes, 0);
    return b;
  };
  // Prevotes in rounds 0..6 for seven different blocks, then one for the round-0 block again.
  std::vector<Block> blocks;
  for (int r = 0; r < 7; r++) blocks.push_back(block("b" + std::to_string(r)));
  for (int r = 0; r < 7; r++) {
    Proposal p;
    p.block = blocks[r];
    Vote v;
    v.phase = Phase::kVote;
    v.height = 5;
    v.round = static_cast<uint64_t>(r);
    v.block = blocks[r].header.hash();
    ASSERT_TRUE(signer.sign_vote(v, &p).ok()) << r;
  }
  ASSERT_TRUE(state->prevoted);
  EXPECT_EQ(state->prevoted->header.hash(), blocks[6].header.hash());
  ASSERT_EQ(state->earlier_prevotes.size(), kSignStateEarlierMax);
  EXPECT_EQ(state->earlier_prevotes.front().header.hash(), blocks[2].header.hash());  // the oldest went first
  // It round-trips, and a v2 state (before this field) still reads.
  auto back = SignState::decode(state->encode());
  ASSERT_TRUE(back.ok()) << back.error().to_string();
  EXPECT_EQ(back->encode(), state->encode());
  Writer w;
  w.str("supernet-sign-state-v2").u64(5).u64(0).u8(1).u8(0).u8(0).u8(0);
  auto v2 = SignState::decode(w.take());
  ASSERT_TRUE(v2.ok()) << v2.error().to_string();
  EXPECT_TRUE(v2->earlier_prevotes.empty());
  // A count over the bound is refused, not read.
  SignState big = *state;
  big.earlier_prevotes.push_back(blocks[0]);
  EXPECT_FALSE(SignState::decode(big.encode()).ok());
  // The next height starts afresh.
  Proposal p;
  p.block = block("next");
  p.block.header.height = 6;
  Vote v;
  v.phase = Phase::kVote;
  v.height = 6;
  v.block = p.block.header.hash();
  ASSERT_TRUE(signer.sign_vote(v, &p).ok());
  EXPECT_TRUE(state->earlier_prevotes.empty());
}

}  // namespace
}  // namespace supernet::consensus
