// Membership transactions from peers and clients: governance proposals and approvals,
// evidence, key rotations; decoded, re-encoded, and checked against a membership state.
#include <cstdlib>

#include "consensus/membership.h"
#include "sim/sim_platform.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace supernet;
  using namespace supernet::consensus;
  ByteView in(data, size);
  if (auto g = GovernanceTx::decode(in); g.ok() && g->encode() != to_bytes(in)) std::abort();
  if (auto e = Evidence::decode(in); e.ok() && e->encode() != to_bytes(in)) std::abort();
  // Rotations and added nodes are appraised by the simulated platform's appraiser.
  static const sim::SimPlatform platform(crypto::ed25519_from_seed(Bytes(32, 7)));
  static const Membership state(
      genesis_for_set(Protocol::kTeeBft, ValidatorSet({{1, 1, Bytes(32, 1), Bytes(32, 2), 0}, {2, 1, Bytes(32, 3), Bytes(32, 4), 0}}, 0),
                      "fuzz", GovernanceRules{{{"m", Bytes(32, 5)}}, 1}, "simulated policy"),
      sim::sim_appraiser(platform.public_key()));
  if (Membership::handles(in)) {
    Membership copy = state;
    if (copy.check(in).ok()) (void)copy.apply(in, 1);
  }
  return 0;
}
