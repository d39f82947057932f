// RA-TLS: mutual TLS 1.3 between attested peers.
//
// Each node makes a TLS key inside its TEE and a self-signed certificate that carries, in the
// non-critical extension 2.23.133.5.4.9 (a CBOR array [media type, evidence, identity key,
// chain]), evidence whose report data is
//   SHA-512("supernet-ratls-cert-v2" || 0x00 || SubjectPublicKeyInfo DER || u32 len || identity
//           key || u32 len || chain)
// where the identity key is the node's long-term Ed25519 key (the one the genesis lists for
// it) and the chain is the genesis hash. The evidence thus attests that the TLS key, the
// identity key and the chain belong to one program in one TEE. The TLS verify callback
// verifies that evidence, appraises it against the policy, checks the binding and the chain;
// the transport then checks that the identity key is the genesis entry of the validator whose
// hello it receives, and the API client that it is the node it asked for. Developer tools
// (`supernet ratls`) use an empty identity and chain, which no network admits.
//
// Freshness: evidence in a certificate can be old, and a stolen key could reuse it. After the
// handshake each side therefore sends fresh evidence whose report data is
//   SHA-512("supernet-ratls-fresh-v2" || 0x00 || TLS exporter(32) || SHA-256(own SPKI) ||
//           u32 len || identity key || u32 len || chain)
// with the exporter label "EXPORTER-supernet-ratls-freshness" (RFC 8446 section 7.5). The
// exporter is unique to this session, so fresh evidence cannot be replayed from another
// session, and only code inside an attested TEE can produce it. The peer must also show the
// same platform, measurement and signer as in its certificate.
//
// Renewal: certificates are valid for a day; a running node makes a new one over the same key,
// with fresh evidence, once half of that has passed (IdentityStore, renew_certificate). New
// handshakes use it at once; sessions already made go on.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "crypto/keys.h"
#include "crypto/x509.h"
#include "tee/claims.h"
#include "tee/collateral.h"
#include "tee/platform.h"
#include "tee/policy.h"

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;

namespace supernet::net {

inline constexpr const char* kEvidenceExtensionOid = "2.23.133.5.4.9";
inline constexpr size_t kFrameBytesMax = 1024 * 1024;
inline constexpr int kIoTimeoutSeconds = 10;

// Whose certificate it is: the node's identity key and the chain it serves (both empty for the
// developer tools).
struct Binding {
  Bytes identity_key;
  Bytes chain;
  bool operator==(const Binding&) const = default;
};
Bytes cert_binding(ByteView spki_der, const Binding& binding);
Bytes fresh_binding(ByteView exporter, ByteView spki_der, const Binding& binding);

struct Identity {
  crypto::PrivateKey key;
  crypto::Certificate cert;
  Binding binding;
  std::string common_name;
};

// Certificates live a day (no longer than the default policy's evidence age); a running node
// renews its certificate once half of that has passed.
inline constexpr int64_t kCertificateValiditySeconds = 86400;

// Makes a fresh TLS key and an RA-TLS certificate valid for `validity_seconds`.
Result<Identity> make_identity(tee::Platform& platform, const std::string& common_name, const Binding& binding = {},
                               int64_t validity_seconds = kCertificateValiditySeconds);
// An RA-TLS certificate over an existing key, with evidence made now.
Result<crypto::Certificate> make_attested_certificate(tee::Platform& platform, const crypto::PrivateKey& key,
                                                      const std::string& common_name, int64_t validity_seconds,
                                                      const Binding& binding);
// For tests: a certificate over `key` carrying the given evidence bytes and binding as is.
Result<crypto::Certificate> make_certificate_with_evidence(const crypto::PrivateKey& key, const std::string& common_name,
                                                           ByteView evidence, const Binding& binding = {});
// Loads the TLS key from `dir` (sealed to this platform), or makes and stores a new one, and
// issues a freshly attested certificate for it. The private key is never written unsealed.
Result<Identity> load_or_create_identity(tee::Platform& platform, const std::string& dir, const std::string& common_name,
                                         const Binding& binding = {});

// What a verified peer certificate says.
struct PeerCertificate {
  tee::Claims claims;
  Binding binding;
};

// Verifies and appraises a peer's RA-TLS certificate: its time, signature, evidence, policy and
// binding. When `chain` is given, the certificate must name that chain and an identity key.
Result<PeerCertificate> verify_peer_certificate(const crypto::Certificate& cert, const tee::Policy& policy,
                                                const tee::Collateral& collateral, UnixSeconds now, ByteView chain = {});

// The certificate a node serves, replaced when it is renewed. Thread-safe: TLS handshakes on
// any thread read it (make_tls_context installs a certificate callback).
class IdentityStore {
 public:
  explicit IdentityStore(Identity identity);
  std::shared_ptr<const Identity> current() const;
  void replace(Identity identity);

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const Identity> current_;
};

// Renews the store's certificate (same key, fresh evidence) when less than half its validity
// is left at `now`. Returns whether it did.
Result<bool> renew_certificate_if_due(tee::Platform& platform, IdentityStore& store, UnixSeconds now);

struct Config {
  Identity identity;
  // When set, handshakes serve its current certificate (renewal); `identity` holds the key.
  std::shared_ptr<IdentityStore> store;
  tee::Policy policy;
  tee::Collateral collateral;
  tee::Platform* platform = nullptr;  // produces this side's fresh evidence
  Bytes chain;  // the chain peers must name (empty: developer tools, any)
};

// A mutually attested TLS 1.3 connection. Blocking, with I/O timeouts; not thread-safe.
class Connection {
 public:
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  const tee::Claims& peer_claims() const { return peer_claims_; }
  const crypto::Certificate& peer_certificate() const { return peer_cert_; }
  // Length-prefixed frames (u32 big-endian) of at most kFrameBytesMax.
  Status send_frame(ByteView data);
  Result<Bytes> recv_frame();

 private:
  friend Result<std::unique_ptr<Connection>> handshake(int fd, bool server, const Config& cfg);
  Connection() = default;
  SSL* ssl_ = nullptr;
  SSL_CTX* ctx_ = nullptr;
  int fd_ = -1;
  tee::Claims peer_claims_;
  crypto::Certificate peer_cert_;
};

// Runs the TLS handshake with appraisal and the fresh-evidence exchange over connected `fd`
// (taking ownership of it).
Result<std::unique_ptr<Connection>> handshake(int fd, bool server, const Config& cfg);

// The pieces handshake() is made of, for transports that drive TLS themselves (Asio).
//
// A TLS 1.3-only context with this node's identity whose certificate verification is the
// RA-TLS appraisal. The caller owns it (SSL_CTX_free).
// Makes `ctx` serve `store`'s current certificate in every handshake (the store must outlive it).
void use_identity_store(SSL_CTX* ctx, IdentityStore* store);
Result<SSL_CTX*> make_tls_context(const Config& cfg, bool server);
// What the verify callback learned about the peer during one handshake. Attach it to the SSL
// before the handshake and keep it alive until the handshake ends.
struct PeerVerification {
  const Config* cfg = nullptr;
  std::optional<tee::Claims> claims;
  std::optional<crypto::Certificate> cert;
  Binding binding;
  std::string failure;  // why the peer was refused, if it was
};
void attach_verification(SSL* ssl, PeerVerification* v);
// 32 bytes of keying material exported from the session for the freshness exchange.
Result<Bytes> freshness_exporter(SSL* ssl);

// The API's freshness (GET /v1/attestation): the node's evidence over
//   SHA-512("supernet-api-fresh-v1" || 0x00 || TLS exporter(32, label
//           "EXPORTER-supernet-api-attestation") || SHA-256(SPKI) || u32 len || identity || u32 len || chain)
// bound to the client's own TLS session, so it cannot be relayed from another session.
inline constexpr const char* kApiExporterLabel = "EXPORTER-supernet-api-attestation";
Result<Bytes> api_exporter(const SSL* ssl);
Bytes api_fresh_binding(ByteView exporter, ByteView spki_der, const Binding& binding);
// This side's fresh evidence for the session.
Result<Bytes> make_fresh_evidence(const Config& cfg, ByteView exporter);
// The peer's fresh evidence: verifies, passes the policy, binds the exporter and the peer's
// certificate key, and comes from the same platform, measurement and signer as the certificate.
// `fresh_claims`, when given, receives the fresh evidence's claims once they passed.
Status check_fresh_evidence(const Config& cfg, ByteView exporter, const crypto::Certificate& peer_cert,
                            const tee::Claims& peer_claims, const Binding& peer_binding, ByteView evidence,
                            tee::Claims* fresh_claims = nullptr);
inline constexpr const char* kAttestedConfirmation = "attested";

// OpenSSL writes to sockets with write(2): a peer that hangs up mid-write would raise SIGPIPE
// and kill the process. Every TLS user (blocking connections, the peer transport, the API server
// and client) calls this first, so that a write error is an error value. Process-wide, once.
void ignore_sigpipe();

// TCP helpers. `listen_tcp` binds host:port (port 0 picks one; *bound_port reports it).
Result<int> listen_tcp(const std::string& host, uint16_t port, uint16_t* bound_port);
Result<int> accept_tcp(int listen_fd);
Result<int> connect_tcp(const std::string& host, uint16_t port);

}  // namespace supernet::net
