#include "crypto/aead.h"

#include <openssl/evp.h>

#include <cassert>
#include <cstdlib>
#include <memory>

namespace supernet::crypto {

namespace {
struct CtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CtxFree>;
}  // namespace

static Bytes gcm_seal(const EVP_CIPHER* cipher, ByteView key, ByteView nonce, ByteView aad, ByteView plaintext) {
  assert(nonce.size() == kAesGcmNonceBytes);
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  Bytes out(plaintext.size() + kAesGcmTagBytes);
  int len = 0;
  bool ok = ctx && EVP_EncryptInit_ex(ctx.get(), cipher, nullptr, key.data(),
                                      nonce.data()) == 1;
  ok = ok && (aad.empty() || EVP_EncryptUpdate(ctx.get(), nullptr, &len, aad.data(),
                                               static_cast<int>(aad.size())) == 1);
  ok = ok && EVP_EncryptUpdate(ctx.get(), out.data(), &len, plaintext.data(),
                               static_cast<int>(plaintext.size())) == 1;
  int fin = 0;
  ok = ok && EVP_EncryptFinal_ex(ctx.get(), out.data() + len, &fin) == 1;
  ok = ok && EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kAesGcmTagBytes,
                                 out.data() + plaintext.size()) == 1;
  if (!ok) std::abort();
  return out;
}

Bytes aes256gcm_seal(ByteView key, ByteView nonce, ByteView aad, ByteView plaintext) {
  assert(key.size() == kAesGcmKeyBytes);
  return gcm_seal(EVP_aes_256_gcm(), key, nonce, aad, plaintext);
}

Bytes aes128gcm_seal(ByteView key, ByteView nonce, ByteView aad, ByteView plaintext) {
  assert(key.size() == kAes128GcmKeyBytes);
  return gcm_seal(EVP_aes_128_gcm(), key, nonce, aad, plaintext);
}

static Status gcm_open_into(const EVP_CIPHER* cipher, ByteView key, ByteView nonce, ByteView aad, ByteView ct, uint8_t* out) {
  if (ct.size() < kAesGcmTagBytes) {
    return make_error("aead.short", "ciphertext shorter than the 16-byte tag");
  }
  size_t body = ct.size() - kAesGcmTagBytes;
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  bool ok = ctx && EVP_DecryptInit_ex(ctx.get(), cipher, nullptr, key.data(),
                                      nonce.data()) == 1;
  ok = ok && (aad.empty() || EVP_DecryptUpdate(ctx.get(), nullptr, &len, aad.data(),
                                               static_cast<int>(aad.size())) == 1);
  ok = ok && EVP_DecryptUpdate(ctx.get(), out, &len, ct.data(), static_cast<int>(body)) == 1;
  ok = ok && EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kAesGcmTagBytes,
                                 const_cast<uint8_t*>(ct.data() + body)) == 1;
  int fin = 0;
  if (!ok || EVP_DecryptFinal_ex(ctx.get(), out + len, &fin) != 1) {
    zeroize(out, body);
    return make_error("aead.auth", "authentication tag does not verify (wrong key, AAD or data)");
  }
  return ok_status();
}

Status aes256gcm_open_into(ByteView key, ByteView nonce, ByteView aad, ByteView ct, uint8_t* out) {
  if (key.size() != kAesGcmKeyBytes || nonce.size() != kAesGcmNonceBytes) {
    return make_error("aead.params", "AES-256-GCM needs a 32-byte key and a 12-byte nonce");
  }
  return gcm_open_into(EVP_aes_256_gcm(), key, nonce, aad, ct, out);
}

Result<SecureBytes> aes128gcm_open(ByteView key, ByteView nonce, ByteView aad, ByteView ct) {
  if (key.size() != kAes128GcmKeyBytes || nonce.size() != kAesGcmNonceBytes) {
    return make_error("aead.params", "AES-128-GCM needs a 16-byte key and a 12-byte nonce");
  }
  SecureBytes out(ct.size() >= kAesGcmTagBytes ? ct.size() - kAesGcmTagBytes : 0);
  SN_TRY(gcm_open_into(EVP_aes_128_gcm(), key, nonce, aad, ct, out.data()));
  return out;
}

Result<SecureBytes> aes256gcm_open(ByteView key, ByteView nonce, ByteView aad, ByteView ct) {
  SecureBytes out(ct.size() >= kAesGcmTagBytes ? ct.size() - kAesGcmTagBytes : 0);
  SN_TRY(aes256gcm_open_into(key, nonce, aad, ct, out.data()));
  return out;
}

static const EVP_CIPHER* aes256gcm_fetched() {
  static const EVP_CIPHER* c = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);  // once, for the process
  if (c == nullptr) std::abort();
  return c;
}

AesGcmSealer::AesGcmSealer(ByteView key) {
  assert(key.size() == kAesGcmKeyBytes);
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  if (ctx == nullptr || EVP_EncryptInit_ex(ctx, aes256gcm_fetched(), nullptr, key.data(), nullptr) != 1) std::abort();
  ctx_ = ctx;
}

AesGcmSealer::~AesGcmSealer() { EVP_CIPHER_CTX_free(static_cast<EVP_CIPHER_CTX*>(ctx_)); }

void AesGcmSealer::seal_into(ByteView nonce, ByteView aad, ByteView plaintext, uint8_t* out) {
  assert(nonce.size() == kAesGcmNonceBytes);
  auto* ctx = static_cast<EVP_CIPHER_CTX*>(ctx_);
  int len = 0, fin = 0;
  bool ok = EVP_EncryptInit_ex(ctx, nullptr, nullptr, nullptr, nonce.data()) == 1;
  ok = ok && (aad.empty() || EVP_EncryptUpdate(ctx, nullptr, &len, aad.data(), static_cast<int>(aad.size())) == 1);
  ok = ok && EVP_EncryptUpdate(ctx, out, &len, plaintext.data(), static_cast<int>(plaintext.size())) == 1;
  ok = ok && EVP_EncryptFinal_ex(ctx, out + len, &fin) == 1;
  ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, kAesGcmTagBytes, out + plaintext.size()) == 1;
  if (!ok) std::abort();
}

AesGcmOpener::AesGcmOpener(ByteView key) {
  assert(key.size() == kAesGcmKeyBytes);
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  if (ctx == nullptr || EVP_DecryptInit_ex(ctx, aes256gcm_fetched(), nullptr, key.data(), nullptr) != 1) std::abort();
  ctx_ = ctx;
}

AesGcmOpener::~AesGcmOpener() { EVP_CIPHER_CTX_free(static_cast<EVP_CIPHER_CTX*>(ctx_)); }  // clears the key schedule

Status AesGcmOpener::open_into(ByteView nonce, ByteView aad, ByteView ct, uint8_t* out) {
  if (nonce.size() != kAesGcmNonceBytes) return make_error("aead.params", "AES-256-GCM needs a 12-byte nonce");
  if (ct.size() < kAesGcmTagBytes) return make_error("aead.short", "ciphertext shorter than the 16-byte tag");
  auto* ctx = static_cast<EVP_CIPHER_CTX*>(ctx_);
  size_t body = ct.size() - kAesGcmTagBytes;
  int len = 0, fin = 0;
  bool ok = EVP_DecryptInit_ex(ctx, nullptr, nullptr, nullptr, nonce.data()) == 1;
  ok = ok && (aad.empty() || EVP_DecryptUpdate(ctx, nullptr, &len, aad.data(), static_cast<int>(aad.size())) == 1);
  ok = ok && EVP_DecryptUpdate(ctx, out, &len, ct.data(), static_cast<int>(body)) == 1;
  ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, kAesGcmTagBytes, const_cast<uint8_t*>(ct.data() + body)) == 1;
  if (!ok || EVP_DecryptFinal_ex(ctx, out + len, &fin) != 1) {
    zeroize(out, body);
    return make_error("aead.auth", "authentication tag does not verify (wrong key, AAD or data)");
  }
  return ok_status();
}

namespace {
const EVP_CIPHER* siv_cipher(size_t key_bytes) {
  // Fetched once per process from the default provider (OpenSSL 3.0 has no EVP_aes_*_siv()).
  static EVP_CIPHER* siv128 = EVP_CIPHER_fetch(nullptr, "AES-128-SIV", nullptr);
  static EVP_CIPHER* siv256 = EVP_CIPHER_fetch(nullptr, "AES-256-SIV", nullptr);
  return key_bytes == 32 ? siv128 : key_bytes == 64 ? siv256 : nullptr;
}
}  // namespace

Result<Bytes> aes_siv_seal(ByteView key, const std::vector<ByteView>& associated, ByteView plaintext) {
  const EVP_CIPHER* cipher = siv_cipher(key.size());
  if (cipher == nullptr) return make_error("aead.key", "an AES-SIV key is 32 or 64 bytes");
  // OpenSSL never runs the cipher on an empty update, so it cannot seal an empty plaintext.
  if (plaintext.empty()) return make_error("aead.empty", "AES-SIV here seals at least one byte");
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  Bytes out(kAesSivTagBytes + plaintext.size());
  int len = 0;
  bool ok = ctx && EVP_EncryptInit_ex2(ctx.get(), cipher, key.data(), nullptr, nullptr) == 1;
  // Each header component is one AAD update (RFC 5297's vector of strings).
  for (const auto& a : associated) ok = ok && EVP_EncryptUpdate(ctx.get(), nullptr, &len, a.data(), static_cast<int>(a.size())) == 1;
  // The plaintext in one update (SIV takes one).
  ok = ok && EVP_EncryptUpdate(ctx.get(), out.data() + kAesSivTagBytes, &len, plaintext.data(), static_cast<int>(plaintext.size())) == 1;
  int fin = 0;
  ok = ok && EVP_EncryptFinal_ex(ctx.get(), out.data() + kAesSivTagBytes, &fin) == 1;
  ok = ok && EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_GET_TAG, kAesSivTagBytes, out.data()) == 1;
  if (!ok) std::abort();
  return out;
}

Result<SecureBytes> aes_siv_open(ByteView key, const std::vector<ByteView>& associated, ByteView sealed) {
  const EVP_CIPHER* cipher = siv_cipher(key.size());
  if (cipher == nullptr) return make_error("aead.key", "an AES-SIV key is 32 or 64 bytes");
  if (sealed.size() <= kAesSivTagBytes) return make_error("aead.short", "no ciphertext after the 16-byte synthetic IV");
  size_t body = sealed.size() - kAesSivTagBytes;
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  SecureBytes out(body);
  int len = 0;
  bool ok = ctx && EVP_DecryptInit_ex2(ctx.get(), cipher, key.data(), nullptr, nullptr) == 1;
  ok = ok && EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_TAG, kAesSivTagBytes, const_cast<uint8_t*>(sealed.data())) == 1;
  for (const auto& a : associated) ok = ok && EVP_DecryptUpdate(ctx.get(), nullptr, &len, a.data(), static_cast<int>(a.size())) == 1;
  ok = ok && EVP_DecryptUpdate(ctx.get(), out.data(), &len, sealed.data() + kAesSivTagBytes, static_cast<int>(body)) == 1;
  int fin = 0;
  ok = ok && EVP_DecryptFinal_ex(ctx.get(), out.data(), &fin) == 1;
  if (!ok) return make_error("aead.open", "the value does not authenticate (another key, header or altered bytes)");
  return out;
}

}  // namespace supernet::crypto
