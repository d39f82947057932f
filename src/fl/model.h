// Models trained inside a party's node: logistic regression (binary with a sigmoid, multinomial
// with a softmax) and a small MLP (one or two ReLU hidden layers, softmax output), plain loops,
// all parameters in one flat float vector (what aggregation averages). Training is minibatch
// SGD or Adam, deterministic for a seed, with optional L2 and a FedProx proximal term.
#pragma once

#include <vector>

#include "fl/dataset.h"

namespace supernet::fl {

struct ModelSpec {
  enum class Kind { kLogistic, kMlp };
  Kind kind = Kind::kLogistic;
  size_t inputs = 0;
  int classes = 2;
  std::vector<size_t> hidden;  // MLP: one or two layer widths

  size_t outputs() const { return kind == Kind::kLogistic && classes == 2 ? 1 : static_cast<size_t>(classes); }
  // Layer widths from input to output.
  std::vector<size_t> widths() const;
  size_t parameter_count() const;
  Status validate() const;
};

struct Metrics {
  double loss = 0;
  double accuracy = 0;
  size_t examples = 0;
};

class Model {
 public:
  Model() = default;
  // Weights drawn uniformly (Glorot for linear outputs, He for ReLU layers) from the seed.
  static Result<Model> create(const ModelSpec& spec, uint64_t seed);
  const ModelSpec& spec() const { return spec_; }
  std::vector<float>& params() { return params_; }
  const std::vector<float>& params() const { return params_; }

  // Class probabilities of one row.
  void predict(const float* x, std::vector<float>& probs) const;
  int classify(const float* x) const;
  // Adds the gradient of the summed loss over `rows` of `d` to `grad` (size parameter_count);
  // returns the summed loss.
  double add_gradient(const Dataset& d, const size_t* rows, size_t n, std::vector<float>& grad) const;

 private:
  ModelSpec spec_;
  std::vector<float> params_;
};

Metrics evaluate(const Model& m, const Dataset& d);

enum class Optimizer { kSgd, kAdam };

struct TrainOptions {
  Optimizer optimizer = Optimizer::kSgd;
  float learning_rate = 0.1f;
  int epochs = 1;
  size_t batch = 32;
  uint64_t seed = 1;
  float l2 = 0;
  // FedProx: mu/2 * ||w - center||^2 added to the loss (center: the round's global model).
  float prox_mu = 0;
  const std::vector<float>* prox_center = nullptr;
};

// Trains on all of `d` and returns the metrics on `d` afterwards.
Metrics train(Model& m, const Dataset& d, const TrainOptions& o);

}  // namespace supernet::fl
