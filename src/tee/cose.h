// COSE_Sign1 (RFC 9052) with ES256 / ES384, and the Arm PSA (RFC 9783) and CCA attestation
// tokens built on it.
#pragma once

#include "cbor/cbor.h"
#include "crypto/keys.h"
#include "tee/claims.h"
#include "tee/collateral.h"

namespace supernet::tee {

inline constexpr int64_t kCoseAlgEs256 = -7;
inline constexpr int64_t kCoseAlgEs384 = -35;
inline constexpr uint64_t kCoseSign1Tag = 18;
inline constexpr uint64_t kCcaTokenTag = 399;

struct CoseSign1 {
  Bytes protected_bytes;  // the serialized protected header, exactly as received
  cbor::Value protected_header;
  cbor::Value unprotected_header;
  Bytes payload;
  Bytes signature;  // r || s
  int64_t alg = 0;
};

Result<CoseSign1> parse_cose_sign1(ByteView data);
// Sig_structure = ["Signature1", protected, h'', payload], CBOR-encoded.
Bytes cose_sig_structure(const CoseSign1& msg);
Status verify_cose_sign1(const CoseSign1& msg, const crypto::PublicKey& key);
// Signs `payload` with ES256 or ES384 (by the key's curve); `protected_extra` entries join
// the alg in the protected header. Returns the tagged COSE_Sign1 bytes.
Bytes make_cose_sign1(const crypto::PrivateKey& key, const cbor::Map& protected_extra, ByteView payload);

// PSA token: a COSE_Sign1 verified with one of the collateral's public keys (the IAK).
Result<Claims> verify_psa(ByteView token, const Collateral& collateral);
// CCA token: realm token under its RAK, platform token under a collateral key (the CPAK),
// and the platform nonce binding the RAK.
Result<Claims> verify_cca(ByteView token, const Collateral& collateral);

}  // namespace supernet::tee
