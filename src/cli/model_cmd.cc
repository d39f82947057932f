// supernet model predict / show: use a model file (fl/model_file.h) on this machine, as a reader
// who holds one does (`supernet fl model ID --out F` writes it).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <map>

#include "cli/commands.h"
#include "fl/model_file.h"
#include "util/file.h"

namespace supernet::cli {

namespace {

struct PredictArgs {
  std::string model, data, label_column, out;
};

const char* kind_name(const fl::ModelFile& m) { return m.spec.kind == fl::ModelSpec::Kind::kMlp ? "mlp" : "logistic"; }

std::string layers(const fl::ModelFile& m) {
  std::string s;
  for (size_t w : m.spec.widths()) s += (s.empty() ? "" : "-") + std::to_string(w);
  return s;
}

int run_predict(const PredictArgs& a) {
  auto m = fl::load_model_file(a.model);
  if (!m.ok()) return fail(m.error());
  auto text = read_file(a.data);
  if (!text.ok()) return fail(text.error());
  auto p = fl::predict_csv(*m, to_string(*text), a.label_column.empty() ? std::nullopt : std::optional<std::string>(a.label_column));
  if (!p.ok()) return fail(make_error(p.error().code, a.data + ": " + p.error().message));
  std::map<int32_t, size_t> counts;
  for (int32_t c : p->classes) counts[c]++;
  if (!a.out.empty()) {
    std::string csv = "class,probability\n";
    char line[64];
    for (size_t i = 0; i < p->rows; i++) {
      std::snprintf(line, sizeof line, "%d,%.6f\n", p->classes[i], static_cast<double>(p->probability[i]));
      csv += line;
    }
    if (auto w = write_file_atomic(a.out, as_bytes(csv), 0600); !w.ok()) return fail(w.error());
  }
  std::string dist;
  for (const auto& [c, n] : counts) dist += (dist.empty() ? "" : ", ") + std::string("class ") + std::to_string(c) + ": " + std::to_string(n);
  std::printf("model %s (%s %s, %s) on %s: %zu rows predicted (%s)%s%s\n", a.model.c_str(), kind_name(*m), layers(*m).c_str(),
              to_hex(m->model_sha256).substr(0, 16).c_str(), a.data.c_str(), p->rows, dist.c_str(), a.out.empty() ? "" : "; written to ",
              a.out.c_str());
  if (p->accuracy) std::printf("accuracy %.4f on %zu rows\n", *p->accuracy, p->rows);
  return kExitOk;
}

int run_show(const std::string& path) {
  auto m = fl::load_model_file(path);
  if (!m.ok()) return fail(m.error());
  std::printf("%s: %s, layers %s, %d classes, %zu parameters\n", path.c_str(), kind_name(*m), layers(*m).c_str(), m->spec.classes, m->params.size());
  std::printf("model_sha256 %s (the parameters hash to it)\n", to_hex(m->model_sha256).c_str());
  if (!m->job.empty()) std::printf("from federated job %s, round %d\n", m->job.c_str(), m->round);
  if (m->features.empty()) {
    std::printf("features: not named (columns are taken by position)\n");
  } else {
    std::string names;
    for (const auto& f : m->features) names += (names.empty() ? "" : ", ") + f;
    std::printf("features: %s\n", names.c_str());
  }
  return kExitOk;
}

}  // namespace

void add_model_commands(CLI::App& app, int* exit_code) {
  CLI::App* model = app.add_subcommand("model", "Use a model file (written by supernet fl model) on this machine");
  model->require_subcommand(1);
  auto p = std::make_shared<PredictArgs>();
  CLI::App* predict = model->add_subcommand(
      "predict",
      "Predict a class for every row of DATA.csv. Columns are matched to the model's features by name when the file has a header and "
      "the model names its features, by position otherwise; one column more than the model's inputs is the label (or --label-column), "
      "and then the last line printed is 'accuracy A on N rows'. Exit 0 on success, 2 for a bad model file or data (the check is named)");
  predict->add_option("model", p->model, "model file (supernet fl model ID --out F)")->required();
  predict->add_option("data", p->data, "CSV file of rows to predict (at most 64 MiB)")->required();
  predict->add_option("--label-column", p->label_column, "the label column: a header name or a 0-based index (default: the last, if present)");
  predict->add_option("--out", p->out, "write one predicted class per row, with its probability (CSV: class,probability)");
  predict->callback([p, exit_code] { *exit_code = run_predict(*p); });
  auto path = std::make_shared<std::string>();
  CLI::App* show = model->add_subcommand("show", "Check a model file (shape, standardization, the parameters' hash) and describe it");
  show->add_option("model", *path, "model file")->required();
  show->callback([path, exit_code] { *exit_code = run_show(*path); });
}

}  // namespace supernet::cli
