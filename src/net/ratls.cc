#include "net/ratls.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "cbor/cbor.h"
#include "crypto/hash.h"
#include "tee/evidence.h"
#include "tee/seal.h"
#include "util/codec.h"
#include "util/file.h"
#include "util/log.h"

namespace supernet::net {

using crypto::Certificate;

static constexpr const char* kExporterLabel = "EXPORTER-supernet-ratls-freshness";
static constexpr const char* kSealLabel = "ratls-identity-key";

static Bytes domain_hash(std::string_view domain, std::initializer_list<ByteView> parts) {
  Bytes msg = to_bytes(domain);
  msg.push_back(0);
  for (auto p : parts) msg.insert(msg.end(), p.begin(), p.end());
  return crypto::sha512(msg);
}

static Bytes length_prefixed(const Binding& b) {
  Writer w;
  w.bytes(b.identity_key).bytes(b.chain);
  return w.take();
}

Bytes cert_binding(ByteView spki, const Binding& b) { return domain_hash("supernet-ratls-cert-v2", {spki, length_prefixed(b)}); }

Bytes fresh_binding(ByteView exporter, ByteView spki, const Binding& b) {
  Bytes spki_hash = crypto::sha256(spki);
  return domain_hash("supernet-ratls-fresh-v2", {exporter, spki_hash, length_prefixed(b)});
}

static std::string media_type(tee::Kind k) { return std::string("application/vnd.supernet.evidence.") + tee::kind_name(k); }

static Bytes evidence_extension(tee::Kind kind, ByteView evidence, const Binding& b) {
  return cbor::encode(cbor::Value::array({cbor::Value::text(media_type(kind)), cbor::Value::bytes(evidence),
                                          cbor::Value::bytes(b.identity_key), cbor::Value::bytes(b.chain)}));
}

Result<Certificate> make_certificate_with_evidence(const crypto::PrivateKey& key, const std::string& cn, ByteView evidence,
                                                   const Binding& binding) {
  SN_ASSIGN(tee::Kind kind, tee::detect_kind(evidence));
  UnixSeconds now = now_unix();
  return crypto::make_self_signed(key, cn, now - 300, now + 30 * 86400,
                                  {{kEvidenceExtensionOid, evidence_extension(kind, evidence, binding), false}});
}

Result<Certificate> make_attested_certificate(tee::Platform& platform, const crypto::PrivateKey& key, const std::string& cn,
                                              int64_t validity_seconds, const Binding& binding) {
  SN_ASSIGN(Bytes evidence, platform.evidence(cert_binding(key.public_key().spki_der(), binding)));
  SN_ASSIGN(tee::Kind kind, tee::detect_kind(evidence));
  UnixSeconds now = now_unix();
  return crypto::make_self_signed(key, cn, now - 300, now + validity_seconds,
                                  {{kEvidenceExtensionOid, evidence_extension(kind, evidence, binding), false}});
}

Result<Identity> make_identity(tee::Platform& platform, const std::string& cn, const Binding& binding, int64_t validity_seconds) {
  Identity id;
  id.key = crypto::PrivateKey::generate_ec(crypto::Curve::kP256);
  id.binding = binding;
  id.common_name = cn;
  SN_ASSIGN(id.cert, make_attested_certificate(platform, id.key, cn, validity_seconds, binding));
  return id;
}

Result<Identity> load_or_create_identity(tee::Platform& platform, const std::string& dir, const std::string& cn,
                                         const Binding& binding) {
  std::string key_path = dir + "/identity.key.sealed";
  std::string cert_path = dir + "/identity.crt.der";
  std::error_code ec;
  Identity id;
  id.binding = binding;
  id.common_name = cn;
  if (std::filesystem::exists(key_path, ec)) {
    SN_ASSIGN(Bytes sealed, read_file(key_path));
    SN_ASSIGN(crypto::SecureBytes der, tee::unseal(platform, kSealLabel, sealed));
    SN_ASSIGN(id.key, crypto::PrivateKey::from_der(der.view()));
  } else {
    std::filesystem::create_directories(dir, ec);
    if (ec) return make_error("io.dir", "cannot create '" + dir + "': " + ec.message());
    id.key = crypto::PrivateKey::generate_ec(crypto::Curve::kP256);
    crypto::SecureBytes der = id.key.to_der();
    SN_ASSIGN(Bytes sealed, tee::seal(platform, kSealLabel, der.view()));
    SN_TRY(write_file_atomic(key_path, sealed, 0600));
  }
  // The key persists; its certificate is re-attested at every load so its evidence is fresh.
  SN_ASSIGN(id.cert, make_attested_certificate(platform, id.key, cn, kCertificateValiditySeconds, binding));
  SN_TRY(write_file_atomic(cert_path, id.cert.der(), 0644));
  return id;
}

Result<PeerCertificate> verify_peer_certificate(const Certificate& cert, const tee::Policy& policy,
                                                const tee::Collateral& collateral, UnixSeconds now, ByteView chain) {
  SN_TRY(cert.check_time(now));
  SN_TRY(cert.verify_signed_by(cert));
  auto ext = cert.extension(kEvidenceExtensionOid);
  if (!ext) return make_error("ratls.no_evidence", "peer certificate carries no evidence extension " + std::string(kEvidenceExtensionOid));
  SN_ASSIGN(cbor::Value cmw, cbor::decode(*ext));
  if (cmw.type() != cbor::Type::kArray || cmw.as_array().size() != 4) {
    return make_error("ratls.evidence_format", "evidence extension is not a [media type, evidence, identity, chain] array");
  }
  for (size_t i = 1; i < 4; i++) {
    if (cmw.as_array()[i].type() != cbor::Type::kBytes) {
      return make_error("ratls.evidence_format", "evidence extension holds a non-byte-string field");
    }
  }
  const Bytes& evidence = cmw.as_array()[1].as_bytes();
  PeerCertificate out;
  out.binding.identity_key = cmw.as_array()[2].as_bytes();
  out.binding.chain = cmw.as_array()[3].as_bytes();
  if (!chain.empty()) {
    if (out.binding.chain.empty() || !crypto::ct_equal(out.binding.chain, chain)) {
      return make_error("ratls.chain", "peer certificate is for another chain (genesis " + to_hex(out.binding.chain).substr(0, 16) +
                                           "...), or for none: a developer tool's certificate");
    }
    if (out.binding.identity_key.size() != 32) return make_error("ratls.identity", "peer certificate names no identity key");
  }
  SN_ASSIGN(out.claims, tee::verify_evidence(evidence, collateral, now));
  Bytes expected = cert_binding(cert.public_key().spki_der(), out.binding);
  tee::Appraisal a = tee::appraise(policy, out.claims, now, ByteView(expected));
  if (!a.pass()) {
    std::string why;
    for (const auto& f : a.failures) why += (why.empty() ? "" : "; ") + f;
    return make_error("ratls.appraisal", why);
  }
  return out;
}

IdentityStore::IdentityStore(Identity identity) : current_(std::make_shared<const Identity>(std::move(identity))) {}

std::shared_ptr<const Identity> IdentityStore::current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return current_;
}

void IdentityStore::replace(Identity identity) {
  auto next = std::make_shared<const Identity>(std::move(identity));
  std::lock_guard<std::mutex> lock(mu_);
  current_ = std::move(next);
}

Result<bool> renew_certificate_if_due(tee::Platform& platform, IdentityStore& store, UnixSeconds now) {
  auto cur = store.current();
  UnixSeconds not_after = cur->cert.not_after();
  if (not_after - now > kCertificateValiditySeconds / 2) return false;
  Identity next;
  next.key = cur->key;
  next.binding = cur->binding;
  next.common_name = cur->common_name;
  SN_ASSIGN(next.cert, make_attested_certificate(platform, next.key, next.common_name, kCertificateValiditySeconds, next.binding));
  store.replace(std::move(next));
  return true;
}

namespace {

int app_data_index() {
  static int idx = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return idx;
}

int verify_callback(X509_STORE_CTX* store, void*) {
  SSL* ssl = static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  auto* st = static_cast<PeerVerification*>(SSL_get_ex_data(ssl, app_data_index()));
  X509* peer = X509_STORE_CTX_get0_cert(store);
  if (st == nullptr || peer == nullptr) return 0;
  X509_up_ref(peer);
  auto cert = Certificate::adopt(peer);
  auto peer_cert = verify_peer_certificate(*cert, st->cfg->policy, st->cfg->collateral, now_unix(), st->cfg->chain);
  if (!peer_cert.ok()) {
    st->failure = peer_cert.error().to_string();
    X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
    return 0;
  }
  st->claims = peer_cert->claims;
  st->binding = peer_cert->binding;
  st->cert = *cert;
  return 1;
}

Status set_timeouts(int fd) {
  timeval tv{kIoTimeoutSeconds, 0};
  if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0 ||
      setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0) {
    return make_error("net.socket", std::string("cannot set socket timeouts: ") + std::strerror(errno));
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return ok_status();
}

}  // namespace

void use_identity_store(SSL_CTX* ctx, IdentityStore* store) {
  // Each handshake serves the store's current certificate (renewal replaces it).
  SSL_CTX_set_cert_cb(
      ctx,
      [](SSL* ssl, void* arg) -> int {
        auto id = static_cast<IdentityStore*>(arg)->current();
        return SSL_use_certificate(ssl, id->cert.get()) == 1 && SSL_use_PrivateKey(ssl, id->key.get()) == 1 ? 1 : 0;
      },
      store);
}

Result<SSL_CTX*> make_tls_context(const Config& cfg, bool server) {
  SSL_CTX* ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
  if (ctx == nullptr) return make_error("tls.ctx", crypto::openssl_error());
  bool ok = SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) == 1 &&
            SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) == 1 &&
            SSL_CTX_use_certificate(ctx, cfg.identity.cert.get()) == 1 &&
            SSL_CTX_use_PrivateKey(ctx, cfg.identity.key.get()) == 1 && SSL_CTX_check_private_key(ctx) == 1;
  if (!ok) {
    SSL_CTX_free(ctx);
    return make_error("tls.ctx", "cannot configure TLS 1.3 with the identity: " + crypto::openssl_error());
  }
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(ctx, 0);  // no resumption: every connection is attested afresh
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  SSL_CTX_set_cert_verify_callback(ctx, verify_callback, nullptr);
  if (cfg.store) use_identity_store(ctx, cfg.store.get());
  return ctx;
}

void attach_verification(SSL* ssl, PeerVerification* v) { SSL_set_ex_data(ssl, app_data_index(), v); }

Result<Bytes> freshness_exporter(SSL* ssl) {
  Bytes out(32);
  if (SSL_export_keying_material(ssl, out.data(), out.size(), kExporterLabel, std::strlen(kExporterLabel), nullptr, 0, 0) != 1) {
    return make_error("tls.exporter", "cannot export keying material");
  }
  return out;
}

Result<Bytes> api_exporter(const SSL* ssl) {
  Bytes out(32);
  // Exporting reads the session's secrets and changes nothing; OpenSSL's signature wants it mutable.
  if (SSL_export_keying_material(const_cast<SSL*>(ssl), out.data(), out.size(), kApiExporterLabel, std::strlen(kApiExporterLabel),
                                 nullptr, 0, 0) != 1) {
    return make_error("tls.exporter", "cannot export keying material");
  }
  return out;
}

Bytes api_fresh_binding(ByteView exporter, ByteView spki, const Binding& b) {
  Bytes spki_hash = crypto::sha256(spki);
  return domain_hash("supernet-api-fresh-v1", {exporter, spki_hash, length_prefixed(b)});
}

Result<Bytes> make_fresh_evidence(const Config& cfg, ByteView exporter) {
  if (cfg.platform == nullptr) return make_error("ratls.config", "no platform to produce fresh evidence");
  return cfg.platform->evidence(fresh_binding(exporter, cfg.identity.key.public_key().spki_der(), cfg.identity.binding));
}

Status check_fresh_evidence(const Config& cfg, ByteView exporter, const Certificate& peer_cert, const tee::Claims& peer_claims,
                            const Binding& peer_binding, ByteView evidence, tee::Claims* fresh_claims) {
  auto fresh = tee::verify_evidence(evidence, cfg.collateral, now_unix());
  if (!fresh.ok()) return make_error("ratls.stale", "fresh evidence does not verify: " + fresh.error().to_string());
  Bytes expected = fresh_binding(exporter, peer_cert.public_key().spki_der(), peer_binding);
  tee::Appraisal a = tee::appraise(cfg.policy, *fresh, now_unix(), ByteView(expected));
  std::string failure;
  for (const auto& f : a.failures) failure += (failure.empty() ? "fresh evidence: " : "; ") + f;
  if (failure.empty() && (fresh->platform != peer_claims.platform || fresh->measurement != peer_claims.measurement ||
                          fresh->signer != peer_claims.signer)) {
    failure = "fresh evidence comes from another platform or measurement than the certificate's";
  }
  if (!failure.empty()) return make_error("ratls.stale", failure);
  if (fresh_claims != nullptr) *fresh_claims = *fresh;
  return ok_status();
}

namespace {

Status ssl_write_all(SSL* ssl, ByteView data) {
  size_t done = 0;
  while (done < data.size()) {
    size_t n = 0;
    if (SSL_write_ex(ssl, data.data() + done, data.size() - done, &n) != 1) {
      return make_error("tls.write", "TLS write failed: " + crypto::openssl_error());
    }
    done += n;
  }
  return ok_status();
}

Status ssl_read_exact(SSL* ssl, uint8_t* out, size_t len) {
  size_t done = 0;
  while (done < len) {
    size_t n = 0;
    if (SSL_read_ex(ssl, out + done, len - done, &n) != 1) {
      int err = SSL_get_error(ssl, 0);
      if (err == SSL_ERROR_ZERO_RETURN) return make_error("tls.closed", "peer closed the connection");
      return make_error("tls.read", "TLS read failed or timed out: " + crypto::openssl_error());
    }
    done += n;
  }
  return ok_status();
}

}  // namespace

Connection::~Connection() {
  if (ssl_ != nullptr) {
    SSL_shutdown(ssl_);
    SSL_free(ssl_);
  }
  if (ctx_ != nullptr) SSL_CTX_free(ctx_);
  if (fd_ >= 0) ::close(fd_);
}

Status Connection::send_frame(ByteView data) {
  if (data.size() > kFrameBytesMax) return make_error("frame.size", "frame larger than " + std::to_string(kFrameBytesMax));
  uint8_t hdr[4];
  store_be32(hdr, static_cast<uint32_t>(data.size()));
  SN_TRY(ssl_write_all(ssl_, ByteView(hdr, 4)));
  return ssl_write_all(ssl_, data);
}

Result<Bytes> Connection::recv_frame() {
  uint8_t hdr[4];
  SN_TRY(ssl_read_exact(ssl_, hdr, 4));
  uint32_t len = load_be32(hdr);
  if (len > kFrameBytesMax) return make_error("frame.size", "peer announced a frame of " + std::to_string(len) + " bytes, over the limit");
  Bytes out(len);
  SN_TRY(ssl_read_exact(ssl_, out.data(), len));
  return out;
}

void ignore_sigpipe() {
  static const bool ignored = [] { return std::signal(SIGPIPE, SIG_IGN) != SIG_ERR; }();
  (void)ignored;
}

Result<std::unique_ptr<Connection>> handshake(int fd, bool server, const Config& cfg) {
  ignore_sigpipe();
  std::unique_ptr<Connection> conn(new Connection());
  conn->fd_ = fd;
  SN_TRY(set_timeouts(fd));
  SN_ASSIGN(conn->ctx_, make_tls_context(cfg, server));
  conn->ssl_ = SSL_new(conn->ctx_);
  PeerVerification st;
  st.cfg = &cfg;
  attach_verification(conn->ssl_, &st);
  SSL_set_fd(conn->ssl_, fd);
  int rc = server ? SSL_accept(conn->ssl_) : SSL_connect(conn->ssl_);
  attach_verification(conn->ssl_, nullptr);
  if (rc != 1) {
    std::string why = !st.failure.empty() ? st.failure : "TLS handshake failed: " + crypto::openssl_error();
    log(LogLevel::kWarn, "ratls", std::string("refused peer: ") + why);
    return make_error(st.failure.empty() ? "tls.handshake" : "ratls.refused", why);
  }
  if (!st.claims || !st.cert) return make_error("ratls.refused", "peer presented no certificate");
  conn->peer_claims_ = *st.claims;
  conn->peer_cert_ = *st.cert;

  // Freshness: exchange evidence bound to this session's exporter.
  SN_ASSIGN(Bytes exporter, freshness_exporter(conn->ssl_));
  SN_ASSIGN(Bytes mine, make_fresh_evidence(cfg, exporter));
  // In TLS 1.3 the server checks the client's certificate after the client has finished, so a
  // refusal of this side reaches it here, as a closed connection.
  auto peer_gone = [](const Error& e) {
    return make_error("ratls.peer_refused",
                      "the peer ended the connection during attestation; it most likely refused our evidence (" +
                          e.to_string() + ")");
  };
  if (auto s = conn->send_frame(mine); !s.ok()) return peer_gone(s.error());
  auto theirs = conn->recv_frame();
  if (!theirs.ok()) return peer_gone(theirs.error());
  if (auto s = check_fresh_evidence(cfg, exporter, conn->peer_cert_, conn->peer_claims_, st.binding, *theirs); !s.ok()) {
    log(LogLevel::kWarn, "ratls", "refused peer: " + s.error().message);
    return s.error();
  }
  // Each side confirms, so neither believes in a connection the other has refused.
  SN_TRY(conn->send_frame(as_bytes(kAttestedConfirmation)));
  auto confirm = conn->recv_frame();
  if (!confirm.ok() || to_string(*confirm) != kAttestedConfirmation) {
    return make_error("ratls.peer_refused", "peer did not accept our attestation");
  }
  return conn;
}

namespace {

Result<sockaddr_in> ipv4_address(const std::string& host, uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    return make_error("net.address", "'" + host + "' is not an IPv4 address");
  }
  return addr;
}

Result<int> tcp_socket() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return make_error("net.socket", std::strerror(errno));
  return fd;
}

}  // namespace

Result<int> listen_tcp(const std::string& host, uint16_t port, uint16_t* bound_port) {
  SN_ASSIGN(sockaddr_in addr, ipv4_address(host, port));
  SN_ASSIGN(int fd, tcp_socket());
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 64) != 0) {
    std::string why = std::strerror(errno);
    ::close(fd);
    return make_error("net.listen", "cannot listen on " + host + ":" + std::to_string(port) + ": " + why);
  }
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  if (bound_port != nullptr) *bound_port = ntohs(addr.sin_port);
  return fd;
}

Result<int> accept_tcp(int listen_fd) {
  for (;;) {
    int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) return fd;
    if (errno != EINTR) return make_error("net.accept", std::strerror(errno));
  }
}

Result<int> connect_tcp(const std::string& host, uint16_t port) {
  SN_ASSIGN(sockaddr_in addr, ipv4_address(host, port));
  SN_ASSIGN(int fd, tcp_socket());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    std::string why = std::strerror(errno);
    ::close(fd);
    return make_error("net.connect", "cannot connect to " + host + ":" + std::to_string(port) + ": " + why);
  }
  return fd;
}

}  // namespace supernet::net
