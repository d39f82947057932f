// Deterministic simulation of whole clusters running the real consensus replicas.
//
// Everything random comes from one seeded generator: message delays (which reorder), drops,
// duplicates, partitions, crashes and restarts (with storage rolled back), client load, and
// Byzantine nodes that equivocate, replay, forge or stay silent. The same seed replays the
// same run exactly. After `heal_at_ms` every fault stops (Byzantine nodes stay Byzantine) and
// the run checks:
//   safety:   no two honest nodes commit different blocks at one height, and no chain
//             commits a transaction twice;
//   liveness: every transaction submitted after the heal commits on every honest node.
#pragma once

#include <string>
#include <vector>

#include "consensus/types.h"

namespace supernet::sim {

struct SimConfig {
  consensus::Protocol protocol = consensus::Protocol::kTeeBft;
  uint64_t seed = 1;
  // 0 picks from the seed: tee-bft 3 or 5 nodes, bft 4 or 7.
  int nodes = 0;
  // -1 picks from the seed, up to f.
  int byzantine = -1;
  bool faults = true;  // drops, duplicates, partitions, crashes before the heal
  consensus::TimeMs heal_at_ms = 3000;
  consensus::TimeMs end_ms = 12000;
  int txs_before_heal = 40;
  int txs_after_heal = 20;
  bool verbose = false;
  // For testing the checks themselves: allow more Byzantine nodes than f.
  bool force_byzantine_over_f = false;
  // Return node 1's committed chain and the genesis validators (for ledger tests).
  bool capture_chain = false;
  // A Byzantine host's attack or a nemesis (sim/adversary.h): "auto" picks one from the seed
  // (or none), "none", "rogue-rotation", "fake-genesis" (tee-bft), "lock-amnesia" (bft),
  // "slow-host", "total-stop", "long-crash".
  std::string adversary = "auto";
  // Run the validators' distributed key generation (keys::Dkg) over the ledger as the nodes do
  // (node::KeyService): honest nodes submit their DKG transactions and feed every committed one
  // to their Dkg; a restarted node keeps its (sealed) seed and replays its disk. Checked at the
  // end: every honest node finished, all with the same outcome, and an honest node is excluded
  // only for missing a window while faults were on (down, partitioned, its messages dropped).
  bool dkg = false;
};

struct SimResult {
  bool ok = true;
  std::string failure;
  std::string summary;
  uint64_t min_height = 0;
  size_t messages = 0;
  size_t misbehaviour_reports = 0;
  size_t evidence_recorded = 0;
  size_t suspicions = 0;  // failure detector: times a node began to suspect another
  std::string adversary;          // the strategy that ran, or "none"
  std::string adversary_outcome;  // how far it got
  std::string dkg;                // with dkg: the outcome ("key ..., excluded ...") or why none  // evidence transactions on an honest node's ledger (the most of any)
  std::vector<consensus::CommittedBlock> chain;  // with capture_chain
  consensus::ValidatorSet validators;           // with capture_chain
};

SimResult run_simulation(const SimConfig& cfg);

}  // namespace supernet::sim
