#include "keys/hpke.h"

#include <sodium.h>

#include <string_view>

#include "crypto/aead.h"
#include "crypto/hash.h"
#include "crypto/keys.h"

namespace supernet::keys {

namespace {

constexpr size_t kHashBytes = 32;  // SHA-256
constexpr size_t kNonceBytes = 12;

void append(Bytes& out, ByteView v) { out.insert(out.end(), v.begin(), v.end()); }
void append(Bytes& out, std::string_view s) { out.insert(out.end(), s.begin(), s.end()); }
void append_u16(Bytes& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}

size_t key_bytes(HpkeAead a) { return a == HpkeAead::kAes128Gcm ? 16 : 32; }

Bytes kem_suite() {
  Bytes s;
  append(s, std::string_view("KEM"));
  append_u16(s, kHpkeKemX25519);
  return s;
}

Bytes hpke_suite(HpkeAead aead) {
  Bytes s;
  append(s, std::string_view("HPKE"));
  append_u16(s, kHpkeKemX25519);
  append_u16(s, kHpkeKdfHkdfSha256);
  append_u16(s, static_cast<uint16_t>(aead));
  return s;
}

// HKDF-Extract and -Expand (RFC 5869) with HMAC-SHA256.
crypto::SecureBytes extract(ByteView salt, ByteView ikm) {
  Bytes zeros(kHashBytes, 0);
  Bytes prk = crypto::hmac(crypto::HashAlg::kSha256, salt.empty() ? ByteView(zeros) : salt, ikm);
  crypto::SecureBytes out(prk);
  crypto::zeroize(prk.data(), prk.size());
  return out;
}

crypto::SecureBytes expand(ByteView prk, ByteView info, size_t length) {
  crypto::SecureBytes out(length);
  Bytes t, block;
  size_t done = 0;
  for (uint8_t i = 1; done < length; i++) {
    block = t;
    append(block, info);
    block.push_back(i);
    crypto::zeroize(t.data(), t.size());
    t = crypto::hmac(crypto::HashAlg::kSha256, prk, block);
    size_t n = std::min(t.size(), length - done);
    std::copy(t.begin(), t.begin() + static_cast<long>(n), out.data() + done);
    done += n;
  }
  crypto::zeroize(t.data(), t.size());
  crypto::zeroize(block.data(), block.size());
  return out;
}

crypto::SecureBytes labeled_extract(ByteView suite, ByteView salt, std::string_view label, ByteView ikm) {
  Bytes input;
  append(input, std::string_view("HPKE-v1"));
  append(input, suite);
  append(input, label);
  append(input, ikm);
  auto out = extract(salt, input);
  crypto::zeroize(input.data(), input.size());
  return out;
}

crypto::SecureBytes labeled_expand(ByteView suite, ByteView prk, std::string_view label, ByteView info, size_t length) {
  Bytes labeled;
  append_u16(labeled, static_cast<uint16_t>(length));
  append(labeled, std::string_view("HPKE-v1"));
  append(labeled, suite);
  append(labeled, label);
  append(labeled, info);
  return expand(prk, labeled, length);
}

Result<crypto::SecureBytes> dh(const crypto::SecureBytes& secret, ByteView public_key) {
  crypto::sodium_ready();
  if (public_key.size() != crypto_scalarmult_BYTES) return make_error("hpke.public_key", "an X25519 public key is 32 bytes");
  crypto::SecureBytes out(crypto_scalarmult_BYTES);
  // libsodium refuses an all-zero result (a low-order public key), as RFC 9180 section 7.1.4 asks.
  if (crypto_scalarmult(out.data(), secret.data(), public_key.data()) != 0) {
    return make_error("hpke.public_key", "the X25519 public key is of low order");
  }
  return out;
}

crypto::SecureBytes extract_and_expand(ByteView dh_value, ByteView kem_context) {
  Bytes suite = kem_suite();
  auto prk = labeled_extract(suite, {}, "eae_prk", dh_value);
  return labeled_expand(suite, prk.view(), "shared_secret", kem_context, kHashBytes);
}

HpkeContext key_schedule(HpkeAead aead, const crypto::SecureBytes& shared_secret, ByteView info) {
  Bytes suite = hpke_suite(aead);
  auto psk_id_hash = labeled_extract(suite, {}, "psk_id_hash", {});
  auto info_hash = labeled_extract(suite, {}, "info_hash", info);
  Bytes context{0};  // mode_base
  append(context, psk_id_hash.view());
  append(context, info_hash.view());
  auto secret = labeled_extract(suite, shared_secret.view(), "secret", {});
  auto key = labeled_expand(suite, secret.view(), "key", context, key_bytes(aead));
  auto nonce = labeled_expand(suite, secret.view(), "base_nonce", context, kNonceBytes);
  auto exporter = labeled_expand(suite, secret.view(), "exp", context, kHashBytes);
  return HpkeContext(aead, std::move(key), to_bytes(nonce.view()), std::move(exporter));
}

}  // namespace

HpkeKeyPair hpke_derive_key_pair(ByteView ikm) {
  crypto::sodium_ready();
  Bytes suite = kem_suite();
  auto prk = labeled_extract(suite, {}, "dkp_prk", ikm);
  HpkeKeyPair kp;
  kp.secret = labeled_expand(suite, prk.view(), "sk", {}, crypto_scalarmult_SCALARBYTES);
  kp.public_key.resize(crypto_scalarmult_BYTES);
  crypto_scalarmult_base(kp.public_key.data(), kp.secret.data());
  return kp;
}

HpkeKeyPair hpke_generate_key_pair() {
  crypto::SecureBytes ikm(crypto::random_bytes(32));
  return hpke_derive_key_pair(ikm.view());
}

Bytes HpkeContext::nonce() const {
  Bytes n = base_nonce_;
  for (int i = 0; i < 8; i++) n[kNonceBytes - 1 - static_cast<size_t>(i)] ^= static_cast<uint8_t>(seq_ >> (8 * i));
  return n;
}

Result<Bytes> HpkeContext::seal(ByteView aad, ByteView plaintext) {
  if (seq_ == UINT64_MAX) return make_error("hpke.sequence", "the context's message sequence is exhausted");
  Bytes n = nonce();
  Bytes out;
  switch (aead_) {
    case HpkeAead::kAes128Gcm: out = crypto::aes128gcm_seal(key_.view(), n, aad, plaintext); break;
    case HpkeAead::kAes256Gcm: out = crypto::aes256gcm_seal(key_.view(), n, aad, plaintext); break;
    case HpkeAead::kChaCha20Poly1305: {
      out.resize(plaintext.size() + crypto_aead_chacha20poly1305_ietf_ABYTES);
      unsigned long long len = 0;
      crypto_aead_chacha20poly1305_ietf_encrypt(out.data(), &len, plaintext.data(), plaintext.size(), aad.data(), aad.size(), nullptr, n.data(),
                                                key_.data());
      break;
    }
  }
  seq_++;
  return out;
}

Result<crypto::SecureBytes> HpkeContext::open(ByteView aad, ByteView ciphertext) {
  if (seq_ == UINT64_MAX) return make_error("hpke.sequence", "the context's message sequence is exhausted");
  if (ciphertext.size() < kHpkeTagBytes) return make_error("hpke.open", "the ciphertext is shorter than its tag");
  Bytes n = nonce();
  Result<crypto::SecureBytes> out = make_error("hpke.open", "not opened");
  switch (aead_) {
    case HpkeAead::kAes128Gcm: out = crypto::aes128gcm_open(key_.view(), n, aad, ciphertext); break;
    case HpkeAead::kAes256Gcm: out = crypto::aes256gcm_open(key_.view(), n, aad, ciphertext); break;
    case HpkeAead::kChaCha20Poly1305: {
      crypto::SecureBytes plain(ciphertext.size() - kHpkeTagBytes);
      unsigned long long len = 0;
      if (crypto_aead_chacha20poly1305_ietf_decrypt(plain.data(), &len, nullptr, ciphertext.data(), ciphertext.size(), aad.data(), aad.size(),
                                                    n.data(), key_.data()) == 0) {
        out = std::move(plain);
      }
      break;
    }
  }
  if (!out.ok()) return make_error("hpke.open", "the ciphertext does not open (wrong key, context, AAD or order)");
  seq_++;
  return out;
}

Result<crypto::SecureBytes> HpkeContext::export_secret(ByteView exporter_context, size_t length) const {
  if (length == 0 || length > kHpkeExportBytesMax) return make_error("hpke.export", "an exported secret is 1 to 8160 bytes");
  return labeled_expand(hpke_suite(aead_), exporter_.view(), "sec", exporter_context, length);
}

Result<HpkeSender> hpke_setup_base_s(ByteView recipient_public_key, ByteView info, HpkeAead aead, ByteView ikm_e) {
  HpkeKeyPair eph = ikm_e.empty() ? hpke_generate_key_pair() : hpke_derive_key_pair(ikm_e);
  SN_ASSIGN(crypto::SecureBytes dh_value, dh(eph.secret, recipient_public_key));
  Bytes kem_context = eph.public_key;
  append(kem_context, recipient_public_key);
  auto shared = extract_and_expand(dh_value.view(), kem_context);
  return HpkeSender{eph.public_key, key_schedule(aead, shared, info)};
}

Result<HpkeContext> hpke_setup_base_r(ByteView enc, const crypto::SecureBytes& recipient_secret, ByteView info, HpkeAead aead) {
  if (enc.size() != kHpkeEncBytes) return make_error("hpke.enc", "the encapsulated key is 32 bytes");
  if (recipient_secret.size() != crypto_scalarmult_SCALARBYTES) return make_error("hpke.secret", "an X25519 private key is 32 bytes");
  SN_ASSIGN(crypto::SecureBytes dh_value, dh(recipient_secret, enc));
  Bytes pk(crypto_scalarmult_BYTES);
  crypto_scalarmult_base(pk.data(), recipient_secret.data());
  Bytes kem_context = to_bytes(enc);
  append(kem_context, pk);
  auto shared = extract_and_expand(dh_value.view(), kem_context);
  return key_schedule(aead, shared, info);
}

Result<Bytes> hpke_seal(ByteView recipient_public_key, ByteView info, ByteView aad, ByteView plaintext, HpkeAead aead) {
  SN_ASSIGN(HpkeSender s, hpke_setup_base_s(recipient_public_key, info, aead));
  SN_ASSIGN(Bytes ct, s.context.seal(aad, plaintext));
  Bytes out = std::move(s.enc);
  append(out, ct);
  return out;
}

Result<crypto::SecureBytes> hpke_open(const crypto::SecureBytes& recipient_secret, ByteView info, ByteView aad, ByteView sealed, HpkeAead aead) {
  if (sealed.size() < kHpkeEncBytes + kHpkeTagBytes) return make_error("hpke.open", "too short for an encapsulated key and a tag");
  SN_ASSIGN(HpkeContext ctx, hpke_setup_base_r(sealed.first(kHpkeEncBytes), recipient_secret, info, aead));
  return ctx.open(aad, sealed.subspan(kHpkeEncBytes));
}

}  // namespace supernet::keys
