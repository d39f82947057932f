#include "node/node.h"

#include <algorithm>
#include <cstdio>

#include "fl/wire.h"
#include "keys/release.h"
#include "node/appraiser.h"
#include "node/config.h"
#include <asio/post.hpp>
#include "util/log.h"

namespace supernet::node {

// A block's transactions (and a sync response's blocks) fit one peer frame with room to spare.
static_assert(consensus::kBlockTxBytesMax + 128 * 1024 <= net::kFrameBytesMax);
static_assert(consensus::kSyncBytesMax + 128 * 1024 <= net::kFrameBytesMax);

using consensus::Output;

namespace {
// A heartbeat on an idle peer link: nothing but the magic (the link authenticates the sender).
const Bytes kHeartbeatFrame = {'S', 'N', 'H', 'B'};
bool is_heartbeat(const Bytes& frame) { return frame == kHeartbeatFrame; }
}  // namespace

Node::Node(asio::io_context& io, NodeOptions options)
    : store_(std::move(options.store)),
      replica_(std::move(options.replica), std::move(options.signer)),
      base_policy_(options.transport.ratls.policy),
      policy_floor_(std::move(options.policy_floor)),
      peers_([&] {
        std::set<uint32_t> ids;
        for (const auto& [id, key] : options.transport.identity_keys) ids.insert(id);
        return ids;
      }()),
      transport_(io, std::move(options.transport),
                 [this](uint32_t from, Bytes frame) {
                   if (stopped_ || failed_) return;
                   detector_.heard(from, now());  // whatever the link delivers shows the peer alive
                   if (is_heartbeat(frame)) return;
                   if (fl::is_fl_frame(frame) || keys::is_key_frame(frame)) return deliver_app(from, std::move(frame));
                   auto m = consensus::decode_message(frame);
                   if (!m.ok()) {
                     log_limit_.log(LogLevel::kWarn, "node", "undecodable frame", std::to_string(from),
                                    "undecodable frame from node " + std::to_string(from) + ": " + m.error().message, now());
                     return;
                   }
                   Output out;
                   replica_.on_message(now(), from, *m, out);
                   process(out);
                 }),
      ticker_(io),
      started_(std::chrono::steady_clock::now()),
      tick_ms_(options.tick_ms),
      io_(io),
      detector_(options.failure_detector),
      phi_accrual_(options.phi_accrual) {
  // Signed writes and table claims apply when signed by one of the genesis' clients.
  store_->set_rules(ledger::KvRules::from_genesis(replica_.genesis().clients));
}

Node::~Node() { stop(); }

void Node::install_clone_detection() {
  transport_.set_on_clone([this](uint32_t peer, const std::string& why) {
    if (stopped_ || failed_) return;
    log(LogLevel::kWarn, "node", why);
    Output out;
    replica_.isolate(peer, why, out);
    process(out);
  });
}

Status Node::check_floor(const tee::Policy& policy) const {
  if (!policy_floor_) return ok_status();
  std::vector<Bytes> measurements, keys;
  const auto& m = replica_.membership();
  for (const auto& hex : m.measurements()) {
    if (auto b = from_hex(hex); b.ok()) measurements.push_back(*b);
  }
  for (const auto& hex : m.platform_keys()) {
    if (auto b = from_hex(hex); b.ok()) keys.push_back(*b);
  }
  return tee::policy_meets_floor(policy, *policy_floor_, measurements, keys);
}

Status Node::set_policy(const tee::Policy& policy) {
  SN_TRY(check_floor(policy));
  base_policy_ = policy;
  followed_adjustments_ = {};
  tee::Policy p = base_policy_;
  apply_adjustments(p, replica_.membership().adjustments());
  transport_.set_policy(p);
  follow_membership();
  return ok_status();
}

void Node::follow_membership() {
  const auto& m = replica_.membership();
  const auto& set = m.set();
  if (set.epoch() != followed_epoch_) {
    followed_epoch_ = set.epoch();
    uint32_t self = replica_.self();
    for (const auto& v : set.validators()) {
      if (v.id == self || peers_.count(v.id)) continue;
      std::optional<net::PeerAddress> dial;
      auto a = m.addresses().find(v.id);
      if (v.id > self && a != m.addresses().end()) {
        if (auto hp = parse_host_port(a->second.first); hp.ok()) dial = net::PeerAddress{v.id, hp->host, hp->port};
      }
      log(LogLevel::kInfo, "node", "validator " + std::to_string(v.id) + " joined (epoch " + std::to_string(set.epoch()) + ")");
      transport_.add_peer(v.id, v.identity_key, dial);
      peers_.insert(v.id);
      detector_.watch(v.id, now());
    }
    for (auto it = peers_.begin(); it != peers_.end();) {
      if (set.find(*it) != nullptr) {
        ++it;
        continue;
      }
      log(LogLevel::kInfo, "node", "validator " + std::to_string(*it) + " left (epoch " + std::to_string(set.epoch()) + ")");
      transport_.remove_peer(*it);
      detector_.forget(*it);
      it = peers_.erase(it);
    }
  }
  // Governance's changes to the policy (measurements, trusted platform keys) apply to peers.
  if (m.adjustments() != followed_adjustments_) {
    if (m.measurements() != followed_adjustments_.measurements && !m.measurements().empty()) {
      log(LogLevel::kInfo, "node", "members set the accepted measurements (" + std::to_string(m.measurements().size()) + ")");
    }
    if (m.min_tcb() != followed_adjustments_.min_tcb) log(LogLevel::kInfo, "node", "members raised a minimum TCB");
    if (m.revoked_platform_keys() != followed_adjustments_.revoked_platform_keys) log(LogLevel::kInfo, "node", "members revoked a platform key");
    if (m.revoked_chip_ids() != followed_adjustments_.revoked_chip_ids) log(LogLevel::kInfo, "node", "members revoked a machine by chip id");
    followed_adjustments_ = m.adjustments();
    tee::Policy p = base_policy_;
    apply_adjustments(p, m.adjustments());
    transport_.set_policy(p);
  }
}

consensus::TimeMs Node::now() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started_).count();
}

Status Node::start() {
  SN_ASSIGN(auto stored, store_->load_blocks());
  SN_TRY(replica_.restore(stored));
  for (const auto& cb : stored) committed_txs_ += cb.block.txs.size();
  // The operator's policy may be stricter than the network's, never weaker.
  SN_TRY(check_floor(base_policy_));
  follow_membership();
  for (uint32_t p : peers_) {
    if (p != replica_.self()) detector_.watch(p, now());
  }
  install_clone_detection();
  SN_TRY(transport_.start());
  Output out;
  replica_.start(now(), out);
  process(out);
  schedule_tick();
  return ok_status();
}

void Node::stop() {
  if (stopped_) return;
  stopped_ = true;
  ticker_.cancel();
  transport_.stop();
}

bool Node::submit(Bytes tx) {
  if (stopped_ || failed_) return false;
  Output out;
  bool accepted = replica_.submit(std::move(tx), now(), out);
  process(out);
  return accepted;
}

void Node::deliver_app(uint32_t from, Bytes frame) {
  const OnAppFrame& handler = keys::is_key_frame(frame) ? on_key_frame_ : on_app_frame_;
  if (handler) handler(from, std::move(frame));
}

void Node::send_app(uint32_t to, Bytes frame) {
  if (stopped_) return;
  if (to == replica_.self()) {
    asio::post(io_, [this, frame = std::move(frame)]() mutable {
      if (!stopped_) deliver_app(replica_.self(), std::move(frame));
    });
    return;
  }
  transport_.send(to, std::move(frame));
}

Result<std::string> Node::submit_recovery(consensus::Replica::RecoveryRequest request) {
  SN_ASSIGN(consensus::Recovery r, consensus::Recovery::decode(request.recovery));
  (void)r;
  PendingRecovery* p = nullptr;
  for (auto& x : recoveries_) {
    if (x.request.recovery == request.recovery) p = &x;
  }
  if (p == nullptr) {
    if (recoveries_.size() >= kPendingRecoveriesMax) recoveries_.erase(recoveries_.begin());
    recoveries_.push_back({std::move(request), "new"});
    p = &recoveries_.back();
  } else {
    for (auto& a : request.approvals) {
      if (std::find(p->request.approvals.begin(), p->request.approvals.end(), a) == p->request.approvals.end()) {
        p->request.approvals.push_back(std::move(a));
      }
    }
    if (p->request.carried.empty()) p->request.carried = std::move(request.carried);
  }
  Output out;
  auto done = replica_.recover(now(), p->request, out);
  process(out);
  if (!done.ok()) {
    p->state = done.error().message;
    // Too few approvals is a state to wait in; anything else will never apply here.
    if (done.error().code == "recovery.approvals") return p->state;
    std::string why = done.error().to_string();
    recoveries_.erase(recoveries_.begin() + (p - recoveries_.data()));
    return make_error("recovery.refused", why);
  }
  p->state = *done ? "applied" : "behind";
  if (*done) log(LogLevel::kInfo, "node", "recovered: the members' recovery is committed at height " + std::to_string(height()));
  return p->state;
}

void Node::retry_recoveries() {
  for (auto& p : recoveries_) {
    if (p.state == "applied") continue;
    Output out;
    auto done = replica_.recover(now(), p.request, out);
    process(out);
    if (done.ok() && *done) {
      p.state = "applied";
      log(LogLevel::kInfo, "node", "recovered: caught up and committed the members' recovery (height " + std::to_string(height()) + ")");
    }
  }
}

void Node::detect_failures() {
  int64_t t = now();
  if (t - last_heartbeat_ >= consensus::kHeartbeatMs) {
    last_heartbeat_ = t;
    for (uint32_t p : peers_) {
      // Only over a live link: queued heartbeats would arrive in a burst and prove nothing.
      if (p != replica_.self() && transport_.connected(p)) transport_.send(p, kHeartbeatFrame);
    }
  }
  for (const auto& c : detector_.tick(t)) {
    if (!phi_accrual_) continue;
    char phi[32];
    std::snprintf(phi, sizeof phi, "%.1f", c.phi);
    if (c.suspected) {
      log(LogLevel::kWarn, "node", "suspect node " + std::to_string(c.peer) + " (phi " + phi + "): its tasks move to healthy nodes");
    } else {
      log(LogLevel::kInfo, "node", "node " + std::to_string(c.peer) + " is trusted again (phi " + phi + ")");
    }
  }
}

bool Node::healthy(uint32_t peer) const {
  if (peer == replica_.self()) return true;
  if (!phi_accrual_) return true;
  return detector_.watching(peer) && !detector_.suspected(peer, now());
}

std::vector<uint32_t> Node::suspected() const {
  std::vector<uint32_t> out;
  if (!phi_accrual_) return out;
  for (uint32_t p : peers_) {
    if (p != replica_.self() && detector_.suspected(p, now())) out.push_back(p);
  }
  return out;
}

double Node::phi(uint32_t peer) const { return phi_accrual_ ? detector_.phi(peer, now()) : 0; }

void Node::schedule_tick() {
  ticker_.expires_after(std::chrono::milliseconds(tick_ms_));
  ticker_.async_wait([this](asio::error_code ec) {
    if (ec || stopped_) return;
    if (!failed_) {
      Output out;
      replica_.on_tick(now(), out);
      process(out);
      if (!recoveries_.empty()) retry_recoveries();
      detect_failures();
      if (on_tick_) on_tick_(now());
    }
    schedule_tick();
  });
}

void Node::process(Output& out) {
  // Durability first: a block is on disk before any peer or client hears about our progress.
  for (const auto& cb : out.committed) {
    if (auto s = store_->append(cb); !s.ok()) {
      log(LogLevel::kError, "node", "cannot store block " + std::to_string(cb.block.header.height) + ": " + s.error().to_string() +
                                         "; this node stops taking part");
      failed_ = true;
      return;
    }
    committed_txs_ += cb.block.txs.size();
    for (const auto& observer : on_commit_) observer(cb);
  }
  if (!out.committed.empty()) follow_membership();
  // tee-bft: the vote is on disk before it leaves (a recovery after a total stop reads it).
  if (out.voted) {
    if (auto s = store_->record_vote({out.voted->first, out.voted->second}); !s.ok()) {
      log(LogLevel::kError, "node", "cannot record this node's vote: " + s.error().to_string() + "; this node stops taking part");
      failed_ = true;
      return;
    }
  }
  for (const auto& m : out.misbehaviour) {
    log(LogLevel::kWarn, "node", "isolated node " + std::to_string(m.node) + ": " + m.reason);
    transport_.ban(m.node);  // its messages are already ignored; close its connection too
    isolations_.push_back({m.node, m.reason, now_unix()});
  }
  for (auto& s : out.sends) {
    Bytes frame = consensus::encode_message(s.message);
    if (s.to) {
      transport_.send(*s.to, std::move(frame));
    } else {
      transport_.broadcast(frame);
    }
  }
  out = Output{};
}

}  // namespace supernet::node
