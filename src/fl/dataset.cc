#include "fl/dataset.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cmath>
#include <numeric>
#include <random>

#include "util/file.h"

namespace supernet::fl {

namespace {

std::vector<std::string_view> split_fields(std::string_view line) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t comma = line.find(',', start);
    std::string_view f = line.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    while (!f.empty() && (f.front() == ' ' || f.front() == '\t')) f.remove_prefix(1);
    while (!f.empty() && (f.back() == ' ' || f.back() == '\t')) f.remove_suffix(1);
    out.push_back(f);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

std::optional<float> parse_number(std::string_view f) {
  if (f.empty()) return std::nullopt;
  if (f.front() == '+') f.remove_prefix(1);
  float v = 0;
  auto [end, ec] = std::from_chars(f.data(), f.data() + f.size(), v);
  if (ec != std::errc() || end != f.data() + f.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

std::string quote(std::string_view f) {
  std::string s(f.substr(0, 40));
  return "'" + s + (f.size() > 40 ? "...'" : "'");
}

}  // namespace

Dataset Dataset::subset(const std::vector<size_t>& idx) const {
  Dataset out;
  out.feature_names = feature_names;
  out.features = features;
  out.classes = classes;
  out.rows = idx.size();
  out.x.reserve(idx.size() * features);
  out.y.reserve(idx.size());
  for (size_t i : idx) {
    out.x.insert(out.x.end(), row(i), row(i) + features);
    out.y.push_back(y[i]);
  }
  return out;
}

std::vector<size_t> Dataset::class_counts() const {
  std::vector<size_t> c(static_cast<size_t>(classes), 0);
  for (int32_t label : y) c[static_cast<size_t>(label)]++;
  return c;
}

namespace {

// `labels` false: every column is a feature and y stays empty. `training`: at least two classes.
Result<Dataset> parse_csv_impl(std::string_view text, const CsvOptions& options, bool labels, bool training) {
  Dataset d;
  size_t line_no = 0, pos = 0;
  std::optional<size_t> columns;
  size_t label_col = 0;
  bool first = true;
  auto where = [&](size_t col) { return "line " + std::to_string(line_no) + (col ? ", column " + std::to_string(col) : ""); };
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    line_no++;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;  // blank lines
    auto fields = split_fields(line);
    if (fields.size() < (labels ? 2u : 1u)) return make_error("csv.columns", where(0) + ": needs at least one feature and a label, comma-separated");
    if (fields.size() - (labels ? 1 : 0) > kFeaturesMax) return make_error("csv.too_large", where(0) + ": more than " + std::to_string(kFeaturesMax) + " features");
    if (first) {
      first = false;
      columns = fields.size();
      // A header row is one whose fields are all names (none a number).
      bool header = std::none_of(fields.begin(), fields.end(), [](std::string_view f) { return parse_number(f).has_value(); });
      std::vector<std::string> names(fields.begin(), fields.end());
      label_col = labels ? fields.size() - 1 : fields.size();  // past the end: no label column
      if (labels && options.label_column) {
        auto it = std::find(names.begin(), names.end(), *options.label_column);
        size_t idx = 0;
        auto [end, ec] = std::from_chars(options.label_column->data(), options.label_column->data() + options.label_column->size(), idx);
        if (header && it != names.end()) {
          label_col = static_cast<size_t>(it - names.begin());
        } else if (ec == std::errc() && end == options.label_column->data() + options.label_column->size() && idx < fields.size()) {
          label_col = idx;
        } else {
          return make_error("csv.label", "no label column '" + *options.label_column + "' (a header name or a 0-based index below " +
                                             std::to_string(fields.size()) + ")");
        }
      }
      for (size_t c = 0; c < names.size(); c++) {
        if (c != label_col) d.feature_names.push_back(header ? names[c] : "f" + std::to_string(d.feature_names.size()));
      }
      d.features = fields.size() - (labels ? 1 : 0);
      if (header) continue;
    }
    if (fields.size() != *columns) {
      return make_error("csv.ragged", where(0) + ": " + std::to_string(fields.size()) + " fields where the first row has " + std::to_string(*columns));
    }
    if (d.rows >= kRowsMax) return make_error("csv.too_large", "more than " + std::to_string(kRowsMax) + " rows");
    for (size_t c = 0; c < fields.size(); c++) {
      if (c == label_col) {
        if (fields[c].empty()) return make_error("csv.label", where(c + 1) + ": missing label");
        int label = -1;
        auto [end, ec] = std::from_chars(fields[c].data(), fields[c].data() + fields[c].size(), label);
        if (ec != std::errc() || end != fields[c].data() + fields[c].size() || label < 0 || label >= kClassesMax) {
          // A label written as a float ("1.0") is accepted when it is a whole number.
          auto v = parse_number(fields[c]);
          if (!v || *v < 0 || *v >= kClassesMax || *v != std::floor(*v)) {
            return make_error("csv.label", where(c + 1) + ": label " + quote(fields[c]) + " is not a class number 0 to 999");
          }
          label = static_cast<int>(*v);
        }
        d.y.push_back(label);
        d.classes = std::max(d.classes, label + 1);
        continue;
      }
      auto v = parse_number(fields[c]);
      if (!v) {
        return make_error("csv.number", where(c + 1) + ": " + (fields[c].empty() ? std::string("empty field") : quote(fields[c]) + " is not a finite number"));
      }
      d.x.push_back(*v);
    }
    d.rows++;
  }
  if (d.rows == 0) return make_error("csv.empty", "no data rows");
  if (labels && training && d.classes < 2) return make_error("csv.label", "the labels name only one class; training needs at least two");
  return d;
}

}  // namespace

Result<Dataset> parse_csv(std::string_view text, const CsvOptions& options) { return parse_csv_impl(text, options, true, true); }

CsvShape csv_shape(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    auto fields = split_fields(line);
    // The same rule as parse_csv: a header row is one whose fields are all names.
    bool header = std::none_of(fields.begin(), fields.end(), [](std::string_view f) { return parse_number(f).has_value(); });
    return CsvShape{fields.size(), header};
  }
  return CsvShape{};
}

Result<Dataset> parse_csv_for_prediction(std::string_view text, const CsvOptions& options, bool labels) {
  return parse_csv_impl(text, options, labels, false);
}

Result<Dataset> load_csv(const std::string& path, const CsvOptions& options, std::string* text) {
  SN_ASSIGN(Bytes bytes, read_file(path, 64 * 1024 * 1024));
  auto d = parse_csv(to_string(bytes), options);
  if (!d.ok()) return make_error(d.error().code, path + ": " + d.error().message);
  if (text != nullptr) *text = to_string(bytes);
  return d;
}

std::string to_csv(const Dataset& d, const std::vector<size_t>& rows) {
  std::string text;
  for (const auto& n : d.feature_names) text += n + ",";
  text += "label\n";
  char num[32];
  for (size_t i : rows) {
    for (size_t f = 0; f < d.features; f++) {
      std::snprintf(num, sizeof num, "%.9g,", d.row(i)[f]);
      text += num;
    }
    text += std::to_string(d.y[i]) + "\n";
  }
  return text;
}

std::pair<Dataset, Dataset> split(const Dataset& d, double test_fraction, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::vector<size_t>> by_class(static_cast<size_t>(d.classes));
  for (size_t i = 0; i < d.rows; i++) by_class[static_cast<size_t>(d.y[i])].push_back(i);
  std::vector<size_t> train, test;
  for (auto& rows : by_class) {
    std::shuffle(rows.begin(), rows.end(), rng);
    size_t n_test = static_cast<size_t>(std::llround(static_cast<double>(rows.size()) * test_fraction));
    test.insert(test.end(), rows.begin(), rows.begin() + static_cast<std::ptrdiff_t>(n_test));
    train.insert(train.end(), rows.begin() + static_cast<std::ptrdiff_t>(n_test), rows.end());
  }
  std::shuffle(train.begin(), train.end(), rng);
  std::shuffle(test.begin(), test.end(), rng);
  return {d.subset(train), d.subset(test)};
}

void FeatureSums::add(const Dataset& d) {
  if (sum.size() < d.features) {
    sum.resize(d.features, 0);
    sumsq.resize(d.features, 0);
  }
  for (size_t i = 0; i < d.rows; i++) {
    for (size_t f = 0; f < d.features; f++) {
      double v = d.row(i)[f];
      sum[f] += v;
      sumsq[f] += v * v;
    }
  }
  rows += static_cast<double>(d.rows);
}

Standardizer Standardizer::from_sums(const FeatureSums& sums) {
  Standardizer s;
  double n = std::max(sums.rows, 1.0);
  for (size_t f = 0; f < sums.sum.size(); f++) {
    double m = sums.sum[f] / n;
    double var = std::max(0.0, sums.sumsq[f] / n - m * m);
    s.mean.push_back(static_cast<float>(m));
    s.stddev.push_back(var > 1e-12 ? static_cast<float>(std::sqrt(var)) : 1.0f);  // constant features stay 0
  }
  return s;
}

Standardizer Standardizer::fit(const Dataset& train) {
  FeatureSums sums;
  sums.add(train);
  return from_sums(sums);
}

void Standardizer::apply(Dataset& d) const {
  for (size_t i = 0; i < d.rows; i++) {
    for (size_t f = 0; f < d.features; f++) d.x[i * d.features + f] = (d.x[i * d.features + f] - mean[f]) / stddev[f];
  }
}

std::vector<std::vector<size_t>> partition_iid(size_t rows, int parties, uint64_t seed) {
  std::vector<size_t> idx(rows);
  std::iota(idx.begin(), idx.end(), 0);
  std::mt19937_64 rng(seed);
  std::shuffle(idx.begin(), idx.end(), rng);
  std::vector<std::vector<size_t>> out(static_cast<size_t>(std::max(parties, 1)));
  for (size_t i = 0; i < rows; i++) out[i % out.size()].push_back(idx[i]);
  return out;
}

Result<std::vector<std::vector<size_t>>> partition_dirichlet(const Dataset& d, int parties, double alpha, uint64_t seed, size_t min_rows) {
  if (parties < 1 || alpha <= 0) return make_error("partition.args", "need at least one party and alpha > 0");
  if (d.rows < static_cast<size_t>(parties) * min_rows) {
    return make_error("partition.small", std::to_string(d.rows) + " rows cannot give " + std::to_string(parties) + " parties " +
                                             std::to_string(min_rows) + " rows each");
  }
  std::mt19937_64 rng(seed);
  std::gamma_distribution<double> gamma(alpha, 1.0);
  std::vector<std::vector<size_t>> by_class(static_cast<size_t>(d.classes));
  for (size_t i = 0; i < d.rows; i++) by_class[static_cast<size_t>(d.y[i])].push_back(i);
  for (int attempt = 0; attempt < 1000; attempt++) {
    std::vector<std::vector<size_t>> out(static_cast<size_t>(parties));
    for (auto rows : by_class) {
      std::shuffle(rows.begin(), rows.end(), rng);
      std::vector<double> p(static_cast<size_t>(parties));
      double total = 0;
      for (auto& v : p) total += (v = gamma(rng));
      size_t start = 0;
      double cum = 0;
      for (size_t k = 0; k < p.size(); k++) {
        cum += p[k] / total;
        size_t end = k + 1 == p.size() ? rows.size() : static_cast<size_t>(std::llround(cum * static_cast<double>(rows.size())));
        end = std::clamp(end, start, rows.size());
        out[k].insert(out[k].end(), rows.begin() + static_cast<std::ptrdiff_t>(start), rows.begin() + static_cast<std::ptrdiff_t>(end));
        start = end;
      }
    }
    bool enough = std::all_of(out.begin(), out.end(), [&](const auto& v) { return v.size() >= min_rows; });
    if (enough) {
      for (auto& v : out) std::shuffle(v.begin(), v.end(), rng);
      return out;
    }
  }
  return make_error("partition.skewed", "no Dirichlet draw gave every party " + std::to_string(min_rows) + " rows; raise alpha");
}

}  // namespace supernet::fl
