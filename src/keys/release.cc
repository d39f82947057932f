#include "keys/release.h"

#include <sodium.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "crypto/hash.h"
#include "keys/hpke.h"
#include "util/codec.h"

namespace supernet::keys {

namespace {

using Scalar = crypto::SecureBytes;
using frost::Element;

ByteView ev(const Element& e) { return ByteView(e.data(), e.size()); }
Bytes u16_bytes(uint16_t v) { return Bytes{static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)}; }

constexpr std::string_view kReleaseInfo = "supernet-key-release-v1";

// The Chaum-Pedersen challenge over the statement (S = G·s, P = H·s) and the commitments.
Scalar part_challenge(std::string_view resource, uint16_t id, const Element& s, const Element& h, const Element& p,
                      const Element& a1, const Element& a2) {
  Bytes i = u16_bytes(id);
  return frost::hash_to_scalar("supernet/release/dleq/v1", {as_bytes(resource), i, ev(s), ev(h), ev(p), ev(a1), ev(a2)});
}

Bytes hpke_info(ByteView chain) { return concat({as_bytes(kReleaseInfo), chain}); }
Bytes hpke_aad(std::string_view resource, ByteView public_key) {
  Writer w;
  w.str(resource).bytes(public_key);
  return w.take();
}

bool is_lower_hex(std::string_view s) {
  return !s.empty() && s.size() % 2 == 0 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

Result<Bytes> hex_field(const nlohmann::json& j, const char* name, size_t min, size_t max) {
  const auto& v = j.at(name);
  if (!v.is_string()) return make_error("release.request", std::string(name) + " must be a hex string");
  auto b = from_hex(v.get<std::string>());
  if (!b.ok()) return make_error("release.request", std::string(name) + " is not hex");
  if (b->size() < min || b->size() > max) {
    return make_error("release.request", std::string(name) + " must be " +
                                             (min == max ? std::to_string(min) : std::to_string(min) + " to " + std::to_string(max)) + " bytes");
  }
  return std::move(*b);
}

}  // namespace

Status check_votable_resource(std::string_view name) {
  SN_TRY(check_resource_name(name));
  if (name.substr(0, 9) == "supernet:") return make_error("release.resource", "resource names beginning with supernet: are the network's own");
  if (name.substr(0, 6) == "agent:") return make_error("release.resource", "resource names beginning with agent: are the marketplace's (content keys)");
  return ok_status();
}

Status check_resource_name(std::string_view name) {
  if (name.empty() || name.size() > kResourceNameBytesMax) {
    return make_error("release.resource", "a resource name has 1 to " + std::to_string(kResourceNameBytesMax) + " characters");
  }
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' ||
              c == ':' || c == '/';
    if (!ok) return make_error("release.resource", "a resource name holds letters, digits and . _ - : / only");
  }
  return ok_status();
}

Result<Element> resource_point(std::string_view resource) {
  SN_TRY(check_resource_name(resource));
  Bytes h = crypto::sha512(concat({as_bytes("supernet/release/resource/v1"), as_bytes(resource)}));
  Element p{};
  if (crypto_core_ed25519_from_hash(p.data(), h.data()) != 0) return make_error("release.resource", "hash to the group failed");
  return frost::parse_element(ev(p));
}

Bytes DerivedPart::encode() const {
  Writer w;
  w.fixed(as_bytes("SNDP")).u32(identifier).fixed(ev(value)).fixed(proof_c).fixed(proof_z);
  return w.take();
}

Result<DerivedPart> DerivedPart::decode(ByteView b) {
  Reader r(b);
  SN_ASSIGN(ByteView magic, r.fixed(4));
  if (to_string(magic) != "SNDP") return make_error("release.part", "not a key part");
  DerivedPart p;
  SN_ASSIGN(uint32_t id, r.u32());
  if (id == 0 || id > frost::kParticipantsMax) return make_error("release.part", "bad validator identifier");
  p.identifier = static_cast<uint16_t>(id);
  SN_ASSIGN(ByteView v, r.fixed(frost::kElementBytes));
  SN_ASSIGN(p.value, frost::parse_element(v));
  SN_ASSIGN(ByteView c, r.fixed(frost::kScalarBytes));
  SN_ASSIGN(ByteView z, r.fixed(frost::kScalarBytes));
  SN_TRY(frost::parse_scalar(c));
  SN_TRY(frost::parse_scalar(z));
  p.proof_c = to_bytes(c);
  p.proof_z = to_bytes(z);
  SN_TRY(r.finish());
  return p;
}

Result<DerivedPart> derive_part(const frost::KeyShare& share, std::string_view resource) {
  SN_ASSIGN(Element h, resource_point(resource));
  DerivedPart p;
  p.identifier = share.identifier;
  SN_ASSIGN(p.value, frost::element_times(h, share.secret));
  // A hedged nonce: fresh randomness and the secret, so neither a weak random source nor a
  // repeated one gives the same nonce for two statements.
  Bytes rnd = crypto::random_bytes(32);
  Scalar r = frost::hash_to_scalar("supernet/release/dleq-nonce/v1", {rnd, share.secret.view(), as_bytes(resource)});
  SN_ASSIGN(Element a1, frost::base_times(r));
  SN_ASSIGN(Element a2, frost::element_times(h, r));
  Scalar c = part_challenge(resource, share.identifier, share.public_share, h, p.value, a1, a2);
  Scalar z = frost::scalar_add(r, frost::scalar_mul(c, share.secret));
  p.proof_c = to_bytes(c.view());
  p.proof_z = to_bytes(z.view());
  return p;
}

Status verify_part(const DerivedPart& part, const Element& public_share, std::string_view resource) {
  auto bad = [&](const std::string& why) {
    return make_error("release.part", "validator " + std::to_string(part.identifier) + "'s key part " + why);
  };
  SN_ASSIGN(Element h, resource_point(resource));
  auto c = frost::parse_scalar(part.proof_c);
  auto z = frost::parse_scalar(part.proof_z);
  if (!c.ok() || !z.ok()) return bad("has a malformed proof");
  if (!frost::parse_element(ev(part.value)).ok()) return bad("is not a group element");
  // A1 = G·z − S·c, A2 = H·z − P·c.
  auto gz = frost::base_times(*z);
  auto sc = frost::element_times(public_share, *c);
  auto hz = frost::element_times(h, *z);
  auto pc = frost::element_times(part.value, *c);
  if (!gz.ok() || !sc.ok() || !hz.ok() || !pc.ok()) return bad("does not verify");
  auto a1 = frost::element_sub(*gz, *sc);
  auto a2 = frost::element_sub(*hz, *pc);
  if (!a1.ok() || !a2.ok()) return bad("does not verify");
  Scalar expect = part_challenge(resource, part.identifier, public_share, h, part.value, *a1, *a2);
  if (!crypto::ct_equal(expect.view(), c->view())) return bad("does not match its public share (a wrong share or a forged part)");
  return ok_status();
}

namespace {
crypto::SecureBytes key_of(const Element& k, const Element& group_public_key, std::string_view resource) {
  return crypto::hkdf_sha256(concat({ev(k), ev(group_public_key)}), as_bytes("supernet-resource-key-v1"), as_bytes(resource),
                             kResourceKeyBytes);
}
}  // namespace

Result<crypto::SecureBytes> combine_parts(const std::vector<DerivedPart>& parts, uint16_t threshold,
                                          const std::map<uint16_t, Element>& public_shares, const Element& group_public_key,
                                          std::string_view resource) {
  if (threshold == 0) return make_error("release.combine", "the threshold is 0");
  std::vector<uint16_t> ids;
  std::set<uint16_t> seen;
  for (const auto& p : parts) {
    if (!seen.insert(p.identifier).second) return make_error("release.combine", "two parts from validator " + std::to_string(p.identifier));
    auto it = public_shares.find(p.identifier);
    if (it == public_shares.end()) return make_error("release.combine", "validator " + std::to_string(p.identifier) + " holds no share");
    SN_TRY(verify_part(p, it->second, resource));
    ids.push_back(p.identifier);
    if (ids.size() == threshold) break;
  }
  if (ids.size() < threshold) {
    return make_error("release.combine", std::to_string(ids.size()) + " valid parts, " + std::to_string(threshold) + " needed");
  }
  std::optional<Element> sum;
  for (size_t i = 0; i < ids.size(); i++) {
    SN_ASSIGN(Scalar lambda, frost::lagrange_at_zero(ids[i], ids));
    SN_ASSIGN(Element term, frost::element_times(parts[i].value, lambda));
    if (!sum) {
      sum = term;
    } else {
      SN_ASSIGN(*sum, frost::element_add(*sum, term));
    }
  }
  return key_of(*sum, group_public_key, resource);
}

crypto::SecureBytes resource_key_from_secret(const crypto::SecureBytes& secret, const Element& group_public_key,
                                             std::string_view resource) {
  Element h = resource_point(resource).value();
  return key_of(frost::element_times(h, secret).value(), group_public_key, resource);
}

Status check_release_policy(const ReleasePolicy& p) {
  auto bounded = [](const std::vector<std::string>& v, const char* what) -> Status {
    if (v.size() > kReleasePolicyEntriesMax) {
      return make_error("release.policy", std::string("at most ") + std::to_string(kReleasePolicyEntriesMax) + " " + what);
    }
    if (std::set<std::string>(v.begin(), v.end()).size() != v.size()) return make_error("release.policy", std::string(what) + " repeat");
    return ok_status();
  };
  SN_TRY(bounded(p.clients, "clients"));
  SN_TRY(bounded(p.measurements, "measurements"));
  SN_TRY(bounded(p.packages, "packages"));
  for (const auto& c : p.clients) {
    if (c.empty() || c.size() > 64) return make_error("release.policy", "client names have 1 to 64 characters");
  }
  for (const auto& m : p.measurements) {
    if (!is_lower_hex(m) || m.size() > 256) return make_error("release.policy", "measurements are lower-case hex");
  }
  for (const auto& d : p.packages) {
    if (!is_lower_hex(d) || d.size() != 64) return make_error("release.policy", "package digests are 64 lower-case hex digits (SHA-256)");
  }
  return ok_status();
}

Bytes release_report_data(ByteView chain, ByteView nonce, ByteView public_key, ByteView package) {
  Writer w;
  w.str("supernet-key-release-evidence-v1").bytes(chain).bytes(nonce).bytes(public_key).bytes(package);
  return crypto::sha512(w.data());
}

Result<ReleaseRequest> parse_release_request(std::string_view body) {
  if (body.size() > kReleaseRequestBytesMax) return make_error("release.request", "the request is larger than 160 KiB");
  nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return make_error("release.request", "the body is not a JSON object");
  static const std::set<std::string> kFields{"resource", "public_key", "evidence", "nonce", "package"};
  for (const auto& [k, v] : j.items()) {
    if (!kFields.count(k)) return make_error("release.request", "unknown field '" + k + "'");
  }
  if (!j.contains("resource") || !j["resource"].is_string()) return make_error("release.request", "resource (a string) is required");
  if (!j.contains("public_key")) return make_error("release.request", "public_key (hex X25519) is required");
  ReleaseRequest r;
  r.resource = j["resource"].get<std::string>();
  SN_TRY(check_resource_name(r.resource));
  SN_ASSIGN(r.public_key, hex_field(j, "public_key", kHpkeEncBytes, kHpkeEncBytes));
  if (j.contains("evidence") != j.contains("nonce")) return make_error("release.request", "evidence and nonce go together");
  if (j.contains("evidence")) {
    SN_ASSIGN(r.evidence, hex_field(j, "evidence", 1, 64 * 1024));
    SN_ASSIGN(r.nonce, hex_field(j, "nonce", 32, 32));
  }
  if (j.contains("package")) {
    if (r.evidence.empty()) return make_error("release.request", "a package digest comes with evidence");
    SN_ASSIGN(r.package, hex_field(j, "package", 32, 32));
  }
  return r;
}

std::string release_request_json(const ReleaseRequest& r) {
  nlohmann::json j = {{"resource", r.resource}, {"public_key", to_hex(r.public_key)}};
  if (!r.evidence.empty()) {
    j["evidence"] = to_hex(r.evidence);
    j["nonce"] = to_hex(r.nonce);
  }
  if (!r.package.empty()) j["package"] = to_hex(r.package);
  return j.dump();
}

Bytes ReleaseRecord::encode() const {
  Writer w;
  w.str(resource).str(requester).str(measurement).str(package).u64(static_cast<uint64_t>(time_ms)).bytes(request_key).u64(serial);
  return w.take();
}

Result<ReleaseRecord> ReleaseRecord::decode(ByteView b) {
  Reader r(b);
  ReleaseRecord rec;
  SN_ASSIGN(ByteView resource, r.bytes(kResourceNameBytesMax));
  SN_ASSIGN(ByteView requester, r.bytes(128));
  SN_ASSIGN(ByteView measurement, r.bytes(256));
  SN_ASSIGN(ByteView package, r.bytes(64));
  SN_ASSIGN(uint64_t t, r.u64());
  SN_ASSIGN(ByteView key, r.bytes(kHpkeEncBytes));
  SN_ASSIGN(rec.serial, r.u64());
  SN_TRY(r.finish());
  rec.resource = to_string(resource);
  SN_TRY(check_resource_name(rec.resource));
  rec.requester = to_string(requester);
  rec.measurement = to_string(measurement);
  rec.package = to_string(package);
  rec.time_ms = static_cast<int64_t>(t);
  rec.request_key = to_bytes(key);
  return rec;
}

bool is_key_frame(ByteView frame) { return frame.size() >= 4 && to_string(frame.first(4)) == "SNKX"; }

Bytes KeyFrame::encode() const {
  Writer w;
  w.fixed(as_bytes("SNKX")).u8(static_cast<uint8_t>(type)).u64(request);
  switch (type) {
    case Type::kNonceAsk:
      break;
    case Type::kNonceReply:
      w.bytes(nonce).str(error_code).str(error_message);
      break;
    case Type::kReleaseAsk:
      w.str(release.resource).bytes(release.public_key).bytes(release.evidence).bytes(release.nonce).bytes(release.package);
      break;
    case Type::kReleaseReply:
      w.u32(identifier).bytes(sealed).str(error_code).str(error_message);
      break;
  }
  return w.take();
}

Result<KeyFrame> KeyFrame::decode(ByteView b) {
  if (b.size() > kKeyFrameBytesMax) return make_error("release.frame", "a key frame over 80 KiB");
  Reader r(b);
  SN_ASSIGN(ByteView magic, r.fixed(4));
  if (to_string(magic) != "SNKX") return make_error("release.frame", "not a key frame");
  KeyFrame f;
  SN_ASSIGN(uint8_t type, r.u8());
  if (type < 1 || type > 4) return make_error("release.frame", "unknown key frame type");
  f.type = static_cast<Type>(type);
  SN_ASSIGN(f.request, r.u64());
  auto text = [&](std::string& out, size_t max) -> Status {
    SN_ASSIGN(ByteView v, r.bytes(max));
    out = to_string(v);
    return ok_status();
  };
  auto blob = [&](Bytes& out, size_t max) -> Status {
    SN_ASSIGN(ByteView v, r.bytes(max));
    out = to_bytes(v);
    return ok_status();
  };
  switch (f.type) {
    case Type::kNonceAsk:
      break;
    case Type::kNonceReply:
      SN_TRY(blob(f.nonce, 32));
      SN_TRY(text(f.error_code, 64));
      SN_TRY(text(f.error_message, 1024));
      break;
    case Type::kReleaseAsk:
      SN_TRY(text(f.release.resource, kResourceNameBytesMax));
      SN_TRY(blob(f.release.public_key, kHpkeEncBytes));
      SN_TRY(blob(f.release.evidence, 64 * 1024));
      SN_TRY(blob(f.release.nonce, 32));
      SN_TRY(blob(f.release.package, 32));
      break;
    case Type::kReleaseReply: {
      SN_ASSIGN(uint32_t id, r.u32());
      if (id > frost::kParticipantsMax) return make_error("release.frame", "bad validator identifier");
      f.identifier = static_cast<uint16_t>(id);
      SN_TRY(blob(f.sealed, 1024));
      SN_TRY(text(f.error_code, 64));
      SN_TRY(text(f.error_message, 1024));
      break;
    }
  }
  SN_TRY(r.finish());
  return f;
}

void NonceBook::expire(int64_t now_ms) {
  for (auto it = nonces_.begin(); it != nonces_.end();) {
    if (now_ms - it->second.at <= kReleaseNonceTtlMs) {
      ++it;
      continue;
    }
    if (--per_requester_[it->second.requester] == 0) per_requester_.erase(it->second.requester);
    it = nonces_.erase(it);
  }
}

Result<Bytes> NonceBook::issue(int64_t now_ms, const std::string& requester) {
  auto count = [&] { auto it = per_requester_.find(requester); return it == per_requester_.end() ? size_t{0} : it->second; };
  if (nonces_.size() >= kReleaseNoncesMax || count() >= kReleaseNoncesPerRequesterMax) expire(now_ms);
  if (nonces_.size() >= kReleaseNoncesMax) {
    return make_error("release.busy", std::to_string(kReleaseNoncesMax) + " nonces are outstanding; try again in a few seconds");
  }
  if (count() >= kReleaseNoncesPerRequesterMax) {
    return make_error("release.busy", std::to_string(kReleaseNoncesPerRequesterMax) + " nonces of this requester are outstanding; use them or wait " +
                                          std::to_string(kReleaseNonceTtlMs / 1000) + " s");
  }
  Bytes n = crypto::random_bytes(32);
  nonces_[n] = {now_ms, requester};
  per_requester_[requester]++;
  return n;
}

Status NonceBook::consume(ByteView nonce, int64_t now_ms) {
  auto it = nonces_.find(to_bytes(nonce));
  if (it == nonces_.end()) {
    return make_error("release.nonce", "the nonce is not one this validator issued, or was used already (replayed evidence)");
  }
  int64_t age = now_ms - it->second.at;
  if (--per_requester_[it->second.requester] == 0) per_requester_.erase(it->second.requester);
  nonces_.erase(it);
  if (age > kReleaseNonceTtlMs) {
    return make_error("release.nonce", "the nonce expired " + std::to_string(age - kReleaseNonceTtlMs) +
                                           " ms ago (stale evidence): ask POST /v1/keys/nonce again");
  }
  return ok_status();
}

Result<ReleaseGrant> decide_release(const ReleaseRequest& request, const std::optional<ReleasePolicy>& policy,
                                    const std::string& client, ByteView chain, const frost::KeyShare& share, NonceBook& nonces,
                                    const EvidenceCheck& verify, int64_t now_ms) {
  SN_TRY(check_resource_name(request.resource));
  if (request.public_key.size() != kHpkeEncBytes) return make_error("release.request", "public_key must be 32 bytes");
  ReleaseRecord rec;
  rec.resource = request.resource;
  rec.time_ms = now_ms;
  rec.request_key = request.public_key;
  rec.serial = crypto::random_u64();
  if (request.evidence.empty()) {
    // A client, as its TLS certificate authenticated it.
    if (!policy) return make_error("release.resource", "no release policy names resource '" + request.resource + "'");
    if (std::find(policy->clients.begin(), policy->clients.end(), client) == policy->clients.end()) {
      return make_error("release.policy", "client '" + client + "' may not obtain '" + request.resource + "' (its release policy does not name it)");
    }
    rec.requester = "client:" + client;
  } else {
    // Attested code. The nonce first: it is spent whatever follows, so no evidence is tried twice.
    SN_TRY(nonces.consume(request.nonce, now_ms));
    Bytes report_data = release_report_data(chain, request.nonce, request.public_key, request.package);
    auto claims = verify(request.evidence, report_data);
    if (!claims.ok()) return make_error("release.evidence", claims.error().message);
    if (!policy) return make_error("release.resource", "no release policy names resource '" + request.resource + "'");
    if (!policy->attested()) return make_error("release.policy", "'" + request.resource + "' is released to no attested code, only to named clients");
    std::string m = to_hex(claims->measurement);
    if (!policy->measurements.empty() && std::find(policy->measurements.begin(), policy->measurements.end(), m) == policy->measurements.end()) {
      return make_error("release.policy", "measurement " + m.substr(0, 16) + "... may not obtain '" + request.resource + "'");
    }
    std::string pkg = to_hex(request.package);
    if (policy->node_programs && !pkg.empty()) {
      return make_error("release.policy", "'" + request.resource + "' is released only to node programs running no package");
    }
    if (!policy->packages.empty() && std::find(policy->packages.begin(), policy->packages.end(), pkg) == policy->packages.end()) {
      return make_error("release.policy", pkg.empty() ? "'" + request.resource + "' is released only to TAs running a named package; the request names none"
                                                      : "package " + pkg.substr(0, 16) + "... may not obtain '" + request.resource + "'");
    }
    rec.requester = "evidence:" + to_hex(crypto::sha256(request.evidence));
    rec.measurement = m;
    rec.package = pkg;
  }
  SN_ASSIGN(DerivedPart part, derive_part(share, request.resource));
  SN_ASSIGN(Bytes sealed, hpke_seal(request.public_key, hpke_info(chain), hpke_aad(request.resource, request.public_key), part.encode()));
  return ReleaseGrant{std::move(sealed), std::move(rec)};
}

Result<DerivedPart> open_part(const crypto::SecureBytes& secret, ByteView public_key, ByteView chain, std::string_view resource,
                              ByteView sealed) {
  SN_ASSIGN(crypto::SecureBytes plain, hpke_open(secret, hpke_info(chain), hpke_aad(resource, public_key), sealed));
  return DerivedPart::decode(plain.view());
}

}  // namespace supernet::keys
