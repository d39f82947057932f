// HPKE (RFC 9180), base mode: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, and AES-128-GCM,
// AES-256-GCM or ChaCha20-Poly1305 (the network uses AES-256-GCM). OpenSSL 3.0 has no HPKE;
// this is built from X25519 (libsodium), HMAC-SHA256 and the AEADs, and checked against the
// RFC's test vectors (keys_test.cc). Key release encrypts each validator's part to the
// requester's ephemeral key with it (docs/keys.md).
#pragma once

#include <cstdint>

#include "crypto/secure.h"
#include "util/bytes.h"
#include "util/result.h"

namespace supernet::keys {

enum class HpkeAead : uint16_t { kAes128Gcm = 1, kAes256Gcm = 2, kChaCha20Poly1305 = 3 };
inline constexpr uint16_t kHpkeKemX25519 = 0x0020;
inline constexpr uint16_t kHpkeKdfHkdfSha256 = 0x0001;
inline constexpr size_t kHpkeEncBytes = 32;    // X25519 public key
inline constexpr size_t kHpkeTagBytes = 16;
inline constexpr size_t kHpkeExportBytesMax = 255 * 32;

struct HpkeKeyPair {
  crypto::SecureBytes secret;  // X25519 private key, 32 bytes
  Bytes public_key;            // 32 bytes
};
// DeriveKeyPair(ikm) (RFC 9180 section 7.1.3); ikm at least 32 bytes of entropy.
HpkeKeyPair hpke_derive_key_pair(ByteView ikm);
HpkeKeyPair hpke_generate_key_pair();

// An encryption context (RFC 9180 section 5.2): a sequence of messages in one direction.
class HpkeContext {
 public:
  HpkeContext(HpkeAead aead, crypto::SecureBytes key, Bytes base_nonce, crypto::SecureBytes exporter_secret)
      : aead_(aead), key_(std::move(key)), base_nonce_(std::move(base_nonce)), exporter_(std::move(exporter_secret)) {}
  // ciphertext || tag; each call uses the next sequence number.
  Result<Bytes> seal(ByteView aad, ByteView plaintext);
  Result<crypto::SecureBytes> open(ByteView aad, ByteView ciphertext);
  // Export(exporter_context, L), L at most kHpkeExportBytesMax.
  Result<crypto::SecureBytes> export_secret(ByteView exporter_context, size_t length) const;
  uint64_t sequence() const { return seq_; }

 private:
  Bytes nonce() const;
  HpkeAead aead_;
  crypto::SecureBytes key_;
  Bytes base_nonce_;
  crypto::SecureBytes exporter_;
  uint64_t seq_ = 0;
};

struct HpkeSender {
  Bytes enc;  // the encapsulated key, sent to the recipient
  HpkeContext context;
};
// SetupBaseS(pkR, info). `ikm_e` fixes the ephemeral key (the RFC's vectors); empty: random.
Result<HpkeSender> hpke_setup_base_s(ByteView recipient_public_key, ByteView info, HpkeAead aead, ByteView ikm_e = {});
// SetupBaseR(enc, skR, info).
Result<HpkeContext> hpke_setup_base_r(ByteView enc, const crypto::SecureBytes& recipient_secret, ByteView info, HpkeAead aead);

// Single-shot: enc || ciphertext, and back.
Result<Bytes> hpke_seal(ByteView recipient_public_key, ByteView info, ByteView aad, ByteView plaintext, HpkeAead aead = HpkeAead::kAes256Gcm);
Result<crypto::SecureBytes> hpke_open(const crypto::SecureBytes& recipient_secret, ByteView info, ByteView aad, ByteView sealed,
                                      HpkeAead aead = HpkeAead::kAes256Gcm);

}  // namespace supernet::keys
