// The `supernet` command line. Each file adds one command group to the CLI11 app.
// Exit codes: 0 success, 1 a check failed (evidence, policy, unseal), 2 bad usage or input.
#pragma once

#include <CLI/CLI.hpp>
#include <sys/types.h>

#include <string>

#include "node/config.h"
#include "tee/platform.h"
#include "tee/policy.h"
#include "util/result.h"

namespace supernet::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitCheckFailed = 1;
inline constexpr int kExitBadInput = 2;

// Options every command that opens the platform shares.
struct PlatformFlags {
  std::string platform = "auto";
  std::string virtual_dir;
  void add_to(CLI::App* cmd);
  Result<std::unique_ptr<tee::Platform>> open() const;
};

// Prints "error: <message>" to stderr and returns the exit code for it.
int fail(const Error& e, int code = kExitBadInput);

// The node program (supernet-node) beside this binary, or $SUPERNET_NODE_PROGRAM: the program a
// network policy measures.
std::string node_program();

// The local network folder `supernet up` makes: node-1, node-2, ...
std::string node_dir(const std::string& dir, int i);
int count_nodes(const std::string& dir);
// Makes node i's folder: its own virtual platform ("machine"), whose key is added to `policy`,
// and node.toml (peers on base+i, API on base+100+i).
Result<node::NodeConfig> make_local_node(const std::string& dir, int i, int base_port, consensus::Protocol protocol,
                                         tee::Policy& policy, bool phi_accrual = true);
// Writes the local network's policy file.
Status write_local_policy(const std::string& dir, const tee::Policy& policy);
// Starts the node program for node i, detached, output to its node.log; records its pid.
Result<pid_t> spawn_node(const std::string& dir, int i);

// Registers the subcommands; each sets *exit_code when it runs.
void add_attest_commands(CLI::App& app, int* exit_code);
void add_seal_commands(CLI::App& app, int* exit_code);
void add_ratls_commands(CLI::App& app, int* exit_code);
void add_node_commands(CLI::App& app, int* exit_code);
void add_network_commands(CLI::App& app, int* exit_code);
void add_ledger_commands(CLI::App& app, int* exit_code);
void add_tx_commands(CLI::App& app, int* exit_code);
void add_data_commands(CLI::App& app, int* exit_code);
void add_ta_commands(CLI::App& app, int* exit_code);
void add_keys_commands(CLI::App& app, int* exit_code);
void add_fl_commands(CLI::App& app, int* exit_code);
void add_model_commands(CLI::App& app, int* exit_code);
void add_agent_commands(CLI::App& app, int* exit_code);
// After add_agent_commands: adds publish, versions and delist to `agent`, and `market`.
void add_market_commands(CLI::App& app, int* exit_code);
void add_client_commands(CLI::App& app, int* exit_code);
void add_recover_commands(CLI::App& app, int* exit_code);
void add_governance_commands(CLI::App& app, CLI::App* node_cmd, int* exit_code);

}  // namespace supernet::cli
