#include "tee/snp.h"

#include <gtest/gtest.h>

#include "tee/test_vectors.h"

namespace supernet::tee {
namespace {

using testing::at;
using testing::vec;
using testing::collateral_of;
using testing::vpath;


const UnixSeconds kPin = at("2025-10-01T08:00:00Z");

struct SnpCase {
  const char* report;
  const char* vek;
  const char* chain;
  const char* measurement_prefix;
  uint64_t bootloader, tee, snp, microcode;
  bool debug;
  const char* product;
};

const SnpCase kCases[] = {
    {"snp/google_milan_v2_report.bin", "snp/google_milan_v2_vcek.der", "snp/amd/ask_ark_milan.pem",
     "b07af9620f3b839b", 2, 0, 5, 68, true, "Milan-B0"},
    {"snp/virtee_milan_v2_report.bin", "snp/virtee_milan_v2_vcek.der", "snp/amd/ask_ark_milan.pem",
     "7a1e5c266c0108db", 3, 0, 8, 115, false, nullptr},
    {"snp/trustee_milan_v2_report.bin", "snp/trustee_milan_v2_vcek.der", "snp/amd/ask_ark_milan.pem",
     "a1f3930413247bb3", 3, 0, 8, 115, false, nullptr},
    {"snp/trustee_milan_v3_vlek_report.bin", "snp/trustee_milan_v3_vlek.der",
     "snp/amd/ask_ark_milan_vlek.pem", "8922ebbdd00ec2c5", 4, 0, 24, 217, false, "Milan"},
    {"snp/oak_milan_v3_report.bin", "snp/oak_milan_v3_vcek.der", "snp/amd/ask_ark_milan.pem",
     "195b01b74976a1fa", 4, 0, 24, 219, false, nullptr},
    {"snp/oak_genoa_v5_report.bin", "snp/oak_genoa_v5_vcek.der", "snp/amd/ask_ark_genoa.pem",
     "c57729018b0a6fb9", 10, 0, 25, 84, false, "Genoa"},
    {"snp/oak_turin_v5_report.bin", "snp/oak_turin_v5_vcek.der", "snp/amd/ask_ark_turin_vcek.pem",
     "f924dd18f168df60", 1, 0, 2, 71, false, "Turin"},
};

TEST(SnpVectors, AllSevenReportsVerify) {
  REQUIRE_VECTORS();
  for (const auto& tc : kCases) {
    SCOPED_TRACE(tc.report);
    Bytes report = vec(tc.report);
    auto claims = verify_snp(report, collateral_of({tc.vek, tc.chain}), kPin);
    ASSERT_TRUE(claims.ok()) << claims.error().to_string();
    EXPECT_EQ(to_hex(claims->measurement).substr(0, 16), tc.measurement_prefix);
    EXPECT_EQ(claims->tcb.at("bootloader"), tc.bootloader);
    EXPECT_EQ(claims->tcb.at("tee"), tc.tee);
    EXPECT_EQ(claims->tcb.at("snp"), tc.snp);
    EXPECT_EQ(claims->tcb.at("microcode"), tc.microcode);
    EXPECT_EQ(claims->debug, tc.debug);
    if (tc.product) {
      EXPECT_EQ(claims->attributes.at("product"), tc.product);
    }
  }
}

TEST(SnpVectors, ExpectedFieldValues) {
  REQUIRE_VECTORS();
  Bytes report = vec("snp/google_milan_v2_report.bin");
  auto c = verify_snp(report, collateral_of({"snp/google_milan_v2_vcek.der", "snp/amd/ask_ark_milan.pem"}), kPin);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(to_hex(c->report_data), "0102030405" + std::string(118, '0'));
  EXPECT_EQ(c->attributes.at("policy"), "0xb0000");
  EXPECT_EQ(c->attributes.at("firmware"), "1.49 build 3");
  EXPECT_EQ(to_hex(c->chip_id).substr(0, 16), "3ac3fe21e13fb099");

  // S3: CURRENT_TCB differs from REPORTED_TCB; the VCEK matches the reported one.
  Bytes trustee = vec("snp/trustee_milan_v2_report.bin");
  auto r = parse_snp_report(trustee);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(decode_snp_tcb(r->current_tcb, false).microcode, 206);
  EXPECT_EQ(decode_snp_tcb(r->reported_tcb, false).microcode, 115);

  // S4: VLEK report at VMPL 1 without chip binding.
  Bytes vlek = vec("snp/trustee_milan_v3_vlek_report.bin");
  auto v = verify_snp(vlek, collateral_of({"snp/trustee_milan_v3_vlek.der", "snp/amd/ask_ark_milan_vlek.pem"}), kPin);
  ASSERT_TRUE(v.ok()) << v.error().to_string();
  EXPECT_EQ(v->attributes.at("vmpl"), "1");
  EXPECT_EQ(v->attributes.at("signing_key"), "VLEK");

  // S7: Turin TCB layout; chip id is 8 bytes then zeros.
  Bytes turin = vec("snp/oak_turin_v5_report.bin");
  auto t = verify_snp(turin, collateral_of({"snp/oak_turin_v5_vcek.der", "snp/amd/ask_ark_turin_vcek.pem"}), kPin);
  ASSERT_TRUE(t.ok()) << t.error().to_string();
  EXPECT_EQ(t->tcb.at("fmc"), 0u);
  EXPECT_EQ(to_hex(t->chip_id).substr(0, 16), "3b42092f69c656d3");
}

TEST(SnpVectors, VlekOnlyInsideItsValidity) {
  REQUIRE_VECTORS();
  Bytes vlek = vec("snp/trustee_milan_v3_vlek_report.bin");
  auto col = collateral_of({"snp/trustee_milan_v3_vlek.der", "snp/amd/ask_ark_milan_vlek.pem"});
  auto late = verify_snp(vlek, col, at("2025-12-11T00:00:00Z"));
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error().code, "x509.expired");
  // The VLEK with the VCEK (ASK) chain: no issuer found.
  auto wrong = verify_snp(vlek, collateral_of({"snp/trustee_milan_v3_vlek.der", "snp/amd/ask_ark_milan.pem"}), kPin);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().code, "chain.no_issuer");
}

TEST(SnpVectors, KnownBadVceksRejected) {
  REQUIRE_VECTORS();
  for (const char* bad : {"snp/trustee_bad_vcek_hwid_legacy.der", "snp/trustee_bad_vcek_hwid_new.der"}) {
    SCOPED_TRACE(bad);
    auto cert = crypto::Certificate::from_der(vec(bad));
    ASSERT_TRUE(cert.ok());  // it parses...
    auto col = collateral_of({bad, "snp/amd/ask_ark_milan.pem"});
    auto chain = crypto::verify_chain(*cert, col.certs, amd_root_pins(), kPin);
    ASSERT_FALSE(chain.ok());  // ...but AMD did not sign it
    EXPECT_EQ(chain.error().code, "chain.no_issuer");
  }
}

TEST(SnpTampered, EachMutationFailsWithItsReason) {
  REQUIRE_VECTORS();
  const Bytes good = vec("snp/oak_milan_v3_report.bin");
  auto col = collateral_of({"snp/oak_milan_v3_vcek.der", "snp/amd/ask_ark_milan.pem"});
  ASSERT_TRUE(verify_snp(good, col, kPin).ok());

  auto expect_code = [&](Bytes r, const char* code) {
    auto v = verify_snp(r, col, kPin);
    ASSERT_FALSE(v.ok()) << code;
    EXPECT_EQ(v.error().code, code) << v.error().to_string();
  };
  Bytes m = good;
  m[0x90] ^= 1;  // measurement (signed body)
  expect_code(m, "snp.signature");
  m = good;
  m[0x2A0] ^= 1;  // signature R
  expect_code(m, "snp.signature");
  m = good;
  m[0x34] = 2;  // signature algorithm
  expect_code(m, "snp.sig_algo");
  m = good;
  m[0x48] = 7 << 2;  // signing key "none"
  expect_code(m, "snp.signing_key");
  expect_code(Bytes(good.begin(), good.end() - 1), "snp.size");

  // A certificate swap: Genoa's VCEK and chain instead of this report's.
  auto other = collateral_of({"snp/oak_genoa_v5_vcek.der", "snp/amd/ask_ark_genoa.pem"});
  auto swapped = verify_snp(good, other, kPin);
  ASSERT_FALSE(swapped.ok());
  EXPECT_EQ(swapped.error().code, "snp.signature");
  // No VCEK at all.
  auto none = verify_snp(good, collateral_of({"snp/amd/ask_ark_milan.pem"}), kPin);
  EXPECT_EQ(none.error().code, "snp.no_vek");
  // Before the VCEK's validity.
  EXPECT_EQ(verify_snp(good, col, at("2020-01-01T00:00:00Z")).error().code, "x509.not_yet_valid");
}

}  // namespace
}  // namespace supernet::tee
