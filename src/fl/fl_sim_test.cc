// Federations simulated in one process on the real data sets: accuracy against central
// training, dropped parties, a crashed aggregator, poisoning parties, differential privacy.
#include <gtest/gtest.h>

#include <cstdio>

#include "fl/simulation.h"
#include "fl/test_data.h"
#include "util/file.h"

namespace supernet::fl {
namespace {

using testing::load;

JobConfig breast_cancer_job(int rounds = 20) {
  JobConfig job;
  job.id = "bc";
  job.model = {ModelSpec::Kind::kLogistic, 30, 2, {}};
  job.rounds = rounds;
  job.min_parties = 2;
  job.local = TrainOptions{Optimizer::kSgd, 0.05f, 1, 16, 1, 1e-4f};
  job.seed = 7;
  return job;
}

TEST(Federation, BreastCancerFedAvgMatchesCentralTraining) {
  Dataset bc = load("breast_cancer");
  ASSERT_EQ(bc.rows, 569u);
  auto parties = make_parties(bc, partition_iid(bc.rows, 3, 1), 0.2, 1);
  JobConfig job = breast_cancer_job();
  SimOutcome fed = simulate_federation(job, parties);
  ASSERT_TRUE(fed.ok) << fed.failure;
  ASSERT_EQ(fed.records.size(), 20u);
  TrainOptions central = job.local;
  central.epochs = job.rounds * job.local.epochs;
  Metrics c = train_central(job.model, parties, central, job.seed);
  std::printf("breast cancer: federated (FedAvg, 3 parties, 20 rounds) %.4f, central %.4f\n", fed.final_eval.accuracy, c.accuracy);
  EXPECT_NEAR(fed.final_eval.accuracy, c.accuracy, 0.015);
  EXPECT_GE(fed.final_eval.accuracy, 0.94);
  // Every round is on the record: parties, one hash per update, the new model's hash.
  for (const auto& r : fed.records) {
    EXPECT_EQ(r.parties.size(), 3u);
    EXPECT_EQ(r.update_hashes.size(), 3u);
    EXPECT_EQ(r.model_hash.size(), 32u);
  }
  EXPECT_EQ(fed.records.back().model_hash, model_hash(fed.model));
  // Deterministic for a seed.
  auto again_parties = make_parties(bc, partition_iid(bc.rows, 3, 1), 0.2, 1);
  SimOutcome again = simulate_federation(job, again_parties);
  EXPECT_EQ(again.model, fed.model);
}

TEST(Federation, DigitsMlpReaches95Percent) {
  Dataset digits = load("digits");
  ASSERT_EQ(digits.rows, 1797u);
  auto parties = make_parties(digits, partition_iid(digits.rows, 3, 2), 0.2, 2);
  JobConfig job;
  job.id = "digits";
  job.model = {ModelSpec::Kind::kMlp, 64, 10, {64}};
  job.rounds = 15;
  job.local = TrainOptions{Optimizer::kAdam, 0.003f, 2, 32, 1};
  job.seed = 3;
  SimOutcome fed = simulate_federation(job, parties);
  ASSERT_TRUE(fed.ok) << fed.failure;
  std::printf("digits: federated MLP (FedAvg, 3 parties, 15 rounds) %.4f\n", fed.final_eval.accuracy);
  EXPECT_GE(fed.final_eval.accuracy, 0.95);
}

TEST(Federation, APartyDroppingOutIsToleratedDownToTheMinimum) {
  Dataset bc = load("breast_cancer");
  ASSERT_EQ(bc.rows, 569u);
  auto parties = make_parties(bc, partition_iid(bc.rows, 3, 1), 0.2, 1);
  JobConfig job = breast_cancer_job(6);
  SimFaults faults;
  faults.drop = {{"party-3", 2}, {"party-1", 4}};
  SimOutcome fed = simulate_federation(job, parties, faults);
  ASSERT_TRUE(fed.ok) << fed.failure;
  ASSERT_EQ(fed.records.size(), 6u);
  EXPECT_EQ(fed.records[1].parties, (std::vector<std::string>{"party-1", "party-2"}));
  EXPECT_EQ(fed.records[1].dropped, std::vector<std::string>{"party-3"});
  EXPECT_EQ(fed.records[2].parties.size(), 3u);  // back the next round
  EXPECT_EQ(fed.records[3].dropped, std::vector<std::string>{"party-1"});
  // Below the minimum the round is retried, then the job fails with the reason.
  job.min_parties = 3;
  job.max_attempts = 2;
  auto parties2 = make_parties(bc, partition_iid(bc.rows, 3, 1), 0.2, 1);
  SimOutcome failed = simulate_federation(job, parties2, faults);
  EXPECT_FALSE(failed.ok);
  EXPECT_NE(failed.failure.find("fewer than 3 parties answered in 2 attempts"), std::string::npos) << failed.failure;
  EXPECT_EQ(failed.records.size(), 1u);  // round 1 completed; round 2 could not
}

TEST(Federation, AnotherAggregatorResumesFromTheLastRecordedRound) {
  Dataset bc = load("breast_cancer");
  ASSERT_EQ(bc.rows, 569u);
  auto parties = make_parties(bc, partition_iid(bc.rows, 3, 1), 0.2, 1);
  JobConfig job = breast_cancer_job(8);
  SimFaults faults;
  faults.crash_aggregator_after = 4;
  SimOutcome fed = simulate_federation(job, parties, faults);
  ASSERT_TRUE(fed.ok) << fed.failure;
  EXPECT_EQ(fed.aggregators, 2);
  ASSERT_EQ(fed.records.size(), 8u);
  for (int r = 0; r < 8; r++) EXPECT_EQ(fed.records[static_cast<size_t>(r)].round, r + 1);
  // Resuming from a record needs the model that hashes to it.
  auto c = RoundController::create(job).value();
  RoundController::Output out;
  std::vector<float> wrong(job.model.parameter_count(), 0.5f);
  EXPECT_EQ(c->resume(0, fed.records[3], wrong, out).error().code, "fl.resume");
  EXPECT_GE(fed.final_eval.accuracy, 0.94);
}

// One poisoning party among five: FedAvg is dragged away, the robust strategies are not.
TEST(Federation, RobustStrategiesWithstandAPoisoningParty) {
  Dataset bc = load("breast_cancer");
  ASSERT_EQ(bc.rows, 569u);
  std::map<std::string, double> accuracy;
  for (std::string name : {"fedavg", "median", "trimmed_mean", "krum", "multi_krum"}) {
    auto parties = make_parties(bc, partition_iid(bc.rows, 5, 4), 0.2, 4);
    parties[4].poisoned = true;
    JobConfig job = breast_cancer_job(10);
    job.strategy.name = name;
    job.strategy.byzantine = 1;
    job.strategy.multi_krum = 3;
    job.strategy.trim = 0.2f;
    SimOutcome fed = simulate_federation(job, parties);
    ASSERT_TRUE(fed.ok) << name << ": " << fed.failure;
    accuracy[name] = fed.final_eval.accuracy;
    std::printf("poisoning party 1 of 5: %-12s accuracy %.4f\n", name.c_str(), fed.final_eval.accuracy);
  }
  EXPECT_LT(accuracy["fedavg"], 0.80);
  for (const char* robust : {"median", "trimmed_mean", "krum", "multi_krum"}) EXPECT_GE(accuracy[robust], 0.93) << robust;
}

TEST(Federation, OtherStrategiesAndDifferentialPrivacy) {
  Dataset bc = load("breast_cancer");
  ASSERT_EQ(bc.rows, 569u);
  for (std::string name : {"fedprox", "fedadam"}) {
    auto parties = make_parties(bc, partition_dirichlet(bc, 3, 0.5, 5).value(), 0.2, 5);
    JobConfig job = breast_cancer_job(15);
    job.strategy.name = name;
    job.strategy.server_lr = 0.05f;
    SimOutcome fed = simulate_federation(job, parties);
    ASSERT_TRUE(fed.ok) << name << ": " << fed.failure;
    std::printf("non-IID (Dirichlet 0.5): %-8s accuracy %.4f\n", name.c_str(), fed.final_eval.accuracy);
    EXPECT_GE(fed.final_eval.accuracy, 0.90) << name;
  }
  auto parties = make_parties(bc, partition_iid(bc.rows, 3, 1), 0.2, 1);
  JobConfig job = breast_cancer_job(10);
  job.dp = DpConfig{true, 1.0f, 0.5f, 1e-5};
  SimOutcome fed = simulate_federation(job, parties);
  ASSERT_TRUE(fed.ok) << fed.failure;
  std::printf("DP (clip 1, z 0.5): accuracy %.4f, epsilon %.2f at delta 1e-5 after 10 rounds\n", fed.final_eval.accuracy,
              fed.records.back().epsilon);
  EXPECT_GT(fed.records.back().epsilon, fed.records.front().epsilon);
  EXPECT_GE(fed.final_eval.accuracy, 0.85);
  // The accountant: more noise, less epsilon; more rounds, more.
  EXPECT_LT(gaussian_rdp_epsilon(2.0, 10, 1e-5), gaussian_rdp_epsilon(1.0, 10, 1e-5));
  EXPECT_LT(gaussian_rdp_epsilon(1.0, 10, 1e-5), gaussian_rdp_epsilon(1.0, 20, 1e-5));
  EXPECT_FALSE(make_strategy(StrategyConfig{"nope"}).ok());
}

}  // namespace
}  // namespace supernet::fl
