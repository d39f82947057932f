#include "crypto/keys.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <sodium.h>

#include <cassert>
#include <cstdlib>

namespace supernet::crypto {

void PkeyFree::operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }

static std::shared_ptr<EVP_PKEY> own(EVP_PKEY* k) {
  return std::shared_ptr<EVP_PKEY>(k, EVP_PKEY_free);
}

std::string openssl_error() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "no OpenSSL error detail";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

Result<PublicKey> PublicKey::from_pem(std::string_view pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* k = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (k == nullptr) return make_error("key.pem", "not a PEM public key: " + openssl_error());
  return PublicKey(own(k));
}

Result<PublicKey> PublicKey::from_spki(ByteView der) {
  const unsigned char* p = der.data();
  EVP_PKEY* k = d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size()));
  if (k == nullptr || p != der.data() + der.size()) {
    EVP_PKEY_free(k);
    return make_error("key.spki", "not a DER SubjectPublicKeyInfo: " + openssl_error());
  }
  return PublicKey(own(k));
}

Result<PublicKey> PublicKey::from_ec_point(Curve curve, ByteView point) {
  size_t coord = curve == Curve::kP256 ? 32 : 48;
  if (point.size() != 1 + 2 * coord || point[0] != 0x04) {
    return make_error("key.ec_point", "EC point must be 0x04 || x || y of " +
                                          std::to_string(1 + 2 * coord) + " bytes");
  }
  const char* group = curve == Curve::kP256 ? "prime256v1" : "secp384r1";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, const_cast<char*>(group), 0),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
                                        const_cast<uint8_t*>(point.data()), point.size()),
      OSSL_PARAM_construct_end()};
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr);
  EVP_PKEY* k = nullptr;
  bool ok = ctx != nullptr && EVP_PKEY_fromdata_init(ctx) == 1 &&
            EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_PUBLIC_KEY, params) == 1;
  EVP_PKEY_CTX_free(ctx);
  if (!ok) return make_error("key.ec_point", "EC point is not on the curve: " + openssl_error());
  // fromdata does not check that the point lies on the curve; do it here. P-256 and P-384 have
  // cofactor 1, so a point on the curve is in the prime-order group and the quick check
  // (no scalar multiplication by the order) is complete.
  EVP_PKEY_CTX* check = EVP_PKEY_CTX_new_from_pkey(nullptr, k, nullptr);
  bool on_curve = check != nullptr && EVP_PKEY_public_check_quick(check) == 1;
  EVP_PKEY_CTX_free(check);
  if (!on_curve) {
    EVP_PKEY_free(k);
    return make_error("key.ec_point", "EC point is not on the curve");
  }
  return PublicKey(own(k));
}

Bytes PublicKey::spki_der() const {
  assert(valid());
  unsigned char* out = nullptr;
  int len = i2d_PUBKEY(k_.get(), &out);
  if (len <= 0) std::abort();
  Bytes der(out, out + len);
  OPENSSL_free(out);
  return der;
}

std::string PublicKey::pem() const {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, k_.get());
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(len));
  BIO_free(bio);
  return out;
}

std::string PublicKey::describe() const {
  if (!valid()) return "none";
  int id = EVP_PKEY_get_base_id(k_.get());
  if (id == EVP_PKEY_EC) {
    char name[64] = {0};
    size_t len = 0;
    EVP_PKEY_get_utf8_string_param(k_.get(), OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof name, &len);
    std::string g(name);
    if (g == "prime256v1") return "EC P-256";
    if (g == "secp384r1") return "EC P-384";
    return "EC " + g;
  }
  if (id == EVP_PKEY_RSA || id == EVP_PKEY_RSA_PSS) {
    return "RSA-" + std::to_string(EVP_PKEY_get_bits(k_.get()));
  }
  if (id == EVP_PKEY_ED25519) return "Ed25519";
  return "key type " + std::to_string(id);
}

static const EVP_MD* md_of(HashAlg alg) {
  switch (alg) {
    case HashAlg::kSha256:
      return EVP_sha256();
    case HashAlg::kSha384:
      return EVP_sha384();
    case HashAlg::kSha512:
      return EVP_sha512();
  }
  std::abort();
}

Status PublicKey::verify_ecdsa_der(HashAlg alg, ByteView data, ByteView der_sig) const {
  if (!valid() || EVP_PKEY_get_base_id(k_.get()) != EVP_PKEY_EC) {
    return make_error("sig.key", "ECDSA verification needs an EC key, have " + describe());
  }
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = ctx != nullptr && EVP_DigestVerifyInit(ctx, nullptr, md_of(alg), nullptr, k_.get()) == 1 &&
            EVP_DigestVerify(ctx, der_sig.data(), der_sig.size(), data.data(), data.size()) == 1;
  EVP_MD_CTX_free(ctx);
  ERR_clear_error();
  if (!ok) return make_error("sig.invalid", std::string("ECDSA ") + hash_name(alg) + " signature does not verify");
  return ok_status();
}

Status PublicKey::verify_ecdsa_raw(HashAlg alg, ByteView data, ByteView r_s) const {
  SN_ASSIGN(Bytes der, ecdsa_raw_to_der(r_s));
  return verify_ecdsa_der(alg, data, der);
}

bool PublicKey::is_rsa_key(ByteView modulus, uint64_t exponent) const {
  if (!valid() || EVP_PKEY_get_base_id(k_.get()) != EVP_PKEY_RSA) return false;
  BIGNUM* n = nullptr;
  BIGNUM* e = nullptr;
  bool ok = EVP_PKEY_get_bn_param(k_.get(), OSSL_PKEY_PARAM_RSA_N, &n) == 1 &&
            EVP_PKEY_get_bn_param(k_.get(), OSSL_PKEY_PARAM_RSA_E, &e) == 1;
  BIGNUM* want = ok ? BN_bin2bn(modulus.data(), static_cast<int>(modulus.size()), nullptr) : nullptr;
  ok = ok && want != nullptr && BN_cmp(n, want) == 0 && BN_is_word(e, exponent);
  BN_free(n);
  BN_free(e);
  BN_free(want);
  return ok;
}

Status PublicKey::verify_rsa_pkcs1(HashAlg alg, ByteView data, ByteView sig) const {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  bool ok = ctx != nullptr && valid() && EVP_PKEY_get_base_id(k_.get()) == EVP_PKEY_RSA &&
            EVP_DigestVerifyInit(ctx, &pctx, md_of(alg), nullptr, k_.get()) == 1 &&
            EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1 &&
            EVP_DigestVerify(ctx, sig.data(), sig.size(), data.data(), data.size()) == 1;
  EVP_MD_CTX_free(ctx);
  ERR_clear_error();
  if (!ok) return make_error("sig.invalid", "RSASSA-PKCS1-v1_5 signature does not verify");
  return ok_status();
}

Status PublicKey::verify_rsa_pss(HashAlg alg, ByteView data, ByteView sig, int salt_len) const {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  bool ok = ctx != nullptr && EVP_DigestVerifyInit(ctx, &pctx, md_of(alg), nullptr, k_.get()) == 1 &&
            EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
            EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, salt_len) == 1 &&
            EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md_of(alg)) == 1 &&
            EVP_DigestVerify(ctx, sig.data(), sig.size(), data.data(), data.size()) == 1;
  EVP_MD_CTX_free(ctx);
  ERR_clear_error();
  if (!ok) return make_error("sig.invalid", "RSA-PSS signature does not verify");
  return ok_status();
}

PrivateKey PrivateKey::generate_ec(Curve curve) {
  EVP_PKEY* k = EVP_EC_gen(curve == Curve::kP256 ? "P-256" : "P-384");
  if (k == nullptr) std::abort();
  PrivateKey out;
  out.k_ = own(k);
  return out;
}

PrivateKey PrivateKey::ec_from_seed(Curve curve, ByteView seed32) {
  const int nid = curve == Curve::kP256 ? NID_X9_62_prime256v1 : NID_secp384r1;
  EC_GROUP* group = EC_GROUP_new_by_curve_name(nid);
  BN_CTX* bn = BN_CTX_new();
  BIGNUM* d = BN_bin2bn(seed32.data(), static_cast<int>(seed32.size()), nullptr);
  BIGNUM* one = BN_new();
  EC_POINT* pub = group != nullptr ? EC_POINT_new(group) : nullptr;
  if (group == nullptr || bn == nullptr || d == nullptr || one == nullptr || pub == nullptr) std::abort();
  // d = seed mod (n - 1) + 1: a valid scalar in [1, n - 1].
  BIGNUM* n1 = BN_dup(EC_GROUP_get0_order(group));
  if (n1 == nullptr || BN_one(one) != 1 || BN_sub(n1, n1, one) != 1 || BN_nnmod(d, d, n1, bn) != 1 ||
      BN_add(d, d, one) != 1 || EC_POINT_mul(group, pub, d, nullptr, nullptr, bn) != 1) {
    std::abort();
  }
  size_t coord = curve == Curve::kP256 ? 32 : 48;
  Bytes priv(coord), point(1 + 2 * coord);
  if (BN_bn2binpad(d, priv.data(), static_cast<int>(priv.size())) < 0 ||
      EC_POINT_point2oct(group, pub, POINT_CONVERSION_UNCOMPRESSED, point.data(), point.size(), bn) != point.size()) {
    std::abort();
  }
  BN_clear_free(d);
  BN_free(n1);
  BN_free(one);
  EC_POINT_free(pub);
  BN_CTX_free(bn);
  EC_GROUP_free(group);
  // OSSL_PKEY_PARAM_PRIV_KEY is a native-endian integer in OSSL_PARAM terms.
  BIGNUM* dp = BN_bin2bn(priv.data(), static_cast<int>(priv.size()), nullptr);
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  if (dp == nullptr || bld == nullptr ||
      OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, curve == Curve::kP256 ? "prime256v1" : "secp384r1", 0) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, dp) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) != 1) {
    std::abort();
  }
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr);
  EVP_PKEY* k = nullptr;
  if (params == nullptr || ctx == nullptr || EVP_PKEY_fromdata_init(ctx) != 1 ||
      EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_KEYPAIR, params) != 1) {
    std::abort();
  }
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  BN_clear_free(dp);
  zeroize(priv.data(), priv.size());
  PrivateKey out;
  out.k_ = own(k);
  return out;
}

Result<PrivateKey> PrivateKey::from_der(ByteView der) {
  const unsigned char* p = der.data();
  EVP_PKEY* k = d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(der.size()));
  if (k == nullptr) return make_error("key.der", "not a DER private key: " + openssl_error());
  PrivateKey out;
  out.k_ = own(k);
  return out;
}

Result<PrivateKey> PrivateKey::from_pem(std::string_view pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* k = bio != nullptr ? PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr) : nullptr;
  BIO_free(bio);
  if (k == nullptr) return make_error("key.pem", "not a PEM private key: " + openssl_error());
  PrivateKey out;
  out.k_ = own(k);
  return out;
}

PublicKey PrivateKey::public_key() const {
  assert(valid());
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(k_.get(), &der);
  if (len <= 0) std::abort();
  auto pk = PublicKey::from_spki(ByteView(der, static_cast<size_t>(len)));
  OPENSSL_free(der);
  if (!pk.ok()) std::abort();
  return std::move(pk).value();
}

SecureBytes PrivateKey::to_der() const {
  unsigned char* der = nullptr;
  int len = i2d_PrivateKey(k_.get(), &der);
  if (len <= 0) std::abort();
  SecureBytes out(ByteView(der, static_cast<size_t>(len)));
  OPENSSL_clear_free(der, static_cast<size_t>(len));
  return out;
}

SecureBytes PrivateKey::to_pem() const {
  BIO* bio = BIO_new(BIO_s_secmem());
  if (bio == nullptr || PEM_write_bio_PKCS8PrivateKey(bio, k_.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) std::abort();
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  SecureBytes out(ByteView(reinterpret_cast<const uint8_t*>(data), static_cast<size_t>(len)));
  BIO_free(bio);  // a secure-heap BIO clears its memory when freed
  return out;
}

Bytes PrivateKey::sign_ecdsa_der(HashAlg alg, ByteView data) const {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  size_t len = 0;
  bool ok = ctx != nullptr && EVP_DigestSignInit(ctx, nullptr, md_of(alg), nullptr, k_.get()) == 1 &&
            EVP_DigestSign(ctx, nullptr, &len, data.data(), data.size()) == 1;
  Bytes sig(len);
  ok = ok && EVP_DigestSign(ctx, sig.data(), &len, data.data(), data.size()) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok) std::abort();
  sig.resize(len);
  return sig;
}

Bytes PrivateKey::sign_ecdsa_raw(HashAlg alg, ByteView data) const {
  size_t half = static_cast<size_t>((EVP_PKEY_get_bits(k_.get()) + 7) / 8);
  auto raw = ecdsa_der_to_raw(sign_ecdsa_der(alg, data), half);
  if (!raw.ok()) std::abort();
  return std::move(raw).value();
}

static Result<Bytes> sig_to_der(BIGNUM* r, BIGNUM* s) {
  ECDSA_SIG* sig = ECDSA_SIG_new();
  if (sig == nullptr || r == nullptr || s == nullptr) {
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    return make_error("sig.encoding", "cannot build ECDSA signature");
  }
  ECDSA_SIG_set0(sig, r, s);
  unsigned char* der = nullptr;
  int len = i2d_ECDSA_SIG(sig, &der);
  ECDSA_SIG_free(sig);
  if (len <= 0) return make_error("sig.encoding", "cannot encode ECDSA signature");
  Bytes out(der, der + len);
  OPENSSL_free(der);
  return out;
}

Result<Bytes> ecdsa_raw_to_der(ByteView r_s) {
  if (r_s.empty() || r_s.size() % 2 != 0 || r_s.size() > 132) {
    return make_error("sig.encoding", "raw ECDSA signature has bad length " + std::to_string(r_s.size()));
  }
  int half = static_cast<int>(r_s.size() / 2);
  return sig_to_der(BN_bin2bn(r_s.data(), half, nullptr), BN_bin2bn(r_s.data() + half, half, nullptr));
}

Result<Bytes> ecdsa_le_to_der(ByteView r_le, ByteView s_le) {
  return sig_to_der(BN_lebin2bn(r_le.data(), static_cast<int>(r_le.size()), nullptr),
                    BN_lebin2bn(s_le.data(), static_cast<int>(s_le.size()), nullptr));
}

Result<Bytes> ecdsa_der_to_raw(ByteView der, size_t half_len) {
  const unsigned char* p = der.data();
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
  if (sig == nullptr) return make_error("sig.encoding", "not a DER ECDSA signature");
  Bytes out(2 * half_len);
  bool ok = BN_bn2binpad(ECDSA_SIG_get0_r(sig), out.data(), static_cast<int>(half_len)) > 0 &&
            BN_bn2binpad(ECDSA_SIG_get0_s(sig), out.data() + half_len, static_cast<int>(half_len)) > 0;
  ECDSA_SIG_free(sig);
  if (!ok) return make_error("sig.encoding", "ECDSA signature value too large");
  return out;
}

void sodium_ready() {
  static const bool ready = sodium_init() >= 0;
  if (!ready) std::abort();
}

Ed25519KeyPair ed25519_generate() {
  sodium_ready();
  Ed25519KeyPair kp{Bytes(crypto_sign_PUBLICKEYBYTES), SecureBytes(crypto_sign_SECRETKEYBYTES)};
  crypto_sign_keypair(kp.public_key.data(), kp.secret_key.data());
  return kp;
}

Ed25519KeyPair ed25519_from_seed(ByteView seed32) {
  sodium_ready();
  assert(seed32.size() == crypto_sign_SEEDBYTES);
  Ed25519KeyPair kp{Bytes(crypto_sign_PUBLICKEYBYTES), SecureBytes(crypto_sign_SECRETKEYBYTES)};
  crypto_sign_seed_keypair(kp.public_key.data(), kp.secret_key.data(), seed32.data());
  return kp;
}

Bytes ed25519_sign(const SecureBytes& secret_key, ByteView message) {
  sodium_ready();
  assert(secret_key.size() == crypto_sign_SECRETKEYBYTES);
  Bytes sig(crypto_sign_BYTES);
  crypto_sign_detached(sig.data(), nullptr, message.data(), message.size(), secret_key.data());
  return sig;
}

bool ed25519_verify(ByteView public_key, ByteView message, ByteView signature) {
  sodium_ready();
  if (public_key.size() != crypto_sign_PUBLICKEYBYTES || signature.size() != crypto_sign_BYTES) {
    return false;
  }
  return crypto_sign_verify_detached(signature.data(), message.data(), message.size(),
                                     public_key.data()) == 0;
}

}  // namespace supernet::crypto
