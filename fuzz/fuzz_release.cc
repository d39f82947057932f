// Key release inputs from outside: request bodies (any client's), the parts a requester opens
// (any node's answer), release records on the ledger (a broken validator's), node-to-node key
// frames, private table envelopes: each parses to one
// encoding or a clear error, a validator fed a request never crashes, and no part opens or
// verifies that was not made for the key.
#include <cstdlib>

#include "keys/hpke.h"
#include "keys/private_table.h"
#include "keys/release.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace supernet;
  using namespace supernet::keys;
  ByteView in(data, size);
  static const frost::KeyShare share = [] {
    auto shares = frost::split(frost::hash_to_scalar("fuzz", {as_bytes("secret")}), {frost::hash_to_scalar("fuzz", {as_bytes("a1")})}, 3);
    return shares.value()[0];
  }();
  static const HpkeKeyPair requester = hpke_derive_key_pair(Bytes(32, 7));
  static const Bytes chain(32, 1);

  if (auto r = parse_release_request(to_string(in)); r.ok()) {
    // What parses writes back to a request that parses the same.
    auto again = parse_release_request(release_request_json(*r));
    if (!again.ok() || again->resource != r->resource || again->public_key != r->public_key || again->evidence != r->evidence ||
        again->nonce != r->nonce || again->package != r->package) {
      std::abort();
    }
    // A validator decides on it: a client not named, then a named one; evidence never verifies here.
    NonceBook nonces;
    ReleasePolicy policy{{"fuzz"}, {"aa"}, {}};
    EvidenceCheck refuse = [](ByteView, ByteView) -> Result<tee::Claims> { return make_error("fuzz", "no evidence verifies"); };
    (void)decide_release(*r, policy, "other", chain, share, nonces, refuse, 0);
    auto g = decide_release(*r, policy, "fuzz", chain, share, nonces, refuse, 0);
    if (g.ok() && !r->evidence.empty()) std::abort();  // evidence that did not verify released a part
  }
  if (auto p = DerivedPart::decode(in); p.ok()) {
    if (p->encode() != to_bytes(in)) std::abort();
    // A part from outside verifies only if it is the share's own (the fuzzer cannot make one).
    if (verify_part(*p, share.public_share, "fuzz").ok() && p->identifier != share.identifier) std::abort();
  }
  if (auto rec = ReleaseRecord::decode(in); rec.ok() && rec->encode() != to_bytes(in)) std::abort();
  if (auto t = ReleaseTx::decode(in); t.ok() && t->encode() != to_bytes(in)) std::abort();
  // A node-to-node key frame (any peer's).
  if (auto k = KeyFrame::decode(in); k.ok() && k->encode() != to_bytes(in)) std::abort();
  // A private table's stored value (a broken validator's block): opens only if sealed here.
  static const crypto::SecureBytes ledger_key(Bytes(32, 3));
  if (open_private_value(ledger_key, chain, "private.fuzz", "k", in).ok()) std::abort();
  (void)open_part(requester.secret, requester.public_key, chain, "fuzz", in);
  return 0;
}
