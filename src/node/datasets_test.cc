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
  auto s = store.add({"member", "ward-7"}, csv, {});
  ASSERT_TRUE(s.ok()) << s.error().to_string();
  EXPECT_EQ(s->rows, 3u);
  EXPECT_EQ(s->class_counts, (std::vector<size_t>{1, 2}));
  EXPECT_EQ(store.add({"member", "ward-7"}, csv, {}).error().code, "dataset.exists");
  EXPECT_EQ(store.add({"member", "../escape"}, csv, {}).error().code, "dataset.name");
  EXPECT_EQ(store.add({"member", "bad"}, "a,label\n1,0\nx,1\n", {}).error().code, "csv.number");
  // Nothing of the plaintext is on disk.
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir + "/datasets")) {
    if (!e.is_regular_file()) continue;
    std::string text = to_string(read_file(e.path().string()).value());
    EXPECT_EQ(text.find("61.25"), std::string::npos) << e.path();
  }
  auto listed = store.list().value();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].feature_names, (std::vector<std::string>{"age", "dose"}));
  auto d = store.load({"member", "ward-7"});
  ASSERT_TRUE(d.ok()) << d.error().to_string();
  EXPECT_FLOAT_EQ(d->row(0)[0], 61.25f);
  EXPECT_EQ(d->y, (std::vector<int32_t>{1, 0, 1}));
  // Another machine (platform key) cannot unseal it; a flipped bit is refused.
  auto other = tee::VirtualPlatform::open(dir + "/other").value();
  EXPECT_FALSE(DatasetStore(*other, dir + "/datasets").load({"member", "ward-7"}).ok());
  Bytes sealed = read_file(dir + "/datasets/member/ward-7.sealed").value();
  sealed[sealed.size() / 2] ^= 1;
  ASSERT_TRUE(write_file_atomic(dir + "/datasets/member/ward-7.sealed", sealed).ok());
  EXPECT_FALSE(store.load({"member", "ward-7"}).ok());
  EXPECT_EQ(store.load({"member", "missing"}).error().code, "dataset.unknown");
  std::filesystem::remove_all(dir);
}


TEST(Datasets, NamesPerOwnerQuotaDeleteAndReplace) {
  std::string dir = temp_dir("owner");
  auto platform = tee::VirtualPlatform::open(dir + "/platform").value();
  DatasetStore store(*platform, dir + "/datasets");
  std::string v1 = "a,label\n1,0\n2,1\n";
  std::string v2 = "a,label\n1,0\n2,1\n3,1\n";
  auto s1 = store.add({"alice", "ward"}, v1, {});
  ASSERT_TRUE(s1.ok()) << s1.error().to_string();
  EXPECT_EQ(s1->owner, "alice");
  EXPECT_EQ(s1->data_sha256.size(), 64u);
  // Names are per owner: bob's "ward" is another data set, and takes nothing from alice.
  auto bob = store.add({"bob", "ward"}, v2, {});
  ASSERT_TRUE(bob.ok()) << bob.error().to_string();
  EXPECT_EQ(store.schema({"alice", "ward"}).value().rows, 2u);
  EXPECT_EQ(store.schema({"bob", "ward"}).value().rows, 3u);
  EXPECT_EQ(store.add({"alice", "ward"}, v2, {}).error().code, "dataset.exists");
  EXPECT_EQ(store.add({"../x", "ward"}, v2, {}).error().code, "dataset.name");
  ASSERT_TRUE(store.remove({"bob", "ward"}).ok());
  EXPECT_TRUE(store.load({"alice", "ward"}).ok());
  EXPECT_EQ(store.remove({"alice", "nothing"}).error().code, "dataset.unknown");
  // Bob's file put in alice's place: it does not unseal under alice's label.
  ASSERT_TRUE(store.add({"bob", "ward"}, v2, {}).ok());
  Bytes alice_data = read_file(dir + "/datasets/alice/ward.sealed").value();
  ASSERT_TRUE(write_file_atomic(dir + "/datasets/alice/ward.sealed", read_file(dir + "/datasets/bob/ward.sealed").value()).ok());
  EXPECT_FALSE(store.load({"alice", "ward"}).ok());
  ASSERT_TRUE(write_file_atomic(dir + "/datasets/alice/ward.sealed", alice_data).ok());
  ASSERT_TRUE(store.remove({"alice", "ward"}).ok());
  EXPECT_EQ(store.load({"alice", "ward"}).error().code, "dataset.unknown");
  // Replacing: the new version has another data hash.
  auto s2 = store.add({"alice", "ward"}, v2, {});
  ASSERT_TRUE(s2.ok()) << s2.error().to_string();
  EXPECT_NE(s2->data_sha256, s1->data_sha256);
  EXPECT_EQ(store.load({"alice", "ward"}).value().rows, 3u);
  // The quota is per owner: alice holds 1, may add 15 more, not a 17th; bob still may.
  for (size_t i = 1; i < kDatasetsPerOwnerMax; ++i) ASSERT_TRUE(store.add({"alice", "a" + std::to_string(i)}, v1, {}).ok()) << i;
  EXPECT_EQ(store.add({"alice", "one-more"}, v1, {}).error().code, "dataset.quota");
  EXPECT_TRUE(store.add({"bob", "bobs"}, v1, {}).ok());
  EXPECT_EQ(store.list().value().size(), kDatasetsPerOwnerMax + 2);
  std::filesystem::remove_all(dir);
}

TEST(Datasets, EditedSwappedOrStaleFilesAreRefusedAndListedAsUntrusted) {
  std::string dir = temp_dir("tamper");
  auto platform = tee::VirtualPlatform::open(dir + "/platform").value();
  std::string d = dir + "/datasets";
  DatasetId x{"alice", "x"}, y{"bob", "y"};
  DatasetStore store(*platform, d);
  ASSERT_TRUE(store.add(x, "a,label\n1,0\n2,1\n", {}).ok());
  ASSERT_TRUE(store.add(y, "a,label\n5,0\n6,1\n7,1\n", {}).ok());
  Bytes x_schema = read_file(d + "/alice/x.schema.sealed").value();
  Bytes x_data = read_file(d + "/alice/x.sealed").value();

  // An edited schema no longer unseals: refused for training, listed with the problem.
  Bytes edited = x_schema;
  edited[edited.size() / 2] ^= 1;
  ASSERT_TRUE(write_file_atomic(d + "/alice/x.schema.sealed", edited).ok());
  EXPECT_EQ(store.load(x).error().code, "dataset.tampered");
  EXPECT_EQ(store.schema(x).error().code, "dataset.tampered");
  auto listed = store.list().value();
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].name, "x");
  EXPECT_FALSE(listed[0].problem.empty());
  EXPECT_TRUE(listed[1].problem.empty());

  // y's schema put under x's name: it unseals under neither label.
  ASSERT_TRUE(write_file_atomic(d + "/alice/x.schema.sealed", read_file(d + "/bob/y.schema.sealed").value()).ok());
  EXPECT_EQ(store.load(x).error().code, "dataset.tampered");
  // y's data under x's (valid) schema: the data hash does not match.
  ASSERT_TRUE(write_file_atomic(d + "/alice/x.schema.sealed", x_schema).ok());
  ASSERT_TRUE(write_file_atomic(d + "/alice/x.sealed", read_file(d + "/bob/y.sealed").value()).ok());
  EXPECT_FALSE(store.load(x).ok());
  ASSERT_TRUE(write_file_atomic(d + "/alice/x.sealed", x_data).ok());
  EXPECT_TRUE(store.load(x).ok());

  // Replace x, then the host puts the old data file back beside the new schema.
  ASSERT_TRUE(store.remove(x).ok());
  ASSERT_TRUE(store.add(x, "a,label\n1,0\n2,1\n3,0\n", {}).ok());
  ASSERT_TRUE(write_file_atomic(d + "/alice/x.sealed", x_data).ok());
  EXPECT_EQ(store.load(x).error().code, "dataset.tampered");
  // Its owner can still clear it away.
  ASSERT_TRUE(store.remove(x).ok());
  EXPECT_EQ(store.load(x).error().code, "dataset.unknown");

  // A schema outside any owner's folder (an earlier SuperNet's layout, or the host's) is listed
  // as untrusted and never used.
  ASSERT_TRUE(write_file_atomic(d + "/z.schema.json", to_bytes(std::string("{\"name\":\"z\"}"))).ok());
  listed = store.list().value();
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[1].name, "z");
  EXPECT_NE(listed[1].problem.find("not trusted"), std::string::npos);
  EXPECT_EQ(store.load({"alice", "z"}).error().code, "dataset.unknown");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace supernet::node
