// Bytes a host hands the node's trusted parts at start: the genesis encoding the checker is
// begun with (decoded, hashed and re-encoded identically, or refused), and a bft sign state
// (decoded and re-encoded identically, or refused).
#include <cstdlib>

#include "consensus/genesis.h"
#include "consensus/signer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace supernet;
  using namespace supernet::consensus;
  ByteView in(data, size);
  if (auto g = ChainGenesis::decode(in); g.ok()) {
    if (g->encode() != to_bytes(in)) std::abort();  // one encoding per genesis: its hash is its identity
    Checker c(1, crypto::ed25519_from_seed(Bytes(32, 3)));
    (void)c.begin(in, nullptr);
    (void)g->validator_set().hash();
  }
  if (auto s = SignState::decode(in); s.ok()) {
    auto again = SignState::decode(s->encode());
    if (!again.ok() || again->encode() != s->encode()) std::abort();
  }
  return 0;
}
