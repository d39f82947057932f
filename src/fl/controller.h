// The federated round controller: a deterministic state machine (no clock, socket or random
// source inside; time comes in as arguments), so the real aggregator and the simulator drive
// the same code.
//
// A round: sample the parties (strategy.fraction of those available, at least min_parties),
// send each the global model to train on (fit), collect their updated models until all have
// answered or the round's deadline passes, aggregate (the strategy, or the differential
// privacy aggregator), send the new model out for evaluation on the parties' held-out rows,
// collect those, and emit a RoundRecord (what goes on the ledger: parties, the hash of each
// update, the hash of the new model, the metrics). A party that drops out mid-round is
// tolerated while at least min_parties answered; with fewer the round is tried again with a
// new sample (at most max_attempts times) and the job fails after that. If the aggregator dies,
// a new controller resumes from the last recorded round, given the model whose hash the record
// holds.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "fl/strategy.h"
#include "util/bytes.h"

namespace supernet::fl {

using TimeMs = int64_t;

struct JobConfig {
  std::string id;
  ModelSpec model;
  int rounds = 10;
  double fraction = 1.0;
  int min_parties = 2;
  TrainOptions local;  // epochs, batch, learning rate, optimizer; the seed is mixed per round and party
  StrategyConfig strategy;
  DpConfig dp;
  uint64_t seed = 1;
  TimeMs round_timeout_ms = 30000;
  int max_attempts = 3;
};

// SHA-256 of the parameters as little-endian IEEE-754 floats.
Bytes model_hash(const std::vector<float>& params);

struct RoundRecord {
  int round = 0;
  std::vector<std::string> parties;  // whose updates were aggregated
  std::vector<Bytes> update_hashes;  // model_hash of each of their updates, same order
  Bytes model_hash;                  // of the new global model
  Metrics train;                     // example-weighted over the parties' local training
  Metrics eval;                      // example-weighted over the parties' held-out rows
  double epsilon = 0;                // differential privacy spent so far (0 without DP)
  int attempts = 1;
  std::vector<std::string> dropped;  // selected but did not answer in time
};

// The training options of `party` in `round` of a job: the job's local options as its strategy
// configures them, with a seed mixed from the job's, the round and the party's name (stable
// everywhere). The aggregator sends these; a party computes them itself from the job on the
// ledger and trains with nothing else.
TrainOptions fit_options(const JobConfig& cfg, const Strategy& strategy, int round, const std::string& party);
// Whether two option sets train alike (prox_center aside, which is always the round's model).
bool same_training(const TrainOptions& a, const TrainOptions& b);

class RoundController {
 public:
  struct Request {
    enum class Kind { kFit, kEvaluate };
    Kind kind = Kind::kFit;
    std::string party;
    int round = 0;
    std::shared_ptr<const std::vector<float>> model;
    TrainOptions options;  // for fit
  };
  struct Output {
    std::vector<Request> requests;
    std::vector<RoundRecord> records;
    bool finished = false;
    std::optional<Error> failed;
    std::vector<std::string> events;  // human-readable progress
  };
  enum class Phase { kIdle, kFit, kEvaluate, kDone, kFailed };

  static Result<std::unique_ptr<RoundController>> create(JobConfig config);

  // Parties that can be asked (the scheduler's view); takes effect from the next sample.
  void set_available(std::vector<std::string> parties);
  Status start(TimeMs now, std::vector<float> initial, Output& out);
  // Continues after `last` (a committed record) with `model`, which must hash to
  // last.model_hash.
  Status resume(TimeMs now, const RoundRecord& last, std::vector<float> model, Output& out);
  void on_fit(TimeMs now, int round, FitResult result, Output& out);
  void on_evaluate(TimeMs now, int round, EvaluateResult result, Output& out);
  void on_tick(TimeMs now, Output& out);

  Phase phase() const { return phase_; }
  int round() const { return round_; }
  const std::vector<float>& global() const { return *global_; }
  const JobConfig& config() const { return cfg_; }

 private:
  RoundController(JobConfig cfg, std::unique_ptr<Strategy> strategy);
  void begin_round(TimeMs now, Output& out);
  void finish_fit(TimeMs now, Output& out);
  void finish_round(Output& out);
  void fail(const std::string& why, Output& out);

  JobConfig cfg_;
  std::unique_ptr<Strategy> strategy_;
  std::optional<DpAggregator> dp_;
  std::vector<std::string> available_;
  Phase phase_ = Phase::kIdle;
  int round_ = 0;
  int attempt_ = 0;
  TimeMs deadline_ = 0;
  std::shared_ptr<const std::vector<float>> global_;
  std::set<std::string> selected_;
  std::set<std::string> timed_out_;  // this round, in earlier attempts
  std::map<std::string, FitResult> fits_;
  std::map<std::string, EvaluateResult> evals_;
  RoundRecord pending_;
};

}  // namespace supernet::fl
