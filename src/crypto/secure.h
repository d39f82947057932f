// Secrets: zeroizing buffers, constant-time comparison, the system random source.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "util/bytes.h"

namespace supernet::crypto {

// Overwrites memory in a way the compiler may not elide.
void zeroize(void* p, size_t n);

// A byte buffer for key material; its contents are wiped when it is destroyed or reassigned.
class SecureBytes {
 public:
  SecureBytes() = default;
  explicit SecureBytes(size_t n) : b_(n) {}
  explicit SecureBytes(ByteView v) : b_(v.begin(), v.end()) {}
  SecureBytes(const SecureBytes& o) : b_(o.b_) {}
  SecureBytes(SecureBytes&& o) noexcept : b_(std::move(o.b_)) { o.b_.clear(); }
  SecureBytes& operator=(const SecureBytes& o) {
    if (this != &o) {
      wipe();
      b_ = o.b_;
    }
    return *this;
  }
  SecureBytes& operator=(SecureBytes&& o) noexcept {
    if (this != &o) {
      wipe();
      b_ = std::move(o.b_);
      o.b_.clear();
    }
    return *this;
  }
  ~SecureBytes() { wipe(); }

  uint8_t* data() { return b_.data(); }
  const uint8_t* data() const { return b_.data(); }
  size_t size() const { return b_.size(); }
  bool empty() const { return b_.empty(); }
  ByteView view() const { return ByteView(b_.data(), b_.size()); }

 private:
  void wipe() {
    if (!b_.empty()) zeroize(b_.data(), b_.size());
  }
  std::vector<uint8_t> b_;
};

// Constant-time equality for secrets and MACs; false when the lengths differ.
bool ct_equal(ByteView a, ByteView b);

// Cryptographically secure random bytes (OpenSSL DRBG seeded from the kernel).
Bytes random_bytes(size_t n);
// 63 random bits (so that JSON integers carry it exactly everywhere).
uint64_t random_u64();
void random_fill(uint8_t* p, size_t n);

}  // namespace supernet::crypto
