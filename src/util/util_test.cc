#include <gtest/gtest.h>

#include "util/bytes.h"
#include "util/time.h"

namespace supernet {
namespace {

TEST(Hex, RoundTripAndErrors) {
  EXPECT_EQ(to_hex(from_hex("00ffAb").value()), "00ffab");
  EXPECT_EQ(from_hex("abc").error().code, "hex.length");
  EXPECT_EQ(from_hex("zz").error().code, "hex.char");
}

TEST(Time, Rfc3339) {
  EXPECT_EQ(parse_rfc3339("1970-01-01T00:00:00Z").value(), 0);
  EXPECT_EQ(parse_rfc3339("2025-10-01T08:00:00Z").value(), 1759305600);
  EXPECT_EQ(parse_rfc3339("2025-10-01T10:00:00.123+02:00").value(), 1759305600);
  EXPECT_EQ(format_rfc3339(1759305600), "2025-10-01T08:00:00Z");
  EXPECT_EQ(format_rfc3339(1759305600, 7), "2025-10-01T08:00:00.007Z");
  EXPECT_EQ(format_rfc3339(1759305600, 1000), "2025-10-01T08:00:00Z");  // out of range: no fraction
  EXPECT_FALSE(parse_rfc3339("2025-10-01").ok());
  EXPECT_FALSE(parse_rfc3339("2025-13-01T00:00:00Z").ok());
  EXPECT_FALSE(parse_rfc3339("2025-10-01T00:00:00Zjunk").ok());
}

TEST(ByteReader, BoundsChecked) {
  Bytes data{1, 2, 3};
  ByteReader r(data);
  EXPECT_EQ(r.le16("a").value(), 0x0201);
  auto bad = r.le32("b");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, "parse.truncated");
  EXPECT_NE(bad.error().message.find("'b'"), std::string::npos);
}

}  // namespace
}  // namespace supernet

#include "util/file.h"

namespace supernet {
namespace {

TEST(File, ReadsPseudoFilesThatReportSizeZero) {
  auto stat = read_file("/proc/self/stat", 4096);
  ASSERT_TRUE(stat.ok()) << stat.error().to_string();
  EXPECT_GT(stat->size(), 10u);  // stat() says 0 bytes; the content is there
  auto small = read_file("/proc/self/stat", 4);
  ASSERT_FALSE(small.ok());
  EXPECT_EQ(small.error().code, "io.size");
  EXPECT_EQ(read_file("/nonexistent/file").error().code, "io.open");
}

}  // namespace
}  // namespace supernet
