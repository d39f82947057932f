#include "node/datasets.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "tee/virtual_platform.h"
#include "util/file.h"

namespace supernet::node {
namespace {

std::string temp_dir(const std::string& name) {
  auto p = std::filesystem::temp_directory_path() / ("supernet-datasets-" + std::to_string(::getpid()) + "-" + name);
  std::filesystem::remove_all(p);
  return p.string();
}

TEST(Datasets, SealedAtRestListedBySchemaLoadedOnlyHere) {
  std::string dir = temp_dir("store");
  auto platform = tee::VirtualPlatform::open(dir + "/platform").value();
  DatasetStore store(*platform, dir + "/datasets");
  std::string csv = "age,dose,label\n61.25,3.5,1\n47.5,1.25,0\n52.75,2.0,1\n";
  auto s = store.add("ward-7", csv, {}, "member");
  ASSERT_TRUE(s.ok()) << s.error().to_string();
  EXPECT_EQ(s->rows, 3u);
  EXPECT_EQ(s->class_counts, (std::vector<size_t>{1, 2}));
  EXPECT_EQ(store.add("ward-7", csv, {}, "member").error().code, "dataset.exists");
  EXPECT_EQ(store.add("../escape", csv, {}, "member").error().code, "dataset.name");
  EXPECT_EQ(store.add("bad", "a,label\n1,0\nx,1\n", {}, "member").error().code, "csv.number");
  // Nothing of the plaintext is on disk.
  for (const auto& e : std::filesystem::directory_iterator(dir + "/datasets")) {
    std::string text = to_string(read_file(e.path().string()).value());
    EXPECT_EQ(text.find("61.25"), std::string::npos) << e.path();
  }
  auto listed = store.list().value();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].feature_names, (std::vector<std::string>{"age", "dose"}));
  auto d = store.load("ward-7");
  ASSERT_TRUE(d.ok()) << d.error().to_string();
  EXPECT_FLOAT_EQ(d->row(0)[0], 61.25f);
  EXPECT_EQ(d->y, (std::vector<int32_t>{1, 0, 1}));
  // Another machine (platform key) cannot unseal it; a flipped bit is refused.
  auto other = tee::VirtualPlatform::open(dir + "/other").value();
  EXPECT_FALSE(DatasetStore(*other, dir + "/datasets").load("ward-7").ok());
  Bytes sealed = read_file(dir + "/datasets/ward-7.sealed").value();
  sealed[sealed.size() / 2] ^= 1;
  ASSERT_TRUE(write_file_atomic(dir + "/datasets/ward-7.sealed", sealed).ok());
  EXPECT_FALSE(store.load("ward-7").ok());
  EXPECT_EQ(store.load("missing").error().code, "dataset.unknown");
  std::filesystem::remove_all(dir);
}


TEST(Datasets, OwnerQuotaDeleteAndReplace) {
  std::string dir = temp_dir("owner");
  auto platform = tee::VirtualPlatform::open(dir + "/platform").value();
  DatasetStore store(*platform, dir + "/datasets");
  std::string v1 = "a,label\n1,0\n2,1\n";
  std::string v2 = "a,label\n1,0\n2,1\n3,1\n";
  auto s1 = store.add("ward", v1, {}, "alice");
  ASSERT_TRUE(s1.ok()) << s1.error().to_string();
  EXPECT_EQ(s1->owner, "alice");
  EXPECT_EQ(s1->data_sha256.size(), 64u);
  EXPECT_EQ(store.schema("ward").value().owner, "alice");
  // Only the owner deletes; a failed delete leaves everything in place.
  EXPECT_EQ(store.remove("ward", "bob").error().code, "dataset.owner");
  EXPECT_TRUE(store.load("ward").ok());
  EXPECT_EQ(store.remove("nothing", "alice").error().code, "dataset.unknown");
  ASSERT_TRUE(store.remove("ward", "alice").ok());
  EXPECT_EQ(store.load("ward").error().code, "dataset.unknown");
  EXPECT_TRUE(store.list().value().empty());
  // Replacing: the new version has another data hash.
  auto s2 = store.add("ward", v2, {}, "alice");
  ASSERT_TRUE(s2.ok()) << s2.error().to_string();
  EXPECT_NE(s2->data_sha256, s1->data_sha256);
  EXPECT_EQ(store.load("ward").value().rows, 3u);
  // The quota is per owner: alice holds 1, may add 15 more, not a 17th; bob still may.
  for (size_t i = 1; i < kDatasetsPerOwnerMax; ++i) ASSERT_TRUE(store.add("a" + std::to_string(i), v1, {}, "alice").ok()) << i;
  EXPECT_EQ(store.add("one-more", v1, {}, "alice").error().code, "dataset.quota");
  EXPECT_TRUE(store.add("bobs", v1, {}, "bob").ok());
  EXPECT_EQ(store.list().value().size(), kDatasetsPerOwnerMax + 1);
  std::filesystem::remove_all(dir);
}

TEST(Datasets, EditedSwappedOrStaleFilesAreRefusedAndListedAsUntrusted) {
  std::string dir = temp_dir("tamper");
  auto platform = tee::VirtualPlatform::open(dir + "/platform").value();
  std::string d = dir + "/datasets";
  DatasetStore store(*platform, d);
  ASSERT_TRUE(store.add("x", "a,label\n1,0\n2,1\n", {}, "alice").ok());
  ASSERT_TRUE(store.add("y", "a,label\n5,0\n6,1\n7,1\n", {}, "bob").ok());
  Bytes x_schema = read_file(d + "/x.schema.sealed").value();
  Bytes x_data = read_file(d + "/x.sealed").value();

  // An edited schema no longer unseals: refused for training, listed with the problem.
  Bytes edited = x_schema;
  edited[edited.size() / 2] ^= 1;
  ASSERT_TRUE(write_file_atomic(d + "/x.schema.sealed", edited).ok());
  EXPECT_EQ(store.load("x").error().code, "dataset.tampered");
  EXPECT_EQ(store.schema("x").error().code, "dataset.tampered");
  auto listed = store.list().value();
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].name, "x");
  EXPECT_FALSE(listed[0].problem.empty());
  EXPECT_TRUE(listed[1].problem.empty());
  // ... nor can anyone delete it through the store (nobody is its owner any more).
  EXPECT_EQ(store.remove("x", "alice").error().code, "dataset.tampered");

  // y's schema put under x's name: it unseals under neither label.
  ASSERT_TRUE(write_file_atomic(d + "/x.schema.sealed", read_file(d + "/y.schema.sealed").value()).ok());
  EXPECT_EQ(store.load("x").error().code, "dataset.tampered");
  // y's data under x's (valid) schema: the data hash does not match.
  ASSERT_TRUE(write_file_atomic(d + "/x.schema.sealed", x_schema).ok());
  ASSERT_TRUE(write_file_atomic(d + "/x.sealed", read_file(d + "/y.sealed").value()).ok());
  EXPECT_FALSE(store.load("x").ok());
  ASSERT_TRUE(write_file_atomic(d + "/x.sealed", x_data).ok());
  EXPECT_TRUE(store.load("x").ok());

  // Replace x, then the host puts the old data file back beside the new schema.
  ASSERT_TRUE(store.remove("x", "alice").ok());
  ASSERT_TRUE(store.add("x", "a,label\n1,0\n2,1\n3,0\n", {}, "alice").ok());
  ASSERT_TRUE(write_file_atomic(d + "/x.sealed", x_data).ok());
  EXPECT_EQ(store.load("x").error().code, "dataset.tampered");

  // A plaintext schema (an earlier SuperNet's, or the host's) is listed as untrusted, never used.
  ASSERT_TRUE(write_file_atomic(d + "/z.schema.json", to_bytes(std::string("{\"name\":\"z\"}"))).ok());
  listed = store.list().value();
  ASSERT_EQ(listed.size(), 3u);
  EXPECT_EQ(listed[2].name, "z");
  EXPECT_NE(listed[2].problem.find("not trusted"), std::string::npos);
  EXPECT_EQ(store.load("z").error().code, "dataset.unknown");
  // ... and its name is taken until the operator removes the file.
  EXPECT_EQ(store.add("z", "a,label\n1,0\n2,1\n", {}, "alice").error().code, "dataset.exists");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace supernet::node
