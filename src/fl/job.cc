#include "fl/job.h"

#include <cmath>
#include <set>
#include <sstream>
#include <toml++/toml.h>

#include "fl/wire.h"
#include "util/names.h"

namespace supernet::fl {

namespace {

struct Reader {
  const toml::table& t;
  std::string where;

  Status only(std::initializer_list<const char*> keys) const {
    std::set<std::string> allowed(keys.begin(), keys.end());
    for (const auto& [k, v] : t) {
      if (!allowed.count(std::string(k.str()))) return make_error("job.key", where + ": unknown key '" + std::string(k.str()) + "'");
    }
    return ok_status();
  }
  template <typename T>
  Result<T> number(const char* key, T def, double min, double max) const {
    const toml::node* n = t.get(key);
    if (n == nullptr) return def;
    std::optional<double> v = n->is_integer() ? std::optional<double>(static_cast<double>(*n->value<int64_t>())) : n->value<double>();
    if (!v || !std::isfinite(*v) || *v < min || *v > max) {
      std::ostringstream range;
      range << min << " to " << max;
      return make_error("job.value", where + ": '" + key + "' must be a number from " + range.str());
    }
    if (std::is_integral_v<T> && *v != std::floor(*v)) return make_error("job.value", where + ": '" + key + "' must be a whole number");
    return static_cast<T>(*v);
  }
  Result<std::string> text(const char* key, const std::string& def, std::initializer_list<const char*> choices = {}) const {
    const toml::node* n = t.get(key);
    if (n == nullptr) return def;
    auto v = n->value<std::string>();
    if (!v) return make_error("job.value", where + ": '" + key + "' must be a string");
    if (choices.size() > 0) {
      std::string list;
      for (const char* c : choices) {
        if (*v == c) return *v;
        list += (list.empty() ? "" : ", ") + std::string(c);
      }
      return make_error("job.value", where + ": '" + key + "' must be one of " + list);
    }
    return *v;
  }
  const toml::table* table(const char* key) const { return t.get(key) ? t.get(key)->as_table() : nullptr; }
};

}  // namespace

Result<JobSpec> parse_job(std::string_view text, const std::string& source) {
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    std::ostringstream msg;
    msg << source << ":" << e.source().begin.line << ": " << e.description();
    return make_error("job.syntax", msg.str());
  }
  Reader r{root, source};
  SN_TRY(r.only({"name", "rounds", "fraction", "min_parties", "seed", "round_timeout_s", "model_readers", "model", "training", "strategy", "dp",
                 "parties"}));
  JobSpec job;
  JobConfig& c = job.config;
  SN_ASSIGN(job.name, r.text("name", ""));
  if (!is_simple_name(job.name, 64)) {
    return make_error("job.value", source + ": 'name' must be 1 to 64 of A-Z a-z 0-9 . _ -");
  }
  SN_ASSIGN(c.rounds, r.number<int>("rounds", 10, 1, 10000));
  SN_ASSIGN(c.fraction, r.number<double>("fraction", 1.0, 1e-6, 1.0));
  SN_ASSIGN(c.min_parties, r.number<int>("min_parties", 2, 1, 1000));
  SN_ASSIGN(c.seed, r.number<uint64_t>("seed", 1, 0, 9.0e15));
  SN_ASSIGN(int timeout_s, r.number<int>("round_timeout_s", 60, 1, 86400));
  c.round_timeout_ms = int64_t{timeout_s} * 1000;
  if (const toml::node* readers = root.get("model_readers")) {
    const toml::array* a = readers->as_array();
    if (a == nullptr) return make_error("job.value", source + ": 'model_readers' must be a list of client names");
    for (const auto& n : *a) {
      auto v = n.value<std::string>();
      if (!v) return make_error("job.value", source + ": 'model_readers' must be a list of client names");
      job.model_readers.push_back(*v);
    }
  }

  const toml::table* model = r.table("model");
  if (model == nullptr) return make_error("job.missing", source + ": needs a [model] table");
  Reader m{*model, source + " [model]"};
  SN_TRY(m.only({"kind", "hidden"}));
  SN_ASSIGN(std::string kind, m.text("kind", "", {"logistic", "mlp"}));
  if (kind.empty()) return make_error("job.missing", source + " [model]: 'kind' is required (logistic or mlp)");
  c.model.kind = kind == "mlp" ? ModelSpec::Kind::kMlp : ModelSpec::Kind::kLogistic;
  if (const toml::node* hidden = model->get("hidden")) {
    const toml::array* a = hidden->as_array();
    if (a == nullptr || a->empty() || a->size() > 2) return make_error("job.value", source + " [model]: 'hidden' must list one or two layer widths");
    for (const auto& n : *a) {
      auto v = n.value<int64_t>();
      if (!v || *v < 1 || *v > 4096) return make_error("job.value", source + " [model]: hidden layer widths must be 1 to 4096");
      c.model.hidden.push_back(static_cast<size_t>(*v));
    }
  }
  if (c.model.kind == ModelSpec::Kind::kMlp && c.model.hidden.empty()) return make_error("job.value", source + " [model]: an mlp needs 'hidden'");
  if (c.model.kind == ModelSpec::Kind::kMlp && c.model.hidden.size() == 2) {
    // The hidden layers alone, before the inputs and classes are known: a model travels in one
    // peer message.
    ModelSpec smallest = c.model;
    smallest.inputs = 1;
    smallest.classes = 2;
    if (smallest.parameter_count() > kWireParamsMax) {
      return make_error("job.value", source + " [model]: hidden layers of " + std::to_string(c.model.hidden[0]) + " and " +
                                         std::to_string(c.model.hidden[1]) + " units need " + std::to_string(smallest.parameter_count()) +
                                         " parameters or more; a model may have at most " + std::to_string(kWireParamsMax));
    }
  }
  if (c.model.kind == ModelSpec::Kind::kLogistic && !c.model.hidden.empty()) {
    return make_error("job.value", source + " [model]: logistic regression has no 'hidden' layers");
  }

  if (const toml::table* training = r.table("training")) {
    Reader t{*training, source + " [training]"};
    SN_TRY(t.only({"epochs", "batch", "learning_rate", "optimizer", "l2"}));
    SN_ASSIGN(c.local.epochs, t.number<int>("epochs", 1, 1, 1000));
    SN_ASSIGN(c.local.batch, t.number<size_t>("batch", 32, 1, 100000));
    SN_ASSIGN(c.local.learning_rate, t.number<float>("learning_rate", 0.05f, 1e-9, 100));
    SN_ASSIGN(std::string opt, t.text("optimizer", "sgd", {"sgd", "adam"}));
    c.local.optimizer = opt == "adam" ? Optimizer::kAdam : Optimizer::kSgd;
    SN_ASSIGN(c.local.l2, t.number<float>("l2", 0.0f, 0, 10));
  }
  if (const toml::table* strategy = r.table("strategy")) {
    Reader s{*strategy, source + " [strategy]"};
    SN_TRY(s.only({"name", "prox_mu", "server_lr", "trim", "byzantine", "multi_krum"}));
    SN_ASSIGN(c.strategy.name, s.text("name", "fedavg", {"fedavg", "fedprox", "fedadam", "median", "trimmed_mean", "krum", "multi_krum"}));
    SN_ASSIGN(c.strategy.prox_mu, s.number<float>("prox_mu", 0.01f, 0, 100));
    SN_ASSIGN(c.strategy.server_lr, s.number<float>("server_lr", 0.1f, 1e-9, 100));
    SN_ASSIGN(c.strategy.trim, s.number<float>("trim", 0.2f, 0, 0.49));
    SN_ASSIGN(c.strategy.byzantine, s.number<int>("byzantine", 1, 0, 1000));
    SN_ASSIGN(c.strategy.multi_krum, s.number<int>("multi_krum", 1, 1, 1000));
  }
  if (const toml::table* dp = r.table("dp")) {
    Reader d{*dp, source + " [dp]"};
    SN_TRY(d.only({"enabled", "clip", "noise_multiplier", "delta"}));
    if (const toml::node* e = dp->get("enabled")) {
      auto v = e->value<bool>();
      if (!v) return make_error("job.value", source + " [dp]: 'enabled' must be true or false");
      c.dp.enabled = *v;
    } else {
      c.dp.enabled = true;  // a [dp] table turns it on unless it says otherwise
    }
    SN_ASSIGN(c.dp.clip, d.number<float>("clip", 1.0f, 1e-9, 1e9));
    SN_ASSIGN(c.dp.noise_multiplier, d.number<float>("noise_multiplier", 1.0f, 0, 1e6));
    SN_ASSIGN(c.dp.delta, d.number<double>("delta", 1e-5, 1e-30, 0.999999));
    // No noise is no privacy (an infinite epsilon, which every node would refuse to record):
    // a job that says DP must add some.
    if (c.dp.enabled && c.dp.noise_multiplier < 0.01f) {
      return make_error("job.value", source + " [dp]: noise_multiplier must be at least 0.01 with DP enabled (0 adds no noise: "
                                              "set enabled = false for a job without DP)");
    }
  }

  const toml::array* parties = root.get("parties") ? root.get("parties")->as_array() : nullptr;
  if (parties == nullptr || parties->empty()) return make_error("job.missing", source + ": needs [[parties]] (node and dataset for each)");
  std::set<uint32_t> nodes;
  for (const auto& n : *parties) {
    const toml::table* pt = n.as_table();
    if (pt == nullptr) return make_error("job.value", source + ": [[parties]] entries must be tables");
    Reader p{*pt, source + " [[parties]]"};
    SN_TRY(p.only({"node", "dataset"}));
    JobParty party;
    SN_ASSIGN(party.node, p.number<uint32_t>("node", 0, 1, 1 << 30));
    SN_ASSIGN(party.dataset, p.text("dataset", ""));
    if (party.dataset.empty()) return make_error("job.missing", source + " [[parties]]: each party needs 'dataset'");
    if (!nodes.insert(party.node).second) return make_error("job.value", source + ": node " + std::to_string(party.node) + " is listed twice");
    job.parties.push_back(party);
  }
  if (static_cast<size_t>(c.min_parties) > job.parties.size()) {
    return make_error("job.value", source + ": min_parties (" + std::to_string(c.min_parties) + ") is more than the " +
                                       std::to_string(job.parties.size()) + " parties listed");
  }
  c.id = job.name;
  return job;
}

}  // namespace supernet::fl
