// Tabular data sets for federated learning: parsed from CSV (outside bytes: bounded, every
// error names its line and column), split, standardized and partitioned among parties.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.h"

namespace supernet::fl {

inline constexpr size_t kRowsMax = 1000000;
inline constexpr size_t kFeaturesMax = 4096;
inline constexpr int kClassesMax = 1000;

struct Dataset {
  std::vector<std::string> feature_names;
  size_t rows = 0, features = 0;
  std::vector<float> x;    // row-major, rows x features
  std::vector<int32_t> y;  // class of each row, 0 .. classes-1
  int classes = 0;

  const float* row(size_t i) const { return x.data() + i * features; }
  // The rows `idx` of this data set, in that order.
  Dataset subset(const std::vector<size_t>& idx) const;
  // Rows per class.
  std::vector<size_t> class_counts() const;
};

struct CsvOptions {
  // The label column: a header name or a 0-based index; default the last column.
  std::optional<std::string> label_column;
};

// Comma-separated numbers, one row per line, an optional header row (detected: a first line
// in which no field is a number). Labels are integers 0..999. Refuses ragged rows,
// non-numbers, NaN and infinities, missing labels, empty input, and more than kRowsMax rows or
// kFeaturesMax features.
Result<Dataset> parse_csv(std::string_view text, const CsvOptions& options = {});
// The first non-blank line's field count, and whether it is a header (as parse_csv reads it).
struct CsvShape {
  size_t columns = 0;
  bool header = false;
};
CsvShape csv_shape(std::string_view text);
// The same for data to predict on: labels of a single class are allowed, and with `labels`
// false there is no label column (every column is a feature; y is empty, classes 0).
Result<Dataset> parse_csv_for_prediction(std::string_view text, const CsvOptions& options, bool labels);
// The same from a file (at most 64 MiB); errors name the file. `text`, if given, receives the
// file's bytes as read.
Result<Dataset> load_csv(const std::string& path, const CsvOptions& options = {}, std::string* text = nullptr);

// The given rows as CSV text with a header (feature names, then "label"); numbers are written
// with 9 significant digits, which reads back to the same float.
std::string to_csv(const Dataset& d, const std::vector<size_t>& rows);

// A seeded shuffle split: (train, test), stratified by class.
std::pair<Dataset, Dataset> split(const Dataset& d, double test_fraction, uint64_t seed);

// Per-feature row count, sums and sums of squares: what parties share for federated
// standardization, added up across parties.
struct FeatureSums {
  double rows = 0;
  std::vector<double> sum, sumsq;
  void add(const Dataset& d);
};

// Per-feature mean and standard deviation from a training set (or the sums of several), applied
// to any set.
struct Standardizer {
  std::vector<float> mean, stddev;
  static Standardizer fit(const Dataset& train);
  static Standardizer from_sums(const FeatureSums& s);
  void apply(Dataset& d) const;
};

// Row indices for each of `parties`: IID (a seeded shuffle dealt out evenly), or non-IID with
// each class's rows divided by proportions drawn from Dirichlet(alpha) (small alpha: skewed).
// Every party gets at least `min_rows` rows (the draw is repeated, seeded, until it does).
std::vector<std::vector<size_t>> partition_iid(size_t rows, int parties, uint64_t seed);
Result<std::vector<std::vector<size_t>>> partition_dirichlet(const Dataset& d, int parties, double alpha, uint64_t seed,
                                                             size_t min_rows = 10);

}  // namespace supernet::fl
