// supernet node run: starts the node program (supernet-node) with a configuration.
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "cli/commands.h"

namespace supernet::cli {

std::string node_program() {
  if (const char* p = std::getenv("SUPERNET_NODE_PROGRAM"); p && *p) return p;
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return (ec ? std::filesystem::path("supernet-node") : self.parent_path() / "supernet-node").string();
}

namespace {

struct RunArgs {
  std::string config;
  int genesis_wait_s = 120;
};

// The measured program is supernet-node: this command replaces itself with it (same process,
// so scripts' node.pid and status.json stay as they were).
int run(const RunArgs& a) {
  std::string program = node_program();
  std::string wait = std::to_string(a.genesis_wait_s);
  const char* argv[] = {"supernet-node", "--config", a.config.c_str(), "--genesis-wait", wait.c_str(), nullptr};
  ::execv(program.c_str(), const_cast<char* const*>(argv));
  return fail(make_error("node.program", "cannot run the node program " + program + ": " + std::strerror(errno)));
}

}  // namespace

void add_node_commands(CLI::App& app, int* exit_code) {
  CLI::App* node = app.add_subcommand("node", "Run a SuperNet node");
  node->require_subcommand(1);
  auto a = std::make_shared<RunArgs>();
  CLI::App* run_cmd = node->add_subcommand(
      "run", "Run one node (the node program supernet-node, next to this binary): publish its keys, wait for the genesis, "
             "then take part in consensus until SIGTERM");
  run_cmd->add_option("--config", a->config, "node configuration (TOML; see docs/consensus.md)")->required();
  run_cmd->add_option("--genesis-wait", a->genesis_wait_s, "seconds to wait for the genesis file")->capture_default_str();
  run_cmd->callback([a, exit_code] { *exit_code = run(*a); });
}

}  // namespace supernet::cli
