// supernet client pin: (re)pin the trust anchors a client keeps in its own folder.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>

#include "cli/client.h"
#include "cli/commands.h"

namespace supernet::cli {

using Clock = std::chrono::steady_clock;

// Waits until the transaction is committed; resubmits `body` if a node no longer knows it
// (it was pending at a node that died). Returns the final status document.
Result<nlohmann::json> await_commit(Clients& c, const std::string& id, const std::string& body, int timeout_s, bool progress) {
  auto deadline = Clock::now() + std::chrono::seconds(timeout_s);
  auto started = Clock::now();
  while (Clock::now() < deadline) {
    // The node answers when the write commits, or after the wait with its status (no polling).
    int64_t wait = std::clamp<int64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count(), 1, 2000);
    auto r = c.request(false, "/v1/tx/" + id + "?wait_ms=" + std::to_string(wait));
    bool waited = false;
    if (r.ok() && r->status == 200) {
      auto j = nlohmann::json::parse(r->body, nullptr, false);
      if (!j.is_discarded() && (j["status"] == "committed" || j["status"] == "invalid")) {
        if (progress && Clock::now() - started > std::chrono::seconds(1)) std::fprintf(stderr, "\n");
        return j;
      }
      waited = true;
    } else if (r.ok() && r->status == 404 && !body.empty()) {
      (void)c.request(true, "/v1/tx", body);
    }
    if (progress && Clock::now() - started > std::chrono::seconds(1)) {
      std::fprintf(stderr, "\r  waiting for commit ... %lld s", static_cast<long long>(std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - started).count()));
    }
    if (!waited) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return make_error("tx.timeout", "transaction " + id + " was not committed within " + std::to_string(timeout_s) + " s");
}


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
