// Test helper: the real data sets `make deps` fetches (scripts/fetch-datasets.sh). A missing
// file fails the test with the command that fetches it.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "fl/dataset.h"

namespace supernet::fl::testing {

inline Dataset load(const std::string& name) {
  auto d = load_csv(std::string(SUPERNET_SOURCE_DIR) + "/data/" + name + ".csv");
  if (!d.ok()) ADD_FAILURE() << d.error().to_string() << " (scripts/fetch-datasets.sh fetches the data sets; make deps runs it)";
  return d.ok() ? *d : Dataset{};
}

}  // namespace supernet::fl::testing
