// Digests, HMAC and HKDF.
#pragma once

#include <array>

#include "crypto/secure.h"
#include "util/bytes.h"
#include "util/result.h"

namespace supernet::crypto {

enum class HashAlg { kSha256, kSha384, kSha512 };

size_t hash_size(HashAlg alg);
const char* hash_name(HashAlg alg);

Bytes hash(HashAlg alg, ByteView data);
inline Bytes sha256(ByteView d) { return hash(HashAlg::kSha256, d); }
inline Bytes sha384(ByteView d) { return hash(HashAlg::kSha384, d); }
inline Bytes sha512(ByteView d) { return hash(HashAlg::kSha512, d); }

// Incremental hashing for large inputs (files).
class Hasher {
 public:
  explicit Hasher(HashAlg alg);
  ~Hasher();
  Hasher(const Hasher&) = delete;
  Hasher& operator=(const Hasher&) = delete;
  void update(ByteView data);
  Bytes finish();

 private:
  void* ctx_;
};

Bytes hmac(HashAlg alg, ByteView key, ByteView data);

// HKDF (RFC 5869) extract-and-expand with SHA-256.
SecureBytes hkdf_sha256(ByteView ikm, ByteView salt, ByteView info, size_t out_len);

}  // namespace supernet::crypto
