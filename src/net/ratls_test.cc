#include "net/ratls.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <future>
#include <thread>

#include "cbor/cbor.h"
#include "tee/virtual_platform.h"
#include "util/file.h"

namespace supernet::net {
namespace {

using tee::VirtualPlatform;

std::string temp_dir(const std::string& name) {
  auto d = std::filesystem::temp_directory_path() / ("supernet-ratls-" + std::to_string(::getpid()) + "-" + name);
  std::filesystem::remove_all(d);
  return d.string();
}

// A development policy trusting the given virtual platforms and measurement.
tee::Policy dev_policy(std::initializer_list<VirtualPlatform*> platforms, const Bytes& measurement) {
  tee::Policy p;
  p.production = false;
  p.allowed_platforms = {tee::Kind::kVirtual};
  for (auto* vp : platforms) p.trusted_virtual_platform_keys.push_back(from_hex(vp->platform_key_id()).value());
  p.platforms[tee::Kind::kVirtual].measurements = {measurement};
  return p;
}

struct Outcome {
  Status client = ok_status();
  Status server = ok_status();
  tee::Claims client_saw, server_saw;
};

Outcome run_pair(const Config& server_cfg, const Config& client_cfg) {
  uint16_t port = 0;
  int lfd = listen_tcp("127.0.0.1", 0, &port).value();
  Outcome out;
  auto server = std::async(std::launch::async, [&]() -> Status {
    SN_ASSIGN(int fd, accept_tcp(lfd));
    SN_ASSIGN(auto conn, handshake(fd, true, server_cfg));
    out.server_saw = conn->peer_claims();
    SN_ASSIGN(Bytes msg, conn->recv_frame());
    return conn->send_frame(msg);
  });
  out.client = [&]() -> Status {
    SN_ASSIGN(int fd, connect_tcp("127.0.0.1", port));
    SN_ASSIGN(auto conn, handshake(fd, false, client_cfg));
    out.client_saw = conn->peer_claims();
    SN_TRY(conn->send_frame(as_bytes("ping")));
    SN_ASSIGN(Bytes echo, conn->recv_frame());
    if (to_string(echo) != "ping") return make_error("test.echo", "bad echo");
    return ok_status();
  }();
  out.server = server.get();
  ::close(lfd);
  return out;
}

class RaTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    a_ = VirtualPlatform::open(temp_dir("a")).value();
    b_ = VirtualPlatform::open(temp_dir("b")).value();
    measurement_ = a_->measurement().value();
    policy_ = dev_policy({a_.get(), b_.get()}, measurement_);
  }
  Config config_for(VirtualPlatform& p, const std::string& cn) {
    Config c;
    c.identity = make_identity(p, cn).value();
    c.policy = policy_;
    c.platform = &p;
    return c;
  }
  std::unique_ptr<VirtualPlatform> a_, b_;
  Bytes measurement_;
  tee::Policy policy_;
};

TEST_F(RaTlsTest, MutualHandshakeSucceeds) {
  Outcome o = run_pair(config_for(*a_, "server"), config_for(*b_, "client"));
  ASSERT_TRUE(o.client.ok()) << o.client.error().to_string();
  ASSERT_TRUE(o.server.ok()) << o.server.error().to_string();
  EXPECT_EQ(o.client_saw.measurement, measurement_);
  EXPECT_EQ(to_hex(o.client_saw.signer), a_->platform_key_id());
  EXPECT_EQ(to_hex(o.server_saw.signer), b_->platform_key_id());
}

TEST_F(RaTlsTest, MeasurementOutsidePolicyIsRefused) {
  b_->set_measurement_for_testing(Bytes(48, 0x66));
  Outcome o = run_pair(config_for(*a_, "server"), config_for(*b_, "client"));
  ASSERT_FALSE(o.server.ok());
  EXPECT_EQ(o.server.error().code, "ratls.refused");
  EXPECT_NE(o.server.error().message.find("measurement 6666"), std::string::npos) << o.server.error().message;
  EXPECT_FALSE(o.client.ok());
}

TEST_F(RaTlsTest, UntrustedPlatformKeyIsRefused) {
  auto stranger = VirtualPlatform::open(temp_dir("stranger")).value();
  Outcome o = run_pair(config_for(*a_, "server"), config_for(*stranger, "client"));
  ASSERT_FALSE(o.server.ok());
  EXPECT_NE(o.server.error().message.find("not in trusted_virtual_platform_keys"), std::string::npos);
}

TEST_F(RaTlsTest, CertificateWhoseKeyDoesNotMatchEvidenceIsRefused) {
  // Evidence made for key A, replayed in a certificate over key B.
  Config client = config_for(*b_, "client");
  auto other_key = crypto::PrivateKey::generate_ec(crypto::Curve::kP256);
  Bytes evidence = b_->evidence(cert_binding(other_key.public_key().spki_der(), {})).value();
  client.identity.cert = make_certificate_with_evidence(client.identity.key, "client", evidence).value();
  Outcome o = run_pair(config_for(*a_, "server"), client);
  ASSERT_FALSE(o.server.ok());
  EXPECT_NE(o.server.error().message.find("report data does not bind"), std::string::npos) << o.server.error().message;
}

TEST_F(RaTlsTest, ReplayedCertificateFromAnotherNodeIsRefused) {
  // The attacker copies node B's whole certificate (evidence included) next to its own key.
  Config victim = config_for(*b_, "victim");
  Config attacker = config_for(*b_, "attacker");
  auto forged = make_certificate_with_evidence(attacker.identity.key, "victim",
                                               [&] {
                                                 auto ext = victim.identity.cert.extension(kEvidenceExtensionOid).value();
                                                 auto cmw = cbor::decode(ext).value();
                                                 return cmw.as_array()[1].as_bytes();
                                               }());
  attacker.identity.cert = forged.value();
  Outcome o = run_pair(config_for(*a_, "server"), attacker);
  ASSERT_FALSE(o.server.ok());
  EXPECT_EQ(o.server.error().code, "ratls.refused");
}

// Replays recorded evidence instead of producing fresh evidence.
class ReplayingPlatform : public tee::Platform {
 public:
  ReplayingPlatform(VirtualPlatform& real, Bytes recorded) : real_(real), recorded_(std::move(recorded)) {}
  tee::Kind kind() const override { return tee::Kind::kVirtual; }
  Result<Bytes> measurement() override { return real_.measurement(); }
  Result<Bytes> evidence(ByteView) override { return recorded_; }
  Result<crypto::SecureBytes> sealing_key() override { return real_.sealing_key(); }

 private:
  VirtualPlatform& real_;
  Bytes recorded_;
};

TEST_F(RaTlsTest, ReplayedFreshEvidenceIsRefused) {
  Config client = config_for(*b_, "client");
  // Evidence bound to some earlier session's exporter.
  Bytes old = b_->evidence(fresh_binding(Bytes(32, 1), client.identity.key.public_key().spki_der(), {})).value();
  ReplayingPlatform replay(*b_, old);
  client.platform = &replay;
  Outcome o = run_pair(config_for(*a_, "server"), client);
  ASSERT_FALSE(o.server.ok());
  EXPECT_EQ(o.server.error().code, "ratls.stale");
  ASSERT_FALSE(o.client.ok());
}

TEST_F(RaTlsTest, OldCertificateEvidenceIsRefused) {
  b_->set_time_for_testing(now_unix() - 2 * 86400);
  Config client = config_for(*b_, "client");
  b_->set_time_for_testing(0);
  Outcome o = run_pair(config_for(*a_, "server"), client);
  ASSERT_FALSE(o.server.ok());
  EXPECT_NE(o.server.error().message.find("max_evidence_age_seconds"), std::string::npos);
}

TEST_F(RaTlsTest, IdentityIsSealedAtRest) {
  std::string dir = temp_dir("identity");
  auto id = load_or_create_identity(*a_, dir, "node");
  ASSERT_TRUE(id.ok()) << id.error().to_string();
  auto again = load_or_create_identity(*a_, dir, "node");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->cert.public_key().spki_der(), id->cert.public_key().spki_der());  // same key, new certificate
  // The key file is not the DER key, and another platform cannot open it.
  Bytes sealed = read_file(dir + "/identity.key.sealed").value();
  Bytes der = to_bytes(id->key.to_der().view());
  EXPECT_EQ(std::search(sealed.begin(), sealed.end(), der.begin() + 40, der.begin() + 72), sealed.end());
  auto elsewhere = load_or_create_identity(*b_, dir, "node");
  ASSERT_FALSE(elsewhere.ok());
  EXPECT_EQ(elsewhere.error().code, "seal.auth");
}

}  // namespace
}  // namespace supernet::net
