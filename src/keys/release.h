// Key derivation by a quorum and key release to authorized requesters (docs/keys.md, "Key
// release").
//
// Derivation: a resource's key comes from K = s·H(resource), where s = f(0) is the group secret
// that no node holds and H hashes the name to a point of the prime-order group (RFC 9380's
// edwards25519_XMD:SHA-512_ELL2_RO_, libsodium's crypto_core_ed25519_from_hash). Validator i
// returns its part P_i = s_i·H(resource) with a Chaum-Pedersen proof that log_G S_i = log_H P_i
// for its public share S_i = G·s_i (from the DKG, on the ledger), so a bad part is caught and
// named; any t valid parts combine by Lagrange interpolation in the exponent into K, and the
// key is HKDF-SHA256 of K, the group key and the resource name. No node ever computes K itself,
// and fewer than t parts say nothing about it (this is the threshold 2HashDH construction;
// docs/keys.md has the argument).
//
// Release: a requester sends an ephemeral X25519 public key and either nothing more (a client,
// authenticated by its TLS certificate) or fresh evidence whose report data binds a nonce this
// validator issued, that key and the package digest it runs. The validator checks the nonce
// (once, unexpired), the evidence against the network policy, and the resource's release
// policy, then returns its part sealed with HPKE (RFC 9180 base mode) to the ephemeral key; a
// record of the release (never a key) goes on the ledger first.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/secure.h"
#include "keys/frost.h"
#include "keys/ledger_tx.h"
#include "tee/claims.h"
#include "util/bytes.h"
#include "util/result.h"

namespace supernet::keys {

inline constexpr size_t kResourceNameBytesMax = 128;  // letters, digits and . _ - : /
inline constexpr size_t kResourceKeyBytes = 32;
inline constexpr size_t kReleaseNoncesMax = 4096;     // nonces a validator holds unused at once
inline constexpr size_t kReleaseNoncesPerRequesterMax = 64;  // of those, for one client or node
inline constexpr int64_t kReleaseNonceTtlMs = 30000;  // a nonce's life: evidence older is stale
inline constexpr size_t kReleaseRequestBytesMax = 160 * 1024;  // a request's JSON (evidence in hex)
inline constexpr size_t kReleasePolicyEntriesMax = 64;          // clients, measurements, packages each

// Whether `name` may name a resource (1..kResourceNameBytesMax of [A-Za-z0-9._:/-]).
Status check_resource_name(std::string_view name);
// The same, for names members may set a release policy on (not the reserved "supernet:...").
Status check_votable_resource(std::string_view name);
// H(resource): a point of the prime-order subgroup.
Result<frost::Element> resource_point(std::string_view resource);

// One validator's part of a resource's key, and its proof.
struct DerivedPart {
  uint16_t identifier = 0;
  frost::Element value{};  // s_i·H(resource)
  Bytes proof_c, proof_z;  // Chaum-Pedersen: log_G S_i = log_H value, 32-byte scalars
  Bytes encode() const;
  static Result<DerivedPart> decode(ByteView b);
};
Result<DerivedPart> derive_part(const frost::KeyShare& share, std::string_view resource);
// Checks a part against its validator's public share; the error names the validator.
Status verify_part(const DerivedPart& part, const frost::Element& public_share, std::string_view resource);
// The resource's key from t parts of distinct validators, each checked against its public
// share first (the error names the first bad one).
Result<crypto::SecureBytes> combine_parts(const std::vector<DerivedPart>& parts, uint16_t threshold,
                                          const std::map<uint16_t, frost::Element>& public_shares,
                                          const frost::Element& group_public_key, std::string_view resource);
// The same key from the group secret itself: tests, and the argument that parts agree.
crypto::SecureBytes resource_key_from_secret(const crypto::SecureBytes& secret, const frost::Element& group_public_key,
                                             std::string_view resource);

// Who may obtain a resource's key, as the members set it (governance set_release_policy).
struct ReleasePolicy {
  std::vector<std::string> clients;       // registered client names, proving their certificate key
  std::vector<std::string> measurements;  // node program measurements (lower-case hex) whose TAs may
  std::vector<std::string> packages;      // package root digests (64 lower-case hex) a TA must run
  // Built in, never set by vote (names beginning "supernet:" are reserved): any node program
  // the network's policy accepts, running no package (the ledger key).
  bool node_programs = false;
  // Attested code may obtain it when measurements or packages are named.
  bool attested() const { return node_programs || !measurements.empty() || !packages.empty(); }
};
Status check_release_policy(const ReleasePolicy& p);

// The report data an attested requester's evidence must carry: SHA-512 over a domain string,
// the chain, the validator's nonce, the requester's ephemeral X25519 key and its package digest
// (empty: none).
Bytes release_report_data(ByteView chain, ByteView nonce, ByteView public_key, ByteView package);

// POST /v1/keys/release: {"resource", "public_key": hex X25519, and for attested code
// "evidence": hex, "nonce": hex, "package": hex (optional)}.
struct ReleaseRequest {
  std::string resource;
  Bytes public_key;  // 32 bytes
  Bytes evidence, nonce, package;  // evidence and nonce together, or neither
};
Result<ReleaseRequest> parse_release_request(std::string_view json);
std::string release_request_json(const ReleaseRequest& r);

// A release as the ledger records it ("SNRL", signed by the releasing validator): never a key.
struct ReleaseRecord {
  std::string resource;
  std::string requester;  // "client:NAME" or "evidence:SHA256HEX"
  std::string measurement, package;  // attested requesters: what the evidence showed
  int64_t time_ms = 0;               // the validator's clock (Unix ms)
  Bytes request_key;                 // the ephemeral public key the part was sealed to
  uint64_t serial = 0;               // random: two releases alike in all else are two records
  Bytes encode() const;
  static Result<ReleaseRecord> decode(ByteView b);
};
inline constexpr size_t kReleaseRecordBytesMax = 1024;
struct ReleaseTxKind {
  static constexpr std::string_view magic = "SNRL", domain = "supernet-release-tx-v1", error = "release.tx";
  static constexpr size_t message_max = kReleaseRecordBytesMax;
};
using ReleaseTx = SignedLedgerTx<ReleaseTxKind>;  // message: ReleaseRecord::encode

// Key release between nodes over the attested peer transport ("SNKX" frames): a node obtains a
// key for itself (the ledger key) by asking each share holder for a nonce and then for its
// part, exactly as a client does through POST /v1/keys/nonce and /v1/keys/release. The
// transport's own attestation is not relied on: the request carries fresh evidence as any does.
inline constexpr size_t kKeyFrameBytesMax = 80 * 1024;
struct KeyFrame {
  enum class Type : uint8_t { kNonceAsk = 1, kNonceReply = 2, kReleaseAsk = 3, kReleaseReply = 4 };
  Type type = Type::kNonceAsk;
  uint64_t request = 0;                    // the asker's id for the exchange
  Bytes nonce;                             // kNonceReply
  ReleaseRequest release;                  // kReleaseAsk
  uint16_t identifier = 0;                 // kReleaseReply: the validator's share identifier
  Bytes sealed;                            // kReleaseReply: the sealed part
  std::string error_code, error_message;   // replies: a refusal instead
  static KeyFrame make(Type type, uint64_t request) {
    KeyFrame f;
    f.type = type;
    f.request = request;
    return f;
  }
  Bytes encode() const;
  static Result<KeyFrame> decode(ByteView b);
};
bool is_key_frame(ByteView frame);

// Nonces a validator issued and not yet seen used: each is good once, for kReleaseNonceTtlMs.
class NonceBook {
 public:
  // A fresh 32-byte nonce for `requester` (a client's name, a node's id), or release.busy when
  // kReleaseNoncesMax are outstanding, or kReleaseNoncesPerRequesterMax for that requester (so
  // one client cannot take them all).
  Result<Bytes> issue(int64_t now_ms, const std::string& requester = "");
  // Takes the nonce out: release.nonce when it is unknown, used or expired (with which).
  Status consume(ByteView nonce, int64_t now_ms);
  size_t outstanding() const { return nonces_.size(); }

 private:
  void expire(int64_t now_ms);
  struct Issued {
    int64_t at = 0;
    std::string requester;
  };
  std::map<Bytes, Issued> nonces_;
  std::map<std::string, size_t> per_requester_;
};

// The validator's decision on one request. `policy`: the resource's release policy (none: the
// resource is unknown); `client`: the authenticated client's name; `verify`: verifies evidence
// and appraises it against the network policy with the exact report data, giving its claims.
// On success, the part sealed to the request's key and the record to log.
struct ReleaseGrant {
  Bytes sealed;  // HPKE: enc || ciphertext of DerivedPart::encode
  ReleaseRecord record;
};
using EvidenceCheck = std::function<Result<tee::Claims>(ByteView evidence, ByteView report_data)>;
Result<ReleaseGrant> decide_release(const ReleaseRequest& request, const std::optional<ReleasePolicy>& policy,
                                    const std::string& client, ByteView chain, const frost::KeyShare& share,
                                    NonceBook& nonces, const EvidenceCheck& verify, int64_t now_ms);

// The requester's side: opens a validator's sealed part (bound to the chain, resource and key).
Result<DerivedPart> open_part(const crypto::SecureBytes& secret, ByteView public_key, ByteView chain, std::string_view resource,
                              ByteView sealed);

}  // namespace supernet::keys
