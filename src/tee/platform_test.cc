#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "tee/platform.h"
#include "tee/seal.h"
#include "tee/virtual_platform.h"
#include "util/file.h"

namespace supernet::tee {
namespace {

std::string temp_dir(const char* name) {
  auto d = std::filesystem::temp_directory_path() / ("supernet-test-" + std::to_string(::getpid()) + "-" + name);
  std::filesystem::remove_all(d);
  return d.string();
}

TEST(VirtualPlatform, EvidenceVerifiesAndBindsReportData) {
  auto p = VirtualPlatform::open(temp_dir("ev"));
  ASSERT_TRUE(p.ok()) << p.error().to_string();
  Bytes rd(64, 0x5a);
  auto ev = (*p)->evidence(rd);
  ASSERT_TRUE(ev.ok());
  auto c = verify_virtual(*ev);
  ASSERT_TRUE(c.ok()) << c.error().to_string();
  EXPECT_EQ(c->report_data, rd);
  EXPECT_EQ(c->measurement, measure_executable().value());
  EXPECT_EQ(to_hex(c->signer), (*p)->platform_key_id());
  EXPECT_FALSE(c->debug);
  EXPECT_EQ(c->tcb.at("svn"), kVirtualSvn);
  EXPECT_FALSE((*p)->evidence(Bytes(10)).ok());
}

TEST(VirtualPlatform, TamperedEvidenceFails) {
  auto p = VirtualPlatform::open(temp_dir("tamper"));
  ASSERT_TRUE(p.ok());
  Bytes ev = (*p)->evidence(Bytes(64, 1)).value();
  size_t failures = 0;
  for (size_t i = 0; i < ev.size(); i += 7) {
    Bytes m = ev;
    m[i] ^= 0x10;
    if (!verify_virtual(m).ok()) failures++;
  }
  EXPECT_EQ(failures, (ev.size() + 6) / 7);
}

TEST(VirtualPlatform, KeyFileIsPrivateAndStable) {
  std::string dir = temp_dir("key");
  auto a = VirtualPlatform::open(dir);
  ASSERT_TRUE(a.ok());
  struct stat st {};
  ASSERT_EQ(::stat((dir + "/" + kVirtualKeyFile).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto b = VirtualPlatform::open(dir);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ((*a)->platform_key_id(), (*b)->platform_key_id());
  ::chmod((dir + "/" + kVirtualKeyFile).c_str(), 0644);
  auto c = VirtualPlatform::open(dir);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, "virtual.key_mode");
}

TEST(Seal, RoundTripAndEveryFailure) {
  std::string dir = temp_dir("seal");
  auto p = VirtualPlatform::open(dir);
  ASSERT_TRUE(p.ok());
  Bytes blob = seal(**p, "identity-key", as_bytes("top secret")).value();
  auto back = unseal(**p, "identity-key", blob);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(to_string(back->view()), "top secret");

  // A flipped bit anywhere fails.
  for (size_t i = 0; i < blob.size(); i++) {
    Bytes m = blob;
    m[i] ^= 0x01;
    EXPECT_FALSE(unseal(**p, "identity-key", m).ok()) << "byte " << i;
  }
  EXPECT_EQ(unseal(**p, "other-label", blob).error().code, "seal.auth");
  EXPECT_EQ(unseal(**p, "identity-key", Bytes(10)).error().code, "seal.format");
  // Another measurement (another binary) derives another key.
  auto other = VirtualPlatform::open(dir);
  ASSERT_TRUE(other.ok());
  (*other)->set_measurement_for_testing(Bytes(48, 0xee));
  EXPECT_EQ(unseal(**other, "identity-key", blob).error().code, "seal.auth");
  // Another machine (platform secret) too.
  auto elsewhere = VirtualPlatform::open(temp_dir("seal-elsewhere"));
  ASSERT_TRUE(elsewhere.ok());
  EXPECT_EQ(unseal(**elsewhere, "identity-key", blob).error().code, "seal.auth");
  // Another platform kind is named as such.
  Bytes key(32, 7);
  Bytes tdx_blob = seal_with_key(key, Kind::kTdx, "l", as_bytes("x")).value();
  EXPECT_EQ(unseal_with_key(key, Kind::kSevSnp, "l", tdx_blob).error().code, "seal.platform");
}

TEST(HardwarePlatforms, AbsentDevicesGiveClearErrors) {
  std::string root = temp_dir("hw");
  std::filesystem::create_directories(root);
  auto snp = open_snp_platform(root);
  ASSERT_FALSE(snp.ok());
  EXPECT_EQ(snp.error().code, "tee.snp_absent");
  EXPECT_NE(snp.error().message.find("/dev/sev-guest"), std::string::npos);
  EXPECT_EQ(open_tdx_platform(root).error().code, "tee.tdx_absent");
  auto sgx = open_sgx_platform(root);
  ASSERT_FALSE(sgx.ok());
  EXPECT_NE(sgx.error().message.find("Gramine"), std::string::npos);
}

TEST(HardwarePlatforms, GramineInterfaceIsUsedAsDocumented) {
  // A stand-in /dev/attestation tree: the backend writes user_report_data and reads quote.
  std::string root = temp_dir("gramine");
  std::filesystem::create_directories(root + "/dev/attestation/keys");
  auto write = [](const std::string& path, ByteView data) {
    FILE* f = fopen(path.c_str(), "wb");
    fwrite(data.data(), 1, data.size(), f);
    fclose(f);
  };
  write(root + "/dev/attestation/user_report_data", {});
  write(root + "/dev/attestation/quote", as_bytes("QUOTE"));
  write(root + "/dev/attestation/keys/_sgx_mrenclave", Bytes(16, 3));
  auto p = open_sgx_platform(root);
  ASSERT_TRUE(p.ok());
  auto ev = (*p)->evidence(Bytes(64, 9));
  ASSERT_TRUE(ev.ok());
  EXPECT_EQ(to_string(*ev), "QUOTE");
  EXPECT_EQ(read_file(root + "/dev/attestation/user_report_data").value(), Bytes(64, 9));
  auto k = (*p)->sealing_key();
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(k->size(), 32u);
  EXPECT_FALSE((*p)->measurement().ok());  // "QUOTE" is not a quote
}

TEST(Platform, AutoFallsBackToVirtualWithWarning) {
  PlatformOptions o;
  o.virtual_dir = temp_dir("auto");
  std::string warning;
  auto p = open_platform(o, &warning);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ((*p)->kind(), Kind::kVirtual);
  EXPECT_NE(warning.find("NOT a hardware TEE"), std::string::npos);
  o.kind = "nonsense";
  EXPECT_EQ(open_platform(o, nullptr).error().code, "platform.unknown");
}

}  // namespace
}  // namespace supernet::tee
