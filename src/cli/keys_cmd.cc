// supernet keys status: the network's group key from the validators' DKG (docs/keys.md).
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <thread>
#include <nlohmann/json.hpp>

#include "cli/client.h"
#include "cli/commands.h"

namespace supernet::cli {

namespace {

using nlohmann::json;

struct StatusArgs {
  NetFlags net;
  bool json_out = false;
  int wait_s = 0;
};

int run_status(const StatusArgs& a) {
  auto net = open_network(a.net);
  if (!net.ok()) return fail(net.error());
  Clients c(*net, a.net.node);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(a.wait_s);
  json j;
  for (;;) {
    auto r = c.request(false, "/v1/keys");
    if (!r.ok()) return fail(r.error(), kExitCheckFailed);
    if (r->status != 200) return fail(make_error("keys.status", error_text(*r)), kExitCheckFailed);
    j = json::parse(r->body, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return fail(make_error("keys.status", "the node's answer is not JSON"), kExitCheckFailed);
    if (j.value("state", "") != "generating" || std::chrono::steady_clock::now() >= deadline) break;
    std::fprintf(stderr, "waiting for the distributed key generation...\n");
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  if (a.json_out) {
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::string state = j.value("state", "");
    std::printf("state: %s (node %u)\n", state.c_str(), c.node_id());
    if (j["public_key"].is_string()) std::printf("public key: %s\n", j["public_key"].get<std::string>().c_str());
    std::printf("threshold: %d of %d, epoch %d\n", j.value("threshold", 0), j.value("parties", 0), j.value("epoch", 0));
    std::printf("checkpoint: %s\n", j["checkpoint"].is_null() ? "none (signed checkpoints are not built yet)" : j["checkpoint"].dump().c_str());
    if (j.contains("excluded") && !j["excluded"].empty()) {
      for (const auto& [id, why] : j["excluded"].items()) std::printf("excluded: node %s: %s\n", id.c_str(), why.get<std::string>().c_str());
    }
    if (state == "ready") std::printf("this node holds a share: %s\n", j.value("share", false) ? "yes" : "no");
    if (j.contains("failure")) std::printf("failure: %s\n", j["failure"].get<std::string>().c_str());
    if (j.contains("problem")) std::printf("problem: %s\n", j["problem"].get<std::string>().c_str());
  }
  return j.value("state", "") == "ready" ? kExitOk : kExitCheckFailed;
}

}  // namespace

void add_keys_commands(CLI::App& app, int* exit_code) {
  CLI::App* keys = app.add_subcommand("keys", "The network's group key: the validators' distributed key generation (docs/keys.md)");
  keys->require_subcommand(1);
  auto a = std::make_shared<StatusArgs>();
  CLI::App* status = keys->add_subcommand(
      "status", "Show the group public key, threshold, parties, epoch and last signed checkpoint as a node reports them; exit 0 when the "
                "key is ready, 1 otherwise");
  a->net.add_to(status);
  status->add_flag("--json", a->json_out, "print the node's JSON (public_key, threshold, parties, epoch, checkpoint, ...)");
  status->add_option("--wait", a->wait_s, "seconds to wait while the key is still being generated")->capture_default_str();
  status->callback([a, exit_code] { *exit_code = run_status(*a); });
}

}  // namespace supernet::cli
