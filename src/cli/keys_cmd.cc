// supernet keys status: the network's group key from the validators' DKG; supernet keys release:
// a client's key release, its parts combined here (docs/keys.md).
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <thread>
#include <nlohmann/json.hpp>

#include "cli/client.h"
#include "cli/commands.h"
#include "keys/hpke.h"
#include "keys/release.h"
#include "util/file.h"

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
    std::printf("checkpoint: %s\n", j["checkpoint"].is_null() ? "none yet (the first is signed once blocks with transactions commit)" : j["checkpoint"].dump().c_str());
    if (j.contains("excluded") && !j["excluded"].empty()) {
      for (const auto& [id, why] : j["excluded"].items()) std::printf("excluded: node %s: %s\n", id.c_str(), why.get<std::string>().c_str());
    }
    if (state == "ready") std::printf("this node holds a share: %s\n", j.value("share", false) ? "yes" : "no");
    if (j.contains("resharing") && j["resharing"].is_object()) {
      const auto& r = j["resharing"];
      std::printf("resharing to epoch %d: %s, waiting for %s\n", r.value("epoch", 0), r.value("phase", std::string("?")).c_str(),
                  r.contains("waiting_for") ? r["waiting_for"].dump().c_str() : "[]");
    }
    if (j.contains("reshare_problem")) std::printf("resharing: %s\n", j["reshare_problem"].get<std::string>().c_str());
    if (state == "ready") {
      std::printf("ledger key (private tables): %s\n", j.value("ledger_key", false) ? "obtained" : "not yet");
      if (j.contains("ledger_key_problem")) std::printf("  %s\n", j["ledger_key_problem"].get<std::string>().c_str());
      if (j.contains("releases") && j["releases"].is_object()) {
        std::printf("key releases recorded on the ledger: %llu\n", static_cast<unsigned long long>(j["releases"].value("total", uint64_t{0})));
      }
    }
    if (j.contains("failure")) std::printf("failure: %s\n", j["failure"].get<std::string>().c_str());
    if (j.contains("problem")) std::printf("problem: %s\n", j["problem"].get<std::string>().c_str());
  }
  return j.value("state", "") == "ready" ? kExitOk : kExitCheckFailed;
}

struct ReleaseArgs {
  NetFlags net;
  std::string resource, out;
};

}  // namespace

Result<crypto::SecureBytes> obtain_resource_key(const Network& net, int node, const std::string& resource, std::vector<uint32_t>* from) {
  // The group key, threshold and public shares, from an attested node.
  Clients c(net, node);
  auto r = c.request(false, "/v1/keys");
  if (!r.ok()) return r.error();
  if (r->status != 200) return make_error("keys.status", error_text(*r));
  json status = json::parse(r->body, nullptr, false);
  if (status.is_discarded() || !status.is_object() || status.value("state", "") != "ready") {
    return make_error("keys.status", "the network's group key is not ready (supernet keys status says why)");
  }
  auto group = from_hex(status.value("public_key", ""));
  int threshold = status.value("threshold", 0);
  std::map<uint16_t, keys::frost::Element> shares;
  if (status.contains("public_shares") && status["public_shares"].is_object()) {
    for (const auto& [id, hex] : status["public_shares"].items()) {
      auto b = hex.is_string() ? from_hex(hex.get<std::string>()) : Result<Bytes>(make_error("x", "x"));
      auto e = b.ok() ? keys::frost::parse_element(*b) : Result<keys::frost::Element>(b.error());
      int n = std::atoi(id.c_str());
      if (e.ok() && n > 0 && n <= 0xFFFF) shares[static_cast<uint16_t>(n)] = *e;
    }
  }
  auto gk = group.ok() ? keys::frost::parse_element(*group) : Result<keys::frost::Element>(group.error());
  if (!gk.ok() || threshold < 1 || static_cast<int>(shares.size()) < threshold) {
    return make_error("keys.status", "the node's key status lacks the group key, threshold or public shares");
  }
  // One ephemeral key for this release: only this process can open the parts.
  keys::HpkeKeyPair ephemeral = keys::hpke_generate_key_pair();
  keys::ReleaseRequest request{resource, ephemeral.public_key, {}, {}, {}};
  std::string body = keys::release_request_json(request);
  std::vector<keys::DerivedPart> parts;
  std::vector<std::string> refusals;
  for (const auto& [id, api] : net.apis) {
    if (static_cast<int>(parts.size()) >= threshold) break;
    Clients one(net, static_cast<int>(id), false);
    auto reply = one.request(true, "/v1/keys/release", body);
    if (!reply.ok()) {
      refusals.push_back("node " + std::to_string(id) + ": " + reply.error().message);
      continue;
    }
    if (reply->status != 200) {
      refusals.push_back("node " + std::to_string(id) + ": " + error_text(*reply));
      continue;
    }
    json j = json::parse(reply->body, nullptr, false);
    auto sealed = j.is_object() && j.contains("sealed") && j["sealed"].is_string() ? from_hex(j["sealed"].get<std::string>())
                                                                                  : Result<Bytes>(make_error("x", "no sealed part"));
    auto part = sealed.ok() ? keys::open_part(ephemeral.secret, ephemeral.public_key, net.genesis_hash, resource, *sealed)
                            : Result<keys::DerivedPart>(sealed.error());
    if (!part.ok()) {
      refusals.push_back("node " + std::to_string(id) + ": its part does not open: " + part.error().message);
      continue;
    }
    auto share = shares.find(part->identifier);
    Status ok = share == shares.end() ? Status(make_error("release.part", "no public share for validator " + std::to_string(part->identifier)))
                                      : keys::verify_part(*part, share->second, resource);
    if (!ok.ok()) {
      refusals.push_back("node " + std::to_string(id) + ": " + ok.error().message);
      continue;
    }
    bool repeat = false;
    for (const auto& p : parts) repeat |= p.identifier == part->identifier;
    if (repeat) continue;
    parts.push_back(*part);
    if (from != nullptr) from->push_back(id);
    std::fprintf(stderr, "part %zu of %d from node %u (record %s)\n", parts.size(), threshold, id,
                 j.value("record", "").substr(0, 16).c_str());
  }
  if (static_cast<int>(parts.size()) < threshold) {
    std::string why;
    for (const auto& s : refusals) why += "\n  " + s;
    return make_error("release.refused", std::to_string(parts.size()) + " of the " + std::to_string(threshold) + " parts needed for '" + resource + "':" + why);
  }
  return keys::combine_parts(parts, static_cast<uint16_t>(threshold), shares, *gk, resource);
}

namespace {

int run_release(const ReleaseArgs& a) {
  if (auto s = keys::check_resource_name(a.resource); !s.ok()) return fail(make_error("usage.resource", s.error().message));
  auto net = open_network(a.net);
  if (!net.ok()) return fail(net.error());
  std::vector<uint32_t> from;
  auto key = obtain_resource_key(*net, a.net.node, a.resource, &from);
  if (!key.ok()) return fail(key.error(), kExitCheckFailed);
  std::string text = to_hex(key->view()) + "\n";
  Status w = write_file_atomic(a.out, as_bytes(text), 0600);
  crypto::zeroize(text.data(), text.size());
  if (!w.ok()) return fail(w.error());
  std::string nodes;
  for (uint32_t n : from) nodes += (nodes.empty() ? "" : ", ") + std::to_string(n);
  std::printf("released '%s': key written to %s (mode 0600; parts from nodes %s)\n", a.resource.c_str(), a.out.c_str(), nodes.c_str());
  return kExitOk;
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
  auto r = std::make_shared<ReleaseArgs>();
  CLI::App* release = keys->add_subcommand(
      "release",
      "Obtain a resource's key as a client (--as): each validator checks the resource's release policy (governance propose "
      "set-release-policy) and records the release on the ledger, then returns its part encrypted to a key only this "
      "command holds; t verified parts are combined here and the 32-byte key is written as hex to --out (mode 0600). Exit 0 "
      "when released, 1 when refused (each node's reason is printed)");
  r->net.add_to(release);
  release->add_option("--resource", r->resource, "the resource's name")->required();
  release->add_option("--out", r->out, "where to write the key (hex)")->required();
  release->callback([r, exit_code] { *exit_code = run_release(*r); });
}

}  // namespace supernet::cli
