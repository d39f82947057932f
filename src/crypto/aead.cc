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

}  // namespace supernet::crypto
