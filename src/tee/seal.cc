#include "tee/seal.h"

#include <cstring>

#include "crypto/aead.h"

namespace supernet::tee {

static constexpr char kMagic[6] = {'S', 'N', 'S', 'E', 'A', 'L'};
static constexpr uint8_t kVersion = 1;

static Bytes header(Kind kind) {
  Bytes h(kMagic, kMagic + 6);
  h.push_back(kVersion);
  h.push_back(static_cast<uint8_t>(kind));
  return h;
}

static Bytes aad_of(ByteView hdr, std::string_view label) {
  Bytes aad(hdr.begin(), hdr.end());
  uint8_t len[4];
  store_be32(len, static_cast<uint32_t>(label.size()));
  aad.insert(aad.end(), len, len + 4);
  aad.insert(aad.end(), label.begin(), label.end());
  return aad;
}

Result<Bytes> seal_with_key(ByteView key, Kind kind, std::string_view label, ByteView plaintext) {
  if (label.size() > kSealLabelBytesMax) return make_error("seal.label", "label longer than 256 bytes");
  Bytes hdr = header(kind);
  Bytes nonce = crypto::random_bytes(crypto::kAesGcmNonceBytes);
  Bytes ct = crypto::aes256gcm_seal(key, nonce, aad_of(hdr, label), plaintext);
  return concat({hdr, nonce, ct});
}

Result<crypto::SecureBytes> unseal_with_key(ByteView key, Kind kind, std::string_view label, ByteView blob) {
  if (blob.size() < kSealOverheadBytes || std::memcmp(blob.data(), kMagic, 6) != 0) {
    return make_error("seal.format", "not a sealed blob (bad magic or shorter than " + std::to_string(kSealOverheadBytes) + " bytes)");
  }
  if (blob[6] != kVersion) return make_error("seal.version", "sealed blob version " + std::to_string(blob[6]) + " is not supported");
  if (blob[7] != static_cast<uint8_t>(kind)) {
    return make_error("seal.platform", std::string("blob was sealed on another platform kind, this is ") + kind_name(kind));
  }
  ByteView hdr = blob.subspan(0, kSealHeaderBytes);
  ByteView nonce = blob.subspan(kSealHeaderBytes, crypto::kAesGcmNonceBytes);
  ByteView ct = blob.subspan(kSealHeaderBytes + crypto::kAesGcmNonceBytes);
  auto pt = crypto::aes256gcm_open(key, nonce, aad_of(hdr, label), ct);
  if (!pt.ok()) {
    return make_error("seal.auth", "cannot unseal '" + std::string(label) +
                                       "': wrong label, a key of another measurement or platform, or a modified blob");
  }
  return std::move(pt).value();
}

static Bytes bound_header(Kind kind, uint32_t owner, uint64_t version) {
  Bytes h(kMagic, kMagic + 6);
  h.push_back(2);
  h.push_back(static_cast<uint8_t>(kind));
  uint8_t b[12];
  store_be32(b, owner);
  for (int i = 0; i < 8; i++) b[4 + i] = static_cast<uint8_t>(version >> (56 - 8 * i));
  h.insert(h.end(), b, b + 12);
  return h;
}

#if defined(SUPERNET_BENCH_UNPROTECTED)
Result<Bytes> seal_bound(Platform& platform, std::string_view label, uint32_t owner, uint64_t version, ByteView plaintext) {
  return concat({bound_header(platform.kind(), owner, version), plaintext});
}
Result<Unsealed> unseal_bound(Platform& platform, std::string_view label, uint32_t owner, ByteView blob) {
  if (blob.size() < kBoundSealHeaderBytes) return make_error("seal.format", "not a blob of the unprotected benchmark build");
  uint64_t version = 0;
  for (int i = 0; i < 8; i++) version = (version << 8) | blob[12 + i];
  return Unsealed{crypto::SecureBytes(blob.subspan(kBoundSealHeaderBytes)), version};
}
#else
Result<Bytes> seal_bound(Platform& platform, std::string_view label, uint32_t owner, uint64_t version, ByteView plaintext) {
  if (label.size() > kSealLabelBytesMax) return make_error("seal.label", "label longer than 256 bytes");
  SN_ASSIGN(crypto::SecureBytes key, platform.sealing_key());
  Bytes hdr = bound_header(platform.kind(), owner, version);
  Bytes nonce = crypto::random_bytes(crypto::kAesGcmNonceBytes);
  Bytes ct = crypto::aes256gcm_seal(key.view(), nonce, aad_of(hdr, label), plaintext);
  return concat({hdr, nonce, ct});
}

Result<Unsealed> unseal_bound(Platform& platform, std::string_view label, uint32_t owner, ByteView blob) {
  if (blob.size() < kBoundSealHeaderBytes + crypto::kAesGcmNonceBytes + 16 || std::memcmp(blob.data(), kMagic, 6) != 0) {
    return make_error("seal.format", "not a sealed blob (bad magic or too short)");
  }
  if (blob[6] != 2) return make_error("seal.version", "sealed blob format " + std::to_string(blob[6]) + " is not a node's own state (2)");
  if (blob[7] != static_cast<uint8_t>(platform.kind())) {
    return make_error("seal.platform", std::string("blob was sealed on another platform kind, this is ") + kind_name(platform.kind()));
  }
  uint32_t sealed_for = load_be32(blob.data() + 8);
  if (sealed_for != owner) {
    return make_error("seal.owner", "'" + std::string(label) + "' was sealed for node " + std::to_string(sealed_for) + ", not node " +
                                        std::to_string(owner) + " (copied from another node's folder?)");
  }
  uint64_t version = 0;
  for (int i = 0; i < 8; i++) version = (version << 8) | blob[12 + i];
  SN_ASSIGN(crypto::SecureBytes key, platform.sealing_key());
  ByteView hdr = blob.subspan(0, kBoundSealHeaderBytes);
  ByteView nonce = blob.subspan(kBoundSealHeaderBytes, crypto::kAesGcmNonceBytes);
  ByteView ct = blob.subspan(kBoundSealHeaderBytes + crypto::kAesGcmNonceBytes);
  auto pt = crypto::aes256gcm_open(key.view(), nonce, aad_of(hdr, label), ct);
  if (!pt.ok()) {
    return make_error("seal.auth", "cannot unseal '" + std::string(label) +
                                       "': wrong label, a key of another measurement or platform, or a modified blob (owner or version included)");
  }
  return Unsealed{std::move(pt).value(), version};
}
#endif

#if defined(SUPERNET_BENCH_UNPROTECTED)
// A benchmark-only build of this file (see src/net/transport.cc): "sealed" blobs are the header
// and the plaintext, no key and no encryption. Never part of the product.
constexpr uint8_t kUnprotectedVersion = 0xBE;

Result<Bytes> seal(Platform& platform, std::string_view label, ByteView plaintext) {
  Bytes hdr = header(platform.kind());
  hdr[6] = kUnprotectedVersion;
  return concat({hdr, plaintext});
}

Result<crypto::SecureBytes> unseal(Platform& platform, std::string_view label, ByteView blob) {
  if (blob.size() < kSealHeaderBytes || std::memcmp(blob.data(), kMagic, 6) != 0 || blob[6] != kUnprotectedVersion) {
    return make_error("seal.format", "not a blob of the unprotected benchmark build");
  }
  return crypto::SecureBytes(blob.subspan(kSealHeaderBytes));
}
#else
Result<Bytes> seal(Platform& platform, std::string_view label, ByteView plaintext) {
  SN_ASSIGN(crypto::SecureBytes key, platform.sealing_key());
  return seal_with_key(key.view(), platform.kind(), label, plaintext);
}

Result<crypto::SecureBytes> unseal(Platform& platform, std::string_view label, ByteView blob) {
  SN_ASSIGN(crypto::SecureBytes key, platform.sealing_key());
  return unseal_with_key(key.view(), platform.kind(), label, blob);
}
#endif

}  // namespace supernet::tee
