// supernet_sim: runs the deterministic cluster simulation for a range of seeds.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>

#include "sim/simulator.h"

int main(int argc, char** argv) {
  using namespace supernet;
  CLI::App app{"Deterministic simulation of SuperNet consensus clusters with seeded faults"};
  std::string protocol = "tee-bft";
  uint64_t seed = 1;
  uint64_t seeds = 1;
  bool verbose = false;
  bool no_faults = false;
  int nodes = 0, byzantine = -1;
  std::string adversary = "auto";
  app.add_option("--protocol", protocol, "tee-bft or bft")->check(CLI::IsMember({"tee-bft", "bft"}))->capture_default_str();
  app.add_option("--seed", seed, "first seed")->capture_default_str();
  app.add_option("--seeds", seeds, "how many consecutive seeds to run")->capture_default_str();
  app.add_option("--nodes", nodes, "cluster size (default: picked from the seed)");
  app.add_option("--byzantine", byzantine, "Byzantine nodes (default: picked from the seed, at most f)");
  app.add_flag("--no-faults", no_faults, "no network faults or crashes");
  app.add_option("--adversary", adversary,
                 "a Byzantine host's attack or a nemesis: auto (picked from the seed), none, rogue-rotation, fake-genesis "
                 "(tee-bft), lock-amnesia (bft), slow-host, total-stop, long-crash")
      ->check(CLI::IsMember({"auto", "none", "rogue-rotation", "fake-genesis", "lock-amnesia", "slow-host", "total-stop", "long-crash"}))
      ->capture_default_str();
  app.add_flag("--verbose", verbose, "print every event of the run");
  bool dkg = false;
  app.add_flag("--dkg", dkg, "also run the validators' distributed key generation over the ledger, then a proactive refresh (resharing to the same set), and check both outcomes");
  CLI11_PARSE(app, argc, argv);

  auto started = std::chrono::steady_clock::now();
  uint64_t failures = 0;
  for (uint64_t s = seed; s < seed + seeds; s++) {
    sim::SimConfig cfg;
    cfg.protocol = protocol == "bft" ? consensus::Protocol::kBft : consensus::Protocol::kTeeBft;
    cfg.seed = s;
    cfg.nodes = nodes;
    cfg.byzantine = byzantine;
    cfg.faults = !no_faults;
    cfg.verbose = verbose;
    cfg.adversary = adversary;
    cfg.dkg = dkg;
    sim::SimResult r = sim::run_simulation(cfg);
    if (!r.ok) {
      failures++;
      std::string flags = (nodes > 0 ? " --nodes " + std::to_string(nodes) : "") +
                          (byzantine >= 0 ? " --byzantine " + std::to_string(byzantine) : "") +
                          (adversary != "auto" ? " --adversary " + adversary : "") + (no_faults ? " --no-faults" : "") + (dkg ? " --dkg" : "");
      std::printf("FAIL seed %llu: %s\n  %s\n  replay: supernet_sim --protocol %s%s --seed %llu --verbose\n",
                  static_cast<unsigned long long>(s), r.failure.c_str(), r.summary.c_str(), protocol.c_str(), flags.c_str(),
                  static_cast<unsigned long long>(s));
    } else if (seeds == 1 || verbose) {
      std::printf("ok seed %llu: %s\n", static_cast<unsigned long long>(s), r.summary.c_str());
    }
    if (seeds > 10 && (s - seed + 1) % 100 == 0) {
      std::fprintf(stderr, "%s: %llu/%llu seeds, %llu failed\n", protocol.c_str(),
                   static_cast<unsigned long long>(s - seed + 1), static_cast<unsigned long long>(seeds),
                   static_cast<unsigned long long>(failures));
    }
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf("%s: %llu passed, %llu failed (%.1f s)\n", protocol.c_str(), static_cast<unsigned long long>(seeds - failures),
              static_cast<unsigned long long>(failures), secs);
  return failures == 0 ? 0 : 1;
}
