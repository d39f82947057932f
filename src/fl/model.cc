#include "fl/model.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

namespace supernet::fl {

std::vector<size_t> ModelSpec::widths() const {
  std::vector<size_t> w{inputs};
  if (kind == Kind::kMlp) w.insert(w.end(), hidden.begin(), hidden.end());
  w.push_back(outputs());
  return w;
}

size_t ModelSpec::parameter_count() const {
  auto w = widths();
  size_t n = 0;
  for (size_t l = 1; l < w.size(); l++) n += w[l] * w[l - 1] + w[l];
  return n;
}

Status ModelSpec::validate() const {
  if (inputs == 0 || inputs > kFeaturesMax) return make_error("model.spec", "inputs must be 1 to " + std::to_string(kFeaturesMax));
  if (classes < 2 || classes > kClassesMax) return make_error("model.spec", "classes must be 2 to " + std::to_string(kClassesMax));
  if (kind == Kind::kMlp) {
    if (hidden.empty() || hidden.size() > 2) return make_error("model.spec", "an MLP has one or two hidden layers");
    for (size_t h : hidden) {
      if (h == 0 || h > 4096) return make_error("model.spec", "hidden layers must have 1 to 4096 units");
    }
  } else if (!hidden.empty()) {
    return make_error("model.spec", "logistic regression has no hidden layers");
  }
  if (parameter_count() > 50'000'000) return make_error("model.spec", "model too large");
  return ok_status();
}

Result<Model> Model::create(const ModelSpec& spec, uint64_t seed) {
  SN_TRY(spec.validate());
  Model m;
  m.spec_ = spec;
  m.params_.resize(spec.parameter_count());
  std::mt19937_64 rng(seed);
  auto w = spec.widths();
  size_t off = 0;
  for (size_t l = 1; l < w.size(); l++) {
    bool relu_after = l + 1 < w.size();
    double limit = relu_after ? std::sqrt(6.0 / static_cast<double>(w[l - 1])) : std::sqrt(6.0 / static_cast<double>(w[l - 1] + w[l]));
    std::uniform_real_distribution<double> u(-limit, limit);
    for (size_t i = 0; i < w[l] * w[l - 1]; i++) m.params_[off++] = static_cast<float>(u(rng));
    for (size_t i = 0; i < w[l]; i++) m.params_[off++] = 0.0f;
  }
  return m;
}

namespace {

// Activations of every layer for one row: acts[0] = input, acts[L] = output logits.
void forward(const ModelSpec& spec, const std::vector<float>& p, const float* x, std::vector<std::vector<float>>& acts) {
  auto w = spec.widths();
  acts.resize(w.size());
  acts[0].assign(x, x + w[0]);
  size_t off = 0;
  for (size_t l = 1; l < w.size(); l++) {
    const float* W = p.data() + off;
    const float* b = W + w[l] * w[l - 1];
    off += w[l] * w[l - 1] + w[l];
    auto& out = acts[l];
    out.assign(w[l], 0.0f);
    const auto& in = acts[l - 1];
    for (size_t j = 0; j < w[l]; j++) {
      const float* row = W + j * w[l - 1];
      float z = b[j];
      for (size_t i = 0; i < w[l - 1]; i++) z += row[i] * in[i];
      out[j] = (l + 1 < w.size()) ? std::max(z, 0.0f) : z;  // ReLU on hidden layers
    }
  }
}

// Probabilities from output logits (sigmoid for one output, softmax otherwise).
void probabilities(const std::vector<float>& logits, std::vector<float>& probs) {
  if (logits.size() == 1) {
    float p1 = 1.0f / (1.0f + std::exp(-logits[0]));
    probs = {1.0f - p1, p1};
    return;
  }
  float mx = *std::max_element(logits.begin(), logits.end());
  probs.resize(logits.size());
  float sum = 0;
  for (size_t k = 0; k < logits.size(); k++) sum += (probs[k] = std::exp(logits[k] - mx));
  for (auto& v : probs) v /= sum;
}

double row_loss(const std::vector<float>& probs, int label) {
  return -std::log(std::max(static_cast<double>(probs[static_cast<size_t>(label)]), 1e-12));
}

}  // namespace

void Model::predict(const float* x, std::vector<float>& probs) const {
  std::vector<std::vector<float>> acts;
  forward(spec_, params_, x, acts);
  probabilities(acts.back(), probs);
}

int Model::classify(const float* x) const {
  std::vector<float> probs;
  predict(x, probs);
  return static_cast<int>(std::max_element(probs.begin(), probs.end()) - probs.begin());
}

double Model::add_gradient(const Dataset& d, const size_t* rows, size_t n, std::vector<float>& grad) const {
  auto w = spec_.widths();
  std::vector<std::vector<float>> acts;
  std::vector<float> probs, delta, prev_delta;
  double loss = 0;
  for (size_t r = 0; r < n; r++) {
    const float* x = d.row(rows[r]);
    int label = d.y[rows[r]];
    forward(spec_, params_, x, acts);
    probabilities(acts.back(), probs);
    loss += row_loss(probs, label);
    // Output error: p - y (sigmoid with BCE, or softmax with cross-entropy).
    if (w.back() == 1) {
      delta = {probs[1] - (label == 1 ? 1.0f : 0.0f)};
    } else {
      delta = probs;
      delta[static_cast<size_t>(label)] -= 1.0f;
    }
    // Back through the layers, last to first.
    size_t off = params_.size();
    for (size_t l = w.size() - 1; l >= 1; l--) {
      off -= w[l] * w[l - 1] + w[l];
      const float* W = params_.data() + off;
      float* gW = grad.data() + off;
      float* gb = gW + w[l] * w[l - 1];
      const auto& in = acts[l - 1];
      for (size_t j = 0; j < w[l]; j++) {
        float dj = delta[j];
        if (dj == 0.0f) continue;
        float* grow = gW + j * w[l - 1];
        for (size_t i = 0; i < w[l - 1]; i++) grow[i] += dj * in[i];
        gb[j] += dj;
      }
      if (l == 1) break;
      prev_delta.assign(w[l - 1], 0.0f);
      for (size_t j = 0; j < w[l]; j++) {
        const float* row = W + j * w[l - 1];
        for (size_t i = 0; i < w[l - 1]; i++) prev_delta[i] += row[i] * delta[j];
      }
      for (size_t i = 0; i < w[l - 1]; i++) {
        if (in[i] <= 0.0f) prev_delta[i] = 0.0f;  // ReLU'
      }
      delta.swap(prev_delta);
    }
  }
  return loss;
}

Metrics evaluate(const Model& m, const Dataset& d) {
  Metrics out;
  std::vector<float> probs;
  size_t correct = 0;
  for (size_t i = 0; i < d.rows; i++) {
    m.predict(d.row(i), probs);
    out.loss += row_loss(probs, d.y[i]);
    correct += static_cast<int>(std::max_element(probs.begin(), probs.end()) - probs.begin()) == d.y[i];
  }
  out.examples = d.rows;
  if (d.rows > 0) {
    out.loss /= static_cast<double>(d.rows);
    out.accuracy = static_cast<double>(correct) / static_cast<double>(d.rows);
  }
  return out;
}

Metrics train(Model& m, const Dataset& d, const TrainOptions& o) {
  std::vector<float>& p = m.params();
  std::vector<float> grad(p.size()), adam_m, adam_v;
  if (o.optimizer == Optimizer::kAdam) {
    adam_m.assign(p.size(), 0);
    adam_v.assign(p.size(), 0);
  }
  std::vector<size_t> order(d.rows);
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(o.seed);
  size_t batch = std::max<size_t>(o.batch, 1);
  uint64_t step = 0;
  for (int e = 0; e < o.epochs; e++) {
    std::shuffle(order.begin(), order.end(), rng);
    for (size_t start = 0; start < d.rows; start += batch) {
      size_t n = std::min(batch, d.rows - start);
      std::fill(grad.begin(), grad.end(), 0.0f);
      m.add_gradient(d, order.data() + start, n, grad);
      float scale = 1.0f / static_cast<float>(n);
      for (size_t i = 0; i < p.size(); i++) {
        float g = grad[i] * scale + o.l2 * p[i];
        if (o.prox_mu > 0 && o.prox_center != nullptr) g += o.prox_mu * (p[i] - (*o.prox_center)[i]);
        grad[i] = g;
      }
      step++;
      if (o.optimizer == Optimizer::kSgd) {
        for (size_t i = 0; i < p.size(); i++) p[i] -= o.learning_rate * grad[i];
      } else {
        const float b1 = 0.9f, b2 = 0.999f, eps = 1e-8f;
        float c1 = 1.0f - std::pow(b1, static_cast<float>(step)), c2 = 1.0f - std::pow(b2, static_cast<float>(step));
        for (size_t i = 0; i < p.size(); i++) {
          adam_m[i] = b1 * adam_m[i] + (1 - b1) * grad[i];
          adam_v[i] = b2 * adam_v[i] + (1 - b2) * grad[i] * grad[i];
          p[i] -= o.learning_rate * (adam_m[i] / c1) / (std::sqrt(adam_v[i] / c2) + eps);
        }
      }
    }
  }
  return evaluate(m, d);
}

}  // namespace supernet::fl
