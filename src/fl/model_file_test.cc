#include "fl/model_file.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "fl/controller.h"
#include "fl/test_data.h"

namespace supernet::fl {
namespace {

using json = nlohmann::json;

// A model trained on the wine data set (13 features, 3 classes), with its standardization.
struct Trained {
  Dataset raw, test_raw;
  ModelFile file;
};

Trained train_wine(ModelSpec::Kind kind) {
  Trained t;
  Dataset all = testing::load("wine");
  auto [train, test] = split(all, 0.3, 7);
  t.raw = train;
  t.test_raw = test;
  Standardizer s = Standardizer::fit(train);
  s.apply(train);
  ModelSpec spec;
  spec.kind = kind;
  spec.inputs = train.features;
  spec.classes = train.classes;
  if (kind == ModelSpec::Kind::kMlp) spec.hidden = {8};
  auto m = Model::create(spec, 3);
  EXPECT_TRUE(m.ok());
  TrainOptions o;
  o.epochs = 30;
  o.learning_rate = 0.05f;
  fl::train(*m, train, o);
  t.file.spec = spec;
  t.file.features = all.feature_names;
  t.file.standardization = s;
  t.file.params = m->params();
  t.file.model_sha256 = model_hash(m->params());
  t.file.job = std::string(64, 'a');
  t.file.round = 5;
  return t;
}

TEST(ModelFile, RoundTripsExactlyAndPredictsAsTheTrainedModel) {
  for (auto kind : {ModelSpec::Kind::kLogistic, ModelSpec::Kind::kMlp}) {
    Trained t = train_wine(kind);
    auto back = ModelFile::parse(t.file.to_json());
    ASSERT_TRUE(back.ok()) << back.error().to_string();
    EXPECT_EQ(back->params, t.file.params);  // bit for bit: the hash recomputes
    EXPECT_EQ(back->model_sha256, t.file.model_sha256);
    EXPECT_EQ(back->features, t.file.features);
    EXPECT_EQ(back->standardization.mean, t.file.standardization.mean);
    EXPECT_EQ(back->job, t.file.job);
    EXPECT_EQ(back->round, 5);
    // predict_csv on the held-out rows (raw, as a reader has them) agrees with evaluate() on
    // the same rows standardized.
    std::vector<size_t> rows(t.test_raw.rows);
    for (size_t i = 0; i < rows.size(); i++) rows[i] = i;
    auto p = predict_csv(*back, to_csv(t.test_raw, rows), std::nullopt);
    ASSERT_TRUE(p.ok()) << p.error().to_string();
    Dataset std_test = t.test_raw;
    t.file.standardization.apply(std_test);
    Metrics m = evaluate(t.file.model(), std_test);
    ASSERT_TRUE(p->accuracy.has_value());
    EXPECT_DOUBLE_EQ(*p->accuracy, m.accuracy);
    EXPECT_GT(*p->accuracy, 0.85);
    EXPECT_EQ(p->rows, t.test_raw.rows);
    for (size_t i = 0; i < p->rows; i++) EXPECT_EQ(p->classes[i], t.file.model().classify(std_test.row(i)));
  }
}

TEST(ModelFile, MatchesColumnsByNameAndReadsUnlabeledRows) {
  Trained t = train_wine(ModelSpec::Kind::kLogistic);
  std::vector<size_t> rows(t.test_raw.rows);
  for (size_t i = 0; i < rows.size(); i++) rows[i] = i;
  auto base = predict_csv(t.file, to_csv(t.test_raw, rows), std::nullopt);
  ASSERT_TRUE(base.ok());
  // The label first, the features in reverse order: by name it is the same data.
  std::string reversed = "label";
  for (size_t f = t.test_raw.features; f-- > 0;) reversed += "," + t.test_raw.feature_names[f];
  reversed += "\n";
  std::string unlabeled;  // no header, no label: the features by position
  for (size_t i = 0; i < t.test_raw.rows; i++) {
    reversed += std::to_string(t.test_raw.y[i]);
    for (size_t f = t.test_raw.features; f-- > 0;) {
      char num[32];
      std::snprintf(num, sizeof num, ",%.9g", t.test_raw.row(i)[f]);
      reversed += num;
    }
    reversed += "\n";
    for (size_t f = 0; f < t.test_raw.features; f++) {
      char num[32];
      std::snprintf(num, sizeof num, "%s%.9g", f ? "," : "", t.test_raw.row(i)[f]);
      unlabeled += num;
    }
    unlabeled += "\n";
  }
  auto by_name = predict_csv(t.file, reversed, std::string("label"));
  ASSERT_TRUE(by_name.ok()) << by_name.error().to_string();
  EXPECT_EQ(by_name->classes, base->classes);
  EXPECT_EQ(by_name->accuracy, base->accuracy);
  auto plain = predict_csv(t.file, unlabeled, std::nullopt);
  ASSERT_TRUE(plain.ok()) << plain.error().to_string();
  EXPECT_EQ(plain->classes, base->classes);
  EXPECT_FALSE(plain->accuracy.has_value());
  // A header that lacks one of the model's features is refused, naming it.
  std::string renamed = to_csv(t.test_raw, rows);
  renamed.replace(renamed.find(t.test_raw.feature_names[2]), t.test_raw.feature_names[2].size(), "something_else");
  auto missing = predict_csv(t.file, renamed, std::nullopt);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find(t.test_raw.feature_names[2]), std::string::npos) << missing.error().message;
  // Rows of one class still have an accuracy; a wrong column count is named.
  std::vector<size_t> first{0};
  auto one = predict_csv(t.file, to_csv(t.test_raw, first), std::nullopt);
  ASSERT_TRUE(one.ok()) << one.error().to_string();
  EXPECT_TRUE(one->accuracy.has_value());
  EXPECT_EQ(predict_csv(t.file, "1,2,3\n4,5,6\n", std::nullopt).error().code, "csv.columns");
  EXPECT_EQ(predict_csv(t.file, "", std::nullopt).error().code, "csv.empty");
}

TEST(ModelFile, RefusesEveryBrokenFieldNamingIt) {
  Trained t = train_wine(ModelSpec::Kind::kMlp);
  json good = json::parse(t.file.to_json());
  auto code_of = [](const json& j) {
    auto m = ModelFile::parse(j.dump());
    return m.ok() ? std::string("ok") : m.error().code;
  };
  EXPECT_EQ(code_of(good), "ok");
  auto with = [&](auto&& change) {
    json j = good;
    change(j);
    return code_of(j);
  };
  EXPECT_EQ(with([](json& j) { j["params"][3] = j["params"][3].get<double>() + 0.001; }), "model_file.hash");
  EXPECT_EQ(with([](json& j) { j["params"].erase(0); }), "model_file.params");
  EXPECT_EQ(with([](json& j) { j["params"][0] = "x"; }), "model_file.field");
  EXPECT_EQ(with([](json& j) { j["params"][0] = 1e300; }), "model_file.field");  // not a float
  EXPECT_EQ(with([](json& j) { j["format"] = "other"; }), "model_file.format");
  EXPECT_EQ(with([](json& j) { j["version"] = 2; }), "model_file.version");
  EXPECT_EQ(with([](json& j) { j["kind"] = "cnn"; }), "model_file.field");
  EXPECT_EQ(with([](json& j) { j["inputs"] = 0; }), "model_file.field");
  EXPECT_EQ(with([](json& j) { j["classes"] = 1; }), "model_file.field");
  EXPECT_EQ(with([](json& j) { j["hidden"] = json::array({8, 8, 8}); }), "model_file.field");
  EXPECT_EQ(with([](json& j) { j["layers"] = json::array({13, 9, 3}); }), "model_file.shape");
  EXPECT_EQ(with([](json& j) { j["features"].erase(0); }), "model_file.features");
  EXPECT_EQ(with([](json& j) { j["features"][0] = ""; }), "model_file.features");
  EXPECT_EQ(with([](json& j) { j["features"] = json::array(); }), "ok");  // unnamed features are allowed
  EXPECT_EQ(with([](json& j) { j["standardization"]["stddev"][0] = 0; }), "model_file.standardization");
  EXPECT_EQ(with([](json& j) { j["standardization"]["mean"].erase(0); }), "model_file.standardization");
  EXPECT_EQ(with([](json& j) { j.erase("standardization"); }), "model_file.standardization");
  EXPECT_EQ(with([](json& j) { j["model_sha256"] = "00"; }), "model_file.hash");
  EXPECT_EQ(with([](json& j) { j["job"] = "xyz"; }), "model_file.field");
  EXPECT_EQ(with([](json& j) { j["round"] = -1; }), "model_file.field");
  EXPECT_EQ(ModelFile::parse("[1,2]").error().code, "model_file.json");
  EXPECT_EQ(ModelFile::parse("{").error().code, "model_file.json");
}

}  // namespace
}  // namespace supernet::fl
