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
  auto s = store.add("ward-7", csv, {});
  ASSERT_TRUE(s.ok()) << s.error().to_string();
  EXPECT_EQ(s->rows, 3u);
  EXPECT_EQ(s->class_counts, (std::vector<size_t>{1, 2}));
  EXPECT_EQ(store.add("ward-7", csv, {}).error().code, "dataset.exists");
  EXPECT_EQ(store.add("../escape", csv, {}).error().code, "dataset.name");
  EXPECT_EQ(store.add("bad", "a,label\n1,0\nx,1\n", {}).error().code, "csv.number");
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

}  // namespace
}  // namespace supernet::node
