#include "tee/cose.h"

#include "crypto/hash.h"

namespace supernet::tee {

using cbor::Type;
using cbor::Value;

Result<CoseSign1> parse_cose_sign1(ByteView data) {
  SN_ASSIGN(Value v, cbor::decode(data));
  if (v.type() == Type::kTag) {
    if (v.tag_number() != kCoseSign1Tag) {
      return make_error("cose.tag", "CBOR tag " + std::to_string(v.tag_number()) + " is not COSE_Sign1 (18)");
    }
    Value inner = v.tagged();
    v = inner;
  }
  if (v.type() != Type::kArray || v.as_array().size() != 4) {
    return make_error("cose.structure", "COSE_Sign1 must be an array of 4 items");
  }
  const auto& a = v.as_array();
  if (a[0].type() != Type::kBytes || a[1].type() != Type::kMap || a[2].type() != Type::kBytes ||
      a[3].type() != Type::kBytes) {
    return make_error("cose.structure", "COSE_Sign1 items must be [bstr, map, bstr, bstr]");
  }
  CoseSign1 m;
  m.protected_bytes = a[0].as_bytes();
  m.unprotected_header = a[1];
  m.payload = a[2].as_bytes();
  m.signature = a[3].as_bytes();
  if (m.protected_bytes.empty()) return make_error("cose.alg", "empty protected header: no algorithm");
  SN_ASSIGN(m.protected_header, cbor::decode(m.protected_bytes));
  const Value* alg = m.protected_header.find(1);
  if (alg == nullptr || !alg->as_int()) return make_error("cose.alg", "protected header has no integer alg (1)");
  m.alg = *alg->as_int();
  return m;
}

Bytes cose_sig_structure(const CoseSign1& m) {
  return cbor::encode(Value::array({Value::text("Signature1"), Value::bytes(m.protected_bytes),
                                    Value::bytes(Bytes{}), Value::bytes(m.payload)}));
}

Status verify_cose_sign1(const CoseSign1& m, const crypto::PublicKey& key) {
  crypto::HashAlg h;
  size_t sig_len;
  std::string want_key;
  if (m.alg == kCoseAlgEs256) {
    h = crypto::HashAlg::kSha256;
    sig_len = 64;
    want_key = "EC P-256";
  } else if (m.alg == kCoseAlgEs384) {
    h = crypto::HashAlg::kSha384;
    sig_len = 96;
    want_key = "EC P-384";
  } else {
    return make_error("cose.alg", "COSE algorithm " + std::to_string(m.alg) + " is not ES256 or ES384");
  }
  if (key.describe() != want_key) {
    return make_error("cose.key", "key is " + key.describe() + ", algorithm needs " + want_key);
  }
  if (m.signature.size() != sig_len) {
    return make_error("cose.signature", "signature is " + std::to_string(m.signature.size()) +
                                            " bytes, expected " + std::to_string(sig_len));
  }
  if (!key.verify_ecdsa_raw(h, cose_sig_structure(m), m.signature).ok()) {
    return make_error("cose.signature", "COSE_Sign1 signature does not verify");
  }
  return ok_status();
}

Bytes make_cose_sign1(const crypto::PrivateKey& key, const cbor::Map& protected_extra, ByteView payload) {
  bool p384 = key.public_key().describe() == "EC P-384";
  cbor::Map hdr = protected_extra;
  hdr.emplace_back(Value::uint(1), Value::integer(p384 ? kCoseAlgEs384 : kCoseAlgEs256));
  CoseSign1 m;
  m.protected_bytes = cbor::encode(Value::map(hdr));
  m.payload = to_bytes(payload);
  m.signature = key.sign_ecdsa_raw(p384 ? crypto::HashAlg::kSha384 : crypto::HashAlg::kSha256, cose_sig_structure(m));
  Value arr = Value::array({Value::bytes(m.protected_bytes), Value::map({}), Value::bytes(m.payload), Value::bytes(m.signature)});
  return cbor::encode(Value::tag(kCoseSign1Tag, arr));
}

namespace {

// Claim keys: PSA 2.0 (RFC 9783) and the legacy PSA_IOT_PROFILE_1 numbering.
struct PsaKeys {
  int64_t nonce, instance_id, implementation_id, boot_seed, client_id, lifecycle, profile, sw_components, vsi;
};
constexpr PsaKeys kPsa2{10, 256, 2396, 2397, 2394, 2395, 265, 2399, 2400};
constexpr PsaKeys kPsaLegacy{-75008, -75009, -75003, -75004, -75001, -75002, -75000, -75006, -75010};

Result<Status> find_key_and_verify(const CoseSign1& m, const Collateral& col, const char* what) {
  if (col.public_keys.empty()) {
    return make_error("cose.no_key", std::string("no public key supplied for the ") + what + " (use --collateral KEY.pem)");
  }
  for (const auto& k : col.public_keys) {
    if (verify_cose_sign1(m, k).ok()) return ok_status();
  }
  return make_error("cose.signature", std::string(what) + " signature does not verify under any of the " +
                                          std::to_string(col.public_keys.size()) + " supplied keys");
}

Bytes bytes_claim(const Value& payload, int64_t key) {
  const Value* v = payload.find(key);
  return v != nullptr && v->type() == Type::kBytes ? v->as_bytes() : Bytes{};
}

std::string text_claim(const Value& payload, int64_t key) {
  const Value* v = payload.find(key);
  return v != nullptr && v->type() == Type::kText ? v->as_text() : "";
}

// Adds the software components' measurements; the claim's summary measurement is the
// SHA-256 over all component measurement values in token order.
void add_components(const Value* comps, Claims& c) {
  if (comps == nullptr || comps->type() != Type::kArray) return;
  Bytes all;
  size_t i = 0;
  for (const auto& comp : comps->as_array()) {
    const Value* mv = comp.find(2);
    if (mv == nullptr || mv->type() != Type::kBytes) continue;
    std::string type = text_claim(comp, 1);
    std::string name = std::to_string(i++) + ":" + (type.empty() ? "component" : type);
    c.measurements[name] = mv->as_bytes();
    all.insert(all.end(), mv->as_bytes().begin(), mv->as_bytes().end());
  }
  c.measurement = crypto::sha256(all);
}

void add_lifecycle(const Value& payload, int64_t key, Claims& c) {
  const Value* lc = payload.find(key);
  if (lc == nullptr || !lc->as_int()) return;
  int64_t v = *lc->as_int();
  char hex[16];
  snprintf(hex, sizeof hex, "0x%04llx", static_cast<long long>(v));
  c.attributes["lifecycle"] = hex;
  // 0x3000..0x30ff is "secured"; anything else (debug, decommissioned...) counts as debug.
  c.debug = !(v >= 0x3000 && v <= 0x30ff);
}

}  // namespace

Result<Claims> verify_psa(ByteView token, const Collateral& col) {
  SN_ASSIGN(CoseSign1 m, parse_cose_sign1(token));
  SN_TRY(find_key_and_verify(m, col, "PSA token"));
  SN_ASSIGN(Value payload, cbor::decode(m.payload));
  if (payload.type() != Type::kMap) return make_error("psa.claims", "PSA token payload is not a map");
  const PsaKeys& k = payload.find(kPsaLegacy.profile) != nullptr || payload.find(kPsaLegacy.nonce) != nullptr ? kPsaLegacy : kPsa2;
  Claims c;
  c.platform = Kind::kPsa;
  c.report_data = bytes_claim(payload, k.nonce);
  if (c.report_data.empty()) return make_error("psa.claims", "PSA token has no nonce claim");
  c.chip_id = bytes_claim(payload, k.instance_id);
  c.signer = bytes_claim(payload, k.implementation_id);
  add_components(payload.find(k.sw_components), c);
  add_lifecycle(payload, k.lifecycle, c);
  c.attributes["profile"] = &k == &kPsaLegacy ? "PSA_IOT_PROFILE_1" : text_claim(payload, k.profile);
  c.attributes["verification_service"] = text_claim(payload, k.vsi);
  if (const Value* id = payload.find(k.client_id); id && id->as_int()) c.attributes["client_id"] = std::to_string(*id->as_int());
  c.notes.push_back("PSA token verified with a supplied key; no certificate chain");
  return c;
}

Result<Claims> verify_cca(ByteView token, const Collateral& col) {
  SN_ASSIGN(Value v, cbor::decode(token));
  if (v.type() != Type::kTag || v.tag_number() != kCcaTokenTag || v.tagged().type() != Type::kMap) {
    return make_error("cca.structure", "CCA token must be tag 399 around a map");
  }
  const Value* plat_v = v.tagged().find(44234);
  const Value* realm_v = v.tagged().find(44241);
  if (plat_v == nullptr || realm_v == nullptr || plat_v->type() != Type::kBytes || realm_v->type() != Type::kBytes) {
    return make_error("cca.structure", "CCA token lacks the platform (44234) or realm (44241) token");
  }
  SN_ASSIGN(CoseSign1 realm, parse_cose_sign1(realm_v->as_bytes()));
  SN_ASSIGN(Value realm_claims, cbor::decode(realm.payload));
  Bytes rak_bytes = bytes_claim(realm_claims, 44237);
  SN_ASSIGN(auto rak, crypto::PublicKey::from_ec_point(crypto::Curve::kP384, rak_bytes));
  SN_TRY(verify_cose_sign1(realm, rak));

  SN_ASSIGN(CoseSign1 plat, parse_cose_sign1(plat_v->as_bytes()));
  SN_TRY(find_key_and_verify(plat, col, "CCA platform token"));
  SN_ASSIGN(Value plat_claims, cbor::decode(plat.payload));

  std::string rak_hash_alg = text_claim(realm_claims, 44240);
  Bytes expect;
  if (rak_hash_alg == "sha-256") expect = crypto::sha256(rak_bytes);
  else if (rak_hash_alg == "sha-384") expect = crypto::sha384(rak_bytes);
  else if (rak_hash_alg == "sha-512") expect = crypto::sha512(rak_bytes);
  else return make_error("cca.binding", "unsupported RAK hash algorithm '" + rak_hash_alg + "'");
  if (!crypto::ct_equal(bytes_claim(plat_claims, 10), expect)) {
    return make_error("cca.binding", "platform token nonce is not the hash of the realm attestation key");
  }

  Claims c;
  c.platform = Kind::kCca;
  c.report_data = bytes_claim(realm_claims, 10);
  c.measurement = bytes_claim(realm_claims, 44238);
  if (const Value* rems = realm_claims.find(44239); rems && rems->type() == Type::kArray) {
    for (size_t i = 0; i < rems->as_array().size(); i++) {
      if (rems->as_array()[i].type() == Type::kBytes) c.measurements["rem" + std::to_string(i)] = rems->as_array()[i].as_bytes();
    }
  }
  c.host_data = bytes_claim(realm_claims, 44235);  // personalization value
  c.chip_id = bytes_claim(plat_claims, 256);
  c.signer = bytes_claim(plat_claims, 2396);
  Claims comps;
  add_components(plat_claims.find(2399), comps);
  for (auto& [name, value] : comps.measurements) c.measurements["platform/" + name] = value;
  c.measurements["platform"] = comps.measurement;
  add_lifecycle(plat_claims, 2395, c);
  c.attributes["platform_profile"] = text_claim(plat_claims, 265);
  c.attributes["verification_service"] = text_claim(plat_claims, 2400);
  c.attributes["realm_hash_alg"] = text_claim(realm_claims, 44236);
  return c;
}

}  // namespace supernet::tee
