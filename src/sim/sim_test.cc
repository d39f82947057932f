#include "sim/simulator.h"

#include <gtest/gtest.h>

namespace supernet::sim {
namespace {

using consensus::Protocol;

TEST(Simulation, ByzantineNodesAreIsolatedAndSafetyHolds) {
  for (Protocol p : {Protocol::kTeeBft, Protocol::kBft}) {
    int reports = 0, evidence = 0;
    for (uint64_t seed = 1; seed <= 10; seed++) {
      SimConfig cfg;
      cfg.protocol = p;
      cfg.seed = seed;
      cfg.byzantine = 1;
      SimResult r = run_simulation(cfg);
      ASSERT_TRUE(r.ok) << "seed " << seed << ": " << r.failure << " " << r.summary;
      reports += static_cast<int>(r.misbehaviour_reports);
      evidence += static_cast<int>(r.evidence_recorded);
    }
    EXPECT_GT(reports, 0) << consensus::protocol_name(p);
    // Reports become signed evidence on the ledger (the simulator fails a run in which an
    // honest node accuses another honest one).
    EXPECT_GT(evidence, 0) << consensus::protocol_name(p);
  }
}

TEST(Simulation, TeeBftWithoutFaultsCommitsEverything) {
  SimConfig cfg;
  cfg.protocol = Protocol::kTeeBft;
  cfg.faults = false;
  cfg.byzantine = 0;
  cfg.nodes = 3;
  SimResult r = run_simulation(cfg);
  ASSERT_TRUE(r.ok) << r.failure;
  EXPECT_GE(r.min_height, 1u);
}

// The Byzantine host's attacks of issue 10 run and are refused: each strategy is tried (the
// outcome says how far it got) on every seed, and no seed fails.
TEST(Simulation, ByzantineHostAttacksAreTriedAndRefused) {
  struct Case {
    Protocol protocol;
    const char* adversary;
    const char* reached;  // what every tried run's outcome says
  };
  for (const Case& c : {Case{Protocol::kTeeBft, "rogue-rotation", "never admitted"},
                        Case{Protocol::kTeeBft, "fake-genesis", "refused to follow"},
                        Case{Protocol::kBft, "lock-amnesia", "lockers restarted"}}) {
    int tried = 0;
    for (uint64_t seed = 1; seed <= 12; seed++) {
      SimConfig cfg;
      cfg.protocol = c.protocol;
      cfg.seed = seed;
      cfg.adversary = c.adversary;
      SimResult r = run_simulation(cfg);
      ASSERT_TRUE(r.ok) << c.adversary << " seed " << seed << ": " << r.failure << " " << r.summary;
      ASSERT_EQ(r.adversary.rfind(c.adversary, 0), 0u) << r.summary;
      if (r.adversary_outcome.find(c.reached) != std::string::npos) tried++;
    }
    EXPECT_GE(tried, 6) << c.adversary << ": the attack should reach its key step on most seeds";
  }
}

// Seeds the soak found beyond CI's range, each a bug fixed since; they stay as regressions.
TEST(Simulation, SoakFindingsStayFixed) {
  // Seeds that once failed (each fails again with its fix reverted), kept as regression tests.
  struct Case {
    Protocol protocol;
    int nodes;  // 0: picked from the seed
    uint64_t seed;
    const char* adversary;
    const char* what;
  };
  const char* withheld = "a Byzantine node's view change named a certificate for a block nobody could get, and the leader waited for it";
  for (const Case& c : {Case{Protocol::kTeeBft, 3, 530004359, "auto",
                             "a proposal committed while its parent's commit replayed a duplicate of it was reported as invalid"},
                        Case{Protocol::kBft, 0, 5513, "total-stop", withheld}, Case{Protocol::kBft, 0, 5671, "total-stop", withheld},
                        Case{Protocol::kBft, 0, 5786, "total-stop", withheld}}) {
    SimConfig cfg;
    cfg.protocol = c.protocol;
    cfg.nodes = c.nodes;
    cfg.seed = c.seed;
    cfg.adversary = c.adversary;
    SimResult r = run_simulation(cfg);
    EXPECT_TRUE(r.ok) << "seed " << c.seed << " (" << c.what << "): " << r.failure;
  }
}

TEST(Simulation, ASeedReplaysTheSameRunExactly) {
  // Soak findings are kept as seeds, so a seed must name one run: same messages, same chain
  // (block hashes include every key the run made, members' keys too), for every adversary.
  for (Protocol protocol : {Protocol::kTeeBft, Protocol::kBft}) {
    for (const char* adversary : {"auto", "rogue-rotation", "fake-genesis", "lock-amnesia", "slow-host", "total-stop"}) {
      if (std::string(adversary) == "fake-genesis" && protocol != Protocol::kTeeBft) continue;
      if (std::string(adversary) == "lock-amnesia" && protocol != Protocol::kBft) continue;
      SimConfig cfg;
      cfg.protocol = protocol;
      cfg.seed = 17;
      cfg.nodes = protocol == Protocol::kTeeBft ? 3 : 4;
      cfg.adversary = adversary;
      cfg.capture_chain = true;
      SimResult a = run_simulation(cfg);
      SimResult b = run_simulation(cfg);
      SCOPED_TRACE(std::string(protocol_name(protocol)) + " " + adversary);
      ASSERT_TRUE(a.ok) << a.failure;
      EXPECT_EQ(a.summary, b.summary);
      EXPECT_EQ(a.messages, b.messages);
      ASSERT_EQ(a.chain.size(), b.chain.size());
      ASSERT_FALSE(a.chain.empty());
      for (size_t i = 0; i < a.chain.size(); i++) {
        EXPECT_EQ(a.chain[i].block.header.hash(), b.chain[i].block.header.hash()) << "height " << i + 1;
      }
    }
  }
}

TEST(Simulation, TooManyByzantineBftNodesCanBreakSafety) {
  // The checker must be able to fail: with more Byzantine nodes than bft tolerates, some
  // seed shows a safety or liveness violation.
  bool violated = false;
  for (uint64_t seed = 1; seed <= 40 && !violated; seed++) {
    SimConfig cfg;
    cfg.protocol = Protocol::kBft;
    cfg.seed = seed;
    cfg.nodes = 4;
    cfg.byzantine = 2;  // f = 1
    cfg.force_byzantine_over_f = true;
    violated = !run_simulation(cfg).ok;
  }
  EXPECT_TRUE(violated);
}

}  // namespace
}  // namespace supernet::sim
