#include "keys/frost.h"

#include <sodium.h>

#include <algorithm>
#include <string_view>

#include "crypto/keys.h"

namespace supernet::keys::frost {

namespace {

constexpr std::string_view kContext = "FROST-ED25519-SHA512-v1";
const Element kIdentity = {1};

using Scalar = crypto::SecureBytes;

Scalar zero() { return Scalar(kScalarBytes); }

Scalar reduce64(const uint8_t* wide) {
  Scalar s(kScalarBytes);
  crypto_core_ed25519_scalar_reduce(s.data(), wide);
  return s;
}

// SHA-512 of the parts, reduced mod L (H1, H2, H3) or whole (H4, H5).
std::array<uint8_t, 64> sha512(std::initializer_list<ByteView> parts) {
  crypto_hash_sha512_state st;
  crypto_hash_sha512_init(&st);
  for (ByteView p : parts) crypto_hash_sha512_update(&st, p.data(), p.size());
  std::array<uint8_t, 64> out;
  crypto_hash_sha512_final(&st, out.data());
  return out;
}
ByteView sv(std::string_view s) { return as_bytes(s); }
Scalar h_scalar(std::string_view tag, ByteView m) {
  auto d = tag.empty() ? sha512({m}) : sha512({sv(kContext), sv(tag), m});
  Scalar s = reduce64(d.data());
  sodium_memzero(d.data(), d.size());
  return s;
}
std::array<uint8_t, 64> h_bytes(std::string_view tag, ByteView m) { return sha512({sv(kContext), sv(tag), m}); }

Scalar mul(const Scalar& a, const Scalar& b) {
  Scalar r(kScalarBytes);
  crypto_core_ed25519_scalar_mul(r.data(), a.data(), b.data());
  return r;
}
Scalar add(const Scalar& a, const Scalar& b) {
  Scalar r(kScalarBytes);
  crypto_core_ed25519_scalar_add(r.data(), a.data(), b.data());
  return r;
}
Scalar sub(const Scalar& a, const Scalar& b) {
  Scalar r(kScalarBytes);
  crypto_core_ed25519_scalar_sub(r.data(), a.data(), b.data());
  return r;
}

Result<Element> times(const Element& p, const Scalar& s) {
  Element r;
  if (crypto_scalarmult_ed25519_noclamp(r.data(), s.data(), p.data()) != 0) return make_error("frost.element", "a product is the identity or a point is invalid");
  return r;
}
Result<Element> plus(const Element& a, const Element& b) {
  Element r;
  if (crypto_core_ed25519_add(r.data(), a.data(), b.data()) != 0) return make_error("frost.element", "an invalid point");
  return r;
}

Status check_list(const std::vector<Commitment>& commitments) {
  if (commitments.empty() || commitments.size() > kParticipantsMax) return make_error("frost.commitments", "1 to 1000 commitments");
  for (size_t i = 0; i < commitments.size(); i++) {
    if (commitments[i].identifier == 0) return make_error("frost.commitments", "identifier 0 is not a participant");
    if (i > 0 && commitments[i].identifier <= commitments[i - 1].identifier) {
      return make_error("frost.commitments", "the commitments must be sorted by identifier, each once");
    }
    for (const Element* e : {&commitments[i].hiding, &commitments[i].binding}) {
      if (!parse_element(*e).ok()) return make_error("frost.commitments", "signer " + std::to_string(commitments[i].identifier) + "'s commitment is not a valid point");
    }
  }
  return ok_status();
}

Result<Element> group_commitment(const std::vector<Commitment>& commitments, const std::vector<Scalar>& factors) {
  Element r = kIdentity;
  for (size_t i = 0; i < commitments.size(); i++) {
    SN_ASSIGN(Element bound, times(commitments[i].binding, factors[i]));
    SN_ASSIGN(Element term, plus(commitments[i].hiding, bound));
    SN_ASSIGN(r, plus(r, term));
  }
  if (r == kIdentity) return make_error("frost.commitment", "the group commitment is the identity");
  return r;
}

Scalar challenge(const Element& r, const Element& group_public_key, ByteView message) {
  return h_scalar("", [&] {
    Bytes m(r.begin(), r.end());
    m.insert(m.end(), group_public_key.begin(), group_public_key.end());
    m.insert(m.end(), message.begin(), message.end());
    return m;
  }());
}

std::vector<uint16_t> identifiers(const std::vector<Commitment>& commitments) {
  std::vector<uint16_t> ids;
  for (const auto& c : commitments) ids.push_back(c.identifier);
  return ids;
}

size_t position(const std::vector<Commitment>& commitments, uint16_t identifier) {
  for (size_t i = 0; i < commitments.size(); i++) {
    if (commitments[i].identifier == identifier) return i;
  }
  return commitments.size();
}

}  // namespace

crypto::SecureBytes scalar_add(const crypto::SecureBytes& a, const crypto::SecureBytes& b) { return add(a, b); }
crypto::SecureBytes scalar_sub(const crypto::SecureBytes& a, const crypto::SecureBytes& b) { return sub(a, b); }
crypto::SecureBytes scalar_mul(const crypto::SecureBytes& a, const crypto::SecureBytes& b) { return mul(a, b); }
Result<Element> element_add(const Element& a, const Element& b) { return plus(a, b); }
Result<Element> element_sub(const Element& a, const Element& b) {
  Element r;
  if (crypto_core_ed25519_sub(r.data(), a.data(), b.data()) != 0) return make_error("frost.element", "an invalid point");
  return r;
}
Result<Element> element_times(const Element& p, const crypto::SecureBytes& s) { return times(p, s); }

crypto::SecureBytes hash_to_scalar(std::string_view domain, std::initializer_list<ByteView> parts) {
  crypto_hash_sha512_state st;
  crypto_hash_sha512_init(&st);
  crypto_hash_sha512_update(&st, reinterpret_cast<const uint8_t*>(domain.data()), domain.size());
  for (ByteView p : parts) crypto_hash_sha512_update(&st, p.data(), p.size());
  uint8_t d[64];
  crypto_hash_sha512_final(&st, d);
  Scalar s = reduce64(d);
  sodium_memzero(d, sizeof d);
  return s;
}

Result<crypto::SecureBytes> parse_scalar(ByteView b) {
  if (b.size() != kScalarBytes) return make_error("frost.scalar", "a scalar is 32 bytes");
  uint8_t wide[64] = {};
  std::copy(b.begin(), b.end(), wide);
  Scalar s = reduce64(wide);
  sodium_memzero(wide, sizeof wide);
  if (sodium_memcmp(s.data(), b.data(), kScalarBytes) != 0) return make_error("frost.scalar", "the scalar is not below the group order");
  return s;
}

Result<Element> parse_element(ByteView b) {
  if (b.size() != kElementBytes) return make_error("frost.element", "an element is 32 bytes");
  // Canonical, on the curve, in the prime-order subgroup, not of small order (so not the identity).
  if (crypto_core_ed25519_is_valid_point(b.data()) != 1) return make_error("frost.element", "not a valid point of the prime-order subgroup");
  Element e;
  std::copy(b.begin(), b.end(), e.begin());
  return e;
}

Result<Element> base_times(const Scalar& scalar) {
  crypto::sodium_ready();
  Element e;
  if (scalar.size() != kScalarBytes || crypto_scalarmult_ed25519_base_noclamp(e.data(), scalar.data()) != 0) {
    return make_error("frost.scalar", "the scalar is zero");
  }
  return e;
}

crypto::SecureBytes identifier_scalar(uint16_t identifier) {
  Scalar s = zero();
  s.data()[0] = static_cast<uint8_t>(identifier);
  s.data()[1] = static_cast<uint8_t>(identifier >> 8);
  return s;
}

crypto::SecureBytes polynomial_evaluate(uint16_t x, const std::vector<crypto::SecureBytes>& coefficients) {
  // Horner, from the highest coefficient.
  Scalar value = zero(), xs = identifier_scalar(x);
  for (auto it = coefficients.rbegin(); it != coefficients.rend(); ++it) value = add(mul(value, xs), *it);
  return value;
}

Result<crypto::SecureBytes> lagrange_at_zero(uint16_t identifier, const std::vector<uint16_t>& participants) {
  std::vector<uint16_t> sorted = participants;
  std::sort(sorted.begin(), sorted.end());
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) return make_error("frost.participants", "a participant appears twice");
  Scalar num = identifier_scalar(1), den = identifier_scalar(1), xi = identifier_scalar(identifier);
  bool found = false;
  for (uint16_t j : participants) {
    if (j == 0) return make_error("frost.participants", "identifier 0 is not a participant");
    if (j == identifier) {
      if (found) return make_error("frost.participants", "a participant appears twice");
      found = true;
      continue;
    }
    Scalar xj = identifier_scalar(j);
    num = mul(num, xj);
    den = mul(den, sub(xj, xi));
  }
  if (!found) return make_error("frost.participants", "the signer is not among the participants");
  Scalar inv(kScalarBytes);
  if (crypto_core_ed25519_scalar_invert(inv.data(), den.data()) != 0) return make_error("frost.participants", "a participant appears twice");
  return mul(num, inv);
}

Result<std::vector<KeyShare>> split(const crypto::SecureBytes& secret, const std::vector<crypto::SecureBytes>& coefficients, uint16_t n) {
  if (n == 0 || n > kParticipantsMax || coefficients.size() + 1 > n) return make_error("frost.split", "need 1 <= t <= n <= 1000");
  std::vector<Scalar> poly{secret};
  poly.insert(poly.end(), coefficients.begin(), coefficients.end());
  SN_ASSIGN(Element group, base_times(secret));
  std::vector<KeyShare> shares;
  for (uint16_t i = 1; i <= n; i++) {
    KeyShare k;
    k.identifier = i;
    k.secret = polynomial_evaluate(i, poly);
    SN_ASSIGN(k.public_share, base_times(k.secret));
    k.group_public_key = group;
    shares.push_back(std::move(k));
  }
  return shares;
}

crypto::SecureBytes nonce_generate(const crypto::SecureBytes& secret, ByteView random32) {
  crypto::sodium_ready();
  crypto::SecureBytes random(random32.empty() ? crypto::random_bytes(32) : to_bytes(random32));
  Bytes m(random.view().begin(), random.view().end());
  m.insert(m.end(), secret.view().begin(), secret.view().end());
  Scalar s = h_scalar("nonce", m);
  sodium_memzero(m.data(), m.size());
  return s;
}

Result<std::pair<Nonces, Commitment>> commit(const KeyShare& share, ByteView hiding_random, ByteView binding_random) {
  Nonces n{nonce_generate(share.secret, hiding_random), nonce_generate(share.secret, binding_random)};
  Commitment c;
  c.identifier = share.identifier;
  SN_ASSIGN(c.hiding, base_times(n.hiding));
  SN_ASSIGN(c.binding, base_times(n.binding));
  return std::make_pair(std::move(n), c);
}

Result<std::vector<crypto::SecureBytes>> binding_factors(const Element& group_public_key, const std::vector<Commitment>& commitments, ByteView message) {
  SN_TRY(check_list(commitments));
  Bytes encoded;
  for (const auto& c : commitments) {
    Scalar id = identifier_scalar(c.identifier);
    encoded.insert(encoded.end(), id.view().begin(), id.view().end());
    encoded.insert(encoded.end(), c.hiding.begin(), c.hiding.end());
    encoded.insert(encoded.end(), c.binding.begin(), c.binding.end());
  }
  auto msg_hash = h_bytes("msg", message);
  auto com_hash = h_bytes("com", encoded);
  Bytes prefix(group_public_key.begin(), group_public_key.end());
  prefix.insert(prefix.end(), msg_hash.begin(), msg_hash.end());
  prefix.insert(prefix.end(), com_hash.begin(), com_hash.end());
  std::vector<Scalar> out;
  for (const auto& c : commitments) {
    Bytes input = prefix;
    Scalar id = identifier_scalar(c.identifier);
    input.insert(input.end(), id.view().begin(), id.view().end());
    out.push_back(h_scalar("rho", input));
  }
  return out;
}

Result<Bytes> sign(const KeyShare& share, Nonces& nonces, const std::vector<Commitment>& commitments, ByteView message) {
  if (nonces.hiding.size() != kScalarBytes || nonces.binding.size() != kScalarBytes) return make_error("frost.nonces", "these nonces were used already");
  SN_ASSIGN(auto factors, binding_factors(share.group_public_key, commitments, message));
  size_t me = position(commitments, share.identifier);
  if (me == commitments.size()) return make_error("frost.commitments", "the commitments do not include this signer's");
  SN_ASSIGN(Element own_hiding, base_times(nonces.hiding));
  SN_ASSIGN(Element own_binding, base_times(nonces.binding));
  if (own_hiding != commitments[me].hiding || own_binding != commitments[me].binding) {
    return make_error("frost.commitments", "this signer's commitment in the list is not the one its nonces make");
  }
  SN_ASSIGN(Element r, group_commitment(commitments, factors));
  SN_ASSIGN(Scalar lambda, lagrange_at_zero(share.identifier, identifiers(commitments)));
  Scalar c = challenge(r, share.group_public_key, message);
  Scalar z = add(add(nonces.hiding, mul(nonces.binding, factors[me])), mul(mul(lambda, share.secret), c));
  nonces = Nonces{};  // used once
  return to_bytes(z.view());
}

namespace {

// One share against a signing package whose binding factors, group commitment and challenge
// are computed once (the coordinator checks every share against the same package).
Status verify_share_in(uint16_t identifier, const Element& public_share, ByteView sig_share, const std::vector<Commitment>& commitments,
                       const std::vector<Scalar>& factors, const Scalar& c) {
  auto who = [&] { return "signer " + std::to_string(identifier) + "'s share"; };
  auto z = parse_scalar(sig_share);
  if (!z.ok()) return make_error("frost.share", who() + " is not a scalar");
  SN_TRY(parse_element(public_share));
  size_t me = position(commitments, identifier);
  if (me == commitments.size()) return make_error("frost.share", who() + " has no commitment");
  SN_ASSIGN(Element bound, times(commitments[me].binding, factors[me]));
  SN_ASSIGN(Element comm_share, plus(commitments[me].hiding, bound));
  SN_ASSIGN(Scalar lambda, lagrange_at_zero(identifier, identifiers(commitments)));
  SN_ASSIGN(Element pk_term, times(public_share, mul(c, lambda)));
  SN_ASSIGN(Element rhs, plus(comm_share, pk_term));
  auto lhs = base_times(*z);
  if (!lhs.ok() || *lhs != rhs) return make_error("frost.share", who() + " does not verify");
  return ok_status();
}

}  // namespace

Status verify_share(uint16_t identifier, const Element& public_share, ByteView sig_share, const std::vector<Commitment>& commitments,
                    const Element& group_public_key, ByteView message) {
  SN_ASSIGN(auto factors, binding_factors(group_public_key, commitments, message));
  SN_ASSIGN(Element r, group_commitment(commitments, factors));
  return verify_share_in(identifier, public_share, sig_share, commitments, factors, challenge(r, group_public_key, message));
}

Result<Bytes> aggregate(const std::vector<Commitment>& commitments, ByteView message, const Element& group_public_key,
                        const std::vector<Bytes>& sig_shares, const std::vector<Element>& public_shares) {
  if (sig_shares.size() != commitments.size() || public_shares.size() != commitments.size()) {
    return make_error("frost.aggregate", "one share and one public share per commitment");
  }
  SN_ASSIGN(auto factors, binding_factors(group_public_key, commitments, message));
  SN_ASSIGN(Element r, group_commitment(commitments, factors));
  Scalar c = challenge(r, group_public_key, message);
  for (size_t i = 0; i < commitments.size(); i++) {
    SN_TRY(verify_share_in(commitments[i].identifier, public_shares[i], sig_shares[i], commitments, factors, c));
  }
  Scalar z = zero();
  for (const auto& s : sig_shares) z = add(z, parse_scalar(s).value());
  Bytes sig(r.begin(), r.end());
  sig.insert(sig.end(), z.view().begin(), z.view().end());
  return sig;
}

}  // namespace supernet::keys::frost
