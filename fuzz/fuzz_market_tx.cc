// Market transactions as every node applies them from the ledger (listings with their DSSE
// envelopes, delistings, mints, transfers): any bytes either apply or are refused, and the state
// stays consistent (no balance above its bound, every listing findable by its root).
#include <cstdlib>

#include "crypto/hash.h"
#include "market/market.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace supernet;
  static consensus::ChainGenesis genesis = [] {
    consensus::ChainGenesis g;
    g.clients = {{"member", "member", crypto::sha256(as_bytes(std::string("m")))}, {"user", "user", crypto::sha256(as_bytes(std::string("u")))}};
    return g;
  }();
  static Bytes node_key(32, 7);
  market::Directory d;
  d.genesis = &genesis;
  d.identity_key = [](uint32_t n) -> const Bytes* { return n == 1 ? &node_key : nullptr; };
  market::Market m;
  // The input as one transaction, then split at its first byte into two, applied in order.
  ByteView all(data, size);
  (void)m.apply(all, 1, d);
  if (size > 1) {
    size_t cut = 1 + data[0] % (size - 1);
    (void)m.apply(all.subspan(1, cut - 1), 2, d);
    (void)m.apply(all.subspan(cut), 3, d);
  }
  for (const auto& [client, balance] : m.balances()) {
    if (balance > market::kBalanceMax) std::abort();
  }
  for (const auto& name : m.names()) {
    for (const auto& l : m.versions(name)) {
      if (m.by_root(l.root) == nullptr) std::abort();
    }
  }
  (void)market::ListingTx::decode(all);
  (void)market::DelistTx::decode(all);
  (void)market::CreditTx::decode(all);
  return 0;
}
