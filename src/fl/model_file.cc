#include "fl/model_file.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "fl/controller.h"
#include "util/file.h"

namespace supernet::fl {

namespace {

using json = nlohmann::json;

Result<std::vector<float>> floats(const json& j, const char* field, size_t count_max) {
  if (!j.is_array()) return make_error("model_file.field", std::string(field) + " must be an array of numbers");
  if (j.size() > count_max) return make_error("model_file.field", std::string(field) + " has more than " + std::to_string(count_max) + " values");
  std::vector<float> out;
  out.reserve(j.size());
  for (size_t i = 0; i < j.size(); i++) {
    if (!j[i].is_number()) return make_error("model_file.field", std::string(field) + "[" + std::to_string(i) + "] is not a number");
    double v = j[i].get<double>();
    float f = static_cast<float>(v);
    if (!std::isfinite(v) || !std::isfinite(f)) {
      return make_error("model_file.field", std::string(field) + "[" + std::to_string(i) + "] is not a finite float");
    }
    out.push_back(f);
  }
  return out;
}

}  // namespace

std::string ModelFile::to_json() const {
  json j;
  j["format"] = kModelFileFormat;
  j["version"] = kModelFileVersion;
  j["kind"] = spec.kind == ModelSpec::Kind::kMlp ? "mlp" : "logistic";
  j["inputs"] = spec.inputs;
  j["classes"] = spec.classes;
  j["hidden"] = spec.hidden;
  j["layers"] = spec.widths();
  j["features"] = features;
  // Each float widened to double: nlohmann writes doubles with 17 significant digits, which
  // read back (and narrow) to the same float, so the hash survives the round trip.
  auto wide = [](const std::vector<float>& v) { return std::vector<double>(v.begin(), v.end()); };
  j["standardization"] = {{"mean", wide(standardization.mean)}, {"stddev", wide(standardization.stddev)}};
  j["params"] = wide(params);
  j["model_sha256"] = to_hex(model_sha256);
  if (!job.empty()) j["job"] = job;
  if (round > 0) j["round"] = round;
  return j.dump(1) + "\n";
}

Result<ModelFile> ModelFile::parse(std::string_view text) {
  if (text.size() > kModelFileBytesMax) return make_error("model_file.too_large", "over " + std::to_string(kModelFileBytesMax >> 20) + " MiB");
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) return make_error("model_file.json", "not valid JSON");
  if (!j.is_object()) return make_error("model_file.json", "not a JSON object");
  if (!j.contains("format") || j["format"] != kModelFileFormat) {
    return make_error("model_file.format", std::string("\"format\" is not \"") + kModelFileFormat + "\" (not a SuperNet model file)");
  }
  if (!j.contains("version") || !j["version"].is_number_integer() || j["version"].get<int64_t>() != kModelFileVersion) {
    return make_error("model_file.version", "only version " + std::to_string(kModelFileVersion) + " is known");
  }
  ModelFile m;
  if (!j.contains("kind") || !j["kind"].is_string() || (j["kind"] != "logistic" && j["kind"] != "mlp")) {
    return make_error("model_file.field", "kind must be \"logistic\" or \"mlp\"");
  }
  m.spec.kind = j["kind"] == "mlp" ? ModelSpec::Kind::kMlp : ModelSpec::Kind::kLogistic;
  auto count = [&](const json& v, const char* field, int64_t lo, int64_t hi) -> Result<int64_t> {
    if (!v.is_number_integer() || v.get<int64_t>() < lo || v.get<int64_t>() > hi) {
      return make_error("model_file.field", std::string(field) + " must be an integer " + std::to_string(lo) + " to " + std::to_string(hi));
    }
    return v.get<int64_t>();
  };
  SN_ASSIGN(int64_t inputs, count(j.value("inputs", json()), "inputs", 1, static_cast<int64_t>(kFeaturesMax)));
  SN_ASSIGN(int64_t classes, count(j.value("classes", json()), "classes", 2, kClassesMax));
  m.spec.inputs = static_cast<size_t>(inputs);
  m.spec.classes = static_cast<int>(classes);
  json hidden = j.value("hidden", json::array());
  if (!hidden.is_array() || hidden.size() > 2) return make_error("model_file.field", "hidden must be an array of at most two layer widths");
  for (const auto& h : hidden) {
    SN_ASSIGN(int64_t width, count(h, "hidden[]", 1, 4096));
    m.spec.hidden.push_back(static_cast<size_t>(width));
  }
  if (auto s = m.spec.validate(); !s.ok()) return make_error("model_file.shape", s.error().message);
  if (j.contains("layers") && j["layers"] != json(m.spec.widths())) {
    return make_error("model_file.shape", "layers do not match kind, inputs, hidden and classes");
  }
  json features = j.value("features", json::array());
  if (!features.is_array() || (!features.empty() && features.size() != m.spec.inputs)) {
    return make_error("model_file.features", "features must name all " + std::to_string(m.spec.inputs) + " inputs, or be []");
  }
  for (const auto& f : features) {
    if (!f.is_string() || f.get<std::string>().empty() || f.get<std::string>().size() > kFeatureNameBytesMax) {
      return make_error("model_file.features", "a feature name is a string of 1 to " + std::to_string(kFeatureNameBytesMax) + " bytes");
    }
    m.features.push_back(f.get<std::string>());
  }
  if (!j.contains("standardization") || !j["standardization"].is_object()) {
    return make_error("model_file.standardization", "standardization {mean, stddev} is missing");
  }
  const json& st = j["standardization"];
  SN_ASSIGN(m.standardization.mean, floats(st.value("mean", json()), "standardization.mean", m.spec.inputs));
  SN_ASSIGN(m.standardization.stddev, floats(st.value("stddev", json()), "standardization.stddev", m.spec.inputs));
  if (m.standardization.mean.size() != m.spec.inputs || m.standardization.stddev.size() != m.spec.inputs) {
    return make_error("model_file.standardization", "mean and stddev need one value per input (" + std::to_string(m.spec.inputs) + ")");
  }
  for (float s : m.standardization.stddev) {
    if (!(s > 0)) return make_error("model_file.standardization", "every stddev must be above 0");
  }
  SN_ASSIGN(m.params, floats(j.value("params", json()), "params", m.spec.parameter_count()));
  if (m.params.size() != m.spec.parameter_count()) {
    return make_error("model_file.params", "params has " + std::to_string(m.params.size()) + " values where the shape needs " +
                                               std::to_string(m.spec.parameter_count()));
  }
  if (!j.contains("model_sha256") || !j["model_sha256"].is_string()) return make_error("model_file.hash", "model_sha256 is missing");
  auto claimed = from_hex(j["model_sha256"].get<std::string>());
  if (!claimed.ok() || claimed->size() != 32) return make_error("model_file.hash", "model_sha256 is not 64 hex digits");
  m.model_sha256 = model_hash(m.params);
  if (m.model_sha256 != *claimed) {
    return make_error("model_file.hash", "the parameters hash to " + to_hex(m.model_sha256) + ", not the model_sha256 the file states (" +
                                             to_hex(*claimed) + "): the weights were changed");
  }
  if (j.contains("job")) {
    if (!j["job"].is_string() || j["job"].get<std::string>().size() != 64 || !from_hex(j["job"].get<std::string>()).ok()) {
      return make_error("model_file.field", "job must be a job id of 64 hex digits");
    }
    m.job = j["job"].get<std::string>();
  }
  if (j.contains("round")) {
    SN_ASSIGN(int64_t r, count(j["round"], "round", 1, 10000));
    m.round = static_cast<int>(r);
  }
  return m;
}

Model ModelFile::model() const {
  auto created = Model::create(spec, 0);  // spec checked by parse (or by the writer)
  Model out = *created;
  out.params() = params;
  return out;
}

Result<ModelFile> load_model_file(const std::string& path) {
  SN_ASSIGN(Bytes bytes, read_file(path, kModelFileBytesMax));
  auto m = ModelFile::parse(to_string(bytes));
  if (!m.ok()) return make_error(m.error().code, path + ": " + m.error().message);
  return m;
}

Result<Predictions> predict_csv(const ModelFile& m, std::string_view text, const std::optional<std::string>& label_column) {
  CsvShape shape = csv_shape(text);
  size_t columns = shape.columns;
  if (columns == 0) return make_error("csv.empty", "no data rows");
  bool labeled = label_column.has_value() || columns == m.spec.inputs + 1;
  if (!labeled && columns != m.spec.inputs) {
    return make_error("csv.columns", "the first row has " + std::to_string(columns) + " columns; the model takes " + std::to_string(m.spec.inputs) +
                                         " features (and optionally a label)");
  }
  CsvOptions o;
  o.label_column = label_column;
  SN_ASSIGN(Dataset d, parse_csv_for_prediction(text, o, labeled));
  if (d.features != m.spec.inputs) {
    return make_error("csv.columns", std::to_string(d.features) + " feature columns; the model takes " + std::to_string(m.spec.inputs));
  }
  if (shape.header && !m.features.empty()) {
    // Columns by name: the model's feature f is the file's column order[f].
    std::vector<size_t> order;
    for (const auto& name : m.features) {
      auto it = std::find(d.feature_names.begin(), d.feature_names.end(), name);
      if (it == d.feature_names.end()) return make_error("csv.columns", "the model's feature '" + name + "' is not a column of the file");
      order.push_back(static_cast<size_t>(it - d.feature_names.begin()));
    }
    std::vector<float> x(d.x.size());
    for (size_t i = 0; i < d.rows; i++) {
      for (size_t f = 0; f < d.features; f++) x[i * d.features + f] = d.x[i * d.features + order[f]];
    }
    d.x = std::move(x);
  }
  m.standardization.apply(d);
  Model model = m.model();
  Predictions out;
  out.rows = d.rows;
  out.classes.reserve(d.rows);
  out.probability.reserve(d.rows);
  std::vector<float> probs;
  size_t correct = 0;
  for (size_t i = 0; i < d.rows; i++) {
    model.predict(d.row(i), probs);
    size_t best = static_cast<size_t>(std::max_element(probs.begin(), probs.end()) - probs.begin());
    out.classes.push_back(static_cast<int32_t>(best));
    out.probability.push_back(probs[best]);
    if (labeled) correct += d.y[i] == static_cast<int32_t>(best);
  }
  if (labeled) out.accuracy = static_cast<double>(correct) / static_cast<double>(d.rows);
  return out;
}

}  // namespace supernet::fl
