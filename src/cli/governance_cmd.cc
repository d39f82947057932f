// supernet governance propose / approve / list, and supernet node add: membership changes by
// member vote. Each governance transaction is signed here, with the member's own key (the one
// in its client certificate); nodes only order them.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli/client.h"
#include "cli/commands.h"
#include "consensus/membership.h"
#include "crypto/secure.h"
#include "util/file.h"

namespace supernet::cli {

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// Signs and submits; prints the transaction id. Returns the id (hex).
Result<std::string> submit_governance(const Network& net, int node, consensus::GovernanceTx g) {
  g.nonce = crypto::random_u64();
  Bytes tx = consensus::make_governance_tx(g, net.credentials.key);
  Clients c(net, node);
  SN_ASSIGN(node::HttpReply r, c.request(true, "/v1/governance", json{{"tx", to_hex(tx)}}.dump()));
  if (r.status != 200 && r.status != 202) return make_error("governance.refused", "node " + std::to_string(c.node_id()) + " refused it: " + error_text(r));
  return json::parse(r.body)["id"].get<std::string>();
}

// Waits until the governance transaction is committed, then shows the proposal's state.
Result<json> await_proposal(const Network& net, int node, const std::string& tx_id, const std::string& proposal_id, int timeout_s) {
  Clients c(net, node);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  while (std::chrono::steady_clock::now() < deadline) {
    auto t = c.request(false, "/v1/tx/" + tx_id);
    if (t.ok() && t->status == 200 && json::parse(t->body)["status"] != "pending") {
      SN_ASSIGN(node::HttpReply g, c.request(false, "/v1/governance"));
      json all = json::parse(g.body, nullptr, false);
      if (all.is_discarded() || !all.contains("proposals")) return make_error("governance.list", error_text(g));
      for (const auto& p : all["proposals"]) {
        if (p["id"] == proposal_id) return p;
      }
      return make_error("governance.missing", "committed, but the proposal is not listed");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return make_error("governance.timeout", "transaction " + tx_id + " was not committed within " + std::to_string(timeout_s) + " s");
}

void print_proposal(const json& p) {
  std::string approvals;
  for (const auto& a : p["approvals"]) approvals += (approvals.empty() ? "" : ", ") + a.get<std::string>();
  std::printf("proposal %s\n  %s%s  by %s  status %s  approvals: %s\n", p["id"].get<std::string>().c_str(), p["kind"].get<std::string>().c_str(),
              p.contains("node") ? (" node " + std::to_string(p["node"].get<int>())).c_str() : "", p["proposer"].get<std::string>().c_str(),
              p["status"].get<std::string>().c_str(), approvals.c_str());
  if (p.contains("failure")) std::printf("  failed: %s\n", p["failure"].get<std::string>().c_str());
}

int report(const Network& net, int node, const std::string& tx_id, const std::string& proposal_id) {
  auto p = await_proposal(net, node, tx_id, proposal_id, 30);
  if (!p.ok()) return fail(p.error(), kExitCheckFailed);
  print_proposal(*p);
  if ((*p)["status"] == "open") {
    std::printf("  more approvals needed: supernet governance approve %s --as <another member>\n", proposal_id.c_str());
  }
  return (*p)["status"] == "failed" ? kExitCheckFailed : kExitOk;
}

struct ProposeArgs {
  NetFlags net;
  std::string kind;
  int node = 0;
  uint64_t weight = 0;
  std::vector<std::string> measurements;
  std::string platform, platform_key;
  std::vector<std::string> tcb;
  std::string resource, chip_id;
  std::vector<std::string> clients, packages;
  std::string note;
};

int run_propose(const ProposeArgs& a) {
  auto net = open_network(a.net);
  if (!net.ok()) return fail(net.error());
  consensus::GovernanceTx g;
  g.action = consensus::GovernanceTx::Action::kPropose;
  g.change.note = a.note;
  g.change.node = static_cast<consensus::NodeId>(a.node);
  g.change.weight = a.weight;
  if (a.kind == "remove-node") {
    g.change.kind = consensus::ChangeKind::kRemoveNode;
  } else if (a.kind == "set-weight") {
    g.change.kind = consensus::ChangeKind::kSetWeight;
  } else if (a.kind == "set-min-tcb") {
    g.change.kind = consensus::ChangeKind::kSetMinTcb;
    g.change.platform = a.platform;
    for (const auto& t : a.tcb) {
      auto eq = t.find('=');
      uint64_t v = 0;
      auto [end, ec] = eq == std::string::npos ? std::from_chars(t.data(), t.data(), v)
                                               : std::from_chars(t.data() + eq + 1, t.data() + t.size(), v);
      if (eq == std::string::npos || eq == 0 || ec != std::errc() || end != t.data() + t.size()) {
        return fail(make_error("usage.tcb", "--tcb is COMPONENT=NUMBER (for example snp=23), not '" + t + "'"));
      }
      g.change.min_tcb[t.substr(0, eq)] = v;
    }
    if (a.platform.empty() || g.change.min_tcb.empty()) {
      return fail(make_error("usage.tcb", "set-min-tcb needs --platform KIND and --tcb COMPONENT=NUMBER at least once"));
    }
  } else if (a.kind == "set-release-policy") {
    g.change.kind = consensus::ChangeKind::kSetReleasePolicy;
    if (a.resource.empty()) return fail(make_error("usage.resource", "set-release-policy needs --resource NAME"));
    g.change.resource = a.resource;
    g.change.clients = a.clients;
    for (auto m : a.measurements) {
      std::transform(m.begin(), m.end(), m.begin(), [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
      g.change.measurements.push_back(m);
    }
    for (auto d : a.packages) {
      std::transform(d.begin(), d.end(), d.begin(), [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
      g.change.packages.push_back(d);
    }
    if (auto s = keys::check_release_policy({g.change.clients, g.change.measurements, g.change.packages}); !s.ok()) {
      return fail(make_error("usage.release_policy", s.error().message));
    }
  } else if (a.kind == "refresh-key") {
    g.change.kind = consensus::ChangeKind::kRefreshKey;
  } else if (a.kind == "revoke-platform-key" && !a.chip_id.empty()) {
    // A hardware machine, by the chip id its evidence carries.
    g.change.kind = consensus::ChangeKind::kRevokeChip;
    g.change.platform_key = a.chip_id;
    std::transform(g.change.platform_key.begin(), g.change.platform_key.end(), g.change.platform_key.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    if (!a.platform_key.empty()) return fail(make_error("usage.chip_id", "give --platform-key or --chip-id, not both"));
    if (g.change.platform_key.size() < 16 || g.change.platform_key.size() > 256 || !from_hex(g.change.platform_key).ok()) {
      return fail(make_error("usage.chip_id", "--chip-id is hex, 8 to 128 bytes (SEV-SNP CHIP_ID: 64 bytes; `supernet attest verify --json` shows it)"));
    }
  } else if (a.kind == "revoke-platform-key") {
    g.change.kind = consensus::ChangeKind::kRevokePlatformKey;
    g.change.platform_key = a.platform_key;
    std::transform(g.change.platform_key.begin(), g.change.platform_key.end(), g.change.platform_key.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    if (g.change.platform_key.size() != 64 || !from_hex(g.change.platform_key).ok()) {
      return fail(make_error("usage.platform_key", "--platform-key is a platform key id, 64 hex digits (the policy's trusted_virtual_platform_keys)"));
    }
  } else {
    g.change.kind = consensus::ChangeKind::kSetMeasurements;
    for (auto m : a.measurements) {
      std::transform(m.begin(), m.end(), m.begin(), [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
      g.change.measurements.push_back(m);
    }
  }
  bool about_node = g.change.kind == consensus::ChangeKind::kRemoveNode || g.change.kind == consensus::ChangeKind::kSetWeight;
  if (about_node && a.node <= 0) return fail(make_error("usage.validator", "--validator is required"));
  if (g.change.kind == consensus::ChangeKind::kSetWeight && a.weight == 0) return fail(make_error("usage.weight", "--weight is required"));
  if (g.change.kind == consensus::ChangeKind::kSetMeasurements && a.measurements.empty()) {
    return fail(make_error("usage.measurement", "give --measurement HEX at least once"));
  }
  auto id = submit_governance(*net, a.net.node, g);
  if (!id.ok()) return fail(id.error(), kExitCheckFailed);
  std::printf("proposal submitted (transaction %s)\n", id->c_str());
  return report(*net, a.net.node, *id, *id);
}

struct ApproveArgs {
  NetFlags net;
  std::string proposal;
};

int run_approve(const ApproveArgs& a) {
  auto net = open_network(a.net);
  if (!net.ok()) return fail(net.error());
  auto pid = from_hex(a.proposal);
  if (!pid.ok() || pid->size() != 32) return fail(make_error("usage.proposal", "a proposal id is 64 hex digits"));
  // A recovery after a total stop is approved off the ledger (nothing can be ordered then).
  auto recovery = approve_pending_recovery(*net, a.proposal);
  if (!recovery.ok()) return fail(recovery.error(), kExitCheckFailed);
  if (*recovery) return kExitOk;
  consensus::GovernanceTx g;
  g.action = consensus::GovernanceTx::Action::kApprove;
  g.proposal = *pid;
  auto id = submit_governance(*net, a.net.node, g);
  if (!id.ok()) return fail(id.error(), kExitCheckFailed);
  std::printf("approval submitted (transaction %s)\n", id->c_str());
  return report(*net, a.net.node, *id, a.proposal);
}

int run_list(const NetFlags& f) {
  auto net = open_network(f);
  if (!net.ok()) return fail(net.error());
  Clients c(*net, f.node);
  auto r = c.request(false, "/v1/governance");
  if (!r.ok()) return fail(r.error(), kExitCheckFailed);
  if (r->status != 200) return fail(make_error("governance.list", error_text(*r)), kExitCheckFailed);
  json j = json::parse(r->body);
  std::string members;
  for (const auto& m : j["members"]) members += (members.empty() ? "" : ", ") + m.get<std::string>();
  std::printf("members: %s; a proposal needs %d approval(s)\n", members.c_str(), j["approvals_needed"].get<int>());
  if (!j["measurements"].empty()) std::printf("measurements set by governance: %s\n", j["measurements"].dump().c_str());
  if (j["proposals"].empty()) std::printf("no proposals yet\n");
  for (const auto& p : j["proposals"]) print_proposal(p);
  return kExitOk;
}

// --- supernet node add ---

struct AddArgs {
  NetFlags net;
  uint64_t weight = 1;
  int wait_s = 60;
};

int run_add(const AddArgs& a) {
  auto net = open_network(a.net);
  if (!net.ok()) return fail(net.error());
  const std::string& dir = a.net.dir;
  auto first = node::load_node_config(node_dir(dir, 1) + "/node.toml");
  if (!first.ok()) return fail(first.error());
  int base = first->peer_listen.port - 1;
  int id = count_nodes(dir) + 1;
  std::string nd = node_dir(dir, id);
  // A new "machine": its own virtual platform key. The proposal names it, so the members'
  // approval is what makes every node (and client) trust it: nobody edits a policy file, and
  // every local policy stays within the genesis' floor.
  tee::Policy policy = net->policy;
  auto made = make_local_node(dir, id, base, net->genesis.protocol, policy);
  if (!made.ok()) return fail(made.error());
  const node::NodeConfig& c = *made;
  auto pid = spawn_node(dir, id);
  if (!pid.ok()) return fail(pid.error());
  std::printf("started node %d (peer %s, API https://%s); waiting for its keys\n", id, c.peer_listen.text().c_str(), c.api_listen.text().c_str());
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(a.wait_s);
  while (!fs::exists(nd + "/public.toml")) {
    if (std::chrono::steady_clock::now() > deadline) return fail(make_error("node.add", "node " + std::to_string(id) + " did not publish its keys; see " + nd + "/node.log"), kExitCheckFailed);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  // A tee-bft node publishes evidence for its checker's key once it has read the genesis.
  auto published = node::load_published(nd + "/public.toml");
  while (published.ok() && net->genesis.protocol == consensus::Protocol::kTeeBft && published->vote_key_evidence.empty()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return fail(make_error("node.add", "node " + std::to_string(id) + " published no evidence for its vote key; see " + nd + "/node.log"),
                  kExitCheckFailed);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    published = node::load_published(nd + "/public.toml");
  }
  if (!published.ok()) return fail(published.error());
  consensus::GovernanceTx g;
  g.action = consensus::GovernanceTx::Action::kPropose;
  g.change.kind = consensus::ChangeKind::kAddNode;
  g.change.node = published->id;
  g.change.weight = a.weight;
  g.change.identity_key = published->identity_key;
  g.change.vote_key = published->vote_key;
  g.change.peer = published->peer.text();
  g.change.api = published->api.text();
  g.change.note = "supernet node add";
  // The new "machine": the members trust its virtual platform key with this proposal.
  if (c.platform == "virtual" && !policy.trusted_virtual_platform_keys.empty()) {
    g.change.platform_key = to_hex(policy.trusted_virtual_platform_keys.back());
  }
  g.change.issued_at = published->vote_key_issued_at;
  g.change.evidence = published->vote_key_evidence;
  auto tx = submit_governance(*net, a.net.node, g);
  if (!tx.ok()) return fail(tx.error(), kExitCheckFailed);
  std::printf("proposed adding node %d (transaction %s)\n", id, tx->c_str());
  return report(*net, a.net.node, *tx, *tx);
}

}  // namespace

void add_governance_commands(CLI::App& app, CLI::App* node_cmd, int* exit_code) {
  CLI::App* gov = app.add_subcommand("governance", "Membership changes by member vote: propose, approve, list");
  gov->require_subcommand(1);

  auto p = std::make_shared<ProposeArgs>();
  CLI::App* propose = gov->add_subcommand(
      "propose",
      "Propose removing a node, changing its stake, the measurements nodes accept, or a revocation: raise a minimum TCB, "
      "distrust a platform key; or who may obtain a resource's key (set-release-policy) (adding a node: supernet node add). Revocations act on live sessions at once: a peer that no "
      "longer passes is disconnected");
  p->net.add_to(propose);
  propose->add_option("kind", p->kind,
                      "remove-node, set-weight, set-measurements, set-min-tcb, revoke-platform-key, set-release-policy or refresh-key")
      ->required()
      ->check(CLI::IsMember({"remove-node", "set-weight", "set-measurements", "set-min-tcb", "revoke-platform-key", "set-release-policy",
                             "refresh-key"}));
  propose->add_option("--validator", p->node, "the validator it is about");
  propose->add_option("--weight", p->weight, "set-weight: the new stake");
  propose->add_option("--measurement", p->measurements,
                      "set-measurements: an accepted measurement (hex); set-release-policy: a node program whose TAs may obtain the key; "
                      "repeat for several");
  propose->add_option("--platform", p->platform, "set-min-tcb: the platform kind (sev-snp, sgx, tdx, psa, cca, tpm)");
  propose->add_option("--tcb", p->tcb, "set-min-tcb: COMPONENT=NUMBER, a component's new minimum (for sev-snp: bootloader, tee, snp, microcode); repeat for several");
  propose->add_option("--platform-key", p->platform_key, "revoke-platform-key: the virtual platform key id to distrust (hex)");
  propose->add_option("--chip-id", p->chip_id,
                      "revoke-platform-key: a hardware machine to distrust by its chip id (hex; SEV-SNP CHIP_ID, PSA/CCA instance id)");
  propose->add_option("--resource", p->resource, "set-release-policy: the resource whose key it governs (letters, digits, . _ - : /)");
  propose->add_option("--client", p->clients, "set-release-policy: a registered client that may obtain the key; repeat for several");
  propose->add_option("--package", p->packages,
                      "set-release-policy: a package root digest (64 hex) a TA must run to obtain the key; repeat for several. "
                      "With no --client, --measurement or --package the resource's policy is removed (no one obtains it)");
  propose->add_option("--note", p->note, "why (recorded on the ledger)");
  propose->callback([p, exit_code] { *exit_code = run_propose(*p); });

  auto ap = std::make_shared<ApproveArgs>();
  CLI::App* approve = gov->add_subcommand("approve", "Approve an open proposal (as the member --as names)");
  ap->net.add_to(approve);
  approve->add_option("proposal", ap->proposal, "proposal id (64 hex digits)")->required();
  approve->callback([ap, exit_code] { *exit_code = run_approve(*ap); });

  auto lf = std::make_shared<NetFlags>();
  CLI::App* list = gov->add_subcommand("list", "Show the members, the approvals a proposal needs, and every proposal");
  lf->add_to(list);
  list->callback([lf, exit_code] { *exit_code = run_list(*lf); });

  // supernet keys rotate: the members' proactive refresh of the group key, as a proposal.
  if (CLI::App* keys = app.get_subcommand("keys")) {
    auto r = std::make_shared<ProposeArgs>();
    r->kind = "refresh-key";
    CLI::App* rotate = keys->add_subcommand(
        "rotate",
        "Propose a proactive refresh of the group key (as a member): once approved, the validators reshare the key to "
        "themselves, so the group key stays and every share changes (epoch + 1 in keys status); shares of different "
        "epochs do not combine");
    r->net.add_to(rotate);
    rotate->add_option("--note", r->note, "why (recorded on the ledger)");
    rotate->callback([r, exit_code] { *exit_code = run_propose(*r); });
  }

  auto ad = std::make_shared<AddArgs>();
  CLI::App* add = node_cmd->add_subcommand(
      "add", "Start a new node in a local network folder, trust its platform in the policy, and propose adding it as a validator");
  ad->net.add_to(add);
  add->add_option("--weight", ad->weight, "its stake")->capture_default_str();
  add->callback([ad, exit_code] { *exit_code = run_add(*ad); });
}

}  // namespace supernet::cli
