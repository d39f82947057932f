#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <set>

#include "crypto/keys.h"
#include "fl/dataset.h"
#include "fl/job.h"
#include "fl/model.h"
#include "fl/strategy.h"
#include "fl/test_data.h"
#include "fl/wire.h"
#include "util/file.h"

namespace supernet::fl {
namespace {

using testing::load;

TEST(Csv, ParsesWithAndWithoutHeader) {
  auto d = parse_csv("a,b,label\n1,2,0\n3.5,-4e2,1\n\n");
  ASSERT_TRUE(d.ok()) << d.error().to_string();
  EXPECT_EQ(d->rows, 2u);
  EXPECT_EQ(d->features, 2u);
  EXPECT_EQ(d->classes, 2);
  EXPECT_EQ(d->feature_names, (std::vector<std::string>{"a", "b"}));
  EXPECT_FLOAT_EQ(d->row(1)[1], -400.0f);
  auto n = parse_csv("1,2,0\r\n3,4,2\r\n");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->rows, 2u);
  EXPECT_EQ(n->classes, 3);
  EXPECT_EQ(n->feature_names[0], "f0");
  // The label may be any column, by name or index.
  auto first = parse_csv("y,x\n1,0.5\n0,0.25\n", CsvOptions{"y"});
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->y, (std::vector<int32_t>{1, 0}));
  EXPECT_FLOAT_EQ(first->row(0)[0], 0.5f);
  EXPECT_TRUE(parse_csv("1,0.5\n0,0.25\n", CsvOptions{"0"}).ok());
  EXPECT_TRUE(parse_csv("1,2,1.0\n1,2,0\n").ok());  // a whole-number float label
}

TEST(Csv, BadInputGetsAClearErrorWithItsLine) {
  auto e = [](std::string_view text) { return parse_csv(text).error(); };
  EXPECT_EQ(e("a,b,label\n1,2,0\n1,2\n").code, "csv.ragged");
  EXPECT_NE(e("a,b,label\n1,2,0\n1,2\n").message.find("line 3"), std::string::npos);
  EXPECT_EQ(e("a,b,label\n1,x,0\n").code, "csv.number");
  EXPECT_NE(e("a,b,label\n1,x,0\n").message.find("line 2, column 2"), std::string::npos);
  EXPECT_EQ(e("1,nan,0\n1,2,1\n").code, "csv.number");
  EXPECT_EQ(e("1,inf,0\n1,2,1\n").code, "csv.number");
  EXPECT_EQ(e("1,,0\n1,2,1\n").code, "csv.number");
  EXPECT_EQ(e("1,2,\n1,2,1\n").code, "csv.label");
  EXPECT_EQ(e("1,2,1.5\n1,2,1\n").code, "csv.label");
  EXPECT_EQ(e("1,2,-1\n1,2,1\n").code, "csv.label");
  EXPECT_EQ(e("a,b,label\n").code, "csv.empty");
  EXPECT_EQ(e("").code, "csv.empty");
  EXPECT_EQ(e("1,2,0\n3,4,0\n").code, "csv.label");  // one class only
  EXPECT_EQ(e("single\n").code, "csv.columns");
  EXPECT_EQ(parse_csv("a,b\n1,2\n", CsvOptions{"c"}).error().code, "csv.label");
}

TEST(Data, RealDataSetsHaveTheirKnownShapes) {
  Dataset bc = load("breast_cancer");
  EXPECT_EQ(bc.rows, 569u);
  EXPECT_EQ(bc.features, 30u);
  EXPECT_EQ(bc.class_counts(), (std::vector<size_t>{212, 357}));
  Dataset digits = load("digits");
  EXPECT_EQ(digits.rows, 1797u);
  EXPECT_EQ(digits.features, 64u);
  EXPECT_EQ(digits.classes, 10);
  Dataset wine = load("wine");
  EXPECT_EQ(wine.rows, 178u);
  EXPECT_EQ(wine.classes, 3);
}

TEST(Data, SplitIsStratifiedAndSeeded) {
  Dataset bc = load("breast_cancer");
  ASSERT_EQ(bc.rows, 569u);
  auto [train, test] = split(bc, 0.2, 7);
  EXPECT_EQ(train.rows + test.rows, bc.rows);
  EXPECT_NEAR(static_cast<double>(test.class_counts()[0]) / static_cast<double>(test.rows), 212.0 / 569.0, 0.01);
  auto again = split(bc, 0.2, 7);
  EXPECT_EQ(again.first.x, train.x);
  EXPECT_NE(split(bc, 0.2, 8).first.x, train.x);
  Standardizer s = Standardizer::fit(train);
  s.apply(train);
  double mean0 = 0;
  for (size_t i = 0; i < train.rows; i++) mean0 += train.row(i)[0];
  EXPECT_NEAR(mean0 / static_cast<double>(train.rows), 0.0, 1e-4);
}

TEST(Data, PartitionsCoverEveryRowOnce) {
  Dataset digits = load("digits");
  ASSERT_EQ(digits.rows, 1797u);
  auto check = [&](const std::vector<std::vector<size_t>>& parts) {
    std::set<size_t> seen;
    size_t total = 0;
    for (const auto& p : parts) {
      total += p.size();
      seen.insert(p.begin(), p.end());
    }
    EXPECT_EQ(total, digits.rows);
    EXPECT_EQ(seen.size(), digits.rows);
  };
  auto iid = partition_iid(digits.rows, 3, 1);
  check(iid);
  EXPECT_EQ(iid[0].size(), 599u);
  auto skewed = partition_dirichlet(digits, 3, 0.3, 1).value();
  check(skewed);
  EXPECT_EQ(partition_dirichlet(digits, 3, 0.3, 1).value(), skewed);  // seeded
  // Skewed: some party holds a class far from its 1/3 share.
  double worst = 0;
  for (const auto& p : skewed) {
    std::vector<size_t> counts(10, 0);
    for (size_t i : p) counts[static_cast<size_t>(digits.y[i])]++;
    for (size_t c = 0; c < 10; c++) worst = std::max(worst, std::abs(static_cast<double>(counts[c]) / 180.0 - 1.0 / 3.0));
  }
  EXPECT_GT(worst, 0.2);
  EXPECT_EQ(partition_dirichlet(digits, 200, 0.3, 1).error().code, "partition.small");
}

// Analytic gradients match finite differences (the backpropagation is right).
TEST(Model, GradientsMatchFiniteDifferences) {
  Dataset d = parse_csv("0.5,-1,0.2,0\n-0.3,0.8,1.1,1\n0.9,0.1,-0.7,2\n1.2,-0.4,0.3,1\n").value();
  for (auto spec : {ModelSpec{ModelSpec::Kind::kLogistic, 3, 3, {}}, ModelSpec{ModelSpec::Kind::kMlp, 3, 3, {5, 4}},
                    ModelSpec{ModelSpec::Kind::kMlp, 3, 3, {6}}}) {
    Model m = Model::create(spec, 3).value();
    std::vector<size_t> rows{0, 1, 2, 3};
    std::vector<float> grad(m.params().size(), 0.0f);
    m.add_gradient(d, rows.data(), rows.size(), grad);
    for (size_t i = 0; i < m.params().size(); i += 3) {
      float keep = m.params()[i];
      const float h = 1e-2f;
      std::vector<float> unused(grad.size());
      m.params()[i] = keep + h;
      double up = m.add_gradient(d, rows.data(), rows.size(), unused);
      m.params()[i] = keep - h;
      double down = m.add_gradient(d, rows.data(), rows.size(), unused);
      m.params()[i] = keep;
      EXPECT_NEAR(grad[i], (up - down) / (2 * h), 2e-2) << "parameter " << i << " hidden " << spec.hidden.size();
    }
  }
}

TEST(Model, TrainingIsDeterministicForASeed) {
  Dataset wine = load("wine");
  ASSERT_EQ(wine.rows, 178u);
  Standardizer::fit(wine).apply(wine);
  ModelSpec spec{ModelSpec::Kind::kMlp, 13, 3, {16}};
  TrainOptions o{Optimizer::kAdam, 0.01f, 3, 16, 5};
  Model a = Model::create(spec, 1).value(), b = Model::create(spec, 1).value();
  train(a, wine, o);
  train(b, wine, o);
  EXPECT_EQ(a.params(), b.params());
  EXPECT_FALSE(Model::create(ModelSpec{ModelSpec::Kind::kMlp, 13, 3, {}}, 1).ok());
  EXPECT_FALSE(Model::create(ModelSpec{ModelSpec::Kind::kLogistic, 0, 3, {}}, 1).ok());
}

// Central training on the union: the reference the federated runs are compared with.
TEST(Model, BreastCancerLogisticRegressionLearns) {
  Dataset bc = load("breast_cancer");
  ASSERT_EQ(bc.rows, 569u);
  auto [train_set, test_set] = split(bc, 0.2, 42);
  Standardizer s = Standardizer::fit(train_set);
  s.apply(train_set);
  s.apply(test_set);
  Model m = Model::create({ModelSpec::Kind::kLogistic, 30, 2, {}}, 1).value();
  Metrics before = evaluate(m, test_set);
  train(m, train_set, TrainOptions{Optimizer::kSgd, 0.05f, 30, 16, 1, 1e-4f});
  Metrics after = evaluate(m, test_set);
  std::printf("breast cancer, logistic regression, central: held-out accuracy %.4f (loss %.4f)\n", after.accuracy, after.loss);
  EXPECT_LT(after.loss, before.loss);
  EXPECT_GE(after.accuracy, 0.95) << "held-out accuracy " << after.accuracy;
}

TEST(Model, DigitsMlpLearns) {
  Dataset digits = load("digits");
  ASSERT_EQ(digits.rows, 1797u);
  auto [train_set, test_set] = split(digits, 0.2, 42);
  Standardizer s = Standardizer::fit(train_set);
  s.apply(train_set);
  s.apply(test_set);
  Model m = Model::create({ModelSpec::Kind::kMlp, 64, 10, {64}}, 1).value();
  train(m, train_set, TrainOptions{Optimizer::kAdam, 0.003f, 25, 32, 1});
  Metrics after = evaluate(m, test_set);
  std::printf("digits, MLP 64-64-10, central: held-out accuracy %.4f (loss %.4f)\n", after.accuracy, after.loss);
  EXPECT_GE(after.accuracy, 0.95) << "held-out accuracy " << after.accuracy;
}


}  // namespace
}  // namespace supernet::fl

namespace supernet::fl {
namespace {

const char* kJob = R"(
name = "bc-fedavg"
rounds = 20
min_parties = 2
seed = 7
model_readers = ["member"]
[model]
kind = "logistic"
[training]
epochs = 1
batch = 16
learning_rate = 0.05
[strategy]
name = "trimmed_mean"
trim = 0.2
[[parties]]
node = 1
dataset = "hospital-a"
[[parties]]
node = 2
dataset = "hospital-b"
)";

TEST(Job, ParsesAFullJob) {
  auto j = parse_job(kJob);
  ASSERT_TRUE(j.ok()) << j.error().to_string();
  EXPECT_EQ(j->name, "bc-fedavg");
  EXPECT_EQ(j->config.rounds, 20);
  EXPECT_EQ(j->config.strategy.name, "trimmed_mean");
  EXPECT_FLOAT_EQ(j->config.local.learning_rate, 0.05f);
  EXPECT_EQ(j->parties.size(), 2u);
  EXPECT_EQ(j->parties[1].dataset, "hospital-b");
  EXPECT_EQ(j->model_readers, std::vector<std::string>{"member"});
  EXPECT_FALSE(j->config.dp.enabled);
  auto dp = parse_job(std::string(kJob) + "[dp]\nnoise_multiplier = 0.8\n");
  ASSERT_TRUE(dp.ok()) << dp.error().to_string();
  EXPECT_TRUE(dp->config.dp.enabled);
  // No noise is no DP: refused, unless DP is off.
  EXPECT_EQ(parse_job(std::string(kJob) + "[dp]\nnoise_multiplier = 0\n").error().code, "job.value");
  EXPECT_TRUE(parse_job(std::string(kJob) + "[dp]\nenabled = false\nnoise_multiplier = 0\n").ok());
}

TEST(Job, BadJobFilesGetClearErrors) {
  auto code = [](const std::string& text) { return parse_job(text).error().code; };
  std::string base = kJob;
  EXPECT_EQ(code("name = "), "job.syntax");
  EXPECT_EQ(code(base + "roundz = 3\n"), "job.key");  // a typo is not silently ignored
  std::string bad_rounds = base;
  bad_rounds.replace(bad_rounds.find("rounds = 20"), 11, "rounds = 0");
  EXPECT_EQ(code(bad_rounds), "job.value");
  std::string mlp = base;
  mlp.replace(mlp.find("kind = \"logistic\""), 17, "kind = \"mlp\"");
  EXPECT_EQ(code(mlp), "job.value");  // an mlp needs hidden layers
  std::string huge = base;
  huge.replace(huge.find("kind = \"logistic\""), 17, "kind = \"mlp\"\nhidden = [4096, 4096]");
  auto huge_error = parse_job(huge);
  ASSERT_FALSE(huge_error.ok());
  EXPECT_NE(huge_error.error().message.find("a model may have at most 245760"), std::string::npos) << huge_error.error().message;
  std::string unknown = base;
  unknown.replace(unknown.find("\"trimmed_mean\""), 14, "\"fedsgd\"");
  EXPECT_EQ(code(unknown), "job.value");
  std::string twice = base + "[[parties]]\nnode = 1\ndataset = \"x\"\n";
  EXPECT_EQ(code(twice), "job.value");
  std::string too_few = base;
  too_few.replace(too_few.find("min_parties = 2"), 15, "min_parties = 3");
  EXPECT_EQ(code(too_few), "job.value");
  EXPECT_EQ(code("name = \"x\"\n[model]\nkind = \"logistic\"\n"), "job.missing");
  EXPECT_EQ(code("name = \"x\"\n[[parties]]\nnode = 1\ndataset = \"a\"\n"), "job.missing");
  std::string half = base;
  half.replace(half.find("learning_rate = 0.05"), 20, "learning_rate = \"fast\"");
  EXPECT_EQ(code(half), "job.value");
}


}  // namespace
}  // namespace supernet::fl

#include "crypto/keys.h"
#include "fl/wire.h"

namespace supernet::fl {
namespace {

TEST(Wire, MessagesAndTransactionsRoundTrip) {
  Bytes job(32, 7);
  FitRequest f;
  f.job = job;
  f.round = 3;
  f.classes = 10;
  f.model = {0.5f, -1.25f};
  f.mean = {1};
  f.stddev = {2};
  f.options = TrainOptions{Optimizer::kAdam, 0.003f, 2, 32, 9, 1e-4f, 0.01f};
  Bytes frame = encode_wire(f);
  ASSERT_TRUE(is_fl_frame(frame));
  auto back = decode_wire(frame);
  ASSERT_TRUE(back.ok()) << back.error().to_string();
  const auto& g = std::get<FitRequest>(*back);
  EXPECT_EQ(g.model, f.model);
  EXPECT_EQ(g.classes, 10u);
  EXPECT_FLOAT_EQ(g.options.learning_rate, 0.003f);
  EXPECT_EQ(g.options.optimizer, Optimizer::kAdam);
  EXPECT_EQ(encode_wire(*back), frame);
  for (size_t cut = 0; cut < frame.size(); cut += 5) EXPECT_FALSE(decode_wire(ByteView(frame).subspan(0, cut)).ok());
  Bytes nan_frame = frame;
  // A non-finite parameter is refused (the first model float's bits set to NaN).
  size_t at = 4 + 1 + 32 + 4 + 4 + 4;
  nan_frame[at] = 0x7f;
  nan_frame[at + 1] = 0xc0;
  nan_frame[at + 2] = 0;
  nan_frame[at + 3] = 0;
  EXPECT_FALSE(decode_wire(nan_frame).ok());

  auto id = crypto::ed25519_generate();
  RoundRecord rec;
  rec.round = 2;
  rec.parties = {"node-1", "node-2"};
  rec.update_hashes = {Bytes(32, 1), Bytes(32, 2)};
  rec.model_hash = Bytes(32, 3);
  rec.eval.accuracy = 0.97;
  Bytes tx = make_round_tx(job, 1, rec, id.secret_key);
  auto rt = RoundTx::decode(tx);
  ASSERT_TRUE(rt.ok()) << rt.error().to_string();
  EXPECT_EQ(rt->record.parties, rec.parties);
  EXPECT_TRUE(crypto::ed25519_verify(id.public_key, rt->signed_bytes(), rt->signature));
  Bytes ftx = make_fail_tx(job, 2, 4, "only 1 party answered, 2 needed", id.secret_key);
  auto ft = FailTx::decode(ftx);
  ASSERT_TRUE(ft.ok()) << ft.error().to_string();
  EXPECT_EQ(ft->round, 4);
  EXPECT_EQ(ft->reason, "only 1 party answered, 2 needed");
  EXPECT_EQ(ft->encode(), ftx);
  EXPECT_TRUE(crypto::ed25519_verify(id.public_key, ft->signed_bytes(), ft->signature));
  for (size_t cut = 0; cut < ftx.size(); cut += 7) EXPECT_FALSE(FailTx::decode(ByteView(ftx).subspan(0, cut)).ok());
  Bytes bad_round = ftx;
  bad_round[4 + 32 + 4] = 0xff;  // round's top byte: out of range
  EXPECT_FALSE(FailTx::decode(bad_round).ok());
  EXPECT_EQ(make_fail_tx(job, 2, 4, std::string(2000, 'x'), id.secret_key).size(), ftx.size() - 31 + 512);
  auto member = crypto::PrivateKey::generate_ec(crypto::Curve::kP256);
  Bytes jtx = make_job_tx("name = \"x\"", 5, member);
  auto jt = JobTx::decode(jtx);
  ASSERT_TRUE(jt.ok());
  EXPECT_EQ(jt->toml, "name = \"x\"");
  EXPECT_EQ(jt->encode(), jtx);
  EXPECT_TRUE(member.public_key().verify_ecdsa_der(crypto::HashAlg::kSha256, jt->signed_bytes(), jt->signature).ok());
  for (size_t cut = 0; cut < jtx.size(); cut += 5) EXPECT_FALSE(JobTx::decode(ByteView(jtx).subspan(0, cut)).ok());
}


TEST(Wire, DataRecordsAndPoliciesRoundTripAndRefuseBadValues) {
  auto id = crypto::ed25519_generate();
  DataRecordTx r;
  r.node = 3;
  r.name = "clinic";
  r.owner = "user";
  r.data_sha256 = Bytes(32, 9);
  r.features = 30;
  r.classes = 2;
  r.rows = 190;
  r.nonce = 11;
  auto user = crypto::PrivateKey::generate_ec(crypto::Curve::kP256);
  r.statement = OwnerStatement::decode(make_owner_statement(3, "clinic", Bytes(32, 5), "label", false, user)).value();
  Bytes rtx = make_data_record_tx(r, id.secret_key);
  auto rb = DataRecordTx::decode(rtx);
  ASSERT_TRUE(rb.ok()) << rb.error().to_string();
  EXPECT_EQ(rb->owner, "user");
  // The owner's statement: what it says, signed by the owner's key; a record without one does not decode.
  EXPECT_EQ(rb->statement.label_column, "label");
  EXPECT_EQ(rb->statement.csv_sha256, Bytes(32, 5));
  EXPECT_TRUE(user.public_key().verify_ecdsa_der(crypto::HashAlg::kSha256, rb->statement.signed_bytes(), rb->statement.signature).ok());
  DataRecordTx bare = r;
  bare.statement = OwnerStatement{};
  EXPECT_FALSE(DataRecordTx::decode(make_data_record_tx(bare, id.secret_key)).ok());
  Bytes st = make_owner_statement(3, "clinic", Bytes(32, 5), "", true, user);
  for (size_t cut = 0; cut < st.size(); cut += 7) EXPECT_FALSE(OwnerStatement::decode(ByteView(st).subspan(0, cut)).ok());
  EXPECT_FALSE(OwnerStatement::decode(make_owner_statement(3, "a/b", Bytes(32, 5), "", true, user)).ok());
  EXPECT_EQ(rb->encode(), rtx);
  EXPECT_TRUE(crypto::ed25519_verify(id.public_key, rb->signed_bytes(), rb->signature));
  for (size_t cut = 0; cut < rtx.size(); cut += 3) EXPECT_FALSE(DataRecordTx::decode(ByteView(rtx).subspan(0, cut)).ok());
  DataRecordTx del = r;
  del.deleted = true;  // a deletion carries no hash
  EXPECT_FALSE(DataRecordTx::decode(make_data_record_tx(del, id.secret_key)).ok());
  del.data_sha256.clear();
  EXPECT_TRUE(DataRecordTx::decode(make_data_record_tx(del, id.secret_key)).ok());
  DataRecordTx bad = r;
  bad.owner = "../x";
  EXPECT_FALSE(DataRecordTx::decode(make_data_record_tx(bad, id.secret_key)).ok());

  auto owner = crypto::PrivateKey::generate_ec(crypto::Curve::kP256);
  DataPolicy p;
  p.submitters = {"member", "member2"};
  p.readers = {"member"};
  p.min_parties = 3;
  p.max_epochs = 5;
  p.max_params = 100000;
  p.max_epsilon = 4.5;
  p.epsilon_budget = 20;
  p.local_clip = 1;
  p.local_noise = 0.5;
  Bytes ptx = make_policy_tx(3, "clinic", p, 1, owner);
  auto pb = PolicyTx::decode(ptx);
  ASSERT_TRUE(pb.ok()) << pb.error().to_string();
  EXPECT_EQ(pb->policy, p);
  EXPECT_EQ(pb->encode(), ptx);
  EXPECT_TRUE(owner.public_key().verify_ecdsa_der(crypto::HashAlg::kSha256, pb->signed_bytes(), pb->signature).ok());
  for (size_t cut = 0; cut < ptx.size(); cut += 5) EXPECT_FALSE(PolicyTx::decode(ByteView(ptx).subspan(0, cut)).ok());
  auto refused = [&](DataPolicy q) { return !PolicyTx::decode(make_policy_tx(3, "clinic", std::move(q), 1, owner)).ok(); };
  DataPolicy q = p;
  q.max_epsilon = -1;
  EXPECT_TRUE(refused(q));
  q = p;
  q.epsilon_budget = std::numeric_limits<double>::infinity();
  EXPECT_TRUE(refused(q));
  q = p;
  q.max_epsilon = std::numeric_limits<double>::quiet_NaN();
  EXPECT_TRUE(refused(q));
  q = p;
  q.local_noise = 0;  // a clip without noise is no DP
  EXPECT_TRUE(refused(q));
  q = p;
  q.submitters = std::vector<std::string>(kPolicyNamesMax + 1, "a");
  EXPECT_TRUE(refused(q));
  q = p;
  q.readers = {"a b"};
  EXPECT_TRUE(refused(q));
}

TEST(Strategy, LocalDpClipsTheUpdateAndAddsNoise) {
  std::vector<float> global(10000, 0.5f), params(10000, 3.5f);  // an update of norm 300
  std::mt19937_64 rng(1);
  auto clipped = params;
  local_dp(clipped, global, 1.0, 1e-9, rng);
  double norm = 0;
  for (size_t i = 0; i < global.size(); i++) norm += (clipped[i] - global[i]) * (clipped[i] - global[i]);
  EXPECT_NEAR(std::sqrt(norm), 1.0, 1e-3);
  // Noise of standard deviation noise * clip on every value, whatever the update.
  auto noised = global;
  local_dp(noised, global, 2.0, 0.5, rng);
  double sum = 0, sumsq = 0;
  for (size_t i = 0; i < global.size(); i++) {
    sum += noised[i] - global[i];
    sumsq += (noised[i] - global[i]) * (noised[i] - global[i]);
  }
  double mean = sum / 10000, sd = std::sqrt(sumsq / 10000 - mean * mean);
  EXPECT_NEAR(mean, 0.0, 0.05);
  EXPECT_NEAR(sd, 1.0, 0.05);
}

}  // namespace
}  // namespace supernet::fl
