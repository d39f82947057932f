#include "tee/policy.h"

#include <gtest/gtest.h>

#include <functional>

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

// Issue 9: a production policy does not load with a weak TCB status it gives no reason for,
// nor with sev-snp and no minimum TCB.
TEST(Policy, ProductionNeedsAReasonForEveryWeakTcbStatus) {
  for (const char* status : {"OutOfDate", "Revoked", "not evaluated", "OutOfDateConfigurationNeeded"}) {
    std::string text = std::string("profile = \"production\"\nallowed_platforms = [\"tdx\"]\n[platform.tdx]\nmeasurements = []\n") +
                       "allowed_tcb_status = [\"UpToDate\", \"" + status + "\"]\n";
    auto p = parse_policy(text);
    ASSERT_FALSE(p.ok()) << status;
    EXPECT_EQ(p.error().code, "policy.production_tcb");
    EXPECT_NE(p.error().message.find(status), std::string::npos);
    auto with_reason = parse_policy(text + "tcb_status_reasons = { \"" + status + "\" = \"microcode update rolls out on 2027-01-15\" }\n");
    EXPECT_TRUE(with_reason.ok()) << with_reason.error().to_string();
  }
  EXPECT_EQ(parse_policy("allowed_platforms = [\"sev-snp\"]\n[platform.sev-snp]\nmeasurements = []\n").error().code,
            "policy.production_tcb");
  // A development policy may allow them (it never accepts hardware claims as production does).
  EXPECT_TRUE(parse_policy("profile = \"development\"\n[platform.tdx]\nallowed_tcb_status = [\"Revoked\"]\n").ok());
}

TEST(Policy, WrittenPoliciesReadBackTheSame) {
  auto p = parse_policy(std::string(kProd) + "tcb_status_reasons = { OutOfDate = \"why\" }\n").value();
  p.platforms[Kind::kTdx].allowed_tcb_status.push_back("OutOfDate");
  auto back = parse_policy(policy_to_toml(p));
  ASSERT_TRUE(back.ok()) << back.error().to_string() << "\n" << policy_to_toml(p);
  EXPECT_EQ(policy_to_toml(*back), policy_to_toml(p));
  EXPECT_EQ(back->platforms[Kind::kSevSnp].attributes.at("vmpl"), "0");
}

// Issue 9: the genesis' policy is a floor; a node's or client's own policy may only be stricter.
TEST(Policy, FloorRefusesEveryWeakerPolicy) {
  Policy floor = parse_policy(kProd).value();
  EXPECT_TRUE(policy_meets_floor(floor, floor).ok());
  Policy stricter = floor;
  stricter.allowed_platforms = {Kind::kSevSnp};
  stricter.platforms[Kind::kSevSnp].min_tcb["snp"] = 9;
  stricter.max_evidence_age_seconds = 3600;
  EXPECT_TRUE(policy_meets_floor(stricter, floor).ok());
  auto weaker_by = [&](const std::function<void(Policy&)>& change, const std::string& expect) {
    Policy w = floor;
    change(w);
    auto s = policy_meets_floor(w, floor);
    ASSERT_FALSE(s.ok()) << expect;
    EXPECT_EQ(s.error().code, "policy.below_floor");
    EXPECT_NE(s.error().message.find(expect), std::string::npos) << s.error().message;
  };
  weaker_by([](Policy& p) { p.production = false; }, "profile is production");
  weaker_by([](Policy& p) { p.allowed_platforms.insert(Kind::kSgx); }, "allows platform sgx");
  weaker_by([](Policy& p) { p.max_evidence_age_seconds = 10 * 86400; }, "max_evidence_age_seconds");
  weaker_by([](Policy& p) { p.platforms[Kind::kSevSnp].measurements.push_back(Bytes(48, 0xbb)); }, "allows measurement bbbb");
  weaker_by([](Policy& p) { p.platforms[Kind::kSevSnp].min_tcb["microcode"] = 100; }, "min_tcb.microcode is below");
  weaker_by([](Policy& p) { p.platforms[Kind::kTdx].allowed_tcb_status.push_back("OutOfDate"); }, "TCB status 'OutOfDate'");
  weaker_by([](Policy& p) { p.platforms[Kind::kSevSnp].attributes.clear(); }, "attribute vmpl");
  // Governance's measurements count besides the floor's.
  Policy with_new = floor;
  with_new.platforms[Kind::kSevSnp].measurements.push_back(Bytes(48, 0xbb));
  EXPECT_TRUE(policy_meets_floor(with_new, floor, {Bytes(48, 0xbb)}).ok());
}

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
