// A party's data sets, kept sealed in its node. Registration parses and validates the CSV in
// memory, seals the parsed data set to this platform (label "dataset:<name>") and its schema
// (rows, features, classes, per-class counts, the SHA-256 of the CSV as registered and of the
// sealed data, the owner: the client that registered it) beside it (label
// "dataset-schema:<name>"): the plaintext never reaches the node's disk, and a host that edits
// or swaps a schema file is detected (it no longer unseals, or no longer names the data beside
// it). Names are per owner. Clients may see the schema; rows leave the sealed store only into
// this node's own training code. Only the owner deletes a data set; replacing it is deleting it
// and registering the new version, which has another data hash.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fl/dataset.h"
#include "fl/wire.h"
#include "tee/platform.h"

namespace supernet::node {

struct DatasetSchema {
  std::string name;
  size_t rows = 0, features = 0;
  int classes = 0;
  std::vector<size_t> class_counts;
  std::vector<std::string> feature_names;
  std::string csv_sha256;
  std::string data_sha256;  // of the sealed (parsed) data set: its version
  std::string owner;        // the client that registered it
  UnixSeconds registered_at = 0;
  // Set by list() when the schema cannot be trusted (it does not unseal, or was never sealed):
  // such a data set is listed with the problem and never trained on.
  std::string problem;
};

inline constexpr size_t kDatasetCsvBytesMax = 64 * 1024 * 1024;
inline constexpr size_t kDatasetsPerOwnerMax = 16;  // registrations one client may hold at a node

// A data set's name is its owner's own: "user/clinic" and "member/clinic" are two data sets, and
// nobody can take a name another client means to register.
struct DatasetId {
  std::string owner, name;
  std::string key() const { return owner + "/" + name; }  // as jobs and the ledger name it
  bool operator==(const DatasetId&) const = default;
};
// A job's `dataset`: "owner/name", or "name" for `default_owner`'s (the job's submitter).
Result<DatasetId> parse_dataset_ref(const std::string& ref, const std::string& default_owner);

class DatasetStore {
 public:
  // `dir` holds <owner>/<name>.sealed and <owner>/<name>.schema.sealed.
  DatasetStore(tee::Platform& platform, std::string dir) : platform_(platform), dir_(std::move(dir)) {}
  // Refuses an existing name of the same owner (a data set is never changed in place) and an
  // owner that already holds kDatasetsPerOwnerMax data sets here.
  Result<DatasetSchema> add(const DatasetId& id, std::string_view csv, const fl::CsvOptions& options);
  Result<std::vector<DatasetSchema>> list() const;
  // The verified schema of one data set (dataset.unknown, dataset.tampered).
  Result<DatasetSchema> schema(const DatasetId& id) const;
  // The data, checked against its sealed schema's data hash.
  Result<fl::Dataset> load(const DatasetId& id) const;
  // Removes both files (the API lets only the owner address its own).
  Status remove(const DatasetId& id);

 private:
  std::string path(const DatasetId& id, const char* suffix) const;
  tee::Platform& platform_;
  std::string dir_;
};

// The final models of finished jobs this node held, sealed to this platform (label
// "model:<job id hex>", one file per job in `dir`), so that a restarted node still serves them.
// A host can delete or swap the files but not forge one; a reader checks the model's hash
// against the ledger's record of the job's last round before serving it.
class ModelStore {
 public:
  ModelStore(tee::Platform& platform, std::string dir) : platform_(platform), dir_(std::move(dir)) {}
  Status put(const Bytes& job, const std::vector<float>& params);
  // Nothing when this node sealed no model for the job.
  Result<std::optional<std::vector<float>>> get(const Bytes& job) const;

 private:
  tee::Platform& platform_;
  std::string dir_;
};

bool valid_dataset_name(const std::string& name);
// The public schema as JSON (what the store writes beside the sealed blob and the API returns).
nlohmann::json schema_to_json(const DatasetSchema& s);
// A data set owner's policy (fl::PolicyTx) as the API shows it.
nlohmann::json policy_to_json(const fl::DataPolicy& p);
// The binary form that is sealed (also used to carry nothing else: data sets never travel).
Bytes encode_dataset(const fl::Dataset& d);
Result<fl::Dataset> decode_dataset(ByteView b);

}  // namespace supernet::node
