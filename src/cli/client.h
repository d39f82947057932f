// Shared by the API client commands (tx, kv, governance, node add): the network folder
// `supernet up` wrote, and API clients that fail over between its nodes.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "node/api_client.h"
#include "node/appraiser.h"
#include "node/config.h"
#include "crypto/hash.h"
#include "crypto/secure.h"
#include "tee/policy.h"
#include "util/file.h"

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
  Bytes genesis_hash;
  tee::Policy policy;
  node::ApiCredentials credentials;
  // API addresses: the genesis validators', then nodes added later that this folder holds.
  std::vector<std::pair<uint32_t, node::HostPort>> apis;
  // Identity keys of the genesis validators; those of nodes added later are learned from an
  // attested node's GET /v1/nodes.
  std::map<uint32_t, Bytes> identity_keys;
  // <dir>/client/collateral/, when the client keeps one: appraises hardware nodes.
  std::shared_ptr<const tee::Collateral> collateral;
};

// The trust anchors a client pins in its own folder (<dir>/client/) the first time it uses a
// network: copies of the genesis and of the policy it appraises nodes with. Later commands
// read these copies, never the nodes' folder (whose host could rewrite it); `supernet client
// pin` replaces them deliberately.
inline std::string pinned_genesis_path(const NetFlags& f) { return f.dir + "/client/genesis.toml"; }
inline std::string pinned_policy_path(const NetFlags& f) { return f.dir + "/client/network-policy.toml"; }

inline Status pin_trust_anchors(const NetFlags& f, bool announce) {
  SN_ASSIGN(Bytes genesis, read_file(f.dir + "/genesis.toml", 1024 * 1024));
  SN_ASSIGN(Bytes policy, read_file(f.dir + "/network-policy.toml", 1024 * 1024));
  SN_ASSIGN(node::Genesis g, node::parse_genesis(to_string(genesis), f.dir + "/genesis.toml"));
  if (auto p = tee::parse_policy(to_string(policy), f.dir + "/network-policy.toml"); !p.ok()) return p.error();
  std::error_code ec;
  std::filesystem::create_directories(f.dir + "/client", ec);
  SN_TRY(write_file_atomic(pinned_genesis_path(f), genesis, 0644));
  SN_TRY(write_file_atomic(pinned_policy_path(f), policy, 0644));
  if (announce) {
    std::fprintf(stderr, "pinned trust anchors in %s/client: genesis %s (chain %s), policy sha256 %s\n", f.dir.c_str(),
                 to_hex(g.hash()).substr(0, 16).c_str(), g.chain_id.c_str(), to_hex(crypto::sha256(policy)).substr(0, 16).c_str());
  }
  return ok_status();
}

inline Result<Network> open_network(const NetFlags& f) {
  Network n;
  if (!std::filesystem::exists(pinned_genesis_path(f)) || !std::filesystem::exists(pinned_policy_path(f))) {
    SN_TRY(pin_trust_anchors(f, true));  // first use: trust on first use, said out loud
  }
  SN_ASSIGN(n.genesis, node::load_genesis(pinned_genesis_path(f)));
  SN_ASSIGN(n.policy, tee::load_policy(pinned_policy_path(f)));
  if (n.genesis.policy) {
    // The client's own policy may be stricter than the network's floor, never weaker.
    if (auto s = tee::policy_meets_floor(n.policy, *n.genesis.policy); !s.ok()) {
      return make_error(s.error().code, pinned_policy_path(f) + ": " + s.error().message);
    }
  }
  n.genesis_hash = n.genesis.hash();
  auto collateral = std::make_shared<tee::Collateral>();
  if (std::filesystem::is_directory(f.dir + "/client/collateral")) SN_TRY(collateral->add_path(f.dir + "/client/collateral"));
  n.collateral = collateral;
  SN_ASSIGN(n.credentials, node::load_credentials(f.dir + "/client/" + f.as));
  for (const auto& v : n.genesis.validators) {
    n.apis.push_back({v.id, v.api});
    n.identity_keys[v.id] = v.identity_key;
  }
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
  // `failover` false: only the first node is asked (requests that belong to one node). A node
  // the user named (`first` not 0) is the only one asked too: a refusal (it is down, or it is
  // not that node) is reported, never papered over by another node's answer.
  Clients(const Network& net, int first, bool failover = true) : net_(net), failover_(failover && first == 0) {
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
  // DELETE, to the current node only.
  Result<node::HttpReply> del(const std::string& path) { return client(current_).del(path); }
  void next() { current_ = (current_ + 1) % net_.apis.size(); }
  uint32_t node_id() const { return net_.apis[current_].first; }
  uint64_t failovers() const { return failovers_; }

 private:
  // A client that proves it reached node `id`: its certificate must bind that node's identity
  // key and the pinned chain, and each connection is attested afresh (node/api_client.h).
  node::ApiClient& client(size_t i) {
    auto& c = clients_[i];
    if (!c) {
      const auto& [id, api] = net_.apis[i];
      node::NodeExpectation expect{id, identity_key(id), net_.genesis_hash};
      tee::Policy policy = net_.policy;
      if (!net_.identity_keys.count(id)) node::apply_adjustments(policy, adjustments_);  // an added node's platform
      c = std::make_unique<node::ApiClient>(api.host, api.port, net_.credentials, policy, 10, expect, net_.collateral);
    }
    return *c;
  }
  // A node added after the genesis: its identity key as an attested genesis node's view of the
  // membership gives it (empty when none answers: the node is then refused).
  Bytes identity_key(uint32_t id) {
    if (auto it = net_.identity_keys.find(id); it != net_.identity_keys.end()) return it->second;
    if (auto it = learned_.find(id); it != learned_.end()) return it->second;
    for (size_t j = 0; j < net_.apis.size(); j++) {
      if (!net_.identity_keys.count(net_.apis[j].first)) continue;
      auto r = client(j).get("/v1/nodes");
      if (!r.ok() || r->status != 200) continue;
      auto body = nlohmann::json::parse(r->body, nullptr, false);
      if (!body.is_object() || !body["nodes"].is_array()) continue;
      for (const auto& n : body["nodes"]) {
        if (!n.is_object() || !n["id"].is_number_unsigned() || !n["identity_key"].is_string()) continue;
        if (auto k = from_hex(n["identity_key"].get<std::string>()); k.ok()) learned_[n["id"].get<uint32_t>()] = *k;
      }
      // Governance's changes to the policy, as the ledger has them (the members trusted the
      // new machines' platform keys when they admitted them).
      const auto& adj = body["policy_adjustments"];
      if (adj.is_object()) {
        for (const char* field : {"measurements", "virtual_platform_keys"}) {
          if (!adj[field].is_array()) continue;
          auto& into = std::string(field) == "measurements" ? adjustments_.measurements : adjustments_.virtual_platform_keys;
          for (const auto& x : adj[field]) {
            if (x.is_string()) into.push_back(x.get<std::string>());
          }
        }
      }
      break;
    }
    auto it = learned_.find(id);
    return it == learned_.end() ? Bytes{} : it->second;
  }
  const Network& net_;
  bool failover_ = true;
  std::map<size_t, std::unique_ptr<node::ApiClient>> clients_;
  std::map<uint32_t, Bytes> learned_;
  consensus::PolicyAdjustments adjustments_;
  size_t current_ = 0;
  uint64_t failovers_ = 0;
};

// Waits until transaction `id` is committed (GET /v1/tx/{id}?wait_ms), resubmitting `body`
// (a POST /v1/tx body; empty: never) if a node no longer knows it (it was pending at a node
// that died); `progress` prints the wait on stderr. Returns the final status document.
// A resource's key from the key management module, released to this client (keys_cmd.cc): t
// parts from the validators, each checked against its public share, combined.
// `from`, if given, gets the nodes whose parts were combined.
Result<crypto::SecureBytes> obtain_resource_key(const Network& net, int node, const std::string& resource, std::vector<uint32_t>* from = nullptr);

Result<nlohmann::json> await_commit(Clients& c, const std::string& id, const std::string& body, int timeout_s, bool progress);

// A recovery pending at the nodes with this id: approve it as this client (a member) and hand
// the approval to every node. False when no node holds such a recovery.
Result<bool> approve_pending_recovery(const Network& net, const std::string& id_hex);

inline std::string error_text(const node::HttpReply& r) {
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (!j.is_discarded() && j.is_object() && j.contains("message")) return j["message"].get<std::string>();
  return "HTTP " + std::to_string(r.status);
}

}  // namespace supernet::cli
