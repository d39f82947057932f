#include <gtest/gtest.h>

#include "crypto/aead.h"
#include "crypto/hash.h"
#include "crypto/keys.h"
#include "crypto/secure.h"
#include "crypto/x509.h"

namespace supernet::crypto {
namespace {

TEST(Hash, KnownAnswers) {
  EXPECT_EQ(to_hex(sha256(as_bytes("abc"))),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(to_hex(sha384(as_bytes("abc"))).substr(0, 16), "cb00753f45a35e8b");
  EXPECT_EQ(to_hex(sha512(as_bytes("abc"))).substr(0, 16), "ddaf35a193617aba");
  Hasher h(HashAlg::kSha256);
  h.update(as_bytes("a"));
  h.update(as_bytes("bc"));
  EXPECT_EQ(h.finish(), sha256(as_bytes("abc")));
}

TEST(Hash, HmacAndHkdfKnownAnswers) {
  // RFC 4231 test case 2.
  EXPECT_EQ(to_hex(hmac(HashAlg::kSha256, as_bytes("Jefe"), as_bytes("what do ya want for nothing?"))),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // RFC 5869 test case 1.
  Bytes ikm(22, 0x0b);
  Bytes salt = from_hex("000102030405060708090a0b0c").value();
  Bytes info = from_hex("f0f1f2f3f4f5f6f7f8f9").value();
  auto okm = hkdf_sha256(ikm, salt, info, 42);
  EXPECT_EQ(to_hex(okm.view()),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
}

TEST(Aead, RoundTripAndTamper) {
  Bytes key = random_bytes(32), nonce = random_bytes(12);
  Bytes ct = aes256gcm_seal(key, nonce, as_bytes("aad"), as_bytes("secret"));
  auto pt = aes256gcm_open(key, nonce, as_bytes("aad"), ct);
  ASSERT_TRUE(pt.ok());
  EXPECT_EQ(to_string(pt->view()), "secret");
  EXPECT_FALSE(aes256gcm_open(key, nonce, as_bytes("aaX"), ct).ok());
  ct[0] ^= 1;
  EXPECT_EQ(aes256gcm_open(key, nonce, as_bytes("aad"), ct).error().code, "aead.auth");
  EXPECT_EQ(aes256gcm_open(key, nonce, {}, Bytes(3)).error().code, "aead.short");
}

// RFC 5297 appendix A.1 (deterministic) and A.2 (nonce-based: the nonce is the last header
// component), AES-SIV with a 256-bit key (AES-128-SIV), as published.
TEST(Aead, AesSivRfc5297Vectors) {
  auto h = [](std::string_view x) { return from_hex(x).value(); };
  Bytes k1 = h("fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");
  Bytes ad1 = h("101112131415161718191a1b1c1d1e1f2021222324252627");
  Bytes p1 = h("112233445566778899aabbccddee");
  Bytes c1 = aes_siv_seal(k1, {ad1}, p1).value();
  EXPECT_EQ(to_hex(c1), "85632d07c6e8f37f950acd320a2ecc9340c02b9690c4dc04daef7f6afe5c");
  auto o1 = aes_siv_open(k1, {ad1}, c1);
  ASSERT_TRUE(o1.ok());
  EXPECT_EQ(to_bytes(o1->view()), p1);
  Bytes k2 = h("7f7e7d7c7b7a79787776757473727170404142434445464748494a4b4c4d4e4f");
  Bytes a = h("00112233445566778899aabbccddeeffdeaddadadeaddadaffeeddccbbaa99887766554433221100");
  Bytes b = h("102030405060708090a0");
  Bytes nonce = h("09f911029d74e35bd84156c5635688c0");
  Bytes p2 = h("7468697320697320736f6d6520706c61696e7465787420746f20656e6372797074207573696e67205349562d414553");
  Bytes c2 = aes_siv_seal(k2, {a, b, nonce}, p2).value();
  EXPECT_EQ(to_hex(c2), "7bdb6e3b432667eb06f4d14bff2fbd0fcb900f2fddbe404326601965c889bf17dba77ceb094fa663b7a3f748ba8af829ea64ad544a272e9c485b62a3fd5c0d");
  // Deterministic; any change of key, header component (or their split) or byte fails.
  EXPECT_EQ(aes_siv_seal(k2, {a, b, nonce}, p2).value(), c2);
  EXPECT_FALSE(aes_siv_open(k1, {a, b, nonce}, c2).ok());
  EXPECT_FALSE(aes_siv_open(k2, {a, b}, c2).ok());
  EXPECT_FALSE(aes_siv_open(k2, {concat({a, b}), nonce}, c2).ok());
  Bytes bad = c2;
  bad.back() ^= 1;
  EXPECT_FALSE(aes_siv_open(k2, {a, b, nonce}, bad).ok());
  bad = c2;
  bad[0] ^= 1;
  EXPECT_FALSE(aes_siv_open(k2, {a, b, nonce}, bad).ok());
  // A 512-bit key (AES-256-SIV); an empty plaintext, a short input and other key sizes refused.
  Bytes k3(64, 3);
  Bytes e = aes_siv_seal(k3, {ad1}, Bytes{7}).value();
  EXPECT_EQ(e.size(), kAesSivTagBytes + 1);
  auto oe = aes_siv_open(k3, {ad1}, e);
  ASSERT_TRUE(oe.ok());
  EXPECT_EQ(to_bytes(oe->view()), Bytes{7});
  EXPECT_FALSE(aes_siv_seal(k3, {ad1}, {}).ok());
  EXPECT_FALSE(aes_siv_open(k3, {ad1}, Bytes(16, 0)).ok());
  EXPECT_FALSE(aes_siv_open(Bytes(16, 0), {ad1}, e).ok());
  EXPECT_FALSE(aes_siv_seal(Bytes(16, 0), {ad1}, p1).ok());
}

TEST(Aead, OpenerReusesOneKeyAcrossRecords) {
  Bytes key = random_bytes(32);
  AesGcmOpener opener(key);
  AesGcmSealer sealer(key);
  for (int i = 0; i < 3; i++) {
    Bytes nonce = random_bytes(12);
    Bytes msg(1000 + static_cast<size_t>(i), static_cast<uint8_t>(i));
    Bytes ct = aes256gcm_seal(key, nonce, as_bytes("r"), msg);
    Bytes ct2(msg.size() + kAesGcmTagBytes);
    sealer.seal_into(nonce, as_bytes("r"), msg, ct2.data());
    EXPECT_EQ(ct2, ct);  // the same bytes as the one-shot form
    Bytes out(msg.size());
    ASSERT_TRUE(opener.open_into(nonce, as_bytes("r"), ct, out.data()).ok());
    EXPECT_EQ(out, msg);
    ct[5] ^= 1;  // a tampered record fails, and the next good one still opens
    EXPECT_EQ(opener.open_into(nonce, as_bytes("r"), ct, out.data()).error().code, "aead.auth");
    EXPECT_EQ(out, Bytes(msg.size(), 0));
  }
}

TEST(Secure, ConstantTimeCompare) {
  EXPECT_TRUE(ct_equal(as_bytes("abc"), as_bytes("abc")));
  EXPECT_FALSE(ct_equal(as_bytes("abc"), as_bytes("abd")));
  EXPECT_FALSE(ct_equal(as_bytes("abc"), as_bytes("ab")));
}

TEST(Keys, EcdsaSignVerifyBothEncodings) {
  for (Curve c : {Curve::kP256, Curve::kP384}) {
    auto key = PrivateKey::generate_ec(c);
    HashAlg h = c == Curve::kP256 ? HashAlg::kSha256 : HashAlg::kSha384;
    Bytes der = key.sign_ecdsa_der(h, as_bytes("msg"));
    EXPECT_TRUE(key.public_key().verify_ecdsa_der(h, as_bytes("msg"), der).ok());
    EXPECT_FALSE(key.public_key().verify_ecdsa_der(h, as_bytes("msX"), der).ok());
    Bytes raw = key.sign_ecdsa_raw(h, as_bytes("msg"));
    EXPECT_EQ(raw.size(), c == Curve::kP256 ? 64u : 96u);
    EXPECT_TRUE(key.public_key().verify_ecdsa_raw(h, as_bytes("msg"), raw).ok());
    raw[5] ^= 1;
    EXPECT_FALSE(key.public_key().verify_ecdsa_raw(h, as_bytes("msg"), raw).ok());
    auto again = PrivateKey::from_der(key.to_der().view());
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->public_key().spki_der(), key.public_key().spki_der());
  }
}

TEST(Keys, EcPointRejectsOffCurve) {
  Bytes point(65, 0);
  point[0] = 4;
  point[64] = 1;
  EXPECT_FALSE(PublicKey::from_ec_point(Curve::kP256, point).ok());
  EXPECT_FALSE(PublicKey::from_ec_point(Curve::kP256, Bytes(10)).ok());
}

TEST(Keys, Ed25519) {
  auto kp = ed25519_generate();
  Bytes sig = ed25519_sign(kp.secret_key, as_bytes("hello"));
  EXPECT_TRUE(ed25519_verify(kp.public_key, as_bytes("hello"), sig));
  sig[0] ^= 1;
  EXPECT_FALSE(ed25519_verify(kp.public_key, as_bytes("hello"), sig));
}

TEST(X509, SelfSignedWithExtension) {
  auto key = PrivateKey::generate_ec(Curve::kP256);
  UnixSeconds now = now_unix();
  auto cert = make_self_signed(key, "node-1", now - 60, now + 3600,
                               {{"2.23.133.5.4.9", to_bytes(std::string_view("payload")), false}});
  ASSERT_TRUE(cert.ok()) << cert.error().to_string();
  EXPECT_EQ(cert->common_name(), "node-1");
  EXPECT_EQ(to_string(*cert->extension("2.23.133.5.4.9")), "payload");
  EXPECT_FALSE(cert->extension("1.2.3.4").has_value());
  EXPECT_TRUE(cert->verify_signed_by(*cert).ok());
  EXPECT_TRUE(cert->check_time(now).ok());
  EXPECT_EQ(cert->check_time(now + 7200).error().code, "x509.expired");
  auto reparsed = Certificate::from_der(cert->der());
  ASSERT_TRUE(reparsed.ok());
  // Pinned by its own key, the chain is just the certificate.
  auto chain = verify_chain(*cert, {}, {cert->spki_sha256()}, now);
  ASSERT_TRUE(chain.ok());
  EXPECT_EQ(chain->size(), 1u);
  EXPECT_EQ(verify_chain(*cert, {}, {Bytes(32)}, now).error().code, "chain.untrusted_root");
}

TEST(X509, GarbageIsAnError) {
  EXPECT_FALSE(Certificate::from_der(as_bytes("not a cert")).ok());
  EXPECT_FALSE(Certificate::all_from_pem("nothing").ok());
  EXPECT_FALSE(Crl::from_der(as_bytes("xx")).ok());
}

}  // namespace
}  // namespace supernet::crypto

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

namespace supernet::crypto {
namespace {

// Signs with RSA-PSS through OpenSSL directly, so the wrapper's verify is checked independently.
Bytes rsa_pss_sign(EVP_PKEY* key, ByteView data, int salt_len) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  size_t len = 0;
  EVP_DigestSignInit(ctx, &pctx, EVP_sha384(), nullptr, key);
  EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
  EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, salt_len);
  EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha384());
  EVP_DigestSign(ctx, nullptr, &len, data.data(), data.size());
  Bytes sig(len);
  EVP_DigestSign(ctx, sig.data(), &len, data.data(), data.size());
  EVP_MD_CTX_free(ctx);
  sig.resize(len);
  return sig;
}

TEST(Keys, RsaPssVerify) {
  EVP_PKEY* raw = EVP_RSA_gen(2048);
  ASSERT_NE(raw, nullptr);
  PublicKey pub(std::shared_ptr<EVP_PKEY>(raw, EVP_PKEY_free));
  Bytes sig = rsa_pss_sign(raw, as_bytes("report"), 48);
  EXPECT_TRUE(pub.verify_rsa_pss(HashAlg::kSha384, as_bytes("report"), sig, 48).ok());
  EXPECT_FALSE(pub.verify_rsa_pss(HashAlg::kSha384, as_bytes("reporT"), sig, 48).ok());
  EXPECT_FALSE(pub.verify_rsa_pss(HashAlg::kSha384, as_bytes("report"), sig, 32).ok());
  sig[10] ^= 1;
  EXPECT_FALSE(pub.verify_rsa_pss(HashAlg::kSha384, as_bytes("report"), sig, 48).ok());
  EXPECT_EQ(pub.describe(), "RSA-2048");
}

}  // namespace
}  // namespace supernet::crypto

namespace supernet::crypto {
namespace {

std::string pem_of(const Certificate& c) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, c.get());
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(len));
  BIO_free(bio);
  return out;
}

TEST(X509, PemCacheReturnsSameParseAndStaysBounded) {
  Certificate::clear_pem_cache();
  auto key = PrivateKey::generate_ec(Curve::kP256);
  std::string pem = pem_of(make_self_signed(key, "a", 0, 100, {}).value());
  auto first = Certificate::all_from_pem_cached(pem);
  auto second = Certificate::all_from_pem_cached(pem);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ((*first)[0].get(), (*second)[0].get());  // the same parsed object
  std::string other = pem_of(make_self_signed(key, "b", 0, 100, {}).value());
  EXPECT_EQ((*Certificate::all_from_pem_cached(other))[0].common_name(), "b");
  EXPECT_FALSE(Certificate::all_from_pem_cached("garbage").ok());
  for (size_t i = 0; i < kPemCacheEntriesMax + 5; i++) {
    std::string p = pem + std::string(i, '\n');  // distinct bytes, same certificate
    ASSERT_TRUE(Certificate::all_from_pem_cached(p).ok());
  }
}

}  // namespace
}  // namespace supernet::crypto
