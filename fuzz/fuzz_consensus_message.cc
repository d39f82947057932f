// Consensus messages from peers: the decoder, its round trip, and a replica handling them.
#include <cstdlib>

#include "consensus/replica.h"
#include "crypto/hash.h"
#include "sim/sim_platform.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace supernet;
  using namespace supernet::consensus;
  auto m = decode_message(ByteView(data, size));
  if (!m.ok()) return 0;
  Bytes again = encode_message(*m);
  auto m2 = decode_message(again);
  if (!m2.ok() || encode_message(*m2) != again) std::abort();
  // A three-node tee-bft replica (node 1) receives it from node 2.
  static std::vector<Bytes> keys = [] {
    std::vector<Bytes> k;
    for (int i = 0; i < 6; i++) k.push_back(crypto::ed25519_generate().public_key);
    return k;
  }();
  auto checker = std::make_unique<Checker>(1);
  std::vector<Validator> vals{{1, 1, checker->public_key(), keys[0], 0}, {2, 1, keys[1], keys[2], 0}, {3, 1, keys[3], keys[4], 0}};
  static const sim::SimPlatform platform(crypto::ed25519_generate());
  ReplicaConfig cfg;
  cfg.self = 1;
  cfg.genesis = genesis_for_set(Protocol::kTeeBft, ValidatorSet(vals, 0), "fuzz", {}, "simulated policy");
  cfg.appraiser = sim::sim_appraiser(platform.public_key());
  (void)checker->begin(cfg.genesis.encode(), cfg.appraiser);
  Replica replica(std::move(cfg), std::move(checker));
  Output out;
  replica.start(0, out);
  replica.on_message(10, 2, *m, out);
  replica.on_tick(10000, out);
  return 0;
}
