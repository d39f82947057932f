// The ledger envelope of the key management module's protocol messages (the DKG's "SNKG", the
// checkpoints' "SNCK"): the sender's node id, the encoded message, and the sender's Ed25519
// identity signature over a domain string, the session and the message, which every node checks
// before it counts the message. One encoding per transaction; the message's size is bounded.
#pragma once

#include <string>
#include <string_view>

#include "crypto/keys.h"
#include "crypto/secure.h"
#include "util/bytes.h"
#include "util/codec.h"
#include "util/result.h"

namespace supernet::keys {

// Kind: static constexpr std::string_view magic (4 bytes), domain, error (the error code);
// static constexpr size_t message_max.
template <class Kind>
struct SignedLedgerTx {
  uint32_t node = 0;
  Bytes message;
  Bytes signature;  // 64 bytes

  static bool is(ByteView tx) { return tx.size() >= 4 && to_string(tx.first(4)) == Kind::magic; }
  static Bytes signed_bytes(ByteView session, uint32_t node, ByteView message) {
    Writer w;
    w.str(Kind::domain).bytes(session).u32(node).bytes(message);
    return w.take();
  }
  static Bytes make(ByteView session, uint32_t node, Bytes message, const crypto::SecureBytes& identity_secret) {
    SignedLedgerTx t;
    t.node = node;
    t.message = std::move(message);
    t.signature = crypto::ed25519_sign(identity_secret, signed_bytes(session, node, t.message));
    return t.encode();
  }
  // Whether `identity_key` signed it for `session`.
  bool verify(ByteView session, ByteView identity_key) const {
    return crypto::ed25519_verify(identity_key, signed_bytes(session, node, message), signature);
  }
  Bytes encode() const {
    Writer w;
    w.fixed(as_bytes(Kind::magic)).u32(node).bytes(message).fixed(signature);
    return w.take();
  }
  static Result<SignedLedgerTx> decode(ByteView tx) {
    if (!is(tx)) return make_error(std::string(Kind::error), "not a " + std::string(Kind::magic) + " transaction");
    Reader r(tx.subspan(4));
    SignedLedgerTx t;
    SN_ASSIGN(t.node, r.u32());
    SN_ASSIGN(ByteView m, r.bytes(Kind::message_max));
    SN_ASSIGN(ByteView sig, r.fixed(64));
    SN_TRY(r.finish());
    t.message = to_bytes(m);
    t.signature = to_bytes(sig);
    return t;
  }
};

}  // namespace supernet::keys
