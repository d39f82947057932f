// Test helper: the real data sets `make deps` fetches (scripts/fetch-datasets.sh). A missing
// file fails the test with the command that fetches it.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "fl/dataset.h"
#include "util/file.h"

namespace supernet::fl::testing {

inline Dataset load(const std::string& name) {
  std::string path = std::string(SUPERNET_SOURCE_DIR) + "/data/" + name + ".csv";
  auto text = read_file(path, 64 * 1024 * 1024);
  if (!text.ok()) {
    ADD_FAILURE() << path << " is missing: run scripts/fetch-datasets.sh (make deps does)";
    return {};
  }
  auto d = parse_csv(to_string(*text));
  EXPECT_TRUE(d.ok()) << d.error().to_string();
  return d.ok() ? *d : Dataset{};
}

}  // namespace supernet::fl::testing
