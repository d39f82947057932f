// Federated learning job files (TOML), validated with clear errors; unknown keys are refused so
// that a typo does not silently fall back to a default.
//
//   name = "breast-cancer-fedavg"
//   rounds = 20
//   fraction = 1.0             # of the parties, per round
//   min_parties = 2
//   seed = 7
//   round_timeout_s = 30
//   model_readers = ["member"] # clients allowed to download the final model
//   [model]
//   kind = "logistic"          # or "mlp"
//   hidden = [64]              # mlp: one or two layers
//   [training]                 # local training on each party
//   epochs = 1
//   batch = 16
//   learning_rate = 0.05
//   optimizer = "sgd"          # or "adam"
//   l2 = 0.0001
//   [strategy]
//   name = "fedavg"            # fedprox, fedadam, median, trimmed_mean, krum, multi_krum
//   prox_mu = 0.01             # fedprox
//   server_lr = 0.1            # fedadam
//   trim = 0.2                 # trimmed_mean
//   byzantine = 1              # krum, multi_krum
//   multi_krum = 3
//   [dp]
//   enabled = true
//   clip = 1.0
//   noise_multiplier = 1.0
//   delta = 1e-5
//   [[parties]]                # the data set each party trains on
//   node = 2
//   dataset = "hospital-a"     # the submitter's own; another client's is "OWNER/NAME"
#pragma once

#include <string>
#include <vector>

#include "fl/controller.h"

namespace supernet::fl {

struct JobParty {
  uint32_t node = 0;
  std::string dataset;
};

struct JobSpec {
  std::string name;
  JobConfig config;  // model inputs and classes are filled in from the parties' data sets
  std::vector<JobParty> parties;
  std::vector<std::string> model_readers;
};

Result<JobSpec> parse_job(std::string_view toml_text, const std::string& source = "job");

}  // namespace supernet::fl
