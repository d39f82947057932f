// Sealing: AES-256-GCM under the platform's measurement-bound sealing key.
//
// Blob format, version 1:
//   "SNSEAL" (6) | version u8 = 1 | platform kind u8 | nonce (12) | ciphertext || tag (16)
// AAD = the 8 header bytes || u32 big-endian label length || label.
// A flipped bit, a wrong label, or another measurement's key each fail to unseal.
#pragma once

#include <string_view>

#include "crypto/secure.h"
#include "tee/platform.h"

namespace supernet::tee {

inline constexpr size_t kSealHeaderBytes = 8;
inline constexpr size_t kSealOverheadBytes = kSealHeaderBytes + 12 + 16;
inline constexpr size_t kSealLabelBytesMax = 256;

Result<Bytes> seal(Platform& platform, std::string_view label, ByteView plaintext);
Result<crypto::SecureBytes> unseal(Platform& platform, std::string_view label, ByteView blob);

// A node's own state, bound to its owner and a version. Blob format version 2:
//   "SNSEAL" (6) | version u8 = 2 | platform kind u8 | owner u32 | version u64 | nonce (12) |
//   ciphertext || tag (16), AAD = the 20 header bytes || u32 label length || label.
// The owner is the node id: on one machine (one sealing key) a node refuses another node's
// blob, by name. The version is the writer's counter, authenticated: a reader that knows the
// version it expects (from the ledger, or its own later state) detects a rolled-back blob.
struct Unsealed {
  crypto::SecureBytes plaintext;
  uint64_t version = 0;
};
inline constexpr size_t kBoundSealHeaderBytes = 20;
Result<Bytes> seal_bound(Platform& platform, std::string_view label, uint32_t owner, uint64_t version, ByteView plaintext);
Result<Unsealed> unseal_bound(Platform& platform, std::string_view label, uint32_t owner, ByteView blob);

// The same with an explicit key, for tests and for keys released by the network.
Result<Bytes> seal_with_key(ByteView key, Kind kind, std::string_view label, ByteView plaintext);
Result<crypto::SecureBytes> unseal_with_key(ByteView key, Kind kind, std::string_view label, ByteView blob);

}  // namespace supernet::tee
