#include "fl/simulation.h"

#include <cmath>
#include <map>

namespace supernet::fl {

namespace {

Dataset concat(const std::vector<Party>& parties, bool test) {
  Dataset out;
  for (const auto& p : parties) {
    const Dataset& d = test ? p.test : p.train;
    if (out.features == 0) {
      out.features = d.features;
      out.feature_names = d.feature_names;
    }
    out.classes = std::max(out.classes, d.classes);
    out.x.insert(out.x.end(), d.x.begin(), d.x.end());
    out.y.insert(out.y.end(), d.y.begin(), d.y.end());
    out.rows += d.rows;
  }
  return out;
}

}  // namespace

std::vector<Party> make_parties(const Dataset& d, const std::vector<std::vector<size_t>>& partitions, double test_fraction, uint64_t seed) {
  std::vector<Party> parties;
  for (size_t k = 0; k < partitions.size(); k++) {
    Party p;
    p.name = "party-" + std::to_string(k + 1);
    auto [train, test] = split(d.subset(partitions[k]), test_fraction, seed + k);
    train.classes = test.classes = d.classes;
    p.train = std::move(train);
    p.test = std::move(test);
    parties.push_back(std::move(p));
  }
  // Federated standardization: per-feature counts, sums and sums of squares added up.
  FeatureSums sums;
  for (const auto& p : parties) sums.add(p.train);
  Standardizer s = Standardizer::from_sums(sums);
  for (auto& p : parties) {
    s.apply(p.train);
    s.apply(p.test);
  }
  return parties;
}

SimOutcome simulate_federation(const JobConfig& job, std::vector<Party>& parties, const SimFaults& faults) {
  SimOutcome outcome;
  auto failed = [&](const std::string& why) {
    outcome.ok = false;
    outcome.failure = why;
    return outcome;
  };
  std::map<std::string, Party*> by_name;
  std::vector<std::string> names;
  for (auto& p : parties) {
    by_name[p.name] = &p;
    names.push_back(p.name);
  }
  auto controller = RoundController::create(job);
  if (!controller.ok()) return failed(controller.error().message);
  auto c = std::move(controller).value();
  c->set_available(names);
  auto initial = Model::create(job.model, job.seed);
  if (!initial.ok()) return failed(initial.error().message);

  TimeMs now = 0;
  RoundController::Output out;
  if (auto s = c->start(now, initial->params(), out); !s.ok()) return failed(s.error().message);
  bool crashed = false;
  for (int steps = 0; steps < 100000; steps++) {
    for (auto& e : out.events) outcome.events.push_back(e);
    for (auto& r : out.records) outcome.records.push_back(r);
    if (out.failed) return failed(out.failed->message);
    if (out.finished) break;
    auto requests = std::move(out.requests);
    out = RoundController::Output{};
    // The aggregator dies once the chosen round is on the ledger; another node takes over
    // from that record, given the model whose hash it holds (every party has it).
    if (faults.crash_aggregator_after > 0 && !crashed && !outcome.records.empty() &&
        outcome.records.back().round == faults.crash_aggregator_after) {
      crashed = true;
      std::vector<float> last_model = c->global();
      auto fresh = RoundController::create(job);
      c = std::move(fresh).value();
      c->set_available(names);
      outcome.aggregators++;
      outcome.events.push_back("aggregator crashed after round " + std::to_string(faults.crash_aggregator_after) + "; another resumes");
      if (auto s = c->resume(now, outcome.records.back(), last_model, out); !s.ok()) return failed(s.error().message);
      continue;
    }
    now += 10;
    for (const auto& req : requests) {
      Party& p = *by_name[req.party];
      if (req.kind == RoundController::Request::Kind::kFit) {
        if (faults.drop.count({p.name, req.round})) continue;
        Model m = Model::create(job.model, 0).value();
        m.params() = *req.model;
        TrainOptions o = req.options;
        if (o.prox_mu > 0) o.prox_center = req.model.get();
        Metrics trained = train(m, p.train, o);
        if (p.poisoned) {
          for (size_t i = 0; i < m.params().size(); i++) {
            m.params()[i] = (*req.model)[i] - faults.poison_scale * (m.params()[i] - (*req.model)[i]);
          }
        }
        c->on_fit(now, req.round, FitResult{p.name, m.params(), p.train.rows, trained}, out);
      } else {
        if (faults.drop.count({p.name, req.round})) continue;
        Model m = Model::create(job.model, 0).value();
        m.params() = *req.model;
        c->on_evaluate(now, req.round, EvaluateResult{p.name, evaluate(m, p.test)}, out);
      }
    }
    if (out.records.empty() && out.requests.empty() && !out.finished && !out.failed) {
      now += job.round_timeout_ms;  // nothing more will arrive: let the deadline pass
      c->on_tick(now, out);
    } else if (out.requests.empty() && !out.finished && !out.failed) {
      c->on_tick(now, out);  // the next round begins
    }
  }
  outcome.model = c->global();
  Model final_model = Model::create(job.model, 0).value();
  final_model.params() = outcome.model;
  outcome.final_eval = evaluate(final_model, concat(parties, true));
  return outcome;
}

Metrics train_central(const ModelSpec& spec, const std::vector<Party>& parties, TrainOptions options, uint64_t seed, Model* out) {
  Dataset train_all = concat(parties, false), test_all = concat(parties, true);
  Model m = Model::create(spec, seed).value();
  train(m, train_all, options);
  Metrics metrics = evaluate(m, test_all);
  if (out != nullptr) *out = std::move(m);
  return metrics;
}

}  // namespace supernet::fl
