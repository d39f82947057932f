#include "sim/adversary.h"

#include <algorithm>
#include <cassert>
#include <map>
#include <set>

#include "consensus/verify.h"
#include "crypto/hash.h"
#include "crypto/keys.h"
#include "ledger/merkle.h"

namespace supernet::sim {

using namespace consensus;

namespace {

// 32 bytes from the world's seeded generator: an adversary's keys replay with its seed.
Bytes seed_bytes(World& w) {
  Bytes out;
  for (int i = 0; i < 4; i++) {
    uint64_t v = w.rand(0, UINT64_MAX - 1);
    for (int b = 0; b < 8; b++) out.push_back(static_cast<uint8_t>(v >> (8 * b)));
  }
  return out;
}

// The honest node with the lowest id: the adversary's view of the chain.
const Replica* observe(World& w) {
  auto h = w.honest_up();
  return h.empty() ? nullptr : &w.replica(h.front());
}

Block make_block(const Replica& view, NodeId creator, const std::string& tx) {
  Block b;
  BlockHeader& h = b.header;
  h.height = view.next_height();
  h.parent = view.chain().empty() ? view.genesis_hash() : view.chain().back().block.header.hash();
  view.membership().fill_header(h);
  h.creator = creator;
  b.txs.push_back(to_bytes(tx));
  h.tx_count = 1;
  h.tx_root = ledger::merkle_root({ledger::leaf_hash(b.txs[0])});
  return b;
}

std::optional<QuorumCert> parent_qc(const Replica& view) {
  if (view.chain().empty()) return std::nullopt;
  return view.chain().back().commit_qc;
}

Vote signed_vote(const crypto::SecureBytes& secret, NodeId voter, uint64_t height, uint64_t round, const Hash& block) {
  Vote v;
  v.height = height;
  v.round = round;
  v.block = block;
  v.voter = voter;
  v.signature = crypto::ed25519_sign(secret, v.signed_bytes(Protocol::kTeeBft));
  return v;
}

Bytes signed_rotation(World& w, NodeId host, const Bytes& key, uint64_t nonce, Bytes evidence) {
  KeyRotation k;
  k.node = host;
  k.new_vote_key = key;
  k.nonce = nonce;
  k.evidence = std::move(evidence);
  k.signature = crypto::ed25519_sign(w.identity_secret(host), k.signed_bytes());
  return k.encode();
}

// --- A: rogue rotation ---

class RogueRotation : public Adversary {
 public:
  RogueRotation(NodeId host, TimeMs start, int variant, Bytes seed)
      : host_(host), start_(start), variant_(variant % 3), key_(crypto::ed25519_from_seed(seed)) {}
  const char* name() const override {
    static const char* kNames[] = {"rogue-rotation(no evidence)", "rogue-rotation(evidence for another key)",
                                   "rogue-rotation(evidence from a fake genesis)"};
    return kNames[variant_];
  }

  void on_message(World&, NodeId, const Message&) override {}
  std::string outcome() const override {
    if (submitted_ == 0) return "not tried";
    return "rotation submitted " + std::to_string(submitted_) + " times, " +
           (admitted_ ? "admitted; equivocated at " + std::to_string(done_.size()) + " heights" : "never admitted");
  }

  void on_tick(World& w) override {
    const Replica* view = observe(w);
    if (view == nullptr || w.now() < start_) return;
    const Validator* me = view->validators().find(host_);
    if (me == nullptr) return;
    if (me->vote_key == key_.public_key) {
      admitted_ = true;
      return exploit(w, *view);
    }
    if (w.healed() || w.now() < next_submit_) return;
    next_submit_ = w.now() + 500;  // again, in case mempools dropped it
    Bytes tx = signed_rotation(w, host_, key_.public_key, me->rotation_nonce + 1, evidence(w, *view));
    if (!said_) w.log("host " + std::to_string(host_) + ": " + name() + " to a key it holds");
    said_ = true;
    submitted_++;
    for (NodeId id : w.honest_up()) w.submit(id, tx);
  }

 private:
  Bytes evidence(World& w, const Replica& view) {
    if (variant_ == 0) return {};
    Checker other(host_, crypto::ed25519_from_seed(seed_bytes(w)));
    if (variant_ == 1) {
      // Genuine evidence, stolen from the node program's rotation to its real checker's key.
      if (!other.begin(w.genesis().encode(), w.appraiser()).ok()) return {};
      for (const auto& cb : view.chain()) (void)other.advance(cb.block, cb.commit_qc);
    } else {
      ChainGenesis fake = w.genesis();
      fake.chain_id += "-fake";
      if (!other.begin(fake.encode(), w.appraiser()).ok()) return {};
    }
    auto req = other.key_rotation(0);
    return req.ok() ? w.node_program_evidence(req->report_data) : Bytes{};
  }

  // The rotation was admitted: equivocate as leader (A to half the honest nodes, B to the rest).
  void exploit(World& w, const Replica& view) {
    uint64_t h = view.next_height(), r = view.round();
    if (r != 0 || view.validators().leader(h, r) != host_ || !done_.insert(h).second) return;
    auto honest = w.honest_up();
    w.log("host " + std::to_string(host_) + ": equivocates at height " + std::to_string(h) + " with the admitted host key");
    for (size_t i = 0; i < honest.size(); i++) {
      Proposal p;
      p.round = r;
      p.proposer = host_;
      p.block = make_block(view, host_, (i < honest.size() / 2 + honest.size() % 2 ? "byz-A-" : "byz-B-") + std::to_string(h));
      p.parent_qc = parent_qc(view);
      p.signature = crypto::ed25519_sign(key_.secret_key, p.signed_bytes());
      w.send(host_, honest[i], p);
      w.send(host_, honest[i], signed_vote(key_.secret_key, host_, h, r, p.block.header.hash()));
    }
  }

  NodeId host_;
  TimeMs start_;
  int variant_;
  crypto::Ed25519KeyPair key_;
  TimeMs next_submit_ = 0;
  bool said_ = false;
  int submitted_ = 0;
  bool admitted_ = false;
  std::set<uint64_t> done_;
};

// --- B: a checker on a fake genesis, walked with forged messages ---

class FakeGenesis : public Adversary {
 public:
  FakeGenesis(NodeId host, TimeMs start, Bytes seed) : host_(host), start_(start), seed_(std::move(seed)) {}
  const char* name() const override { return "fake-genesis"; }
  std::string outcome() const override { return outcome_; }

  void on_message(World& w, NodeId from, const Message& m) override {
    if (auto* vc = std::get_if<ViewChange>(&m); vc && vc->sender == from && stage_ == Stage::kStruck && vc->height == height_) {
      vcs_[vc->new_round].emplace(from, *vc);
    }
  }

  void on_tick(World& w) override {
    if (w.now() < start_) return;
    switch (stage_) {
      case Stage::kStart:
        return restart_on_fake_genesis(w);
      case Stage::kFollow:
        return follow(w);
      case Stage::kArmed:
        return strike(w);
      case Stage::kStruck:
        return walk(w);
      case Stage::kDone:
        return;
    }
  }

 private:
  enum class Stage { kStart, kFollow, kArmed, kStruck, kDone };

  void restart_on_fake_genesis(World& w) {
    auto honest = w.honest_up();
    size_t q = w.genesis().validator_set().quorum(Protocol::kTeeBft);  // equal weights in the simulator
    if (honest.size() + 1 != w.genesis().validators.size() || honest.size() + 1 < 2 * q - 1) {
      stage_ = Stage::kDone;  // another Byzantine node or a crashed one: the groups do not fit
      outcome_ = "not tried (the groups do not fit)";
      return;
    }
    // G1 will commit A cut off from the rest (G2), which then commits B. The fake set holds the
    // host's keys for G1, whose messages it forges to its checker; G2's stay real.
    g1_.assign(honest.begin(), honest.begin() + static_cast<long>(q - 1));
    g2_.assign(honest.begin() + static_cast<long>(q - 1), honest.end());
    w.take_over(host_);
    ChainGenesis fake = w.genesis();
    for (auto& v : fake.validators) {
      if (std::find(g1_.begin(), g1_.end(), v.id) == g1_.end()) continue;
      Bytes s = seed_;
      s[0] ^= static_cast<uint8_t>(v.id);
      fake_keys_[v.id] = crypto::ed25519_from_seed(s);
      v.vote_key = fake_keys_[v.id].public_key;
    }
    checker_ = std::make_unique<Checker>(host_, crypto::ed25519_from_seed(seed_));
    if (!checker_->begin(fake.encode(), w.appraiser()).ok()) {
      stage_ = Stage::kDone;
      return;
    }
    w.log("host " + std::to_string(host_) + ": restarts its node with a checker on a fake validator set");
    stage_ = Stage::kFollow;
  }

  // A certificate for a committed block with G1's votes forged under the fake set (G2's are
  // real): what the host feeds its checker to make it follow the real chain.
  QuorumCert forged_qc(const CommittedBlock& cb) {
    QuorumCert qc = cb.commit_qc;
    std::map<NodeId, Vote> votes;
    for (const auto& v : qc.votes) {
      if (!fake_keys_.count(v.voter)) votes[v.voter] = v;
    }
    for (auto& [id, key] : fake_keys_) votes[id] = signed_vote(key.secret_key, id, qc.height, qc.round, qc.block);
    qc.votes.clear();
    for (auto& [id, v] : votes) qc.votes.push_back(v);
    return qc;
  }

  void follow(World& w) {
    const Replica* view = observe(w);
    if (view == nullptr) return;
    while (checker_->height() <= view->chain().size()) {
      const CommittedBlock& cb = view->chain()[checker_->height() - 1];
      auto s = checker_->advance(cb.block, forged_qc(cb));
      if (!s.ok() && !checker_->advance(cb.block, cb.commit_qc).ok()) {
        w.log("host " + std::to_string(host_) + ": its checker refuses to follow the real chain: " + s.error().message);
        outcome_ = "the checker on the fake genesis refused to follow the real chain";
        stage_ = Stage::kDone;
        return;
      }
    }
    const Validator* me = view->validators().find(host_);
    if (me != nullptr && me->vote_key == checker_->public_key()) {
      stage_ = Stage::kArmed;
      return;
    }
    if (w.healed() || w.now() < next_submit_ || me == nullptr) return;
    next_submit_ = w.now() + 500;
    // The node program's own rotation: evidence over what its checker computed.
    auto req = checker_->key_rotation(0);
    if (!req.ok()) return;
    Bytes tx = signed_rotation(w, host_, checker_->public_key(), req->rotation.nonce, w.node_program_evidence(req->report_data));
    for (NodeId id : w.honest_up()) w.submit(id, tx);
    if (outcome_.empty()) outcome_ = "rotation submitted, never admitted";
  }

  void strike(World& w) {
    follow_quietly(w);
    const Replica* view = observe(w);
    auto honest = w.honest_up();
    if (view == nullptr || w.healed()) return;
    uint64_t h = view->next_height();
    const ValidatorSet& set = view->validators();
    size_t q = set.quorum(Protocol::kTeeBft);  // equal weights in the simulator
    if (set.leader(h, 0) != host_ || honest.size() + 1 != set.size()) return;
    for (NodeId id : honest) {
      if (w.replica(id).next_height() != h || w.replica(id).round() != 0) return;
    }
    if (checker_->height() != h) return;
    (void)q;
    height_ = h;
    for (NodeId a : g1_) {
      for (NodeId b : g2_) w.cut(a, b, true);
    }
    Proposal pa;
    pa.proposer = host_;
    pa.block = make_block(*view, host_, "byz-A-" + std::to_string(h));
    pa.parent_qc = parent_qc(*view);
    Vote va;
    va.height = h;
    va.block = pa.block.header.hash();
    if (!checker_->sign_proposal(pa).ok() || !checker_->sign_vote(va, &pa).ok()) return;
    for (NodeId id : g1_) {
      w.send(host_, id, pa);
      w.send(host_, id, va);
    }
    block_b_ = make_block(*view, host_, "byz-B-" + std::to_string(h));
    parent_qc_ = parent_qc(*view);
    w.log("host " + std::to_string(host_) + ": A to nodes cut off from the rest at height " + std::to_string(h));
    outcome_ = "rotation admitted; A sent";
    stage_ = Stage::kStruck;
  }

  void follow_quietly(World& w) {
    const Replica* view = observe(w);
    if (view == nullptr) return;
    while (checker_->height() <= view->chain().size()) {
      const CommittedBlock& cb = view->chain()[checker_->height() - 1];
      if (!checker_->advance(cb.block, forged_qc(cb)).ok()) return;
    }
  }

  // Signs its real view change for `round` and, the first time the round's leader is one whose
  // key it holds, walks the checker into voting B in that same round with view changes and a
  // proposal forged under the fake set (its own real view change completes the quorum).
  void view_change(World& w, uint64_t round) {
    ViewChange vc;
    vc.height = height_;
    vc.new_round = round;
    if (!checker_->sign_view_change(vc).ok()) return;
    mine_[round] = vc;
    const Replica* view = observe(w);
    if (view == nullptr) return;
    NodeId leader = view->validators().leader(height_, round);
    if (!walked_ && (leader == host_ || fake_keys_.count(leader))) {
      std::vector<ViewChange> forged;
      for (auto& [id, key] : fake_keys_) {
        ViewChange f;
        f.chain = vc.chain;
        f.epoch = vc.epoch;
        f.height = height_;
        f.new_round = round;
        f.sender = id;
        f.has_last_vote = true;
        f.last_round = round - 1;
        f.last_block = block_b_.header.hash();
        f.signature = crypto::ed25519_sign(key.secret_key, f.signed_bytes());
        forged.push_back(f);
      }
      forged.push_back(vc);
      Proposal pb;
      pb.round = round;
      pb.proposer = leader;
      pb.block = block_b_;
      pb.parent_qc = parent_qc_;
      pb.view_changes = forged;
      if (pb.proposer == host_) {
        if (!checker_->sign_proposal(pb).ok()) return;
      } else {
        pb.signature = crypto::ed25519_sign(fake_keys_.at(pb.proposer).secret_key, pb.signed_bytes());
      }
      Vote vb;
      vb.height = height_;
      vb.round = round;
      vb.block = block_b_.header.hash();
      walked_ = checker_->sign_vote(vb, &pb).ok();
      walk_round_ = round;
      if (walked_) w.log("host " + std::to_string(host_) + ": its checker voted B in round " + std::to_string(round) + " after A");
    }
    for (NodeId id : g2_) w.send(host_, id, vc);
  }

  void walk(World& w) {
    if (w.healed()) {
      stage_ = Stage::kDone;
      return;
    }
    // Rounds the rest asked for: the host joins each, so that they get there.
    for (auto& [round, by] : vcs_) {
      if (!mine_.count(round) && round > last_round_) {
        last_round_ = round;
        view_change(w, round);
      }
    }
    if (!walked_) return;
    for (NodeId id : g2_) {
      if (!w.is_up(id)) continue;
      const Replica& r = w.replica(id);
      if (r.next_height() != height_) return;
      uint64_t round = r.round();
      if (round <= walk_round_ || w.replica(id).validators().leader(height_, round) != host_ || !mine_.count(round)) continue;
      Proposal pb;
      pb.round = round;
      pb.proposer = host_;
      pb.block = block_b_;
      pb.parent_qc = parent_qc_;
      pb.view_changes.push_back(mine_[round]);
      for (auto& [sender, vc] : vcs_[round]) pb.view_changes.push_back(vc);
      Vote vb;
      vb.height = height_;
      vb.round = round;
      vb.block = block_b_.header.hash();
      if (!checker_->sign_proposal(pb).ok() || !checker_->sign_vote(vb, &pb).ok()) continue;
      for (NodeId to : g2_) {
        w.send(host_, to, pb);
        w.send(host_, to, vb);
      }
      w.log("host " + std::to_string(host_) + ": B to the rest in round " + std::to_string(round));
      outcome_ = "rotation admitted; A and B sent";
      stage_ = Stage::kDone;
      return;
    }
  }

  NodeId host_;
  TimeMs start_;
  Bytes seed_;
  Stage stage_ = Stage::kStart;
  std::map<NodeId, crypto::Ed25519KeyPair> fake_keys_;
  std::unique_ptr<Checker> checker_;
  TimeMs next_submit_ = 0;
  uint64_t height_ = 0;
  std::vector<NodeId> g1_, g2_;
  Block block_b_;
  std::optional<QuorumCert> parent_qc_;
  std::map<uint64_t, std::map<NodeId, ViewChange>> vcs_;
  std::map<uint64_t, ViewChange> mine_;
  uint64_t last_round_ = 0;
  bool walked_ = false;
  uint64_t walk_round_ = 0;
  std::string outcome_ = "not tried";
};

// --- C: bft lock amnesia ---

class LockAmnesia : public Adversary {
 public:
  explicit LockAmnesia(TimeMs start) : start_(start) {}
  const char* name() const override { return "lock-amnesia"; }
  void on_message(World&, NodeId, const Message&) override {}
  std::string outcome() const override {
    if (height_ == 0) return "not tried";
    return restarted_ == 0 ? "precommits filtered; no lone commit" : "lone commit, " + std::to_string(restarted_) + " lockers restarted";
  }

  void on_tick(World& w) override {
    if (w.now() < start_ || w.healed()) {
      if (w.healed() && stage_ == Stage::kFiltering) w.precommits_only_to(0, 0);
      return;
    }
    auto honest = w.honest_up();
    if (honest.size() < 2) return;
    switch (stage_) {
      case Stage::kWait: {
        uint64_t h = w.replica(honest.front()).next_height();
        for (NodeId id : honest) {
          if (w.replica(id).next_height() != h || w.replica(id).round() != 0) return;
        }
        height_ = h;
        lone_ = honest[w.rand(0, honest.size() - 1)];
        w.precommits_only_to(h, lone_);
        NodeId leader = w.replica(lone_).validators().leader(h, 0);
        if (w.is_up(leader)) w.submit(leader, to_bytes("amnesia-" + std::to_string(h)));
        since_ = w.now();
        stage_ = Stage::kFiltering;
        w.log("nemesis: precommits of height " + std::to_string(h) + " reach node " + std::to_string(lone_) + " only");
        return;
      }
      case Stage::kFiltering:
        if (!w.is_up(lone_)) {  // crashed by another fault: give up
          w.precommits_only_to(0, 0);
          stage_ = Stage::kDone;
        } else if (w.replica(lone_).next_height() > height_) {
          w.precommits_only_to(0, 0);
          for (NodeId id : honest) {
            if (id != lone_) w.cut(lone_, id, true);
          }
          for (NodeId id : honest) {
            if (id != lone_ && w.replica(id).next_height() == height_) queue_.push_back(id);
          }
          w.log("nemesis: node " + std::to_string(lone_) + " committed alone and is cut off; the others restart one by one");
          stage_ = Stage::kRestarting;
        } else if (w.now() - since_ > 2000) {
          w.precommits_only_to(0, 0);
          stage_ = Stage::kDone;
        }
        return;
      case Stage::kRestarting:
        if (w.now() < next_at_) return;
        if (queue_.empty()) {
          for (NodeId id : w.honest_up()) {
            if (id != lone_) w.submit(id, to_bytes("after-amnesia-" + std::to_string(height_)));
          }
          stage_ = Stage::kDone;
          return;
        }
        w.crash(queue_.front());
        w.restart(queue_.front());
        restarted_++;
        queue_.erase(queue_.begin());
        next_at_ = w.now() + static_cast<TimeMs>(w.rand(30, 200));
        return;
      case Stage::kDone:
        return;
    }
  }

 private:
  enum class Stage { kWait, kFiltering, kRestarting, kDone };
  TimeMs start_;
  Stage stage_ = Stage::kWait;
  uint64_t height_ = 0;
  NodeId lone_ = 0;
  int restarted_ = 0;
  TimeMs since_ = 0, next_at_ = 0;
  std::vector<NodeId> queue_;
};

// --- a host that drops and delays its own node's messages ---

class SlowHost : public Adversary {
 public:
  explicit SlowHost(NodeId) {}
  const char* name() const override { return "slow-host"; }
  std::string outcome() const override {
    return "dropped " + std::to_string(dropped_) + ", delayed " + std::to_string(delayed_) + " of its node's messages";
  }
  void on_tick(World&) override {}
  void on_message(World&, NodeId, const Message&) override {}
  bool own_message(World& w, NodeId, TimeMs* delay_ms) override {
    if (w.healed()) return true;
    if (w.rand(0, 99) < 20) {
      dropped_++;
      return false;
    }
    *delay_ms += static_cast<TimeMs>(w.rand(0, 400));
    delayed_++;
    return true;
  }

 private:
  uint64_t dropped_ = 0, delayed_ = 0;
};

// --- every node stops at once; the members recover ---

class TotalStop : public Adversary {
 public:
  explicit TotalStop(TimeMs at) : at_(at) {}
  const char* name() const override { return "total-stop"; }
  std::string outcome() const override { return outcome_; }
  void on_message(World&, NodeId, const Message&) override {}

  void on_tick(World& w) override {
    // The stop is a fault (before the heal); the members' recovery is not, and may come later.
    if (w.now() < at_ || stage_ == Stage::kDone || (stage_ == Stage::kWait && w.healed())) return;
    if (stage_ == Stage::kWait) {
      auto all = w.all_nodes();
      size_t f = w.genesis().protocol == Protocol::kTeeBft ? (all.size() - 1) / 2 : (all.size() - 1) / 3;
      size_t byzantine = all.size() - w.honest_up().size();
      size_t rolled = 0;
      for (NodeId id : all) {
        // Old disks count against f with the Byzantine nodes: at most f faulty in all.
        bool roll = rolled + byzantine < f && w.rand(0, 3) == 0;
        rolled += roll;
        w.restart_keeping_disk(id, roll);
      }
      w.log("nemesis: every node stopped at once and restarted (" + std::to_string(rolled) + " with old disks)");
      outcome_ = "every node restarted";
      if (w.genesis().protocol != Protocol::kTeeBft) {
        stage_ = Stage::kDone;  // bft keeps its keys
        return;
      }
      recover_at_ = w.now() + static_cast<TimeMs>(w.rand(100, 600));
      stage_ = Stage::kStopped;
      return;
    }
    if (w.now() < recover_at_) return;
    recover(w);
  }

 private:
  enum class Stage { kWait, kStopped, kDone };

  // What `supernet recover` does, with the members' keys.
  void recover(World& w) {
    auto all = w.all_nodes();
    const Replica* top = nullptr;
    for (NodeId id : all) {
      if (!w.is_up(id)) return;  // wait for every report
      if (top == nullptr || w.replica(id).next_height() > top->next_height()) top = &w.replica(id);
    }
    // As `supernet recover` does: wait until every node caught up to the base (by sync), so
    // that every rotation is made on the state the recovery builds on.
    for (NodeId id : all) {
      if (w.replica(id).next_height() + 1 < top->next_height() && w.now() < recover_at_ + 5000) return;
    }
    Recovery r;
    Replica::RecoveryRequest req;
    uint64_t tip = top->next_height() - 1;
    Hash tip_hash = top->chain().empty() ? top->genesis_hash() : top->chain().back().block.header.hash();
    if (tip >= 1) {  // one below the highest tip, which is carried (only its reporter may hold it)
      r.height = tip - 1;
      r.block = tip >= 2 ? top->chain()[tip - 2].block.header.hash() : top->genesis_hash();
      r.carried.push_back(tip_hash);
      req.carried.push_back(top->chain().back().block);
    } else {
      r.height = 0;
      r.block = tip_hash;
    }
    r.nonce = w.rand(1, 1u << 30);
    const std::pair<Vote, Block>* carried = nullptr;
    for (NodeId id : all) {
      const auto& v = w.recorded_vote(id);
      if (!v || v->first.height != tip + 1 || v->second.header.parent != tip_hash || v->second.header.hash() != v->first.block) continue;
      if (!verify_vote(top->validators(), Protocol::kTeeBft, v->first).ok()) continue;
      if (carried == nullptr || v->first.round > carried->first.round) carried = &*v;
    }
    if (carried != nullptr) {
      r.carried.push_back(carried->second.header.hash());
      req.carried.push_back(carried->second);
    }
    for (NodeId id : all) {
      const auto& rot = w.replica(id).own_rotation();
      if (!rot || w.replica(id).can_sign()) continue;
      r.rotation_ids.push_back(crypto::sha256(*rot));
      req.rotations.push_back(*rot);
    }
    req.recovery = r.encode();
    for (const auto& key : w.member_keys()) req.approvals.push_back(approve_recovery(r, w.genesis().hash(), key));
    size_t applied = 0;
    for (NodeId id : all) {
      auto s = w.recover_node(id, req);
      applied += s.ok();
      if (!s.ok()) w.log("node " + std::to_string(id) + " refuses the recovery: " + s.error().to_string());
    }
    w.log("members: recovery on height " + std::to_string(r.height) + " keeping " + std::to_string(r.carried.size()) + " block(s) with " +
          std::to_string(req.rotations.size()) + " new keys, given to " + std::to_string(applied) + " nodes");
    outcome_ = std::string("recovered on height ") + std::to_string(r.height) + " keeping " + std::to_string(r.carried.size()) +
               " block(s)" + (carried ? ", a voted one among them" : "");
    stage_ = Stage::kDone;
  }

  TimeMs at_;
  TimeMs recover_at_ = 0;
  Stage stage_ = Stage::kWait;
  std::string outcome_ = "not tried";
};

}  // namespace

std::unique_ptr<Adversary> make_total_stop(TimeMs at_ms) { return std::make_unique<TotalStop>(at_ms); }

namespace {
class LongCrash : public Adversary {
 public:
  explicit LongCrash(TimeMs at) : at_(at) {}
  const char* name() const override { return "long-crash"; }
  std::string outcome() const override { return outcome_; }
  void on_message(World&, NodeId, const Message&) override {}
  void on_tick(World& w) override {
    if (w.now() < at_ || done_) return;
    if (victim_ == 0) {
      if (w.healed()) return;  // the crash is a fault: before the heal
      auto all = w.all_nodes();
      auto up = w.honest_up();
      size_t f = w.genesis().protocol == Protocol::kTeeBft ? (all.size() - 1) / 2 : (all.size() - 1) / 3;
      if (up.empty() || all.size() - up.size() + 1 > f) return;  // wait: another fault is using the budget
      for (NodeId id : up) {
        if (!w.replica(id).can_sign()) return;  // a restarted tee-bft node is not yet recovered
      }
      victim_ = up[w.rand(0, up.size() - 1)];
      back_at_ = w.now() + 2500;
      w.log("nemesis: node " + std::to_string(victim_) + " goes down for 2.5 s");
      w.crash(victim_);
      return;
    }
    if (w.now() < back_at_) return;  // back after 2.5 s, also when the heal came meanwhile
    if (!w.is_up(victim_)) w.restart(victim_);
    outcome_ = "node " + std::to_string(victim_) + " was down for 2.5 s";
    done_ = true;
  }

 private:
  TimeMs at_;
  NodeId victim_ = 0;
  TimeMs back_at_ = 0;
  bool done_ = false;
  std::string outcome_ = "no node could go down within the fault budget";
};
}  // namespace

std::unique_ptr<Adversary> make_long_crash(TimeMs at_ms) { return std::make_unique<LongCrash>(at_ms); }

std::unique_ptr<Adversary> make_slow_host(NodeId host) { return std::make_unique<SlowHost>(host); }

std::unique_ptr<Adversary> make_rogue_rotation(NodeId host, TimeMs start_ms, int variant, Bytes seed) {
  return std::make_unique<RogueRotation>(host, start_ms, variant, std::move(seed));
}
std::unique_ptr<Adversary> make_fake_genesis(NodeId host, TimeMs start_ms, Bytes seed) {
  return std::make_unique<FakeGenesis>(host, start_ms, std::move(seed));
}
std::unique_ptr<Adversary> make_lock_amnesia(TimeMs start_ms) { return std::make_unique<LockAmnesia>(start_ms); }

}  // namespace supernet::sim
