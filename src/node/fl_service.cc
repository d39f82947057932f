#include "node/fl_service.h"

#include <algorithm>
#include <asio/post.hpp>
#include <cmath>
#include <limits>

#include "consensus/chain.h"
#include "consensus/scheduler.h"
#include "crypto/hash.h"
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

namespace {

using consensus::client_signer;

bool listed(const std::vector<std::string>& names, const std::string& name) { return std::find(names.begin(), names.end(), name) != names.end(); }

}  // namespace

DatasetKey party_key(const fl::JobParty& p, const std::string& submitter) {
  auto id = parse_dataset_ref(p.dataset, submitter);
  return {p.node, id.ok() ? id->key() : p.dataset};
}

double planned_epsilon(const fl::JobConfig& c) {
  if (!c.dp.enabled) return std::numeric_limits<double>::infinity();
  return fl::gaussian_rdp_epsilon(c.dp.noise_multiplier, c.rounds, c.dp.delta);
}

Result<CheckedJob> check_job(const fl::JobTx& tx, const consensus::ChainGenesis& genesis) {
  SN_ASSIGN(const consensus::GenesisClientInfo* client, client_signer("job", tx.client_spki, tx.signed_bytes(), tx.signature, genesis));
  if (client->role != "member") return make_error("job.signer", "the job is signed by " + client->name + ", who is not a member");
  SN_ASSIGN(fl::JobSpec spec, fl::parse_job(tx.toml));
  // The default data policy: no round aggregates fewer than two parties (one party's "global
  // model" is its raw update).
  if (spec.config.min_parties < kMinPartiesDefault) {
    return make_error("job.policy", "min_parties = " + std::to_string(spec.config.min_parties) + ": the default data policy requires at least " +
                                        std::to_string(kMinPartiesDefault) + " parties in every round (one party's update would be the model)");
  }
  for (const auto& p : spec.parties) {
    if (auto id = parse_dataset_ref(p.dataset, client->name); !id.ok()) {
      return make_error("job.value", "dataset = \"" + p.dataset + "\": a data set is NAME (the submitter's own) or OWNER/NAME");
    }
  }
  for (const auto& r : spec.model_readers) {
    bool known = false;
    for (const auto& c : genesis.clients) known |= c.name == r;
    if (!known) return make_error("job.reader", "model reader " + r + " is not a client of this network");
  }
  return CheckedJob{std::move(spec), client->name};
}

Result<std::string> check_consent(const fl::ConsentTx& tx, const consensus::ChainGenesis& genesis) {
  SN_ASSIGN(const consensus::GenesisClientInfo* client, client_signer("consent", tx.client_spki, tx.signed_bytes(), tx.signature, genesis));
  return client->name;
}

Result<std::string> check_policy(const fl::PolicyTx& tx, const consensus::ChainGenesis& genesis) {
  SN_ASSIGN(const consensus::GenesisClientInfo* client, client_signer("policy", tx.client_spki, tx.signed_bytes(), tx.signature, genesis));
  return client->name;
}

FlService::FlService(Node& node, DatasetStore* datasets, crypto::SecureBytes identity_secret, ModelStore* models, ta::Pool* trainers)
    : node_(node),
      datasets_(datasets),
      model_store_(models),
      trainers_(trainers),
      identity_secret_(std::move(identity_secret)),
      self_(node.replica().self()) {
  for (const auto& cb : node_.replica().chain()) record_block(cb);  // what the restored ledger holds
  // The final models this node sealed before it restarted, each checked against the ledger.
  for (const auto& [id, job] : jobs_) {
    if (model_store_ == nullptr || !job.finished()) continue;
    auto m = model_store_->get(id);
    if (!m.ok()) {
      log(LogLevel::kWarn, "fl", "the sealed final model of job " + short_id(id) + " cannot be read: " + m.error().message);
    } else if (*m && fl::model_hash(**m) == job.rounds.back().record.model_hash) {
      models_[id].push_back(std::move(**m));
    } else if (*m) {
      log(LogLevel::kWarn, "fl", "the sealed final model of job " + short_id(id) + " is not the one its last round records; not served");
    }
  }
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
    if (fl::is_job_tx(tx) || fl::is_claim_tx(tx) || fl::is_round_tx(tx) || fl::is_fail_tx(tx) || fl::is_consent_tx(tx) || fl::is_data_record_tx(tx) ||
        fl::is_policy_tx(tx)) {
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
      if (!*alive) return;
      retry_parked(false);  // a request held for this commit
      on_tick(node_.now_ms());
    });
  }
}

void FlService::record(const Bytes& tx, uint64_t height) {
  Bytes id = to_bytes(as_bytes(consensus::tx_id(tx)));
  if (fl::is_job_tx(tx)) {
    auto j = fl::JobTx::decode(tx);
    if (!j.ok()) return;
    // Unsigned, signed by a non-member, or not a valid job: ignored alike by every node.
    auto checked = check_job(*j, node_.replica().genesis());
    if (!checked.ok()) {
      log_limit_.log(LogLevel::kWarn, "fl", "job refused", "ledger",
                     "ignored the job transaction at height " + std::to_string(height) + ": " + checked.error().message, steady_ms());
      return;
    }
    if (auto data = check_job_data(checked->spec, checked->submitter); !data.ok()) {
      log_limit_.log(LogLevel::kWarn, "fl", "job refused", "ledger",
                     "ignored the job transaction at height " + std::to_string(height) + ": " + data.error().message, steady_ms());
      return;
    }
    FlJob job;
    job.id = id;
    job.spec = std::move(checked->spec);
    job.submitter = std::move(checked->submitter);
    job.height = height;
    jobs_.emplace(id, std::move(job));
    progress_at_[id] = node_.now_ms();
    return;
  }
  if (fl::is_consent_tx(tx)) {
    auto c = fl::ConsentTx::decode(tx);
    if (!c.ok()) return;
    auto signer = check_consent(*c, node_.replica().genesis());
    auto it = jobs_.find(c->job);
    if (!signer.ok() || it == jobs_.end() || it->second.ended()) return;
    it->second.consents.insert(*signer);
    return;
  }
  if (fl::is_data_record_tx(tx)) {
    // A data set a node keeps, as that node (its identity key) records it, on its owner's
    // signed word (the owner statement), for the version the owner names.
    auto r = fl::DataRecordTx::decode(tx);
    if (!r.ok()) return;
    const consensus::Validator* v = node_.replica().validators().find(r->node);
    if (v == nullptr || !crypto::ed25519_verify(v->identity_key, r->signed_bytes(), r->signature)) return;
    const fl::OwnerStatement& st = r->statement;
    if (st.node != r->node || st.name != r->name || st.deleted != r->deleted) return;
    auto owner = client_signer("owner statement", st.client_spki, st.signed_bytes(), st.signature, node_.replica().genesis());
    if (!owner.ok() || (*owner)->name != r->owner) return;
    DatasetKey key{r->node, r->owner + "/" + r->name};
    if (r->deleted) {
      // Only the version the owner named: an old deletion replayed does not remove a newer one.
      if (auto it = registry_.find(key); it != registry_.end() && it->second.csv_sha256 == st.csv_sha256) registry_.erase(it);
      return;
    }
    LedgerDataset d;  // a new version: no policy until its owner sets one
    d.owner = r->owner;
    d.data_sha256 = r->data_sha256;
    d.csv_sha256 = st.csv_sha256;
    d.features = r->features;
    d.classes = r->classes;
    d.rows = r->rows;
    d.height = height;
    registry_[key] = std::move(d);
    return;
  }
  if (fl::is_policy_tx(tx)) {
    auto p = fl::PolicyTx::decode(tx);
    if (!p.ok()) return;
    auto signer = check_policy(*p, node_.replica().genesis());
    if (!signer.ok()) return;
    auto it = registry_.find({p->node, *signer + "/" + p->dataset});  // the signer's own data set only
    if (it == registry_.end()) return;
    it->second.policy = std::move(p->policy);
    it->second.policy_height = height;
    return;
  }
  // A claim, a round record or a failure record: for the round after the last recorded one of
  // a job still going, signed by a validator's identity key.
  auto find = [&](const Bytes& job, int round, uint32_t aggregator, const Bytes& signed_bytes, const Bytes& signature) -> FlJob* {
    auto it = jobs_.find(job);
    if (it == jobs_.end() || it->second.ended() || round != static_cast<int>(it->second.rounds.size()) + 1) return nullptr;
    const consensus::Validator* v = node_.replica().validators().find(aggregator);
    if (v == nullptr || !crypto::ed25519_verify(v->identity_key, signed_bytes, signature)) return nullptr;
    return &it->second;
  };
  if (fl::is_claim_tx(tx)) {
    auto c = fl::ClaimTx::decode(tx);
    if (!c.ok()) return;
    FlJob* j = find(c->job, c->from_round, c->aggregator, c->signed_bytes(), c->signature);
    if (j == nullptr) return;
    if (c->standardization) {
      // Set once, by the job's aggregator, with one value per feature of every party alike
      // (each party checks the count against its own data set when asked to train).
      if (j->standardization || c->aggregator != j->aggregator) return;
      j->standardization = std::move(c->standardization);
      return;
    }
    if (c->aggregator == j->aggregator) return;
    j->aggregator = c->aggregator;
    progress_at_[c->job] = node_.now_ms();
    if (c->aggregator != self_) aggregations_.erase(c->job);  // another node took over: stand down
    return;
  }
  if (fl::is_fail_tx(tx)) {
    auto f = fl::FailTx::decode(tx);
    if (!f.ok()) return;
    FlJob* j = find(f->job, f->round, f->aggregator, f->signed_bytes(), f->signature);
    // The job's aggregator, or before any claim (a job whose parties cannot be reached) any validator.
    if (j == nullptr || (j->aggregator != 0 && f->aggregator != j->aggregator)) return;
    j->failure = FlFailure{f->reason, f->aggregator, height};
    if (f->aggregator != self_) aggregations_.erase(f->job);
    return;
  }
  auto r = fl::RoundTx::decode(tx);
  if (!r.ok()) return;
  FlJob* j = find(r->job, r->record.round, r->aggregator, r->signed_bytes(), r->signature);
  if (j == nullptr || r->aggregator != j->aggregator) return;  // only the aggregator the ledger names
  j->rounds.push_back({r->record, r->aggregator, id, height});
  progress_at_[r->job] = node_.now_ms();
  if (j->finished()) seal_final_model(*j);
}

Bytes FlService::data_record_tx(const DatasetSchema& schema, bool deleted, fl::OwnerStatement statement) const {
  fl::DataRecordTx r;
  r.statement = std::move(statement);
  r.node = self_;
  r.name = schema.name;
  r.owner = schema.owner;
  r.deleted = deleted;
  if (!deleted) {
    r.data_sha256 = from_hex(schema.data_sha256).value_or(Bytes{});
    r.features = static_cast<uint32_t>(schema.features);
    r.classes = static_cast<uint32_t>(schema.classes);
    r.rows = schema.rows;
  }
  r.nonce = crypto::random_u64();
  return fl::make_data_record_tx(std::move(r), identity_secret_);
}

double FlService::epsilon_spent(const DatasetKey& key) const {
  auto it = registry_.find(key);
  if (it == registry_.end()) return 0;
  double spent = 0;
  for (const auto& [id, job] : jobs_) {
    if (job.height <= it->second.height || !job.spec.config.dp.enabled) continue;
    bool uses = false;
    for (const auto& p : job.spec.parties) uses |= party_key(p, job.submitter) == key;
    if (!uses) continue;
    // Counted from the ledger alone (not from the epsilon an aggregator reports): the rounds
    // recorded for an ended job, every planned round for one still running.
    const auto& dp = job.spec.config.dp;
    int rounds = job.ended() ? static_cast<int>(job.rounds.size()) : job.spec.config.rounds;
    if (rounds > 0) spent += fl::gaussian_rdp_epsilon(dp.noise_multiplier, rounds, dp.delta);
  }
  return spent;
}

Status FlService::check_job_data(const fl::JobSpec& spec, const std::string& submitter) const {
  const fl::JobConfig& c = spec.config;
  uint32_t classes = 2;
  for (const auto& p : spec.parties) {
    auto it = registry_.find(party_key(p, submitter));
    if (it != registry_.end()) classes = std::max(classes, it->second.classes);
  }
  for (const auto& p : spec.parties) {
    DatasetKey key = party_key(p, submitter);
    std::string where = key.second + " at node " + std::to_string(p.node);
    auto it = registry_.find(key);
    if (it == registry_.end()) {
      return make_error("job.data", "node " + std::to_string(p.node) + " has no data set " + key.second +
                                        " on the ledger (supernet data list --node " + std::to_string(p.node) + ")");
    }
    const LedgerDataset& d = it->second;
    if (!d.policy) continue;
    const fl::DataPolicy& pol = *d.policy;
    auto refuse = [&](const std::string& why) { return make_error("job.policy", "the policy of " + where + " (" + d.owner + "'s) " + why); };
    if (pol.min_parties > 0 && c.min_parties < static_cast<int>(pol.min_parties)) {
      return refuse("requires at least " + std::to_string(pol.min_parties) + " parties in every round; the job asks for " + std::to_string(c.min_parties));
    }
    if (pol.max_epochs > 0 && c.local.epochs > static_cast<int>(pol.max_epochs)) {
      return refuse("allows at most " + std::to_string(pol.max_epochs) + " local epochs; the job asks for " + std::to_string(c.local.epochs));
    }
    if (pol.max_params > 0) {
      fl::ModelSpec m = c.model;
      m.inputs = d.features;
      m.classes = static_cast<int>(classes);
      if (m.parameter_count() > pol.max_params) {
        return refuse("allows models of at most " + std::to_string(pol.max_params) + " parameters; the job's has " + std::to_string(m.parameter_count()));
      }
    }
    for (const auto& r : spec.model_readers) {
      if (r != d.owner && !listed(pol.readers, r)) return refuse("does not let " + r + " read models trained on it");
    }
    if (pol.max_epsilon > 0 || pol.epsilon_budget > 0) {
      if (!c.dp.enabled) return refuse("requires differential privacy ([dp] in the job file)");
      double eps = planned_epsilon(c);
      if (pol.max_epsilon > 0 && eps > pol.max_epsilon) {
        return refuse("allows an epsilon of at most " + std::to_string(pol.max_epsilon) + " per job; the job's " + std::to_string(c.rounds) +
                      " rounds spend " + std::to_string(eps));
      }
      double spent = epsilon_spent(it->first);
      if (pol.epsilon_budget > 0 && spent + eps > pol.epsilon_budget) {
        return make_error("job.budget", "the DP budget of " + where + " is spent: " + std::to_string(spent) + " of " +
                                            std::to_string(pol.epsilon_budget) + " used, the job needs " + std::to_string(eps));
      }
    }
  }
  return ok_status();
}

std::vector<std::string> FlService::awaiting_consent(const FlJob& job) const {
  std::vector<std::string> out;
  if (job.ended() || datasets_ == nullptr) return out;
  for (const auto& p : job.spec.parties) {
    if (p.node != self_) continue;
    auto id = parse_dataset_ref(p.dataset, job.submitter);
    if (id.ok() && datasets_->schema(*id).ok() && !consented(job, id->owner, {self_, id->key()})) out.push_back(id->owner);
  }
  return out;
}

bool FlService::consented(const FlJob& job, const std::string& owner, const DatasetKey& key) const {
  if (owner == job.submitter || job.consents.count(owner)) return true;
  auto it = registry_.find(key);
  return it != registry_.end() && it->second.policy && listed(it->second.policy->submitters, job.submitter);
}

void FlService::seal_final_model(const FlJob& job) {
  if (model_store_ == nullptr) return;
  auto m = model_with_hash(job.id, job.rounds.back().record.model_hash);
  if (!m) return;  // this node never held it (it serves none)
  if (auto s = model_store_->put(job.id, *m); !s.ok()) {
    log(LogLevel::kWarn, "fl", "cannot seal the final model of job " + short_id(job.id) + ": " + s.error().message);
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
  if (job.aggregator != 0) task.owner = job.aggregator;
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
  retry_parked(true);  // held requests whose time is up are refused
  for (auto it = jobs_.begin(); it != jobs_.end(); ++it) {
    const Bytes& id = it->first;
    FlJob& job = it->second;
    if (job.ended()) continue;
    auto a = aggregations_.find(id);
    if (a == aggregations_.end()) {
      if (scheduled_aggregator(job, now) != self_) continue;
      if (!job.rounds.empty() && !model_with_hash(id, job.rounds.back().record.model_hash)) continue;  // cannot resume here
      a = aggregations_.emplace(id, Aggregation{}).first;
    }
    Aggregation& agg = a->second;
    if (agg.failed) continue;
    // The ledger names this node before it asks any party anything (parties answer no one else).
    if (job.aggregator != self_) {
      if (agg.claim_deadline != 0 && now >= agg.claim_deadline) {
        aggregations_.erase(a);  // the claim was lost or refused: start over while still scheduled
        continue;
      }
      if (agg.claim_deadline == 0) {
        node_.submit(fl::make_claim_tx(id, self_, static_cast<int>(job.rounds.size()) + 1, static_cast<uint64_t>(now), std::nullopt,
                                       identity_secret_));
        agg.claim_deadline = now + kClaimWaitMs;
      }
      continue;
    }
    if (!agg.announced) {
      // Named on the ledger: from here on the parties answer this node.
      agg.announced = true;
      agg.events.push_back("node " + std::to_string(self_) + " aggregates job " + job.spec.name +
                           (job.rounds.empty() ? "" : ", resuming after round " + std::to_string(job.rounds.size())));
      log(LogLevel::kInfo, "fl", agg.events.back());
    }
    // The job's standardization, once, from the parties' sums; on the ledger before round 1.
    if (!job.standardization) {
      if (agg.standardization_deadline != 0) {
        if (now >= agg.standardization_deadline) aggregations_.erase(a);  // lost: start over
        continue;
      }
      if (!agg.stats_asked) {
        agg.stats_asked = true;
        agg.stats_deadline = now + job.spec.config.round_timeout_ms;
        for (const auto& p : job.spec.parties) node_.send_app(p.node, fl::encode_wire(fl::StatsRequest{id}));
        continue;
      }
      // Every party answered, or every one that the failure detector does not suspect (no
      // waiting out the timeout for a party that is down).
      size_t healthy = 0;
      for (const auto& p : job.spec.parties) healthy += node_.healthy(p.node) && (p.node == self_ || node_.connected(p.node));
      // A party whose data owner has not consented yet: the job waits for it (asked again each
      // timeout), and starts with it once the consent is on the ledger.
      if (!agg.awaiting_consent.empty()) {
        if (now >= agg.stats_deadline) {
          agg.stats_asked = false;
          agg.awaiting_consent.clear();
        }
        continue;
      }
      bool all = agg.stats.size() == job.spec.parties.size() ||
                 (node_.phi_accrual() && agg.stats.size() >= healthy && static_cast<int>(agg.stats.size()) >= job.spec.config.min_parties);
      if (all || (now >= agg.stats_deadline && static_cast<int>(agg.stats.size()) >= job.spec.config.min_parties)) {
        record_standardization(id, agg, now);
      } else if (now >= agg.stats_deadline) {
        give_up(id, agg,
                "only " + std::to_string(agg.stats.size()) + " parties answered the standardization request, " +
                    std::to_string(job.spec.config.min_parties) + " needed");
      }
      continue;
    }
    if (!agg.started) {
      begin_training(id, agg, now);
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

void FlService::record_standardization(const Bytes& id, Aggregation& a, int64_t now) {
  FlJob& job = jobs_.at(id);
  // Federated standardization and the number of classes, from the parties' statistics.
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
  if (features == 0) return give_up(id, a, "the parties' data sets have no features");
  fl::Standardizer st = fl::Standardizer::from_sums(sums);
  fl::Standardization rec;
  rec.classes = std::max<uint32_t>(classes, 2);
  rec.mean = std::move(st.mean);
  rec.stddev = std::move(st.stddev);
  for (size_t f = 0; f < features; f++) {
    if (!std::isfinite(rec.mean[f]) || !std::isfinite(rec.stddev[f]) || !(rec.stddev[f] > 0)) {
      return give_up(id, a, "the parties' sums give no finite standardization (feature " + std::to_string(f + 1) + ")");
    }
  }
  a.standardization_deadline = now + kClaimWaitMs;
  node_.submit(fl::make_claim_tx(id, self_, static_cast<int>(job.rounds.size()) + 1, static_cast<uint64_t>(now), std::move(rec),
                                 identity_secret_));
}

void FlService::begin_training(const Bytes& id, Aggregation& a, int64_t now) {
  FlJob& job = jobs_.at(id);
  const fl::Standardization& st = *job.standardization;  // the ledger's, for every aggregator alike
  size_t features = st.mean.size();
  a.mean = st.mean;
  a.stddev = st.stddev;
  fl::JobConfig cfg = job.spec.config;
  cfg.model.inputs = features;
  cfg.model.classes = static_cast<int>(st.classes);
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
    auto model = model_with_hash(id, job.rounds.back().record.model_hash);
    s = model ? a.controller->resume(now, job.rounds.back().record, *model, out)
              : make_error("fl.resume", "this node does not hold the model of round " + std::to_string(job.rounds.size()));
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
  std::string ref;
  for (const auto& p : job.spec.parties) {
    if (p.node == self_) ref = p.dataset;
  }
  if (ref.empty()) return make_error("fl.party", "node " + std::to_string(self_) + " is not a party of this job");
  SN_ASSIGN(DatasetId name, parse_dataset_ref(ref, job.submitter));
  SN_ASSIGN(DatasetSchema schema, datasets_->schema(name));
  SN_ASSIGN(fl::Dataset d, datasets_->load(name));
  SN_ASSIGN(std::unique_ptr<fl::Strategy> strategy, fl::make_strategy(job.spec.config.strategy));
  auto [train, test] = fl::split(d, 0.2, job.spec.config.seed + self_);
  PartyData pd;
  pd.dataset = name;
  pd.data_sha256 = schema.data_sha256;
  pd.train = std::move(train);
  pd.test = std::move(test);
  pd.strategy = std::move(strategy);
  return &party_data_.emplace(job.id, std::move(pd)).first->second;
}

void FlService::on_frame(uint32_t from, Bytes frame) {
  auto m = fl::decode_wire(frame);
  if (!m.ok()) {
    log_limit_.log(LogLevel::kWarn, "fl", "undecodable message", std::to_string(from),
                   "undecodable message from node " + std::to_string(from) + ": " + m.error().message, steady_ms());
    return;
  }
  if (std::holds_alternative<fl::StatsRequest>(*m) || std::holds_alternative<fl::FitRequest>(*m) ||
      std::holds_alternative<fl::EvalRequest>(*m)) {
    return party_request(from, std::move(*m), true);
  }
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
          if (!agg.stats_asked || agg.standardization_deadline != 0 || agg.failed || job == jobs_.end()) return;
          const auto& parties = job->second.spec.parties;
          if (std::none_of(parties.begin(), parties.end(), [&](const fl::JobParty& p) { return p.node == from; })) return;
          agg.stats[from] = x;
          // Every party answered: record the standardization now rather than at the next tick.
          if (agg.stats.size() == parties.size()) record_standardization(x.job, agg, now);
          return;
        } else if constexpr (std::is_same_v<T, fl::FitReply>) {
          if (!agg.controller) return;
          agg.controller->on_fit(now, x.round, fl::FitResult{party_name(from), std::move(x.params), x.examples, x.train}, out);
        } else if constexpr (std::is_same_v<T, fl::EvalReply>) {
          if (!agg.controller) return;
          agg.controller->on_evaluate(now, x.round, fl::EvaluateResult{party_name(from), x.metrics}, out);
        } else if constexpr (std::is_same_v<T, fl::Refusal>) {
          if (x.awaiting_consent && agg.stats_asked && agg.standardization_deadline == 0) {
            if (!agg.awaiting_consent.insert(from).second) return;  // said once per wait
          }
          agg.events.push_back("node " + std::to_string(from) + " refused: " + x.reason);
          if (agg.events.size() > 200) agg.events.erase(agg.events.begin());
          return;
        } else {
          return;
        }
        drive(x.job, agg, out);
      },
      *m);
}

// --- party ---

std::optional<FlService::Refused> FlService::party_check(uint32_t from, const FlJob& job, Ask ask, int round) const {
  if (!is_party(job)) return Refused{"not_party", "node " + std::to_string(self_) + " is not a party of this job", false};
  if (job.finished()) return Refused{"job_ended", "the job has finished", false};
  if (job.failure) return Refused{"job_ended", "the job has failed", false};
  if (job.aggregator != from) {
    return Refused{"not_aggregator",
                   "node " + std::to_string(from) + " is not the job's aggregator on the ledger (" +
                       (job.aggregator == 0 ? std::string("no claim yet") : "node " + std::to_string(job.aggregator)) + ")",
                   true};
  }
  if (ask == Ask::kStats) {
    if (job.standardization) return Refused{"standardized", "the job's standardization is already on the ledger", false};
    return std::nullopt;
  }
  if (!job.standardization) return Refused{"no_standardization", "the job has no standardization on the ledger yet", true};
  int next = static_cast<int>(job.rounds.size()) + 1;
  if (round != next) {
    return Refused{"wrong_round", "round " + std::to_string(round) + " is not the job's next round (" + std::to_string(next) + ")", round > next};
  }
  return std::nullopt;
}

void FlService::refuse(uint32_t from, const Bytes& job, int round, const Refused& why) {
  refusals_[why.key]++;
  log_limit_.log(LogLevel::kWarn, "fl", "refused " + why.key, std::to_string(from),
                 "refused a request of node " + std::to_string(from) + " for job " + short_id(job) + " round " + std::to_string(round) +
                     ": " + why.reason,
                 steady_ms());
  node_.send_app(from, fl::encode_wire(fl::Refusal{job, round, why.reason, why.awaiting_consent}));
}

void FlService::retry_parked(bool final) {
  if (parked_.empty()) return;
  int64_t now = node_.now_ms();
  std::deque<Parked> held;
  held.swap(parked_);
  for (auto& p : held) {
    bool expired = now >= p.until;
    if (final && !expired) {
      parked_.push_back(std::move(p));
      continue;
    }
    // Checked again against the ledger as it is now; held once more only if still in time.
    int64_t until = p.until;
    size_t before = parked_.size();
    party_request(p.from, std::move(p.request), !expired);
    if (parked_.size() > before) parked_.back().until = until;
  }
}

void FlService::party_request(uint32_t from, fl::WireMessage request, bool may_park) {
  Bytes job_id;
  int round = 0;
  Ask ask = Ask::kStats;
  if (auto* f = std::get_if<fl::FitRequest>(&request)) {
    job_id = f->job, round = f->round, ask = Ask::kFit;
  } else if (auto* e = std::get_if<fl::EvalRequest>(&request)) {
    job_id = e->job, round = e->round, ask = Ask::kEval;
  } else {
    job_id = std::get<fl::StatsRequest>(request).job;
  }
  auto hold_or_refuse = [&](const Refused& why) {
    if (may_park && why.may_pass_later) {
      // Hold it for a commit this node has not applied yet; the oldest goes if too many are held.
      if (parked_.size() >= kParkedMax) {
        Parked old = std::move(parked_.front());
        parked_.pop_front();
        party_request(old.from, std::move(old.request), false);
      }
      parked_.push_back({from, std::move(request), node_.now_ms() + kParkMs});
      return;
    }
    refuse(from, job_id, round, why);
  };
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) return hold_or_refuse({"unknown_job", "no such job on this node's ledger", true});
  const FlJob& job = it->second;
  if (auto why = party_check(from, job, ask, round)) return hold_or_refuse(*why);
  auto pd = party_data(job);
  if (!pd.ok()) return refuse(from, job_id, round, {"no_data", pd.error().message, false});
  PartyData& data = **pd;
  // The data set as its owner left it: not deleted or replaced since this job first used it
  // (the sealed schema, read again), and the owner submitted the job or consented to it.
  auto now_schema = datasets_->schema(data.dataset);
  if (!now_schema.ok() || now_schema->data_sha256 != data.data_sha256) {
    party_data_.erase(job_id);
    return refuse(from, job_id, round,
                  {"no_data", now_schema.ok() ? "the data set " + data.dataset.key() + " was replaced by its owner during the job"
                                              : now_schema.error().message,
                   false});
  }
  // ... and the version the ledger last recorded for it (not files the host put back).
  DatasetKey key{self_, data.dataset.key()};
  auto reg = registry_.find(key);
  if (reg == registry_.end() || to_hex(reg->second.data_sha256) != data.data_sha256 || to_hex(reg->second.csv_sha256) != now_schema->csv_sha256) {
    return refuse(from, job_id, round,
                  {"no_data",
                   reg == registry_.end() ? "the ledger records no data set " + data.dataset.key() + " at this node (deleted)"
                                          : "the sealed data set " + data.dataset.key() + " is not the version the ledger records (its files were rolled back or replaced)",
                   false});
  }
  if (!consented(job, data.dataset.owner, key)) {
    return refuse(from, job_id, round,
                  {"no_consent", "the data set " + data.dataset.key() + " is " + data.dataset.owner + "'s, who has not consented to this job (supernet data consent)",
                   false, true});
  }
  if (auto* f = std::get_if<fl::FitRequest>(&request)) return party_fit(from, job, data, std::move(*f));
  if (auto* e = std::get_if<fl::EvalRequest>(&request)) return party_eval(from, job, data, *e);
  party_stats(from, job, data);
}

void FlService::party_stats(uint32_t from, const FlJob& job, PartyData& data) {
  fl::StatsReply r;
  r.job = job.id;
  const fl::Dataset& d = data.train;
  fl::FeatureSums sums;
  sums.add(d);
  r.rows = d.rows;
  r.classes = static_cast<uint32_t>(d.classes);
  r.sum = std::move(sums.sum);
  r.sumsq = std::move(sums.sumsq);
  node_.send_app(from, fl::encode_wire(r));
}

namespace {

void standardize(fl::Dataset& out, const fl::Dataset& raw, const std::vector<float>& mean, const std::vector<float>& sd) {
  out = raw;
  fl::Standardizer s{mean, sd};
  s.apply(out);
}

// The party's standardized splits as a worker receives them (no feature names).
fl::PartyData party_splits(const fl::Dataset& train, const fl::Dataset& test) {
  fl::PartyData d{train, test};
  d.train.feature_names.clear();
  d.test.feature_names.clear();
  return d;
}

// A worker's task ends with the job's round: at least 1 s, at most the TA bound.
uint32_t worker_timeout_ms(const FlJob& job) {
  return static_cast<uint32_t>(std::clamp<int64_t>(job.spec.config.round_timeout_ms, 1000, ta::kTaTimeoutMsMax));
}

}  // namespace

// Each job's work on each data set has its own worker (a tenant of the pool): the rows go to
// that process only.
static std::string trainer_tenant(const FlJob& job, const std::string& dataset) { return "fl/" + to_hex(job.id) + "/" + dataset; }

// The job's model for this data set and the ledger's standardization; standardized copies of
// the party's rows made once (immutable after, so the trainer's copy never changes under it).
static Result<fl::Model> job_model(const FlJob& job, const fl::Dataset& train, uint64_t seed) {
  fl::ModelSpec spec = job.spec.config.model;
  spec.inputs = train.features;
  spec.classes = static_cast<int>(job.standardization->classes);
  return fl::Model::create(spec, seed);
}

void FlService::party_fit(uint32_t from, const FlJob& job, PartyData& data, fl::FitRequest req) {
  const fl::Standardization& st = *job.standardization;
  if (st.mean.size() != data.train.features) {
    return refuse(from, job.id, req.round,
                  {"wrong_standardization",
                   "the job's standardization has " + std::to_string(st.mean.size()) + " features, this data set " +
                       std::to_string(data.train.features),
                   false});
  }
  if (req.classes != st.classes || req.mean != st.mean || req.stddev != st.stddev) {
    return refuse(from, job.id, req.round, {"wrong_standardization", "the standardization is not the one the ledger records", false});
  }
  auto initial = job_model(job, data.train, job.spec.config.seed);
  if (!initial.ok()) return refuse(from, job.id, req.round, {"wrong_model", initial.error().message, false});
  if (data.initial_hash.empty()) data.initial_hash = fl::model_hash(initial->params());
  const Bytes& expected = job.rounds.empty() ? data.initial_hash : job.rounds.back().record.model_hash;
  if (req.model.size() != initial->params().size() || fl::model_hash(req.model) != expected) {
    return refuse(from, job.id, req.round,
                  {"wrong_model",
                   job.rounds.empty() ? "the model is not the job's seeded initial model"
                                      : "the model is not the one round " + std::to_string(job.rounds.size()) + " recorded",
                   false});
  }
  fl::TrainOptions options = fl::fit_options(job.spec.config, *data.strategy, req.round, party_name(self_));
  if (!fl::same_training(options, req.options)) {
    return refuse(from, job.id, req.round, {"wrong_options", "the training options are not the job's", false});
  }
  if (!data.train_std) {
    auto train_std = std::make_shared<fl::Dataset>();
    auto test_std = std::make_shared<fl::Dataset>();
    standardize(*train_std, data.train, st.mean, st.stddev);
    standardize(*test_std, data.test, st.mean, st.stddev);
    data.train_std = std::move(train_std);
    data.test_std = std::move(test_std);
  }
  keep_model(job.id, req.model);
  data.fitted_round = req.round;
  // The owner's local DP, if its policy asks for it: the update is clipped and noised here,
  // before it leaves the node (noise from this node's random source, never from the job's seed).
  double local_clip = 0, local_noise = 0;
  if (auto reg = registry_.find({self_, data.dataset.key()}); reg != registry_.end() && reg->second.policy) {
    local_clip = reg->second.policy->local_clip;
    local_noise = reg->second.policy->local_noise;
  }
  // The training task: the job's model and options and the owner's local DP (noise from this
  // node's random source, never from the job's seed); the party's standardized splits go to the
  // job's worker once, in its first task.
  fl::TrainTask task;
  task.spec = initial->spec();
  task.params = req.model;
  task.options = options;
  task.local_clip = local_clip;
  task.local_noise = local_noise;
  task.noise_seed = crypto::random_u64();
  uint32_t timeout_ms = worker_timeout_ms(job);
  // Training runs off the io thread (in a trusted application worker when the node has a pool);
  // the reply goes out from the io thread.
  auto alive = alive_;
  std::shared_ptr<const fl::Dataset> train = data.train_std, test = data.test_std;
  std::string tenant = trainer_tenant(job, data.dataset.key());
  asio::post(workers_, [this, alive, from, train, test, task = std::move(task), req = std::move(req), tenant, timeout_ms]() mutable {
    Result<fl::TrainResult> result = make_error("fl.train", "not run");
    if (trainers_ != nullptr) {
      auto out = in_worker(tenant, ta::TaskKind::kFlFit, timeout_ms, "training", [&](bool fresh) {
        fl::TrainTask sent = task;
        if (fresh) sent.data = party_splits(*train, *test);
        return fl::encode_train_task(sent);
      });
      result = out.ok() ? fl::decode_train_result(as_bytes(*out), task.params.size()) : Result<fl::TrainResult>(out.error());
    } else {
      result = fl::run_train_task(task, *train);
    }
    if (!result.ok()) {
      std::string why = result.error().message;
      asio::post(node_.io(), [this, alive, from, job = req.job, round = req.round, why] {
        if (!*alive) return;
        log(LogLevel::kWarn, "fl", "training for job " + short_id(job) + " failed: " + why);
        refuse(from, job, round, {"training_failed", why, false});
      });
      return;
    }
    fl::FitReply reply;
    reply.job = req.job;
    reply.round = req.round;
    reply.params = std::move(result->params);
    reply.examples = train->rows;
    reply.train = result->metrics;
    Bytes frame = fl::encode_wire(reply);
    asio::post(node_.io(), [this, alive, from, frame = std::move(frame)]() mutable {
      if (*alive) node_.send_app(from, std::move(frame));
    });
    if (trainers_ != nullptr) (void)trainers_->warm();  // a spare for the next job, after the reply
  });
}

Result<std::string> FlService::in_worker(const std::string& tenant, ta::TaskKind kind, uint32_t timeout_ms, const char* what,
                                         const std::function<Bytes(bool fresh)>& input) {
  static std::atomic<uint64_t> ids{0};
  auto r = trainers_->run(tenant, [&](bool fresh) {
    ta::Task t;
    t.id = ++ids;
    t.kind = kind;
    t.limits.timeout_ms = timeout_ms;
    t.input = to_string(input(fresh));
    return t;
  });
  if (!r.ok()) return r.error();
  if (r->outcome != ta::Outcome::kOk) {
    return make_error(std::string("fl.") + what, std::string("the ") + what + " worker: " + ta::outcome_name(r->outcome) + ": " + r->message);
  }
  return std::move(r->output);
}

void FlService::party_eval(uint32_t from, const FlJob& job, PartyData& data, const fl::EvalRequest& req) {
  // The model to evaluate is the round's aggregate, which no party can check: so only a round
  // this party trained, and once per aggregator (a few numbers, not a channel to probe with).
  if (data.fitted_round != req.round || !data.test_std) {
    return refuse(from, job.id, req.round, {"eval_without_fit", "this party did not train round " + std::to_string(req.round), false});
  }
  const fl::Standardization& st = *job.standardization;
  if (req.classes != st.classes || req.mean != st.mean || req.stddev != st.stddev) {
    return refuse(from, job.id, req.round, {"wrong_standardization", "the standardization is not the one the ledger records", false});
  }
  if (data.evaluated_round == req.round && data.evaluated_for == from) {
    return refuse(from, job.id, req.round, {"eval_repeated", "round " + std::to_string(req.round) + " was evaluated already", false});
  }
  auto m = job_model(job, data.test, 0);
  if (!m.ok() || m->params().size() != req.model.size()) {
    return refuse(from, job.id, req.round, {"wrong_model", "the model does not fit this data set", false});
  }
  data.evaluated_round = req.round;
  data.evaluated_for = from;
  keep_model(job.id, req.model);
  // Inference on the held-out split, in the job's worker like its training (the worker has the
  // splits from its first task; a fresh one gets them again).
  fl::EvalTask task;
  task.spec = m->spec();
  task.params = req.model;
  uint32_t timeout_ms = worker_timeout_ms(job);
  auto alive = alive_;
  std::shared_ptr<const fl::Dataset> train = data.train_std, test = data.test_std;
  std::string tenant = trainer_tenant(job, data.dataset.key());
  asio::post(workers_, [this, alive, from, train, test, task = std::move(task), job_id = req.job, round = req.round, tenant, timeout_ms] {
    Result<fl::Metrics> metrics = make_error("fl.eval", "not run");
    if (trainers_ != nullptr) {
      auto out = in_worker(tenant, ta::TaskKind::kFlEval, timeout_ms, "evaluation", [&](bool fresh) {
        fl::EvalTask sent = task;
        if (fresh) sent.data = party_splits(*train, *test);
        return fl::encode_eval_task(sent);
      });
      metrics = out.ok() ? fl::decode_metrics(as_bytes(*out)) : Result<fl::Metrics>(out.error());
    } else {
      metrics = fl::run_eval_task(task, *test);
    }
    asio::post(node_.io(), [this, alive, from, job_id, round, metrics = std::move(metrics)] {
      if (!*alive) return;
      if (!metrics.ok()) {
        log(LogLevel::kWarn, "fl", "evaluation for job " + short_id(job_id) + " failed: " + metrics.error().message);
        return refuse(from, job_id, round, {"evaluation_failed", metrics.error().message, false});
      }
      fl::EvalReply reply;
      reply.job = job_id;
      reply.round = round;
      reply.metrics = *metrics;
      node_.send_app(from, fl::encode_wire(reply));
    });
  });
}

}  // namespace supernet::node
