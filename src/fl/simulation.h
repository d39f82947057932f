// A deterministic federation in one process: the real RoundController and real local training
// on real data partitions, a simulated clock, and seeded faults (parties that drop out of a
// round, an aggregator that crashes and is replaced, parties that poison their updates). Used
// by the tests that check robustness and accuracy, and as the reference the networked runs are
// compared with.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "fl/controller.h"

namespace supernet::fl {

struct Party {
  std::string name;
  Dataset train, test;  // its own rows, split locally; standardized with the federation's statistics
  bool poisoned = false;
};

// Splits each partition of `d` into a party's train and test rows (test_fraction, seeded), and
// standardizes everything with statistics summed over the parties' training rows (what a
// standardization round computes inside the aggregator: counts, sums and sums of squares).
std::vector<Party> make_parties(const Dataset& d, const std::vector<std::vector<size_t>>& partitions, double test_fraction, uint64_t seed);

struct SimFaults {
  std::set<std::pair<std::string, int>> drop;  // (party, round): it never answers that round
  int crash_aggregator_after = 0;              // > 0: the aggregator dies after this round is recorded
  float poison_scale = 10.0f;                  // a poisoned party sends global - scale * (its change)
};

struct SimOutcome {
  bool ok = true;
  std::string failure;
  std::vector<RoundRecord> records;
  std::vector<std::string> events;
  std::vector<float> model;
  Metrics final_eval;  // the final model on every party's held-out rows together
  int aggregators = 1;  // how many controllers ran (2 after a crash)
};

SimOutcome simulate_federation(const JobConfig& job, std::vector<Party>& parties, const SimFaults& faults = {});

// The same model trained centrally on the union of the parties' training rows (epochs as given),
// evaluated on the union of their held-out rows; `out`, if given, receives the model.
Metrics train_central(const ModelSpec& spec, const std::vector<Party>& parties, TrainOptions options, uint64_t seed, Model* out = nullptr);

}  // namespace supernet::fl
