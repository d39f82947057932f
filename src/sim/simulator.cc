#include "sim/simulator.h"

#include <cassert>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <queue>
#include <random>
#include <set>

#include "consensus/failure_detector.h"
#include "consensus/replica.h"
#include "consensus/signer.h"
#include "crypto/hash.h"
#include "crypto/keys.h"
#include "keys/dkg.h"
#include "sim/adversary.h"
#include "sim/sim_platform.h"

namespace supernet::sim {

using namespace consensus;

namespace {

// kHost: a Byzantine host running the real node program; its attacks are an Adversary's.
enum class Byz { kNone, kSilent, kEquivocate, kReplay, kForge, kHost };
const char* byz_name(Byz b) {
  static const char* kNames[] = {"honest", "silent", "equivocating", "replaying", "forging", "host"};
  return kNames[static_cast<int>(b)];
}

struct Node {
  NodeId id = 0;
  Byz byz = Byz::kNone;
  bool up = true;
  std::unique_ptr<Replica> replica;
  std::vector<CommittedBlock> disk;
  std::optional<std::pair<Vote, Block>> voted;  // tee-bft: the vote record on its disk
  std::shared_ptr<SignState> sign_state;
  crypto::Ed25519KeyPair identity;
  crypto::Ed25519KeyPair bft_key;
  std::vector<Bytes> seen;  // messages it received, for replay
  // The node program's failure detector over its links (new at every start), and since when
  // the node is down (for the detector's completeness check).
  FailureDetector fd;
  TimeMs up_since = 0;
  std::optional<TimeMs> down_since;
  bool down_checked = false;
  // The DKG (cfg.dkg): its seed survives restarts (sealed), its state is rebuilt from the disk.
  Bytes dkg_seed;
  std::optional<keys::Dkg> dkg;
  std::map<Bytes, Bytes> dkg_unconfirmed;  // own message encodings (session || message) not yet committed -> tx
  std::set<Bytes> dkg_committed;           // own message encodings (session || message) on its chain
  // Then a proactive refresh: the key reshared to the same set, from the block the DKG ended in.
  std::optional<keys::Dkg> reshare;
  bool ever_down = false;
};

enum class Kind { kDeliver, kTick, kSubmit, kCrash, kRestart, kPartition, kHeal, kHeartbeat };

struct Event {
  TimeMs at = 0;
  uint64_t seq = 0;
  Kind kind = Kind::kTick;
  NodeId from = 0, to = 0;
  Bytes payload;
  uint64_t mask = 0;
  bool operator>(const Event& o) const { return std::tie(at, seq) > std::tie(o.at, o.seq); }
};

class Simulation : public World {
 public:
  // Heartbeats draw their delays from a generator of their own, so that the failure detector
  // leaves every seed's consensus schedule as it was.
  explicit Simulation(const SimConfig& cfg) : cfg_(cfg), rng_(cfg.seed), hb_rng_(cfg.seed ^ 0x5eedbea7ULL) {}

  SimResult run() {
    setup();
    while (!events_.empty()) {
      Event e = events_.top();
      events_.pop();
      if (e.at > cfg_.end_ms) break;
      now_ = e.at;
      dispatch(e);
      if (!result_.ok) return result_;
    }
    check_end();
    return result_;
  }

 private:
  // --- World: what an adversary may do and see ---
  TimeMs now() const override { return now_; }
  uint64_t rand(uint64_t lo, uint64_t hi) override { return std::uniform_int_distribution<uint64_t>(lo, hi)(rng_); }
  void log(const std::string& s) override {
    if (cfg_.verbose) std::printf("[%6lld ms] %s\n", static_cast<long long>(now_), s.c_str());
  }
  bool healed() const override { return now_ >= cfg_.heal_at_ms; }
  const ChainGenesis& genesis() const override { return chain_genesis_; }
  const std::shared_ptr<const EvidenceAppraiser>& appraiser() const override { return appraiser_; }
  Bytes node_program_evidence(ByteView report_data) override { return platform_->evidence(report_data); }
  const crypto::SecureBytes& identity_secret(NodeId host) const override { return nodes_[host - 1]->identity.secret_key; }
  std::vector<NodeId> honest_up() const override {
    std::vector<NodeId> out;
    for (const auto& n : nodes_) {
      if (n->byz == Byz::kNone && n->up) out.push_back(n->id);
    }
    return out;
  }
  const Replica& replica(NodeId id) const override {
    assert(nodes_[id - 1]->replica);  // adversaries look only at nodes that are up
    return *nodes_[id - 1]->replica;
  }
  void send(NodeId from, NodeId to, const Message& m) override {
    if (to != from) send_bytes(from, to, encode_message(m));
  }
  void cut(NodeId a, NodeId b, bool c) override {
    if (c) {
      cuts_.insert({std::min(a, b), std::max(a, b)});
    } else {
      cuts_.erase({std::min(a, b), std::max(a, b)});
    }
  }
  void precommits_only_to(uint64_t height, NodeId to) override { precommit_filter_ = {height, to}; }
  void submit(NodeId to, Bytes tx) override {
    Node& n = node(to);
    if (!n.up || !n.replica) return;
    Output out;
    n.replica->submit(std::move(tx), now_, out);
    emit(n, out);
  }
  void take_over(NodeId host) override {
    Node& n = node(host);
    went_down(n);
    taken_over_.insert(host);
    log("host " + std::to_string(host) + " takes its node over");
  }
  void crash(NodeId id) override {
    log("crash node " + std::to_string(id));
    went_down(node(id));
  }
  void restart(NodeId id) override { restart_node(node(id)); }
  std::vector<NodeId> all_nodes() const override {
    std::vector<NodeId> out;
    for (const auto& n : nodes_) {
      if (!taken_over_.count(n->id)) out.push_back(n->id);
    }
    return out;
  }
  void restart_keeping_disk(NodeId id, bool roll_back) override {
    crash(id);
    restart_node(node(id), roll_back);
  }
  const std::optional<std::pair<Vote, Block>>& recorded_vote(NodeId id) const override { return nodes_[id - 1]->voted; }
  const std::vector<crypto::PrivateKey>& member_keys() const override { return members_; }
  Status recover_node(NodeId id, const Replica::RecoveryRequest& request) override {
    Node& n = node(id);
    if (!n.up || !n.replica) return make_error("sim.down", "node is down");
    Output out;
    auto r = n.replica->recover(now_, request, out);
    emit(n, out);
    if (!r.ok()) return r.error();
    return ok_status();
  }
  bool is_up(NodeId id) const override { return nodes_[id - 1]->up; }

  bool chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  Bytes seed_bytes() {
    Bytes b(32);
    for (auto& x : b) x = static_cast<uint8_t>(rand(0, 255));
    return b;
  }
  void push(Event e) {
    e.seq = seq_++;
    events_.push(std::move(e));
  }
  int f() const { return cfg_.protocol == Protocol::kTeeBft ? (n_ - 1) / 2 : (n_ - 1) / 3; }

  void setup() {
    bool tee = cfg_.protocol == Protocol::kTeeBft;
    n_ = cfg_.nodes > 0 ? cfg_.nodes : (tee ? (rand(0, 1) ? 5 : 3) : (rand(0, 1) ? 7 : 4));
    int byz_max = cfg_.force_byzantine_over_f ? n_ - 1 : f();
    int byz = cfg_.byzantine >= 0 ? std::min(cfg_.byzantine, byz_max) : static_cast<int>(rand(0, f()));
    platform_ = std::make_unique<SimPlatform>(crypto::ed25519_from_seed(seed_bytes()));
    appraiser_ = sim_appraiser(platform_->public_key());
    std::vector<Validator> vals;
    std::vector<std::unique_ptr<Checker>> checkers;
    for (int i = 0; i < n_; i++) {
      auto node = std::make_unique<Node>();
      node->id = static_cast<NodeId>(i + 1);
      node->identity = crypto::ed25519_from_seed(seed_bytes());
      node->bft_key = crypto::ed25519_from_seed(seed_bytes());
      Validator v;
      v.id = node->id;
      v.weight = 1;
      v.identity_key = node->identity.public_key;
      if (tee) {
        checkers.push_back(std::make_unique<Checker>(node->id, crypto::ed25519_from_seed(seed_bytes())));
        v.vote_key = checkers.back()->public_key();
      } else {
        v.vote_key = node->bft_key.public_key;
      }
      vals.push_back(v);
      nodes_.push_back(std::move(node));
    }
    // Byzantine nodes: the last `byz` ids.
    for (int i = 0; i < byz; i++) {
      nodes_[n_ - 1 - i]->byz = cfg_.force_byzantine_over_f ? Byz::kEquivocate : static_cast<Byz>(rand(1, 4));
    }
    choose_adversary(byz);
    genesis_ = ValidatorSet(vals, 0);
    if (cfg_.dkg) {
      for (auto& nd : nodes_) {
        std::string label = "supernet-sim-dkg-seed-" + std::to_string(cfg_.seed) + "-" + std::to_string(nd->id);
        nd->dkg_seed = crypto::sha256(as_bytes(label));  // apart from the event stream
      }
    }
    // Two members (both must approve): they recover the network after a total stop.
    GovernanceRules rules;
    for (int m = 0; m < 2; m++) {
      // Derived from the seed apart from the event stream, so that adding members kept
      // every earlier seed's schedule (and the soak's findings) as it was.
      std::string label = "supernet-sim-member-" + std::to_string(cfg_.seed) + "-" + std::to_string(m);
      members_.push_back(crypto::PrivateKey::ec_from_seed(crypto::Curve::kP256, crypto::sha256(as_bytes(label))));
      rules.members.push_back({"member" + std::to_string(m + 1), crypto::sha256(members_.back().public_key().spki_der())});
    }
    rules.approvals = 2;
    chain_genesis_ = genesis_for_set(cfg_.protocol, genesis_, "supernet-sim-" + std::to_string(cfg_.seed), rules, "simulated policy");
    genesis_bytes_ = chain_genesis_.encode();
    for (int i = 0; i < n_; i++) {
      Node& node = *nodes_[i];
      std::unique_ptr<VoteSigner> signer;
      if (tee) {
        (void)checkers[i]->begin(genesis_bytes_, appraiser_);
        signer = std::move(checkers[i]);
      } else {
        if (node.byz == Byz::kNone) node.sign_state = std::make_shared<SignState>();
        signer = std::make_unique<PlainSigner>(node.id, node.bft_key.secret_key, node.bft_key.public_key, node.sign_state);
      }
      node.replica = std::make_unique<Replica>(replica_config(node), std::move(signer));
      dkg_start(node);
      start_detector(node);
      Output out;
      node.replica->start(0, out);
      emit(node, out);
    }
    std::string byz_desc;
    for (auto& nd : nodes_) {
      if (nd->byz != Byz::kNone) byz_desc += " " + std::to_string(nd->id) + ":" + byz_name(nd->byz);
    }
    result_.summary = std::string(protocol_name(cfg_.protocol)) + " n=" + std::to_string(n_) + " f=" + std::to_string(f()) +
                      " byzantine=[" + byz_desc + " ]" + (adversary_ ? std::string(" adversary=") + adversary_->name() : "");
    result_.adversary = adversary_ ? adversary_->name() : "none";
    log("start " + result_.summary);
    schedule();
  }

  // A Byzantine host's attack (tee-bft, taking the last Byzantine slot, or a new one within f)
  // or a nemesis (bft), from the seed unless the configuration names one.
  void choose_adversary(int byz) {
    bool tee = cfg_.protocol == Protocol::kTeeBft;
    std::string pick = cfg_.adversary;
    if (pick == "auto") {
      pick = "none";
      double p = rand(0, 99) / 100.0;
      if (cfg_.faults && tee && f() >= 1 && p < 0.4) pick = p < 0.2 ? "rogue-rotation" : "fake-genesis";
      if (cfg_.faults && !tee && p < 0.3) pick = "lock-amnesia";
      if (cfg_.faults && f() >= 1 && p >= 0.4 && p < 0.5) pick = "slow-host";
      if (cfg_.faults && p >= 0.5 && p < 0.6) pick = "total-stop";
      if (cfg_.faults && f() >= 1 && p >= 0.6 && p < 0.7) pick = "long-crash";
    }
    TimeMs start = static_cast<TimeMs>(rand(100, 800));
    Bytes seed = seed_bytes();
    if (pick == "lock-amnesia") {
      adversary_ = make_lock_amnesia(start);
    } else if (pick == "total-stop") {
      adversary_ = make_total_stop(start + 400);
    } else if (pick == "long-crash") {
      if (f() == 0) return;
      adversary_ = make_long_crash(start + 400);
    } else if (pick == "slow-host") {
      if (byz == 0 && f() == 0) return;
      Node& host = *nodes_[n_ - 1];
      host.byz = Byz::kHost;
      adversary_ = make_slow_host(host.id);
      return;  // it needs no longer run than the others
    } else if (pick == "rogue-rotation" || pick == "fake-genesis") {
      if (!tee || (byz == 0 && f() == 0)) return;
      Node& host = *nodes_[n_ - 1];  // the last id: a Byzantine slot already, or a new one
      host.byz = Byz::kHost;
      adversary_ = pick == "fake-genesis" ? make_fake_genesis(host.id, start, seed)
                                          : make_rogue_rotation(host.id, start, static_cast<int>(rand(0, 2)), seed);
    }
    if (!adversary_) return;
    // The attacks need rounds to play out before the network heals.
    cfg_.heal_at_ms = std::max<TimeMs>(cfg_.heal_at_ms, 6000);
    cfg_.end_ms = std::max<TimeMs>(cfg_.end_ms, cfg_.heal_at_ms + 9000);
  }

  ReplicaConfig replica_config(const Node& node) {
    ReplicaConfig rc;
    rc.self = node.id;
    rc.genesis = chain_genesis_;
    rc.appraiser = appraiser_;
    rc.attest = [this](ByteView report_data) -> Result<Bytes> { return platform_->evidence(report_data); };
    rc.round_timeout_ms = 150;
    rc.block_txs_max = 64;
    rc.identity_secret = node.identity.secret_key;
    return rc;
  }

  std::vector<Node*> honest() {
    std::vector<Node*> out;
    for (auto& n : nodes_) {
      if (n->byz == Byz::kNone) out.push_back(n.get());
    }
    return out;
  }

  void schedule() {
    for (TimeMs t = 10; t <= cfg_.end_ms; t += 10) push({t, 0, Kind::kTick, 0, 0, {}, 0});
    auto h = honest();
    for (int i = 0; i < cfg_.txs_before_heal; i++) {
      push({static_cast<TimeMs>(rand(1, cfg_.heal_at_ms - 1)), 0, Kind::kSubmit, 0, h[rand(0, h.size() - 1)]->id,
            to_bytes("pre-" + std::to_string(i)), 0});
    }
    for (int i = 0; i < cfg_.txs_after_heal; i++) {
      push({cfg_.heal_at_ms + 100 + i * 50, 0, Kind::kSubmit, 0, h[rand(0, h.size() - 1)]->id,
            to_bytes("post-" + std::to_string(i)), 0});
    }
    push({cfg_.heal_at_ms, 0, Kind::kHeal, 0, 0, {}, 0});
    // The DKG's windows are counted in blocks: load after the heal keeps blocks coming, so that
    // a phase waiting for a silent participant ends. Its own generator: the schedule stays.
    if (cfg_.dkg) {
      for (int i = 0; i < 200; i++) {
        push({cfg_.heal_at_ms + 120 + i * 40, 0, Kind::kSubmit, 0, h[static_cast<size_t>(i) % h.size()]->id, to_bytes("fill-" + std::to_string(i)), 0});
      }
    }
    if (!cfg_.faults) return;
    for (int i = 0, k = static_cast<int>(rand(1, 2)); i < k; i++) {
      TimeMs start = static_cast<TimeMs>(rand(100, cfg_.heal_at_ms - 900));
      uint64_t mask = rand(1, (1ull << n_) - 2);
      push({start, 0, Kind::kPartition, 0, 0, {}, mask});
      push({start + static_cast<TimeMs>(rand(200, 800)), 0, Kind::kPartition, 0, 0, {}, 0});
    }
    // Crashes only while the fault budget allows: a restarted tee-bft node is not a voter
    // until its new checker key is admitted, so it counts against f.
    int byz = 0;
    for (auto& nd : nodes_) byz += nd->byz != Byz::kNone;
    if (byz < f()) {
      TimeMs t = 200;
      for (int i = 0, k = static_cast<int>(rand(1, 2)); i < k && t < cfg_.heal_at_ms - 800; i++) {
        Node* victim = h[rand(0, h.size() - 1)];
        TimeMs crash = t + static_cast<TimeMs>(rand(0, 600));
        TimeMs restart = crash + static_cast<TimeMs>(rand(100, 500));
        if (restart >= cfg_.heal_at_ms - 100) break;
        push({crash, 0, Kind::kCrash, 0, victim->id, {}, 0});
        push({restart, 0, Kind::kRestart, 0, victim->id, {}, 0});
        t = restart + 300;  // the next crash only after this node is back and re-admitted
      }
    }
  }

  Node& node(NodeId id) { return *nodes_[id - 1]; }

  bool partitioned(NodeId a, NodeId b) const {
    if (partition_mask_ == 0) return false;
    return ((partition_mask_ >> (a - 1)) & 1) != ((partition_mask_ >> (b - 1)) & 1);
  }

  void send_bytes(NodeId from, NodeId to, const Bytes& payload, TimeMs extra_delay = 0) {
    result_.messages++;
    bool faulty = cfg_.faults && !healed();
    if (faulty && chance(0.05)) return;
    TimeMs delay = extra_delay + static_cast<TimeMs>(faulty ? rand(1, 30) : rand(1, 8));
    push({now_ + delay, 0, Kind::kDeliver, from, to, payload, 0});
    if (faulty && chance(0.03)) push({now_ + static_cast<TimeMs>(rand(1, 40)), 0, Kind::kDeliver, from, to, payload, 0});
  }

  void emit(Node& from, Output& out) {
    if (out.voted) from.voted = out.voted;
    for (auto& cb : out.committed) {
      // Safety, checked as it happens: one block per height across honest nodes.
      if (from.byz == Byz::kNone) {
        uint64_t h = cb.block.header.height;
        auto [it, first] = committed_.try_emplace(h, cb.block.header.hash(), from.id);
        if (!first && it->second.first != cb.block.header.hash()) {
          fail("safety: honest nodes " + std::to_string(it->second.second) + " and " + std::to_string(from.id) +
               " committed different blocks at height " + std::to_string(h));
        }
      }
      from.disk.push_back(cb);
      dkg_feed(from, cb);
      log("node " + std::to_string(from.id) + " committed height " + std::to_string(cb.block.header.height) + " (" +
          std::to_string(cb.block.txs.size()) + " txs)");
    }
    for (auto& m : out.misbehaviour) {
      result_.misbehaviour_reports++;
      log("node " + std::to_string(from.id) + " isolates " + std::to_string(m.node) + ": " + m.reason);
      if (from.byz == Byz::kNone && node(m.node).byz == Byz::kNone) {
        fail("honest node " + std::to_string(m.node) + " was isolated by node " + std::to_string(from.id) + ": " + m.reason);
      }
    }
    for (auto& s : out.sends) {
      if (auto* v = std::get_if<Vote>(&s.message); v && cfg_.verbose) {
        log("node " + std::to_string(from.id) + (v->phase == Phase::kVote ? " votes" : " precommits") + " height " +
            std::to_string(v->height) + " round " + std::to_string(v->round) + " block " + to_hex(v->block).substr(0, 8));
      }
      if (auto* vc = std::get_if<ViewChange>(&s.message); vc && cfg_.verbose) {
        log("node " + std::to_string(from.id) + " view change height " + std::to_string(vc->height) + " to round " +
            std::to_string(vc->new_round) + (vc->has_last_vote ? " last vote round " + std::to_string(vc->last_round) + " " +
                                                                       to_hex(vc->last_block).substr(0, 8) : ""));
      }
      if (auto* p = std::get_if<Proposal>(&s.message); p && cfg_.verbose) {
        log("node " + std::to_string(from.id) + " proposes height " + std::to_string(p->block.header.height) + " round " +
            std::to_string(p->round) + " block " + to_hex(p->block.header.hash()).substr(0, 8) + " (" +
            std::to_string(p->block.txs.size()) + " txs)");
      }
      Bytes payload = encode_message(s.message);
      std::vector<NodeId> targets;
      if (s.to) {
        targets.push_back(*s.to);
      } else {
        for (auto& nd : nodes_) {
          if (nd->id != from.id) targets.push_back(nd->id);
        }
      }
      if (from.byz != Byz::kNone) {
        misbehave(from, s.message, payload, targets);
        continue;
      }
      for (NodeId t : targets) send_bytes(from.id, t, payload);
    }
    out = Output{};
  }

  // A Byzantine node's outgoing traffic.
  void misbehave(Node& from, const Message& m, const Bytes& payload, const std::vector<NodeId>& targets) {
    switch (from.byz) {
      case Byz::kSilent:
        return;
      case Byz::kReplay:
      case Byz::kForge:
      case Byz::kHost:  // the real node program; the host's attacks are the adversary's
        for (NodeId t : targets) {
          TimeMs extra = 0;
          if (adversary_ && !adversary_->own_message(*this, t, &extra)) continue;
          send_bytes(from.id, t, payload, extra);
        }
        return;
      case Byz::kEquivocate:
        break;
      case Byz::kNone:
        return;
    }
    // Equivocation: nodes with odd ids get the real message, even ids a conflicting one. The
    // Byzantine nodes collude: their conflicting votes all name the block their leader sent to
    // the even half.
    Message alt = m;
    bool conflicting = false;
    if (auto* p = std::get_if<Proposal>(&alt)) {
      p->block.txs.clear();
      p->block.header.tx_count = 0;
      p->block.header.tx_root = crypto::sha256({});
      p->block.header.creator = from.id;
      alt_blocks_[{p->block.header.height, p->round}] = p->block.header.hash();
      conflicting = true;
      resign(from, alt);
    } else if (auto* v = std::get_if<Vote>(&alt)) {
      auto known = alt_blocks_.find({v->height, v->round});
      v->block = known != alt_blocks_.end() ? known->second : crypto::sha256(concat({v->block, as_bytes("conflict")}));
      conflicting = v->block != std::get<Vote>(m).block;
      resign(from, alt);
    }
    Bytes alt_payload = encode_message(alt);
    for (NodeId t : targets) send_bytes(from.id, t, conflicting && t % 2 == 0 ? alt_payload : payload);
    // bft: precommit at once for both sides, without waiting for prevote certificates.
    auto* v = std::get_if<Vote>(&m);
    if (cfg_.protocol != Protocol::kBft || v == nullptr || v->phase != Phase::kVote || !conflicting) return;
    Vote pc_real = *v, pc_alt = std::get<Vote>(alt);
    pc_real.phase = pc_alt.phase = Phase::kPrecommit;
    Message real_msg = pc_real, alt_msg = pc_alt;
    resign(from, real_msg);
    resign(from, alt_msg);
    Bytes real_bytes = encode_message(real_msg), alt_bytes = encode_message(alt_msg);
    for (NodeId t : targets) send_bytes(from.id, t, t % 2 == 0 ? alt_bytes : real_bytes);
  }

  // bft: a Byzantine node signs anything with its own key. tee-bft: its checker would refuse,
  // so the conflicting message goes out with a signature that cannot verify.
  void resign(Node& from, Message& m) {
    bool tee = cfg_.protocol == Protocol::kTeeBft;
    if (auto* p = std::get_if<Proposal>(&m)) {
      p->signature = tee ? Bytes(64, 0x5a) : crypto::ed25519_sign(from.bft_key.secret_key, p->signed_bytes());
    } else if (auto* v = std::get_if<Vote>(&m)) {
      v->signature = tee ? Bytes(64, 0x5a) : crypto::ed25519_sign(from.bft_key.secret_key, v->signed_bytes(cfg_.protocol));
    }
  }

  void dispatch(const Event& e) {
    switch (e.kind) {
      case Kind::kDeliver: {
        Node& to = node(e.to);
        if (cfg_.faults && !healed() && (partitioned(e.from, e.to) || cuts_.count({std::min(e.from, e.to), std::max(e.from, e.to)}))) return;
        auto m = decode_message(e.payload);
        if (!m.ok()) return fail("a replica sent bytes that do not decode: " + m.error().to_string());
        if (auto* v = std::get_if<Vote>(&*m); v && v->phase == Phase::kPrecommit && precommit_filter_.first != 0 && !healed() &&
                                               v->height == precommit_filter_.first && e.to != precommit_filter_.second) {
          return;
        }
        if (taken_over_.count(e.to)) {
          if (adversary_) adversary_->on_message(*this, e.from, *m);
          return;
        }
        if (!to.up) return;
        if (to.byz == Byz::kReplay && to.seen.size() < 512) to.seen.push_back(e.payload);
        to.fd.heard(e.from, now_);
        Output out;
        to.replica->on_message(now_, e.from, *m, out);
        return emit(to, out);
      }
      case Kind::kHeartbeat: {
        Node& to = node(e.to);
        if (cfg_.faults && !healed() && (partitioned(e.from, e.to) || cuts_.count({std::min(e.from, e.to), std::max(e.from, e.to)}))) return;
        if (to.up) to.fd.heard(e.from, now_);
        return;
      }
      case Kind::kTick:
        for (auto& nd : nodes_) {
          if (!nd->up) continue;
          Output out;
          nd->replica->on_tick(now_, out);
          emit(*nd, out);
          byzantine_tick(*nd);
          dkg_tick(*nd);
        }
        detect_failures();
        if (adversary_) adversary_->on_tick(*this);
        return;
      case Kind::kSubmit: {
        Node& to = node(e.to);
        if (!to.up) return;
        Output out;
        to.replica->submit(e.payload, now_, out);
        if (to_string(e.payload).rfind("post-", 0) == 0) post_heal_txs_.push_back(e.payload);
        return emit(to, out);
      }
      case Kind::kCrash: {
        // Stay within the fault budget: crash only while every honest node is up and signing
        // (a restarted tee-bft node is faulty until its new checker key is admitted).
        for (Node* nd : honest()) {
          if (!nd->up || !nd->replica->can_sign()) {
            log("crash of node " + std::to_string(e.to) + " skipped: node " + std::to_string(nd->id) + " not yet recovered");
            return;
          }
        }
        log("crash node " + std::to_string(e.to));
        went_down(node(e.to));
        return;
      }
      case Kind::kRestart:
        if (node(e.to).up || taken_over_.count(e.to)) return;  // its crash was skipped
        return restart_node(node(e.to));
      case Kind::kPartition:
        partition_mask_ = e.mask;
        log(e.mask ? "partition " + std::to_string(e.mask) : "partition healed");
        return;
      case Kind::kHeal:
        partition_mask_ = 0;
        log("heal: faults stop");
        return;
    }
  }

  // --- the DKG over the ledger (cfg.dkg) ---
  keys::DkgConfig dkg_config() const {
    keys::DkgConfig c;
    c.session = to_bytes("supernet-sim-dkg-" + std::to_string(cfg_.seed));
    for (int i = 1; i <= n_; i++) c.participants.push_back(static_cast<uint16_t>(i));
    c.threshold = static_cast<uint16_t>(f() + 1);
    c.window = 20;
    return c;
  }

  Bytes reshare_session() const { return to_bytes("supernet-sim-reshare-" + std::to_string(cfg_.seed)); }

  void dkg_start(Node& nd) {
    if (!cfg_.dkg || nd.byz != Byz::kNone) return;
    nd.dkg = keys::Dkg::create(dkg_config(), static_cast<uint16_t>(nd.id), nd.dkg_seed).value();
    nd.reshare.reset();
    nd.dkg_unconfirmed.clear();
    nd.dkg_committed.clear();
    for (const auto& cb : nd.disk) dkg_feed(nd, cb);
  }

  // The refresh starts in the block the DKG ended in, on every node alike (replay included): the
  // same set receives, the DKG's holders deal their shares. A node without a share follows.
  void reshare_start(Node& nd, uint64_t height) {
    const auto& o = *nd.dkg->outcome();
    keys::DkgConfig c;
    c.session = reshare_session();
    c.participants = dkg_config().participants;
    c.recipients = c.participants;
    c.threshold = dkg_config().threshold;
    c.start_height = height;
    c.window = dkg_config().window;
    c.old_public_shares = o.public_shares;
    c.old_threshold = dkg_config().threshold;
    c.old_group_key = o.group_public_key;
    Bytes seed = crypto::sha256(concat({nd.dkg_seed, as_bytes("reshare")}));
    nd.reshare = keys::Dkg::create(c, o.share ? static_cast<uint16_t>(nd.id) : 0, seed, o.share).value();
  }

  void dkg_feed(Node& nd, const CommittedBlock& cb) {
    if (!nd.dkg) return;
    Bytes session = dkg_config().session, again = reshare_session();
    for (const auto& tx : cb.block.txs) {
      if (!keys::is_dkg_tx(tx)) continue;
      auto t = keys::DkgTx::decode(tx);
      if (!t.ok()) continue;
      const Validator* v = genesis_.find(t->node);
      if (v == nullptr) continue;
      bool first = t->verify(session, v->identity_key);
      bool refresh = !first && nd.reshare && t->verify(again, v->identity_key);
      if (!first && !refresh) continue;
      auto m = keys::decode_dkg(t->message);
      if (!m.ok()) continue;
      if (t->node == nd.id) {
        Bytes tagged = concat({first ? session : again, t->message});
        nd.dkg_unconfirmed.erase(tagged);
        nd.dkg_committed.insert(tagged);
      }
      (void)(first ? nd.dkg->on_ledger(static_cast<uint16_t>(t->node), *m, cb.block.header.height)
                   : nd.reshare->on_ledger(static_cast<uint16_t>(t->node), *m, cb.block.header.height));
    }
    nd.dkg->on_height(cb.block.header.height);
    if (!nd.reshare && nd.dkg->done() && nd.dkg->outcome()) reshare_start(nd, cb.block.header.height);
    if (nd.reshare) nd.reshare->on_height(cb.block.header.height);
  }

  // Every tick: new messages join the unconfirmed ones; every 100 ms they are submitted again.
  void dkg_tick(Node& nd) {
    if (!nd.dkg || !nd.up) return;
    auto add = [&](keys::Dkg& d, const Bytes& session) {
      for (auto& m : d.outbox()) {
        Bytes tagged = concat({session, keys::encode_dkg(m)});
        if (nd.dkg_committed.contains(tagged)) continue;
        nd.dkg_unconfirmed.emplace(tagged, keys::make_dkg_tx(session, nd.id, m, nd.identity.secret_key));
      }
    };
    add(*nd.dkg, dkg_config().session);
    if (nd.reshare) add(*nd.reshare, reshare_session());
    if (now_ % 100 != 0) return;
    for (const auto& [encoded, tx] : nd.dkg_unconfirmed) push({now_ + 1, 0, Kind::kSubmit, 0, nd.id, tx, 0});
  }

  void dkg_check() {
    if (!cfg_.dkg) return;
    std::optional<keys::DkgOutcome> agreed;
    std::optional<std::string> failure;
    bool first = true;
    for (Node* nd : honest()) {
      if (!nd->up) continue;
      if (!nd->dkg || !nd->dkg->done()) {
        // Its windows are counted in blocks: a chain a nemesis kept this short cannot end them.
        uint64_t needed = 3 * dkg_config().window + 10;
        if (min_honest_height() < needed) {
          result_.dkg = "unfinished: the chain reached " + std::to_string(min_honest_height()) + " blocks, the DKG's windows need " + std::to_string(needed);
          return;
        }
        return fail("dkg: node " + std::to_string(nd->id) + " did not finish the DKG");
      }
      if (first) {
        agreed = nd->dkg->outcome();
        failure = nd->dkg->failure();
        first = false;
        continue;
      }
      if (nd->dkg->failure() != failure || nd->dkg->outcome().has_value() != agreed.has_value() ||
          (agreed && (nd->dkg->outcome()->group_public_key != agreed->group_public_key || nd->dkg->outcome()->excluded != agreed->excluded))) {
        return fail("dkg: honest nodes ended with different outcomes");
      }
    }
    if (!agreed) {
      result_.dkg = "no key: " + failure.value_or("?");
      return;
    }
    for (const auto& [id, why] : agreed->excluded) {
      const Node& nd = node(id);
      // An honest node may miss a window only while it was down or cut off (crashes, partitions
      // and drops before the heal); any other reason is a bug.
      bool missed = why.find("within its window") != std::string::npos && (nd.ever_down || cfg_.faults);
      if (nd.byz == Byz::kNone && !missed) return fail("dkg: honest node " + std::to_string(id) + " excluded: " + why);
    }
    for (Node* nd : honest()) {
      if (nd->up && !agreed->excluded.contains(static_cast<uint16_t>(nd->id)) && !nd->dkg->outcome()->share) {
        return fail("dkg: honest node " + std::to_string(nd->id) + " holds no share");
      }
    }
    result_.dkg = "key " + to_hex(ByteView(agreed->group_public_key.data(), 8)) + " qualified " + std::to_string(agreed->qualified.size()) +
                  " excluded " + std::to_string(agreed->excluded.size());
    reshare_check(*agreed);
  }

  // The refresh: every honest node that is up ends with the same new sharing of the same key;
  // an honest node is excluded only for a missed window (while faults were on or it was down,
  // or it held no share of the DKG); every other honest node holds a new share.
  void reshare_check(const keys::DkgOutcome& dkg) {
    std::optional<keys::DkgOutcome> agreed;
    std::optional<std::string> failure;
    bool first = true;
    for (Node* nd : honest()) {
      if (!nd->up) continue;
      if (!nd->reshare || !nd->reshare->done()) {
        uint64_t needed = 6 * dkg_config().window + 10;
        if (min_honest_height() < needed) {
          result_.dkg += "; refresh unfinished: the chain reached " + std::to_string(min_honest_height()) + " blocks, the windows need " +
                         std::to_string(needed);
          return;
        }
        return fail("dkg: node " + std::to_string(nd->id) + " did not finish the refresh");
      }
      if (first) {
        agreed = nd->reshare->outcome();
        failure = nd->reshare->failure();
        first = false;
        continue;
      }
      if (nd->reshare->failure() != failure || nd->reshare->outcome().has_value() != agreed.has_value() ||
          (agreed && (nd->reshare->outcome()->public_shares != agreed->public_shares || nd->reshare->outcome()->excluded != agreed->excluded))) {
        return fail("dkg: honest nodes ended the refresh with different outcomes");
      }
    }
    if (!agreed) {
      // As for the DKG: holders may miss its windows (6 blocks here) while faults are on or they
      // are down, and then too few deal; with neither, a failed refresh is a bug.
      size_t holders = 0;
      bool faulted = cfg_.faults;
      for (Node* nd : honest()) {
        holders += nd->up && nd->dkg->outcome() && nd->dkg->outcome()->share;
        faulted |= nd->ever_down;
      }
      if (!faulted && holders > static_cast<size_t>(f())) {
        return fail("dkg: the refresh failed without faults, with " + std::to_string(holders) + " honest holders up: " + failure.value_or("?"));
      }
      result_.dkg += "; refresh failed: " + failure.value_or("?");
      return;
    }
    if (agreed->group_public_key != dkg.group_public_key) return fail("dkg: the refresh changed the group key");
    for (const auto& [id, why] : agreed->excluded) {
      const Node& nd = node(id);
      bool missed = why.find("within its window") != std::string::npos && (nd.ever_down || cfg_.faults || dkg.excluded.contains(id));
      if (nd.byz == Byz::kNone && !missed) return fail("dkg: honest node " + std::to_string(id) + " excluded from the refresh: " + why);
    }
    size_t changed = 0;
    for (Node* nd : honest()) {
      if (!nd->up || agreed->excluded.contains(static_cast<uint16_t>(nd->id))) continue;
      const auto& o = *nd->reshare->outcome();
      if (!o.share) return fail("dkg: honest node " + std::to_string(nd->id) + " holds no share after the refresh");
      if (keys::frost::base_times(o.share->secret).value() != o.public_shares.at(static_cast<uint16_t>(nd->id))) {
        return fail("dkg: node " + std::to_string(nd->id) + "'s refreshed share does not match its public share");
      }
      changed += !dkg.public_shares.contains(static_cast<uint16_t>(nd->id)) ||
                 dkg.public_shares.at(static_cast<uint16_t>(nd->id)) != o.public_shares.at(static_cast<uint16_t>(nd->id));
    }
    if (changed == 0) return fail("dkg: the refresh changed no share");
    result_.dkg += "; refreshed, dealers " + std::to_string(agreed->qualified.size());
  }

  void start_detector(Node& n) {
    n.fd = FailureDetector();
    n.up_since = now_;
    n.down_since.reset();
    for (auto& p : nodes_) {
      if (p->id != n.id) n.fd.watch(p->id, now_);
    }
  }

  void went_down(Node& n) {
    n.up = false;
    n.ever_down = true;
    n.replica.reset();
    n.down_since = now_;
    n.down_checked = false;
  }

  // The failure detector, as every node program runs it: heartbeats every kHeartbeatMs over
  // each link (through the same faults as any message), every delivery counts as heard.
  // Checked: completeness (a node down for 2 s is suspected by every honest node that was up
  // all that time) and accuracy (after the heal, no honest node suspects an honest node that is
  // up, once links had 2 s to show it).
  void detect_failures() {
    static_assert(kHeartbeatMs % 10 == 0, "heartbeats fall on ticks");
    if (now_ % kHeartbeatMs == 0) {
      bool faulty = cfg_.faults && !healed();
      for (auto& from : nodes_) {
        if (!from->up || from->byz == Byz::kSilent) continue;
        for (auto& to : nodes_) {
          if (to->id == from->id) continue;
          auto r = hb_rng_();
          if (faulty && r % 20 == 0) continue;  // lost, like 5% of messages
          TimeMs delay = faulty ? 1 + static_cast<TimeMs>((r >> 8) % 30) : 1 + static_cast<TimeMs>((r >> 8) % 8);
          push({now_ + delay, 0, Kind::kHeartbeat, from->id, to->id, {}, 0});
        }
      }
    }
    for (auto& o : nodes_) {
      if (!o->up) continue;
      for (const auto& c : o->fd.tick(now_)) {
        result_.suspicions += c.suspected;
        if (cfg_.verbose) {
          log("node " + std::to_string(o->id) + (c.suspected ? " suspects " : " trusts again ") + std::to_string(c.peer));
        }
      }
    }
    for (auto& d : nodes_) {
      if (d->up || !d->down_since || d->down_checked || now_ - *d->down_since < 2000) continue;
      d->down_checked = true;
      for (Node* o : honest()) {
        if (!o->up || o->up_since > *d->down_since || o->id == d->id) continue;
        if (!o->fd.suspected(d->id, now_)) {
          return fail("failure detector: node " + std::to_string(o->id) + " did not suspect node " + std::to_string(d->id) +
                      ", down for 2 s (phi " + std::to_string(o->fd.phi(d->id, now_)) + ")");
        }
      }
    }
    if (healed() && now_ >= cfg_.heal_at_ms + 2000) {
      for (Node* o : honest()) {
        if (!o->up || now_ - o->up_since < 2000) continue;
        for (Node* p : honest()) {
          if (p == o || !p->up || now_ - p->up_since < 2000) continue;
          if (o->fd.suspected(p->id, now_)) {
            return fail("failure detector: node " + std::to_string(o->id) + " suspects honest node " + std::to_string(p->id) +
                        ", up and reachable since the heal (phi " + std::to_string(o->fd.phi(p->id, now_)) + ")");
          }
        }
      }
    }
  }

  void byzantine_tick(Node& nd) {
    if (nd.byz == Byz::kReplay && !nd.seen.empty() && chance(0.1)) {
      NodeId to = static_cast<NodeId>(rand(1, n_));
      if (to != nd.id) send_bytes(nd.id, to, nd.seen[rand(0, nd.seen.size() - 1)]);
    }
    if (nd.byz == Byz::kForge && chance(0.05)) {
      Vote v;
      v.height = nd.replica->next_height();
      v.round = nd.replica->round();
      v.block = seed_bytes();
      v.voter = static_cast<NodeId>(rand(1, n_));
      v.signature = seed_bytes();
      v.signature.resize(64, 0x11);
      NodeId to = static_cast<NodeId>(rand(1, n_));
      if (to != nd.id) send_bytes(nd.id, to, encode_message(v));
    }
  }

  void restart_node(Node& nd, bool may_roll_back = true) {
    // The host may roll storage back: the node re-syncs from its peers.
    if (may_roll_back && !nd.disk.empty() && chance(0.5)) {
      nd.disk.resize(rand(0, nd.disk.size()));
      nd.voted.reset();
    }
    std::unique_ptr<VoteSigner> signer;
    if (cfg_.protocol == Protocol::kTeeBft) {
      auto checker = std::make_unique<Checker>(nd.id, crypto::ed25519_from_seed(seed_bytes()));
      (void)checker->begin(genesis_bytes_, appraiser_);
      signer = std::move(checker);
    } else {
      signer = std::make_unique<PlainSigner>(nd.id, nd.bft_key.secret_key, nd.bft_key.public_key, nd.sign_state);
    }
    nd.replica = std::make_unique<Replica>(replica_config(nd), std::move(signer));
    std::vector<CommittedBlock> stored = std::move(nd.disk);
    nd.disk.clear();
    Status s = nd.replica->restore(stored);
    if (!s.ok()) return fail("node " + std::to_string(nd.id) + " cannot restore its own ledger: " + s.error().to_string());
    nd.disk = nd.replica->chain();
    dkg_start(nd);  // the sealed seed and what the disk holds
    nd.up = true;
    start_detector(nd);
    log("restart node " + std::to_string(nd.id) + " at height " + std::to_string(nd.replica->next_height()));
    Output out;
    nd.replica->start(now_, out);
    emit(nd, out);
  }

  const Node* node_by_id(NodeId id) const {
    for (const auto& nd : nodes_) {
      if (nd->id == id) return nd.get();
    }
    return nullptr;
  }

  uint64_t min_honest_height() {
    uint64_t h = UINT64_MAX;
    for (Node* nd : honest()) h = std::min<uint64_t>(h, nd->disk.size());
    return h;
  }

  void fail(const std::string& why) {
    if (!result_.ok) return;
    result_.ok = false;
    result_.failure = why;
  }

  void check_end() {
    auto h = honest();
    // Safety: one block per height across honest nodes; no transaction twice in a chain.
    size_t max_len = 0;
    for (Node* nd : h) max_len = std::max(max_len, nd->disk.size());
    for (size_t i = 0; i < max_len && result_.ok; i++) {
      std::optional<Hash> seen;
      for (Node* nd : h) {
        if (i >= nd->disk.size()) continue;
        Hash hh = nd->disk[i].block.header.hash();
        if (seen && *seen != hh) fail("safety: two different blocks committed at height " + std::to_string(i + 1));
        seen = hh;
      }
    }
    for (Node* nd : h) {
      std::set<Bytes> txs;
      for (const auto& cb : nd->disk) {
        for (const auto& tx : cb.block.txs) {
          if (!txs.insert(tx).second) fail("safety: node " + std::to_string(nd->id) + " committed a transaction twice");
        }
      }
      // Liveness: every transaction submitted after the heal is committed everywhere.
      for (const auto& tx : post_heal_txs_) {
        if (!txs.count(tx)) {
          fail("liveness: node " + std::to_string(nd->id) + " never committed " + to_string(tx) + " (height " +
               std::to_string(nd->disk.size()) + ")");
          break;
        }
      }
    }
    // Evidence on the ledger: an honest reporter never accuses an honest node.
    for (const auto& nd : nodes_) {
      if (nd->byz != Byz::kNone) continue;
      size_t recorded = 0;
      for (const auto& cb : nd->disk) {
        for (const auto& tx : cb.block.txs) {
          if (!is_evidence_tx(tx)) continue;
          auto e = Evidence::decode(tx);
          if (!e.ok()) continue;
          recorded++;
          const Node* reporter = node_by_id(e->reporter);
          const Node* accused = node_by_id(e->accused);
          if (reporter && reporter->byz == Byz::kNone && accused && accused->byz == Byz::kNone) {
            fail("ledger holds evidence by honest node " + std::to_string(e->reporter) + " against honest node " +
                 std::to_string(e->accused) + ": " + e->reason);
          }
        }
      }
      result_.evidence_recorded = std::max(result_.evidence_recorded, recorded);
    }
    result_.min_height = min_honest_height();
    dkg_check();
    if (adversary_) {
      result_.adversary_outcome = adversary_->outcome();
      result_.summary += " (" + result_.adversary_outcome + ")";
    }
    if (cfg_.capture_chain) {
      result_.chain = nodes_[0]->disk;
      result_.validators = genesis_;
    }
    if (cfg_.dkg) result_.summary += " dkg=" + (result_.dkg.empty() ? std::string("?") : result_.dkg);
    result_.summary += " heights=" + std::to_string(result_.min_height) + " messages=" + std::to_string(result_.messages) +
                       " isolations=" + std::to_string(result_.misbehaviour_reports) +
                       " evidence=" + std::to_string(result_.evidence_recorded) + " suspicions=" + std::to_string(result_.suspicions);
  }

  SimConfig cfg_;
  std::mt19937_64 rng_;
  std::mt19937_64 hb_rng_;
  int n_ = 0;
  ValidatorSet genesis_;
  ChainGenesis chain_genesis_;
  Bytes genesis_bytes_;
  std::unique_ptr<SimPlatform> platform_;
  std::shared_ptr<const EvidenceAppraiser> appraiser_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::priority_queue<Event, std::vector<Event>, std::greater<Event>> events_;
  uint64_t seq_ = 0;
  TimeMs now_ = 0;
  uint64_t partition_mask_ = 0;
  std::vector<Bytes> post_heal_txs_;
  std::map<std::pair<uint64_t, uint64_t>, Hash> alt_blocks_;  // (height, round) -> equivocated block
  std::unique_ptr<Adversary> adversary_;
  std::set<std::pair<NodeId, NodeId>> cuts_;           // links the adversary cut, until the heal
  std::pair<uint64_t, NodeId> precommit_filter_{0, 0};  // (height, the only receiver)
  std::set<NodeId> taken_over_;
  std::vector<crypto::PrivateKey> members_;
  std::map<uint64_t, std::pair<Hash, NodeId>> committed_;  // height -> (block, first honest node)
  SimResult result_;
};

}  // namespace

SimResult run_simulation(const SimConfig& cfg) { return Simulation(cfg).run(); }

}  // namespace supernet::sim
