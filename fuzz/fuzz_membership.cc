// Membership transactions from peers and clients: governance proposals and approvals,
// evidence, key rotations; decoded, re-encoded, and checked against a membership state.
#include <cstdlib>

#include "consensus/membership.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace supernet;
  using namespace supernet::consensus;
  ByteView in(data, size);
  if (auto g = GovernanceTx::decode(in); g.ok() && g->encode() != to_bytes(in)) std::abort();
  if (auto e = Evidence::decode(in); e.ok() && e->encode() != to_bytes(in)) std::abort();
  static const Membership state(ValidatorSet({{1, 1, Bytes(32, 1), Bytes(32, 2), 0}, {2, 1, Bytes(32, 3), Bytes(32, 4), 0}}, 0),
                                GovernanceRules{{{"m", Bytes(32, 5)}}, 1});
  if (Membership::handles(in)) {
    Membership copy = state;
    if (copy.check(in).ok()) (void)copy.apply(in, 1);
  }
  return 0;
}
