#include "node/api_client.h"

#include <httplib.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "net/ratls.h"
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
  std::string failure;
};

ApiClient::ApiClient(const std::string& host, uint16_t port, std::optional<ApiCredentials> credentials,
                     std::optional<tee::Policy> policy, int timeout_s)
    : appraisal_(std::make_unique<Appraisal>()), target_(host + ":" + std::to_string(port)) {
  net::ignore_sigpipe();  // a node killed mid-request must be an error here, not the end of the client
  appraisal_->policy = std::move(policy);
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
    SSL_CTX_set_cert_verify_callback(
        ctx,
        [](X509_STORE_CTX* store, void* arg) -> int {
          auto* a = static_cast<Appraisal*>(arg);
          X509* leaf = X509_STORE_CTX_get0_cert(store);
          if (leaf == nullptr) return 0;
          X509_up_ref(leaf);
          auto cert = crypto::Certificate::adopt(leaf);
          if (!cert.ok()) return 0;
          auto claims = net::verify_peer_certificate(*cert, *a->policy, tee::Collateral{}, now_unix());
          if (!claims.ok()) {
            a->failure = claims.error().to_string();
            X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
            return 0;
          }
          a->failure.clear();
          return 1;
        },
        appraisal_.get());
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  }
}

ApiClient::~ApiClient() = default;

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

}  // namespace

Result<HttpReply> ApiClient::get(const std::string& path) {
  return reply_of(http_->Get(path.c_str()), target_, appraisal_->failure);
}

Result<HttpReply> ApiClient::post(const std::string& path, const std::string& body, const std::string& content_type) {
  return reply_of(http_->Post(path.c_str(), body, content_type.c_str()), target_, appraisal_->failure);
}

}  // namespace supernet::node
