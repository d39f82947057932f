#include "tee/tpm.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tee/evidence.h"
#include "tee/policy.h"
#include "tee/test_vectors.h"
#include "util/protowire.h"

namespace supernet::tee {
namespace {

using testing::vec;
using testing::vpath;

Collateral gce_roots() {
  Collateral c;
  EXPECT_TRUE(c.add_file(vpath("tpm/gce_tpm_ek_intermediate_2.crt")).ok());
  EXPECT_TRUE(c.add_file(vpath("tpm/gce_tpm_ek_root_1.cer")).ok());
  return c;
}

const UnixSeconds kNow = testing::at("2026-11-24T00:00:00Z");

TEST(TpmVectors, NonceAttestationVerifies) {
  REQUIRE_VECTORS();
  Bytes pb = vec("tpm/gce_cos85_nonce9009.pb");
  ASSERT_EQ(detect_kind(pb).value(), Kind::kTpm);
  auto c = verify_tpm(pb, gce_roots(), kNow);
  ASSERT_TRUE(c.ok()) << c.error().to_string();
  EXPECT_EQ(to_hex(c->report_data), "9009");
  EXPECT_EQ(c->attributes.at("firmware_version"), "0x2016051100162800");
  EXPECT_EQ(c->attributes.at("quotes"), "3");
  EXPECT_EQ(c->tcb.at("reset_count"), 10u);
  EXPECT_EQ(to_hex(c->measurements.at("sha256/pcr0")), "0f35c214608d93c7a6e68ae7359b4a8be5a0e99eea9107ece427c4dea4e439cf");
  EXPECT_EQ(to_hex(c->measurements.at("sha256/pcr7")), "3365d7fa2b024c852913c06e04ffbfa6ea5289f743bbf1a76f7ffdf21ed84793");
}

TEST(TpmVectors, NoNonceAttestationVerifies) {
  REQUIRE_VECTORS();
  auto c = verify_tpm(vec("tpm/gce_cos85_no_nonce.pb"), gce_roots(), kNow);
  ASSERT_TRUE(c.ok()) << c.error().to_string();
  EXPECT_TRUE(c->report_data.empty());
}

TEST(TpmVectors, ConvertedFilesMatchTheAttestation) {
  REQUIRE_VECTORS();
  Bytes pb = vec("tpm/gce_cos85_nonce9009.pb");
  auto a = parse_tpm_attestation(pb).value();
  EXPECT_EQ(to_bytes(a.quotes[1].attest), vec("tpm/gce_cos85_nonce9009_quote_sha256.tpms_attest"));
  EXPECT_EQ(to_bytes(a.quotes[1].signature), vec("tpm/gce_cos85_nonce9009_quote_sha256.tpmt_signature"));
  EXPECT_EQ(to_bytes(a.ak_public), vec("tpm/gce_cos85_nonce9009_ak_pub.tpmt_public"));
  EXPECT_EQ(to_bytes(a.ak_cert), vec("tpm/gce_cos85_nonce9009_ak_cert.der"));
  auto pcrs = nlohmann::json::parse(to_string(vec("tpm/gce_cos85_nonce9009_pcrs.json")));
  for (auto& [index, hex] : pcrs["pcrs"]["sha256"].items()) {
    EXPECT_EQ(to_hex(a.quotes[1].pcrs.at(static_cast<uint32_t>(std::stoi(index)))), hex.get<std::string>());
  }
  auto t = parse_tpms_attest(a.quotes[1].attest).value();
  EXPECT_EQ(t.selections[0].pcrs.size(), 24u);
}

// Re-encodes the top-level protobuf with field `number` replaced by `value`.
Bytes replace_field(const Bytes& pb, uint32_t number, ByteView value) {
  auto put_varint = [](Bytes& out, uint64_t v) {
    while (v >= 0x80) {
      out.push_back(static_cast<uint8_t>(v | 0x80));
      v >>= 7;
    }
    out.push_back(static_cast<uint8_t>(v));
  };
  Bytes out;
  protowire::Reader r(pb);
  while (!r.done()) {
    auto f = r.next().value();
    put_varint(out, f.number << 3 | f.wire_type);
    ByteView v = f.number == number ? value : f.bytes;
    if (f.wire_type == 0) {
      put_varint(out, f.varint);
    } else {
      put_varint(out, v.size());
      out.insert(out.end(), v.begin(), v.end());
    }
  }
  return out;
}

TEST(TpmTampered, EachMutationFailsWithItsReason) {
  REQUIRE_VECTORS();
  const Bytes pb = vec("tpm/gce_cos85_nonce9009.pb");
  auto col = gce_roots();
  ASSERT_TRUE(verify_tpm(replace_field(pb, 99, {}), col, kNow).ok());  // re-encoding alone changes nothing

  // A byte of the first quote's TPMS_ATTEST (its clock) changed.
  auto a = parse_tpm_attestation(pb).value();
  Bytes m = pb;
  m[static_cast<size_t>(a.quotes[0].attest.data() - pb.data()) + 45] ^= 1;
  EXPECT_EQ(verify_tpm(m, col, kNow).error().code, "tpm.signature");
  // A PCR value changed: the quoted digest no longer matches.
  m = pb;
  m[static_cast<size_t>(a.quotes[1].pcrs.at(7).data() - pb.data())] ^= 1;
  EXPECT_EQ(verify_tpm(m, col, kNow).error().code, "tpm.pcr_digest");
  // Another AK certificate swapped in (the intermediate's).
  Bytes other = vec("tpm/gce_tpm_ek_intermediate_2.crt");
  EXPECT_EQ(verify_tpm(replace_field(pb, 6, other), col, kNow).error().code, "tpm.ak_mismatch");
  // No AK certificate at all.
  EXPECT_EQ(verify_tpm(replace_field(pb, 6, {}), col, kNow).error().code, "tpm.no_ak_cert");
  // Without the GCE root the chain does not close.
  Collateral only_intermediate;
  ASSERT_TRUE(only_intermediate.add_file(vpath("tpm/gce_tpm_ek_intermediate_2.crt")).ok());
  EXPECT_EQ(verify_tpm(pb, only_intermediate, kNow).error().code, "chain.no_issuer");
  // A different expected nonce fails appraisal's binding check; the right one passes it.
  auto claims = verify_tpm(pb, col, kNow).value();
  Policy policy;
  policy.allowed_platforms = {Kind::kTpm};
  policy.platforms[Kind::kTpm].measurements = {claims.measurement};
  EXPECT_TRUE(appraise(policy, claims, kNow, from_hex("9009").value()).pass());
  auto wrong = appraise(policy, claims, kNow, from_hex("9008").value());
  ASSERT_EQ(wrong.failures.size(), 1u);
  EXPECT_NE(wrong.failures[0].find("report data does not bind"), std::string::npos);
}

TEST(TpmParse, RejectsGarbage) {
  EXPECT_FALSE(parse_tpm_attestation(as_bytes("\x0a\x05hello")).ok());
  EXPECT_FALSE(parse_tpm_attestation(Bytes{0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}).ok());
  EXPECT_EQ(parse_tpms_attest(Bytes(10, 0)).error().code, "tpm.magic");
}

}  // namespace
}  // namespace supernet::tee
