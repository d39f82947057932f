#include "crypto/x509.h"

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cassert>
#include <ctime>
#include <map>
#include <mutex>

#include "crypto/secure.h"

namespace supernet::crypto {

static std::shared_ptr<X509> own(X509* x) { return std::shared_ptr<X509>(x, X509_free); }

static UnixSeconds asn1_time_to_unix(const ASN1_TIME* t) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return static_cast<UnixSeconds>(timegm(&tm));
}

static std::string name_text(const X509_NAME* name) {
  BIO* bio = BIO_new(BIO_s_mem());
  X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(len));
  BIO_free(bio);
  return out;
}

Result<Certificate> Certificate::adopt(X509* x) {
  if (x == nullptr) return make_error("x509.null", "no certificate");
  Certificate c;
  c.x_ = own(x);
  return c;
}

Result<Certificate> Certificate::from_der(ByteView der) {
  const unsigned char* p = der.data();
  X509* x = d2i_X509(nullptr, &p, static_cast<long>(der.size()));
  if (x == nullptr) return make_error("x509.parse", "not a DER X.509 certificate: " + openssl_error());
  if (p != der.data() + der.size()) {
    X509_free(x);
    return make_error("x509.parse", "trailing bytes after DER certificate");
  }
  return adopt(x);
}

Result<std::vector<Certificate>> Certificate::all_from_pem(std::string_view pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  std::vector<Certificate> out;
  while (true) {
    X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    if (x == nullptr) break;
    out.push_back(std::move(adopt(x).value()));
    if (out.size() > 64) break;  // bound: no legitimate chain is this long
  }
  BIO_free(bio);
  ERR_clear_error();
  if (out.empty()) return make_error("x509.pem", "no PEM certificate found");
  return out;
}

namespace {
struct PemCache {
  std::mutex mu;
  std::map<Bytes, std::vector<Certificate>> entries;
};
PemCache& pem_cache() {
  static PemCache cache;
  return cache;
}
}  // namespace

Result<std::vector<Certificate>> Certificate::all_from_pem_cached(std::string_view pem) {
  Bytes key = sha256(as_bytes(pem));
  PemCache& cache = pem_cache();
  {
    std::lock_guard<std::mutex> lock(cache.mu);
    auto it = cache.entries.find(key);
    if (it != cache.entries.end()) return it->second;
  }
  SN_ASSIGN(auto certs, all_from_pem(pem));
  std::lock_guard<std::mutex> lock(cache.mu);
  if (cache.entries.size() >= kPemCacheEntriesMax) cache.entries.clear();  // bound; refills on use
  cache.entries.emplace(std::move(key), certs);
  return certs;
}

Result<Certificate> Certificate::from_der_cached(ByteView der) {
  Bytes key = sha256(concat({as_bytes("der:"), der}));
  PemCache& cache = pem_cache();
  {
    std::lock_guard<std::mutex> lock(cache.mu);
    auto it = cache.entries.find(key);
    if (it != cache.entries.end()) return it->second[0];
  }
  SN_ASSIGN(Certificate cert, from_der(der));
  std::lock_guard<std::mutex> lock(cache.mu);
  if (cache.entries.size() >= kPemCacheEntriesMax) cache.entries.clear();
  cache.entries.emplace(std::move(key), std::vector<Certificate>{cert});
  return cert;
}

void Certificate::clear_pem_cache() {
  std::lock_guard<std::mutex> lock(pem_cache().mu);
  pem_cache().entries.clear();
}

Bytes Certificate::der() const {
  unsigned char* out = nullptr;
  int len = i2d_X509(x_.get(), &out);
  if (len <= 0) return {};
  Bytes d(out, out + len);
  OPENSSL_free(out);
  return d;
}

std::string Certificate::pem() const {
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio == nullptr || PEM_write_bio_X509(bio, x_.get()) != 1) std::abort();
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(len));
  BIO_free(bio);
  return out;
}

std::string Certificate::subject() const { return name_text(X509_get_subject_name(x_.get())); }
std::string Certificate::issuer() const { return name_text(X509_get_issuer_name(x_.get())); }

std::string Certificate::common_name() const {
  char buf[256] = {0};
  X509_NAME_get_text_by_NID(X509_get_subject_name(x_.get()), NID_commonName, buf, sizeof buf);
  return buf;
}

std::string Certificate::serial_hex() const {
  BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x_.get()), nullptr);
  char* hex = BN_bn2hex(bn);
  std::string out(hex ? hex : "");
  OPENSSL_free(hex);
  BN_free(bn);
  return out;
}

UnixSeconds Certificate::not_before() const { return asn1_time_to_unix(X509_get0_notBefore(x_.get())); }
UnixSeconds Certificate::not_after() const { return asn1_time_to_unix(X509_get0_notAfter(x_.get())); }

PublicKey Certificate::public_key() const {
  EVP_PKEY* k = X509_get_pubkey(x_.get());  // new reference
  if (k == nullptr) return PublicKey();
  return PublicKey(std::shared_ptr<EVP_PKEY>(k, EVP_PKEY_free));
}

Bytes Certificate::spki_sha256() const {
  // Encode the certificate's stored SubjectPublicKeyInfo directly: going through EVP_PKEY would
  // run OpenSSL 3's encoder framework, several times slower.
  unsigned char* der = nullptr;
  int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x_.get()), &der);
  if (len <= 0) return {};
  Bytes h = sha256(ByteView(der, static_cast<size_t>(len)));
  OPENSSL_free(der);
  return h;
}

bool Certificate::is_ca() const { return X509_check_ca(x_.get()) != 0; }

bool Certificate::is_self_issued() const {
  return X509_NAME_cmp(X509_get_subject_name(x_.get()), X509_get_issuer_name(x_.get())) == 0;
}

std::optional<Bytes> Certificate::extension(const std::string& oid) const {
  ASN1_OBJECT* obj = OBJ_txt2obj(oid.c_str(), 1);
  if (obj == nullptr) return std::nullopt;
  int idx = X509_get_ext_by_OBJ(x_.get(), obj, -1);
  ASN1_OBJECT_free(obj);
  if (idx < 0) return std::nullopt;
  X509_EXTENSION* ext = X509_get_ext(x_.get(), idx);
  const ASN1_OCTET_STRING* data = X509_EXTENSION_get_data(ext);
  return Bytes(data->data, data->data + data->length);
}

Status Certificate::verify_signed_by(const Certificate& issuer) const {
  EVP_PKEY* k = X509_get0_pubkey(issuer.get());
  if (k == nullptr || X509_verify(x_.get(), k) != 1) {
    ERR_clear_error();
    return make_error("x509.signature", "certificate '" + subject() + "' is not signed by '" +
                                            issuer.subject() + "'");
  }
  return ok_status();
}

Status Certificate::check_time(UnixSeconds at) const {
  if (at < not_before()) {
    return make_error("x509.not_yet_valid", "certificate '" + subject() + "' is not valid before " +
                                                format_rfc3339(not_before()) + " (checked at " +
                                                format_rfc3339(at) + ")");
  }
  if (at > not_after()) {
    return make_error("x509.expired", "certificate '" + subject() + "' expired at " +
                                          format_rfc3339(not_after()) + " (checked at " +
                                          format_rfc3339(at) + ")");
  }
  return ok_status();
}

Result<Crl> Crl::from_der(ByteView der) {
  const unsigned char* p = der.data();
  X509_CRL* c = d2i_X509_CRL(nullptr, &p, static_cast<long>(der.size()));
  if (c == nullptr) return make_error("crl.parse", "not a DER CRL: " + openssl_error());
  Crl out;
  out.c_ = std::shared_ptr<X509_CRL>(c, X509_CRL_free);
  return out;
}

Result<Crl> Crl::from_pem(std::string_view pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509_CRL* c = PEM_read_bio_X509_CRL(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (c == nullptr) return make_error("crl.parse", "not a PEM CRL: " + openssl_error());
  Crl out;
  out.c_ = std::shared_ptr<X509_CRL>(c, X509_CRL_free);
  return out;
}

std::string Crl::issuer() const { return name_text(X509_CRL_get_issuer(c_.get())); }
UnixSeconds Crl::this_update() const { return asn1_time_to_unix(X509_CRL_get0_lastUpdate(c_.get())); }
std::optional<UnixSeconds> Crl::next_update() const {
  const ASN1_TIME* t = X509_CRL_get0_nextUpdate(c_.get());
  if (t == nullptr) return std::nullopt;
  return asn1_time_to_unix(t);
}
size_t Crl::entry_count() const {
  STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(c_.get());
  return revoked == nullptr ? 0 : static_cast<size_t>(sk_X509_REVOKED_num(revoked));
}

Status Crl::verify_signed_by(const Certificate& issuer) const {
  EVP_PKEY* k = X509_get0_pubkey(issuer.get());
  if (k == nullptr || X509_CRL_verify(c_.get(), k) != 1) {
    ERR_clear_error();
    return make_error("crl.signature", "CRL of '" + this->issuer() + "' is not signed by '" +
                                           issuer.subject() + "'");
  }
  return ok_status();
}

bool Crl::lists(const Certificate& cert) const {
  X509_REVOKED* entry = nullptr;
  return X509_CRL_get0_by_serial(c_.get(), &entry, X509_get0_serialNumber(cert.get())) == 1;
}

static bool spki_pinned(const Certificate& c, const std::vector<Bytes>& pins) {
  Bytes h = c.spki_sha256();
  for (const auto& p : pins) {
    if (ct_equal(h, p)) return true;
  }
  return false;
}

Result<std::vector<Certificate>> verify_chain(const Certificate& leaf,
                                              const std::vector<Certificate>& pool,
                                              const std::vector<Bytes>& pins, UnixSeconds at,
                                              size_t depth_max) {
  std::vector<Certificate> chain{leaf};
  for (size_t depth = 0; depth < depth_max; depth++) {
    const Certificate& cur = chain.back();
    SN_TRY(cur.check_time(at));
    if (cur.is_self_issued() && spki_pinned(cur, pins)) {
      SN_TRY(cur.verify_signed_by(cur));
      return chain;
    }
    // Candidates are certificates named as the issuer. Identical copies (a quote's embedded
    // chain and the collateral often repeat one) are tried once; a pinned root wins over an
    // unpinned certificate of the same name (a pool may hold an older DER of the root).
    const Certificate* issuer = nullptr;
    std::vector<const Certificate*> tried;
    for (const auto& cand : pool) {
      if (X509_NAME_cmp(X509_get_subject_name(cand.get()), X509_get_issuer_name(cur.get())) != 0) continue;
      if (X509_cmp(cand.get(), cur.get()) == 0) continue;
      bool seen = false;
      for (const Certificate* t : tried) seen = seen || X509_cmp(t->get(), cand.get()) == 0;
      if (seen) continue;
      tried.push_back(&cand);
      if (!cur.verify_signed_by(cand).ok()) continue;
      bool pinned = spki_pinned(cand, pins);
      if (issuer == nullptr || pinned) issuer = &cand;
      if (pinned) break;
    }
    if (issuer == nullptr) {
      if (cur.is_self_issued()) {
        return make_error("chain.untrusted_root", "chain ends at '" + cur.subject() +
                                                      "', whose key is not a pinned root");
      }
      return make_error("chain.no_issuer", "no certificate in the chain signed '" + cur.subject() +
                                               "' (issuer '" + cur.issuer() + "')");
    }
    if (!issuer->is_ca()) {
      return make_error("chain.not_ca", "issuer '" + issuer->subject() + "' is not a CA");
    }
    chain.push_back(*issuer);
  }
  return make_error("chain.too_long", "certificate chain longer than " + std::to_string(depth_max));
}

Status check_crl(const Crl& crl, const Certificate& crl_issuer, const Certificate& subject,
                 UnixSeconds at) {
  SN_TRY(crl.verify_signed_by(crl_issuer));
  if (at < crl.this_update()) {
    return make_error("crl.not_yet_valid", "CRL of '" + crl.issuer() + "' is not valid before " +
                                               format_rfc3339(crl.this_update()));
  }
  auto next = crl.next_update();
  if (next && at >= *next) {
    return make_error("crl.expired", "CRL of '" + crl.issuer() + "' expired at " +
                                         format_rfc3339(*next) + " (checked at " + format_rfc3339(at) + ")");
  }
  if (crl.lists(subject)) {
    return make_error("crl.revoked", "certificate '" + subject.subject() + "' serial " +
                                         subject.serial_hex() + " is revoked");
  }
  return ok_status();
}

Result<Certificate> make_self_signed(const PrivateKey& key, const std::string& common_name,
                                     UnixSeconds not_before, UnixSeconds not_after,
                                     const std::vector<CertExtension>& extensions) {
  X509* x = X509_new();
  auto fail = [&](const std::string& what) {
    X509_free(x);
    return make_error("x509.build", what + ": " + openssl_error());
  };
  if (x == nullptr) return make_error("x509.build", "out of memory");
  X509_set_version(x, 2);
  Bytes serial = random_bytes(16);
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(serial.data(), static_cast<int>(serial.size()), nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
  BN_free(bn);
  ASN1_TIME_set(X509_getm_notBefore(x), static_cast<time_t>(not_before));
  ASN1_TIME_set(X509_getm_notAfter(x), static_cast<time_t>(not_after));
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1, 0);
  X509_set_issuer_name(x, name);
  if (X509_set_pubkey(x, key.get()) != 1) return fail("set public key");
  for (const auto& e : extensions) {
    ASN1_OBJECT* obj = OBJ_txt2obj(e.oid.c_str(), 1);
    ASN1_OCTET_STRING* data = ASN1_OCTET_STRING_new();
    ASN1_OCTET_STRING_set(data, e.value.data(), static_cast<int>(e.value.size()));
    X509_EXTENSION* ext = X509_EXTENSION_create_by_OBJ(nullptr, obj, e.critical ? 1 : 0, data);
    bool ok = ext != nullptr && X509_add_ext(x, ext, -1) == 1;
    X509_EXTENSION_free(ext);
    ASN1_OCTET_STRING_free(data);
    ASN1_OBJECT_free(obj);
    if (!ok) return fail("add extension " + e.oid);
  }
  const EVP_MD* md = EVP_PKEY_get_bits(key.get()) > 256 ? EVP_sha384() : EVP_sha256();
  if (X509_sign(x, key.get(), md) <= 0) return fail("sign certificate");
  return Certificate::adopt(x);
}

}  // namespace supernet::crypto
