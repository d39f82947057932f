// Test helper: locates ../shared/vectors/attestation (or $SUPERNET_ATTESTATION_VECTORS).
// Where the folder is absent a test is skipped, except under CI=true, where it fails.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "tee/collateral.h"
#include "util/bytes.h"
#include "util/file.h"
#include "util/time.h"

namespace supernet::tee::testing {

inline std::string vectors_dir() {
  if (const char* env = std::getenv("SUPERNET_ATTESTATION_VECTORS")) return env;
  return std::string(SUPERNET_SOURCE_DIR) + "/../shared/vectors/attestation";
}

inline bool vectors_present() { return std::filesystem::is_directory(vectors_dir() + "/snp"); }

inline bool under_ci() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string(ci) == "true";
}

inline Bytes vec(const std::string& rel) {
  auto r = read_file(vectors_dir() + "/" + rel);
  EXPECT_TRUE(r.ok()) << rel << ": " << (r.ok() ? "" : r.error().to_string());
  return r.ok() ? *r : Bytes{};
}

inline std::string vpath(const std::string& rel) { return vectors_dir() + "/" + rel; }

inline UnixSeconds at(const char* rfc3339) { return parse_rfc3339(rfc3339).value(); }

// Collateral from vector files or folders (relative to the vectors folder).
inline Collateral collateral_of(std::initializer_list<const char*> paths) {
  Collateral c;
  for (const char* p : paths) {
    auto s = c.add_path(vpath(p));
    EXPECT_TRUE(s.ok()) << p << ": " << (s.ok() ? "" : s.error().to_string());
  }
  return c;
}

}  // namespace supernet::tee::testing

#define REQUIRE_VECTORS()                                                                   \
  do {                                                                                      \
    if (!::supernet::tee::testing::vectors_present()) {                                     \
      if (::supernet::tee::testing::under_ci()) {                                           \
        FAIL() << "attestation vectors missing at " << ::supernet::tee::testing::vectors_dir(); \
      }                                                                                     \
      GTEST_SKIP() << "attestation vectors not found at "                                   \
                   << ::supernet::tee::testing::vectors_dir()                               \
                   << " (set SUPERNET_ATTESTATION_VECTORS)";                                \
    }                                                                                       \
  } while (0)
