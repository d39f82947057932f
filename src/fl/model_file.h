// The model file: everything a reader needs to use a trained model, in one JSON document.
//
//   {"format": "supernet-model", "version": 1,
//    "kind": "logistic" | "mlp", "inputs": N, "classes": C, "hidden": [H1, H2],
//    "features": ["age", ...],            // N names, or [] when the writer did not know them
//    "standardization": {"mean": [...], "stddev": [...]},   // N each, applied before the model
//    "params": [...],                      // the flat parameters (fl/model.h's layout)
//    "model_sha256": "...",                // fl::model_hash(params): what the FL lineage records
//    "job": "...", "round": R}             // optional: the FL job and round it came from
//
// The keys kind, inputs, classes, hidden and params are those the TA host function
// model.predict takes, so a script can hand it the decoded file. Parsing is of outside bytes:
// every field is checked (shape, counts, finite numbers, stddev > 0) and the hash is recomputed
// and compared; a file that fails any check is refused with the check named.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fl/dataset.h"
#include "fl/model.h"
#include "util/bytes.h"
#include "util/result.h"

namespace supernet::fl {

inline constexpr const char* kModelFileFormat = "supernet-model";
inline constexpr int kModelFileVersion = 1;
inline constexpr size_t kModelFileBytesMax = 256ull << 20;  // a model file read or served
inline constexpr size_t kFeatureNameBytesMax = 256;

struct ModelFile {
  ModelSpec spec;
  std::vector<std::string> features;  // spec.inputs names, or empty
  Standardizer standardization;       // spec.inputs each
  std::vector<float> params;
  Bytes model_sha256;                 // model_hash(params)
  std::string job;                    // hex job id, or empty
  int round = 0;

  std::string to_json() const;  // pretty-printed, floats written to read back exactly
  // Parses and checks a model file (outside bytes).
  static Result<ModelFile> parse(std::string_view text);
  Model model() const;
};

// Reads and parses a model file (at most kModelFileBytesMax); errors name the file.
Result<ModelFile> load_model_file(const std::string& path);

// A model's predictions over a data set read for it. The data set's columns are matched to the
// model's features: by name when both the file has a header and the model names its features
// (any order; extra columns other than the label are refused), by position otherwise. A file
// with one column more than the model's inputs has labels (the last column, or
// `label_column`); with exactly the inputs it has none.
struct Predictions {
  std::vector<int32_t> classes;
  std::vector<float> probability;  // of the predicted class
  std::optional<double> accuracy;  // when the data had labels
  size_t rows = 0;
};
Result<Predictions> predict_csv(const ModelFile& m, std::string_view csv_text, const std::optional<std::string>& label_column);

}  // namespace supernet::fl
