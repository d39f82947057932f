#include "crypto/hash.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>

#include <cassert>
#include <cstdlib>

namespace supernet::crypto {

// Fetched once: OpenSSL 3 otherwise looks the implementation up (under a lock) on every use
// of EVP_sha256() and friends, which showed up as the top cost of hashing transactions.
static const EVP_MD* fetched(const char* name) {
  EVP_MD* md = EVP_MD_fetch(nullptr, name, nullptr);
  if (md == nullptr) std::abort();
  return md;  // kept for the life of the process
}

static const EVP_MD* md_of(HashAlg alg) {
  static const EVP_MD* sha256 = fetched("SHA256");
  static const EVP_MD* sha384 = fetched("SHA384");
  static const EVP_MD* sha512 = fetched("SHA512");
  switch (alg) {
    case HashAlg::kSha256:
      return sha256;
    case HashAlg::kSha384:
      return sha384;
    case HashAlg::kSha512:
      return sha512;
  }
  std::abort();
}

size_t hash_size(HashAlg alg) { return static_cast<size_t>(EVP_MD_get_size(md_of(alg))); }

const char* hash_name(HashAlg alg) {
  switch (alg) {
    case HashAlg::kSha256:
      return "SHA-256";
    case HashAlg::kSha384:
      return "SHA-384";
    case HashAlg::kSha512:
      return "SHA-512";
  }
  return "?";
}

Bytes hash(HashAlg alg, ByteView data) {
  Bytes out(hash_size(alg));
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &len, md_of(alg), nullptr) != 1) {
    std::abort();
  }
  assert(len == out.size());
  return out;
}

Hasher::Hasher(HashAlg alg) : ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr || EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), md_of(alg), nullptr) != 1) {
    std::abort();
  }
}
Hasher::~Hasher() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }
void Hasher::update(ByteView data) {
  if (EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data.data(), data.size()) != 1) std::abort();
}
Bytes Hasher::finish() {
  auto* ctx = static_cast<EVP_MD_CTX*>(ctx_);
  Bytes out(static_cast<size_t>(EVP_MD_CTX_get_size(ctx)));
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx, out.data(), &len) != 1) std::abort();
  return out;
}

Bytes hmac(HashAlg alg, ByteView key, ByteView data) {
  Bytes out(hash_size(alg));
  unsigned int len = 0;
  if (HMAC(md_of(alg), key.data(), static_cast<int>(key.size()), data.data(), data.size(),
           out.data(), &len) == nullptr) {
    std::abort();
  }
  return out;
}

SecureBytes hkdf_sha256(ByteView ikm, ByteView salt, ByteView info, size_t out_len) {
  SecureBytes out(out_len);
  // RFC 5869: an absent salt is a string of HashLen zeros (OpenSSL rejects a null pointer).
  static const uint8_t kZeroSalt[32] = {0};
  if (salt.empty()) salt = ByteView(kZeroSalt, sizeof kZeroSalt);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nullptr);
  bool ok = ctx != nullptr && EVP_PKEY_derive_init(ctx) == 1 &&
            EVP_PKEY_CTX_set_hkdf_md(ctx, EVP_sha256()) == 1 &&
            EVP_PKEY_CTX_set1_hkdf_salt(ctx, salt.data(), static_cast<int>(salt.size())) == 1 &&
            EVP_PKEY_CTX_set1_hkdf_key(ctx, ikm.data(), static_cast<int>(ikm.size())) == 1 &&
            EVP_PKEY_CTX_add1_hkdf_info(ctx, info.data(), static_cast<int>(info.size())) == 1;
  size_t len = out_len;
  ok = ok && EVP_PKEY_derive(ctx, out.data(), &len) == 1 && len == out_len;
  EVP_PKEY_CTX_free(ctx);
  if (!ok) std::abort();
  return out;
}

}  // namespace supernet::crypto
