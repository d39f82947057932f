#include "crypto/secure.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <cstdlib>

namespace supernet::crypto {

void zeroize(void* p, size_t n) { OPENSSL_cleanse(p, n); }

bool ct_equal(ByteView a, ByteView b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

void random_fill(uint8_t* p, size_t n) {
  if (n == 0) return;
  // A failing system random source leaves no safe way to continue.
  if (RAND_bytes(p, static_cast<int>(n)) != 1) std::abort();
}

Bytes random_bytes(size_t n) {
  Bytes out(n);
  random_fill(out.data(), n);
  return out;
}

uint64_t random_u64() {
  Bytes r = random_bytes(8);
  uint64_t v = 0;
  for (uint8_t b : r) v = (v << 8) | b;
  return v >> 1;
}

}  // namespace supernet::crypto
