// The scheduler seam: who runs a task, given who is healthy. Generic (a task, its candidates,
// its current owner, a health view), deterministic and sans-IO: every node that sees the same
// ledger and the same health computes the same assignment, and nodes whose health views differ
// for a moment may both start the task, which each service settles on its own (federated
// learning: the first round record committed wins and the other aggregator stands down).
//
//   - a healthy owner keeps its task (no churn when a node that had failed comes back);
//   - otherwise the task goes to the first healthy candidate after the owner, in candidate
//     order, wrapping around ("the next scheduled node");
//   - `passes` moves it on that many healthy candidates further: a service's backstop for an
//     owner that looks healthy but makes no progress (FL: one pass per 10 s without a round).
//
// Federated learning aggregation uses it now; agent deployments are to use the same seam.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "consensus/types.h"

namespace supernet::consensus {

struct Task {
  std::string id;                  // for logs
  std::vector<NodeId> candidates;  // in preference order, each once
  std::optional<NodeId> owner;     // who runs it now (from the ledger), if anyone
};

inline constexpr size_t kTaskCandidatesMax = 1024;

class Scheduler {
 public:
  using Healthy = std::function<bool(NodeId)>;
  explicit Scheduler(Healthy healthy) : healthy_(std::move(healthy)) {}
  // The node that should run `task` now; 0 when no candidate is healthy (or there are none,
  // or more than kTaskCandidatesMax).
  NodeId assign(const Task& task, size_t passes = 0) const;

 private:
  Healthy healthy_;
};

}  // namespace supernet::consensus
