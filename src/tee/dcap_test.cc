#include "tee/dcap.h"

#include <gtest/gtest.h>
#include <openssl/pem.h>

#include "tee/test_vectors.h"

namespace supernet::tee {
namespace {

using testing::at;
using testing::vec;
using testing::collateral_of;
using testing::vpath;


Claims verified(const char* quote, const Collateral& col, const char* when) {
  Bytes q = vec(quote);
  auto c = verify_dcap(q, col, at(when));
  EXPECT_TRUE(c.ok()) << quote << ": " << c.error().to_string();
  return c.ok() ? *c : Claims{};
}

const std::vector<std::string> kNoAdvisories;

TEST(DcapVectors, G1PhalaSgxConfigurationAndSwHardeningNeeded) {
  REQUIRE_VECTORS();
  auto c = verified("sgx/phala_sgx_v3_quote.bin", collateral_of({"sgx/phala_sgx_v3_collateral.json"}),
                    "2025-07-19T10:01:17Z");
  EXPECT_EQ(c.platform, Kind::kSgx);
  EXPECT_EQ(c.tcb_status, "ConfigurationAndSWHardeningNeeded");
  EXPECT_EQ(c.advisories, (std::vector<std::string>{"INTEL-SA-00289", "INTEL-SA-00615"}));
  EXPECT_EQ(to_hex(c.measurement), "33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb");
  EXPECT_EQ(to_hex(c.signer), "815f42f11cf64430c30bab7816ba596a1da0130c3b028b673133a66cf9a3e0e6");
  EXPECT_EQ(to_string(ByteView(c.report_data).subspan(0, 13)), "Hello, world!");
  EXPECT_EQ(c.attributes.at("fmspc"), "00a067110000");
  EXPECT_EQ(c.attributes.at("qe_tcb_status"), "UpToDate");
  EXPECT_EQ(c.tcb.at("pce_svn"), 13u);
  EXPECT_FALSE(c.debug);
  EXPECT_TRUE(c.notes.empty()) << c.notes[0];  // both CRLs present and checked
}

TEST(DcapVectors, G2AutomataSwHardeningNeeded) {
  REQUIRE_VECTORS();
  auto col = collateral_of({"sgx/automata_sgx_tcbinfo_00606a000000.json", "sgx/automata_sgx_qe_identity.json",
                            "sgx/automata_pck_platform_crl.der", "sgx/intel"});
  auto c = verified("sgx/automata_sgx_v3_quote.bin", col, "2025-08-15T05:45:00Z");
  EXPECT_EQ(c.tcb_status, "SWHardeningNeeded");
  EXPECT_EQ(c.advisories, std::vector<std::string>{"INTEL-SA-00615"});
  EXPECT_EQ(c.attributes.at("sgx_type"), "1");
  EXPECT_EQ(to_hex(c.measurement), "a4f45c39dac622cb1dd32ddb35a52ec92db41d0fa88a1c911c49e59c534f61cd");

  // G3: the Occlum enclave on the same FMSPC is OutOfDate and a debug enclave.
  auto occlum = verified("sgx/trustee_occlum_sgx_v3_quote.dat", col, "2025-08-15T05:45:00Z");
  EXPECT_EQ(occlum.tcb_status, "OutOfDate");
  EXPECT_TRUE(occlum.debug);
  EXPECT_EQ(occlum.advisories.size(), 10u);
  EXPECT_EQ(to_string(ByteView(occlum.report_data).subspan(0, 4)), "test");
}

TEST(DcapVectors, G4FortanixOutOfOrderChainAndOutOfDateQe) {
  REQUIRE_VECTORS();
  auto col = collateral_of({"sgx/fortanix_qe_identity_2020-05.json", "tdx/google_collateral/tcb_signing_chain_2018.pem"});
  auto c = verified("sgx/fortanix_sgx_v3_quote.bin", col, "2020-05-20T00:00:00Z");
  EXPECT_EQ(c.attributes.at("qe_tcb_status"), "OutOfDate");
  EXPECT_EQ(c.tcb_status, "OutOfDate");
  EXPECT_EQ(to_hex(c.measurement), "04d285fd1b0f11a7e29392d7481f2d94dcdb298ba7619b04e7fc320d81f2970e");

  Bytes bad = vec("sgx/fortanix_sgx_v3_quote_corrupted.bin");
  auto r = verify_dcap(bad, col, at("2020-05-20T00:00:00Z"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "dcap.quote_signature");
}

TEST(DcapVectors, OpenEnclaveWithoutCollateral) {
  REQUIRE_VECTORS();
  auto c = verified("sgx/oe_sgx_v3_quote.bin", Collateral{}, "2024-01-01T00:00:00Z");
  EXPECT_EQ(c.tcb_status, "not evaluated");
  EXPECT_EQ(to_hex(ByteView(c.report_data).subspan(0, 32)),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(c.tcb.at("isv_svn"), 1u);
  EXPECT_FALSE(c.notes.empty());
}

TEST(DcapVectors, T1GoogleTdxV4NoTcbLevelMatches) {
  REQUIRE_VECTORS();
  auto col = collateral_of({"tdx/google_collateral"});
  Bytes q = vec("tdx/google_tdx_v4_quote_spr_e4.dat");
  auto r = verify_dcap(q, col, at("2023-07-01T01:00:00Z"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "dcap.tcb_not_supported");
  // Signatures and chain alone verify.
  auto c = verified("tdx/google_tdx_v4_quote_spr_e4.dat", Collateral{}, "2023-07-01T01:00:00Z");
  EXPECT_EQ(c.platform, Kind::kTdx);
  EXPECT_EQ(to_hex(c.measurement).substr(0, 16), "6363b8043668a3ad");
  EXPECT_EQ(c.attributes.at("trailing_bytes"), "39");
  EXPECT_EQ(to_hex(c.measurements.at("mr_seam")).substr(0, 16), "2fd279c16164a93d");
  // Expired PCK and collateral in 2053.
  auto late = verify_dcap(q, col, at("2053-07-01T00:00:00Z"));
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error().code, "x509.expired");
}

TEST(DcapVectors, T2GoogleTdxV5UpToDate) {
  REQUIRE_VECTORS();
  auto col = collateral_of({"tdx/google_collateral/tcbinfo_90c06f000000.json", "sgx/intel/intel_sgx_tcb_signing_chain_2025.pem"});
  auto c = verified("tdx/google_tdx_v5_quote.dat", col, "2026-02-03T01:00:00Z");
  EXPECT_EQ(c.tcb_status, "UpToDate");
  EXPECT_EQ(c.attributes.at("tdx_module_tcb_status"), "UpToDate");
  EXPECT_EQ(c.attributes.at("quote_version"), "5");
  EXPECT_EQ(to_hex(c.measurement).substr(0, 16), "7348651a34b2d2d3");
}

TEST(DcapVectors, T3PhalaTdxV4UpToDate) {
  REQUIRE_VECTORS();
  auto c = verified("tdx/phala_tdx_v4_quote.bin", collateral_of({"tdx/phala_tdx_v4_collateral.json"}),
                    "2025-07-19T10:00:34Z");
  EXPECT_EQ(c.tcb_status, "UpToDate");
  EXPECT_TRUE(c.advisories.empty());
  EXPECT_EQ(c.attributes.at("qe_tcb_status"), "UpToDate");
  EXPECT_EQ(c.attributes.at("trailing_bytes"), "70");
}

TEST(DcapVectors, T4PhalaTdxV5NoMatch) {
  REQUIRE_VECTORS();
  Bytes q = vec("tdx/phala_tdx_v5_quote_nomatch.bin");
  auto r = verify_dcap(q, collateral_of({"tdx/phala_tdx_v5_nomatch_collateral.json"}), at("2026-03-01T00:00:00Z"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "dcap.tcb_not_supported");
}

TEST(DcapVectors, T5TrusteeTdxOutOfDate) {
  REQUIRE_VECTORS();
  auto col = collateral_of({"tdx/trustee_tdx_tcbinfo_00a06d080000.json", "tdx/trustee_td_qe_identity.json", "sgx/intel"});
  auto c = verified("tdx/trustee_tdx_v4_quote.dat", col, "2025-11-01T00:00:00Z");
  EXPECT_EQ(c.tcb_status, "OutOfDate");
  EXPECT_EQ(c.attributes.at("tdx_module_tcb_status"), "UpToDate");
  EXPECT_EQ(c.attributes.at("platform_tcb_date"), "2018-01-04T00:00:00Z");
  EXPECT_EQ(to_hex(c.host_data).substr(0, 16), "889abf4718f037e3");
}

TEST(DcapTampered, EachMutationFailsWithItsReason) {
  REQUIRE_VECTORS();
  const Bytes good = vec("sgx/automata_sgx_v3_quote.bin");
  auto col = collateral_of({"sgx/automata_sgx_tcbinfo_00606a000000.json", "sgx/automata_sgx_qe_identity.json",
                            "sgx/automata_pck_platform_crl.der", "sgx/intel"});
  const UnixSeconds when = at("2025-08-15T05:45:00Z");
  ASSERT_TRUE(verify_dcap(good, col, when).ok());
  auto expect_code = [&](const Bytes& q, const Collateral& cl, UnixSeconds t, const char* code) {
    auto r = verify_dcap(q, cl, t);
    ASSERT_FALSE(r.ok()) << code;
    EXPECT_EQ(r.error().code, code) << r.error().to_string();
  };
  Bytes m = good;
  m[48 + 64] ^= 1;  // MRENCLAVE
  expect_code(m, col, when, "dcap.quote_signature");
  m = good;
  m[436 + 10] ^= 1;  // quote signature
  expect_code(m, col, when, "dcap.quote_signature");
  m = good;
  m[436 + 128 + 100] ^= 1;  // QE report
  expect_code(m, col, when, "dcap.qe_report_signature");
  m = good;
  m[0] = 9;
  expect_code(m, col, when, "dcap.version");
  expect_code(Bytes(good.begin(), good.begin() + 600), col, when, "dcap.truncated");
  // Collateral out of its window.
  expect_code(good, col, at("2025-09-20T00:00:00Z"), "crl.expired");
  // The root CRL in place of the PCK CRL: nothing covers the PCK, and the note says so.
  auto no_pck_crl = collateral_of({"sgx/automata_sgx_tcbinfo_00606a000000.json", "sgx/automata_sgx_qe_identity.json", "sgx/intel"});
  auto c = verify_dcap(good, no_pck_crl, when);
  ASSERT_TRUE(c.ok());
  ASSERT_FALSE(c->notes.empty());
  EXPECT_NE(c->notes[0].find("revocation"), std::string::npos);
  // A TCB info whose signed text was altered.
  Collateral forged = col;
  std::string body = forged.tcb_infos[0].body();
  auto pos = body.find("SWHardeningNeeded");
  ASSERT_NE(pos, std::string::npos);
  body.replace(pos, 17, "UpToDate\",\"x\":\"yy");
  forged.tcb_infos[0] = SignedJson::make(body, forged.tcb_infos[0].signature(), {}, "forged").value();
  expect_code(good, forged, when, "dcap.collateral_signature");
}

// Rebuilds a v3 quote with another PCK certification data (PEM chain).
Bytes with_cert_data(const Bytes& quote, ByteView pem) {
  auto q = parse_dcap_quote(quote).value();
  Bytes out(quote.begin(), quote.begin() + q.signed_bytes.size());
  Bytes sig = concat({q.signature, q.attestation_key, q.qe_report, q.qe_report_signature});
  uint8_t u16[2] = {static_cast<uint8_t>(q.qe_auth_data.size()), static_cast<uint8_t>(q.qe_auth_data.size() >> 8)};
  sig.insert(sig.end(), u16, u16 + 2);
  sig.insert(sig.end(), q.qe_auth_data.begin(), q.qe_auth_data.end());
  sig.push_back(5);
  sig.push_back(0);
  for (int i = 0; i < 4; i++) sig.push_back(static_cast<uint8_t>(pem.size() >> (8 * i)));
  sig.insert(sig.end(), pem.begin(), pem.end());
  for (int i = 0; i < 4; i++) out.push_back(static_cast<uint8_t>(sig.size() >> (8 * i)));
  out.insert(out.end(), sig.begin(), sig.end());
  return out;
}

TEST(DcapTampered, SwappedPckChainFails) {
  REQUIRE_VECTORS();
  Bytes automata = vec("sgx/automata_sgx_v3_quote.bin");
  Bytes phala = vec("sgx/phala_sgx_v3_quote.bin");
  auto phala_chain = parse_dcap_quote(phala).value().cert_data;
  auto own_chain = parse_dcap_quote(automata).value().cert_data;
  const UnixSeconds when = at("2025-08-15T05:45:00Z");
  // Rebuilding with its own chain changes nothing...
  ASSERT_TRUE(verify_dcap(with_cert_data(automata, own_chain), Collateral{}, when).ok());
  // ...another platform's PCK chain does not sign this QE report.
  auto r = verify_dcap(with_cert_data(automata, phala_chain), Collateral{}, when);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "dcap.qe_report_signature");
  // A chain without the intermediate cannot reach the pinned root.
  auto certs = crypto::Certificate::all_from_pem(to_string(own_chain)).value();
  std::string leaf_and_root;
  for (const auto& c : certs) {
    if (c.common_name().find("PCK Platform CA") != std::string::npos) continue;
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(bio, c.get());
    char* data = nullptr;
    long len = BIO_get_mem_data(bio, &data);
    leaf_and_root.append(data, static_cast<size_t>(len));
    BIO_free(bio);
  }
  auto r2 = verify_dcap(with_cert_data(automata, as_bytes(leaf_and_root)), Collateral{}, when);
  ASSERT_FALSE(r2.ok());
  EXPECT_EQ(r2.error().code, "chain.no_issuer");
}

TEST(DcapParse, PckExtensionOfRealQuote) {
  REQUIRE_VECTORS();
  Bytes q = vec("sgx/phala_sgx_v3_quote.bin");
  auto parsed = parse_dcap_quote(q);
  ASSERT_TRUE(parsed.ok());
  auto certs = crypto::Certificate::all_from_pem(to_string(parsed->cert_data));
  ASSERT_TRUE(certs.ok());
  auto ext = (*certs)[0].extension("1.2.840.113741.1.13.1");
  ASSERT_TRUE(ext.has_value());
  auto pck = parse_pck_extension(*ext);
  ASSERT_TRUE(pck.ok()) << pck.error().to_string();
  EXPECT_EQ(to_hex(pck->fmspc), "00a067110000");
  EXPECT_EQ(pck->pce_svn, 13u);
  EXPECT_EQ(pck->comp_svn[0], 11u);
  EXPECT_EQ(pck->comp_svn[4], 255u);
}

TEST(DcapMerge, QvlRules) {
  EXPECT_EQ(merge_tcb_status("UpToDate", "OutOfDate"), "OutOfDate");
  EXPECT_EQ(merge_tcb_status("ConfigurationNeeded", "OutOfDate"), "OutOfDateConfigurationNeeded");
  EXPECT_EQ(merge_tcb_status("SWHardeningNeeded", "UpToDate"), "SWHardeningNeeded");
  EXPECT_EQ(merge_tcb_status("UpToDate", "Revoked"), "Revoked");
}

}  // namespace
}  // namespace supernet::tee
