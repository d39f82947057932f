#include "consensus/scheduler.h"

#include <algorithm>

namespace supernet::consensus {

NodeId Scheduler::assign(const Task& task, size_t passes) const {
  const auto& c = task.candidates;
  if (c.empty() || c.size() > kTaskCandidatesMax) return 0;
  size_t start = 0;
  if (task.owner) {
    auto it = std::find(c.begin(), c.end(), *task.owner);
    if (it != c.end()) start = static_cast<size_t>(it - c.begin());
  }
  std::vector<NodeId> healthy;
  for (size_t i = 0; i < c.size(); i++) {
    NodeId n = c[(start + i) % c.size()];
    if (healthy_(n)) healthy.push_back(n);
  }
  if (healthy.empty()) return 0;
  return healthy[passes % healthy.size()];
}

}  // namespace supernet::consensus
