#include "cbor/cbor.h"

#include <gtest/gtest.h>

namespace supernet::cbor {
namespace {

TEST(Cbor, RfcExamplesRoundTrip) {
  // RFC 8949 Appendix A.
  const char* hexes[] = {"00", "17", "1818", "1903e8", "1bffffffffffffffff", "20", "3863",
                         "3bffffffffffffffff", "40", "4401020304", "60", "6449455446",
                         "80", "83010203", "a201020304", "a26161016162820203", "c11a514b67b0",
                         "f4", "f5", "f6"};
  for (const char* h : hexes) {
    Bytes in = from_hex(h).value();
    auto v = decode(in);
    ASSERT_TRUE(v.ok()) << h << ": " << v.error().to_string();
    EXPECT_EQ(to_hex(encode(*v)), h);
  }
}

TEST(Cbor, DeterministicMapOrder) {
  Value a = Value::map({{Value::text("b"), Value::uint(1)}, {Value::text("a"), Value::uint(2)},
                        {Value::uint(10), Value::uint(3)}});
  // Keys sort by encoded bytes: 0x0a < 0x61.. < 0x62..
  EXPECT_EQ(to_hex(encode(a)), "a30a0361610261620" "1");
}

TEST(Cbor, LookupAndIntegers) {
  auto v = decode(from_hex("a2200a6161f5").value());
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->find(-1)->as_int(), 10);
  EXPECT_TRUE(v->find("a")->as_bool());
  EXPECT_EQ(v->find(7), nullptr);
  EXPECT_FALSE(decode(from_hex("3bffffffffffffffff").value())->as_int().has_value());
}

TEST(Cbor, RejectsBadInput) {
  struct Case {
    const char* hex;
    const char* code;
  } cases[] = {
      {"", "cbor.truncated"},          {"18", "cbor.truncated"},
      {"5f", "cbor.indefinite"},       {"9f", "cbor.indefinite"},
      {"45010203", "cbor.truncated"},  {"9bffffffffffffffff", "cbor.truncated"},
      {"0000", "cbor.trailing"},       {"1c", "cbor.reserved"},
      {"ba00ffffff", "cbor.truncated"}, {"f0", "cbor.simple"},
  };
  for (const auto& c : cases) {
    auto v = decode(from_hex(c.hex).value());
    ASSERT_FALSE(v.ok()) << c.hex;
    EXPECT_EQ(v.error().code, c.code) << c.hex;
  }
  Bytes deep(100, 0x81);
  deep.push_back(0x00);
  EXPECT_EQ(decode(deep).error().code, "cbor.depth");
}

}  // namespace
}  // namespace supernet::cbor
