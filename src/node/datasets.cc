#include "node/datasets.h"

#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "crypto/hash.h"
#include "tee/seal.h"
#include "util/codec.h"
#include "util/file.h"
#include "util/names.h"
#include "util/time.h"

namespace supernet::node {

namespace fs = std::filesystem;
using nlohmann::json;

bool valid_dataset_name(const std::string& name) { return is_simple_name(name, 64); }

Bytes encode_dataset(const fl::Dataset& d) {
  Writer w;
  w.str("SNDS1").u64(d.rows).u64(d.features).u32(static_cast<uint32_t>(d.classes)).u32(static_cast<uint32_t>(d.feature_names.size()));
  for (const auto& n : d.feature_names) w.str(n);
  Bytes xs(d.x.size() * 4);
  for (size_t i = 0; i < d.x.size(); i++) {
    uint32_t bits = 0;
    std::memcpy(&bits, &d.x[i], 4);
    for (int k = 0; k < 4; k++) xs[i * 4 + static_cast<size_t>(k)] = static_cast<uint8_t>(bits >> (8 * k));
  }
  w.bytes(xs);
  for (int32_t y : d.y) w.u32(static_cast<uint32_t>(y));
  return w.take();
}

Result<fl::Dataset> decode_dataset(ByteView b) {
  Reader r(b);
  SN_ASSIGN(ByteView magic, r.bytes(16));
  if (to_string(magic) != "SNDS1") return make_error("dataset.format", "not a sealed data set");
  fl::Dataset d;
  SN_ASSIGN(uint64_t rows, r.u64());
  SN_ASSIGN(uint64_t features, r.u64());
  SN_ASSIGN(uint32_t classes, r.u32());
  if (rows > fl::kRowsMax || features > fl::kFeaturesMax || classes < 2 || classes > static_cast<uint32_t>(fl::kClassesMax)) {
    return make_error("dataset.format", "data set dimensions out of range");
  }
  d.rows = rows;
  d.features = features;
  d.classes = static_cast<int>(classes);
  SN_ASSIGN(uint32_t names, r.count(fl::kFeaturesMax, 4));
  for (uint32_t i = 0; i < names; i++) {
    SN_ASSIGN(ByteView n, r.bytes(1024));
    d.feature_names.push_back(to_string(n));
  }
  SN_ASSIGN(ByteView xs, r.bytes(fl::kRowsMax * 16));
  if (xs.size() != rows * features * 4) return make_error("dataset.format", "feature block has the wrong size");
  d.x.resize(rows * features);
  for (size_t i = 0; i < d.x.size(); i++) {
    uint32_t bits = 0;
    for (int k = 0; k < 4; k++) bits |= static_cast<uint32_t>(xs[i * 4 + static_cast<size_t>(k)]) << (8 * k);
    std::memcpy(&d.x[i], &bits, 4);
  }
  for (uint64_t i = 0; i < rows; i++) {
    SN_ASSIGN(uint32_t y, r.u32());
    if (y >= classes) return make_error("dataset.format", "label out of range");
    d.y.push_back(static_cast<int32_t>(y));
  }
  SN_TRY(r.finish());
  return d;
}

json policy_to_json(const fl::DataPolicy& p) {
  return {{"submitters", p.submitters},   {"readers", p.readers},         {"min_parties", p.min_parties},
          {"max_epochs", p.max_epochs},   {"max_params", p.max_params},   {"max_epsilon", p.max_epsilon},
          {"epsilon_budget", p.epsilon_budget}, {"local_clip", p.local_clip}, {"local_noise", p.local_noise}};
}

json schema_to_json(const DatasetSchema& s) {
  json j = {{"name", s.name},
            {"rows", s.rows},
            {"features", s.features},
            {"classes", s.classes},
            {"class_counts", s.class_counts},
            {"feature_names", s.feature_names},
            {"csv_sha256", s.csv_sha256},
            {"data_sha256", s.data_sha256},
            {"owner", s.owner},
            {"registered_at", format_rfc3339(s.registered_at)}};
  if (!s.problem.empty()) j["problem"] = s.problem;
  return j;
}

namespace {

std::string schema_label(const DatasetId& id) { return "dataset-schema:" + id.key(); }
std::string data_label(const DatasetId& id) { return "dataset:" + id.key(); }

Result<DatasetSchema> schema_from_json(const json& j) {
  if (!j.is_object()) return make_error("dataset.schema", "the schema is not a JSON object");
  try {
    DatasetSchema s;
    s.name = j.at("name").get<std::string>();
    s.rows = j.at("rows").get<size_t>();
    s.features = j.at("features").get<size_t>();
    s.classes = j.at("classes").get<int>();
    s.class_counts = j.at("class_counts").get<std::vector<size_t>>();
    s.feature_names = j.at("feature_names").get<std::vector<std::string>>();
    s.csv_sha256 = j.at("csv_sha256").get<std::string>();
    s.data_sha256 = j.at("data_sha256").get<std::string>();
    s.owner = j.at("owner").get<std::string>();
    auto t = parse_rfc3339(j.at("registered_at").get<std::string>());
    s.registered_at = t.ok() ? *t : 0;
    return s;
  } catch (const json::exception& e) {
    return make_error("dataset.schema", std::string("the schema is incomplete: ") + e.what());
  }
}

Status check_id(const DatasetId& id) {
  if (!valid_dataset_name(id.name)) return make_error("dataset.name", "a data set name is 1 to 64 of A-Z a-z 0-9 . _ - (not starting with .)");
  if (!is_simple_name(id.owner, 64)) return make_error("dataset.name", "not a client name: " + id.owner);
  return ok_status();
}

}  // namespace

Result<DatasetId> parse_dataset_ref(const std::string& ref, const std::string& default_owner) {
  auto slash = ref.find('/');
  DatasetId id = slash == std::string::npos ? DatasetId{default_owner, ref} : DatasetId{ref.substr(0, slash), ref.substr(slash + 1)};
  SN_TRY(check_id(id));
  return id;
}

std::string DatasetStore::path(const DatasetId& id, const char* suffix) const { return dir_ + "/" + id.owner + "/" + id.name + suffix; }

Result<DatasetSchema> DatasetStore::add(const DatasetId& id, std::string_view csv, const fl::CsvOptions& options) {
  SN_TRY(check_id(id));
  if (csv.size() > kDatasetCsvBytesMax) return make_error("dataset.too_large", "the CSV is larger than 64 MiB");
  std::error_code ec;
  if (fs::exists(path(id, ".schema.sealed"), ec)) {
    return make_error("dataset.exists", id.owner + " already has a data set named " + id.name + " at this node (delete it to replace it)");
  }
  size_t held = 0;
  for (const auto& e : fs::directory_iterator(dir_ + "/" + id.owner, ec)) held += e.path().filename().string().ends_with(".schema.sealed");
  if (held >= kDatasetsPerOwnerMax) {
    return make_error("dataset.quota", id.owner + " already holds " + std::to_string(held) + " data sets at this node (the most one client may: " +
                                           std::to_string(kDatasetsPerOwnerMax) + "); delete one first");
  }
  SN_ASSIGN(fl::Dataset d, fl::parse_csv(csv, options));
  Bytes plain = encode_dataset(d);
  DatasetSchema s;
  s.name = id.name;
  s.rows = d.rows;
  s.features = d.features;
  s.classes = d.classes;
  s.class_counts = d.class_counts();
  s.feature_names = d.feature_names;
  s.csv_sha256 = to_hex(crypto::sha256(as_bytes(csv)));
  s.data_sha256 = to_hex(crypto::sha256(plain));
  s.owner = id.owner;
  s.registered_at = now_unix();
  auto sealed = tee::seal(platform_, data_label(id), plain);
  std::fill(plain.begin(), plain.end(), 0);
  if (!sealed.ok()) return sealed.error();
  SN_ASSIGN(Bytes sealed_schema, tee::seal(platform_, schema_label(id), as_bytes(schema_to_json(s).dump())));
  fs::create_directories(dir_ + "/" + id.owner, ec);
  if (ec) return make_error("dataset.io", "cannot create " + dir_ + "/" + id.owner + ": " + ec.message());
  // The data first: a schema never names data that is not there.
  SN_TRY(write_file_atomic(path(id, ".sealed"), *sealed, 0600));
  SN_TRY(write_file_atomic(path(id, ".schema.sealed"), sealed_schema, 0600));
  return s;
}

Result<DatasetSchema> DatasetStore::schema(const DatasetId& id) const {
  SN_TRY(check_id(id));
  std::string file = path(id, ".schema.sealed");
  std::error_code ec;
  if (!fs::exists(file, ec)) return make_error("dataset.unknown", id.owner + " has no data set named " + id.name + " at this node");
  SN_ASSIGN(Bytes sealed, read_file(file, 16 * 1024 * 1024));
  auto plain = tee::unseal(platform_, schema_label(id), sealed);
  if (!plain.ok()) {
    return make_error("dataset.tampered", "the schema of " + id.key() + " does not unseal on this node (edited, swapped or from another machine): " +
                                              plain.error().message);
  }
  json j = json::parse(to_string(plain->view()), nullptr, false);
  if (j.is_discarded()) return make_error("dataset.tampered", "the sealed schema of " + id.key() + " is not JSON");
  SN_ASSIGN(DatasetSchema s, schema_from_json(j));
  if (s.name != id.name || s.owner != id.owner) return make_error("dataset.tampered", "the sealed schema of " + id.key() + " names " + s.owner + "/" + s.name);
  return s;
}

Result<std::vector<DatasetSchema>> DatasetStore::list() const {
  std::vector<DatasetSchema> out;
  std::error_code ec;
  if (!fs::is_directory(dir_, ec)) return out;
  std::vector<DatasetId> ids;
  std::vector<std::string> legacy;
  for (const auto& owner_dir : fs::directory_iterator(dir_, ec)) {
    std::string owner = owner_dir.path().filename().string();
    if (!owner_dir.is_directory(ec)) {
      // A file at the top: an earlier SuperNet's layout (one namespace per node), or the host's.
      for (const char* suffix : {".schema.sealed", ".schema.json"}) {
        if (owner.ends_with(suffix) && owner.size() > std::strlen(suffix)) legacy.push_back(owner.substr(0, owner.size() - std::strlen(suffix)));
      }
      continue;
    }
    if (!is_simple_name(owner, 64)) continue;
    for (const auto& e : fs::directory_iterator(owner_dir.path(), ec)) {
      std::string f = e.path().filename().string();
      if (f.size() > 14 && f.ends_with(".schema.sealed")) ids.push_back({owner, f.substr(0, f.size() - 14)});
    }
  }
  if (ec) return make_error("dataset.io", "cannot list " + dir_ + ": " + ec.message());
  std::sort(ids.begin(), ids.end(), [](const DatasetId& a, const DatasetId& b) { return a.key() < b.key(); });
  for (const auto& id : ids) {
    if (!valid_dataset_name(id.name)) continue;
    auto s = schema(id);
    if (s.ok()) {
      out.push_back(std::move(s).value());
    } else {
      DatasetSchema bad;
      bad.name = id.name;
      bad.owner = id.owner;
      bad.problem = s.error().message;
      out.push_back(std::move(bad));
    }
  }
  std::sort(legacy.begin(), legacy.end());
  for (const auto& n : legacy) {
    DatasetSchema bad;
    bad.name = n;
    bad.problem = "a schema outside any owner's folder (written by an earlier SuperNet, or by the host) is not trusted; register the data again";
    out.push_back(std::move(bad));
  }
  return out;
}

Result<fl::Dataset> DatasetStore::load(const DatasetId& id) const {
  SN_ASSIGN(DatasetSchema s, schema(id));
  std::string file = path(id, ".sealed");
  std::error_code ec;
  if (!fs::exists(file, ec)) return make_error("dataset.unknown", "the data of " + id.key() + " is missing at this node");
  SN_ASSIGN(Bytes sealed, read_file(file, kDatasetCsvBytesMax * 2));
  SN_ASSIGN(crypto::SecureBytes plain, tee::unseal(platform_, data_label(id), sealed));
  if (to_hex(crypto::sha256(plain.view())) != s.data_sha256) {
    return make_error("dataset.tampered", "the sealed data of " + id.key() + " is not the version its schema names (data sha256 " + s.data_sha256 + ")");
  }
  return decode_dataset(plain.view());
}

Status DatasetStore::remove(const DatasetId& id) {
  // Also a data set whose files no longer verify: it is in its owner's folder, and the owner
  // may clear it away.
  SN_TRY(check_id(id));
  std::error_code ec;
  if (!fs::exists(path(id, ".schema.sealed"), ec) && !fs::exists(path(id, ".sealed"), ec)) {
    return make_error("dataset.unknown", id.owner + " has no data set named " + id.name + " at this node");
  }
  fs::remove(path(id, ".schema.sealed"), ec);
  if (ec) return make_error("dataset.io", "cannot remove the schema of " + id.key() + ": " + ec.message());
  fs::remove(path(id, ".sealed"), ec);
  if (ec) return make_error("dataset.io", "cannot remove the data of " + id.key() + ": " + ec.message());
  return ok_status();
}

// --- sealed final models ---

namespace {
constexpr size_t kModelParamsMax = 1 << 22;  // floats (a model travels in one 1 MiB frame: far fewer)
}

Status ModelStore::put(const Bytes& job, const std::vector<float>& params) {
  if (params.size() > kModelParamsMax) return make_error("model.size", "model too large to keep");
  Writer w;
  w.str("SNFM1").u32(static_cast<uint32_t>(params.size()));
  for (float f : params) {
    uint32_t bits = 0;
    std::memcpy(&bits, &f, 4);
    w.u32(bits);
  }
  std::string hex = to_hex(job);
  SN_ASSIGN(Bytes sealed, tee::seal(platform_, "model:" + hex, w.take()));
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return make_error("model.store", "cannot create " + dir_ + ": " + ec.message());
  return write_file_atomic(dir_ + "/" + hex + ".sealed", sealed, 0600);
}

Result<std::optional<std::vector<float>>> ModelStore::get(const Bytes& job) const {
  std::string hex = to_hex(job);
  std::string path = dir_ + "/" + hex + ".sealed";
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::optional<std::vector<float>>{};
  SN_ASSIGN(Bytes sealed, read_file(path, kModelParamsMax * 4 + 4096));
  SN_ASSIGN(crypto::SecureBytes plain, tee::unseal(platform_, "model:" + hex, sealed));
  Reader r(plain.view());
  SN_ASSIGN(ByteView magic, r.bytes(16));
  if (to_string(magic) != "SNFM1") return make_error("model.format", "not a sealed model");
  SN_ASSIGN(uint32_t n, r.count(kModelParamsMax, 4));
  std::vector<float> params(n);
  for (auto& f : params) {
    SN_ASSIGN(uint32_t bits, r.u32());
    std::memcpy(&f, &bits, 4);
  }
  SN_TRY(r.finish());
  return std::optional<std::vector<float>>(std::move(params));
}

}  // namespace supernet::node
