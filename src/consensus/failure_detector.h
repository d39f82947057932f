// An adaptive failure detector: φ-accrual (Hayashibara et al., 2004; as in Akka and Cassandra),
// sans-IO. The runtime feeds it the arrival times of what each peer's link delivers (every
// frame counts, and idle links carry a heartbeat every kHeartbeatMs); it keeps a bounded window
// of inter-arrival times per peer and reports
//
//   φ(t) = -log10(P(the next arrival comes later than t after the last one)),
//
// with arrivals modelled as normal (mean + acceptable pause, standard deviation at least
// min_std_dev_ms). A peer is suspected while φ ≥ threshold: φ = 8 means the silence had a
// 1e-8 chance under the peer's own recent rhythm. It adapts: a link whose frames come every
// few milliseconds under load and one that only carries heartbeats are judged by their own
// history, and the acceptable pause keeps a loaded machine's hiccups from counting.
//
// The observer's own stalls (its thread descheduled, a long disk write) are not the peers'
// fault: a tick that comes more than stall_ms after the previous one moves every peer's last
// arrival forward by the gap, so a paused node does not wake up suspecting everyone.
//
// Intervals longer than max_interval_ms are outages and are not learnt (as Cassandra caps them):
// otherwise one partition would teach the detector to wait out the next real failure.
//
// A peer that is watched but never heard from counts as if heard at the moment watching began,
// with the prior interval: a node dead at this one's start is suspected like any other.
#pragma once

#include <deque>
#include <map>
#include <vector>

#include "consensus/types.h"

namespace supernet::consensus {

struct FailureDetectorConfig {
  double threshold = 8.0;
  TimeMs min_std_dev_ms = 150;
  TimeMs acceptable_pause_ms = 500;
  TimeMs prior_interval_ms = 200;  // the heartbeat period: the history a new peer starts with
  TimeMs stall_ms = 250;           // a tick gap longer than this is the observer's own pause
  // A silence longer than this was an outage (a partition, a restart), not the link's rhythm:
  // it is not learnt, so a peer that was cut off once is still suspected within 2 s the next
  // time (with every sample at most this, φ reaches 8 by mean + pause + 5.3 sd = 1.8 s).
  TimeMs max_interval_ms = 500;
  size_t window = 200;             // inter-arrival samples kept per peer (kFailureWindowMax at most)
};

inline constexpr size_t kFailureWindowMax = 1000;
inline constexpr TimeMs kHeartbeatMs = 200;  // the runtime's heartbeat period on idle links

class FailureDetector {
 public:
  explicit FailureDetector(FailureDetectorConfig cfg = {});

  // Starts judging `peer` as of `now` (idempotent); forget() stops.
  void watch(NodeId peer, TimeMs now);
  void forget(NodeId peer);
  // Something arrived from `peer` (a frame or a heartbeat). Unwatched peers are ignored.
  void heard(NodeId peer, TimeMs now);
  // Call on every tick: discounts the observer's own stalls, then reports who changed state
  // since the previous call (suspected: true when it became suspected, false when trusted again).
  struct Change {
    NodeId peer = 0;
    bool suspected = false;
    double phi = 0;
  };
  std::vector<Change> tick(TimeMs now);

  double phi(NodeId peer, TimeMs now) const;  // 0 for a peer not watched
  bool suspected(NodeId peer, TimeMs now) const;
  bool watching(NodeId peer) const { return peers_.count(peer) != 0; }
  size_t samples(NodeId peer) const {
    auto it = peers_.find(peer);
    return it == peers_.end() ? 0 : it->second.intervals.size();
  }
  const FailureDetectorConfig& config() const { return cfg_; }

 private:
  struct Peer {
    TimeMs last = 0;
    std::deque<TimeMs> intervals;
    double sum = 0, sum_sq = 0;
    bool suspected = false;
  };
  void add_interval(Peer& p, TimeMs gap);
  double phi_of(const Peer& p, TimeMs now) const;

  FailureDetectorConfig cfg_;
  std::map<NodeId, Peer> peers_;
  TimeMs last_tick_ = -1;
};

}  // namespace supernet::consensus
