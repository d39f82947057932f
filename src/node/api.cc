#include "node/api.h"

#include <charconv>
#include <cmath>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <asio/steady_timer.hpp>
#include <chrono>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <set>

#include "consensus/chain.h"
#include "consensus/verify.h"
#include "crypto/hash.h"
#include "crypto/secure.h"
#include "ledger/receipt.h"
#include "ledger/tx.h"
#include "fl/model_file.h"
#include "node/fl_service.h"
#include "keys/private_table.h"
#include "node/key_service.h"
#include "node/market_service.h"
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

// The body {"tx": hex} of the endpoints that take a client-signed transaction; `what` says
// what it must be ("a consent transaction signed by ...").
Result<Bytes> signed_tx_body(const std::string& body, const std::string& what) {
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("tx") || !j["tx"].is_string()) {
    return make_error("bad_request", "expected {\"tx\": hex}: " + what);
  }
  auto tx = from_hex(j["tx"].get<std::string>());
  if (!tx.ok()) return make_error("bad_request", "tx is not hex");
  return tx;
}

json tx_json(ByteView tx) {
  if (auto w = ledger::KvWrite::decode(tx); w.ok()) {
    json j = {{"type", "kv_write"}, {"table", w->table}, {"key", w->key}, {"client", w->client}, {"nonce", w->nonce}};
    j.update(value_json(w->value));
    return j;
  }
  if (auto w = ledger::SignedKvWrite::decode(tx); w.ok()) {
    json j = {{"type", "kv_write_signed"}, {"table", w->table}, {"key", w->key}, {"nonce", w->nonce},
              {"client_key_sha256", to_hex(crypto::sha256(w->client_spki))}};
    j.update(value_json(w->value));
    return j;
  }
  if (auto c = ledger::TableClaim::decode(tx); c.ok()) {
    return {{"type", "table_claim"}, {"table", c->table}, {"nonce", c->nonce}, {"client_key_sha256", to_hex(crypto::sha256(c->client_spki))}};
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
  if (fl::is_job_tx(tx)) {
    if (auto j = fl::JobTx::decode(tx); j.ok()) {
      return {{"type", "fl_job"}, {"job", to_hex(as_bytes(consensus::tx_id(tx)))}, {"client_key_sha256", to_hex(crypto::sha256(j->client_spki))},
              {"nonce", j->nonce}};
    }
  }
  if (fl::is_round_tx(tx)) {
    if (auto r = fl::RoundTx::decode(tx); r.ok()) {
      return {{"type", "fl_round"}, {"job", to_hex(r->job)}, {"aggregator", r->aggregator}, {"round", r->record.round},
              {"model_hash", to_hex(r->record.model_hash)}};
    }
  }
  if (keys::is_dkg_tx(tx)) {
    if (auto d = keys::DkgTx::decode(tx); d.ok()) return {{"type", "keys_dkg"}, {"node", d->node}};
  }
  if (keys::is_checkpoint_tx(tx)) {
    if (auto c = keys::CheckpointTx::decode(tx); c.ok()) {
      json j = {{"type", "keys_checkpoint"}, {"node", c->node}};
      if (auto m = keys::decode_checkpoint_message(c->message); m.ok()) {
        std::visit([&j](const auto& v) { j["height"] = v.height; }, *m);
        j["message"] = std::holds_alternative<keys::CheckpointCommit>(*m) ? "commit"
                       : std::holds_alternative<keys::CheckpointShare>(*m) ? "share"
                                                                            : "abandon";
      }
      return j;
    }
  }
  if (fl::is_claim_tx(tx)) {
    if (auto c = fl::ClaimTx::decode(tx); c.ok()) {
      return {{"type", "fl_claim"}, {"job", to_hex(c->job)}, {"aggregator", c->aggregator}, {"from_round", c->from_round},
              {"standardization", c->standardization.has_value()}};
    }
  }
  if (fl::is_consent_tx(tx)) {
    if (auto c = fl::ConsentTx::decode(tx); c.ok()) {
      return {{"type", "fl_consent"}, {"job", to_hex(c->job)}, {"client_key_sha256", to_hex(crypto::sha256(c->client_spki))}};
    }
  }
  if (fl::is_data_record_tx(tx)) {
    if (auto r = fl::DataRecordTx::decode(tx); r.ok()) {
      return {{"type", "fl_data_record"}, {"node", r->node}, {"dataset", r->name}, {"owner", r->owner}, {"deleted", r->deleted},
              {"data_sha256", to_hex(r->data_sha256)}};
    }
  }
  if (fl::is_policy_tx(tx)) {
    if (auto p = fl::PolicyTx::decode(tx); p.ok()) {
      return {{"type", "fl_policy"}, {"node", p->node}, {"dataset", p->dataset}, {"policy", policy_to_json(p->policy)},
              {"client_key_sha256", to_hex(crypto::sha256(p->client_spki))}};
    }
  }
  if (fl::is_fail_tx(tx)) {
    if (auto f = fl::FailTx::decode(tx); f.ok()) {
      return {{"type", "fl_failure"}, {"job", to_hex(f->job)}, {"aggregator", f->aggregator}, {"round", f->round}, {"reason", f->reason}};
    }
  }
  if (auto e = consensus::Evidence::decode(tx); e.ok()) {
    return {{"type", "evidence"}, {"reporter", e->reporter}, {"accused", e->accused}, {"reason", e->reason}, {"signed_messages", e->messages.size()}};
  }
  if (auto l = market::ListingTx::decode(tx); l.ok()) {
    auto st = agents::verify_envelope(l->envelope);
    json j = {{"type", "market_listing"}, {"node", l->node}};
    if (st.ok()) j.update({{"name", st->name}, {"version", st->version}, {"root", to_hex(st->root)}, {"price", st->price}});
    return j;
  }
  if (auto k = market::ContentKeyTx::decode(tx); k.ok()) return {{"type", "market_content_key"}, {"root", to_hex(k->root)}};
  if (auto d = market::DelistTx::decode(tx); d.ok()) {
    return {{"type", "market_delist"}, {"name", d->name}, {"version", d->version}, {"publisher", to_hex(d->publisher)}};
  }
  if (auto c = market::CreditTx::decode(tx); c.ok()) {
    return {{"type", c->kind == market::Kind::kMint ? "market_mint" : "market_transfer"}, {"to", c->to}, {"amount", c->amount},
            {"client_key_sha256", to_hex(crypto::sha256(c->client_spki))}};
  }
  return {{"type", "unknown"}};
}

}  // namespace

struct ApiHandler::Waiter {
  std::set<std::string> pending;
  std::map<std::string, uint64_t> heights;  // of the ones that committed
  std::function<void(const std::map<std::string, uint64_t>&)> finish;
  std::unique_ptr<asio::steady_timer> timer;
  bool done = false;
};

ApiHandler::ApiHandler(Node& node, Genesis genesis) : node_(node), genesis_(std::move(genesis)) {
  for (const auto& c : genesis_.clients) clients_[c.spki_sha256] = {c.name, c.role};
  std::weak_ptr<int> alive = alive_;
  node_.on_commit([this, alive](const consensus::CommittedBlock& b) {
    if (alive.lock()) committed(b);
  });
}

ApiHandler::~ApiHandler() {
  for (auto& [id, w] : waiting_) {
    if (w->timer) w->timer->cancel();
  }
  waiting_.clear();
}

const ApiHandler::Client* ApiHandler::client_of(const ApiRequest& req) const {
  const Client* client = nullptr;
  if (req.client_spki_sha256) {
    // Constant time over the registered keys: which client is which is not a secret, but the
    // comparison habit costs nothing here.
    for (const auto& [spki, c] : clients_) {
      if (crypto::ct_equal(spki, *req.client_spki_sha256)) client = &c;
    }
  }
  return client;
}

bool ApiHandler::registered(const Bytes& spki_sha256) const {
  ApiRequest r;
  r.client_spki_sha256 = spki_sha256;
  return client_of(r) != nullptr;
}

std::optional<int64_t> ApiHandler::wait_ms(const ApiRequest& req) {
  auto it = req.query.find("wait_ms");
  if (it == req.query.end()) return 0;
  const std::string& v = it->second;
  if (v.empty() || v.size() > 9 || v.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  return std::min<int64_t>(std::stoll(v), kApiWaitMsMax);
}

void ApiHandler::wait_for(std::vector<std::string> ids, int64_t ms, std::function<void(const std::map<std::string, uint64_t>&)> finish) {
  auto w = std::make_shared<Waiter>();
  w->pending.insert(ids.begin(), ids.end());
  w->finish = std::move(finish);
  if (w->pending.empty() || ms <= 0) {
    w->finish(w->heights);
    return;
  }
  for (const auto& id : w->pending) waiting_.emplace(id, w);
  w->timer = std::make_unique<asio::steady_timer>(node_.io());
  w->timer->expires_after(std::chrono::milliseconds(ms));
  std::weak_ptr<int> alive = alive_;
  w->timer->async_wait([this, alive, w](asio::error_code ec) {
    if (ec || w->done || !alive.lock()) return;
    w->done = true;
    for (const auto& id : w->pending) {
      auto [b, e] = waiting_.equal_range(id);
      for (auto it = b; it != e;) it = it->second == w ? waiting_.erase(it) : std::next(it);
    }
    w->finish(w->heights);
  });
}

void ApiHandler::committed(const consensus::CommittedBlock& b) {
  if (waiting_.empty()) return;
  std::vector<std::shared_ptr<Waiter>> ready;
  for (const auto& tx : b.block.txs) {
    auto [first, last] = waiting_.equal_range(consensus::tx_id(tx));
    for (auto it = first; it != last;) {
      auto& w = it->second;
      w->pending.erase(it->first);
      w->heights[it->first] = b.block.header.height;
      if (w->pending.empty()) ready.push_back(w);
      it = waiting_.erase(it);
    }
  }
  for (auto& w : ready) {
    if (w->done) continue;
    w->done = true;
    w->timer->cancel();
    w->finish(w->heights);
  }
}

void ApiHandler::handle(const ApiRequest& req, Done done) {
  const Client* client = client_of(req);
  Done counted = [this, done = std::move(done)](ApiResponse r) {
    responses_[r.status]++;
    done(std::move(r));
  };
  const std::string& p = req.path;
  if (p == "/v1/keys/release" && req.method == "POST" && client != nullptr && keys_ != nullptr) {
    return post_key_release(req, *client, std::move(counted));
  }
  if (p == "/v1/agents" && req.method == "POST" && client != nullptr && market_ != nullptr) return post_agent(req, *client, std::move(counted));
  bool is_tx = p == "/v1/tx" || p.rfind("/v1/tx/", 0) == 0;
  if (!is_tx || client == nullptr) return counted(route(req, client));
  auto ms = wait_ms(req);
  if (!ms) return counted(error(400, "bad_wait", "wait_ms must be a whole number of milliseconds (at most " + std::to_string(kApiWaitMsMax) + ")"));
  if (p == "/v1/tx/batch") {
    if (req.method != "POST") return counted(error(405, "method", "use POST"));
    return post_tx_batch(req, *client, std::move(counted), *ms);
  }
  if (*ms > 0 && p == "/v1/tx" && req.method == "POST") {
    auto w = write_tx(req.body, *client, *req.client_spki_sha256);
    if (auto* refused = std::get_if<ApiResponse>(&w)) return counted(std::move(*refused));
    auto outcome = submit_write(std::move(std::get<Bytes>(w)));
    if (outcome.status != 202) return counted(write_response(outcome));
    std::string id = outcome.id;
    return wait_for({id}, *ms, [counted, id](const std::map<std::string, uint64_t>& heights) {
      auto it = heights.find(id);
      if (it == heights.end()) return counted(reply(202, json{{"id", to_hex(as_bytes(id))}, {"status", "pending"}}));
      counted(reply(200, json{{"id", to_hex(as_bytes(id))}, {"status", "committed"}, {"height", it->second}}));
    });
  }
  if (*ms > 0 && p.rfind("/v1/tx/", 0) == 0 && (req.method == "GET" || req.method == "HEAD")) {
    std::string id_hex = p.substr(7);
    ApiResponse now = get_tx(id_hex);
    auto id = from_hex(id_hex);
    if (now.status != 200 || !id.ok() || !node_.replica().in_mempool(to_string(*id))) return counted(std::move(now));
    return wait_for({to_string(*id)}, *ms, [this, counted, id_hex](const std::map<std::string, uint64_t>&) { counted(get_tx(id_hex)); });
  }
  counted(route(req, client));
}

const std::vector<ApiRoute>& api_routes() {
  static const std::vector<ApiRoute> routes = {
      {"POST", "/v1/tx"},           {"POST", "/v1/tx/batch"},       {"GET", "/v1/tx/{id}"},          {"GET", "/v1/kv/{table}/{key}"},
      {"GET", "/v1/nodes"},         {"GET", "/v1/keys"},            {"POST", "/v1/keys/nonce"},      {"POST", "/v1/keys/release"},
      {"GET", "/v1/attestation"},     {"GET", "/v1/recovery/state"},   {"GET", "/v1/recovery"},
      {"POST", "/v1/recovery"},     {"GET", "/v1/governance"},      {"POST", "/v1/governance"},      {"POST", "/v1/data/{name}"},
      {"DELETE", "/v1/data/{name}"}, {"POST", "/v1/fl/jobs/{id}/consent"}, {"POST", "/v1/data/{name}/policy"},
      {"GET", "/v1/data"},          {"GET", "/v1/fl/jobs"},         {"POST", "/v1/fl/jobs"},         {"GET", "/v1/fl/jobs/{id}"},
      {"GET", "/v1/fl/jobs/{id}/model"}, {"GET", "/v1/health"},     {"GET", "/metrics"},             {"GET", "/v1/openapi.json"},
      {"POST", "/v1/agents"},       {"GET", "/v1/agents"},          {"GET", "/v1/agents/{name}"},    {"POST", "/v1/market/tx"},
      {"GET", "/v1/market/balance"}};
  return routes;
}

bool route_matches(std::string_view tmpl, std::string_view path) {
  while (!tmpl.empty()) {
    if (tmpl.front() == '{') {
      size_t close = tmpl.find('}');
      if (close == std::string_view::npos) return false;
      bool rest = tmpl.substr(0, close + 1) == "{key}";
      size_t seg = rest ? path.size() : std::min(path.find('/'), path.size());
      if (seg == 0) return false;
      tmpl.remove_prefix(close + 1);
      path.remove_prefix(seg);
      continue;
    }
    if (path.empty() || path.front() != tmpl.front()) return false;
    tmpl.remove_prefix(1);
    path.remove_prefix(1);
  }
  return path.empty();
}

ApiResponse ApiHandler::route(const ApiRequest& req, const Client* client) {
  const std::string& p = req.path;
  bool get = req.method == "GET" || req.method == "HEAD";
  if (p == "/v1/health") return get ? get_health() : error(405, "method", "use GET");
  if (p == "/v1/openapi.json") return get ? ApiResponse{200, "application/json", openapi_json()} : error(405, "method", "use GET");
  bool known = false;
  for (const auto& r : api_routes()) known |= route_matches(r.path, p);
  // Services this node was started without answer 404.
  if ((p == "/v1/attestation" && platform_ == nullptr) || ((p == "/v1/data" || p.rfind("/v1/data/", 0) == 0) && datasets_ == nullptr) ||
      (p.rfind("/v1/fl/", 0) == 0 && fl_ == nullptr) || (p.rfind("/v1/keys", 0) == 0 && keys_ == nullptr) ||
      ((p.rfind("/v1/agents", 0) == 0 || p.rfind("/v1/market/", 0) == 0) && market_ == nullptr)) {
    known = false;
  }
  if (!known) return error(404, "not_found", "no such endpoint: " + p + " (see GET /v1/openapi.json)");
  if (client == nullptr) {
    return error(401, "unauthenticated",
                 req.client_spki_sha256 ? "the client certificate's key is not registered with this network"
                                        : "a client certificate registered in the genesis is required (mutual TLS)");
  }
  if (p == "/v1/tx") return req.method == "POST" ? post_tx(req.body, *client, *req.client_spki_sha256) : error(405, "method", "use POST");
  if (p == "/v1/recovery" && req.method == "POST") return post_recovery(req.body, *client);
  if (p == "/v1/governance") {
    if (req.method == "POST") return post_governance(req.body, *client, *req.client_spki_sha256);
    if (get) return get_governance();
    return error(405, "method", "use GET or POST");
  }
  if (p.rfind("/v1/data/", 0) == 0 && p.ends_with("/policy")) {
    if (fl_ == nullptr) return error(404, "not_found", "this node runs no federated learning service");
    return req.method == "POST" ? post_policy(p.substr(9, p.size() - 9 - 7), req) : error(405, "method", "use POST");
  }
  if (p.rfind("/v1/data/", 0) == 0) {
    if (req.method == "POST") return post_data(p.substr(9), req, *client);
    if (req.method == "DELETE") return delete_data(p.substr(9), req, *client);
    return error(405, "method", "use POST or DELETE");
  }
  if (p == "/v1/keys/nonce") {
    if (req.method != "POST") return error(405, "method", "use POST");
    auto n = keys_->release_nonce("client:" + client->name);
    if (!n.ok()) return error(n.error().code == "release.busy" ? 503 : 409, n.error().code, n.error().message);
    return reply(200, json{{"nonce", to_hex(*n)}, {"expires_in_ms", keys::kReleaseNonceTtlMs}});
  }
  if (p == "/v1/keys/release") return error(405, "method", "use POST");
  if (p.rfind("/v1/agents", 0) == 0 || p.rfind("/v1/market/", 0) == 0) return route_market(req, *client);
  if (p == "/v1/fl/jobs" && req.method == "POST") return post_fl_job(req.body, *client);
  if (p.rfind("/v1/fl/jobs/", 0) == 0 && p.ends_with("/consent")) {
    return req.method == "POST" ? post_consent(p.substr(12, p.size() - 12 - 8), req) : error(405, "method", "use POST");
  }
  if (p.rfind("/v1/fl/jobs", 0) == 0) return get ? get_fl(p.substr(11), *client) : error(405, "method", "use GET");
  if (!get) return error(405, "method", "use GET");
  if (p == "/v1/data") return get_data();
  if (p.rfind("/v1/tx/", 0) == 0) return get_tx(p.substr(7));
  if (p.rfind("/v1/kv/", 0) == 0) return get_kv(p.substr(7), *client);
  if (p == "/v1/nodes") return get_nodes();
  if (p == "/v1/keys") return get_keys();
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

ApiResponse ApiHandler::get_keys() { return reply(200, keys_->status()); }

void ApiHandler::post_key_release(const ApiRequest& req, const Client& client, Done done) {
  auto request = keys::parse_release_request(req.body);
  if (!request.ok()) return done(error(400, request.error().code, request.error().message));
  auto granted = keys_->release(*request, client.name);
  if (!granted.ok()) {
    const std::string& code = granted.error().code;
    int status = code == "release.resource"                                 ? 404
                 : code == "release.share"                                  ? 409
                 : code == "release.request" || code.rfind("hpke.", 0) == 0 ? 400
                                                                            : 403;
    return done(error(status, code, granted.error().message));
  }
  // The release is on the ledger before the part leaves this node: a part nobody can see
  // recorded is never handed out.
  std::string id = consensus::tx_id(granted->record_tx);
  if (!node_.submit(granted->record_tx)) {
    return done(error(503, "release.log", "this node cannot take the release record now (its mempool is full or refuses it); try again"));
  }
  auto sealed = std::make_shared<Bytes>(std::move(granted->sealed));
  uint16_t identifier = granted->identifier;
  wait_for({id}, kReleaseLogWaitMs, [this, done, id, sealed, identifier](const std::map<std::string, uint64_t>& heights) {
    auto it = heights.find(id);
    if (it == heights.end()) {
      return done(error(503, "release.log", "the release record did not commit within " + std::to_string(kReleaseLogWaitMs) +
                                                " ms, so the part was not released; try again"));
    }
    done(reply(200, json{{"validator", node_.replica().self()},
                         {"identifier", identifier},
                         {"sealed", to_hex(*sealed)},
                         {"record", to_hex(as_bytes(id))},
                         {"height", it->second}}));
  });
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

ApiHandler::WriteOutcome ApiHandler::submit_write(Bytes tx) {
  WriteOutcome o;
  o.id = consensus::tx_id(tx);
  if (node_.replica().in_mempool(o.id)) {
    o.status = 202;
  } else if (const auto* at = node_.replica().find_committed_tx(o.id)) {  // a retry of a committed transaction
    o.status = 200;
    o.height = at->height;
  } else if (node_.failed()) {
    o = {o.id, 503, 0, "unavailable", "this node has stopped taking part (storage failure); use another node"};
  } else if (!node_.submit(std::move(tx))) {
    o = {o.id, 503, 0, "busy", "the node's transaction queue is full; retry the same request later"};
  } else {
    o.status = 202;
  }
  return o;
}

ApiResponse ApiHandler::write_response(const WriteOutcome& o) {
  std::string id_hex = to_hex(as_bytes(o.id));
  if (o.status == 202) return reply(202, json{{"id", id_hex}, {"status", "pending"}});
  if (o.status == 200) return reply(200, json{{"id", id_hex}, {"status", "committed"}, {"height", o.height}});
  return error(o.status, o.error, o.message);
}

ApiResponse ApiHandler::submit_tx(Bytes tx) { return write_response(submit_write(std::move(tx))); }

namespace {

// The status of a write the state machine would not apply: reserved tables are a malformed
// request, the others are the table owner's to allow.
int write_refusal_status(const Error& e) { return e.code == "kv.reserved" || e.code == "kv.private" ? 400 : 403; }

}  // namespace

std::variant<Bytes, ApiResponse> ApiHandler::write_tx(const std::string& body, const Client& client, const Bytes& client_spki_sha256) {
  json j = json::parse(body, nullptr, false);  // once: this is the write path
  if (j.is_object() && j.contains("tx")) {
    auto tx = j["tx"].is_string() ? from_hex(j["tx"].get<std::string>()) : Result<Bytes>(make_error("bad_request", "'tx' must be a hex string"));
    if (!tx.ok()) return error(400, "bad_request", "expected {\"tx\": hex}: a key-value write or table claim signed by this client (supernet tx submit, supernet kv claim make one)");
    Bytes spki;
    if (auto w = ledger::SignedKvWrite::decode(*tx); w.ok()) spki = w->client_spki;
    else if (auto c = ledger::TableClaim::decode(*tx); c.ok()) spki = c->client_spki;
    else return error(400, "bad_tx", "not a signed key-value write or table claim");
    if (!crypto::ct_equal(crypto::sha256(spki), client_spki_sha256)) {
      return error(403, "forbidden", "the transaction is signed by another key than this connection's client certificate");
    }
    auto w = ledger::decode_state_write(*tx, node_.store().rules());
    if (!w.ok()) return error(403, w.error().code, w.error().message);
    if (auto s = ledger::check_write(**w, node_.store().view()); !s.ok()) return error(write_refusal_status(s.error()), s.error().code, s.error().message);
    return std::move(tx).value();
  }
  auto w = parse_write_object(j, client.name);
  if (!w.ok()) return error(400, w.error().code, w.error().message);
  if (auto refused = seal_private(*w)) return std::move(*refused);
  if (auto s = ledger::check_write({w->table, w->key, w->value, client.name, false, false}, node_.store().view()); !s.ok()) {
    return error(write_refusal_status(s.error()), s.error().code, s.error().message);
  }
  return w->encode();
}

std::optional<ApiResponse> ApiHandler::seal_private(ledger::KvWrite& w) {
  if (!ledger::is_private_table(w.table)) return std::nullopt;
  if (keys_ == nullptr) return error(503, "kv.private", "this node runs no key service, so it cannot seal values of private tables");
  auto key = keys_->ledger_key();
  if (!key) {
    return error(503, "keys.ledger_key", "this node has not obtained the ledger key yet (GET /v1/keys shows ledger_key and why not); try again");
  }
  auto sealed = keys::seal_private_value(*key, node_.replica().genesis_hash(), w.table, w.key, w.value);
  if (!sealed.ok()) return error(400, sealed.error().code, sealed.error().message);
  if (sealed->size() > ledger::kValueBytesMax) {
    return error(400, "bad_value", "a private table's value is at most " + std::to_string(ledger::kValueBytesMax - ledger::kPrivateValueOverhead) +
                                       " bytes (sealing adds " + std::to_string(ledger::kPrivateValueOverhead) + ")");
  }
  w.value = std::move(*sealed);
  return std::nullopt;
}

ApiResponse ApiHandler::post_tx(const std::string& body, const Client& client, const Bytes& client_spki_sha256) {
  auto w = write_tx(body, client, client_spki_sha256);
  if (auto* refused = std::get_if<ApiResponse>(&w)) return std::move(*refused);
  return submit_tx(std::move(std::get<Bytes>(w)));
}

// One status per write, in the order given; with ?wait_ms the answer waits until every
// accepted write committed (or the wait ended) and says which did.
void ApiHandler::post_tx_batch(const ApiRequest& req, const Client& client, Done done, int64_t ms) {
  auto writes = parse_batch_request(req.body, client.name);
  if (!writes.ok()) return done(error(400, writes.error().code, writes.error().message));
  auto results = std::make_shared<json>(json::array());
  auto pending = std::make_shared<std::vector<std::pair<size_t, std::string>>>();
  auto view = node_.store().view();
  for (auto& w : *writes) {
    if (!w.ok()) {
      results->push_back({{"status", "refused"}, {"error", w.error().code}, {"message", w.error().message}});
      continue;
    }
    if (auto refused = seal_private(*w)) {
      json body = json::parse(refused->body, nullptr, false);
      results->push_back({{"status", "refused"}, {"error", body.value("error", "kv.private")}, {"message", body.value("message", "")}});
      continue;
    }
    if (auto s = ledger::check_write({w->table, w->key, w->value, client.name, false, false}, view); !s.ok()) {
      results->push_back({{"status", "refused"}, {"error", s.error().code}, {"message", s.error().message}});
      continue;
    }
    auto o = submit_write(w->encode());
    json j = {{"id", to_hex(as_bytes(o.id))}};
    if (o.status == 202) {
      j["status"] = "pending";
      pending->emplace_back(results->size(), o.id);
    } else if (o.status == 200) {
      j["status"] = "committed";
      j["height"] = o.height;
    } else {
      j["status"] = "refused";
      j["error"] = o.error;
      j["message"] = o.message;
    }
    results->push_back(std::move(j));
  }
  std::vector<std::string> ids;
  for (const auto& [i, id] : *pending) ids.push_back(id);
  wait_for(std::move(ids), ms, [results, pending, done](const std::map<std::string, uint64_t>& heights) {
    size_t accepted = 0, committed = 0;
    for (const auto& [i, id] : *pending) {
      if (auto it = heights.find(id); it != heights.end()) {
        (*results)[i]["status"] = "committed";
        (*results)[i]["height"] = it->second;
      }
    }
    for (const auto& r : *results) {
      accepted += r["status"] != "refused";
      committed += r["status"] == "committed";
    }
    done(reply(200, json{{"results", *results}, {"accepted", accepted}, {"committed", committed}}));
  });
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

// The owner's signed statement for an upload or a deletion at this node (?owner_statement=HEX,
// fl::OwnerStatement): for this data set, this CSV (`csv_sha256`; empty: any) and label column,
// signed by this connection's client. The refusal names the check.
std::variant<fl::OwnerStatement, ApiResponse> ApiHandler::owner_statement(const ApiRequest& req, const std::string& name, bool deleted,
                                                                          const Bytes& csv_sha256, const std::string& label_column) {
  auto it = req.query.find("owner_statement");
  if (it == req.query.end()) {
    return error(400, "owner_statement", "the owner's signed statement is required (?owner_statement=HEX; supernet data register and delete make it)");
  }
  auto raw = from_hex(it->second);
  if (!raw.ok()) return error(400, "owner_statement", "owner_statement is not hex");
  auto st = fl::OwnerStatement::decode(*raw);
  if (!st.ok()) return error(400, "owner_statement", "the owner statement does not decode: " + st.error().message);
  if (st->node != node_.replica().self() || st->name != name || st->deleted != deleted || st->label_column != label_column) {
    return error(400, "owner_statement", std::string("the owner statement is for another ") +
                                             (st->node != node_.replica().self() ? "node" : st->name != name ? "data set" : st->deleted != deleted ? "action" : "label column"));
  }
  if (!csv_sha256.empty() && st->csv_sha256 != csv_sha256) {
    return error(403, "owner_statement", deleted ? "the owner statement names another version than the one held here"
                                                 : "the owner statement covers another CSV than the one uploaded");
  }
  if (!req.client_spki_sha256 || !crypto::ct_equal(crypto::sha256(st->client_spki), *req.client_spki_sha256)) {
    return error(403, "owner_statement", "the owner statement is signed by another key than this connection's client certificate");
  }
  auto key = crypto::PublicKey::from_spki(st->client_spki);
  if (!key.ok() || !key->verify_ecdsa_der(crypto::HashAlg::kSha256, st->signed_bytes(), st->signature).ok()) {
    return error(403, "owner_statement", "the owner statement's signature does not verify");
  }
  return std::move(st).value();
}

ApiResponse ApiHandler::post_data(const std::string& name, const ApiRequest& req, const Client& client) {
  fl::CsvOptions o;
  std::string label_column;
  if (auto it = req.query.find("label_column"); it != req.query.end()) o.label_column = label_column = it->second;
  DatasetId id{client.name, name};
  std::optional<fl::OwnerStatement> statement;
  if (fl_ != nullptr) {  // checked before anything is parsed or kept
    auto st = owner_statement(req, name, false, crypto::sha256(as_bytes(req.body)), label_column);
    if (auto* refused = std::get_if<ApiResponse>(&st)) return std::move(*refused);
    statement = std::move(std::get<fl::OwnerStatement>(st));
  }
  auto s = datasets_->add(id, req.body, o);
  if (!s.ok()) {
    const std::string& code = s.error().code;
    int status = code == "dataset.exists"                                        ? 409
                 : code == "dataset.too_large"                                   ? 413
                 : code == "dataset.quota"                                       ? 403
                 : code.rfind("csv.", 0) == 0 || code == "dataset.name"          ? 400
                                                                                 : 500;
    return error(status, code, s.error().message);
  }
  json out = schema_to_json(*s);
  if (fl_ != nullptr) {
    // The node's record of it goes on the ledger (what jobs and policies refer to); when it
    // cannot be ordered, nothing is kept and the client sends the data again.
    auto o = submit_write(fl_->data_record_tx(*s, false, std::move(*statement)));
    if (o.status != 202 && o.status != 200) {
      (void)datasets_->remove(id);
      return error(o.status, o.error, o.message + " (the data set was not kept; register it again)");
    }
    out["registration_tx"] = to_hex(as_bytes(o.id));
  }
  return reply(201, out);
}

ApiResponse ApiHandler::delete_data(const std::string& name, const ApiRequest& req, const Client& client) {
  auto fail = [&](const Error& e) {
    const std::string& code = e.code;
    int status = code == "dataset.unknown" ? 404 : code == "dataset.owner" ? 403 : code == "dataset.name" ? 400 : code == "dataset.tampered" ? 409 : 500;
    return error(status, code, e.message);
  };
  // A client names its own data sets only: nobody else's can be addressed, let alone deleted.
  DatasetId id{client.name, name};
  auto schema = datasets_->schema(id);
  if (!schema.ok() && schema.error().code != "dataset.tampered") return fail(schema.error());
  if (!schema.ok()) {  // files that no longer verify: the owner may still clear them away
    schema = DatasetSchema{};
    schema->name = name;
    schema->owner = client.name;
  }
  // The deletion is ordered first: when it cannot be, nothing is removed.
  json out = {{"deleted", name}, {"node", node_.replica().self()}};
  if (fl_ != nullptr) {
    // The owner names the version it deletes: the ledger's, else the one held here.
    Bytes version = from_hex(schema->csv_sha256).value_or(Bytes{});
    if (auto l = fl_->datasets_on_ledger().find({node_.replica().self(), id.key()}); l != fl_->datasets_on_ledger().end()) version = l->second.csv_sha256;
    auto st = owner_statement(req, name, true, version, "");
    if (auto* refused = std::get_if<ApiResponse>(&st)) return std::move(*refused);
    auto o = submit_write(fl_->data_record_tx(*schema, true, std::move(std::get<fl::OwnerStatement>(st))));
    if (o.status != 202 && o.status != 200) return error(o.status, o.error, o.message + " (nothing was deleted)");
    out["deletion_tx"] = to_hex(as_bytes(o.id));
  }
  auto s = datasets_->remove(id);
  if (!s.ok()) return fail(s.error());
  return reply(200, out);
}

ApiResponse ApiHandler::post_policy(const std::string& name, const ApiRequest& req) {
  // {"tx": hex}: the owner's policy for this node's data set `name` (supernet data policy).
  auto tx = signed_tx_body(req.body, "a policy transaction signed by the data set's owner (supernet data policy makes one)");
  if (!tx.ok()) return error(400, "bad_request", tx.error().message);
  auto p = fl::PolicyTx::decode(*tx);
  if (!p.ok()) return error(400, p.error().code, "the policy transaction does not decode: " + p.error().message);
  if (p->dataset != name || p->node != node_.replica().self()) {
    return error(400, "policy.dataset", "the policy names another data set or node than this request's");
  }
  auto signer = check_policy(*p, node_.replica().genesis());
  if (!signer.ok()) return error(403, signer.error().code, signer.error().message);
  if (!crypto::ct_equal(crypto::sha256(p->client_spki), *req.client_spki_sha256)) {
    return error(403, "forbidden", "the policy is signed by another key than this connection's client certificate");
  }
  // The signer's own data set of that name: a client sets the policy of its own data only.
  auto it = fl_->datasets_on_ledger().find({p->node, *signer + "/" + name});
  if (it == fl_->datasets_on_ledger().end()) {
    return error(404, "dataset.unknown", "the ledger records no data set " + *signer + "/" + name + " at this node (a policy is for your own data sets)");
  }
  return submit_tx(*tx);
}

ApiResponse ApiHandler::post_consent(const std::string& idhex, const ApiRequest& req) {
  // {"tx": hex}: the consent, signed by the data owner with its client certificate's key
  // (supernet data consent makes one); ordered only for the client of this connection.
  auto id = from_hex(idhex);
  if (!id.ok() || id->size() != 32) return error(400, "bad_id", "a job id is 64 hex digits");
  auto tx = signed_tx_body(req.body, "a consent transaction signed by the data owner (supernet data consent makes one)");
  if (!tx.ok()) return error(400, "bad_request", tx.error().message);
  auto c = fl::ConsentTx::decode(*tx);
  if (!c.ok()) return error(400, c.error().code, "the consent transaction does not decode: " + c.error().message);
  if (c->job != *id) return error(400, "consent.job", "the consent names another job than the path");
  auto signer = check_consent(*c, node_.replica().genesis());
  if (!signer.ok()) return error(403, signer.error().code, signer.error().message);
  if (!crypto::ct_equal(crypto::sha256(c->client_spki), *req.client_spki_sha256)) {
    return error(403, "forbidden", "the consent is signed by another key than this connection's client certificate");
  }
  auto it = fl_->jobs().find(*id);
  if (it == fl_->jobs().end()) return error(404, "unknown", "no such job on this node's ledger");
  if (it->second.ended()) return error(409, "job_ended", "the job has ended");
  return submit_tx(*tx);
}

ApiResponse ApiHandler::get_data() {
  auto all = datasets_->list();
  if (!all.ok()) return error(500, all.error().code, all.error().message);
  json list = json::array();
  for (const auto& s : *all) {
    json d = schema_to_json(s);
    if (fl_ != nullptr && !s.owner.empty()) {
      // What the ledger records of it: the version, the owner's policy, the DP budget spent
      // (also for files that no longer verify: their owner names the version to delete).
      DatasetKey key{node_.replica().self(), s.owner + "/" + s.name};
      auto it = fl_->datasets_on_ledger().find(key);
      if (it == fl_->datasets_on_ledger().end()) {
        d["ledger"] = {{"registered", false}};
      } else {
        const LedgerDataset& l = it->second;
        d["ledger"] = {{"registered", true}, {"height", l.height}, {"same_version", to_hex(l.data_sha256) == s.data_sha256 && to_hex(l.csv_sha256) == s.csv_sha256 && l.owner == s.owner},
                     {"csv_sha256", to_hex(l.csv_sha256)}};
        if (l.policy) d["policy"] = policy_to_json(*l.policy);
        d["epsilon_spent"] = fl_->epsilon_spent(key);
      }
    }
    list.push_back(std::move(d));
  }
  return reply(200, json{{"node", node_.replica().self()}, {"datasets", list}});
}

ApiResponse ApiHandler::post_fl_job(const std::string& body, const Client& client) {
  if (client.role != "member") return error(403, "forbidden", "only members may submit jobs");
  // {"tx": hex}: the job transaction, signed by the submitting member (supernet fl submit).
  auto tx = signed_tx_body(body, "a job transaction signed by the submitting member (supernet fl submit makes one)");
  if (!tx.ok()) return error(400, "bad_request", tx.error().message);
  auto job = fl::JobTx::decode(*tx);
  if (!job.ok()) return error(400, job.error().code, "the job transaction does not decode: " + job.error().message);
  auto checked = check_job(*job, node_.replica().genesis());
  if (!checked.ok()) {
    int status = checked.error().code == "job.signer" || checked.error().code == "job.signature" ? 403 : 400;
    return error(status, checked.error().code, checked.error().message);
  }
  const auto& set = node_.replica().validators();
  for (const auto& p : checked->spec.parties) {
    if (set.find(p.node) == nullptr) return error(400, "job.party", "node " + std::to_string(p.node) + " is not a validator of this network");
  }
  // The data's registrations and policies, as this node's ledger holds them now (every node
  // checks again when it applies the job).
  if (auto data = fl_->check_job_data(checked->spec, checked->submitter); !data.ok()) {
    return error(data.error().code == "job.data" ? 400 : 403, data.error().code, data.error().message);
  }
  return submit_tx(*tx);
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
                {"aggregator", fl_->scheduled_aggregator(j, now)},
                {"claimed_by", j.aggregator},
                {"consents", j.consents}};
    if (failure) out["failure"] = *failure;
    if (!j.rounds.empty()) out["accuracy"] = j.rounds.back().record.eval.accuracy;
    // The owners of this node's data sets in a running job whose consent is not on the ledger.
    out["awaiting_consent"] = fl_->awaiting_consent(j);
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
    // The job's readers, and the owner of this node's data set in the job (who always may, at
    // the node that keeps its data).
    bool owner = false;
    for (const auto& p : j.spec.parties) {
      if (p.node != node_.replica().self() || datasets_ == nullptr) continue;
      auto ds = parse_dataset_ref(p.dataset, j.submitter);
      owner |= ds.ok() && ds->owner == client.name && datasets_->schema(*ds).ok();
    }
    if (!owner && std::find(j.spec.model_readers.begin(), j.spec.model_readers.end(), client.name) == j.spec.model_readers.end()) {
      return error(403, "forbidden",
                   "the job does not name " + client.name + " among its model_readers (a data set's owner reads the model at the node that keeps it)");
    }
    if (!j.finished()) return error(409, "not_finished", "the job has not finished");
    auto m = fl_->model_with_hash(j.id, j.rounds.back().record.model_hash);
    if (!m) {
      return error(404, "no_model", "this node does not hold the final model; ask one of the job's parties");
    }
    if (!j.standardization) return error(409, "not_finished", "the job's standardization is not on this node's ledger");
    // The model file (fl/model_file.h): the shape and standardization the ledger fixed, the
    // feature names of this node's own data set in the job when it keeps one.
    fl::ModelFile file;
    file.spec = j.spec.config.model;
    file.spec.inputs = j.standardization->mean.size();
    file.spec.classes = static_cast<int>(j.standardization->classes);
    file.standardization.mean = j.standardization->mean;
    file.standardization.stddev = j.standardization->stddev;
    file.params = *m;
    file.model_sha256 = j.rounds.back().record.model_hash;
    file.job = to_hex(j.id);
    file.round = static_cast<int>(j.rounds.size());
    for (const auto& p : j.spec.parties) {
      if (p.node != node_.replica().self() || datasets_ == nullptr || !file.features.empty()) continue;
      auto ds = parse_dataset_ref(p.dataset, j.submitter);
      if (!ds.ok()) continue;
      auto schema = datasets_->schema(*ds);
      if (schema.ok() && schema->feature_names.size() == file.spec.inputs) file.features = schema->feature_names;
    }
    json out = json::parse(file.to_json());
    out["model_hash"] = out["model_sha256"];  // the name this endpoint has always used
    return reply(200, out);
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
    if (c.kind == consensus::ChangeKind::kAddNode || c.kind == consensus::ChangeKind::kRemoveNode || c.kind == consensus::ChangeKind::kSetWeight) {
      j["node"] = c.node;
    }
    if (c.kind == consensus::ChangeKind::kSetMinTcb) {
      j["platform"] = c.platform;
      j["min_tcb"] = c.min_tcb;
    }
    if (c.kind == consensus::ChangeKind::kRevokePlatformKey) j["platform_key"] = c.platform_key;
    if (c.kind == consensus::ChangeKind::kRevokeChip) j["chip_id"] = c.platform_key;
    if (c.kind == consensus::ChangeKind::kSetReleasePolicy) {
      j["resource"] = c.resource;
      j["release_policy"] = {{"clients", c.clients}, {"measurements", c.measurements}, {"packages", c.packages}};
    }
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
  const auto* loc = node_.replica().find_committed_tx(to_string(*id));
  if (loc == nullptr) {
    if (node_.replica().in_mempool(to_string(*id))) return reply(200, json{{"id", id_hex}, {"status", "pending"}});
    return error(404, "unknown", "no such transaction at this node (never received, or lost with a node that failed: submit it again)");
  }
  const auto& chain = node_.replica().chain();
  uint64_t height = loc->height;
  if (height == 0 || height > chain.size()) return error(503, "catching_up", "this node is still loading its chain");
  const consensus::CommittedBlock& cb = chain[height - 1];
  auto receipt = ledger::make_receipt(genesis_.protocol, cb, loc->index);
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
  // With a signed checkpoint at or above its block, the receipt verifies with the network's
  // service key alone: the headers from its block up to the checkpoint's go with it.
  std::optional<ledger::Checkpoint> cp = keys_ != nullptr ? keys_->checkpoint_covering(height) : std::nullopt;
  if (cp && cp->height <= chain.size() && cp->height - height <= ledger::kCheckpointLinkHeadersMax) {
    ledger::CheckpointLink link;
    for (uint64_t h = height + 1; h <= cp->height; h++) link.headers.push_back(chain[h - 1].block.header);
    link.checkpoint = *cp;
    proof.checkpoint = std::move(link);
  }
  json tx = tx_json(cb.block.txs[loc->index]);
  bool valid = tx["type"] != "unknown";
  std::string reason = "committed, but not a transaction this network's state machine applies";
  if (auto skipped = skipped_write(cb.block, loc->index)) {
    valid = false;
    reason = "committed, but the state machine did not apply it: " + *skipped;
  }
  if (market_ != nullptr && market::is_market_tx(cb.block.txs[loc->index])) {
    if (auto why = market_->refusal(*id)) {
      valid = false;
      reason = "committed, but the market did not apply it: " + *why;
    }
  }
  json out = {{"id", id_hex},
              {"status", valid ? "committed" : "invalid"},
              {"height", height},
              {"index", loc->index},
              {"epoch", cb.block.header.epoch},
              {"tx", tx},
              {"receipt", to_hex(proof.encode())},
              {"checkpoint", proof.checkpoint ? json(proof.checkpoint->checkpoint.height) : json(nullptr)}};
  if (!valid) out["reason"] = reason;
  return reply(200, out);
}

// Why the state machine skipped the key-value transaction at `index` of `b` (a signature that
// does not verify, a reserved table, a write to a table that was owner-write-only by then, a
// claim that lost), or nullopt when it applied it or is no key-value transaction. Judged from
// the table's owner record: claims are never undone, so its height says since when it held.
std::optional<std::string> ApiHandler::skipped_write(const consensus::Block& b, size_t index) {
  auto& store = node_.store();
  auto w = ledger::decode_state_write(b.txs[index], store.rules());
  if (!w.ok()) return w.error().message;
  if (!*w) return std::nullopt;
  const std::string& table = (*w)->claim ? (*w)->key : (*w)->table;
  if (table.empty() || table[0] == ledger::kReservedTablePrefix) return "table " + table + " is reserved";
  auto owner = store.get(ledger::kTableOwners, table);
  if (!owner.ok() || !*owner) {
    if ((*w)->claim) return "table " + table + " already held entries";
    return std::nullopt;
  }
  uint64_t h = b.header.height;
  bool owned_before = (*owner)->height < h;
  if ((*owner)->height == h) {  // claimed in this very block: before this transaction?
    for (size_t i = 0; i < index; i++) {
      auto c = ledger::decode_state_write(b.txs[i], store.rules());
      if (c.ok() && *c && (*c)->claim && (*c)->key == table && (*c)->writer == to_string((*owner)->value)) owned_before = true;
    }
  }
  std::string holder = to_string((*owner)->value);
  if ((*w)->claim) {
    if (owned_before) return "table " + table + " was already owned by " + holder;
    if ((*owner)->height != h || holder != (*w)->writer) return "table " + table + " already held entries";
    return std::nullopt;
  }
  if (owned_before && !((*w)->verified && (*w)->writer == holder)) return "table " + table + " is owner-write-only (owner " + holder + ")";
  return std::nullopt;
}

ApiResponse ApiHandler::get_kv(const std::string& rest, const Client& client) {
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
  if (ledger::is_private_table(table)) {
    // Members, and the client that wrote this key; its value unsealed here, in the TEE.
    if (client.role != "member" && client.name != (*e)->writer) {
      return error(403, "kv.private", "table " + table + " is private: only members and the client that wrote the key may read it");
    }
    auto k = keys_ == nullptr ? std::nullopt : keys_->ledger_key();
    if (!k) return error(503, "keys.ledger_key", "this node has not obtained the ledger key yet; try again");
    auto plain = keys::open_private_value(*k, node_.replica().genesis_hash(), table, key, (*e)->value);
    if (!plain.ok()) return error(500, plain.error().code, plain.error().message);
    out.update(value_json(to_bytes(plain->view())));
  } else {
    out.update(value_json((*e)->value));
  }
  // Who wrote it: `writer_signed` true when every node checked the writer's signature; false
  // when the writer is the client that the receiving node says it authenticated.
  out["writer"] = (*e)->writer.empty() ? json(nullptr) : json((*e)->writer);
  out["writer_signed"] = (*e)->verified;
  if (auto owner = node_.store().table_owner(table)) out["table_owner"] = *owner;
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
    // The last appraisal of its evidence: the handshake, or the live session's re-attestation.
    if (auto a = node_.appraisal(v.id)) {
      n["appraised_at_ms"] = a->unix_ms;
      n["appraisal"] = a->verdict;
    } else {
      n["appraised_at_ms"] = nullptr;
      n["appraisal"] = nullptr;
    }
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
                         {"policy_adjustments", {{"measurements", m.measurements()},
                                                 {"virtual_platform_keys", m.platform_keys()},
                                                 {"min_tcb", m.min_tcb()},
                                                 {"revoked_platform_keys", m.revoked_platform_keys()},
                                                 {"revoked_chip_ids", m.revoked_chip_ids()}}},
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
  if (fl_ != nullptr && !fl_->refusals().empty()) {
    o += "# HELP supernet_fl_refused_requests_total Requests to this node as a federated learning party that it refused, by reason.\n"
         "# TYPE supernet_fl_refused_requests_total counter\n";
    for (const auto& [reason, n] : fl_->refusals()) o += "supernet_fl_refused_requests_total{reason=\"" + reason + "\"} " + std::to_string(n) + "\n";
  }
  if (http_metrics_) o += http_metrics_();
  return {200, "text/plain; version=0.0.4", o};
}

// --- the HTTPS server ---

namespace {

SSL_CTX* api_tls_context(net::IdentityStore* store) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) return nullptr;
  auto id = store->current();
  bool ok = SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) == 1 && SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) == 1 &&
            SSL_CTX_use_certificate(ctx, id->cert.get()) == 1 && SSL_CTX_use_PrivateKey(ctx, id->key.get()) == 1 &&
            SSL_CTX_check_private_key(ctx) == 1;
  if (!ok) {
    SSL_CTX_free(ctx);
    return nullptr;
  }
  net::use_identity_store(ctx, store);  // every handshake serves the current (renewed) certificate
  // Ask for a client certificate and accept any: possession of its key is proven by the
  // handshake, and the handler decides (401) whether that key is registered.
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, [](int, X509_STORE_CTX*) { return 1; });
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(ctx, 0);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);  // idle connections hold no record buffers
  return ctx;
}

}  // namespace

ApiServer::ApiServer(asio::io_context& io, ApiHandler& handler, std::shared_ptr<net::IdentityStore> certificates, net::HttpLimits limits)
    : io_(io), handler_(handler), certificates_(std::move(certificates)), limits_(limits) {}

ApiServer::~ApiServer() {
  stop();
  handler_.set_http_stats(nullptr);
}

uint16_t ApiServer::port() const { return server_ ? server_->port() : 0; }

Status ApiServer::start(const std::string& host, uint16_t port) {
  SSL_CTX* tls = api_tls_context(certificates_.get());
  if (tls == nullptr) return make_error("api.tls", "cannot configure TLS 1.3 for the API with the node's certificate");
  net::HttpServer::Hooks hooks;
  ApiHandler* h = &handler_;
  hooks.handler = [h](net::HttpRequest in, net::HttpServer::Respond respond) {
    ApiRequest r;
    r.method = std::move(in.http.method);
    r.path = std::move(in.http.path);
    r.body = std::move(in.http.body);
    r.query = std::move(in.http.query);
    r.client_spki_sha256 = std::move(in.client_spki_sha256);
    r.tls_exporter = std::move(in.tls_exporter);
    h->handle(r, [respond](ApiResponse a) { respond(net::HttpResponse{a.status, std::move(a.content_type), std::move(a.body), {}}); });
  };
  hooks.body_limit = [](std::string_view method, std::string_view path) {
    // Only an upload (POST /v1/data/{name}) may be large; /v1/data/{name}/policy is not one.
    std::string_view route = path.substr(0, path.find('?'));
    if (method == "POST" && route.rfind("/v1/data/", 0) == 0 && route.find('/', 9) == std::string_view::npos) return kApiDataBytesMax;
    if (path == "/v1/tx/batch") return kApiBatchBytesMax;
    if (method == "POST" && route == "/v1/agents") return kApiPackageBytesMax;
    return kApiBodyBytesMax;
  };
  hooks.trusted = [h](const Bytes& spki) { return h->registered(spki); };
  // An unauthenticated client's body is never read: refused (401) from its headers.
  hooks.before_body = [h](std::string_view, std::string_view path, const std::optional<Bytes>& spki) -> std::optional<net::HttpResponse> {
    if (path == "/v1/health" || path == "/v1/openapi.json" || (spki && h->registered(*spki))) return std::nullopt;
    h->count(401);
    std::string message = spki ? "the client certificate's key is not registered with this network"
                               : "a client certificate registered in the genesis is required (mutual TLS)";
    return net::HttpResponse{401, "application/json", json{{"error", "unauthenticated"}, {"message", message}}.dump() + "\n", {}};
  };
  hooks.error = [h](int status, const std::string& code, const std::string& message) {
    h->count(status);
    return net::HttpResponse{status, "application/json", json{{"error", code}, {"message", message}}.dump() + "\n", {}};
  };
  server_ = std::make_unique<net::HttpServer>(io_, tls, limits_, std::move(hooks));
  if (auto s = server_->start(host, port); !s.ok()) return s;
  net::HttpServer* server = server_.get();
  handler_.set_http_stats([server] {
    net::HttpStats st = server->stats();
    const net::HttpLimits& l = server->limits();
    std::string o;
    auto metric = [&o](const std::string& name, const char* type, const char* help, const std::string& value) {
      o += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n" + name + " " + value + "\n";
    };
    metric("supernet_api_connections", "gauge", "Open API connections.", std::to_string(st.connections));
    metric("supernet_api_connections_max", "gauge", "API connections at most (connections_max).", std::to_string(l.connections_max));
    metric("supernet_api_accepted_total", "counter", "API connections accepted.", std::to_string(st.accepted));
    metric("supernet_api_evicted_total", "counter", "API connections closed to make room for new ones.", std::to_string(st.evicted));
    metric("supernet_api_refused_total", "counter", "API connections refused: every slot busy with registered clients.", std::to_string(st.refused));
    o += "# HELP supernet_api_timeouts_total API connections closed by a deadline, by phase.\n# TYPE supernet_api_timeouts_total counter\n";
    for (auto [phase, n] : {std::pair<const char*, uint64_t>{"handshake", st.timed_out_handshake}, {"headers", st.timed_out_headers},
                            {"body", st.timed_out_body}, {"write", st.timed_out_write}, {"idle", st.timed_out_idle}}) {
      o += std::string("supernet_api_timeouts_total{phase=\"") + phase + "\"} " + std::to_string(n) + "\n";
    }
    metric("supernet_api_busy_total", "counter", "Requests answered 503 busy (in_flight_max reached).", std::to_string(st.busy));
    metric("supernet_api_in_flight", "gauge", "Requests being handled (waiting for a commit among them).", std::to_string(st.in_flight));
    return o;
  });
  return ok_status();
}

void ApiServer::stop() {
  if (server_) server_->stop();
}

// --- the marketplace ---

namespace {

json listing_json(const market::Listing& l) {
  return json{{"name", l.name},
              {"version", l.version},
              {"root", to_hex(l.root)},
              {"publisher", to_hex(l.publisher)},
              {"publisher_id", agents::key_id(l.publisher).substr(0, 16)},
              {"price", l.price},
              {"licence", {{"kind", l.licence.open ? "open" : "clients"}, {"clients", l.licence.clients}, {"calls", l.licence.calls}}},
              {"resources", {{"gas", l.resources.gas}, {"memory_mb", l.resources.memory_mb}, {"timeout_ms", l.resources.timeout_ms}}},
              {"node", l.node},
              {"client", l.client},
              {"models", l.has_models},
              {"content_key", l.has_models ? (l.wrapped_content_key.empty() ? "not handed over" : "held by key management") : "none needed"},
              {"height", l.height},
              {"delisted", l.delisted}};
}

int market_status(const Error& e) {
  const std::string& c = e.code;
  if (c == "market.name" || c == "market.version" || c == "market.duplicate" || c == "market.delisted") return 409;
  if (c == "market.balance") return 402;
  if (c == "market.mint" || c == "market.publisher" || c == "market.signer" || c == "market.signature") return 403;
  if (c == "market.unknown") return 404;
  if (c == "market.full") return 507;
  if (c == "listing.too_large" || c == "package.too_large") return 413;
  return 400;
}

}  // namespace

ApiResponse ApiHandler::route_market(const ApiRequest& req, const Client& client) {
  const std::string& p = req.path;
  bool get = req.method == "GET" || req.method == "HEAD";
  if (p == "/v1/agents") return get ? get_agents(req) : error(405, "method", "use GET or POST");
  if (p.rfind("/v1/agents/", 0) == 0) return get ? get_agent(p.substr(11)) : error(405, "method", "use GET");
  if (p == "/v1/market/tx") return req.method == "POST" ? post_market_tx(req, client) : error(405, "method", "use POST");
  if (p == "/v1/market/balance") return get ? get_balance(req, client) : error(405, "method", "use GET");
  return error(404, "not_found", "no such endpoint: " + p + " (see GET /v1/openapi.json)");
}

void ApiHandler::post_agent(const ApiRequest& req, const Client& client, Done done) {
  // The package file itself: verified whole inside this node's TEE (on the market's worker
  // thread), before the listing is signed and ordered.
  std::weak_ptr<int> alive = alive_;
  market_->publish(req.body, client.name, [this, alive, done = std::move(done)](Result<MarketService::Published> p) {
    if (alive.expired()) return;
    if (!p.ok()) {
      int status = p.error().code == "market.busy" ? 503 : market_status(p.error());
      return done(error(status, p.error().code, p.error().message));
    }
    ApiResponse r = submit_tx(p->tx);
    if (r.status != 202 && r.status != 200) return done(std::move(r));
    json out = json::parse(r.body);
    out["name"] = p->name;
    out["version"] = p->version;
    out["root"] = to_hex(p->root);
    done(reply(r.status, out));
  });
}

ApiResponse ApiHandler::get_agents(const ApiRequest& req) {
  // Pages of at most kAgentsPageMax names in name order: ?after=NAME&limit=N; "next" names the
  // last one when more follow.
  size_t limit = kAgentsPageMax;
  if (auto it = req.query.find("limit"); it != req.query.end()) {
    size_t n = 0;
    auto [end, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), n);
    if (ec != std::errc() || end != it->second.data() + it->second.size() || n == 0 || n > kAgentsPageMax) {
      return error(400, "bad_limit", "limit is 1 to " + std::to_string(kAgentsPageMax));
    }
    limit = n;
  }
  std::string after = req.query.count("after") ? req.query.at("after") : "";
  json list = json::array();
  std::optional<std::string> next;
  for (const auto& name : market_->state().names()) {
    if (!after.empty() && name <= after) continue;
    if (list.size() == limit) {
      next = list.back()["name"].get<std::string>();
      break;
    }
    auto versions = market_->state().versions(name);
    const market::Listing* latest = market_->state().latest(name);
    json j = listing_json(latest != nullptr ? *latest : versions.back());
    j["versions"] = versions.size();
    if (latest == nullptr) j["delisted"] = true;  // every version is
    list.push_back(j);
  }
  json out{{"agents", list}};
  if (next) out["next"] = *next;
  return reply(200, out);
}

ApiResponse ApiHandler::get_agent(const std::string& name) {
  auto versions = market_->state().versions(name);
  if (versions.empty()) return error(404, "unknown", "no agent " + name + " is listed on this node's ledger");
  json list = json::array();
  for (const auto& l : versions) list.push_back(listing_json(l));
  const market::Listing* latest = market_->state().latest(name);
  return reply(200, json{{"name", name}, {"latest", latest ? json(latest->version) : json(nullptr)}, {"versions", list}});
}

ApiResponse ApiHandler::post_market_tx(const ApiRequest& req, const Client& client) {
  // {"tx": hex}: a delisting (signed by the publisher's package key), or a mint or transfer
  // signed by this connection's client.
  auto tx = signed_tx_body(req.body, "a market transaction (supernet agent delist, supernet market mint/transfer make one)");
  if (!tx.ok()) return error(400, "bad_request", tx.error().message);
  if (!market::is_market_tx(*tx) || market::ListingTx::decode(*tx).ok()) {
    return error(400, "bad_tx", "not a delisting, mint or transfer (a listing is published with POST /v1/agents)");
  }
  if (auto c = market::CreditTx::decode(*tx); c.ok() && !crypto::ct_equal(crypto::sha256(c->client_spki), *req.client_spki_sha256)) {
    return error(403, "forbidden", "the transaction is signed by another key than this connection's client certificate");
  }
  if (auto s = market_->state().check(*tx, market_->directory()); !s.ok()) return error(market_status(s.error()), s.error().code, s.error().message);
  return submit_tx(std::move(tx).value());
}

ApiResponse ApiHandler::get_balance(const ApiRequest& req, const Client& client) {
  std::string who = client.name;
  if (auto it = req.query.find("client"); it != req.query.end() && it->second != client.name) {
    if (client.role != "member") return error(403, "forbidden", "only members see other clients' balances");
    who = it->second;
  }
  return reply(200, json{{"client", who}, {"balance", market_->state().balance(who)}});
}

}  // namespace supernet::node
