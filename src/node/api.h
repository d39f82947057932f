// The node's REST API. Two parts:
//  - ApiHandler maps a request (method, path, body, the client's certificate key hash) to a
//    response. It reads and drives the Node, so it runs on the node's io thread. Pure enough
//    to test without sockets.
//  - ApiServer serves it over HTTPS (net/http_server.h: event-driven on the node's io
//    thread, TLS 1.3 only) with the node's RA-TLS certificate. Clients authenticate with a
//    certificate whose public key hash the genesis lists; the TLS layer asks for a
//    certificate but accepts any, so that a missing or unknown one gets a clear 401 rather
//    than a failed handshake. Bodies over the path's limit are refused (413) from their
//    Content-Length, before they are read; every other bound is in net::HttpLimits.
//
// Endpoints (docs/api.md, GET /v1/openapi.json):
//   POST /v1/tx                 write to the key-value state: {"table","key","value"|"value_hex","nonce"}
//   POST /v1/tx/batch           up to kTxBatchMax writes {"writes": [...]}, one status per write
//   GET  /v1/tx/{id}            pending | committed (with a receipt proof) | invalid; 404 unknown
//                               (?wait_ms=N on these three: answered when committed or after N ms)
//   GET  /v1/kv/{table}/{key}   the committed value
//   GET  /v1/nodes              validators: weight, keys, attestation (connection) status, evidence
//   GET  /v1/keys               the network's group key (the validators' DKG): state, public_key, threshold,
//                               public shares, the release log
//   POST /v1/keys/nonce         a nonce for an attested requester's evidence (good once, 30 s)
//   POST /v1/keys/release       this validator's part of a resource's key, sealed to the requester's key
//   POST /v1/governance         members: a member-signed proposal or approval {"tx": hex}
//   GET  /v1/governance         members, approvals needed, allowed measurements, proposals
//   POST /v1/data/{name}        register a CSV data set at this node, sealed (?label_column=C)
//   GET  /v1/data               this node's data sets: schema and row counts, never rows
//   POST /v1/fl/jobs            members: submit a federated learning job (TOML body)
//   GET  /v1/fl/jobs[/{id}]     jobs, and one job's rounds from the ledger
//   GET  /v1/fl/jobs/{id}/model the final model (clients the job names as model_readers)
//   GET  /v1/health             200 ok or 503 degraded (no authentication needed)
//   GET  /metrics               Prometheus text format
//   GET  /v1/openapi.json       the API description (no authentication needed)
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "fl/wire.h"
#include "ledger/tx.h"
#include "net/http_server.h"
#include "net/ratls.h"
#include "node/config.h"
#include "node/datasets.h"
#include "node/node.h"

namespace supernet::net {
class HttpServer;
}

namespace supernet::node {

inline constexpr size_t kApiBodyBytesMax = 256 * 1024;  // every endpoint but POST /v1/data
inline constexpr size_t kAgentsPageMax = 1000;          // GET /v1/agents: names per answer
inline constexpr size_t kApiDataBytesMax = 64 * 1024 * 1024;
inline constexpr size_t kTxBatchMax = 1000;                   // writes in one POST /v1/tx/batch
inline constexpr size_t kApiBatchBytesMax = 4 * 1024 * 1024;  // its body
inline constexpr int64_t kApiWaitMsMax = 30000;               // ?wait_ms=N, at most
inline constexpr int64_t kReleaseLogWaitMs = 10000;           // a key release waits this long for its record to commit

struct ApiRequest {
  std::string method;
  std::string path;  // decoded, without the query
  std::string body;
  std::optional<Bytes> client_spki_sha256;  // from the TLS client certificate, if one was sent
  Bytes tls_exporter;                       // net::api_exporter of the request's TLS session
  std::map<std::string, std::string> query;
};

struct ApiResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

class ApiHandler {
 public:
  // `genesis` gives the chain's identity, addresses and the registered clients.
  ApiHandler(Node& node, Genesis genesis);
  ~ApiHandler();
  ApiHandler(const ApiHandler&) = delete;
  ApiHandler& operator=(const ApiHandler&) = delete;
  // Answers at once, but for requests with ?wait_ms that wait for a commit: those are
  // answered from the commit (or the wait's end) on the io thread. `done` is called once.
  using Done = std::function<void(ApiResponse)>;
  void handle(const ApiRequest& req, Done done);
  // A registered client's certificate key.
  bool registered(const Bytes& spki_sha256) const;
  // The HTTP server's counters, for /metrics.
  void set_http_stats(std::function<std::string()> metrics) { http_metrics_ = std::move(metrics); }
  // Counts a response that never reached handle() (refused by the HTTP layer: 413, 503).
  void count(int status) { responses_[status]++; }
  // This node's sealed data sets (POST/GET /v1/data); without it those endpoints answer 404.
  void set_datasets(DatasetStore* store) { datasets_ = store; }
  // Federated learning jobs (/v1/fl/...); without it those endpoints answer 404.
  void set_fl(class FlService* fl) { fl_ = fl; }
  void set_keys(class KeyService* keys) { keys_ = keys; }
  // The marketplace (/v1/agents, /v1/market/...); without it those endpoints answer 404.
  void set_market(class MarketService* market) { market_ = market; }
  // Fresh evidence for GET /v1/attestation, over each client's own TLS session; without it that
  // endpoint answers 404. The platform is used on the handler's (io) thread only.
  void set_attestation(tee::Platform* platform, std::shared_ptr<net::IdentityStore> certificates) {
    platform_ = platform;
    certificates_ = std::move(certificates);
  }

 private:
  struct Client {
    std::string name;
    std::string role;
  };
  const Client* client_of(const ApiRequest& req) const;
  ApiResponse route(const ApiRequest& req, const Client* client);
  ApiResponse post_tx(const std::string& body, const Client& client, const Bytes& client_spki_sha256);
  // The transaction a POST /v1/tx body asks for: an unsigned write, or {"tx": hex} of a write
  // or table claim signed by this connection's client; checked as the state machine will
  // check it when it applies the block (ledger::check_write). Otherwise the refusal.
  std::variant<Bytes, ApiResponse> write_tx(const std::string& body, const Client& client, const Bytes& client_spki_sha256);
  // A write's id and the answer for it (202 pending, 200 committed, 4xx/503 refused).
  struct WriteOutcome {
    std::string id;  // raw tx_id
    int status = 0;
    uint64_t height = 0;        // when committed
    std::string error, message;  // when refused
  };
  WriteOutcome submit_write(Bytes tx);
  static ApiResponse write_response(const WriteOutcome& o);
  void post_tx_batch(const ApiRequest& req, const Client& client, Done done, int64_t wait_ms);
  // Waits for commits (?wait_ms): `ids` not yet committed; `finish` gets them back when each
  // one committed (with its height) or the wait ended.
  struct Waiter;
  void wait_for(std::vector<std::string> ids, int64_t wait_ms, std::function<void(const std::map<std::string, uint64_t>&)> finish);
  void committed(const consensus::CommittedBlock& b);
  static std::optional<int64_t> wait_ms(const ApiRequest& req);
  ApiResponse post_governance(const std::string& body, const Client& client, const Bytes& client_spki_sha256);
  ApiResponse get_governance();
  ApiResponse submit_tx(Bytes tx);
  ApiResponse get_tx(const std::string& id_hex);
  ApiResponse get_kv(const std::string& rest, const Client& client);
  // A write to a private table gets its value sealed under the ledger key (keys/private_table.h);
  // the refusal when it cannot be. Other writes are left alone.
  std::optional<ApiResponse> seal_private(ledger::KvWrite& w);
  std::optional<std::string> skipped_write(const consensus::Block& b, size_t index);
  ApiResponse get_nodes();
  ApiResponse get_health();
  ApiResponse get_metrics();
  ApiResponse post_data(const std::string& name, const ApiRequest& req, const Client& client);
  ApiResponse delete_data(const std::string& name, const ApiRequest& req, const Client& client);
  std::variant<fl::OwnerStatement, ApiResponse> owner_statement(const ApiRequest& req, const std::string& name, bool deleted,
                                                                const Bytes& csv_sha256, const std::string& label_column);
  ApiResponse post_consent(const std::string& idhex, const ApiRequest& req);
  ApiResponse post_policy(const std::string& name, const ApiRequest& req);
  ApiResponse get_data();
  ApiResponse post_fl_job(const std::string& body, const Client& client);
  ApiResponse get_fl(const std::string& rest, const Client& client);
  ApiResponse get_attestation(const ApiRequest& req);
  ApiResponse get_recovery_state();
  ApiResponse get_keys();
  void post_key_release(const ApiRequest& req, const Client& client, Done done);
  ApiResponse get_recoveries();
  ApiResponse post_recovery(const std::string& body, const Client& client);
  // The marketplace (node/api_market.cc).
  ApiResponse route_market(const ApiRequest& req, const Client& client);
  void post_agent(const ApiRequest& req, const Client& client, Done done);
  ApiResponse get_agents(const ApiRequest& req);
  ApiResponse get_agent(const std::string& name);
  ApiResponse post_market_tx(const ApiRequest& req, const Client& client);
  ApiResponse get_balance(const ApiRequest& req, const Client& client);

  Node& node_;
  Genesis genesis_;
  std::map<Bytes, Client> clients_;  // by certificate SPKI SHA-256
  std::map<int, uint64_t> responses_;
  DatasetStore* datasets_ = nullptr;
  class FlService* fl_ = nullptr;
  class KeyService* keys_ = nullptr;
  class MarketService* market_ = nullptr;
  tee::Platform* platform_ = nullptr;
  std::shared_ptr<net::IdentityStore> certificates_;
  std::function<std::string()> http_metrics_;
  std::multimap<std::string, std::shared_ptr<Waiter>> waiting_;  // by transaction id
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);       // the commit observer's link to this handler
};

class ApiServer {
 public:
  // Serves `certificates`' current certificate (renewed while it runs), on `io`'s thread.
  ApiServer(asio::io_context& io, ApiHandler& handler, std::shared_ptr<net::IdentityStore> certificates,
            net::HttpLimits limits = {});
  ~ApiServer();
  // Binds host:port (0 picks a port) and accepts on the io_context.
  Status start(const std::string& host, uint16_t port);
  // From any thread.
  void stop();
  uint16_t port() const;
  const net::HttpServer& http() const { return *server_; }

 private:
  asio::io_context& io_;
  ApiHandler& handler_;
  std::shared_ptr<net::IdentityStore> certificates_;
  net::HttpLimits limits_;
  std::unique_ptr<net::HttpServer> server_;
};

// Request bodies, parsed (pure functions of outside bytes, fuzzed). Error codes are the API's.
Result<ledger::KvWrite> parse_write_request(std::string_view body, const std::string& client);
// The same, of a body already parsed (POST /v1/tx reads its body once).
Result<ledger::KvWrite> parse_write_object(const nlohmann::json& body, const std::string& client);
// POST /v1/tx/batch: the batch's shape is checked as a whole, each write on its own.
Result<std::vector<Result<ledger::KvWrite>>> parse_batch_request(std::string_view body, const std::string& client);
Result<consensus::GovernanceTx> parse_governance_request(std::string_view body, Bytes* tx_out);

// Every route the API answers (path templates as in the OpenAPI document: "{x}" is one path
// segment, a last "{key}" the rest of the path). The router's 404 comes from this table; a test
// checks that the OpenAPI document describes each entry.
struct ApiRoute {
  const char* method;
  const char* path;
};
const std::vector<ApiRoute>& api_routes();
bool route_matches(std::string_view path_template, std::string_view path);

// The JSON description of the API (OpenAPI 3.1).
const std::string& openapi_json();

}  // namespace supernet::node
