// Model files (supernet model predict, fl model downloads) and the data a reader predicts on.
// The input's first byte splits it: a model file, then CSV rows; every accepted model must
// round-trip exactly, and prediction on any rows must not crash.
#include <cstdlib>

#include "fl/model_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace supernet;
  if (size == 0) return 0;
  size_t cut = std::min<size_t>(size - 1, static_cast<size_t>(data[0]) * 16);
  std::string_view model_text(reinterpret_cast<const char*>(data) + 1, cut);
  std::string_view csv(reinterpret_cast<const char*>(data) + 1 + cut, size - 1 - cut);
  auto m = fl::ModelFile::parse(model_text);
  // Rows for a fixed small model, whatever the model text was.
  fl::ModelFile fixed;
  fixed.spec.inputs = 2;
  fixed.spec.classes = 3;
  fixed.standardization.mean = {0, 1};
  fixed.standardization.stddev = {1, 2};
  fixed.params.assign(fixed.spec.parameter_count(), 0.5f);
  fixed.features = {"a", "b"};
  auto p = fl::predict_csv(fixed, csv, std::nullopt);
  if (p.ok() && (p->classes.size() != p->rows || p->probability.size() != p->rows)) std::abort();
  (void)fl::predict_csv(fixed, csv, std::string("0"));
  if (!m.ok()) return 0;
  auto again = fl::ModelFile::parse(m->to_json());
  if (!again.ok() || again->params != m->params || again->model_sha256 != m->model_sha256) std::abort();
  if (m->params.size() <= 4096) (void)fl::predict_csv(*m, csv, std::nullopt);
  return 0;
}
