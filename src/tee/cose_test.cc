#include "tee/cose.h"

#include <gtest/gtest.h>

#include "tee/test_vectors.h"

namespace supernet::tee {
namespace {

using testing::vec;
using testing::vpath;

Collateral key_of(const char* rel) {
  Collateral c;
  EXPECT_TRUE(c.add_file(vpath(rel)).ok());
  return c;
}

TEST(PsaVectors, Psa2TokenVerifies) {
  REQUIRE_VECTORS();
  auto c = verify_psa(vec("psa/tfm_psa_2_0_0_sign1.cbor"), key_of("psa/tfm_iak_pub.pem"));
  ASSERT_TRUE(c.ok()) << c.error().to_string();
  EXPECT_EQ(c->report_data, Bytes(64, 0));
  EXPECT_EQ(to_hex(c->chip_id), "01fa58755f658627ce5460f29b75296713248cae7ad9e2984b90280efcbcb50248");
  EXPECT_EQ(c->attributes.at("profile"), "http://arm.com/psa/2.0.0");
  EXPECT_EQ(c->attributes.at("lifecycle"), "0x3000");
  EXPECT_EQ(c->attributes.at("client_id"), "3002");
  EXPECT_FALSE(c->debug);
  EXPECT_EQ(c->measurements.size(), 2u);
  EXPECT_EQ(to_hex(c->measurements.at("0:SPE")).substr(0, 8), "96a2ec56");
}

TEST(PsaVectors, LegacyTokenVerifies) {
  REQUIRE_VECTORS();
  auto c = verify_psa(vec("psa/tfm_psa_iot_1_sign1.cbor"), key_of("psa/tfm_iak_pub.pem"));
  ASSERT_TRUE(c.ok()) << c.error().to_string();
  EXPECT_EQ(c->attributes.at("profile"), "PSA_IOT_PROFILE_1");
  EXPECT_EQ(c->report_data.size(), 64u);
}

TEST(PsaVectors, TamperedAndWrongKeyFail) {
  REQUIRE_VECTORS();
  Bytes t = vec("psa/tfm_psa_2_0_0_sign1.cbor");
  auto key = key_of("psa/tfm_iak_pub.pem");
  Bytes m = t;
  m[40] ^= 1;  // inside the payload
  EXPECT_EQ(verify_psa(m, key).error().code, "cose.signature");
  m = t;
  m[m.size() - 3] ^= 1;  // signature
  EXPECT_EQ(verify_psa(m, key).error().code, "cose.signature");
  // The CCA platform key (P-384) is not the IAK.
  EXPECT_EQ(verify_psa(t, key_of("cca/tfrmm_cpak_pub.pem")).error().code, "cose.signature");
  EXPECT_EQ(verify_psa(t, Collateral{}).error().code, "cose.no_key");
}

TEST(CcaVectors, TokenVerifiesAndBindsRak) {
  REQUIRE_VECTORS();
  auto c = verify_cca(vec("cca/tfrmm_cca_token.cbor"), key_of("cca/tfrmm_cpak_pub.pem"));
  ASSERT_TRUE(c.ok()) << c.error().to_string();
  EXPECT_EQ(c->report_data, Bytes(64, 0xab));
  EXPECT_EQ(to_string(c->host_data).substr(0, 19), "The quick brown fox");
  EXPECT_EQ(c->attributes.at("platform_profile"), "http://arm.com/CCA-SSD/1.0.0");
  EXPECT_EQ(c->attributes.at("lifecycle"), "0x3003");
  EXPECT_EQ(c->measurements.count("rem0"), 1u);
}

TEST(CcaVectors, TamperedFails) {
  REQUIRE_VECTORS();
  Bytes t = vec("cca/tfrmm_cca_token.cbor");
  auto key = key_of("cca/tfrmm_cpak_pub.pem");
  EXPECT_EQ(verify_cca(t, key_of("psa/tfm_iak_pub.pem")).error().code, "cose.signature");
  int failures = 0;
  for (size_t off : {size_t(60), size_t(300), size_t(700), t.size() - 10}) {
    Bytes m = t;
    m[off] ^= 0x01;
    auto r = verify_cca(m, key);
    if (!r.ok()) failures++;
  }
  EXPECT_EQ(failures, 4);
}

TEST(Cose, SignVerifyRoundTrip) {
  for (auto curve : {crypto::Curve::kP256, crypto::Curve::kP384}) {
    auto key = crypto::PrivateKey::generate_ec(curve);
    Bytes msg = make_cose_sign1(key, {{cbor::Value::uint(4), cbor::Value::bytes(as_bytes("kid"))}}, as_bytes("payload"));
    auto parsed = parse_cose_sign1(msg);
    ASSERT_TRUE(parsed.ok());
    EXPECT_TRUE(verify_cose_sign1(*parsed, key.public_key()).ok());
    EXPECT_EQ(to_string(parsed->payload), "payload");
    auto other = crypto::PrivateKey::generate_ec(curve);
    EXPECT_FALSE(verify_cose_sign1(*parsed, other.public_key()).ok());
  }
  EXPECT_EQ(parse_cose_sign1(from_hex("d28140").value()).error().code, "cose.structure");
  EXPECT_EQ(parse_cose_sign1(from_hex("d3840040a040").value()).error().code, "cose.tag");
}

}  // namespace
}  // namespace supernet::tee
