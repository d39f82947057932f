#include "fl/controller.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "crypto/hash.h"

namespace supernet::fl {

Bytes model_hash(const std::vector<float>& params) {
  Bytes b(params.size() * 4);
  for (size_t i = 0; i < params.size(); i++) {
    uint32_t bits = 0;
    std::memcpy(&bits, &params[i], 4);
    for (int k = 0; k < 4; k++) b[i * 4 + static_cast<size_t>(k)] = static_cast<uint8_t>(bits >> (8 * k));
  }
  return crypto::sha256(b);
}

TrainOptions fit_options(const JobConfig& cfg, const Strategy& strategy, int round, const std::string& party) {
  TrainOptions o = strategy.configure_fit(round, cfg.local);
  Bytes h = crypto::sha256(as_bytes(party));
  uint64_t name_bits = 0;
  for (int k = 0; k < 8; k++) name_bits = (name_bits << 8) | h[static_cast<size_t>(k)];
  o.seed = cfg.seed * 1000003ULL + static_cast<uint64_t>(round) * 7919ULL + name_bits;
  o.prox_center = nullptr;
  return o;
}

bool same_training(const TrainOptions& a, const TrainOptions& b) {
  return a.optimizer == b.optimizer && a.learning_rate == b.learning_rate && a.epochs == b.epochs && a.batch == b.batch &&
         a.seed == b.seed && a.l2 == b.l2 && a.prox_mu == b.prox_mu;
}

Result<std::unique_ptr<RoundController>> RoundController::create(JobConfig config) {
  SN_TRY(config.model.validate());
  if (config.rounds < 1 || config.rounds > 10000) return make_error("fl.job", "rounds must be 1 to 10000");
  if (config.fraction <= 0 || config.fraction > 1) return make_error("fl.job", "fraction must be in (0, 1]");
  if (config.min_parties < 1) return make_error("fl.job", "min_parties must be at least 1");
  if (config.max_attempts < 1) return make_error("fl.job", "max_attempts must be at least 1");
  if (config.dp.enabled && (config.dp.clip <= 0 || config.dp.noise_multiplier < 0 || config.dp.delta <= 0 || config.dp.delta >= 1)) {
    return make_error("fl.job", "differential privacy needs clip > 0, noise_multiplier >= 0 and 0 < delta < 1");
  }
  SN_ASSIGN(std::unique_ptr<Strategy> strategy, make_strategy(config.strategy));
  return std::unique_ptr<RoundController>(new RoundController(std::move(config), std::move(strategy)));
}

RoundController::RoundController(JobConfig cfg, std::unique_ptr<Strategy> strategy) : cfg_(std::move(cfg)), strategy_(std::move(strategy)) {
  if (cfg_.dp.enabled) dp_.emplace(cfg_.dp, cfg_.seed ^ 0x5eed5eedULL);
}

void RoundController::set_available(std::vector<std::string> parties) {
  std::sort(parties.begin(), parties.end());
  parties.erase(std::unique(parties.begin(), parties.end()), parties.end());
  available_ = std::move(parties);
}

Status RoundController::start(TimeMs now, std::vector<float> initial, Output& out) {
  if (phase_ != Phase::kIdle) return make_error("fl.controller", "already started");
  if (initial.size() != cfg_.model.parameter_count()) return make_error("fl.controller", "initial model has the wrong size");
  global_ = std::make_shared<const std::vector<float>>(std::move(initial));
  round_ = 1;
  begin_round(now, out);
  return ok_status();
}

Status RoundController::resume(TimeMs now, const RoundRecord& last, std::vector<float> model, Output& out) {
  if (phase_ != Phase::kIdle) return make_error("fl.controller", "already started");
  if (model.size() != cfg_.model.parameter_count() || model_hash(model) != last.model_hash) {
    return make_error("fl.resume", "the model given does not hash to the one round " + std::to_string(last.round) + " recorded");
  }
  global_ = std::make_shared<const std::vector<float>>(std::move(model));
  // A new noise stream for the rounds after the resume, independent of the lost aggregator's.
  if (dp_) dp_.emplace(cfg_.dp, cfg_.seed ^ 0x5eed5eedULL ^ static_cast<uint64_t>(last.round));
  out.events.push_back("resumed after round " + std::to_string(last.round));
  if (last.round >= cfg_.rounds) {
    phase_ = Phase::kDone;
    out.finished = true;
    return ok_status();
  }
  round_ = last.round + 1;
  begin_round(now, out);
  return ok_status();
}

void RoundController::begin_round(TimeMs now, Output& out) {
  phase_ = Phase::kFit;
  attempt_++;
  fits_.clear();
  evals_.clear();
  std::vector<std::string> pool;
  for (const auto& p : available_) {
    if (!timed_out_.count(p)) pool.push_back(p);
  }
  if (static_cast<int>(pool.size()) < cfg_.min_parties) pool = available_;  // give the slow ones another chance
  auto chosen = sample_parties(pool, cfg_.fraction, cfg_.min_parties, cfg_.seed, round_ * 1000 + attempt_);
  selected_ = std::set<std::string>(chosen.begin(), chosen.end());
  deadline_ = now + cfg_.round_timeout_ms;
  for (const auto& p : chosen) out.requests.push_back({Request::Kind::kFit, p, round_, global_, fit_options(cfg_, *strategy_, round_, p)});
  out.events.push_back("round " + std::to_string(round_) + ": training on " + std::to_string(chosen.size()) + " parties" +
                       (attempt_ > 1 ? " (attempt " + std::to_string(attempt_) + ")" : ""));
  if (static_cast<int>(chosen.size()) < cfg_.min_parties) {
    out.events.push_back("round " + std::to_string(round_) + ": only " + std::to_string(chosen.size()) + " parties available, " +
                         std::to_string(cfg_.min_parties) + " needed; waiting until the deadline");
  }
}

void RoundController::on_fit(TimeMs now, int round, FitResult result, Output& out) {
  if (phase_ != Phase::kFit || round != round_ || !selected_.count(result.party) || fits_.count(result.party)) return;
  if (result.params.size() != global_->size()) {
    out.events.push_back("round " + std::to_string(round_) + ": refused a malformed update from " + result.party);
    return;
  }
  std::string party = result.party;
  fits_.emplace(party, std::move(result));
  if (fits_.size() == selected_.size()) finish_fit(now, out);
}

void RoundController::finish_fit(TimeMs now, Output& out) {
  std::vector<FitResult> results;
  pending_ = RoundRecord{};
  pending_.round = round_;
  pending_.attempts = attempt_;
  for (auto& [party, r] : fits_) {
    pending_.parties.push_back(party);
    pending_.update_hashes.push_back(model_hash(r.params));
    results.push_back(r);
  }
  for (const auto& p : selected_) {
    if (!fits_.count(p)) pending_.dropped.push_back(p);
  }
  Result<std::vector<float>> next = dp_ ? Result<std::vector<float>>(dp_->aggregate(*global_, results))
                                        : strategy_->aggregate_fit(round_, *global_, results);
  if (!next.ok()) return fail("round " + std::to_string(round_) + ": " + next.error().message, out);
  std::vector<EvaluateResult> train_metrics;
  for (const auto& r : results) train_metrics.push_back({r.party, r.train});
  pending_.train = Strategy::aggregate_evaluate(train_metrics);
  if (dp_) pending_.epsilon = dp_->epsilon(round_);
  global_ = std::make_shared<const std::vector<float>>(std::move(next).value());
  pending_.model_hash = model_hash(*global_);
  // Evaluate the new model on the held-out rows of the parties that took part.
  phase_ = Phase::kEvaluate;
  deadline_ = now + cfg_.round_timeout_ms;
  for (const auto& p : pending_.parties) out.requests.push_back({Request::Kind::kEvaluate, p, round_, global_, {}});
}

void RoundController::on_evaluate(TimeMs, int round, EvaluateResult result, Output& out) {
  if (phase_ != Phase::kEvaluate || round != round_ || evals_.count(result.party)) return;
  if (std::find(pending_.parties.begin(), pending_.parties.end(), result.party) == pending_.parties.end()) return;
  std::string party = result.party;
  evals_.emplace(party, std::move(result));
  if (evals_.size() == pending_.parties.size()) finish_round(out);
}

void RoundController::finish_round(Output& out) {
  std::vector<EvaluateResult> evals;
  for (auto& [p, e] : evals_) evals.push_back(e);
  pending_.eval = Strategy::aggregate_evaluate(evals);
  out.records.push_back(pending_);
  char line[160];
  std::snprintf(line, sizeof line, "round %d: %zu parties, eval loss %.4f accuracy %.4f", round_, pending_.parties.size(),
                pending_.eval.loss, pending_.eval.accuracy);
  out.events.push_back(line);
  timed_out_.clear();
  attempt_ = 0;
  if (round_ >= cfg_.rounds) {
    phase_ = Phase::kDone;
    out.finished = true;
    return;
  }
  round_++;
  phase_ = Phase::kIdle;
}

void RoundController::on_tick(TimeMs now, Output& out) {
  if (phase_ == Phase::kIdle && round_ > 0) return begin_round(now, out);
  if (now < deadline_) return;
  if (phase_ == Phase::kFit) {
    for (const auto& p : selected_) {
      if (!fits_.count(p)) timed_out_.insert(p);
    }
    if (static_cast<int>(fits_.size()) >= cfg_.min_parties) {
      out.events.push_back("round " + std::to_string(round_) + ": " + std::to_string(selected_.size() - fits_.size()) +
                           " parties dropped out; aggregating the " + std::to_string(fits_.size()) + " that answered");
      return finish_fit(now, out);
    }
    if (attempt_ >= cfg_.max_attempts) {
      return fail("round " + std::to_string(round_) + ": fewer than " + std::to_string(cfg_.min_parties) + " parties answered in " +
                      std::to_string(attempt_) + " attempts",
                  out);
    }
    out.events.push_back("round " + std::to_string(round_) + ": only " + std::to_string(fits_.size()) + " of " +
                         std::to_string(cfg_.min_parties) + " needed updates arrived; trying again");
    return begin_round(now, out);
  }
  if (phase_ == Phase::kEvaluate) {
    out.events.push_back("round " + std::to_string(round_) + ": " + std::to_string(pending_.parties.size() - evals_.size()) +
                         " evaluations missing at the deadline");
    finish_round(out);
  }
}

void RoundController::fail(const std::string& why, Output& out) {
  phase_ = Phase::kFailed;
  out.failed = make_error("fl.job", why);
  out.events.push_back("job failed: " + why);
}

}  // namespace supernet::fl
