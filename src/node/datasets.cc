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

std::string schema_label(const std::string& name) { return "dataset-schema:" + name; }

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

}  // namespace

Result<DatasetSchema> DatasetStore::add(const std::string& name, std::string_view csv, const fl::CsvOptions& options, const std::string& owner) {
  if (!valid_dataset_name(name)) return make_error("dataset.name", "a data set name is 1 to 64 of A-Z a-z 0-9 . _ - (not starting with .)");
  if (csv.size() > kDatasetCsvBytesMax) return make_error("dataset.too_large", "the CSV is larger than 64 MiB");
  std::error_code ec;
  if (fs::exists(dir_ + "/" + name + ".schema.sealed", ec) || fs::exists(dir_ + "/" + name + ".schema.json", ec)) {
    return make_error("dataset.exists", "a data set named " + name + " is already registered at this node");
  }
  SN_ASSIGN(std::vector<DatasetSchema> all, list());
  size_t held = 0;
  for (const auto& s : all) held += s.owner == owner;
  if (held >= kDatasetsPerOwnerMax) {
    return make_error("dataset.quota", owner + " already holds " + std::to_string(held) + " data sets at this node (the most one client may: " +
                                           std::to_string(kDatasetsPerOwnerMax) + "); delete one first");
  }
  SN_ASSIGN(fl::Dataset d, fl::parse_csv(csv, options));
  Bytes plain = encode_dataset(d);
  DatasetSchema s;
  s.name = name;
  s.rows = d.rows;
  s.features = d.features;
  s.classes = d.classes;
  s.class_counts = d.class_counts();
  s.feature_names = d.feature_names;
  s.csv_sha256 = to_hex(crypto::sha256(as_bytes(csv)));
  s.data_sha256 = to_hex(crypto::sha256(plain));
  s.owner = owner;
  s.registered_at = now_unix();
  auto sealed = tee::seal(platform_, "dataset:" + name, plain);
  std::fill(plain.begin(), plain.end(), 0);
  if (!sealed.ok()) return sealed.error();
  SN_ASSIGN(Bytes sealed_schema, tee::seal(platform_, schema_label(name), as_bytes(schema_to_json(s).dump())));
  fs::create_directories(dir_, ec);
  if (ec) return make_error("dataset.io", "cannot create " + dir_ + ": " + ec.message());
  // The data first: a crash between the two leaves a blob without a schema, which is neither
  // listed nor loaded, and which the next registration of the name replaces.
  SN_TRY(write_file_atomic(dir_ + "/" + name + ".sealed", *sealed, 0600));
  SN_TRY(write_file_atomic(dir_ + "/" + name + ".schema.sealed", sealed_schema, 0600));
  return s;
}

Result<DatasetSchema> DatasetStore::schema(const std::string& name) const {
  if (!valid_dataset_name(name)) return make_error("dataset.name", "invalid data set name");
  std::string path = dir_ + "/" + name + ".schema.sealed";
  std::error_code ec;
  if (!fs::exists(path, ec)) return make_error("dataset.unknown", "no data set named " + name + " at this node");
  SN_ASSIGN(Bytes sealed, read_file(path, 16 * 1024 * 1024));
  auto plain = tee::unseal(platform_, schema_label(name), sealed);
  if (!plain.ok()) {
    return make_error("dataset.tampered", "the schema of " + name + " does not unseal on this node (edited, swapped or from another machine): " +
                                              plain.error().message);
  }
  json j = json::parse(to_string(plain->view()), nullptr, false);
  if (j.is_discarded()) return make_error("dataset.tampered", "the sealed schema of " + name + " is not JSON");
  SN_ASSIGN(DatasetSchema s, schema_from_json(j));
  if (s.name != name) return make_error("dataset.tampered", "the sealed schema of " + name + " names " + s.name);
  return s;
}

Result<std::vector<DatasetSchema>> DatasetStore::list() const {
  std::vector<DatasetSchema> out;
  std::error_code ec;
  if (!fs::is_directory(dir_, ec)) return out;
  std::vector<std::string> names, legacy;
  for (const auto& e : fs::directory_iterator(dir_, ec)) {
    std::string f = e.path().filename().string();
    if (f.size() > 14 && f.ends_with(".schema.sealed")) names.push_back(f.substr(0, f.size() - 14));
    if (f.size() > 12 && f.ends_with(".schema.json")) legacy.push_back(f.substr(0, f.size() - 12));
  }
  if (ec) return make_error("dataset.io", "cannot list " + dir_ + ": " + ec.message());
  std::sort(names.begin(), names.end());
  for (const auto& n : names) {
    if (!valid_dataset_name(n)) continue;
    auto s = schema(n);
    if (s.ok()) {
      out.push_back(std::move(s).value());
    } else {
      DatasetSchema bad;
      bad.name = n;
      bad.problem = s.error().message;
      out.push_back(std::move(bad));
    }
  }
  for (const auto& n : legacy) {
    if (!valid_dataset_name(n) || std::binary_search(names.begin(), names.end(), n)) continue;
    DatasetSchema bad;
    bad.name = n;
    bad.problem = "the schema is a plain file (written by an earlier SuperNet, or by the host) and is not trusted; register the data again";
    out.push_back(std::move(bad));
  }
  return out;
}

Result<fl::Dataset> DatasetStore::load(const std::string& name) const {
  SN_ASSIGN(DatasetSchema s, schema(name));
  std::string path = dir_ + "/" + name + ".sealed";
  std::error_code ec;
  if (!fs::exists(path, ec)) return make_error("dataset.unknown", "the data of " + name + " is missing at this node");
  SN_ASSIGN(Bytes sealed, read_file(path, kDatasetCsvBytesMax * 2));
  SN_ASSIGN(crypto::SecureBytes plain, tee::unseal(platform_, "dataset:" + name, sealed));
  if (to_hex(crypto::sha256(plain.view())) != s.data_sha256) {
    return make_error("dataset.tampered", "the sealed data of " + name + " is not the version its schema names (data sha256 " + s.data_sha256 + ")");
  }
  return decode_dataset(plain.view());
}

Status DatasetStore::remove(const std::string& name, const std::string& owner) {
  auto s = schema(name);
  // A schema that no longer unseals has no owner to ask; nobody can delete it through the API
  // (the operator removes the files).
  if (!s.ok()) return s.error();
  if (s->owner != owner) return make_error("dataset.owner", name + " is " + s->owner + "'s; only its owner deletes it");
  std::error_code ec;
  fs::remove(dir_ + "/" + name + ".schema.sealed", ec);
  if (ec) return make_error("dataset.io", "cannot remove the schema of " + name + ": " + ec.message());
  fs::remove(dir_ + "/" + name + ".sealed", ec);
  if (ec) return make_error("dataset.io", "cannot remove the data of " + name + ": " + ec.message());
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
