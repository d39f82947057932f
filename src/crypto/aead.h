// AES-256-GCM authenticated encryption (and AES-128-GCM, for HPKE's suites); AES-SIV (RFC
// 5297), deterministic authenticated encryption, for values every node must encrypt alike.
#pragma once

#include <vector>

#include "crypto/secure.h"
#include "util/bytes.h"
#include "util/result.h"

namespace supernet::crypto {

inline constexpr size_t kAesGcmKeyBytes = 32;
inline constexpr size_t kAes128GcmKeyBytes = 16;
inline constexpr size_t kAesGcmNonceBytes = 12;
inline constexpr size_t kAesGcmTagBytes = 16;

// Returns ciphertext || tag. The key must be 32 bytes and the nonce 12 bytes, never reused
// under one key.
Bytes aes256gcm_seal(ByteView key, ByteView nonce, ByteView aad, ByteView plaintext);
// Verifies the tag over (aad, ciphertext) before returning any plaintext.
Result<SecureBytes> aes256gcm_open(ByteView key, ByteView nonce, ByteView aad,
                                   ByteView ciphertext_and_tag);

Bytes aes128gcm_seal(ByteView key, ByteView nonce, ByteView aad, ByteView plaintext);
Result<SecureBytes> aes128gcm_open(ByteView key, ByteView nonce, ByteView aad, ByteView ciphertext_and_tag);

// Same as aes256gcm_open but writes into `out` (resized), for hot paths that reuse a buffer.
Status aes256gcm_open_into(ByteView key, ByteView nonce, ByteView aad, ByteView ciphertext_and_tag,
                           uint8_t* out);

// AES-SIV (RFC 5297, OpenSSL's): deterministic, so the same key, associated data and plaintext
// always give the same bytes, and misuse-resistant (no nonce to repeat). The key is 32 bytes
// (AES-128-SIV) or 64 (AES-256-SIV); `associated` are the header components in order; the
// plaintext at least one byte (OpenSSL's limit). Returns the synthetic IV (16 bytes) ||
// ciphertext.
inline constexpr size_t kAesSivTagBytes = 16;
Result<Bytes> aes_siv_seal(ByteView key, const std::vector<ByteView>& associated, ByteView plaintext);
// Verifies the IV over the header and plaintext before returning it.
Result<SecureBytes> aes_siv_open(ByteView key, const std::vector<ByteView>& associated, ByteView sealed);

// The sending side of a stream of records under one key (a session's write direction).
class AesGcmSealer {
 public:
  explicit AesGcmSealer(ByteView key);
  ~AesGcmSealer();
  AesGcmSealer(const AesGcmSealer&) = delete;
  AesGcmSealer& operator=(const AesGcmSealer&) = delete;
  // Writes ciphertext || tag (plaintext size + 16 bytes) to `out`. Nonces must never repeat.
  void seal_into(ByteView nonce, ByteView aad, ByteView plaintext, uint8_t* out);

 private:
  void* ctx_ = nullptr;
};

// A key set up once for many records (the aggregator's hot path: one peer's stream of
// records). Not thread-safe.
class AesGcmOpener {
 public:
  explicit AesGcmOpener(ByteView key);
  ~AesGcmOpener();
  AesGcmOpener(const AesGcmOpener&) = delete;
  AesGcmOpener& operator=(const AesGcmOpener&) = delete;
  // Verifies the tag before the caller may use `out` (zeroed on failure).
  Status open_into(ByteView nonce, ByteView aad, ByteView ciphertext_and_tag, uint8_t* out);

 private:
  void* ctx_ = nullptr;
};

}  // namespace supernet::crypto
