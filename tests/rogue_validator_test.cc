// A rogue validator (test only, never in the product): node 3 of a three-node network runs no
// federated learning service and, as a validator whose TEE is broken would, sends the parties
// (nodes 1 and 2) crafted requests over the attested peer links: a finished job, a request
// before the ledger names it, a past and a future round, a foreign model, changed training
// options, a changed standardization, an evaluation of a round it did not have trained. Each
// is refused with its reason and nothing else comes back; only the request the ledger allows
// gets an update. It also claims a job and records a standardization, as any validator may.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "fl/wire.h"
#include "node/datasets.h"
#include "node/fl_service.h"
#include "node/node_cluster.h"
#include "util/file.h"

namespace supernet::node {
namespace {

using testing::NodeCluster;
using testing::temp_path;

// The breast cancer data set of the repository, halves to nodes 1 and 2.
std::string csv_part(int part) {
  std::string all = to_string(read_file(std::string(SUPERNET_SOURCE_DIR) + "/data/breast_cancer.csv").value());
  std::vector<std::string> lines;
  size_t pos = 0;
  while (pos < all.size()) {
    size_t end = all.find('\n', pos);
    if (end == std::string::npos) end = all.size();
    if (end > pos) lines.push_back(all.substr(pos, end - pos));
    pos = end + 1;
  }
  std::string out = lines[0] + "\n";
  for (size_t i = 1; i < lines.size(); i++) {
    if (static_cast<int>(i % 2) == part - 1) out += lines[i] + "\n";
  }
  return out;
}

class RogueValidator : public NodeCluster {
 protected:
  RogueValidator() { genesis_member_ = true; }
  void SetUp() override {
    NodeCluster::SetUp();
    for (int i = 1; i <= 2; i++) {
      stores_[i] = std::make_unique<DatasetStore>(*platforms_[i], temp_path("data-" + std::to_string(i)));
      std::filesystem::create_directories(temp_path("data-" + std::to_string(i)));
      models_[i] = std::make_unique<ModelStore>(*platforms_[i], temp_path("models-" + std::to_string(i)));
      ta::WorkerOptions wo;
      wo.program = SUPERNET_NODE_PATH;
      pools_[i] = std::make_unique<ta::Pool>(wo, 1);
      fl_[i] = std::make_unique<FlService>(*nodes_[i], stores_[i].get(), identities_[i].secret_key, models_[i].get(), pools_[i].get());
      add_data(i, "hospital", csv_part(i), "member");
    }
    nodes_[3]->on_app_frame([this](uint32_t from, Bytes frame) {
      auto m = fl::decode_wire(frame);
      if (m.ok()) received_[from].push_back(std::move(*m));
    });
  }

  // Registers a data set at node i as the API does: sealed in its store, then the node's
  // record of it committed on the ledger.
  void add_data(int i, const std::string& name, const std::string& csv, const std::string& owner) {
    auto s = stores_[i]->add({owner, name}, csv, fl::CsvOptions{});
    ASSERT_TRUE(s.ok()) << s.error().to_string();
    Bytes tx = fl_[i]->data_record_tx(*s, false, statement(i, name, csv, false, owner));
    ASSERT_TRUE(nodes_[i]->submit(tx));
    ASSERT_TRUE(run_until([&] { return all_committed({tx}); }));
  }

  // The owner's signed word for a registration (of `csv`) or a deletion at node i.
  fl::OwnerStatement statement(int i, const std::string& name, const std::string& csv, bool deleted, const std::string& owner) {
    const crypto::PrivateKey& key = owner == "user" ? user_key_ : member_key_;
    return fl::OwnerStatement::decode(fl::make_owner_statement(static_cast<uint32_t>(i), name, crypto::sha256(as_bytes(csv)), "", deleted, key)).value();
  }

  // A job with parties 1 and 2 whose first scheduled aggregator is `first` (its id picks it).
  Bytes submit_job(const std::string& name, int rounds, uint32_t first) {
    std::string toml = "name = \"" + name + "\"\nrounds = " + std::to_string(rounds) +
                       "\nmin_parties = 2\nround_timeout_s = 5\n[model]\nkind = \"logistic\"\n"
                       "[[parties]]\nnode = 1\ndataset = \"hospital\"\n[[parties]]\nnode = 2\ndataset = \"hospital\"\n";
    for (uint64_t nonce = 1;; nonce++) {
      Bytes tx = fl::make_job_tx(toml, nonce, member_key_);
      Bytes id = to_bytes(as_bytes(consensus::tx_id(tx)));
      if (static_cast<uint32_t>(id[0] % 3 + 1) != first) continue;
      EXPECT_TRUE(nodes_[1]->submit(tx));
      EXPECT_TRUE(run_until([&] { return fl_[1]->jobs().count(id) && fl_[2]->jobs().count(id); }));
      return id;
    }
  }

  // What nodes 1 and 2 sent node 3 since the last call.
  std::vector<fl::WireMessage> take(uint32_t from) {
    auto out = std::move(received_[from]);
    received_[from].clear();
    return out;
  }
  static std::string refusal(const fl::WireMessage& m) {
    auto* r = std::get_if<fl::Refusal>(&m);
    return r == nullptr ? "(not a refusal)" : r->reason;
  }
  // Sends `m` to node 1 and waits for its one answer.
  fl::WireMessage ask(const fl::WireMessage& m, int ms = 10000) {
    nodes_[3]->send_app(1, fl::encode_wire(m));
    EXPECT_TRUE(run_until([&] { return !received_[1].empty(); }, ms));
    if (received_[1].empty()) return fl::Refusal{{}, 0, "(no answer)"};
    auto out = received_[1].front();
    received_[1].erase(received_[1].begin());
    return out;
  }

  // Node 3 claims `job` (scheduled on it), asks node 1 for its sums, records a standardization
  // from them: returns the round-1 request the ledger then allows for node 1.
  fl::FitRequest claim_round_one(const Bytes& job) {
    fl::FitRequest good;
    EXPECT_TRUE(nodes_[3]->submit(fl::make_claim_tx(job, 3, 1, 1, std::nullopt, identities_[3].secret_key)));
    EXPECT_TRUE(run_until([&] { return fl_[1]->jobs().at(job).aggregator == 3 && fl_[2]->jobs().at(job).aggregator == 3; }));
    auto stats = ask(fl::StatsRequest{job});
    if (!std::holds_alternative<fl::StatsReply>(stats)) {
      ADD_FAILURE() << refusal(stats);
      return good;
    }
    const auto& s = std::get<fl::StatsReply>(stats);
    fl::FeatureSums sums;
    sums.sum = s.sum;
    sums.sumsq = s.sumsq;
    sums.rows = static_cast<double>(s.rows);
    fl::Standardizer st = fl::Standardizer::from_sums(sums);
    fl::Standardization rec{std::max<uint32_t>(s.classes, 2), st.mean, st.stddev};
    EXPECT_TRUE(nodes_[3]->submit(fl::make_claim_tx(job, 3, 1, 2, rec, identities_[3].secret_key)));
    EXPECT_TRUE(run_until([&] { return fl_[1]->jobs().at(job).standardization.has_value(); }));
    const FlJob& target = fl_[1]->jobs().at(job);
    fl::JobConfig cfg = target.spec.config;
    cfg.model.inputs = rec.mean.size();
    cfg.model.classes = static_cast<int>(rec.classes);
    auto initial = fl::Model::create(cfg.model, cfg.seed).value();
    auto strategy = fl::make_strategy(cfg.strategy).value();
    good.job = job;
    good.round = 1;
    good.classes = rec.classes;
    good.model = initial.params();
    good.mean = rec.mean;
    good.stddev = rec.stddev;
    good.options = fl::fit_options(cfg, *strategy, 1, "node-1");
    return good;
  }

  std::map<int, std::unique_ptr<DatasetStore>> stores_;
  std::map<int, std::unique_ptr<ModelStore>> models_;
  // The parties train in trusted application workers, as the node program does.
  std::map<int, std::unique_ptr<ta::Pool>> pools_;
  std::map<int, std::unique_ptr<FlService>> fl_;
  std::map<uint32_t, std::vector<fl::WireMessage>> received_;
};

TEST_F(RogueValidator, PartiesAnswerOnlyWhatTheLedgerAllows) {
  // An honest job, aggregated by node 1 or 2, runs to its end.
  Bytes done = submit_job("honest", 1, 1);
  ASSERT_TRUE(run_until([&] { return fl_[1]->jobs().at(done).finished() && fl_[2]->jobs().at(done).finished(); }, 30000));
  const FlJob& finished = fl_[1]->jobs().at(done);
  ASSERT_TRUE(finished.standardization.has_value());
  EXPECT_NE(finished.aggregator, 3u);
  take(1);
  take(2);

  // A finished job: refused, whatever the request holds.
  fl::FitRequest late;
  late.job = done;
  late.round = 2;
  late.classes = finished.standardization->classes;
  late.model = fl_[1]->model_with_hash(done, finished.rounds.back().record.model_hash).value();
  late.mean = finished.standardization->mean;
  late.stddev = finished.standardization->stddev;
  EXPECT_EQ(refusal(ask(late)), "the job has finished");

  // A job the ledger schedules on node 3 (so the honest nodes leave it alone for a while).
  Bytes job = submit_job("target", 5, 3);
  // Before node 3 claims it: not the aggregator (held for a commit, then refused).
  EXPECT_EQ(refusal(ask(fl::StatsRequest{job})), "node 3 is not the job's aggregator on the ledger (no claim yet)");
  EXPECT_EQ(fl_[1]->refusals().at("not_aggregator"), 1u);

  // Node 3 claims the job (any validator may), learns the parties' sums, records the
  // standardization: round 1 is then the request the ledger allows.
  fl::FitRequest good = claim_round_one(job);
  EXPECT_EQ(refusal(ask(fl::StatsRequest{job})), "the job's standardization is already on the ledger");
  auto initial_params = good.model;

  fl::EvalRequest eval;
  eval.job = job;
  eval.round = 1;
  eval.classes = good.classes;
  eval.model = good.model;
  eval.mean = good.mean;
  eval.stddev = good.stddev;
  EXPECT_EQ(refusal(ask(eval)), "this party did not train round 1");

  auto crafted = good;
  crafted.round = 0;
  EXPECT_EQ(refusal(ask(crafted)), "round 0 is not the job's next round (1)");
  crafted = good;
  std::mt19937 rng(7);
  for (float& p : crafted.model) p = std::uniform_real_distribution<float>(-3, 3)(rng);
  EXPECT_EQ(refusal(ask(crafted)), "the model is not the job's seeded initial model");
  crafted = good;
  crafted.model.resize(4096 * 31 + 4096 * 2);  // a wide hand-made MLP in place of the job's model
  EXPECT_EQ(refusal(ask(crafted)), "the model is not the job's seeded initial model");
  crafted = good;
  crafted.options.epochs = 100;
  crafted.options.batch = 100000;
  EXPECT_EQ(refusal(ask(crafted)), "the training options are not the job's");
  crafted = good;
  std::fill(crafted.mean.begin(), crafted.mean.end(), 0.0f);
  std::fill(crafted.stddev.begin(), crafted.stddev.end(), 1.0f);
  EXPECT_EQ(refusal(ask(crafted)), "the standardization is not the one the ledger records");

  // A round ahead of the ledger is held for a commit that never comes, then refused.
  crafted = good;
  crafted.round = 2;
  EXPECT_EQ(refusal(ask(crafted, 2 * FlService::kParkMs + 5000)), "round 2 is not the job's next round (1)");

  // Node 2 never saw any of this: only node 1 was asked.
  EXPECT_TRUE(take(2).empty());
  // The allowed request gets its update, and its evaluation is answered once.
  auto update = ask(good);
  ASSERT_TRUE(std::holds_alternative<fl::FitReply>(update)) << refusal(update);
  EXPECT_EQ(std::get<fl::FitReply>(update).params.size(), initial_params.size());
  EXPECT_TRUE(std::holds_alternative<fl::EvalReply>(ask(eval)));
  EXPECT_EQ(refusal(ask(eval)), "round 1 was evaluated already");

  // Every refusal was counted by reason.
  const auto& r = fl_[1]->refusals();
  EXPECT_EQ(r.at("job_ended"), 1u);
  EXPECT_EQ(r.at("not_aggregator"), 1u);
  EXPECT_EQ(r.at("standardized"), 1u);
  EXPECT_EQ(r.at("eval_without_fit"), 1u);
  EXPECT_EQ(r.at("wrong_round"), 2u);
  EXPECT_EQ(r.at("wrong_model"), 2u);
  EXPECT_EQ(r.at("wrong_options"), 1u);
  EXPECT_EQ(r.at("wrong_standardization"), 1u);
  EXPECT_EQ(r.at("eval_repeated"), 1u);
}

// The ledger's rules for claims, rounds and failures, applied alike by every node: a round
// record or a failure from a validator other than the one the last claim names is ignored, a
// second standardization is ignored, a claim signed by another key is ignored.
TEST_F(RogueValidator, LedgerTakesRecordsOnlyFromTheClaimedAggregator) {
  Bytes job = submit_job("records", 3, 3);
  const crypto::SecureBytes& rogue = identities_[3].secret_key;
  // A claim that says node 1 but is signed by node 3: ignored.
  ASSERT_TRUE(nodes_[3]->submit(fl::make_claim_tx(job, 1, 1, 1, std::nullopt, rogue)));
  // A round record before any claim: ignored.
  fl::RoundRecord r;
  r.round = 1;
  r.model_hash = Bytes(32, 1);
  ASSERT_TRUE(nodes_[3]->submit(fl::make_round_tx(job, 3, r, rogue)));
  ASSERT_TRUE(nodes_[3]->submit(fl::make_claim_tx(job, 3, 1, 2, std::nullopt, rogue)));
  ASSERT_TRUE(run_until([&] { return fl_[1]->jobs().at(job).aggregator == 3; }));
  EXPECT_TRUE(fl_[1]->jobs().at(job).rounds.empty());
  // Node 1 takes the job over (as its failure detector would have it) and records the standardization.
  fl::Standardization st{2, std::vector<float>(30, 0.0f), std::vector<float>(30, 1.0f)};
  ASSERT_TRUE(nodes_[1]->submit(fl::make_claim_tx(job, 1, 1, 3, std::nullopt, identities_[1].secret_key)));
  ASSERT_TRUE(run_until([&] { return fl_[2]->jobs().at(job).aggregator == 1; }));
  // Node 3, no longer the aggregator, records a standardization, a round and a failure: all ignored.
  ASSERT_TRUE(nodes_[3]->submit(fl::make_claim_tx(job, 3, 1, 4, st, rogue)));
  r.attempts = 2;  // (another transaction than the first)
  ASSERT_TRUE(nodes_[3]->submit(fl::make_round_tx(job, 3, r, rogue)));
  ASSERT_TRUE(nodes_[3]->submit(fl::make_fail_tx(job, 3, 1, "rogue", rogue)));
  Bytes marker = ledger::KvWrite{"t", "k", to_bytes("v"), "test", 1}.encode();
  ASSERT_TRUE(nodes_[3]->submit(marker));
  ASSERT_TRUE(run_until([&] { return all_committed({marker}); }));
  // (Node 1 aggregates the job meanwhile, as the honest aggregator it now is.)
  for (int i = 1; i <= 2; i++) {
    const FlJob& j = fl_[i]->jobs().at(job);
    EXPECT_EQ(j.aggregator, 1u);
    for (const auto& round : j.rounds) EXPECT_EQ(round.aggregator, 1u);
    EXPECT_NE(j.standardization, std::optional<fl::Standardization>(st));
    EXPECT_FALSE(j.failure.has_value());
  }
}

// A node that restarts still serves the final models of finished jobs: sealed to its platform
// when the last round commits, read back and checked against the ledger's hash. A file swapped
// for another job's sealed model is not served.
TEST_F(RogueValidator, FinalModelsAreSealedAcrossRestarts) {
  Bytes a = submit_job("first", 2, 1);
  Bytes b = submit_job("second", 1, 2);
  ASSERT_TRUE(run_until([&] { return fl_[1]->jobs().at(a).finished() && fl_[1]->jobs().at(b).finished(); }, 30000));
  Bytes hash_a = fl_[1]->jobs().at(a).rounds.back().record.model_hash;
  ASSERT_TRUE(fl_[1]->model_with_hash(a, hash_a).has_value());
  ASSERT_TRUE(std::filesystem::exists(temp_path("models-1/" + to_hex(a) + ".sealed")));
  // No plaintext: the file does not hold the model's bytes.
  auto model = fl_[1]->model_with_hash(a, hash_a).value();
  std::string file = to_string(read_file(temp_path("models-1/" + to_hex(a) + ".sealed")).value());
  std::string first_values(reinterpret_cast<const char*>(model.data()), 16);
  EXPECT_EQ(file.find(first_values), std::string::npos);

  fl_[1].reset();  // the service restarts (from the same ledger and the same sealed files)
  fl_[1] = std::make_unique<FlService>(*nodes_[1], stores_[1].get(), identities_[1].secret_key, models_[1].get(), pools_[1].get());
  auto again = fl_[1]->model_with_hash(a, hash_a);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(*again, model);

  // The host swaps job a's file for job b's sealed model: a different label, refused; not served.
  std::filesystem::copy_file(temp_path("models-1/" + to_hex(b) + ".sealed"), temp_path("models-1/" + to_hex(a) + ".sealed"),
                             std::filesystem::copy_options::overwrite_existing);
  fl_[1].reset();
  fl_[1] = std::make_unique<FlService>(*nodes_[1], stores_[1].get(), identities_[1].secret_key, models_[1].get(), pools_[1].get());
  EXPECT_FALSE(fl_[1]->model_with_hash(a, hash_a).has_value());
  EXPECT_TRUE(fl_[1]->model_with_hash(b, fl_[1]->jobs().at(b).rounds.back().record.model_hash).has_value());
}

// Jobs are signed by the submitting member and checked by every node when applied: the rogue
// validator orders an unsigned job, one signed by a key that is no member's, and one altered
// after it was signed, straight into consensus (no API on the way): no node applies any of
// them. The member's own signed job, ordered the same way, is applied everywhere.
TEST_F(RogueValidator, UnsignedAndWronglySignedJobsAreNotApplied) {
  std::string toml = "name = \"j\"\nrounds = 1\n[model]\nkind = \"logistic\"\n[[parties]]\nnode = 1\ndataset = \"hospital\"\n"
                     "[[parties]]\nnode = 2\ndataset = \"hospital\"\n";
  fl::JobTx unsigned_job{toml, 1, member_key_.public_key().spki_der(), {}};
  auto stranger = crypto::PrivateKey::generate_ec(crypto::Curve::kP256);
  Bytes foreign = fl::make_job_tx(toml, 2, stranger);
  auto altered = fl::JobTx::decode(fl::make_job_tx(toml, 3, member_key_)).value();
  altered.toml += "model_readers = [\"member\"]\n";
  Bytes good = fl::make_job_tx(toml, 4, member_key_);
  std::vector<Bytes> txs = {unsigned_job.encode(), foreign, altered.encode(), good};
  for (const auto& tx : txs) ASSERT_TRUE(nodes_[3]->submit(tx));
  ASSERT_TRUE(run_until([&] { return all_committed(txs); }));
  for (int i = 1; i <= 2; i++) {
    EXPECT_EQ(fl_[i]->jobs().size(), 1u);
    for (size_t k = 0; k + 1 < txs.size(); k++) EXPECT_FALSE(fl_[i]->jobs().count(to_bytes(as_bytes(consensus::tx_id(txs[k])))));
    ASSERT_TRUE(fl_[i]->jobs().count(to_bytes(as_bytes(consensus::tx_id(good)))));
    EXPECT_EQ(fl_[i]->jobs().at(to_bytes(as_bytes(consensus::tx_id(good)))).submitter, "member");
  }
  // The reasons, as the API gives them before ordering anything.
  auto ok = check_job(fl::JobTx::decode(good).value(), chain_);
  EXPECT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(check_job(unsigned_job, chain_).error().code, "job.signature");
  EXPECT_EQ(check_job(fl::JobTx::decode(foreign).value(), chain_).error().code, "job.signer");
  EXPECT_EQ(check_job(altered, chain_).error().code, "job.signature");
}


// A data set's owner decides who trains on it: node 2's "user/clinic" is the user's, node 1's
// "clinic" the member's. The member's job waits (node 2 refuses, awaiting consent) and does not start
// without it; a consent signed by the member (not the owner) or by a stranger changes nothing;
// the user's consent, once on the ledger, lets the job run to its end. Jobs asking for fewer
// than two parties per round are refused by every node (the default data policy).
TEST_F(RogueValidator, AJobWaitsForTheDataOwnersConsent) {
  add_data(1, "clinic", csv_part(1), "member");
  add_data(2, "clinic", csv_part(2), "user");
  std::string toml = "name = \"consent\"\nrounds = 2\nmin_parties = 2\nround_timeout_s = 2\n[model]\nkind = \"logistic\"\n"
                     "[[parties]]\nnode = 1\ndataset = \"clinic\"\n[[parties]]\nnode = 2\ndataset = \"user/clinic\"\n";
  Bytes tx;
  Bytes job;
  for (uint64_t nonce = 1;; nonce++) {  // node 1 is the first aggregator (the job's id picks it)
    tx = fl::make_job_tx(toml, nonce, member_key_);
    job = to_bytes(as_bytes(consensus::tx_id(tx)));
    if (job[0] % 3 == 0) break;
  }
  ASSERT_TRUE(nodes_[1]->submit(tx));
  ASSERT_TRUE(run_until([&] { return fl_[2]->refusals().count("no_consent") && fl_[2]->refusals().at("no_consent") >= 2; }, 30000));
  // Consents that are not the owner's: the member's own, a stranger's, an altered one.
  auto stranger = crypto::PrivateKey::generate_ec(crypto::Curve::kP256);
  auto altered = fl::ConsentTx::decode(fl::make_consent_tx(job, 3, user_key_)).value();
  altered.nonce = 4;
  std::vector<Bytes> wrong = {fl::make_consent_tx(job, 1, member_key_), fl::make_consent_tx(job, 2, stranger), altered.encode()};
  for (const auto& w : wrong) ASSERT_TRUE(nodes_[3]->submit(w));
  ASSERT_TRUE(run_until([&] { return all_committed(wrong); }));
  EXPECT_EQ(check_consent(fl::ConsentTx::decode(wrong[1]).value(), chain_).error().code, "consent.signer");
  EXPECT_EQ(check_consent(altered, chain_).error().code, "consent.signature");
  uint64_t before = fl_[2]->refusals().at("no_consent");
  ASSERT_TRUE(run_until([&] { return fl_[2]->refusals().at("no_consent") > before; }, 30000));
  for (int i = 1; i <= 2; i++) {
    const FlJob& j = fl_[i]->jobs().at(job);
    EXPECT_TRUE(j.rounds.empty());
    EXPECT_FALSE(j.ended());
    EXPECT_EQ(j.consents, (std::set<std::string>{"member"}));
  }
  // The owner consents: the job trains on both parties and ends.
  Bytes yes = fl::make_consent_tx(job, 5, user_key_);
  EXPECT_EQ(check_consent(fl::ConsentTx::decode(yes).value(), chain_).value(), "user");
  ASSERT_TRUE(nodes_[1]->submit(yes));
  ASSERT_TRUE(run_until([&] { return fl_[1]->jobs().at(job).finished() && fl_[2]->jobs().at(job).finished(); }, 60000));
  const FlJob& done = fl_[1]->jobs().at(job);
  EXPECT_EQ(done.rounds.size(), 2u);
  for (const auto& r : done.rounds) EXPECT_EQ(r.record.parties.size(), 2u);

  // The user's policy lists the member among its submitters: the member's next job on the
  // user's data trains without a consent of its own.
  fl::DataPolicy trusted;
  trusted.submitters = {"member"};
  Bytes policy = fl::make_policy_tx(2, "clinic", trusted, 1, user_key_);
  ASSERT_TRUE(nodes_[2]->submit(policy));
  ASSERT_TRUE(run_until([&] { return fl_[1]->datasets_on_ledger().at({2, "user/clinic"}).policy == trusted; }));
  Bytes again = fl::make_job_tx(toml, 99, member_key_);
  Bytes again_id = to_bytes(as_bytes(consensus::tx_id(again)));
  ASSERT_TRUE(nodes_[1]->submit(again));
  ASSERT_TRUE(run_until([&] { return fl_[2]->jobs().count(again_id) && fl_[2]->jobs().at(again_id).finished(); }, 60000));
  EXPECT_TRUE(fl_[2]->jobs().at(again_id).consents.empty());

  // A consent after the end is ignored; a job of one party per round is refused everywhere.
  std::string solo = "name = \"solo\"\nrounds = 1\nmin_parties = 1\n[model]\nkind = \"logistic\"\n[[parties]]\nnode = 1\ndataset = \"clinic\"\n";
  Bytes solo_tx = fl::make_job_tx(solo, 1, member_key_);
  EXPECT_EQ(check_job(fl::JobTx::decode(solo_tx).value(), chain_).error().code, "job.policy");
  ASSERT_TRUE(nodes_[3]->submit(solo_tx));
  ASSERT_TRUE(run_until([&] { return all_committed({solo_tx}); }));
  EXPECT_FALSE(fl_[1]->jobs().count(to_bytes(as_bytes(consensus::tx_id(solo_tx)))));
}


// Data sets as the ledger records them, and their owners' policies: a record of node 1's data
// signed by node 3 is ignored, a policy signed by another client than the owner is ignored, a
// job naming an unregistered data set is refused; the owner's policy refuses a job without DP,
// more epochs, a reader it does not list, fewer parties, and once the DP budget is reserved or
// spent, the next job; the rogue validator ordering such a job changes nothing.
TEST_F(RogueValidator, PoliciesAndDpBudgetsOnTheLedger) {
  auto job_tx = [&](const std::string& extra, const std::string& dataset = "hospital", uint64_t nonce = 1) {
    std::string toml = "name = \"p\"\nrounds = 2\nround_timeout_s = 5\n" + extra + "[model]\nkind = \"logistic\"\n[[parties]]\nnode = 1\ndataset = \"" +
                       dataset + "\"\n[[parties]]\nnode = 2\ndataset = \"hospital\"\n";
    return fl::make_job_tx(toml, nonce, member_key_);
  };
  auto data_check = [&](const Bytes& tx) {
    auto checked = check_job(fl::JobTx::decode(tx).value(), chain_);
    EXPECT_TRUE(checked.ok()) << checked.error().message;
    return fl_[1]->check_job_data(checked->spec, checked->submitter);
  };
  // A record of node 1's data signed by node 3; a job on a data set no node registered.
  fl::DataRecordTx forged;
  forged.node = 1;
  forged.name = "forged";
  forged.owner = "user";
  forged.data_sha256 = Bytes(32, 1);
  Bytes forged_tx = fl::make_data_record_tx(forged, identities_[3].secret_key);
  Bytes unregistered = job_tx("", "nothing");
  EXPECT_EQ(data_check(unregistered).error().code, "job.data");
  // A policy for the member's data signed by the user: not the owner, ignored.
  fl::DataPolicy strict;
  strict.min_parties = 2;
  Bytes not_owners = fl::make_policy_tx(1, "hospital", strict, 1, user_key_);
  std::vector<Bytes> txs = {forged_tx, unregistered, not_owners};
  for (const auto& tx : txs) ASSERT_TRUE(nodes_[3]->submit(tx));
  ASSERT_TRUE(run_until([&] { return all_committed(txs); }));
  for (int i = 1; i <= 2; i++) {
    EXPECT_FALSE(fl_[i]->datasets_on_ledger().count({1, "user/forged"}));
    EXPECT_FALSE(fl_[i]->datasets_on_ledger().at({1, "member/hospital"}).policy.has_value());
    EXPECT_TRUE(fl_[i]->jobs().empty());
    EXPECT_EQ(fl_[i]->datasets_on_ledger().at({2, "member/hospital"}).owner, "member");
  }

  // The owner's policy on node 1's data: DP within 2 * one job's epsilon per job, a budget of
  // 1.5 jobs, at most 3 epochs, at least 2 parties, no other reader than the owner.
  const std::string dp = "[dp]\nenabled = true\nnoise_multiplier = 1.0\n";
  double one_job = fl::gaussian_rdp_epsilon(1.0, 2, 1e-5);
  fl::DataPolicy policy;
  policy.min_parties = 2;
  policy.max_epochs = 3;
  policy.max_epsilon = 2 * one_job;
  policy.epsilon_budget = 1.5 * one_job;
  Bytes set = fl::make_policy_tx(1, "hospital", policy, 2, member_key_);
  ASSERT_TRUE(nodes_[1]->submit(set));
  ASSERT_TRUE(run_until([&] { return fl_[1]->datasets_on_ledger().at({1, "member/hospital"}).policy == policy && fl_[2]->datasets_on_ledger().at({1, "member/hospital"}).policy == policy; }));
  EXPECT_NE(data_check(job_tx("")).error().message.find("requires differential privacy"), std::string::npos);
  EXPECT_NE(data_check(job_tx("[training]\nepochs = 5\n" + dp)).error().message.find("at most 3 local epochs"), std::string::npos);
  EXPECT_NE(data_check(job_tx("model_readers = [\"user\"]\n" + dp)).error().message.find("does not let user read"), std::string::npos);
  EXPECT_NE(data_check(job_tx("[dp]\nenabled = true\nnoise_multiplier = 0.3\n")).error().message.find("at most"), std::string::npos);
  // Within the policy: accepted, and its epsilon reserved while it runs.
  Bytes first = job_tx(dp);
  ASSERT_TRUE(data_check(first).ok());
  ASSERT_TRUE(nodes_[1]->submit(first));
  Bytes first_id = to_bytes(as_bytes(consensus::tx_id(first)));
  ASSERT_TRUE(run_until([&] { return fl_[1]->jobs().count(first_id) && fl_[2]->jobs().count(first_id); }));
  EXPECT_NEAR(fl_[1]->epsilon_spent({1, "member/hospital"}), one_job, 1e-9);
  EXPECT_EQ(fl_[2]->epsilon_spent({2, "member/hospital"}), one_job);  // counted for every data set it uses
  Bytes second = job_tx(dp, "hospital", 2);
  EXPECT_EQ(data_check(second).error().code, "job.budget");
  ASSERT_TRUE(run_until([&] { return fl_[1]->jobs().at(first_id).finished() && fl_[2]->jobs().at(first_id).finished(); }, 60000));
  // Spent once it ended: still no room for another; the rogue validator orders it anyway.
  EXPECT_NEAR(fl_[2]->epsilon_spent({1, "member/hospital"}), one_job, 1e-9);
  EXPECT_EQ(data_check(second).error().code, "job.budget");
  ASSERT_TRUE(nodes_[3]->submit(second));
  ASSERT_TRUE(run_until([&] { return all_committed({second}); }));
  for (int i = 1; i <= 2; i++) EXPECT_EQ(fl_[i]->jobs().size(), 1u);
}


// A registration or deletion counts only on its owner's signed word: a node (even the one that
// keeps the data) cannot register data in a client's name, a statement for another data set or
// node does not carry over, and an old deletion replayed does not remove a newer version.
TEST_F(RogueValidator, RegistrationsAndDeletionsNeedTheOwnersWord) {
  std::string csv = csv_part(1);
  auto record = [&](const std::string& name, const std::string& owner, bool deleted, fl::OwnerStatement st) {
    fl::DataRecordTx r;
    r.node = 1;
    r.name = name;
    r.owner = owner;
    r.deleted = deleted;
    if (!deleted) {
      r.data_sha256 = Bytes(32, 7);
      r.features = 30;
      r.classes = 2;
      r.rows = 100;
    }
    r.nonce = crypto::random_u64();
    r.statement = std::move(st);
    return fl::make_data_record_tx(std::move(r), identities_[1].secret_key);  // node 1's own key
  };
  std::vector<Bytes> txs = {
      record("planted", "user", false, statement(1, "planted", csv, false, "member")),  // the member's word for the user's data
      record("moved", "member", false, statement(2, "moved", csv, false, "member")),    // a statement for node 2
      record("renamed", "member", false, statement(1, "other", csv, false, "member")),  // for another data set
      record("flipped", "member", false, statement(1, "flipped", csv, true, "member")), // a deletion's word for a registration
  };
  for (const auto& tx : txs) ASSERT_TRUE(nodes_[3]->submit(tx));
  ASSERT_TRUE(run_until([&] { return all_committed(txs); }));
  for (int i = 1; i <= 2; i++) {
    for (const char* key : {"user/planted", "member/moved", "member/renamed", "member/flipped"}) {
      EXPECT_FALSE(fl_[i]->datasets_on_ledger().count({1, key})) << key << " at node " << i;
    }
  }
  // Version 1, deleted by its owner, then version 2; the old deletion's statement again, in a
  // fresh record: version 2 stays.
  add_data(1, "ward", csv, "member");
  fl::OwnerStatement old_deletion = statement(1, "ward", csv, true, "member");
  Bytes del1 = record("ward", "member", true, old_deletion);
  ASSERT_TRUE(nodes_[1]->submit(del1));
  ASSERT_TRUE(run_until([&] { return all_committed({del1}); }));
  EXPECT_FALSE(fl_[2]->datasets_on_ledger().count({1, "member/ward"}));
  ASSERT_TRUE(stores_[1]->remove({"member", "ward"}).ok());
  std::string v2 = csv;
  v2.resize(v2.rfind('\n', v2.size() - 2) + 1);
  add_data(1, "ward", v2, "member");
  Bytes replay = record("ward", "member", true, old_deletion);
  ASSERT_TRUE(nodes_[3]->submit(replay));
  ASSERT_TRUE(run_until([&] { return all_committed({replay}); }));
  for (int i = 1; i <= 2; i++) {
    ASSERT_TRUE(fl_[i]->datasets_on_ledger().count({1, "member/ward"})) << "node " << i;
    EXPECT_EQ(fl_[i]->datasets_on_ledger().at({1, "member/ward"}).csv_sha256, crypto::sha256(as_bytes(v2)));
  }
}

// The host rolls a data set back: node 1's owner replaced version 1 by version 2 (both on the
// ledger), and the host puts version 1's sealed files back. They unseal and agree with each
// other, but are not the version the ledger records: node 1 refuses the job and says so.
TEST_F(RogueValidator, ARolledBackDataSetIsRefused) {
  add_data(1, "ward", csv_part(1), "member");
  std::string dir = temp_path("data-1");
  Bytes v1_data = read_file(dir + "/member/ward.sealed").value(), v1_schema = read_file(dir + "/member/ward.schema.sealed").value();
  auto v1 = stores_[1]->schema({"member", "ward"}).value();
  ASSERT_TRUE(stores_[1]->remove({"member", "ward"}).ok());
  Bytes deletion = fl_[1]->data_record_tx(v1, true, statement(1, "ward", csv_part(1), true, "member"));
  ASSERT_TRUE(nodes_[1]->submit(deletion));
  ASSERT_TRUE(run_until([&] { return all_committed({deletion}); }));
  EXPECT_FALSE(fl_[2]->datasets_on_ledger().count({1, "member/ward"}));
  std::string v2_csv = csv_part(1);
  v2_csv.resize(v2_csv.rfind('\n', v2_csv.size() - 2) + 1);  // one row fewer
  add_data(1, "ward", v2_csv, "member");
  EXPECT_NE(to_hex(fl_[2]->datasets_on_ledger().at({1, "member/ward"}).data_sha256), v1.data_sha256);
  ASSERT_TRUE(write_file_atomic(dir + "/member/ward.sealed", v1_data).ok());
  ASSERT_TRUE(write_file_atomic(dir + "/member/ward.schema.sealed", v1_schema).ok());
  ASSERT_TRUE(stores_[1]->load({"member", "ward"}).ok());  // the files alone look fine

  std::string toml = "name = \"rolled\"\nrounds = 1\nround_timeout_s = 1\n[model]\nkind = \"logistic\"\n"
                     "[[parties]]\nnode = 1\ndataset = \"ward\"\n[[parties]]\nnode = 2\ndataset = \"hospital\"\n";
  Bytes tx = fl::make_job_tx(toml, 1, member_key_);
  Bytes id = to_bytes(as_bytes(consensus::tx_id(tx)));
  ASSERT_TRUE(nodes_[2]->submit(tx));
  ASSERT_TRUE(run_until([&] { return fl_[1]->refusals().count("no_data") > 0; }, 30000));
  ASSERT_TRUE(run_until([&] { return fl_[2]->jobs().count(id) && fl_[2]->jobs().at(id).ended(); }, 30000));
  EXPECT_TRUE(fl_[2]->jobs().at(id).rounds.empty());
  ASSERT_TRUE(fl_[2]->jobs().at(id).failure.has_value());
}


// Local DP at the party: the owner's policy has node 1 clip its update to an L2 norm of 0.01
// (and add noise of 1e-6 of that) before it leaves the node, so even an aggregator whose TEE is
// broken, asking exactly what the ledger allows, gets only the clipped, noised update.
TEST_F(RogueValidator, LocalDpClipsTheUpdateBeforeItLeavesTheParty) {
  fl::DataPolicy local;
  local.local_clip = 0.01;
  local.local_noise = 1e-6;
  Bytes policy = fl::make_policy_tx(1, "hospital", local, 1, member_key_);
  ASSERT_TRUE(nodes_[1]->submit(policy));
  ASSERT_TRUE(run_until([&] { return fl_[1]->datasets_on_ledger().at({1, "member/hospital"}).policy == local; }));
  Bytes job = submit_job("local-dp", 3, 3);
  fl::FitRequest good = claim_round_one(job);
  auto update = ask(good);
  ASSERT_TRUE(std::holds_alternative<fl::FitReply>(update)) << refusal(update);
  const auto& params = std::get<fl::FitReply>(update).params;
  ASSERT_EQ(params.size(), good.model.size());
  double norm = 0;
  for (size_t i = 0; i < params.size(); i++) norm += (params[i] - good.model[i]) * (params[i] - good.model[i]);
  EXPECT_NEAR(std::sqrt(norm), 0.01, 1e-4);
}

}  // namespace
}  // namespace supernet::node
