// The node program: what `supernet-node` runs, and nothing else. It takes a configuration
// file, makes or unseals its keys inside the TEE, waits for the genesis, and takes part in the
// network until SIGINT or SIGTERM. It never produces evidence over data its caller picks and
// never seals or unseals on request (docs/attestation.md): evidence it makes binds only what
// its own code computed (its certificate key with its identity and chain, a session exporter,
// its checker's rotation).
#pragma once

#include <string>

namespace supernet::node {

inline constexpr int kExitOk = 0;
inline constexpr int kExitCheckFailed = 1;
inline constexpr int kExitBadInput = 2;

struct RunOptions {
  std::string config;
  int genesis_wait_s = 120;
};

// Runs one node until a stop signal; returns the process exit code (0, 1 a check failed, 2 bad
// configuration).
int run_node(const RunOptions& options);

}  // namespace supernet::node
