// Public and private keys (RAII over OpenSSL EVP_PKEY) and signatures.
#pragma once

#include <memory>
#include <string>

#include "crypto/hash.h"
#include "crypto/secure.h"
#include "util/bytes.h"
#include "util/result.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace supernet::crypto {

enum class Curve { kP256, kP384 };

struct PkeyFree {
  void operator()(EVP_PKEY* k) const;
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

// A public key of any type OpenSSL knows (EC, RSA, Ed25519). Immutable; cheap to share.
class PublicKey {
 public:
  PublicKey() = default;
  explicit PublicKey(std::shared_ptr<EVP_PKEY> k) : k_(std::move(k)) {}

  static Result<PublicKey> from_pem(std::string_view pem);
  // DER SubjectPublicKeyInfo.
  static Result<PublicKey> from_spki(ByteView der);
  // An uncompressed EC point (0x04 || x || y) on the given curve.
  static Result<PublicKey> from_ec_point(Curve curve, ByteView point);

  bool valid() const { return k_ != nullptr; }
  EVP_PKEY* get() const { return k_.get(); }
  Bytes spki_der() const;
  std::string pem() const;
  // "EC P-256", "EC P-384", "RSA-4096", ...
  std::string describe() const;

  // ECDSA with a DER-encoded signature.
  Status verify_ecdsa_der(HashAlg alg, ByteView data, ByteView der_sig) const;
  // ECDSA with the signature as big-endian r || s (COSE, DCAP), each half the same length.
  Status verify_ecdsa_raw(HashAlg alg, ByteView data, ByteView r_s) const;
  // True when this is an RSA key with exactly this big-endian modulus and exponent.
  bool is_rsa_key(ByteView modulus, uint64_t exponent) const;
  // RSASSA-PKCS1-v1_5.
  Status verify_rsa_pkcs1(HashAlg alg, ByteView data, ByteView sig) const;
  // RSASSA-PSS with MGF1 over the same hash and the given salt length.
  Status verify_rsa_pss(HashAlg alg, ByteView data, ByteView sig, int salt_len) const;

 private:
  std::shared_ptr<EVP_PKEY> k_;
};

// A private EC key. Created inside this process and never exported unsealed; the DER export
// exists only to hand the key to the sealing layer.
class PrivateKey {
 public:
  PrivateKey() = default;
  static PrivateKey generate_ec(Curve curve);
  // A key whose scalar is derived from a 32-byte seed: the simulator's seeded keys (its Rng
  // seam), so that a seed replays exactly. Never for a real key.
  static PrivateKey ec_from_seed(Curve curve, ByteView seed32);
  static Result<PrivateKey> from_der(ByteView pkcs8_der);
  // PKCS#8 PEM ("PRIVATE KEY"), unencrypted: for client credentials kept by their owner.
  static Result<PrivateKey> from_pem(std::string_view pem);

  bool valid() const { return k_ != nullptr; }
  EVP_PKEY* get() const { return k_.get(); }
  PublicKey public_key() const;
  // PKCS#8 DER of the private key, in a zeroizing buffer.
  SecureBytes to_der() const;
  // PKCS#8 PEM, in a zeroizing buffer.
  SecureBytes to_pem() const;

  // ECDSA signature, DER-encoded.
  Bytes sign_ecdsa_der(HashAlg alg, ByteView data) const;
  // ECDSA signature as big-endian r || s of the curve's width.
  Bytes sign_ecdsa_raw(HashAlg alg, ByteView data) const;

 private:
  std::shared_ptr<EVP_PKEY> k_;
};

// Converts between DER ECDSA-Sig-Value and fixed-width big-endian r || s.
Result<Bytes> ecdsa_raw_to_der(ByteView r_s);
Result<Bytes> ecdsa_der_to_raw(ByteView der, size_t half_len);
// Little-endian fixed-width r and s (AMD SEV-SNP) to DER.
Result<Bytes> ecdsa_le_to_der(ByteView r_le, ByteView s_le);

// libsodium, initialized once for the process (aborts if it cannot be).
void sodium_ready();

// Ed25519 (libsodium): 32-byte public keys, 64-byte signatures.
struct Ed25519KeyPair {
  Bytes public_key;
  SecureBytes secret_key;  // libsodium's 64-byte form
};
Ed25519KeyPair ed25519_generate();
// Deterministic key pair from a 32-byte seed (the simulator's seeded keys; tests).
Ed25519KeyPair ed25519_from_seed(ByteView seed32);
Bytes ed25519_sign(const SecureBytes& secret_key, ByteView message);
bool ed25519_verify(ByteView public_key, ByteView message, ByteView signature);

// Drops OpenSSL's thread-local error queue and returns its first entry as text.
std::string openssl_error();

}  // namespace supernet::crypto
