// Receipts and receipt proofs handed to clients, and key-value transactions submitted by them.
#include <cstdlib>

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
  return 0;
}
