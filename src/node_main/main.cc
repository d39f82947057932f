// supernet-node: the node program, the only program a network policy measures. It runs a node
// from a configuration file and offers nothing else: no evidence, sealing or unsealing on
// request (those developer tools live in `supernet`, whose measurement is not this one's).
#include <CLI/CLI.hpp>

#include "node/run.h"
#include "ta/worker.h"

int main(int argc, char** argv) {
  // A trusted application worker is this program re-executed (docs/trusted-applications.md).
  if (int worker = supernet::ta::maybe_run_worker(argc, argv); worker >= 0) return worker;
  using namespace supernet::node;
  CLI::App app{"supernet-node: one SuperNet node (the measured node program). Takes a configuration, makes or unseals its "
               "keys inside the TEE, waits for the genesis, and takes part in the network until SIGINT or SIGTERM. "
               "Start it with `supernet node run` or `supernet up`; see docs/attestation.md.",
               "supernet-node"};
  RunOptions o;
  app.add_option("--config", o.config, "node configuration (TOML; see docs/consensus.md)")->required();
  app.add_option("--genesis-wait", o.genesis_wait_s, "seconds to wait for the genesis file")->capture_default_str();
  app.set_version_flag("--version", "supernet-node 0.1.0");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitBadInput;
  }
  return run_node(o);
}
