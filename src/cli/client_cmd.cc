// supernet client pin: (re)pin the trust anchors a client keeps in its own folder.
#include "cli/client.h"
#include "cli/commands.h"

namespace supernet::cli {

void add_client_commands(CLI::App& app, int* exit_code) {
  CLI::App* client = app.add_subcommand("client", "This client's own trust anchors");
  client->require_subcommand(1);
  auto f = std::make_shared<NetFlags>();
  CLI::App* pin = client->add_subcommand(
      "pin", "Copy the network folder's genesis.toml and network-policy.toml into <dir>/client/, where every later "
             "command reads them (done once on first use; run it again only when you mean to trust new ones)");
  pin->add_option("--dir", f->dir, "the network folder (from `supernet up`)")->capture_default_str();
  pin->callback([f, exit_code] {
    auto s = pin_trust_anchors(*f, true);
    *exit_code = s.ok() ? kExitOk : fail(s.error());
  });
}

}  // namespace supernet::cli
