// Federated learning on the network: the messages between the aggregator and the parties
// (over the attested peer transport, frames that start with "SNFL"), and the ledger
// transactions (a job, "SNFJ"; an aggregator's claim, "SNFA"; a round record, "SNFR"; a job
// given up, "SNFX"; an owner's consent, "SNFK"; a data set record, "SNFD"; a data policy,
// "SNFP"). Explicit binary encodings, bounded.
#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "crypto/keys.h"
#include "crypto/secure.h"
#include "fl/controller.h"
#include "fl/model.h"

namespace supernet::fl {

inline constexpr size_t kWireParamsMax = 240 * 1024;  // floats per message (frames are at most 1 MiB)

struct StatsRequest {
  Bytes job;  // job id (32 bytes)
};
// Per-feature count, sums and sums of squares over the party's training rows: what the
// aggregator needs for federated standardization.
struct StatsReply {
  Bytes job;
  uint64_t rows = 0;
  uint32_t classes = 0;
  std::vector<double> sum, sumsq;
};
struct FitRequest {
  Bytes job;
  int32_t round = 0;
  uint32_t classes = 2;  // the model's, over every party's labels
  std::vector<float> model;
  std::vector<float> mean, stddev;  // standardization for every party alike
  TrainOptions options;             // prox_center: the model itself
};
struct FitReply {
  Bytes job;
  int32_t round = 0;
  std::vector<float> params;
  uint64_t examples = 0;
  Metrics train;
};
struct EvalRequest {
  Bytes job;
  int32_t round = 0;
  uint32_t classes = 2;
  std::vector<float> model;
  std::vector<float> mean, stddev;
};
struct EvalReply {
  Bytes job;
  int32_t round = 0;
  Metrics metrics;
};
// A party refuses (no such data set here, say); the aggregator logs it and treats it as absent.
// `awaiting_consent`: the party holds the data set for an owner who has not consented to the
// job yet (fl::ConsentTx); it may answer the same request once the ledger holds the consent.
struct Refusal {
  Bytes job;
  int32_t round = 0;
  std::string reason;
  bool awaiting_consent = false;
};

using WireMessage = std::variant<StatsRequest, StatsReply, FitRequest, FitReply, EvalRequest, EvalReply, Refusal>;
bool is_fl_frame(ByteView frame);
Bytes encode_wire(const WireMessage& m);
Result<WireMessage> decode_wire(ByteView frame);

// --- local training in a trusted application worker (ta::TaskKind::kFlFit) ---

// What a party's node hands the worker of a job and data set (its tenant): the job's model (its
// spec and the round's parameters), the training options and the owner's local DP; and, in the
// first task a worker gets, the party's standardized splits, which it keeps for the job's later
// tasks (a worker serves one tenant, so they are this job's and data set's). The worker trains
// and answers a TrainResult, or evaluates and answers Metrics; nothing else of the node reaches it.
struct PartyData {
  Dataset train;  // rows, features, x, y, classes (no feature names); at least one row
  Dataset test;   // the held-out split, the same shape; may be empty
};
struct TrainTask {
  ModelSpec spec;
  std::vector<float> params;
  TrainOptions options;  // prox_center: the round's parameters when prox_mu > 0
  std::optional<PartyData> data;  // absent: the worker uses the splits it holds
  double local_clip = 0, local_noise = 0;
  uint64_t noise_seed = 0;
};
struct TrainResult {
  std::vector<float> params;
  Metrics metrics;
};
// The round's aggregate on the party's held-out split (ta::TaskKind::kFlEval).
struct EvalTask {
  ModelSpec spec;
  std::vector<float> params;
  std::optional<PartyData> data;
};
Bytes encode_train_task(const TrainTask& t);
Result<TrainTask> decode_train_task(ByteView b);
Bytes encode_train_result(const TrainResult& r);
Result<TrainResult> decode_train_result(ByteView b, size_t expected_params);
Bytes encode_eval_task(const EvalTask& t);
Result<EvalTask> decode_eval_task(ByteView b);
Bytes encode_metrics(const Metrics& m);
Result<Metrics> decode_metrics(ByteView b);
// The training and the evaluation themselves, as the worker runs them (and the node, when it
// has no workers: unit tests, the unprotected benchmark).
Result<TrainResult> run_train_task(const TrainTask& t, const Dataset& train);
Result<Metrics> run_eval_task(const EvalTask& t, const Dataset& test);

// --- ledger transactions ---

// A job, signed by the member who submits it with its client certificate's key (ECDSA), so
// that every node checks who submitted it when it applies the block (node::check_job), not
// only the node whose API received it.
struct JobTx {
  std::string toml;   // the job file as submitted
  uint64_t nonce = 0;
  Bytes client_spki;  // DER SubjectPublicKeyInfo of the submitter's key (its SHA-256 is in the genesis)
  Bytes signature;    // ECDSA (DER) by that key over signed_bytes()
  Bytes signed_bytes() const;
  Bytes encode() const;
  static Result<JobTx> decode(ByteView tx);
};
bool is_job_tx(ByteView tx);
Bytes make_job_tx(std::string toml, uint64_t nonce, const crypto::PrivateKey& client_key);

// A data owner consents to a job training on its data sets: every data set of the signer's
// that the job names, at any party. Signed by the owner's client certificate key (ECDSA); a
// party checks the signer against the owner its sealed schema records before it trains for a
// job that another client submitted.
struct ConsentTx {
  Bytes job;  // the job's transaction id (32 bytes)
  uint64_t nonce = 0;
  Bytes client_spki;
  Bytes signature;
  Bytes signed_bytes() const;
  Bytes encode() const;
  static Result<ConsentTx> decode(ByteView tx);
};
bool is_consent_tx(ByteView tx);
Bytes make_consent_tx(const Bytes& job, uint64_t nonce, const crypto::PrivateKey& client_key);

// The owner's own word for a registration or a deletion: signed with its client certificate
// key (ECDSA), it names the node, the data set, the SHA-256 of the CSV it uploaded (for a
// deletion: of the version it deletes) and the label column. The API takes it with the upload or
// the DELETE (`?owner_statement=HEX`, `supernet data register/delete` make it), the node puts it in
// its DataRecordTx, and every node checks it when it applies the record: a validator cannot
// register data in a client's name, nor delete a client's data set, nor replay an old deletion
// against a newer version.
struct OwnerStatement {
  uint32_t node = 0;
  std::string name;
  Bytes csv_sha256;          // 32 bytes
  std::string label_column;  // as given at registration ("" the default); "" for a deletion
  bool deleted = false;
  Bytes client_spki;
  Bytes signature;
  Bytes signed_bytes() const;
  Bytes encode() const;
  static Result<OwnerStatement> decode(ByteView b);
};
Bytes make_owner_statement(uint32_t node, std::string name, Bytes csv_sha256, std::string label_column, bool deleted,
                           const crypto::PrivateKey& client_key);

// A party's node records on the ledger the data sets it keeps: registered (a new version each
// time) or deleted. Signed by that node's identity key (Ed25519), and counted only when it is
// the key of validator `node`: every node then knows, from the ledger alone, whose each data
// set is and which version (data hash) it is, and a party refuses a sealed data set that is
// not the version the ledger last recorded (a host that rolled its files back).
struct DataRecordTx {
  uint32_t node = 0;
  std::string name;   // the data set's name at that node
  std::string owner;  // the client that registered it
  Bytes data_sha256;  // 32 bytes: the version; empty when deleted
  uint32_t features = 0, classes = 0;
  uint64_t rows = 0;
  bool deleted = false;
  uint64_t nonce = 0;
  OwnerStatement statement;  // the owner's signed word for it (checked on apply)
  Bytes signature;
  Bytes signed_bytes() const;
  Bytes encode() const;
  static Result<DataRecordTx> decode(ByteView tx);
};
bool is_data_record_tx(ByteView tx);
Bytes make_data_record_tx(DataRecordTx r, const crypto::SecureBytes& identity_secret);

// What a data set's owner allows (supernet data policy). Zero means "no limit" or "the default".
inline constexpr size_t kPolicyNamesMax = 64;
struct DataPolicy {
  std::vector<std::string> submitters;  // may train on it without a consent per job (the owner always)
  std::vector<std::string> readers;     // a job may name these as model readers (the owner always reads)
  uint32_t min_parties = 0;             // in every round; 0: the default, 2 (never fewer than 2)
  uint32_t max_epochs = 0;              // local epochs per round
  uint64_t max_params = 0;              // model parameters
  double max_epsilon = 0;               // per job; above 0 a job must use DP within it
  double epsilon_budget = 0;            // over all jobs; above 0 a job must use DP, and is refused past it
  double local_clip = 0;                // above 0: the party clips its update to this L2 norm ...
  double local_noise = 0;               // ... and adds Gaussian noise of local_noise * local_clip
  bool operator==(const DataPolicy&) const = default;
};
// The owner of data set `dataset` at node `node` sets its policy; signed by the owner's client
// key (ECDSA), applied only when the ledger's registration names that client as the owner.
struct PolicyTx {
  uint32_t node = 0;
  std::string dataset;
  DataPolicy policy;
  uint64_t nonce = 0;
  Bytes client_spki;
  Bytes signature;
  Bytes signed_bytes() const;
  Bytes encode() const;
  static Result<PolicyTx> decode(ByteView tx);
};
bool is_policy_tx(ByteView tx);
Bytes make_policy_tx(uint32_t node, std::string dataset, DataPolicy policy, uint64_t nonce, const crypto::PrivateKey& client_key);

struct RoundTx {
  Bytes job;
  uint32_t aggregator = 0;
  RoundRecord record;
  Bytes signature;  // Ed25519 by the aggregator node's identity key over signed_bytes()
  Bytes signed_bytes() const;
  Bytes encode() const;
  static Result<RoundTx> decode(ByteView tx);
};
bool is_round_tx(ByteView tx);
Bytes make_round_tx(const Bytes& job, uint32_t aggregator, const RoundRecord& record, const crypto::SecureBytes& identity_secret);

// The federated standardization and the model's shape of a job, fixed on the ledger once by
// its first aggregator (from the parties' sums) and used by every party for every round.
struct Standardization {
  uint32_t classes = 2;             // 2 to kClassesMax, over every party's labels
  std::vector<float> mean, stddev;  // one per feature (1 to kFeaturesMax), stddev > 0
  bool operator==(const Standardization&) const = default;
};

// A validator takes a job's aggregation over from round `from_round` (the round after the last
// recorded one), or, already its aggregator, records the job's standardization. Parties answer
// only the aggregator the last accepted claim names; the ledger, not a node's memory, says who
// may ask. Signed by the validator's identity key; `nonce` makes each claim its own transaction.
struct ClaimTx {
  Bytes job;
  uint32_t aggregator = 0;
  int32_t from_round = 1;  // 1 to 10,000
  uint64_t nonce = 0;
  std::optional<Standardization> standardization;
  Bytes signature;
  Bytes signed_bytes() const;
  Bytes encode() const;
  static Result<ClaimTx> decode(ByteView tx);
};
bool is_claim_tx(ByteView tx);
Bytes make_claim_tx(const Bytes& job, uint32_t aggregator, int from_round, uint64_t nonce, std::optional<Standardization> standardization,
                    const crypto::SecureBytes& identity_secret);

// The aggregator gives a job up (too few parties after its retries, data sets that do not fit
// together): on the ledger, so that every node reports the job failed and none takes it over.
// Only the first one for the round after the last recorded one counts.
struct FailTx {
  Bytes job;
  uint32_t aggregator = 0;
  int32_t round = 0;   // the round that could not be completed (1 to 10,000)
  std::string reason;  // at most 512 bytes
  Bytes signature;     // Ed25519 by the aggregator node's identity key over signed_bytes()
  Bytes signed_bytes() const;
  Bytes encode() const;
  static Result<FailTx> decode(ByteView tx);
};
bool is_fail_tx(ByteView tx);
Bytes make_fail_tx(const Bytes& job, uint32_t aggregator, int round, std::string reason, const crypto::SecureBytes& identity_secret);

}  // namespace supernet::fl
