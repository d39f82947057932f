// supernet: the SuperNet command line.
#include <cstdio>

#include "cli/commands.h"
#include "tee/virtual_platform.h"
#include "util/log.h"

namespace supernet::cli {

void PlatformFlags::add_to(CLI::App* cmd) {
  cmd->add_option("--platform", platform, "TEE platform: auto, virtual, sev-snp, tdx or sgx")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "virtual", "sev-snp", "snp", "tdx", "sgx"}));
  cmd->add_option("--virtual-dir", virtual_dir,
                  "where the virtual platform keeps its key (default $SUPERNET_VIRTUAL_DIR or ~/.local/share/supernet)");
}

Result<std::unique_ptr<tee::Platform>> PlatformFlags::open() const {
  tee::PlatformOptions o;
  o.kind = platform;
  o.virtual_dir = virtual_dir;
  std::string warning;
  auto p = tee::open_platform(o, &warning);
  if (!warning.empty()) log(LogLevel::kWarn, "platform", warning);
  return p;
}

int fail(const Error& e, int code) {
  std::fprintf(stderr, "error: %s\n", e.to_string().c_str());
  return code;
}

}  // namespace supernet::cli

int main(int argc, char** argv) {
  using namespace supernet::cli;
  CLI::App app{
      "SuperNet: a TEE-enhanced distributed network for AI.\n"
      "Attestation (SEV-SNP, SGX, TDX, PSA, CCA, TPM, virtual), sealing, RA-TLS, attested nodes running\n"
      "TEE-assisted BFT consensus over a ledger with receipts, membership by vote, federated learning on\n"
      "data sealed in each party's node, and clients of the nodes' REST API.",
      "supernet"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "supernet 0.1.0");
  int exit_code = kExitOk;
  add_attest_commands(app, &exit_code);
  add_seal_commands(app, &exit_code);
  add_ratls_commands(app, &exit_code);
  add_node_commands(app, &exit_code);
  add_network_commands(app, &exit_code);
  add_ledger_commands(app, &exit_code);
  add_tx_commands(app, &exit_code);
  add_data_commands(app, &exit_code);
  add_fl_commands(app, &exit_code);
  add_model_commands(app, &exit_code);
  add_agent_commands(app, &exit_code);
  add_market_commands(app, &exit_code);
  add_ta_commands(app, &exit_code);
  add_keys_commands(app, &exit_code);
  add_client_commands(app, &exit_code);
  add_recover_commands(app, &exit_code);
  add_governance_commands(app, app.get_subcommand("node"), &exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitBadInput;
  }
  return exit_code;
}
