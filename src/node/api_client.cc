#include "node/api_client.h"

#include <httplib.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <nlohmann/json.hpp>

#include "crypto/secure.h"
#include "net/ratls.h"
#include "tee/evidence.h"
#include "util/file.h"
#include "util/time.h"

namespace supernet::node {

Result<ApiCredentials> load_credentials(const std::string& prefix) {
  SN_ASSIGN(Bytes cert_pem, read_file(prefix + ".crt.pem", 64 * 1024));
  SN_ASSIGN(Bytes key_pem, read_file(prefix + ".key.pem", 64 * 1024));
  crypto::SecureBytes key_text(key_pem);
  std::fill(key_pem.begin(), key_pem.end(), 0);
  SN_ASSIGN(auto certs, crypto::Certificate::all_from_pem(to_string(cert_pem)));
  if (certs.size() != 1) return make_error("api.credentials", prefix + ".crt.pem must hold one certificate");
  SN_ASSIGN(crypto::PrivateKey key, crypto::PrivateKey::from_pem(std::string_view(reinterpret_cast<const char*>(key_text.data()), key_text.size())));
  if (key.public_key().spki_der() != certs[0].public_key().spki_der()) {
    return make_error("api.credentials", prefix + ".key.pem is not the key of " + prefix + ".crt.pem");
  }
  return ApiCredentials{certs[0], std::move(key)};
}

Result<ApiCredentials> create_credentials(const std::string& prefix, const std::string& name) {
  ApiCredentials c;
  c.key = crypto::PrivateKey::generate_ec(crypto::Curve::kP256);
  UnixSeconds now = now_unix();
  SN_ASSIGN(c.cert, crypto::make_self_signed(c.key, name, now - 60, now + 10LL * 365 * 86400, {}));
  crypto::SecureBytes pem = c.key.to_pem();
  SN_TRY(write_file_atomic(prefix + ".key.pem", pem.view(), 0600));
  SN_TRY(write_file_atomic(prefix + ".crt.pem", as_bytes(c.cert.pem()), 0644));
  return c;
}

// What the server-certificate check learned; read after a failed request to explain it.
struct ApiClient::Appraisal {
  std::optional<tee::Policy> policy;
  std::shared_ptr<const tee::Collateral> collateral = std::make_shared<const tee::Collateral>();
  std::optional<NodeExpectation> expect;
  std::string target;
  std::string failure;
  // Only the attestation request may open a connection: another request that would is stopped
  // in the handshake, before it sends anything, and goes out after the fresh exchange.
  bool allow_handshake = true;
  bool held_for_attestation = false;
  std::optional<net::PeerCertificate> peer;
  Bytes peer_spki;
  Bytes exporter;  // of the last handshake
  uint64_t attested = 0;
};

namespace {

Result<HttpReply> reply_of(const httplib::Result& r, const std::string& target, const std::string& appraisal_failure) {
  if (!r) {
    if (!appraisal_failure.empty()) {
      return make_error("api.attestation", "the node at " + target + " failed appraisal: " + appraisal_failure);
    }
    return make_error("api.connect", "cannot reach the node API at " + target + ": " + httplib::to_string(r.error()));
  }
  return HttpReply{r->status, r->body};
}

int appraisal_index() {
  static int idx = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return idx;
}

int verify_node(X509_STORE_CTX* store, void* arg) {
  auto* a = static_cast<ApiClient::Appraisal*>(arg);
  X509* leaf = X509_STORE_CTX_get0_cert(store);
  if (leaf == nullptr) return 0;
  X509_up_ref(leaf);
  auto cert = crypto::Certificate::adopt(leaf);
  if (!cert.ok()) return 0;
  if (a->expect && !a->allow_handshake) {
    a->held_for_attestation = true;
    a->failure.clear();
    X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
    return 0;
  }
  auto peer = net::verify_peer_certificate(*cert, *a->policy, *a->collateral, now_unix(),
                                           a->expect ? ByteView(a->expect->chain) : ByteView());
  if (peer.ok() && a->expect && !crypto::ct_equal(peer->binding.identity_key, a->expect->identity_key)) {
    peer = make_error("api.identity", "the node at " + a->target + " is not node " + std::to_string(a->expect->id) +
                                          ": its certificate binds another identity key (a forwarder, or another node's address)");
  }
  if (!peer.ok()) {
    a->failure = peer.error().to_string();
    X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
    return 0;
  }
  a->peer = std::move(peer).value();
  a->peer_spki = cert->public_key().spki_der();
  a->failure.clear();
  return 1;
}

void on_handshake(const SSL* ssl, int where, int) {
  if ((where & SSL_CB_HANDSHAKE_DONE) == 0) return;
  auto* a = static_cast<ApiClient::Appraisal*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), appraisal_index()));
  if (a == nullptr) return;
  auto e = net::api_exporter(ssl);
  a->exporter = e.ok() ? std::move(e).value() : Bytes{};
}

}  // namespace

ApiClient::ApiClient(const std::string& host, uint16_t port, std::optional<ApiCredentials> credentials,
                     std::optional<tee::Policy> policy, int timeout_s, std::optional<NodeExpectation> expect,
                     std::shared_ptr<const tee::Collateral> collateral)
    : appraisal_(std::make_unique<Appraisal>()), target_(host + ":" + std::to_string(port)) {
  if (collateral) appraisal_->collateral = std::move(collateral);
  net::ignore_sigpipe();  // a node killed mid-request must be an error here, not the end of the client
  appraisal_->policy = std::move(policy);
  appraisal_->expect = appraisal_->policy ? std::move(expect) : std::nullopt;
  appraisal_->target = target_;
  if (credentials) {
    http_ = std::make_unique<httplib::SSLClient>(host, port, credentials->cert.get(), credentials->key.get());
  } else {
    http_ = std::make_unique<httplib::SSLClient>(host, port);
  }
  http_->enable_server_certificate_verification(false);  // replaced by the RA-TLS appraisal below
  http_->set_connection_timeout(timeout_s, 0);
  http_->set_read_timeout(timeout_s, 0);
  http_->set_write_timeout(timeout_s, 0);
  http_->set_keep_alive(true);
  http_->set_tcp_nodelay(true);
  SSL_CTX* ctx = http_->ssl_context();
  SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
  SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
  if (appraisal_->policy) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    SSL_CTX_set_cert_verify_callback(ctx, verify_node, appraisal_.get());
    SSL_CTX_set_ex_data(ctx, appraisal_index(), appraisal_.get());
    SSL_CTX_set_info_callback(ctx, on_handshake);
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  }
}

uint64_t ApiClient::attested_connections() const { return appraisal_->attested; }

Status ApiClient::attest() {
  Appraisal& a = *appraisal_;
  a.allow_handshake = true;
  auto r = http_->Get("/v1/attestation");
  a.allow_handshake = false;
  if (!r) {
    if (!a.failure.empty()) return make_error("api.attestation", "the node at " + target_ + " failed appraisal: " + a.failure);
    return make_error("api.connect", "cannot reach the node API at " + target_ + ": " + httplib::to_string(r.error()));
  }
  auto refuse = [&](const std::string& why) -> Error {
    http_->stop();  // never reuse a connection that did not prove itself
    return make_error("api.attestation", "the node at " + target_ + " gave no fresh evidence for this connection: " + why);
  };
  if (r->status != 200) return refuse("GET /v1/attestation answered " + std::to_string(r->status) + " " + r->body);
  auto body = nlohmann::json::parse(r->body, nullptr, false);
  if (!body.is_object() || !body["evidence"].is_string()) return refuse("the answer is not an attestation");
  auto evidence = from_hex(body["evidence"].get<std::string>());
  if (!evidence.ok() || !a.peer || a.exporter.size() != 32) return refuse("malformed evidence, or no session to bind it to");
  auto fresh = tee::verify_evidence(*evidence, *a.collateral, now_unix());
  if (!fresh.ok()) return refuse("it does not verify: " + fresh.error().message);
  Bytes expected = net::api_fresh_binding(a.exporter, a.peer_spki, a.peer->binding);
  tee::Appraisal verdict = tee::appraise(*a.policy, *fresh, now_unix(), ByteView(expected));
  std::string why;
  for (const auto& f : verdict.failures) why += (why.empty() ? "" : "; ") + f;
  if (why.empty() && (fresh->platform != a.peer->claims.platform || fresh->measurement != a.peer->claims.measurement ||
                      fresh->signer != a.peer->claims.signer)) {
    why = "it comes from another platform or measurement than the certificate's";
  }
  if (!why.empty()) return refuse(why);
  a.attested++;
  return ok_status();
}

template <typename F>
Result<HttpReply> ApiClient::request(F&& send) {
  Appraisal& a = *appraisal_;
  if (!a.expect) return reply_of(send(), target_, a.failure);
  a.allow_handshake = false;
  a.held_for_attestation = false;
  auto r = send();
  if (!r && a.held_for_attestation) {
    a.held_for_attestation = false;
    SN_TRY(attest());
    a.allow_handshake = false;
    r = send();
  }
  a.allow_handshake = true;
  return reply_of(r, target_, a.failure);
}

ApiClient::~ApiClient() = default;

Result<HttpReply> ApiClient::get(const std::string& path) {
  return request([&] { return http_->Get(path.c_str()); });
}

Result<HttpReply> ApiClient::del(const std::string& path) {
  return request([&] { return http_->Delete(path.c_str()); });
}

Result<HttpReply> ApiClient::post(const std::string& path, const std::string& body, const std::string& content_type) {
  return request([&] { return http_->Post(path.c_str(), body, content_type.c_str()); });
}

}  // namespace supernet::node
