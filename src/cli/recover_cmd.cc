// supernet recover: the members restart a tee-bft network after every node stopped at once.
//
// Every node, restarted with a new checker key, still serves its API and reports (attested: the
// client proves which node answers and that the answer is fresh) its committed tip, its last
// recorded vote above it, and the attested rotation to its new key. The member builds the
// recovery on the highest tip any node shows, keeps the block the highest-round valid vote above
// it was for (an old quorum may have committed it), names every node's rotation, signs it, and
// hands it to every node; other members approve it with `supernet governance approve ID`.
#include <cstdio>

#include "cli/client.h"
#include "cli/commands.h"
#include "consensus/membership.h"
#include "consensus/replica.h"
#include "consensus/verify.h"
#include "crypto/hash.h"

namespace supernet::cli {

using nlohmann::json;

namespace {

struct Report {
  uint32_t node = 0;
  uint64_t height = 0;
  Bytes tip, base;
  std::optional<consensus::Block> tip_block;
  bool can_sign = false;
  std::optional<consensus::Vote> vote;
  std::optional<consensus::Block> voted_block;
  Bytes rotation;
};

Result<Report> read_report(uint32_t id, const json& j) {
  Report r;
  r.node = id;
  if (!j.is_object() || !j["height"].is_number_unsigned() || !j["tip"].is_string()) return make_error("recover.report", "malformed report");
  r.height = j["height"].get<uint64_t>();
  SN_ASSIGN(r.tip, from_hex(j["tip"].get<std::string>()));
  SN_ASSIGN(r.base, from_hex(j.value("base", "")));
  if (j["tip_block"].is_string()) {
    SN_ASSIGN(Bytes b, from_hex(j["tip_block"].get<std::string>()));
    Reader br(b);
    SN_ASSIGN(consensus::Block block, consensus::Block::decode(br));
    if (block.header.hash() != r.tip) return make_error("recover.report", "the tip block is not the tip");
    r.tip_block = block;
  }
  r.can_sign = j.value("can_sign", false);
  if (j["rotation"].is_string()) {
    SN_ASSIGN(r.rotation, from_hex(j["rotation"].get<std::string>()));
  }
  if (j["last_vote"].is_object()) {
    SN_ASSIGN(Bytes vote, from_hex(j["last_vote"].value("vote", "")));
    SN_ASSIGN(Bytes block, from_hex(j["last_vote"].value("block", "")));
    Reader vr(vote), br(block);
    SN_ASSIGN(consensus::Vote v, consensus::Vote::decode(vr));
    SN_ASSIGN(consensus::Block b, consensus::Block::decode(br));
    r.vote = v;
    r.voted_block = b;
  }
  return r;
}

json request_json(const consensus::Replica::RecoveryRequest& req) {
  json rots = json::array(), approvals = json::array();
  for (const auto& r : req.rotations) rots.push_back(to_hex(r));
  for (const auto& a : req.approvals) approvals.push_back({{"spki", to_hex(a.spki)}, {"signature", to_hex(a.signature)}});
  json carried = json::array();
  for (const auto& b : req.carried) {
    Writer w;
    b.encode(w);
    carried.push_back(to_hex(w.data()));
  }
  return {{"recovery", to_hex(req.recovery)}, {"rotations", rots}, {"carried", carried}, {"approvals", approvals}};
}

// Hands the request to every node; prints each one's answer. Fails only if none took it.
Status post_everywhere(const Network& net, const json& body) {
  size_t taken = 0;
  std::string last;
  for (const auto& [id, api] : net.apis) {
    Clients c(net, static_cast<int>(id));
    auto r = c.request(true, "/v1/recovery", body.dump());
    if (!r.ok()) {
      std::printf("  node %u: unreachable (%s)\n", id, r.error().message.c_str());
      last = r.error().message;
      continue;
    }
    auto j = json::parse(r->body, nullptr, false);
    std::string state = j.is_object() ? j.value("state", j.value("message", r->body)) : r->body;
    std::printf("  node %u: %s\n", id, state.c_str());
    if (r->status == 200 || r->status == 202) taken++;
    else last = state;
  }
  if (taken == 0) return make_error("recover.refused", "no node took the recovery: " + last);
  return ok_status();
}

struct RecoverArgs {
  NetFlags net;
  int min_reports = 0;
  std::string note = "recovery after a total stop";
};

int run_recover(const RecoverArgs& a) {
  auto net = open_network(a.net);
  if (!net.ok()) return fail(net.error());
  if (net->genesis.protocol != consensus::Protocol::kTeeBft) {
    std::printf("a bft network keeps its vote keys across restarts: restart its nodes, nothing to recover\n");
    return kExitOk;
  }
  std::vector<Report> reports;
  for (const auto& [id, api] : net->apis) {
    Clients c(*net, static_cast<int>(id));
    auto r = c.request(false, "/v1/recovery/state");
    if (!r.ok() || r->status != 200) {
      std::printf("node %u: no report (%s)\n", id, r.ok() ? error_text(*r).c_str() : r.error().message.c_str());
      continue;
    }
    auto rep = read_report(id, json::parse(r->body, nullptr, false));
    if (!rep.ok()) return fail(rep.error(), kExitCheckFailed);
    std::printf("node %u: committed height %llu, %s%s\n", id, static_cast<unsigned long long>(rep->height),
                rep->can_sign ? "signing" : "not signing (new checker key)", rep->vote ? ", a recorded vote above it" : "");
    reports.push_back(*rep);
  }
  size_t needed = a.min_reports > 0 ? static_cast<size_t>(a.min_reports) : net->apis.size();
  if (reports.size() < needed) {
    return fail(make_error("recover.reports", std::to_string(reports.size()) + " of " + std::to_string(net->apis.size()) +
                                                  " nodes reported; a recovery needs every node's tip and vote (a missing node may hold a "
                                                  "later block), or --min-reports to go on without them"),
                kExitCheckFailed);
  }
  for (const auto& r : reports) {
    if (r.can_sign) {
      return fail(make_error("recover.running", "node " + std::to_string(r.node) + " can still sign: the network is not stopped, "
                                                                                    "restart the others instead"),
                  kExitCheckFailed);
    }
  }
  const Report* top = &reports[0];
  for (const auto& r : reports) {
    if (r.height > top->height) top = &r;
  }
  for (const auto& r : reports) {
    if (r.height + 1 < top->height) {
      return fail(make_error("recover.catching_up", "node " + std::to_string(r.node) + " is at height " + std::to_string(r.height) +
                                                        ", more than one below the highest (" + std::to_string(top->height) +
                                                        "): it is still catching up by sync; run supernet recover again in a moment"),
                  kExitCheckFailed);
    }
  }
  // The base is one below the highest tip, and the tip block is carried: only its reporter may
  // hold it, and the others must not have to fetch it from that one node.
  consensus::Recovery rec;
  consensus::Replica::RecoveryRequest req;
  if (top->height >= 1 && top->tip_block) {
    rec.height = top->height - 1;
    rec.block = top->base;
    rec.carried.push_back(top->tip);
    req.carried.push_back(*top->tip_block);
  } else {
    rec.height = top->height;
    rec.block = top->tip;
  }
  rec.nonce = crypto::random_u64();
  rec.note = a.note;
  // The highest-round vote above the tip, if its signature is the voter's vote key at that
  // height: the block it is for may have been committed by an old quorum, so it stays.
  Clients top_client(*net, static_cast<int>(top->node));
  auto nodes = top_client.request(false, "/v1/nodes");
  std::optional<consensus::ValidatorSet> set;
  if (nodes.ok() && nodes->status == 200) {
    auto j = json::parse(nodes->body, nullptr, false);
    std::vector<consensus::Validator> vals;
    for (const auto& n : j["nodes"]) {
      auto vk = from_hex(n.value("vote_key", ""));
      if (vk.ok()) vals.push_back({n["id"].get<uint32_t>(), n["weight"].get<uint64_t>(), *vk, {}, 0});
    }
    if (!vals.empty()) set = consensus::ValidatorSet(vals, j.value("epoch", uint64_t{0}));
  }
  const Report* carried = nullptr;
  for (const auto& r : reports) {
    if (!r.vote || r.vote->height != top->height + 1 || r.voted_block->header.parent != top->tip ||
        r.voted_block->header.hash() != r.vote->block) {
      continue;
    }
    if (!set || !consensus::verify_vote(*set, consensus::Protocol::kTeeBft, *r.vote).ok()) {
      std::printf("node %u: its recorded vote does not verify under the validator set; ignored\n", r.node);
      continue;
    }
    if (carried == nullptr || r.vote->round > carried->vote->round) carried = &r;
  }
  if (carried != nullptr) {
    rec.carried.push_back(carried->voted_block->header.hash());
    req.carried.push_back(*carried->voted_block);
    std::printf("keeping block %s at height %llu: node %u voted for it in round %llu\n", to_hex(rec.carried.back()).substr(0, 16).c_str(),
                static_cast<unsigned long long>(top->height + 1), carried->node, static_cast<unsigned long long>(carried->vote->round));
  }
  for (const auto& r : reports) {
    if (r.rotation.empty()) continue;
    rec.rotation_ids.push_back(crypto::sha256(r.rotation));
    req.rotations.push_back(r.rotation);
  }
  req.recovery = rec.encode();
  req.approvals.push_back(consensus::approve_recovery(rec, net->genesis_hash, net->credentials.key));
  std::string id = to_hex(crypto::sha256(req.recovery));
  std::printf("recovery %s\n  on height %llu (block %s), keeping %zu block(s) above it, %zu new checker keys, approved by %s\n",
              id.c_str(), static_cast<unsigned long long>(rec.height), to_hex(rec.block).substr(0, 16).c_str(), rec.carried.size(),
              req.rotations.size(), a.net.as.c_str());
  if (auto s = post_everywhere(*net, request_json(req)); !s.ok()) return fail(s.error(), kExitCheckFailed);
  if (net->genesis.governance().approvals > 1) {
    std::printf("  %u approvals needed: supernet governance approve %s --as <another member>\n", net->genesis.governance().approvals,
                id.c_str());
  }
  return kExitOk;
}

}  // namespace

Result<bool> approve_pending_recovery(const Network& net, const std::string& id_hex) {
  for (const auto& [node, api] : net.apis) {
    Clients c(net, static_cast<int>(node));
    auto r = c.request(false, "/v1/recovery");
    if (!r.ok() || r->status != 200) continue;
    auto j = json::parse(r->body, nullptr, false);
    if (!j.is_object() || !j["recoveries"].is_array()) continue;
    for (const auto& p : j["recoveries"]) {
      if (p.value("id", "") != id_hex) continue;
      consensus::Replica::RecoveryRequest req;
      SN_ASSIGN(req.recovery, from_hex(p.value("recovery", "")));
      for (const auto& x : p["rotations"]) {
        SN_ASSIGN(Bytes rot, from_hex(x.get<std::string>()));
        req.rotations.push_back(rot);
      }
      for (const auto& x : p["carried"]) {
        SN_ASSIGN(Bytes b, from_hex(x.get<std::string>()));
        Reader br(b);
        SN_ASSIGN(consensus::Block block, consensus::Block::decode(br));
        req.carried.push_back(block);
      }
      SN_ASSIGN(consensus::Recovery rec, consensus::Recovery::decode(req.recovery));
      req.approvals.push_back(consensus::approve_recovery(rec, net.genesis_hash, net.credentials.key));
      std::printf("approving recovery %s (height %llu, %zu new checker keys)\n", id_hex.c_str(),
                  static_cast<unsigned long long>(rec.height), req.rotations.size());
      SN_TRY(post_everywhere(net, request_json(req)));
      return true;
    }
  }
  return false;
}

void add_recover_commands(CLI::App& app, int* exit_code) {
  auto a = std::make_shared<RecoverArgs>();
  CLI::App* cmd = app.add_subcommand(
      "recover", "Members restart a tee-bft network after every node stopped at once: gather every node's attested tip, vote "
                 "and new checker key, propose the recovery and sign it (others approve with `governance approve ID`)");
  a->net.add_to(cmd);
  cmd->add_option("--min-reports", a->min_reports, "go on with this many nodes' reports (default: every node; a node left out may hold a later block)");
  cmd->add_option("--note", a->note, "why")->capture_default_str();
  cmd->callback([a, exit_code] { *exit_code = run_recover(*a); });
}

}  // namespace supernet::cli
