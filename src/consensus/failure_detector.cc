#include "consensus/failure_detector.h"

#include <algorithm>
#include <cassert>
#include <cmath>

namespace supernet::consensus {

FailureDetector::FailureDetector(FailureDetectorConfig cfg) : cfg_(cfg) {
  cfg_.window = std::clamp<size_t>(cfg_.window, 1, kFailureWindowMax);
  cfg_.min_std_dev_ms = std::max<TimeMs>(cfg_.min_std_dev_ms, 1);
  cfg_.prior_interval_ms = std::max<TimeMs>(cfg_.prior_interval_ms, 1);
}

void FailureDetector::watch(NodeId peer, TimeMs now) {
  auto [it, added] = peers_.try_emplace(peer);
  if (!added) return;
  it->second.last = now;
  // A short history at the heartbeat period, so that the first silence is judged sensibly.
  add_interval(it->second, cfg_.prior_interval_ms);
  add_interval(it->second, cfg_.prior_interval_ms);
}

void FailureDetector::forget(NodeId peer) { peers_.erase(peer); }

void FailureDetector::add_interval(Peer& p, TimeMs gap) {
  double g = static_cast<double>(std::max<TimeMs>(gap, 0));
  p.intervals.push_back(gap);
  p.sum += g;
  p.sum_sq += g * g;
  while (p.intervals.size() > cfg_.window) {
    double old = static_cast<double>(p.intervals.front());
    p.intervals.pop_front();
    p.sum -= old;
    p.sum_sq -= old * old;
  }
}

void FailureDetector::heard(NodeId peer, TimeMs now) {
  auto it = peers_.find(peer);
  if (it == peers_.end()) return;
  Peer& p = it->second;
  if (now < p.last) return;  // the clock is monotonic; a shifted "last" may be ahead after a stall
  if (now - p.last <= cfg_.max_interval_ms) add_interval(p, now - p.last);
  p.last = now;
}

double FailureDetector::phi_of(const Peer& p, TimeMs now) const {
  assert(!p.intervals.empty());
  double n = static_cast<double>(p.intervals.size());
  double mean = p.sum / n;
  double var = std::max(0.0, p.sum_sq / n - mean * mean);
  double sd = std::max(std::sqrt(var), static_cast<double>(cfg_.min_std_dev_ms));
  double expected = mean + static_cast<double>(cfg_.acceptable_pause_ms);
  double t = static_cast<double>(std::max<TimeMs>(now - p.last, 0));
  // The logistic approximation of the normal tail (Akka's), accurate to about 1e-3 in φ and
  // monotonic in t: φ = -log10(1 - CDF(t)).
  double y = (t - expected) / sd;
  double e = std::exp(-y * (1.5976 + 0.070566 * y * y));
  if (t > expected) return -std::log10(e / (1.0 + e));
  return -std::log10(1.0 - 1.0 / (1.0 + e));
}

double FailureDetector::phi(NodeId peer, TimeMs now) const {
  auto it = peers_.find(peer);
  return it == peers_.end() ? 0 : phi_of(it->second, now);
}

bool FailureDetector::suspected(NodeId peer, TimeMs now) const { return phi(peer, now) >= cfg_.threshold; }

std::vector<FailureDetector::Change> FailureDetector::tick(TimeMs now) {
  if (last_tick_ >= 0 && now - last_tick_ > cfg_.stall_ms) {
    TimeMs gap = now - last_tick_;
    for (auto& [id, p] : peers_) p.last = std::min(now, p.last + gap);
  }
  last_tick_ = now;
  std::vector<Change> changes;
  for (auto& [id, p] : peers_) {
    double f = phi_of(p, now);
    bool s = f >= cfg_.threshold;
    if (s != p.suspected) {
      p.suspected = s;
      changes.push_back({id, s, f});
    }
  }
  return changes;
}

}  // namespace supernet::consensus
