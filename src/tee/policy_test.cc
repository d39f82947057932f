#include "tee/policy.h"

#include <gtest/gtest.h>

namespace supernet::tee {
namespace {

Claims snp_claims() {
  Claims c;
  c.platform = Kind::kSevSnp;
  c.measurement = Bytes(48, 0xaa);
  c.report_data = Bytes(64, 1);
  c.tcb = {{"bootloader", 3}, {"snp", 8}, {"microcode", 115}};
  c.attributes = {{"vmpl", "0"}};
  return c;
}

const char* kProd = R"(
profile = "production"
allowed_platforms = ["sev-snp", "tdx"]
[platform.sev-snp]
measurements = ["aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"]
min_tcb = { bootloader = 3, snp = 8, microcode = 115 }
attributes = { vmpl = "0" }
[platform.tdx]
measurements = []
allowed_tcb_status = ["UpToDate", "SWHardeningNeeded"]
)";

TEST(Policy, PassesMatchingClaims) {
  auto p = parse_policy(kProd);
  ASSERT_TRUE(p.ok()) << p.error().to_string();
  auto a = appraise(*p, snp_claims(), 0);
  EXPECT_TRUE(a.pass()) << a.failures[0];
}

TEST(Policy, ListsEveryFailure) {
  auto p = parse_policy(kProd).value();
  Claims c = snp_claims();
  c.measurement[0] ^= 1;
  c.tcb["microcode"] = 100;
  c.debug = true;
  c.attributes["vmpl"] = "1";
  auto a = appraise(p, c, 0, Bytes(64, 2));
  EXPECT_EQ(a.failures.size(), 5u);
  for (const auto& f : a.failures) SCOPED_TRACE(f);
}

TEST(Policy, ProductionRejectsVirtualOutright) {
  auto p = parse_policy(kProd).value();
  Claims c = snp_claims();
  c.platform = Kind::kVirtual;
  auto a = appraise(p, c, 0);
  ASSERT_FALSE(a.pass());
  EXPECT_NE(a.failures[0].find("never accepted by a production policy"), std::string::npos);
  EXPECT_EQ(parse_policy("allowed_platforms = [\"virtual\"]").error().code, "policy.production_virtual");
  EXPECT_EQ(parse_policy("trusted_virtual_platform_keys = [\"00\"]").error().code, "policy.production_virtual");
  EXPECT_EQ(parse_policy("debug_allowed = true").error().code, "policy.production_debug");
}

TEST(Policy, DevelopmentAcceptsTrustedVirtualKeyOnly) {
  std::string text = "profile = \"development\"\nallowed_platforms = [\"virtual\"]\n"
                     "trusted_virtual_platform_keys = [\"" + std::string(64, 'b') + "\"]\n"
                     "max_evidence_age_seconds = 60\n[platform.virtual]\nmeasurements = [\"" + std::string(96, 'c') + "\"]\n";
  auto p = parse_policy(text);
  ASSERT_TRUE(p.ok()) << p.error().to_string();
  Claims c;
  c.platform = Kind::kVirtual;
  c.measurement = Bytes(48, 0xcc);
  c.signer = Bytes(32, 0xbb);
  c.issued_at = 1000;
  EXPECT_TRUE(appraise(*p, c, 1030).pass());
  EXPECT_FALSE(appraise(*p, c, 1100).pass());  // too old
  c.signer[0] ^= 1;
  EXPECT_FALSE(appraise(*p, c, 1030).pass());  // untrusted key
  // Round trip through the writer.
  auto again = parse_policy(policy_to_toml(*p));
  ASSERT_TRUE(again.ok()) << again.error().to_string();
  EXPECT_EQ(again->trusted_virtual_platform_keys, p->trusted_virtual_platform_keys);
}

TEST(Policy, TcbStatusForDcap) {
  auto p = parse_policy(kProd).value();
  Claims c;
  c.platform = Kind::kTdx;
  c.tcb_status = "OutOfDate";
  auto a = appraise(p, c, 0);
  bool status_reason = false;
  for (const auto& f : a.failures) status_reason = status_reason || f.find("TCB status 'OutOfDate'") != std::string::npos;
  EXPECT_TRUE(status_reason);
}

TEST(Policy, BadFilesGiveClearErrors) {
  EXPECT_EQ(parse_policy("profile = ").error().code, "policy.syntax");
  EXPECT_EQ(parse_policy("profile = \"test\"").error().code, "policy.profile");
  EXPECT_EQ(parse_policy("allowed_platforms = [\"quantum\"]").error().code, "platform.unknown");
  EXPECT_EQ(parse_policy("colour = 1").error().code, "policy.key");
  EXPECT_EQ(parse_policy("[platform.tdx]\nmeasurements = [\"zz\"]").error().code, "policy.hex");
  EXPECT_EQ(parse_policy("[platform.tdx]\nmin_tcb = { a = -1 }").error().code, "policy.type");
}

}  // namespace
}  // namespace supernet::tee
