// X.509 certificates and CRLs (RAII over OpenSSL), chain building with a pinned root key,
// and self-signed certificates carrying a custom extension (RA-TLS).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "crypto/keys.h"
#include "util/bytes.h"
#include "util/result.h"
#include "util/time.h"

typedef struct x509_st X509;
typedef struct X509_crl_st X509_CRL;

namespace supernet::crypto {

inline constexpr size_t kPemCacheEntriesMax = 256;

class Certificate {
 public:
  Certificate() = default;
  static Result<Certificate> from_der(ByteView der);
  // Every certificate in a PEM text, in file order. No certificate is an error.
  static Result<std::vector<Certificate>> all_from_pem(std::string_view pem);
  static Result<Certificate> adopt(X509* x);  // takes ownership
  // all_from_pem, reusing the parse of byte-identical input seen before. Peers present the same
  // chains again and again (a quote's PCK chain on every connection), and OpenSSL 3 spends
  // about two signature verifications' worth of time decoding each certificate. The cache is
  // keyed by SHA-256 of the exact bytes, holds at most kPemCacheEntriesMax chains, and is
  // safe to use from several threads. Certificates are immutable, so sharing them is safe.
  static Result<std::vector<Certificate>> all_from_pem_cached(std::string_view pem);
  // from_der through the same cache.
  static Result<Certificate> from_der_cached(ByteView der);
  static void clear_pem_cache();

  bool valid() const { return x_ != nullptr; }
  X509* get() const { return x_.get(); }
  Bytes der() const;
  std::string pem() const;
  std::string subject() const;  // one-line RFC 2253 form
  std::string issuer() const;
  std::string common_name() const;
  std::string serial_hex() const;
  UnixSeconds not_before() const;
  UnixSeconds not_after() const;
  PublicKey public_key() const;
  Bytes spki_sha256() const;
  bool is_ca() const;
  bool is_self_issued() const;

  // The contents of the extension's extnValue OCTET STRING, or nullopt when absent.
  std::optional<Bytes> extension(const std::string& oid) const;

  // Checks this certificate's signature with `issuer`'s key (any algorithm, incl. RSA-PSS).
  Status verify_signed_by(const Certificate& issuer) const;
  Status check_time(UnixSeconds at) const;

 private:
  std::shared_ptr<X509> x_;
};

class Crl {
 public:
  static Result<Crl> from_der(ByteView der);
  static Result<Crl> from_pem(std::string_view pem);

  X509_CRL* get() const { return c_.get(); }
  std::string issuer() const;
  UnixSeconds this_update() const;
  std::optional<UnixSeconds> next_update() const;
  size_t entry_count() const;
  Status verify_signed_by(const Certificate& issuer) const;
  bool lists(const Certificate& cert) const;

 private:
  std::shared_ptr<X509_CRL> c_;
};

// Builds and verifies the chain leaf -> ... -> root from an unordered pool. The root is the
// certificate whose SPKI SHA-256 equals one of `pinned_root_spki_sha256`; it must be
// self-signed. Every certificate must be valid at `at`; issuers must be CAs.
// Returns the chain, leaf first.
Result<std::vector<Certificate>> verify_chain(const Certificate& leaf,
                                              const std::vector<Certificate>& pool,
                                              const std::vector<Bytes>& pinned_root_spki_sha256,
                                              UnixSeconds at, size_t depth_max = 6);

// Checks a CRL against the chain: signed by the certificate that issued `subject`, current
// at `at`, and not listing `subject`.
Status check_crl(const Crl& crl, const Certificate& crl_issuer, const Certificate& subject,
                 UnixSeconds at);

struct CertExtension {
  std::string oid;
  Bytes value;  // becomes the extnValue contents
  bool critical = false;
};

// A self-signed certificate over `key` (ECDSA with SHA-256 or SHA-384 by curve).
Result<Certificate> make_self_signed(const PrivateKey& key, const std::string& common_name,
                                     UnixSeconds not_before, UnixSeconds not_after,
                                     const std::vector<CertExtension>& extensions);

}  // namespace supernet::crypto
