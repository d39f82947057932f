// Federated learning in a running node: the registry of jobs and round records (read from the
// committed ledger, identical on every node), the party (trains on its sealed data set when the
// aggregator asks) and the aggregator (runs the RoundController for the jobs it is scheduled
// for). All on the node's io thread, except local training, which runs on a worker thread.
//
// Scheduling (consensus/scheduler.h): the job is a task whose candidates are the validators in
// id order starting at J[0] mod n (J the job's id) and whose owner is the aggregator the ledger
// names. A healthy owner keeps it; when the node's failure detector suspects the owner, the
// next healthy candidate takes it over (about 1.5 s after the owner went silent). As a backstop
// for an owner that looks alive but records nothing, it moves one healthy candidate on per 10 s
// without progress (with fault_detection = "timeout", the only way it moves: the fixed timeout
// of before).
//
// The ledger says who may ask a party anything. A node that is to aggregate first records a
// claim (fl::ClaimTx) and waits for it to commit; the first aggregator then asks the parties
// for their sums and records the job's standardization in a second claim; only then does round
// 1 start. A node that takes over resumes from the last recorded round with the model whose
// hash the record holds (parties keep the last few models they received, so every party node
// holds it; a node without it cannot resume, and the next in order does). The aggregator starts
// a round only after its record of the previous one is committed. An aggregator that gives a
// job up records that on the ledger, and no node takes it over.
//
// The party rebuilds every request from the ledger (party_check): it answers only for a
// running job of which it is a party, only the aggregator of the last accepted claim, only for
// the next round, only with the model the ledger's last round names (or the job's seeded
// initial model), the job's own training options and the recorded standardization, and it
// evaluates only a round it trained, once per aggregator. Anything else is refused with its
// reason, counted (refusals(), shown in /metrics) and logged at a bounded rate. A request that
// a commit this node has not applied yet could make valid is held (at most kParkedMax, for at
// most kParkMs) and checked again at each commit.
#pragma once

#include <asio/thread_pool.hpp>
#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "fl/job.h"
#include "fl/strategy.h"
#include "fl/wire.h"
#include "node/datasets.h"
#include "node/node.h"
#include "ta/worker.h"

namespace supernet::node {

struct FlRound {
  fl::RoundRecord record;
  uint32_t aggregator = 0;
  Bytes tx_id;
  uint64_t height = 0;
};

// A job given up by its aggregator, as the ledger records it.
struct FlFailure {
  std::string reason;
  uint32_t aggregator = 0;
  uint64_t height = 0;
};

struct FlJob {
  Bytes id;
  fl::JobSpec spec;
  std::string submitter;
  uint64_t height = 0;
  std::vector<FlRound> rounds;
  std::optional<FlFailure> failure;
  uint32_t aggregator = 0;  // named by the last accepted claim; 0 before any
  std::optional<fl::Standardization> standardization;  // recorded by the first aggregator
  std::set<std::string> consents;  // clients whose signed consent to the job the ledger holds
  bool finished() const { return static_cast<int>(rounds.size()) >= spec.config.rounds; }
  bool ended() const { return finished() || failure.has_value(); }
};

// A data set as the ledger records it: its latest registration by the node that keeps it
// (fl::DataRecordTx) and its owner's latest policy (fl::PolicyTx).
struct LedgerDataset {
  std::string owner;
  Bytes data_sha256;  // the version
  Bytes csv_sha256;   // of the CSV, as its owner signed it
  uint32_t features = 0, classes = 0;
  uint64_t rows = 0;
  uint64_t height = 0;  // of the registration
  std::optional<fl::DataPolicy> policy;
  uint64_t policy_height = 0;
};
using DatasetKey = std::pair<uint32_t, std::string>;  // (node, "owner/name")
// A job's party's data set, its `dataset` read as DatasetId (the submitter's own when it names no owner).
DatasetKey party_key(const fl::JobParty& p, const std::string& submitter);

// The epsilon a job spends over all its rounds (infinite without DP).
double planned_epsilon(const fl::JobConfig& c);

// What every node checks of a job transaction when it applies the block, and the API before it
// orders one: the signature verifies under the key the transaction carries, that key is a
// member's in the genesis, the job file parses, and its model readers are clients of the
// network. (That the parties are validators is checked by the API only: the validator set
// changes, and a job naming a node that is not one simply finds no such party.)
inline constexpr int kMinPartiesDefault = 2;  // the least parties in any round a job may ask for
struct CheckedJob {
  fl::JobSpec spec;
  std::string submitter;  // the member's name in the genesis
};
Result<CheckedJob> check_job(const fl::JobTx& tx, const consensus::ChainGenesis& genesis);
// A data owner's consent: signed by a client of the genesis (its name is returned). Whether
// that client owns a data set the job names only the party that keeps the data set knows (its
// sealed schema records the owner); it checks that before it trains.
Result<std::string> check_consent(const fl::ConsentTx& tx, const consensus::ChainGenesis& genesis);
// A data policy: signed by a client of the genesis (its name is returned); it applies only when
// the ledger names that client as the data set's owner.
Result<std::string> check_policy(const fl::PolicyTx& tx, const consensus::ChainGenesis& genesis);

class FlService {
 public:
  // `models` (may be null) keeps the final models of finished jobs sealed across restarts.
  // `trainers` (the node's pool of trusted application workers) runs each job's local training
  // in a worker of its own (docs/trusted-applications.md); null trains in this process (unit
  // tests and the benchmark's unprotected build only: the node program always passes one).
  FlService(Node& node, DatasetStore* datasets, crypto::SecureBytes identity_secret, ModelStore* models = nullptr,
            ta::Pool* trainers = nullptr);
  ~FlService();

  const std::map<Bytes, FlJob>& jobs() const { return jobs_; }
  // This node's view of a job it aggregates: events and failure, if any.
  std::vector<std::string> events(const Bytes& job) const;
  std::optional<std::string> failure(const Bytes& job) const;
  uint32_t scheduled_aggregator(const FlJob& job, int64_t now) const;
  // A global model of the job with the given hash, among the last few this node held (as a
  // party or the aggregator).
  std::optional<std::vector<float>> model_with_hash(const Bytes& job, const Bytes& hash) const;
  // Requests this node refused as a party, by reason (see party_check).
  const std::map<std::string, uint64_t>& refusals() const { return refusals_; }
  // The data sets the ledger records (registrations and policies), and the DP budget spent on
  // one: the epsilon of the rounds recorded for ended jobs with DP, and the whole planned epsilon
  // of running ones (reserved), over jobs accepted since its registration.
  const std::map<DatasetKey, LedgerDataset>& datasets_on_ledger() const { return registry_; }
  double epsilon_spent(const DatasetKey& key) const;
  // What every node checks of a job's data, at the ledger's current state, after check_job:
  // each party's data set is registered on the ledger, and the job keeps to each one's policy
  // (job.data, job.policy, job.budget). A job whose submitter the policy does not list waits for
  // the owner's consent instead (not checked here).
  Status check_job_data(const fl::JobSpec& spec, const std::string& submitter) const;
  // The owners of this node's data sets in a running job whose consent it still waits for.
  std::vector<std::string> awaiting_consent(const FlJob& job) const;
  // This node's record of a data set it keeps, signed with its identity key, for the ledger.
  // The owner's statement (fl::OwnerStatement) comes with the upload or the deletion.
  Bytes data_record_tx(const DatasetSchema& schema, bool deleted, fl::OwnerStatement statement) const;

  static constexpr size_t kParkedMax = 16;
  static constexpr int64_t kParkMs = 3000;
  static constexpr int64_t kClaimWaitMs = 5000;  // for this node's claim to commit, then start over

 private:
  struct PartyData {
    fl::Dataset train, test;  // raw; standardized copies below
    // Made once, with the standardization the ledger records (it never changes), and never
    // changed after: the worker thread that trains on one shares it.
    std::shared_ptr<const fl::Dataset> train_std, test_std;
    DatasetId dataset;        // the job's data set at this node
    std::string data_sha256;  // its version, from its sealed schema as first loaded
    std::unique_ptr<fl::Strategy> strategy;  // the job's, for its training options
    Bytes initial_hash;                      // of the job's seeded initial model
    int fitted_round = 0;                    // the last round this party trained
    int evaluated_round = 0;                 // and evaluated, for evaluated_for
    uint32_t evaluated_for = 0;
  };
  enum class Ask { kStats, kFit, kEval };
  struct Refused {
    std::string key;     // the /metrics label
    std::string reason;  // sent back and logged
    bool may_pass_later = false;  // a commit not applied here yet could make it valid
    bool awaiting_consent = false;  // the data owner has not consented to the job
  };
  struct Parked {
    uint32_t from = 0;
    fl::WireMessage request;
    int64_t until = 0;
  };
  struct Aggregation {
    std::unique_ptr<fl::RoundController> controller;
    std::map<uint32_t, fl::StatsReply> stats;
    std::vector<float> mean, stddev;
    bool started = false;
    int64_t stats_deadline = 0;
    int64_t claim_deadline = 0;     // this node's claim is to commit by then
    bool stats_asked = false;
    std::set<uint32_t> awaiting_consent;  // parties that refused the sums for want of consent
    bool announced = false;  // logged that the ledger names this node
    int64_t standardization_deadline = 0;  // the standardization claim is to commit by then
    std::vector<std::string> events;
    std::optional<std::string> failed;
    int submitted_round = 0;  // the last round record this node submitted
  };

  // Records the block's FL transactions; whether it held any.
  bool record_block(const consensus::CommittedBlock& cb);
  void on_commit(const consensus::CommittedBlock& cb);
  void record(const Bytes& tx, uint64_t height);
  void on_frame(uint32_t from, Bytes frame);
  void on_tick(int64_t now);
  void drive(const Bytes& job, Aggregation& a, fl::RoundController::Output& out);
  // This node, aggregating, gives the job up: recorded on the ledger (a FailTx).
  void give_up(const Bytes& job, Aggregation& a, const std::string& reason);
  void begin_training(const Bytes& job, Aggregation& a, int64_t now);
  void record_standardization(const Bytes& job, Aggregation& a, int64_t now);
  Result<PartyData*> party_data(const FlJob& job);
  // A request from a peer to this node as a party: checked, then answered, held or refused.
  void party_request(uint32_t from, fl::WireMessage request, bool may_park);
  std::optional<Refused> party_check(uint32_t from, const FlJob& job, Ask ask, int round) const;
  void refuse(uint32_t from, const Bytes& job, int round, const Refused& why);
  void retry_parked(bool final);
  void party_fit(uint32_t from, const FlJob& job, PartyData& data, fl::FitRequest req);
  void party_eval(uint32_t from, const FlJob& job, PartyData& data, const fl::EvalRequest& req);
  // One task in the job's trusted application worker (trainers_): its output, or why not.
  Result<std::string> in_worker(const std::string& tenant, ta::TaskKind kind, uint32_t timeout_ms, const char* what,
                                const std::function<Bytes(bool fresh)>& input);
  void party_stats(uint32_t from, const FlJob& job, PartyData& data);
  bool is_party(const FlJob& job) const;
  std::vector<std::string> available_parties(const FlJob& job) const;

  Node& node_;
  DatasetStore* datasets_;
  ModelStore* model_store_;
  ta::Pool* trainers_;
  void seal_final_model(const FlJob& job);
  crypto::SecureBytes identity_secret_;
  uint32_t self_;
  std::map<Bytes, FlJob> jobs_;
  std::map<DatasetKey, LedgerDataset> registry_;
  // Whether the owner of a party's data set lets the job train without a consent for it.
  bool consented(const FlJob& job, const std::string& owner, const DatasetKey& key) const;
  std::map<Bytes, int64_t> progress_at_;  // local time of the job's last recorded progress
  std::map<Bytes, Aggregation> aggregations_;
  std::map<Bytes, PartyData> party_data_;
  void keep_model(const Bytes& job, const std::vector<float>& model);
  std::map<Bytes, std::deque<std::vector<float>>> models_;  // newest last, a few per job
  asio::thread_pool workers_{1};
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  LogLimiter log_limit_;  // warnings a peer can repeat at will
  std::map<std::string, uint64_t> refusals_;
  std::deque<Parked> parked_;
};

}  // namespace supernet::node
