// FROST threshold Schnorr signatures (RFC 9591), ciphersuite FROST(Ed25519, SHA-512): a
// signature by t of the n holders of a shared Ed25519 key that any Ed25519 verifier accepts.
// The network's service identity signs its ledger checkpoints with it (docs/keys.md). Group
// arithmetic is libsodium's (crypto_core_ed25519_*); checked against the RFC's test vectors.
//
// Two rounds: each signer makes nonces and publishes their commitments (commit); once the
// coordinator has the commitments of the signers it chose, each signs (sign) and the
// coordinator checks each share (verify_share: a bad one names its signer) and adds them
// (aggregate). A signer's nonces are used once and then wiped.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <string_view>
#include <vector>

#include "crypto/secure.h"
#include "util/bytes.h"
#include "util/result.h"

namespace supernet::keys::frost {

inline constexpr size_t kScalarBytes = 32;
inline constexpr size_t kElementBytes = 32;
inline constexpr size_t kSignatureBytes = 64;
inline constexpr uint16_t kParticipantsMax = 1000;

using Element = std::array<uint8_t, kElementBytes>;  // a compressed Edwards point, prime-order subgroup

// A signer's share of the group key: f(identifier) of the sharing polynomial.
struct KeyShare {
  uint16_t identifier = 0;       // 1..n
  crypto::SecureBytes secret;    // the scalar f(identifier), 32 bytes little-endian
  Element public_share{};        // G * secret
  Element group_public_key{};    // G * f(0)
};

struct Nonces {
  crypto::SecureBytes hiding, binding;
};
struct Commitment {
  uint16_t identifier = 0;
  Element hiding{}, binding{};
};

// --- scalars and elements (also what the DKG builds on) ---
// Parses a canonical scalar (below the group order).
Result<crypto::SecureBytes> parse_scalar(ByteView b);
// A point of the prime-order subgroup, not the identity.
Result<Element> parse_element(ByteView b);
Result<Element> base_times(const crypto::SecureBytes& scalar);
// The scalar of a participant identifier (little-endian).
crypto::SecureBytes identifier_scalar(uint16_t identifier);
// f(x) for the polynomial with `coefficients` (constant term first).
crypto::SecureBytes polynomial_evaluate(uint16_t x, const std::vector<crypto::SecureBytes>& coefficients);
// The Lagrange coefficient of `identifier` at 0 over `participants` (all distinct, nonzero).
Result<crypto::SecureBytes> lagrange_at_zero(uint16_t identifier, const std::vector<uint16_t>& participants);

// Arithmetic for the DKG and proofs built on this group.
crypto::SecureBytes scalar_add(const crypto::SecureBytes& a, const crypto::SecureBytes& b);
crypto::SecureBytes scalar_sub(const crypto::SecureBytes& a, const crypto::SecureBytes& b);
crypto::SecureBytes scalar_mul(const crypto::SecureBytes& a, const crypto::SecureBytes& b);
Result<Element> element_add(const Element& a, const Element& b);
Result<Element> element_sub(const Element& a, const Element& b);
Result<Element> element_times(const Element& p, const crypto::SecureBytes& s);  // fails on the identity
// SHA-512(domain || parts...) reduced mod L.
crypto::SecureBytes hash_to_scalar(std::string_view domain, std::initializer_list<ByteView> parts);

// A trusted dealer's split (RFC 9591 appendix C): shares 1..n of `secret` with the polynomial's
// other coefficients given (t - 1 of them). Tests, and a network that imports a key.
Result<std::vector<KeyShare>> split(const crypto::SecureBytes& secret, const std::vector<crypto::SecureBytes>& coefficients, uint16_t n);

// --- round one ---
// nonce_generate with the 32 random bytes given (the RFC's vectors), or fresh ones.
crypto::SecureBytes nonce_generate(const crypto::SecureBytes& secret, ByteView random32 = {});
Result<std::pair<Nonces, Commitment>> commit(const KeyShare& share, ByteView hiding_random = {}, ByteView binding_random = {});

// --- round two ---
// The binding factor of each signer, in the commitments' order (sorted by identifier).
Result<std::vector<crypto::SecureBytes>> binding_factors(const Element& group_public_key, const std::vector<Commitment>& commitments, ByteView message);
// This signer's share; `nonces` are wiped (use once). The commitment list must hold this
// signer's own commitment, as made with these nonces.
Result<Bytes> sign(const KeyShare& share, Nonces& nonces, const std::vector<Commitment>& commitments, ByteView message);
// Checks one signer's share against its public share and commitment.
Status verify_share(uint16_t identifier, const Element& public_share, ByteView sig_share, const std::vector<Commitment>& commitments,
                    const Element& group_public_key, ByteView message);
// R || z: an Ed25519 signature of `message` by the group key. Each share is checked first;
// the error names the first bad signer.
Result<Bytes> aggregate(const std::vector<Commitment>& commitments, ByteView message, const Element& group_public_key,
                        const std::vector<Bytes>& sig_shares, const std::vector<Element>& public_shares);

}  // namespace supernet::keys::frost
