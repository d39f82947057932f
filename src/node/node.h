// A node's runtime: drives the consensus replica with real inputs. Frames from the peer
// transport and client transactions go in; the replica's sends go out over the transport;
// committed blocks are appended to the store (durably) before anything else sees them.
// Time comes from a steady clock, in milliseconds since start. Everything runs on one
// io_context thread.
#pragma once

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <set>

#include "consensus/failure_detector.h"
#include "consensus/replica.h"
#include "ledger/store.h"
#include "net/transport.h"
#include "util/log.h"
#include "util/time.h"

namespace supernet::node {

struct NodeOptions {
  consensus::ReplicaConfig replica;
  net::TransportConfig transport;
  std::unique_ptr<consensus::VoteSigner> signer;
  std::unique_ptr<ledger::Store> store;
  int64_t tick_ms = 10;
  // The network's policy floor (the genesis' [policy]): the peer policy in transport.ratls must
  // be at least as strict, with governance's measurements and platform keys besides the
  // floor's. Checked before the transport starts and on every set_policy.
  std::optional<tee::Policy> policy_floor;
  // Fault detection: a φ-accrual detector over every peer link (heartbeats every kHeartbeatMs
  // on idle links, "SNHB" frames). Off ("timeout"): every peer counts as healthy and services
  // fall back on their own timeouts (FL: 10 s without a round), the behaviour before it.
  bool phi_accrual = true;
  consensus::FailureDetectorConfig failure_detector;
};

// A validator this node isolated, and why (its messages broke the protocol).
struct Isolation {
  uint32_t node = 0;
  std::string reason;
  UnixSeconds at = 0;
};

class Node {
 public:
  using OnCommit = std::function<void(const consensus::CommittedBlock&)>;
  Node(asio::io_context& io, NodeOptions options);
  ~Node();

  // Verifies and replays the stored chain, checks the peer policy against the floor, then
  // starts the transport and the clock.
  Status start();
  void stop();
  // A client transaction; false when the replica refuses it (too large, known, mempool full).
  bool submit(Bytes tx);
  // Adds an observer of committed blocks (called in the order they were added).
  void on_commit(OnCommit cb) { on_commit_.push_back(std::move(cb)); }
  // Application messages between nodes that are not consensus (federated learning frames,
  // "SNFL"): handed to `handler` on the io thread; sent with send_app (to self: delivered
  // locally, asynchronously).
  using OnAppFrame = std::function<void(uint32_t from, Bytes frame)>;
  void on_app_frame(OnAppFrame handler) { on_app_frame_ = std::move(handler); }
  // Key release between nodes ("SNKX" frames, keys/release.h), the same way.
  void on_key_frame(OnAppFrame handler) { on_key_frame_ = std::move(handler); }
  void send_app(uint32_t to, Bytes frame);
  // Runs on every tick, after the replica's.
  void on_tick(std::function<void(int64_t now_ms)> cb) { on_tick_ = std::move(cb); }
  int64_t now_ms() const { return now(); }
  asio::io_context& io() { return io_; }

  uint64_t height() const { return replica_.next_height() - 1; }
  const consensus::Replica& replica() const { return replica_; }
  ledger::Store& store() { return *store_; }
  uint16_t peer_port() const { return transport_.listen_port(); }
  // The operator changed its policy file: keep the governance measurements on top of it.
  // A recovery after a total stop (the members' approvals merged with those this node already
  // holds for the same recovery): applied when it verifies and this node has caught up to its
  // base, kept and retried on every tick while it is behind or short of approvals. At most
  // kPendingRecoveriesMax are kept (the oldest goes). Returns "applied", "behind" or the reason
  // it does not apply yet (too few approvals), or an error for a recovery that never can.
  static constexpr size_t kPendingRecoveriesMax = 8;
  Result<std::string> submit_recovery(consensus::Replica::RecoveryRequest request);
  struct PendingRecovery {
    consensus::Replica::RecoveryRequest request;
    std::string state;
  };
  const std::vector<PendingRecovery>& pending_recoveries() const { return recoveries_; }
  // Refused (and the old one kept) when weaker than the floor.
  Status set_policy(const tee::Policy& policy);
  // The peer policy in force (the operator's with governance's revocations) and the collateral
  // for hardware evidence: what any evidence this node appraises must pass (io thread).
  const tee::Policy& policy() const { return transport_.policy(); }
  const tee::Collateral& collateral() const { return transport_.collateral(); }
  // The operator added collateral (supernet attest collateral add): peers are appraised again.
  void set_collateral(tee::Collateral collateral) { transport_.set_collateral(std::move(collateral)); }
  bool connected(uint32_t peer) const { return transport_.connected(peer); }
  // The last appraisal of a peer's evidence (its handshake or a re-attestation of the session).
  std::optional<net::Appraisal> appraisal(uint32_t peer) const { return transport_.appraisal(peer); }
  // Health for the scheduler: this node, and any validator the failure detector does not
  // suspect (with fault detection off: every validator).
  bool healthy(uint32_t peer) const;
  bool phi_accrual() const { return phi_accrual_; }
  // Validators suspected now, and a peer's φ (0 for self or with fault detection off).
  std::vector<uint32_t> suspected() const;
  double phi(uint32_t peer) const;
  const std::vector<Isolation>& isolations() const { return isolations_; }
  uint64_t committed_txs() const { return committed_txs_; }
  // A store write failed: the node stops taking part rather than diverge from its disk.
  bool failed() const { return failed_; }

 private:
  consensus::TimeMs now() const;
  void process(consensus::Output& out);
  // After the membership changed: connect to added validators, drop removed ones, and accept
  // the measurements the members allowed.
  void follow_membership();
  void schedule_tick();

  std::unique_ptr<ledger::Store> store_;
  consensus::Replica replica_;
  tee::Policy base_policy_;   // the operator's; governance may replace its measurements
  std::optional<tee::Policy> policy_floor_;
  Status check_floor(const tee::Policy& policy) const;
  void install_clone_detection();
  std::set<uint32_t> peers_;  // validators the transport knows
  net::Transport transport_;
  asio::steady_timer ticker_;
  std::chrono::steady_clock::time_point started_;
  int64_t tick_ms_;
  std::vector<OnCommit> on_commit_;
  OnAppFrame on_app_frame_, on_key_frame_;
  void deliver_app(uint32_t from, Bytes frame);
  std::function<void(int64_t)> on_tick_;
  asio::io_context& io_;
  std::vector<Isolation> isolations_;
  std::vector<PendingRecovery> recoveries_;
  void retry_recoveries();
  uint64_t followed_epoch_ = 0;
  consensus::PolicyAdjustments followed_adjustments_;  // governance's changes the transport's policy has
  uint64_t committed_txs_ = 0;
  consensus::FailureDetector detector_;
  bool phi_accrual_ = true;
  int64_t last_heartbeat_ = -1000000;
  void detect_failures();
  bool stopped_ = false;
  bool failed_ = false;
  LogLimiter log_limit_;  // warnings a peer can repeat at will
};

}  // namespace supernet::node
