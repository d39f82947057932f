// Receipts and receipt proofs handed to clients, and key-value transactions submitted by them
// (unsigned and signed writes, table claims), through the state machine's decoding and checks.
#include <cstdlib>

#include "crypto/hash.h"
#include "crypto/keys.h"
#include "ledger/receipt.h"
#include "ledger/tx.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace supernet;
  ByteView in(data, size);
  auto r = ledger::Receipt::decode(in);
  if (r.ok()) {
    auto again = ledger::Receipt::decode(r->encode());
    if (!again.ok() || again->encode() != r->encode()) std::abort();
    consensus::ValidatorSet set({{1, 1, Bytes(32, 1), Bytes(32, 2), 0}}, 0);
    (void)ledger::verify_receipt(*r, set);
  }
  auto proof = ledger::ReceiptProof::decode(in);
  if (proof.ok()) {
    if (proof->encode() != to_bytes(in)) std::abort();
    static const consensus::Membership genesis(
        consensus::genesis_for_set(consensus::Protocol::kTeeBft, consensus::ValidatorSet({{1, 1, Bytes(32, 1), Bytes(32, 2), 0}}, 0), "fuzz"),
        nullptr);
    (void)ledger::verify_receipt_proof(*proof, consensus::Protocol::kTeeBft, genesis);
  }
  auto w = ledger::KvWrite::decode(in);
  if (w.ok() && w->encode() != to_bytes(in)) std::abort();
  auto sw = ledger::SignedKvWrite::decode(in);
  if (sw.ok() && sw->encode() != to_bytes(in)) std::abort();
  auto claim = ledger::TableClaim::decode(in);
  if (claim.ok() && claim->encode() != to_bytes(in)) std::abort();
  // A client key the rules know, so that signature checks run on whatever the input carries.
  static const crypto::PrivateKey key = crypto::PrivateKey::ec_from_seed(crypto::Curve::kP256, Bytes(32, 7));
  static const ledger::KvRules rules = ledger::KvRules::from_genesis({{"c", "user", crypto::sha256(key.public_key().spki_der())}});
  auto state = ledger::decode_state_write(in, rules);
  if (state.ok() && *state) {
    ledger::StateView view{[](const std::string& t) { return t == "owned" ? std::optional<std::string>("c") : std::nullopt; },
                           [](const std::string& t) { return t == "used"; }};
    (void)ledger::check_write(**state, view);
  }
  consensus::Block b;
  b.txs = {to_bytes(in), to_bytes(in)};
  ledger::StateView empty{[](const std::string&) { return std::optional<std::string>(); }, [](const std::string&) { return false; }};
  (void)ledger::state_writes(b, rules, empty);
  return 0;
}
