#include "node/api.h"

#include <cmath>
#include <httplib.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <asio/post.hpp>
#include <chrono>
#include <cstdlib>
#include <future>
#include <nlohmann/json.hpp>

#include "consensus/chain.h"
#include "consensus/verify.h"
#include "crypto/hash.h"
#include "crypto/secure.h"
#include "ledger/receipt.h"
#include "ledger/tx.h"
#include "node/fl_service.h"
#include "util/log.h"
#include "util/names.h"

namespace supernet::node {

using nlohmann::json;

namespace {

ApiResponse reply(int status, const json& body) { return {status, "application/json", body.dump() + "\n"}; }

ApiResponse error(int status, const std::string& code, const std::string& message) {
  return reply(status, json{{"error", code}, {"message", message}});
}

json value_json(ByteView value) {
  std::string text(value.begin(), value.end());
  try {
    (void)json(text).dump();  // throws on invalid UTF-8
    return json{{"value", text}};
  } catch (const json::exception&) {
    return json{{"value_hex", to_hex(value)}};
  }
}

json tx_json(ByteView tx) {
  if (auto w = ledger::KvWrite::decode(tx); w.ok()) {
    json j = {{"type", "kv_write"}, {"table", w->table}, {"key", w->key}, {"client", w->client}, {"nonce", w->nonce}};
    j.update(value_json(w->value));
    return j;
  }
  if (consensus::is_key_rotation(tx)) {
    if (auto k = consensus::KeyRotation::decode(tx); k.ok()) {
      return {{"type", "key_rotation"}, {"node", k->node}, {"new_vote_key", to_hex(k->new_vote_key)}, {"nonce", k->nonce}};
    }
  }
  if (auto g = consensus::GovernanceTx::decode(tx); g.ok()) {
    json j = {{"type", g->action == consensus::GovernanceTx::Action::kPropose ? "governance_proposal" : "governance_approval"},
              {"member_key_sha256", to_hex(crypto::sha256(g->member_spki))}};
    if (g->action == consensus::GovernanceTx::Action::kPropose) {
      j["kind"] = consensus::change_kind_name(g->change.kind);
      j["node"] = g->change.node;
    } else {
      j["proposal"] = to_hex(g->proposal);
    }
    return j;
  }
  if (auto e = consensus::Evidence::decode(tx); e.ok()) {
    return {{"type", "evidence"}, {"reporter", e->reporter}, {"accused", e->accused}, {"reason", e->reason}, {"signed_messages", e->messages.size()}};
  }
  return {{"type", "unknown"}};
}

}  // namespace

ApiHandler::ApiHandler(Node& node, Genesis genesis) : node_(node), genesis_(std::move(genesis)) {
  for (const auto& c : genesis_.clients) clients_[c.spki_sha256] = {c.name, c.role};
}

ApiResponse ApiHandler::handle(const ApiRequest& req) {
  const Client* client = nullptr;
  if (req.client_spki_sha256) {
    // Constant time over the registered keys: which client is which is not a secret, but the
    // comparison habit costs nothing here.
    for (const auto& [spki, c] : clients_) {
      if (crypto::ct_equal(spki, *req.client_spki_sha256)) client = &c;
    }
  }
  ApiResponse r = route(req, client);
  responses_[r.status]++;
  return r;
}

ApiResponse ApiHandler::route(const ApiRequest& req, const Client* client) {
  const std::string& p = req.path;
  bool get = req.method == "GET" || req.method == "HEAD";
  if (p == "/v1/health") return get ? get_health() : error(405, "method", "use GET");
  if (p == "/v1/openapi.json") return get ? ApiResponse{200, "application/json", openapi_json()} : error(405, "method", "use GET");
  bool known = p == "/v1/tx" || p.rfind("/v1/tx/", 0) == 0 || p.rfind("/v1/kv/", 0) == 0 || p == "/v1/nodes" || p == "/metrics" ||
               (p == "/v1/attestation" && platform_ != nullptr) || p == "/v1/recovery" || p == "/v1/recovery/state" ||
               p == "/v1/governance" || ((p == "/v1/data" || p.rfind("/v1/data/", 0) == 0) && datasets_ != nullptr) ||
               ((p == "/v1/fl/jobs" || p.rfind("/v1/fl/jobs/", 0) == 0) && fl_ != nullptr);
  if (!known) return error(404, "not_found", "no such endpoint: " + p + " (see GET /v1/openapi.json)");
  if (client == nullptr) {
    return error(401, "unauthenticated",
                 req.client_spki_sha256 ? "the client certificate's key is not registered with this network"
                                        : "a client certificate registered in the genesis is required (mutual TLS)");
  }
  if (p == "/v1/tx") return req.method == "POST" ? post_tx(req.body, *client) : error(405, "method", "use POST");
  if (p == "/v1/recovery" && req.method == "POST") return post_recovery(req.body, *client);
  if (p == "/v1/governance") {
    if (req.method == "POST") return post_governance(req.body, *client, *req.client_spki_sha256);
    if (get) return get_governance();
    return error(405, "method", "use GET or POST");
  }
  if (p.rfind("/v1/data/", 0) == 0) return req.method == "POST" ? post_data(p.substr(9), req) : error(405, "method", "use POST");
  if (p == "/v1/fl/jobs" && req.method == "POST") return post_fl_job(req.body, *client);
  if (p.rfind("/v1/fl/jobs", 0) == 0) return get ? get_fl(p.substr(11), *client) : error(405, "method", "use GET");
  if (!get) return error(405, "method", "use GET");
  if (p == "/v1/data") return get_data();
  if (p.rfind("/v1/tx/", 0) == 0) return get_tx(p.substr(7));
  if (p.rfind("/v1/kv/", 0) == 0) return get_kv(p.substr(7));
  if (p == "/v1/nodes") return get_nodes();
  if (p == "/v1/attestation") return get_attestation(req);
  if (p == "/v1/recovery/state") return get_recovery_state();
  if (p == "/v1/recovery") return get_recoveries();
  return get_metrics();
}

namespace {

std::string block_hex(const consensus::Block& b) {
  Writer w;
  b.encode(w);
  return to_hex(w.data());
}

}  // namespace

// What this node can show after a total stop: its committed tip (a client proves whom it asks
// and that the answer is fresh: node/api_client.h), its last recorded vote above it, and the
// attested rotation to its current checker key.
ApiResponse ApiHandler::get_recovery_state() {
  const auto& r = node_.replica();
  json out = {{"node", r.self()}, {"height", r.next_height() - 1}, {"can_sign", r.can_sign()},
              {"tip", r.chain().empty() ? to_hex(r.genesis_hash()) : to_hex(r.chain().back().block.header.hash())},
              {"tip_block", r.chain().empty() ? json(nullptr) : json(block_hex(r.chain().back().block))},
              {"base", r.chain().size() < 2 ? to_hex(r.genesis_hash()) : to_hex(r.chain()[r.chain().size() - 2].block.header.hash())},
              {"last_vote", nullptr}, {"rotation", nullptr}};
  if (auto v = node_.store().last_vote(); v.ok() && *v && (*v)->vote.height == r.next_height()) {
    Writer vote;
    (*v)->vote.encode(vote);
    out["last_vote"] = {{"height", (*v)->vote.height}, {"round", (*v)->vote.round}, {"vote", to_hex(vote.data())},
                        {"block", block_hex((*v)->block)}};
  }
  if (r.own_rotation() && !r.can_sign()) out["rotation"] = to_hex(*r.own_rotation());
  return reply(200, out);
}

ApiResponse ApiHandler::get_recoveries() {
  json list = json::array();
  for (const auto& p : node_.pending_recoveries()) {
    auto r = consensus::Recovery::decode(p.request.recovery);
    if (!r.ok()) continue;
    json rots = json::array(), carried = json::array();
    for (const auto& x : p.request.rotations) rots.push_back(to_hex(x));
    for (const auto& b : p.request.carried) carried.push_back(block_hex(b));
    list.push_back({{"id", to_hex(crypto::sha256(p.request.recovery))}, {"height", r->height}, {"note", r->note},
                    {"approvals", p.request.approvals.size()}, {"needed", node_.replica().membership().rules().approvals},
                    {"state", p.state}, {"recovery", to_hex(p.request.recovery)}, {"rotations", rots},
                    {"carried", carried}});
  }
  return reply(200, json{{"recoveries", list}});
}

ApiResponse ApiHandler::post_recovery(const std::string& body, const Client& client) {
  if (client.role != "member") return error(403, "forbidden", "only members recover a network");
  auto j = json::parse(body, nullptr, false);
  if (!j.is_object() || !j["recovery"].is_string() || !j["rotations"].is_array() || !j["approvals"].is_array()) {
    return error(400, "bad_request", "expected {\"recovery\": hex, \"rotations\": [hex], \"carried\": [hex], \"approvals\": [{\"spki\", \"signature\"}]}");
  }
  consensus::Replica::RecoveryRequest req;
  auto hex = [](const json& v) -> Result<Bytes> {
    if (!v.is_string()) return make_error("bad_request", "expected a hex string");
    return from_hex(v.get<std::string>());
  };
  auto rec = hex(j["recovery"]);
  if (!rec.ok()) return error(400, "bad_request", "recovery: " + rec.error().message);
  req.recovery = *rec;
  if (j["rotations"].size() > consensus::kValidatorsMax || j["approvals"].size() > consensus::kMembersMax) {
    return error(400, "bad_request", "too many rotations or approvals");
  }
  for (const auto& x : j["rotations"]) {
    auto b = hex(x);
    if (!b.ok() || b->size() > consensus::kTxBytesMax) return error(400, "bad_request", "a rotation is not a hex transaction of at most 64 KiB");
    req.rotations.push_back(*b);
  }
  for (const auto& a : j["approvals"]) {
    if (!a.is_object()) return error(400, "bad_request", "an approval is {\"spki\", \"signature\"}");
    auto spki = hex(a["spki"]);
    auto sig = hex(a["signature"]);
    if (!spki.ok() || !sig.ok()) return error(400, "bad_request", "an approval is {\"spki\", \"signature\"} in hex");
    req.approvals.push_back({*spki, *sig});
  }
  if (j.contains("carried") && j["carried"].is_array()) {
    if (j["carried"].size() > consensus::kRecoveryCarriedMax) return error(400, "bad_request", "too many carried blocks");
    for (const auto& x : j["carried"]) {
      auto b = hex(x);
      if (!b.ok()) return error(400, "bad_request", "carried: " + b.error().message);
      Reader r(*b);
      auto block = consensus::Block::decode(r);
      if (!block.ok() || !r.done()) return error(400, "bad_request", "a carried block is not an encoded block");
      req.carried.push_back(std::move(block).value());
    }
  }
  auto state = node_.submit_recovery(std::move(req));
  if (!state.ok()) return error(409, state.error().code, state.error().message);
  int status = *state == "applied" ? 200 : 202;
  return reply(status, json{{"id", to_hex(crypto::sha256(*rec))}, {"state", *state}});
}

ApiResponse ApiHandler::get_attestation(const ApiRequest& req) {
  if (req.tls_exporter.size() != 32) return error(500, "tls", "the TLS session's exporter is not available");
  auto id = certificates_->current();
  Bytes binding = net::api_fresh_binding(req.tls_exporter, id->key.public_key().spki_der(), id->binding);
  auto evidence = platform_->evidence(binding);
  if (!evidence.ok()) return error(500, "attestation", evidence.error().message);
  return reply(200, json{{"evidence", to_hex(*evidence)},
                         {"platform", tee::kind_name(platform_->kind())},
                         {"identity_key", to_hex(id->binding.identity_key)},
                         {"chain", to_hex(id->binding.chain)}});
}

ApiResponse ApiHandler::submit_tx(Bytes tx) {
  std::string id = consensus::tx_id(tx);
  std::string id_hex = to_hex(as_bytes(id));
  if (auto loc = node_.store().find_tx(as_bytes(id)); loc.ok() && *loc) {  // a retry of a committed transaction
    return reply(200, json{{"id", id_hex}, {"status", "committed"}, {"height", (*loc)->height}});
  }
  if (node_.replica().in_mempool(id)) return reply(202, json{{"id", id_hex}, {"status", "pending"}});
  if (node_.failed()) return error(503, "unavailable", "this node has stopped taking part (storage failure); use another node");
  if (!node_.submit(std::move(tx))) {
    return error(503, "busy", "the node's transaction queue is full; retry the same request later");
  }
  return reply(202, json{{"id", id_hex}, {"status", "pending"}});
}

ApiResponse ApiHandler::post_tx(const std::string& body, const Client& client) {
  auto w = parse_write_request(body, client.name);
  if (!w.ok()) return error(400, w.error().code, w.error().message);
  return submit_tx(w->encode());
}

ApiResponse ApiHandler::post_governance(const std::string& body, const Client& client, const Bytes& client_spki_sha256) {
  if (client.role != "member") return error(403, "forbidden", "only members may propose or approve changes");
  Bytes tx;
  auto g = parse_governance_request(body, &tx);
  if (!g.ok()) return error(400, g.error().code, g.error().message);
  // A member submits its own signed transactions: the signing key is the TLS client key.
  if (!crypto::ct_equal(crypto::sha256(g->member_spki), client_spki_sha256)) {
    return error(403, "forbidden", "the transaction is signed by another key than this connection's client certificate");
  }
  if (auto s = node_.replica().membership().check(tx); !s.ok()) return error(400, s.error().code, s.error().message);
  return submit_tx(std::move(tx));
}

ApiResponse ApiHandler::post_data(const std::string& name, const ApiRequest& req) {
  fl::CsvOptions o;
  if (auto it = req.query.find("label_column"); it != req.query.end()) o.label_column = it->second;
  auto s = datasets_->add(name, req.body, o);
  if (!s.ok()) {
    const std::string& code = s.error().code;
    int status = code == "dataset.exists" ? 409 : code == "dataset.too_large" ? 413 : code.rfind("csv.", 0) == 0 || code == "dataset.name" ? 400 : 500;
    return error(status, code, s.error().message);
  }
  return reply(201, schema_to_json(*s));
}

ApiResponse ApiHandler::get_data() {
  auto all = datasets_->list();
  if (!all.ok()) return error(500, all.error().code, all.error().message);
  json list = json::array();
  for (const auto& s : *all) list.push_back(schema_to_json(s));
  return reply(200, json{{"node", node_.replica().self()}, {"datasets", list}});
}

ApiResponse ApiHandler::post_fl_job(const std::string& body, const Client& client) {
  if (client.role != "member") return error(403, "forbidden", "only members may submit jobs");
  auto spec = fl::parse_job(body);
  if (!spec.ok()) return error(400, spec.error().code, spec.error().message);
  const auto& set = node_.replica().validators();
  for (const auto& p : spec->parties) {
    if (set.find(p.node) == nullptr) return error(400, "job.party", "node " + std::to_string(p.node) + " is not a validator of this network");
  }
  for (const auto& r : spec->model_readers) {
    bool known = false;
    for (const auto& c : genesis_.clients) known |= c.name == r;
    if (!known) return error(400, "job.reader", "no client named " + r + " in this network");
  }
  fl::JobTx tx;
  tx.toml = body;
  tx.client = client.name;
  tx.nonce = crypto::random_u64();
  return submit_tx(tx.encode());
}

static json round_json(const FlRound& r) {
  const auto& rec = r.record;
  json hashes = json::array();
  for (const auto& h : rec.update_hashes) hashes.push_back(to_hex(h));
  return {{"round", rec.round},
          {"parties", rec.parties},
          {"dropped", rec.dropped},
          {"update_hashes", hashes},
          {"model_hash", to_hex(rec.model_hash)},
          {"train", {{"loss", rec.train.loss}, {"accuracy", rec.train.accuracy}, {"examples", rec.train.examples}}},
          {"eval", {{"loss", rec.eval.loss}, {"accuracy", rec.eval.accuracy}, {"examples", rec.eval.examples}}},
          {"epsilon", rec.epsilon},
          {"attempts", rec.attempts},
          {"aggregator", r.aggregator},
          {"height", r.height},
          {"tx", to_hex(r.tx_id)}};
}

ApiResponse ApiHandler::get_fl(const std::string& rest, const Client& client) {
  int64_t now = node_.now_ms();
  auto summary = [&](const FlJob& j) {
    json parties = json::array();
    for (const auto& p : j.spec.parties) parties.push_back({{"node", p.node}, {"dataset", p.dataset}});
    const auto& c = j.spec.config;
    std::string status = j.finished() ? "finished" : "running";
    // Failed: recorded on the ledger (every node), or so far only known to this aggregator.
    std::optional<std::string> failure;
    if (j.failure) {
      failure = j.failure->reason + " (recorded by node " + std::to_string(j.failure->aggregator) + " at height " +
                std::to_string(j.failure->height) + ")";
    } else if (!j.finished()) {
      failure = fl_->failure(j.id);
    }
    if (failure) status = "failed";
    json out = {{"id", to_hex(j.id)},
                {"name", j.spec.name},
                {"submitter", j.submitter},
                {"submitted_at_height", j.height},
                {"rounds", c.rounds},
                {"rounds_done", j.rounds.size()},
                {"strategy", c.strategy.name},
                {"model", c.model.kind == fl::ModelSpec::Kind::kMlp ? "mlp" : "logistic"},
                {"dp", c.dp.enabled},
                {"parties", parties},
                {"status", status},
                {"aggregator", fl_->scheduled_aggregator(j, now)}};
    if (failure) out["failure"] = *failure;
    if (!j.rounds.empty()) out["accuracy"] = j.rounds.back().record.eval.accuracy;
    return out;
  };
  if (rest.empty() || rest == "/") {
    json list = json::array();
    for (const auto& [id, j] : fl_->jobs()) list.push_back(summary(j));
    return reply(200, json{{"jobs", list}});
  }
  std::string idhex = rest.substr(1);
  bool want_model = false;
  if (idhex.size() > 6 && idhex.ends_with("/model")) {
    idhex = idhex.substr(0, idhex.size() - 6);
    want_model = true;
  }
  auto id = from_hex(idhex);
  if (!id.ok() || id->size() != 32) return error(400, "bad_id", "a job id is 64 hex digits");
  auto it = fl_->jobs().find(*id);
  if (it == fl_->jobs().end()) return error(404, "unknown", "no such job on this node's ledger");
  const FlJob& j = it->second;
  if (want_model) {
    if (std::find(j.spec.model_readers.begin(), j.spec.model_readers.end(), client.name) == j.spec.model_readers.end()) {
      return error(403, "forbidden", "the job does not name " + client.name + " among its model_readers");
    }
    if (!j.finished()) return error(409, "not_finished", "the job has not finished");
    auto m = fl_->model_with_hash(j.id, j.rounds.back().record.model_hash);
    if (!m) {
      return error(404, "no_model", "this node does not hold the final model; ask one of the job's parties");
    }
    json params = json::array();
    for (float v : *m) params.push_back(v);
    return reply(200, json{{"job", to_hex(j.id)}, {"model_hash", to_hex(j.rounds.back().record.model_hash)}, {"params", params}});
  }
  json out = summary(j);
  json rounds = json::array();
  for (const auto& r : j.rounds) rounds.push_back(round_json(r));
  out["round_records"] = rounds;
  out["events"] = fl_->events(j.id);
  return reply(200, out);
}

ApiResponse ApiHandler::get_governance() {
  const auto& m = node_.replica().membership();
  json members = json::array();
  for (const auto& mem : m.rules().members) members.push_back(mem.name);
  json proposals = json::array();
  for (const auto& [id, p] : m.proposals()) {
    const auto& c = p.change;
    json j = {{"id", to_hex(as_bytes(id))},
              {"kind", consensus::change_kind_name(c.kind)},
              {"proposer", p.proposer},
              {"approvals", p.approvals},
              {"status", p.status == consensus::ProposalState::Status::kOpen      ? "open"
                         : p.status == consensus::ProposalState::Status::kApplied ? "applied"
                                                                                   : "failed"},
              {"proposed_at", p.proposed_at},
              {"note", c.note}};
    if (c.kind != consensus::ChangeKind::kSetMeasurements) j["node"] = c.node;
    if (c.kind == consensus::ChangeKind::kAddNode || c.kind == consensus::ChangeKind::kSetWeight) j["weight"] = c.weight;
    if (c.kind == consensus::ChangeKind::kAddNode) {
      j["peer"] = c.peer;
      j["api"] = c.api;
      j["identity_key"] = to_hex(c.identity_key);
      j["vote_key"] = to_hex(c.vote_key);
    }
    if (c.kind == consensus::ChangeKind::kSetMeasurements) j["measurements"] = c.measurements;
    if (p.status != consensus::ProposalState::Status::kOpen) j["decided_at"] = p.decided_at;
    if (!p.failure.empty()) j["failure"] = p.failure;
    proposals.push_back(j);
  }
  return reply(200, json{{"members", members},
                         {"approvals_needed", m.rules().approvals},
                         {"measurements", m.measurements()},
                         {"proposals", proposals}});
}

ApiResponse ApiHandler::get_tx(const std::string& id_hex) {
  auto id = from_hex(id_hex);
  if (!id.ok() || id->size() != 32) return error(400, "bad_id", "a transaction id is 64 hex digits");
  auto loc = node_.store().find_tx(*id);
  if (!loc.ok()) return error(500, "storage", loc.error().message);
  if (!*loc) {
    if (node_.replica().in_mempool(to_string(*id))) return reply(200, json{{"id", id_hex}, {"status", "pending"}});
    return error(404, "unknown", "no such transaction at this node (never received, or lost with a node that failed: submit it again)");
  }
  const auto& chain = node_.replica().chain();
  uint64_t height = (*loc)->height;
  if (height == 0 || height > chain.size()) return error(503, "catching_up", "this node is still loading its chain");
  const consensus::CommittedBlock& cb = chain[height - 1];
  auto receipt = ledger::make_receipt(genesis_.protocol, cb, (*loc)->index);
  if (!receipt.ok()) return error(500, "receipt", receipt.error().message);
  ledger::ReceiptProof proof;
  proof.genesis_hash = node_.replica().genesis_hash();
  proof.receipt = std::move(receipt).value();
  for (auto [h, i] : node_.replica().state_changes()) {
    if (h >= height) break;
    auto ec = ledger::make_receipt(genesis_.protocol, chain[h - 1], i);
    if (!ec.ok()) return error(500, "receipt", ec.error().message);
    proof.epoch_changes.push_back(std::move(ec).value());
  }
  json tx = tx_json(cb.block.txs[(*loc)->index]);
  bool valid = tx["type"] != "unknown";
  json out = {{"id", id_hex},
              {"status", valid ? "committed" : "invalid"},
              {"height", height},
              {"index", (*loc)->index},
              {"epoch", cb.block.header.epoch},
              {"tx", tx},
              {"receipt", to_hex(proof.encode())}};
  if (!valid) out["reason"] = "committed, but not a transaction this network's state machine applies";
  return reply(200, out);
}

ApiResponse ApiHandler::get_kv(const std::string& rest) {
  auto slash = rest.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == rest.size()) {
    return error(400, "bad_path", "use /v1/kv/{table}/{key}");
  }
  std::string table = rest.substr(0, slash), key = rest.substr(slash + 1);
  if (!is_simple_name(table, ledger::kTableBytesMax) || key.size() > ledger::kKeyBytesMax) {
    return error(400, "bad_path", "invalid table name or key");
  }
  auto e = node_.store().get(table, key);
  if (!e.ok()) return error(500, "storage", e.error().message);
  if (!*e) return error(404, "unknown", "no value for " + table + "/" + key);
  json out = {{"table", table}, {"key", key}, {"height", (*e)->height}};
  out.update(value_json((*e)->value));
  return reply(200, out);
}

ApiResponse ApiHandler::get_nodes() {
  const auto& set = node_.replica().validators();
  json nodes = json::array();
  for (const auto& v : set.validators()) {
    json n = {{"id", v.id},
              {"weight", v.weight},
              {"identity_key", to_hex(v.identity_key)},
              {"vote_key", to_hex(v.vote_key)},
              {"self", v.id == node_.replica().self()},
              {"attested", v.id == node_.replica().self() || node_.connected(v.id)},
              {"isolated", node_.replica().is_isolated(v.id)},
              // This node's failure detector (phi-accrual over the peer link): tasks leave a
              // suspected node. null with fault detection off.
              {"suspected", node_.phi_accrual() ? json(!node_.healthy(v.id)) : json(nullptr)},
              {"phi", node_.phi_accrual() && v.id != node_.replica().self() ? json(std::round(node_.phi(v.id) * 10) / 10) : json(nullptr)}};
    for (const auto& g : genesis_.validators) {
      if (g.id == v.id) {
        n["peer"] = g.peer.text();
        n["api"] = g.api.text();
      }
    }
    json evidence = json::array();  // recorded on the ledger by any validator
    for (const auto& e : node_.replica().membership().evidence()) {
      if (e.accused == v.id) {
        evidence.push_back({{"reporter", e.reporter}, {"reason", e.reason}, {"height", e.height}, {"signed_messages", e.messages}});
      }
    }
    n["evidence"] = evidence;
    for (const auto& i : node_.isolations()) {  // what this node saw itself
      if (i.node == v.id) n["isolated_by_this_node"] = {{"reason", i.reason}, {"at", format_rfc3339(i.at)}};
    }
    nodes.push_back(n);
  }
  const auto& m = node_.replica().membership();
  return reply(200, json{{"chain_id", genesis_.chain_id},
                         {"protocol", consensus::protocol_name(genesis_.protocol)},
                         {"genesis_hash", to_hex(node_.replica().genesis_hash())},
                         // What governance changed of the genesis policy: clients appraise added nodes with it.
                         {"policy_adjustments", {{"measurements", m.measurements()}, {"virtual_platform_keys", m.platform_keys()}}},
                         {"epoch", set.epoch()},
                         {"total_weight", set.total_weight()},
                         {"quorum_weight", set.quorum(genesis_.protocol)},
                         {"nodes", nodes}});
}

ApiResponse ApiHandler::get_health() {
  const auto& set = node_.replica().validators();
  uint64_t reachable = 0;
  for (const auto& v : set.validators()) {
    if (v.id == node_.replica().self() || node_.connected(v.id)) reachable += v.weight;
  }
  bool quorum = reachable >= set.quorum(genesis_.protocol);
  bool ok = !node_.failed() && quorum && node_.replica().can_sign();
  json out = {{"status", ok ? "ok" : "degraded"},
              {"node", node_.replica().self()},
              {"height", node_.height()},
              {"round", node_.replica().round()},
              {"can_sign", node_.replica().can_sign()},
              {"quorum_reachable", quorum},
              {"suspected", node_.suspected()},
              {"storage_failed", node_.failed()}};
  return reply(ok ? 200 : 503, out);
}

ApiResponse ApiHandler::get_metrics() {
  const auto& set = node_.replica().validators();
  size_t connected = 0;
  for (const auto& v : set.validators()) connected += v.id != node_.replica().self() && node_.connected(v.id);
  std::string o;
  auto metric = [&](const char* name, const char* type, const char* help, const std::string& value) {
    o += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" + name + " " + value + "\n";
  };
  metric("supernet_height", "gauge", "Height of the last committed block.", std::to_string(node_.height()));
  metric("supernet_round", "gauge", "Consensus round at the current height.", std::to_string(node_.replica().round()));
  metric("supernet_committed_transactions_total", "counter", "Transactions in committed blocks.", std::to_string(node_.committed_txs()));
  metric("supernet_mempool_transactions", "gauge", "Transactions waiting to be committed.", std::to_string(node_.replica().mempool_size()));
  metric("supernet_peers_attested", "gauge", "Validators connected over attested TLS.", std::to_string(connected));
  metric("supernet_validator_set_epoch", "gauge", "Epoch of the validator set.", std::to_string(set.epoch()));
  metric("supernet_isolated_nodes", "gauge", "Validators isolated for misbehaviour.", std::to_string(node_.isolations().size()));
  metric("supernet_can_sign", "gauge", "1 when this node's vote key is the one in the validator set.",
         node_.replica().can_sign() ? "1" : "0");
  o += "# HELP supernet_api_responses_total API responses by status code.\n# TYPE supernet_api_responses_total counter\n";
  auto counts = responses_;
  counts[200]++;  // this response
  for (const auto& [status, n] : counts) o += "supernet_api_responses_total{code=\"" + std::to_string(status) + "\"} " + std::to_string(n) + "\n";
  return {200, "text/plain; version=0.0.4", o};
}

// --- the HTTPS server ---

ApiServer::ApiServer(asio::io_context& io, ApiHandler& handler, std::shared_ptr<net::IdentityStore> certificates)
    : io_(io), handler_(handler), certificates_(std::move(certificates)) {
  net::IdentityStore* store = certificates_.get();
  server_ = std::make_unique<httplib::SSLServer>([store](SSL_CTX& ctx) {
    auto id = store->current();
    bool ok = SSL_CTX_set_min_proto_version(&ctx, TLS1_3_VERSION) == 1 && SSL_CTX_set_max_proto_version(&ctx, TLS1_3_VERSION) == 1 &&
              SSL_CTX_use_certificate(&ctx, id->cert.get()) == 1 && SSL_CTX_use_PrivateKey(&ctx, id->key.get()) == 1 &&
              SSL_CTX_check_private_key(&ctx) == 1;
    net::use_identity_store(&ctx, store);  // every handshake serves the current (renewed) certificate
    // Ask for a client certificate and accept any: possession of its key is proven by the
    // handshake, and the handler decides (401) whether that key is registered.
    SSL_CTX_set_verify(&ctx, SSL_VERIFY_PEER, [](int, X509_STORE_CTX*) { return 1; });
    SSL_CTX_set_session_cache_mode(&ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(&ctx, 0);
    return ok;
  });
}

ApiServer::~ApiServer() { stop(); }

Status ApiServer::start(const std::string& host, uint16_t port) {
  net::ignore_sigpipe();  // a client that hangs up mid-response must not kill the node
  if (!server_->is_valid()) return make_error("api.tls", "cannot configure TLS 1.3 for the API with the node's certificate");
  server_->set_payload_max_length(kApiDataBytesMax);
  // Everything but a data set upload is small: refuse a larger body from its Content-Length,
  // before it is read.
  server_->set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (req.path.rfind("/v1/data/", 0) == 0) return httplib::Server::HandlerResponse::Unhandled;
    if (req.get_header_value_count("Content-Length") > 0) {
      unsigned long long len = std::strtoull(req.get_header_value("Content-Length").c_str(), nullptr, 10);
      if (len > kApiBodyBytesMax) {
        res.status = 413;
        res.set_content(json{{"error", "too_large"}, {"message", "the body is larger than " + std::to_string(kApiBodyBytesMax) + " bytes"}}.dump() + "\n",
                        "application/json");
        ApiHandler* h = &handler_;
        asio::post(io_, [h] { h->count(413); });
        return httplib::Server::HandlerResponse::Handled;
      }
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  server_->set_read_timeout(10, 0);
  server_->set_write_timeout(10, 0);
  server_->set_keep_alive_max_count(1000);
  server_->set_tcp_nodelay(true);
  auto serve = [this](const httplib::Request& req, httplib::Response& res) {
    ApiRequest r;
    r.method = req.method;
    r.path = req.path;
    r.body = req.body;
    if (r.path.rfind("/v1/data/", 0) != 0 && r.body.size() > kApiBodyBytesMax) {  // a chunked body with no length
      res.status = 413;
      res.set_content(json{{"error", "too_large"}, {"message", "the body is too large"}}.dump() + "\n", "application/json");
      return;
    }
    for (const auto& [k, v] : req.params) r.query[k] = v;
    if (req.ssl != nullptr) {
      if (auto e = net::api_exporter(req.ssl); e.ok()) r.tls_exporter = std::move(e).value();
      if (X509* peer = SSL_get0_peer_certificate(req.ssl)) {
        X509_up_ref(peer);
        if (auto cert = crypto::Certificate::adopt(peer); cert.ok()) r.client_spki_sha256 = cert->spki_sha256();
      }
    }
    auto done = std::make_shared<std::promise<ApiResponse>>();
    auto answer = done->get_future();
    ApiHandler* h = &handler_;
    asio::post(io_, [done, h, r = std::move(r)] { done->set_value(h->handle(r)); });
    ApiResponse out = error(503, "unavailable", "the node did not answer in time");
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!stopping_ && std::chrono::steady_clock::now() < deadline) {
      if (answer.wait_for(std::chrono::milliseconds(50)) == std::future_status::ready) {
        out = answer.get();
        break;
      }
    }
    res.status = out.status;
    res.set_content(out.body, out.content_type.c_str());
  };
  server_->Get(".*", serve);
  server_->Post(".*", serve);
  server_->Put(".*", serve);
  server_->Delete(".*", serve);
  server_->Patch(".*", serve);
  server_->set_error_handler(httplib::Server::HandlerWithResponse([this](const httplib::Request&, httplib::Response& res) {
    // Responses the HTTP layer makes itself (413 before reading an oversized body, 400 for a
    // malformed request): give them the same JSON shape.
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    std::string code = res.status == 413 ? "too_large" : "bad_request";
    std::string message = res.status == 413 ? "the body is larger than " + std::to_string(kApiDataBytesMax) + " bytes"
                                            : "the HTTP request was not understood";
    res.set_content(json{{"error", code}, {"message", message}}.dump() + "\n", "application/json");
    ApiHandler* h = &handler_;
    int status = res.status;
    asio::post(io_, [h, status] { h->count(status); });
    return httplib::Server::HandlerResponse::Handled;
  }));
  int bound = port == 0 ? server_->bind_to_any_port(host) : (server_->bind_to_port(host, port) ? port : -1);
  if (bound <= 0) return make_error("api.listen", "cannot listen for the API on " + host + ":" + std::to_string(port));
  port_ = static_cast<uint16_t>(bound);
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  return ok_status();
}

void ApiServer::stop() {
  if (!thread_.joinable()) return;
  stopping_ = true;  // requests waiting for the io thread give up (it may be the caller)
  server_->stop();
  thread_.join();
}

}  // namespace supernet::node
