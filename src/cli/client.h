// Shared by the API client commands (tx, kv, governance, node add): the network folder
// `supernet up` wrote, and API clients that fail over between its nodes.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "node/api_client.h"
#include "node/config.h"
#include "tee/policy.h"

namespace supernet::cli {

struct NetFlags {
  std::string dir = "supernet-net";
  int node = 0;  // 0: the first node that answers
  std::string as = "member";
  void add_to(CLI::App* cmd) {
    cmd->add_option("--dir", dir, "the network folder (from `supernet up`)")->capture_default_str();
    cmd->add_option("--node", node, "which node's API to use (default: the first that answers)");
    cmd->add_option("--as", as, "client credentials: <dir>/client/<as>.{crt,key}.pem")->capture_default_str();
  }
};

struct Network {
  node::Genesis genesis;
  tee::Policy policy;
  node::ApiCredentials credentials;
  // API addresses: the genesis validators', then nodes added later that this folder holds.
  std::vector<std::pair<uint32_t, node::HostPort>> apis;
};

inline Result<Network> open_network(const NetFlags& f) {
  Network n;
  SN_ASSIGN(n.genesis, node::load_genesis(f.dir + "/genesis.toml"));
  SN_ASSIGN(n.policy, tee::load_policy(f.dir + "/network-policy.toml"));
  SN_ASSIGN(n.credentials, node::load_credentials(f.dir + "/client/" + f.as));
  for (const auto& v : n.genesis.validators) n.apis.push_back({v.id, v.api});
  for (int i = 1; std::filesystem::exists(f.dir + "/node-" + std::to_string(i) + "/node.toml"); i++) {
    bool known = false;
    for (const auto& [id, api] : n.apis) known |= id == static_cast<uint32_t>(i);
    if (known) continue;
    if (auto c = node::load_node_config(f.dir + "/node-" + std::to_string(i) + "/node.toml"); c.ok()) n.apis.push_back({c->id, c->api_listen});
  }
  if (f.node != 0) {
    bool listed = false;
    for (const auto& [id, api] : n.apis) listed |= id == static_cast<uint32_t>(f.node);
    if (!listed) return make_error("usage.node", "the network has no node " + std::to_string(f.node));
  }
  return n;
}

// One API client per node, made on first use; requests fail over to the next node when one
// cannot be reached (a node that is down or failed appraisal).
class Clients {
 public:
  // `failover` false: only the first node is asked (requests that belong to one node).
  Clients(const Network& net, int first, bool failover = true) : net_(net), failover_(failover) {
    for (size_t i = 0; i < net.apis.size(); i++) {
      if (static_cast<int>(net.apis[i].first) == first) current_ = i;
    }
  }
  // Sends to the current node, moving on to the others while they cannot be reached.
  Result<node::HttpReply> request(bool post, const std::string& path, const std::string& body = "",
                                  const std::string& content_type = "application/json") {
    Error last = make_error("api.connect", "no nodes");
    for (size_t tries = 0; tries < net_.apis.size(); tries++) {
      auto& c = client(current_);
      auto r = post ? c.post(path, body, content_type) : c.get(path);
      if (r.ok() || !failover_) return r;
      last = r.error();
      current_ = (current_ + 1) % net_.apis.size();
      failovers_++;
    }
    return last;
  }
  void next() { current_ = (current_ + 1) % net_.apis.size(); }
  uint32_t node_id() const { return net_.apis[current_].first; }
  uint64_t failovers() const { return failovers_; }

 private:
  node::ApiClient& client(size_t i) {
    auto& c = clients_[i];
    if (!c) {
      const auto& api = net_.apis[i].second;
      c = std::make_unique<node::ApiClient>(api.host, api.port, net_.credentials, net_.policy);
    }
    return *c;
  }
  const Network& net_;
  bool failover_ = true;
  std::map<size_t, std::unique_ptr<node::ApiClient>> clients_;
  size_t current_ = 0;
  uint64_t failovers_ = 0;
};

inline std::string error_text(const node::HttpReply& r) {
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (!j.is_discarded() && j.is_object() && j.contains("message")) return j["message"].get<std::string>();
  return "HTTP " + std::to_string(r.status);
}

}  // namespace supernet::cli
