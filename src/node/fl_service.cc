#include "node/fl_service.h"

#include <asio/post.hpp>
#include <cmath>

#include "consensus/chain.h"
#include "consensus/scheduler.h"
#include "crypto/keys.h"
#include "util/log.h"

namespace supernet::node {

namespace {

constexpr int64_t kTakeoverMs = 10000;

std::string party_name(uint32_t node) { return "node-" + std::to_string(node); }
std::optional<uint32_t> party_node(const std::string& name) {
  if (name.rfind("node-", 0) != 0) return std::nullopt;
  try {
    return static_cast<uint32_t>(std::stoul(name.substr(5)));
  } catch (...) {
    return std::nullopt;
  }
}
std::string short_id(const Bytes& id) { return to_hex(id).substr(0, 12); }

}  // namespace

FlService::FlService(Node& node, DatasetStore* datasets, crypto::SecureBytes identity_secret)
    : node_(node), datasets_(datasets), identity_secret_(std::move(identity_secret)), self_(node.replica().self()) {
  for (const auto& cb : node_.replica().chain()) record_block(cb);  // what the restored ledger holds
  node_.on_commit([this](const consensus::CommittedBlock& cb) { on_commit(cb); });
  node_.on_app_frame([this](uint32_t from, Bytes frame) { on_frame(from, std::move(frame)); });
  node_.on_tick([this](int64_t now) { on_tick(now); });
}

FlService::~FlService() {
  *alive_ = false;
  workers_.join();
}

bool FlService::record_block(const consensus::CommittedBlock& cb) {
  bool recorded = false;
  for (const auto& tx : cb.block.txs) {
    if (fl::is_job_tx(tx) || fl::is_round_tx(tx) || fl::is_fail_tx(tx)) {
      record(tx, cb.block.header.height);
      recorded = true;
    }
  }
  return recorded;
}

void FlService::on_commit(const consensus::CommittedBlock& cb) {
  // A new job or a committed round record: the aggregator goes on now, not at the next tick.
  // Posted: this runs inside the node's commit processing, which must not be re-entered.
  if (record_block(cb)) {
    asio::post(node_.io(), [this, alive = alive_] {
      if (*alive) on_tick(node_.now_ms());
    });
  }
}

void FlService::record(const Bytes& tx, uint64_t height) {
  Bytes id = to_bytes(as_bytes(consensus::tx_id(tx)));
  if (fl::is_job_tx(tx)) {
    auto j = fl::JobTx::decode(tx);
    if (!j.ok()) return;
    auto spec = fl::parse_job(j->toml);
    if (!spec.ok()) return;  // the API refuses these; a committed one is ignored alike everywhere
    FlJob job{id, std::move(spec).value(), j->client, height, {}, std::nullopt};
    jobs_.emplace(id, std::move(job));
    progress_at_[id] = node_.now_ms();
    return;
  }
  // A round record or a failure record: for the round after the last recorded one of a job
  // still going (the first such record wins), signed by a validator's identity key.
  auto accept = [&](const Bytes& job, int round, uint32_t aggregator, const Bytes& signed_bytes, const Bytes& signature) -> FlJob* {
    auto it = jobs_.find(job);
    if (it == jobs_.end() || it->second.ended() || round != static_cast<int>(it->second.rounds.size()) + 1) return nullptr;
    const consensus::Validator* v = node_.replica().validators().find(aggregator);
    if (v == nullptr || !crypto::ed25519_verify(v->identity_key, signed_bytes, signature)) return nullptr;
    // Another node recorded this round: stand down if this one was aggregating it too.
    if (aggregator != self_) aggregations_.erase(job);
    return &it->second;
  };
  if (fl::is_fail_tx(tx)) {
    auto f = fl::FailTx::decode(tx);
    if (!f.ok()) return;
    if (FlJob* j = accept(f->job, f->round, f->aggregator, f->signed_bytes(), f->signature)) j->failure = FlFailure{f->reason, f->aggregator, height};
    return;
  }
  auto r = fl::RoundTx::decode(tx);
  if (!r.ok()) return;
  if (FlJob* j = accept(r->job, r->record.round, r->aggregator, r->signed_bytes(), r->signature)) {
    j->rounds.push_back({r->record, r->aggregator, id, height});
    progress_at_[r->job] = node_.now_ms();
  }
}

uint32_t FlService::scheduled_aggregator(const FlJob& job, int64_t now) const {
  const auto& vals = node_.replica().validators().validators();
  if (vals.empty()) return 0;
  // The task: every validator, in an order that starts at one the job's id picks; its owner
  // is whoever recorded the last round. The scheduler keeps it with a healthy owner and hands
  // it to the next healthy candidate when the failure detector suspects the owner.
  consensus::Task task;
  task.id = short_id(job.id);
  size_t start = job.id.empty() ? 0 : job.id[0] % vals.size();
  for (size_t i = 0; i < vals.size(); i++) task.candidates.push_back(vals[(start + i) % vals.size()].id);
  if (!job.rounds.empty()) task.owner = job.rounds.back().aggregator;
  // The backstop for an owner that looks alive but records nothing: one candidate further per
  // kTakeoverMs without a round (with fault detection off, the only way a job moves).
  auto p = progress_at_.find(job.id);
  int64_t idle = p == progress_at_.end() ? 0 : now - p->second;
  size_t passes = static_cast<size_t>(std::max<int64_t>(idle, 0) / kTakeoverMs);
  consensus::Scheduler scheduler([this](uint32_t n) { return node_.healthy(n); });
  return scheduler.assign(task, passes);
}

bool FlService::is_party(const FlJob& job) const {
  for (const auto& p : job.spec.parties) {
    if (p.node == self_) return true;
  }
  return false;
}

std::vector<std::string> FlService::available_parties(const FlJob& job) const {
  std::vector<std::string> out;
  for (const auto& p : job.spec.parties) {
    if (p.node == self_ || (node_.connected(p.node) && node_.healthy(p.node))) out.push_back(party_name(p.node));
  }
  return out;
}

std::vector<std::string> FlService::events(const Bytes& job) const {
  auto a = aggregations_.find(job);
  return a == aggregations_.end() ? std::vector<std::string>{} : a->second.events;
}

std::optional<std::string> FlService::failure(const Bytes& job) const {
  auto a = aggregations_.find(job);
  return a == aggregations_.end() ? std::nullopt : a->second.failed;
}

std::optional<std::vector<float>> FlService::model_with_hash(const Bytes& job, const Bytes& hash) const {
  auto m = models_.find(job);
  if (m == models_.end()) return std::nullopt;
  for (auto it = m->second.rbegin(); it != m->second.rend(); ++it) {
    if (fl::model_hash(*it) == hash) return *it;
  }
  return std::nullopt;
}

void FlService::keep_model(const Bytes& job, const std::vector<float>& model) {
  auto& h = models_[job];
  if (!h.empty() && h.back() == model) return;
  h.push_back(model);
  while (h.size() > 4) h.pop_front();
}

// --- aggregator ---

void FlService::on_tick(int64_t now) {
  for (auto& [id, job] : jobs_) {
    if (job.ended()) continue;
    auto a = aggregations_.find(id);
    if (a == aggregations_.end()) {
      if (scheduled_aggregator(job, now) != self_) continue;
      if (!job.rounds.empty() && !model_with_hash(id, job.rounds.back().record.model_hash)) continue;  // cannot resume here
      Aggregation fresh;
      fresh.stats_deadline = now + job.spec.config.round_timeout_ms;
      fresh.events.push_back("node " + std::to_string(self_) + " aggregates job " + job.spec.name +
                             (job.rounds.empty() ? "" : ", resuming after round " + std::to_string(job.rounds.size())));
      log(LogLevel::kInfo, "fl", fresh.events.back());
      a = aggregations_.emplace(id, std::move(fresh)).first;
      for (const auto& p : job.spec.parties) node_.send_app(p.node, fl::encode_wire(fl::StatsRequest{id}));
    }
    Aggregation& agg = a->second;
    if (agg.failed) continue;
    if (!agg.started) {
      // Every party answered, or every one that the failure detector does not suspect (no
      // waiting out the timeout for a party that is down).
      size_t healthy = 0;
      for (const auto& p : job.spec.parties) healthy += node_.healthy(p.node) && (p.node == self_ || node_.connected(p.node));
      bool all = agg.stats.size() == job.spec.parties.size() ||
                 (node_.phi_accrual() && agg.stats.size() >= healthy && static_cast<int>(agg.stats.size()) >= job.spec.config.min_parties);
      if (all || (now >= agg.stats_deadline && static_cast<int>(agg.stats.size()) >= job.spec.config.min_parties)) {
        begin_training(id, agg, now);
      } else if (now >= agg.stats_deadline) {
        give_up(id, agg,
                "only " + std::to_string(agg.stats.size()) + " parties answered the standardization request, " +
                    std::to_string(job.spec.config.min_parties) + " needed");
      }
      continue;
    }
    // The next round starts only once this node's record of the last one is on the ledger: the
    // ledger, not the aggregator's memory, is what another node resumes from.
    if (agg.controller->phase() == fl::RoundController::Phase::kIdle && static_cast<int>(job.rounds.size()) < agg.submitted_round) continue;
    fl::RoundController::Output out;
    agg.controller->set_available(available_parties(job));
    agg.controller->on_tick(now, out);
    drive(id, agg, out);
  }
}

void FlService::begin_training(const Bytes& id, Aggregation& a, int64_t now) {
  FlJob& job = jobs_.at(id);
  // Federated standardization and the model's shape, from the parties' statistics.
  size_t features = a.stats.begin()->second.sum.size();
  uint32_t classes = 0;
  fl::FeatureSums sums;
  sums.sum.assign(features, 0);
  sums.sumsq.assign(features, 0);
  for (const auto& [node, s] : a.stats) {
    if (s.sum.size() != features) {
      return give_up(id, a, "the parties' data sets have different numbers of features");
    }
    classes = std::max(classes, s.classes);
    for (size_t f = 0; f < features; f++) {
      sums.sum[f] += s.sum[f];
      sums.sumsq[f] += s.sumsq[f];
    }
    sums.rows += static_cast<double>(s.rows);
  }
  fl::Standardizer st = fl::Standardizer::from_sums(sums);
  a.mean = std::move(st.mean);
  a.stddev = std::move(st.stddev);
  fl::JobConfig cfg = job.spec.config;
  cfg.model.inputs = features;
  cfg.model.classes = static_cast<int>(std::max<uint32_t>(classes, 2));
  // The model and the standardization travel in one peer message.
  size_t params = cfg.model.parameter_count();
  if (params > fl::kWireParamsMax || 4 * (params + 2 * features) + 4096 > net::kFrameBytesMax) {
    return give_up(id, a,
                   "the model has " + std::to_string(params) + " parameters for these data sets (" + std::to_string(features) +
                       " features); a model travels in one peer message, at most " + std::to_string(fl::kWireParamsMax) + " values");
  }
  auto c = fl::RoundController::create(cfg);
  if (!c.ok()) {
    return give_up(id, a, c.error().message);
  }
  a.controller = std::move(c).value();
  a.controller->set_available(available_parties(job));
  a.started = true;
  fl::RoundController::Output out;
  Status s = ok_status();
  if (job.rounds.empty()) {
    auto initial = fl::Model::create(cfg.model, cfg.seed);
    s = initial.ok() ? a.controller->start(now, initial->params(), out) : initial.error();
  } else {
    a.submitted_round = static_cast<int>(job.rounds.size());
    s = a.controller->resume(now, job.rounds.back().record, *model_with_hash(id, job.rounds.back().record.model_hash), out);
  }
  if (!s.ok()) {
    return give_up(id, a, s.error().message);
  }
  drive(id, a, out);
}

void FlService::drive(const Bytes& id, Aggregation& a, fl::RoundController::Output& out) {
  for (auto& e : out.events) {
    auto j = jobs_.find(id);
    log(LogLevel::kInfo, "fl", (j != jobs_.end() ? j->second.spec.name : short_id(id)) + ": " + e);
    a.events.push_back(e);
  }
  if (a.events.size() > 200) a.events.erase(a.events.begin(), a.events.begin() + static_cast<std::ptrdiff_t>(a.events.size() - 200));
  for (const auto& req : out.requests) {
    auto node = party_node(req.party);
    if (!node) continue;
    if (req.kind == fl::RoundController::Request::Kind::kFit) {
      fl::FitRequest f;
      f.job = id;
      f.round = req.round;
      f.classes = static_cast<uint32_t>(a.controller->config().model.classes);
      f.model = *req.model;
      f.mean = a.mean;
      f.stddev = a.stddev;
      f.options = req.options;
      node_.send_app(*node, fl::encode_wire(f));
    } else {
      fl::EvalRequest e;
      e.job = id;
      e.round = req.round;
      e.classes = static_cast<uint32_t>(a.controller->config().model.classes);
      e.model = *req.model;
      e.mean = a.mean;
      e.stddev = a.stddev;
      node_.send_app(*node, fl::encode_wire(e));
    }
  }
  for (const auto& r : out.records) {
    keep_model(id, a.controller->global());
    node_.submit(fl::make_round_tx(id, self_, r, identity_secret_));
    a.submitted_round = r.round;
  }
  if (out.failed) give_up(id, a, out.failed->message);
}

void FlService::give_up(const Bytes& id, Aggregation& a, const std::string& reason) {
  if (a.failed) return;
  a.failed = reason;
  a.events.push_back("job failed: " + reason);
  log(LogLevel::kWarn, "fl", short_id(id) + ": job failed: " + reason);
  auto j = jobs_.find(id);
  int round = j == jobs_.end() ? 1 : static_cast<int>(j->second.rounds.size()) + 1;
  node_.submit(fl::make_fail_tx(id, self_, round, reason, identity_secret_));
}

// --- party ---

Result<FlService::PartyData*> FlService::party_data(const FlJob& job) {
  auto it = party_data_.find(job.id);
  if (it != party_data_.end()) return &it->second;
  if (datasets_ == nullptr) return make_error("fl.party", "this node keeps no data sets");
  std::string name;
  for (const auto& p : job.spec.parties) {
    if (p.node == self_) name = p.dataset;
  }
  if (name.empty()) return make_error("fl.party", "node " + std::to_string(self_) + " is not a party of this job");
  SN_ASSIGN(fl::Dataset d, datasets_->load(name));
  auto [train, test] = fl::split(d, 0.2, job.spec.config.seed + self_);
  PartyData pd;
  pd.train = std::move(train);
  pd.test = std::move(test);
  return &party_data_.emplace(job.id, std::move(pd)).first->second;
}

static void standardize(fl::Dataset& out, const fl::Dataset& raw, const std::vector<float>& mean, const std::vector<float>& sd) {
  out = raw;
  fl::Standardizer s{mean, sd};
  s.apply(out);
}

void FlService::on_frame(uint32_t from, Bytes frame) {
  auto m = fl::decode_wire(frame);
  if (!m.ok()) {
    log_limit_.log(LogLevel::kWarn, "fl", "undecodable message", std::to_string(from),
                   "undecodable message from node " + std::to_string(from) + ": " + m.error().message, steady_ms());
    return;
  }
  if (auto* s = std::get_if<fl::StatsRequest>(&*m)) return party_stats(from, *s);
  if (auto* f = std::get_if<fl::FitRequest>(&*m)) return party_fit(from, std::move(*f));
  if (auto* e = std::get_if<fl::EvalRequest>(&*m)) return party_eval(from, *e);
  // Replies, for the aggregator.
  std::visit(
      [&](auto& x) {
        using T = std::decay_t<decltype(x)>;
        auto a = aggregations_.find(x.job);
        if (a == aggregations_.end()) return;
        Aggregation& agg = a->second;
        int64_t now = node_.now_ms();
        fl::RoundController::Output out;
        if constexpr (std::is_same_v<T, fl::StatsReply>) {
          auto job = jobs_.find(x.job);
          if (agg.started || agg.failed || job == jobs_.end()) return;
          const auto& parties = job->second.spec.parties;
          if (std::none_of(parties.begin(), parties.end(), [&](const fl::JobParty& p) { return p.node == from; })) return;
          agg.stats[from] = x;
          // Every party answered: train now rather than at the next tick.
          if (agg.stats.size() == parties.size()) begin_training(x.job, agg, now);
          return;
        } else if constexpr (std::is_same_v<T, fl::FitReply>) {
          if (!agg.controller) return;
          agg.controller->on_fit(now, x.round, fl::FitResult{party_name(from), std::move(x.params), x.examples, x.train}, out);
        } else if constexpr (std::is_same_v<T, fl::EvalReply>) {
          if (!agg.controller) return;
          agg.controller->on_evaluate(now, x.round, fl::EvaluateResult{party_name(from), x.metrics}, out);
        } else if constexpr (std::is_same_v<T, fl::Refusal>) {
          agg.events.push_back("node " + std::to_string(from) + " refused: " + x.reason);
          return;
        } else {
          return;
        }
        drive(x.job, agg, out);
      },
      *m);
}

void FlService::party_stats(uint32_t from, const fl::StatsRequest& req) {
  auto job = jobs_.find(req.job);
  if (job == jobs_.end() || !is_party(job->second)) return;
  auto pd = party_data(job->second);
  if (!pd.ok()) {
    node_.send_app(from, fl::encode_wire(fl::Refusal{req.job, 0, pd.error().message}));
    return;
  }
  fl::StatsReply r;
  r.job = req.job;
  const fl::Dataset& d = (*pd)->train;
  fl::FeatureSums sums;
  sums.add(d);
  r.rows = d.rows;
  r.classes = static_cast<uint32_t>(d.classes);
  r.sum = std::move(sums.sum);
  r.sumsq = std::move(sums.sumsq);
  node_.send_app(from, fl::encode_wire(r));
}

void FlService::party_fit(uint32_t from, fl::FitRequest req) {
  auto job = jobs_.find(req.job);
  if (job == jobs_.end() || !is_party(job->second)) return;
  auto pd = party_data(job->second);
  if (!pd.ok()) {
    node_.send_app(from, fl::encode_wire(fl::Refusal{req.job, req.round, pd.error().message}));
    return;
  }
  PartyData& data = **pd;
  if (req.mean.size() != data.train.features || req.stddev.size() != data.train.features) {
    node_.send_app(from, fl::encode_wire(fl::Refusal{req.job, req.round, "standardization does not match this data set"}));
    return;
  }
  if (data.mean != req.mean || data.stddev != req.stddev || !data.train_std) {
    auto train_std = std::make_shared<fl::Dataset>();
    auto test_std = std::make_shared<fl::Dataset>();
    standardize(*train_std, data.train, req.mean, req.stddev);
    standardize(*test_std, data.test, req.mean, req.stddev);
    data.train_std = std::move(train_std);
    data.test_std = std::move(test_std);
    data.mean = req.mean;
    data.stddev = req.stddev;
  }
  keep_model(req.job, req.model);
  fl::ModelSpec spec = job->second.spec.config.model;
  spec.inputs = data.train.features;
  spec.classes = static_cast<int>(req.classes);
  auto m = fl::Model::create(spec, 0);
  if (!m.ok() || m->params().size() != req.model.size()) {
    node_.send_app(from, fl::encode_wire(fl::Refusal{req.job, req.round, "the model does not fit this data set"}));
    return;
  }
  // Local training on the worker thread; the reply goes out from the io thread.
  auto alive = alive_;
  std::shared_ptr<const fl::Dataset> train = data.train_std;
  asio::post(workers_, [this, alive, from, train, model = std::move(m).value(), req = std::move(req)]() mutable {
    model.params() = req.model;
    fl::TrainOptions o = req.options;
    if (o.prox_mu > 0) o.prox_center = &req.model;
    fl::Metrics metrics = fl::train(model, *train, o);
    fl::FitReply reply;
    reply.job = req.job;
    reply.round = req.round;
    reply.params = std::move(model.params());
    reply.examples = train->rows;
    reply.train = metrics;
    Bytes frame = fl::encode_wire(reply);
    asio::post(node_.io(), [this, alive, from, frame = std::move(frame)]() mutable {
      if (*alive) node_.send_app(from, std::move(frame));
    });
  });
}

void FlService::party_eval(uint32_t from, const fl::EvalRequest& req) {
  auto job = jobs_.find(req.job);
  if (job == jobs_.end() || !is_party(job->second)) return;
  auto pd = party_data(job->second);
  if (!pd.ok()) return;
  PartyData& data = **pd;
  if (!data.test_std || data.mean != req.mean || data.stddev != req.stddev || req.mean.size() != data.test.features) return;
  keep_model(req.job, req.model);
  fl::ModelSpec spec = job->second.spec.config.model;
  spec.inputs = data.test.features;
  spec.classes = static_cast<int>(req.classes);
  auto m = fl::Model::create(spec, 0);
  if (!m.ok() || m->params().size() != req.model.size()) return;
  m->params() = req.model;
  fl::EvalReply reply;
  reply.job = req.job;
  reply.round = req.round;
  reply.metrics = fl::evaluate(*m, *data.test_std);
  node_.send_app(from, fl::encode_wire(reply));
}

}  // namespace supernet::node
