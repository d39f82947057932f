#include "fl/strategy.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace supernet::fl {

namespace {

Status check_shapes(const std::vector<float>& global, const std::vector<FitResult>& results) {
  if (results.empty()) return make_error("fl.aggregate", "no updates to aggregate");
  for (const auto& r : results) {
    if (r.params.size() != global.size()) {
      return make_error("fl.aggregate", "party " + r.party + " sent " + std::to_string(r.params.size()) + " parameters, the model has " +
                                            std::to_string(global.size()));
    }
    for (float v : r.params) {
      if (!std::isfinite(v)) return make_error("fl.aggregate", "party " + r.party + " sent a non-finite parameter");
    }
  }
  return ok_status();
}

std::vector<float> weighted_mean(const std::vector<FitResult>& results, size_t dim) {
  std::vector<double> acc(dim, 0.0);
  double total = 0;
  for (const auto& r : results) {
    double w = static_cast<double>(std::max<size_t>(r.examples, 1));
    total += w;
    for (size_t i = 0; i < dim; i++) acc[i] += w * r.params[i];
  }
  std::vector<float> out(dim);
  for (size_t i = 0; i < dim; i++) out[i] = static_cast<float>(acc[i] / total);
  return out;
}

class FedAvg : public Strategy {
 public:
  std::string name() const override { return "fedavg"; }
  Result<std::vector<float>> aggregate_fit(int, const std::vector<float>& global, const std::vector<FitResult>& results) override {
    SN_TRY(check_shapes(global, results));
    return weighted_mean(results, global.size());
  }
};

class FedProx : public FedAvg {
 public:
  explicit FedProx(float mu) : mu_(mu) {}
  std::string name() const override { return "fedprox"; }
  TrainOptions configure_fit(int, TrainOptions base) const override {
    base.prox_mu = mu_;
    return base;
  }

 private:
  float mu_;
};

class FedAdam : public Strategy {
 public:
  explicit FedAdam(const StrategyConfig& c) : c_(c) {}
  std::string name() const override { return "fedadam"; }
  Result<std::vector<float>> aggregate_fit(int, const std::vector<float>& global, const std::vector<FitResult>& results) override {
    SN_TRY(check_shapes(global, results));
    std::vector<float> avg = weighted_mean(results, global.size());
    if (m_.size() != global.size()) {
      m_.assign(global.size(), 0.0f);
      v_.assign(global.size(), 0.0f);
    }
    std::vector<float> out(global.size());
    for (size_t i = 0; i < global.size(); i++) {
      float delta = avg[i] - global[i];  // the pseudo-gradient, pointing downhill
      m_[i] = c_.server_beta1 * m_[i] + (1 - c_.server_beta1) * delta;
      v_[i] = c_.server_beta2 * v_[i] + (1 - c_.server_beta2) * delta * delta;
      out[i] = global[i] + c_.server_lr * m_[i] / (std::sqrt(v_[i]) + c_.server_tau);
    }
    return out;
  }

 private:
  StrategyConfig c_;
  std::vector<float> m_, v_;
};

class Median : public Strategy {
 public:
  std::string name() const override { return "median"; }
  Result<std::vector<float>> aggregate_fit(int, const std::vector<float>& global, const std::vector<FitResult>& results) override {
    SN_TRY(check_shapes(global, results));
    std::vector<float> out(global.size()), col(results.size());
    for (size_t i = 0; i < global.size(); i++) {
      for (size_t k = 0; k < results.size(); k++) col[k] = results[k].params[i];
      size_t mid = col.size() / 2;
      std::nth_element(col.begin(), col.begin() + static_cast<std::ptrdiff_t>(mid), col.end());
      float hi = col[mid];
      if (col.size() % 2 == 1) {
        out[i] = hi;
      } else {
        float lo = *std::max_element(col.begin(), col.begin() + static_cast<std::ptrdiff_t>(mid));
        out[i] = (lo + hi) / 2;
      }
    }
    return out;
  }
};

class TrimmedMean : public Strategy {
 public:
  explicit TrimmedMean(float trim) : trim_(trim) {}
  std::string name() const override { return "trimmed_mean"; }
  Result<std::vector<float>> aggregate_fit(int, const std::vector<float>& global, const std::vector<FitResult>& results) override {
    SN_TRY(check_shapes(global, results));
    size_t n = results.size();
    size_t cut = static_cast<size_t>(std::floor(trim_ * static_cast<float>(n)));
    if (2 * cut >= n) return make_error("fl.aggregate", "trimmed mean would drop every one of " + std::to_string(n) + " updates");
    std::vector<float> out(global.size()), col(n);
    for (size_t i = 0; i < global.size(); i++) {
      for (size_t k = 0; k < n; k++) col[k] = results[k].params[i];
      std::sort(col.begin(), col.end());
      double sum = 0;
      for (size_t k = cut; k < n - cut; k++) sum += col[k];
      out[i] = static_cast<float>(sum / static_cast<double>(n - 2 * cut));
    }
    return out;
  }

 private:
  float trim_;
};

class Krum : public Strategy {
 public:
  Krum(int f, int m) : f_(f), m_(m) {}
  std::string name() const override { return m_ > 1 ? "multi_krum" : "krum"; }
  Result<std::vector<float>> aggregate_fit(int, const std::vector<float>& global, const std::vector<FitResult>& results) override {
    SN_TRY(check_shapes(global, results));
    size_t n = results.size();
    if (static_cast<int>(n) <= 2 * f_ + 2) {
      return make_error("fl.aggregate", "krum with f = " + std::to_string(f_) + " needs more than " + std::to_string(2 * f_ + 2) +
                                            " updates, got " + std::to_string(n));
    }
    std::vector<std::vector<double>> dist(n, std::vector<double>(n, 0));
    for (size_t a = 0; a < n; a++) {
      for (size_t b = a + 1; b < n; b++) {
        double d = 0;
        for (size_t i = 0; i < global.size(); i++) {
          double x = static_cast<double>(results[a].params[i]) - results[b].params[i];
          d += x * x;
        }
        dist[a][b] = dist[b][a] = d;
      }
    }
    size_t neighbours = n - static_cast<size_t>(f_) - 2;
    std::vector<std::pair<double, size_t>> scores;
    for (size_t a = 0; a < n; a++) {
      std::vector<double> d;
      for (size_t b = 0; b < n; b++) {
        if (b != a) d.push_back(dist[a][b]);
      }
      std::sort(d.begin(), d.end());
      scores.push_back({std::accumulate(d.begin(), d.begin() + static_cast<std::ptrdiff_t>(neighbours), 0.0), a});
    }
    std::sort(scores.begin(), scores.end());
    size_t keep = std::clamp<size_t>(static_cast<size_t>(m_), 1, n);
    std::vector<FitResult> best;
    for (size_t k = 0; k < keep; k++) best.push_back(results[scores[k].second]);
    for (auto& b : best) b.examples = 1;  // the chosen ones count equally
    return weighted_mean(best, global.size());
  }

 private:
  int f_, m_;
};

}  // namespace

TrainOptions Strategy::configure_fit(int, TrainOptions base) const { return base; }

Metrics Strategy::aggregate_evaluate(const std::vector<EvaluateResult>& results) {
  Metrics out;
  double loss = 0, correct = 0;
  for (const auto& r : results) {
    double n = static_cast<double>(r.metrics.examples);
    loss += r.metrics.loss * n;
    correct += r.metrics.accuracy * n;
    out.examples += r.metrics.examples;
  }
  if (out.examples > 0) {
    out.loss = loss / static_cast<double>(out.examples);
    out.accuracy = correct / static_cast<double>(out.examples);
  }
  return out;
}

Result<std::unique_ptr<Strategy>> make_strategy(const StrategyConfig& c) {
  if (c.name == "fedavg") return std::unique_ptr<Strategy>(new FedAvg());
  if (c.name == "fedprox") {
    if (c.prox_mu < 0) return make_error("fl.strategy", "fedprox needs mu >= 0");
    return std::unique_ptr<Strategy>(new FedProx(c.prox_mu));
  }
  if (c.name == "fedadam") return std::unique_ptr<Strategy>(new FedAdam(c));
  if (c.name == "median") return std::unique_ptr<Strategy>(new Median());
  if (c.name == "trimmed_mean") {
    if (c.trim < 0 || c.trim >= 0.5f) return make_error("fl.strategy", "trimmed_mean needs 0 <= trim < 0.5");
    return std::unique_ptr<Strategy>(new TrimmedMean(c.trim));
  }
  if (c.name == "krum" || c.name == "multi_krum") {
    if (c.byzantine < 0) return make_error("fl.strategy", "krum needs byzantine >= 0");
    return std::unique_ptr<Strategy>(new Krum(c.byzantine, c.name == "krum" ? 1 : std::max(c.multi_krum, 1)));
  }
  return make_error("fl.strategy", "unknown strategy '" + c.name + "' (fedavg, fedprox, fedadam, median, trimmed_mean, krum, multi_krum)");
}

std::vector<std::string> sample_parties(const std::vector<std::string>& available, double fraction, int min_parties, uint64_t seed, int round) {
  std::vector<std::string> pool = available;
  std::sort(pool.begin(), pool.end());
  size_t want = static_cast<size_t>(std::ceil(fraction * static_cast<double>(pool.size())));
  want = std::clamp<size_t>(std::max<size_t>(want, static_cast<size_t>(std::max(min_parties, 1))), 0, pool.size());
  std::mt19937_64 rng(seed ^ (0x9e3779b97f4a7c15ULL * static_cast<uint64_t>(round + 1)));
  std::shuffle(pool.begin(), pool.end(), rng);
  pool.resize(want);
  std::sort(pool.begin(), pool.end());
  return pool;
}

namespace {

// The factor that brings params - global within an L2 norm of `clip`.
double clip_scale(const std::vector<float>& params, const std::vector<float>& global, double clip) {
  double norm = 0;
  for (size_t i = 0; i < global.size(); i++) {
    double d = static_cast<double>(params[i]) - global[i];
    norm += d * d;
  }
  norm = std::sqrt(norm);
  return norm > clip ? clip / norm : 1.0;
}

}  // namespace

void local_dp(std::vector<float>& params, const std::vector<float>& global, double clip, double noise_multiplier, std::mt19937_64& rng) {
  double scale = clip_scale(params, global, clip);
  std::normal_distribution<double> noise(0.0, noise_multiplier * clip);
  for (size_t i = 0; i < global.size(); i++) {
    params[i] = static_cast<float>(global[i] + scale * (static_cast<double>(params[i]) - global[i]) + noise(rng));
  }
}

std::vector<float> DpAggregator::aggregate(const std::vector<float>& global, const std::vector<FitResult>& results) {
  std::vector<double> sum(global.size(), 0.0);
  for (const auto& r : results) {
    double scale = clip_scale(r.params, global, config_.clip);
    for (size_t i = 0; i < global.size(); i++) sum[i] += scale * (static_cast<double>(r.params[i]) - global[i]);
  }
  double n = static_cast<double>(std::max<size_t>(results.size(), 1));
  std::normal_distribution<double> noise(0.0, config_.noise_multiplier * config_.clip / n);
  std::vector<float> out(global.size());
  for (size_t i = 0; i < global.size(); i++) out[i] = static_cast<float>(global[i] + sum[i] / n + noise(rng_));
  return out;
}

double DpAggregator::epsilon(int rounds) const { return gaussian_rdp_epsilon(config_.noise_multiplier, rounds, config_.delta); }

void add_scaled(float* __restrict acc, const float* __restrict x, float w, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    float t[8];
    for (int k = 0; k < 8; k++) t[k] = acc[i + k] + w * x[i + k];
    for (int k = 0; k < 8; k++) acc[i + k] = t[k];
  }
  for (; i < n; i++) acc[i] += w * x[i];
}

double gaussian_rdp_epsilon(double z, int rounds, double delta) {
  if (z <= 0 || rounds <= 0 || delta <= 0 || delta >= 1) return std::numeric_limits<double>::infinity();
  // RDP of the Gaussian mechanism at order a is a / (2 z^2); composition adds; then
  // epsilon = min over a of rounds * a / (2 z^2) + log(1 / delta) / (a - 1).
  double best = std::numeric_limits<double>::infinity();
  for (double a = 1.01; a <= 10000; a *= 1.01) {
    best = std::min(best, rounds * a / (2 * z * z) + std::log(1 / delta) / (a - 1));
  }
  return best;
}

}  // namespace supernet::fl
