// Aggregation strategies, shaped like Flower's: configure a round (who takes part, with what
// local settings), aggregate the parties' fit results into a new global model, aggregate their
// evaluation results. Pure functions of their inputs and a seed; they run inside the
// aggregator's TEE, on plaintext updates that reached it over attested channels.
//
//   fedavg        mean of the parties' models weighted by their example counts
//   fedprox       FedAvg aggregation; parties add (mu/2)||w - global||^2 to their local loss
//   fedadam       the averaged change is a pseudo-gradient for a server-side Adam step
//   median        coordinate-wise median (robust to a minority of poisoned updates)
//   trimmed_mean  coordinate-wise mean after dropping the `trim` fraction at each end
//   krum / multi_krum  the update(s) closest to their n - f - 2 nearest neighbours
// Differential privacy (DpConfig) wraps any of them: each party's change is clipped to an L2
// norm, the clipped changes are averaged uniformly, and Gaussian noise of standard deviation
// noise_multiplier * clip / n is added; an RDP accountant reports epsilon at the given delta.
#pragma once

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "fl/model.h"

namespace supernet::fl {

struct FitResult {
  std::string party;
  std::vector<float> params;  // the party's model after local training
  size_t examples = 0;
  Metrics train;  // on its own training rows, after training
};

struct EvaluateResult {
  std::string party;
  Metrics metrics;  // of the new global model on the party's held-out rows
};

struct StrategyConfig {
  std::string name = "fedavg";
  float prox_mu = 0.01f;       // fedprox
  float server_lr = 0.1f;      // fedadam (eta)
  float server_beta1 = 0.9f, server_beta2 = 0.99f, server_tau = 1e-3f;
  float trim = 0.2f;           // trimmed_mean: fraction dropped at each end
  int byzantine = 1;           // krum: f
  int multi_krum = 1;          // krum: how many of the best to average (1: Krum)
};

struct DpConfig {
  bool enabled = false;
  float clip = 1.0f;               // L2 bound on each party's change
  float noise_multiplier = 1.0f;   // z: noise standard deviation is z * clip / n
  double delta = 1e-5;
};

class Strategy {
 public:
  virtual ~Strategy() = default;
  virtual std::string name() const = 0;
  // Local training settings for this round's parties (FedProx adds its proximal term).
  virtual TrainOptions configure_fit(int round, TrainOptions base) const;
  virtual Result<std::vector<float>> aggregate_fit(int round, const std::vector<float>& global, const std::vector<FitResult>& results) = 0;
  // Example-weighted loss and accuracy.
  static Metrics aggregate_evaluate(const std::vector<EvaluateResult>& results);
};

Result<std::unique_ptr<Strategy>> make_strategy(const StrategyConfig& config);

// Which parties take part: a seeded sample of ceil(fraction * available), at least `min_parties`
// (all of them when fewer are available).
std::vector<std::string> sample_parties(const std::vector<std::string>& available, double fraction, int min_parties,
                                        uint64_t seed, int round);

// Differential privacy around a strategy's aggregation.
class DpAggregator {
 public:
  DpAggregator(DpConfig config, uint64_t seed) : config_(config), rng_(seed) {}
  // Clips each party's change, averages uniformly, adds Gaussian noise; returns the new global.
  std::vector<float> aggregate(const std::vector<float>& global, const std::vector<FitResult>& results);
  // Epsilon spent after `rounds` rounds at config.delta (Gaussian mechanism, RDP composition;
  // no credit is taken for sampling parties).
  double epsilon(int rounds) const;

 private:
  DpConfig config_;
  std::mt19937_64 rng_;
};

// Local DP, at a party before its update leaves the node: params - global clipped to an L2 norm
// of `clip`, then Gaussian noise of standard deviation noise_multiplier * clip on every value.
void local_dp(std::vector<float>& params, const std::vector<float>& global, double clip, double noise_multiplier, std::mt19937_64& rng);

// acc[i] += w * x[i]: the aggregator's inner loop (written so that the compiler vectorizes it).
void add_scaled(float* __restrict acc, const float* __restrict x, float w, size_t n);

// Epsilon of `rounds` compositions of the Gaussian mechanism with noise multiplier z, at delta.
double gaussian_rdp_epsilon(double noise_multiplier, int rounds, double delta);

}  // namespace supernet::fl
