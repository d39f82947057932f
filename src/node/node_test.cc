#include "node/node.h"
#include "node/node_cluster.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <asio.hpp>

#include "net/test_io.h"
#include <filesystem>
#include <map>

#include <nlohmann/json.hpp>
#include <thread>

#include "crypto/hash.h"
#include "ledger/receipt.h"
#include "ledger/tx.h"
#include "node/api.h"
#include "node/api_client.h"
#include "node/appraiser.h"
#include "tee/virtual_platform.h"

namespace supernet::node {
namespace {

// Members' revocations applied to a node's policy (issue 15 §4): a voted minimum TCB raises a
// component, never lowers one the local policy holds higher, and never admits a platform the
// policy does not; a revoked platform key leaves the trusted keys even when the policy file
// lists it, and a key governance trusted (add_node) that was then revoked is not trusted.
TEST(PolicyAdjustments, RevocationsOnlyTightenThePolicy) {
  tee::Policy p;
  p.platforms[tee::Kind::kSevSnp].min_tcb = {{"snp", 30}, {"tee", 0}};
  Bytes k1(32, 1), k2(32, 2);
  p.trusted_virtual_platform_keys = {k1, k2};
  consensus::PolicyAdjustments adj;
  adj.min_tcb["sev-snp"] = {{"snp", 23}, {"microcode", 200}, {"tee", 1}};
  adj.min_tcb["tdx"] = {{"tcb", 5}};
  adj.revoked_platform_keys = {to_hex(k1)};
  node::apply_adjustments(p, adj);
  std::map<std::string, uint64_t> want{{"microcode", 200}, {"snp", 30}, {"tee", 1}};
  EXPECT_EQ(p.platforms[tee::Kind::kSevSnp].min_tcb, want);
  EXPECT_EQ(p.platforms.count(tee::Kind::kTdx), 0u);
  EXPECT_EQ(p.trusted_virtual_platform_keys, std::vector<Bytes>{k2});
  // Trusted by add_node, revoked later: revocation wins.
  tee::Policy q;
  consensus::PolicyAdjustments later;
  later.virtual_platform_keys = {to_hex(k1)};
  later.revoked_platform_keys = {to_hex(k1)};
  node::apply_adjustments(q, later);
  EXPECT_TRUE(q.trusted_virtual_platform_keys.empty());
}

// A hardware machine revoked by chip id: SEV-SNP claims that pass their policy are refused once
// the members revoke that CHIP_ID, naming the check; another chip id leaves them alone.
TEST(PolicyAdjustments, ARevokedChipIdRefusesThatMachinesEvidence) {
  tee::Claims c;
  c.platform = tee::Kind::kSevSnp;
  c.measurement = Bytes(48, 0xaa);
  c.chip_id = Bytes(64, 0x5c);
  tee::Policy p;
  p.production = false;
  p.allowed_platforms = {tee::Kind::kSevSnp};
  p.platforms[tee::Kind::kSevSnp].measurements = {c.measurement};
  p.platforms[tee::Kind::kSevSnp].allowed_tcb_status = {"not evaluated"};
  ASSERT_TRUE(tee::appraise(p, c, 0).pass()) << tee::appraise(p, c, 0).failures.front();
  consensus::PolicyAdjustments other;
  other.revoked_chip_ids = {to_hex(Bytes(64, 0x11))};
  tee::Policy q = p;
  node::apply_adjustments(q, other);
  EXPECT_TRUE(tee::appraise(q, c, 0).pass());
  consensus::PolicyAdjustments adj;
  adj.revoked_chip_ids = {to_hex(c.chip_id)};
  node::apply_adjustments(p, adj);
  auto a = tee::appraise(p, c, 0);
  ASSERT_FALSE(a.pass());
  EXPECT_NE(a.failures.front().find("was revoked by the members"), std::string::npos) << a.failures.front();
}

using testing::NodeCluster;
using testing::temp_path;
using testing::test_dir;
using consensus::Checker;
using consensus::NodeId;

TEST_F(NodeCluster, CommitsOverAttestedTlsAndStoresIdenticalLedgers) {
  auto txs = submit_writes(0, 60);
  ASSERT_TRUE(run_until([&] { return all_committed(txs); })) << "heights " << nodes_[1]->height() << " " << nodes_[2]->height()
                                                             << " " << nodes_[3]->height();
  ASSERT_TRUE(run_until([&] { return nodes_[1]->height() == nodes_[2]->height() && nodes_[2]->height() == nodes_[3]->height(); }));
  auto a = nodes_[1]->store().load_blocks().value();
  for (int i = 2; i <= kNodes; i++) {
    auto b = nodes_[i]->store().load_blocks().value();
    ASSERT_EQ(a.size(), b.size());
    for (size_t h = 0; h < a.size(); h++) EXPECT_EQ(a[h].block.header.hash(), b[h].block.header.hash());
  }
  auto v = nodes_[2]->store().get("accounts", "user-7");
  ASSERT_TRUE(v.ok() && v->has_value());
  EXPECT_EQ(to_string((*v)->value), "7");
}

TEST_F(NodeCluster, RestartedNodeRejoinsThroughKeyRotation) {
  auto first = submit_writes(0, 10);
  ASSERT_TRUE(run_until([&] { return all_committed(first); }));
  // Node 2 goes down and comes back with a fresh checker (its key lived only in memory).
  nodes_[2]->stop();
  nodes_.erase(2);
  auto during = submit_writes(100, 10);
  auto fresh = std::make_unique<Checker>(2);
  ASSERT_TRUE(fresh->begin(chain_.encode(), evidence_appraiser()).ok());
  Bytes new_key = fresh->public_key();
  start_node(2, std::move(fresh));
  EXPECT_FALSE(nodes_[2]->replica().can_sign());
  // Its rotation commits, then it signs again and has every block.
  ASSERT_TRUE(run_until([&] { return nodes_[2]->replica().can_sign(); }));
  EXPECT_EQ(nodes_[1]->replica().validators().find(2)->vote_key, new_key);
  auto after = submit_writes(200, 10);
  after.insert(after.end(), during.begin(), during.end());
  ASSERT_TRUE(run_until([&] { return all_committed(after); }));
}


// The REST API of node 1 over HTTPS, after node 2 has rotated its key (so receipts need an
// epoch change to verify from the genesis).
// Node 1's API on a loopback port, its I/O thread running the cluster's io_context until the
// harness goes (then the test may drive io_ itself again).
struct ApiHarness {
  ApiHarness(asio::io_context& io, Node& node, const Genesis& g, tee::Platform& platform, const net::Binding& binding)
      : io(io), handler(node, g), certificates(std::make_shared<net::IdentityStore>(net::make_identity(platform, "api-1", binding).value())),
        server(io, handler, certificates), guard(asio::make_work_guard(io)) {
    handler.set_attestation(&platform, certificates);
    started = server.start("127.0.0.1", 0).ok();
    thread = std::thread([&io] { io.run(); });
  }
  ~ApiHarness() {
    server.stop();
    io.stop();
    thread.join();
  }
  asio::io_context& io;
  ApiHandler handler;
  std::shared_ptr<net::IdentityStore> certificates;
  ApiServer server;
  asio::executor_work_guard<asio::io_context::executor_type> guard;
  bool started = false;
  std::thread thread;
};

TEST_F(NodeCluster, ApiServesWritesReceiptsAndRefusesBadRequests) {
  using nlohmann::json;
  nodes_[2]->stop();
  nodes_.erase(2);
  auto fresh = std::make_unique<Checker>(2);
  ASSERT_TRUE(fresh->begin(chain_.encode(), evidence_appraiser()).ok());
  start_node(2, std::move(fresh));
  ASSERT_TRUE(run_until([&] { return nodes_[2]->replica().can_sign(); }));

  auto member = create_credentials(temp_path("member"), "member").value();
  auto stranger = create_credentials(temp_path("stranger"), "stranger").value();
  Genesis g;
  g.chain_id = "api-test";
  for (const auto& v : genesis_.validators()) g.validators.push_back({v.id, v.weight, {"127.0.0.1", 1}, {"127.0.0.1", 2}, v.identity_key, v.vote_key, 0, {}});
  auto user = create_credentials(temp_path("user"), "user").value();
  g.clients.push_back({"member", "member", member.cert.spki_sha256()});
  g.clients.push_back({"user", "user", user.cert.spki_sha256()});
  ApiHarness api(io_, *nodes_[1], g, *platforms_[1], {identities_[1].public_key, chain_.hash()});
  ApiServer& server = api.server;
  auto& certificates = api.certificates;
  ASSERT_TRUE(api.started);

  ApiClient client("127.0.0.1", server.port(), member, policy_);
  // Health and the API description need no certificate; everything else does.
  ApiClient anonymous("127.0.0.1", server.port(), std::nullopt, policy_);
  EXPECT_EQ(anonymous.get("/v1/health")->status, 200);
  // The description is JSON (tests/openapi.sh validates it with a real OpenAPI validator) and
  // describes every route the router serves, with its method; the router knows no other.
  json doc = json::parse(anonymous.get("/v1/openapi.json")->body);
  EXPECT_EQ(doc["openapi"], "3.1.0");
  json paths = doc["paths"];
  size_t operations = 0;
  for (const auto& r : api_routes()) {
    std::string method = r.method;
    std::transform(method.begin(), method.end(), method.begin(), ::tolower);
    EXPECT_TRUE(paths.contains(r.path) && paths[r.path].contains(method)) << r.method << " " << r.path;
  }
  for (const auto& [path, ops] : paths.items()) operations += ops.size();
  EXPECT_EQ(operations, api_routes().size()) << "the document describes a route the router does not serve";
  EXPECT_TRUE(route_matches("/v1/kv/{table}/{key}", "/v1/kv/t/a/b"));
  EXPECT_FALSE(route_matches("/v1/tx/{id}", "/v1/tx/"));
  EXPECT_FALSE(route_matches("/v1/fl/jobs/{id}", "/v1/fl/jobs/a/b"));
  auto unauth = anonymous.get("/v1/nodes").value();
  EXPECT_EQ(unauth.status, 401);
  // An unauthenticated upload is refused from its headers (its body is never kept).
  auto upload = anonymous.post("/v1/data/big", std::string(1 << 20, 'x'), "text/csv");
  ASSERT_TRUE(upload.ok()) << upload.error().to_string();
  EXPECT_EQ(upload->status, 401);
  EXPECT_EQ(json::parse(unauth.body)["error"], "unauthenticated");
  ApiClient unknown("127.0.0.1", server.port(), stranger, policy_);
  EXPECT_EQ(unknown.get("/v1/nodes")->status, 401);
  EXPECT_EQ(unknown.post("/v1/tx", R"({"table":"t","key":"k","value":"v"})")->status, 401);

  // A client that does not trust this node's platform refuses it before sending anything.
  tee::Policy other = policy_;
  other.trusted_virtual_platform_keys = {Bytes(32, 7)};
  ApiClient wary("127.0.0.1", server.port(), member, other);
  auto refused = wary.get("/v1/nodes");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, "api.attestation");

  // Issue 9: a client that names the node it wants proves it: the certificate binds that node's
  // identity key and the pinned chain, and each connection is attested afresh over its own TLS
  // session before any request goes out.
  NodeExpectation node1{1, identities_[1].public_key, chain_.hash()};
  ApiClient proving("127.0.0.1", server.port(), member, policy_, 10, node1);
  auto proven = proving.get("/v1/nodes");
  ASSERT_TRUE(proven.ok()) << proven.error().to_string();
  EXPECT_EQ(proven->status, 200);
  EXPECT_EQ(proving.attested_connections(), 1u);
  EXPECT_EQ(proving.get("/v1/health")->status, 200);
  EXPECT_EQ(proving.attested_connections(), 1u);  // the same connection: attested once
  {
    // A host forwards "node 2's" address to node 1: the client asked for node 2 and refuses.
    net::testing::TcpForwarder forwarder(server.port());
    ApiClient fooled("127.0.0.1", forwarder.port(), member, policy_, 10, NodeExpectation{2, identities_[2].public_key, chain_.hash()});
    auto r = fooled.get("/v1/nodes");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, "api.attestation");
    EXPECT_NE(r.error().message.find("is not node 2"), std::string::npos) << r.error().message;
    // Through the same forwarder, asking for node 1, all is well: the bytes are the node's own.
    ApiClient via("127.0.0.1", forwarder.port(), member, policy_, 10, node1);
    EXPECT_EQ(via.get("/v1/nodes")->status, 200);
  }
  ApiClient other_chain("127.0.0.1", server.port(), member, policy_, 10, NodeExpectation{1, identities_[1].public_key, Bytes(32, 9)});
  EXPECT_NE(other_chain.get("/v1/nodes").error().message.find("another chain"), std::string::npos);
  {
    // A node whose "fresh" evidence is recorded from another session (here: over other bytes)
    // is refused, and nothing but the attestation request went out.
    struct Replaying : tee::Platform {
      tee::Platform& real;
      explicit Replaying(tee::Platform& r) : real(r) {}
      tee::Kind kind() const override { return real.kind(); }
      Result<Bytes> measurement() override { return real.measurement(); }
      Result<Bytes> evidence(ByteView) override { return real.evidence(Bytes(64, 1)); }
      Result<crypto::SecureBytes> sealing_key() override { return real.sealing_key(); }
    } replaying(*platforms_[1]);
    ApiHandler stale_handler(*nodes_[1], g);
    stale_handler.set_attestation(&replaying, certificates);
    ApiServer stale(io_, stale_handler, certificates);
    ASSERT_TRUE(stale.start("127.0.0.1", 0).ok());
    ApiClient wary_of_replay("127.0.0.1", stale.port(), member, policy_, 10, node1);
    auto r = wary_of_replay.post("/v1/tx", R"({"table":"t","key":"never-sent","value":"v"})");
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("gave no fresh evidence"), std::string::npos) << r.error().message;
    stale.stop();
    EXPECT_FALSE(nodes_[1]->store().get("t", "never-sent").value().has_value());
  }

  // A write, its pending then committed status, its receipt verified from the genesis alone.
  std::string body = R"({"table":"accounts","key":"alice","value":"100","nonce":42})";
  auto posted = client.post("/v1/tx", body).value();
  ASSERT_EQ(posted.status, 202) << posted.body;
  std::string id = json::parse(posted.body)["id"];
  json tx;
  for (int i = 0; i < 200; i++) {
    tx = json::parse(client.get("/v1/tx/" + id)->body);
    if (tx["status"] == "committed") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(tx["status"], "committed") << tx.dump();
  EXPECT_EQ(tx["tx"]["client"], "member");
  EXPECT_GE(tx["epoch"].get<uint64_t>(), 1u);
  auto proof = ledger::ReceiptProof::decode(from_hex(tx["receipt"].get<std::string>()).value()).value();
  EXPECT_EQ(proof.epoch_changes.size(), tx["epoch"].get<size_t>());
  EXPECT_TRUE(ledger::verify_receipt_proof(proof, consensus::Protocol::kTeeBft, consensus::Membership(chain_, evidence_appraiser())).ok());
  ledger::ReceiptProof cut = proof;
  cut.epoch_changes.clear();
  EXPECT_EQ(ledger::verify_receipt_proof(cut, consensus::Protocol::kTeeBft, consensus::Membership(chain_, evidence_appraiser())).error().code, "receipt.epoch");
  // Resending the same write is idempotent: the same id, already committed.
  auto again = client.post("/v1/tx", body).value();
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(json::parse(again.body)["id"], id);
  // Waiting for the commit without polling (?wait_ms), one write or a batch of them.
  auto waited = client.post("/v1/tx?wait_ms=10000", R"({"table":"accounts","key":"carol","value":"7"})").value();
  ASSERT_EQ(waited.status, 200) << waited.body;
  EXPECT_EQ(json::parse(waited.body)["status"], "committed");
  EXPECT_GE(json::parse(waited.body)["height"].get<uint64_t>(), 1u);
  json batch = {{"writes", json::array({{{"table", "b"}, {"key", "1"}, {"value", "x"}},
                                        {{"table", "b c"}, {"key", "2"}, {"value", "y"}},
                                        {{"table", "b"}, {"key", "3"}, {"value_hex", "00ff"}}})}};
  auto batched = client.post("/v1/tx/batch?wait_ms=10000", batch.dump()).value();
  ASSERT_EQ(batched.status, 200) << batched.body;
  json results = json::parse(batched.body);
  EXPECT_EQ(results["accepted"], 2);
  EXPECT_EQ(results["committed"], 2);
  EXPECT_EQ(results["results"][0]["status"], "committed");
  EXPECT_EQ(results["results"][1]["status"], "refused");
  EXPECT_EQ(results["results"][1]["error"], "bad_table");
  EXPECT_EQ(results["results"][2]["status"], "committed");
  EXPECT_EQ(client.get("/v1/kv/b/3")->status, 200);
  // Without a wait: accepted and pending (or already committed), one status per write.
  auto quick = json::parse(client.post("/v1/tx/batch", json{{"writes", json::array({{{"table", "b"}, {"key", "4"}, {"value", "z"}}})}}.dump())->body);
  EXPECT_NE(quick["results"][0]["status"], "refused");
  std::string quick_id = quick["results"][0]["id"];
  auto looked = json::parse(client.get("/v1/tx/" + quick_id + "?wait_ms=10000")->body);
  EXPECT_EQ(looked["status"], "committed");
  EXPECT_TRUE(looked.contains("receipt"));
  EXPECT_EQ(json::parse(client.post("/v1/tx/batch", R"({"writes":[]})")->body)["error"], "bad_batch");
  json too_many = {{"writes", json::array()}};
  for (size_t i = 0; i <= kTxBatchMax; i++) too_many["writes"].push_back({{"table", "b"}, {"key", std::to_string(i)}, {"value", "v"}});
  EXPECT_EQ(json::parse(client.post("/v1/tx/batch", too_many.dump())->body)["error"], "bad_batch");
  EXPECT_EQ(client.get("/v1/tx/batch")->status, 405);
  EXPECT_EQ(json::parse(client.post("/v1/tx?wait_ms=soon", body)->body)["error"], "bad_wait");
  EXPECT_EQ(unknown.post("/v1/tx/batch", batch.dump())->status, 401);
  auto kv = json::parse(client.get("/v1/kv/accounts/alice")->body);
  EXPECT_EQ(kv["value"], "100");
  EXPECT_EQ(client.get("/v1/kv/accounts/bob")->status, 404);

  auto nodes = json::parse(client.get("/v1/nodes")->body);
  ASSERT_EQ(nodes["nodes"].size(), 3u);
  EXPECT_TRUE(nodes["nodes"][1]["attested"].get<bool>());
  auto metrics = client.get("/metrics").value();
  EXPECT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("supernet_height "), std::string::npos);
  EXPECT_NE(metrics.body.find("supernet_api_responses_total{code=\"401\"}"), std::string::npos);

  // Malformed requests: each a clear 4xx with a JSON error.
  auto code = [&](const Result<HttpReply>& r) { return r.ok() ? json::parse(r->body).value("error", "") : "no reply"; };
  EXPECT_EQ(code(client.post("/v1/tx", "{not json")), "bad_json");
  EXPECT_EQ(code(client.post("/v1/tx", R"({"table":"a b","key":"k","value":"v"})")), "bad_table");
  EXPECT_EQ(code(client.post("/v1/tx", R"({"table":"t","key":"","value":"v"})")), "bad_key");
  EXPECT_EQ(code(client.post("/v1/tx", R"({"table":"t","key":"k","value":"v","value_hex":"00"})")), "bad_value");
  EXPECT_EQ(code(client.post("/v1/tx", R"({"table":"t","key":"k","value_hex":"0g"})")), "bad_value");
  EXPECT_EQ(code(client.post("/v1/tx", R"({"table":"t","key":"k","value":"v","nonce":-1})")), "bad_nonce");
  EXPECT_EQ(code(client.get("/v1/tx/xyz")), "bad_id");
  EXPECT_EQ(client.get("/v1/tx/" + std::string(64, '0'))->status, 404);
  EXPECT_EQ(client.get("/v1/nothing")->status, 404);
  EXPECT_EQ(client.get("/v1/tx")->status, 405);
  // Governance: members only, and only their own signed transactions.
  ApiClient as_user("127.0.0.1", server.port(), user, policy_);
  EXPECT_EQ(as_user.post("/v1/governance", R"({"tx":"00"})")->status, 403);
  EXPECT_EQ(code(client.post("/v1/governance", R"({"tx":"zz"})")), "bad_tx");
  consensus::GovernanceTx gt;
  gt.change.kind = consensus::ChangeKind::kSetWeight;
  gt.change.node = 2;
  gt.change.weight = 3;
  Bytes signed_by_user = consensus::make_governance_tx(gt, user.key);
  EXPECT_EQ(client.post("/v1/governance", json{{"tx", to_hex(signed_by_user)}}.dump())->status, 403);
  EXPECT_EQ(json::parse(client.get("/v1/governance")->body)["approvals_needed"], 0);  // this genesis sets no governance rule
  // Evidence recorded on the ledger shows up in /v1/nodes under the accused node.
  Bytes evidence = consensus::make_evidence_tx(1, 3, "test report", {}, 1, identities_[1].secret_key);
  asio::post(io_, [&] { nodes_[1]->submit(evidence); });
  json listed;
  for (int i = 0; i < 200; i++) {
    listed = json::parse(client.get("/v1/nodes")->body);
    if (!listed["nodes"][2]["evidence"].empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(listed["nodes"][2]["evidence"].size(), 1u) << listed.dump();
  EXPECT_EQ(listed["nodes"][2]["evidence"][0]["reason"], "test report");
  EXPECT_EQ(listed["nodes"][2]["evidence"][0]["reporter"], 1);
  // An oversized body is refused from its length, before it is read.
  auto big = client.post("/v1/tx", std::string(kApiBodyBytesMax + 1, 'x'));
  ASSERT_TRUE(big.ok());
  EXPECT_EQ(big->status, 413);
  EXPECT_EQ(code(big), "too_large");
  // Only a data upload may be large: a policy under /v1/data/{name}/ has the ordinary limit.
  auto big_policy = client.post("/v1/data/x/policy", std::string(kApiBodyBytesMax + 1, 'x'));
  ASSERT_TRUE(big_policy.ok());
  EXPECT_EQ(big_policy->status, 413);
}

// Who wrote what: a signed write records its writer as checked by every node; an unsigned one
// the client the receiving node authenticated. A claimed table takes only its owner's signed
// writes, and the API says why it refuses the others before they reach the ledger.
TEST_F(NodeCluster, ApiRecordsWritersAndKeepsOwnedTablesToTheirOwner) {
  using nlohmann::json;
  auto member = create_credentials(temp_path("kv-member"), "member").value();
  auto user = create_credentials(temp_path("kv-user"), "user").value();
  Genesis g;
  g.chain_id = "api-kv-test";
  for (const auto& v : genesis_.validators()) g.validators.push_back({v.id, v.weight, {"127.0.0.1", 1}, {"127.0.0.1", 2}, v.identity_key, v.vote_key, 0, {}});
  g.clients.push_back({"member", "member", member.cert.spki_sha256()});
  g.clients.push_back({"user", "user", user.cert.spki_sha256()});
  // As if the chain's genesis listed these clients: every node's state machine knows their keys.
  std::vector<consensus::GenesisClientInfo> clients;
  for (const auto& c : g.clients) clients.push_back({c.name, c.role, c.spki_sha256});
  for (auto& [i, n] : nodes_) n->store().set_rules(ledger::KvRules::from_genesis(clients));
  Bytes forged = ledger::KvWrite{"prices", "gold", to_bytes(std::string("1")), "member", 8}.encode();
  {
  ApiHarness api(io_, *nodes_[1], g, *platforms_[1], {identities_[1].public_key, chain_.hash()});
  ApiServer& server = api.server;
  ASSERT_TRUE(api.started);
  ApiClient as_member("127.0.0.1", server.port(), member, policy_);
  ApiClient as_user("127.0.0.1", server.port(), user, policy_);
  auto signed_body = [](const Bytes& tx) { return json{{"tx", to_hex(tx)}}.dump(); };
  auto post = [](ApiClient& c, const std::string& body) {
    auto r = c.post("/v1/tx?wait_ms=10000", body);
    EXPECT_TRUE(r.ok());
    return r.ok() ? *r : HttpReply{};
  };
  auto kv = [&](const std::string& t, const std::string& k) { return json::parse(as_user.get("/v1/kv/" + t + "/" + k)->body); };
  auto code = [](const HttpReply& r) { return json::parse(r.body, nullptr, false).value("error", std::string()); };

  // Unsigned and signed writes: who wrote them, and whether every node checked it.
  ASSERT_EQ(post(as_user, R"({"table":"notes","key":"a","value":"1"})").status, 200);
  ASSERT_EQ(post(as_user, signed_body(ledger::make_signed_kv_write("notes", "b", to_bytes(std::string("2")), 1, user.key))).status, 200);
  EXPECT_EQ(kv("notes", "a")["writer"], "user");
  EXPECT_EQ(kv("notes", "a")["writer_signed"], false);
  EXPECT_EQ(kv("notes", "b")["writer"], "user");
  EXPECT_EQ(kv("notes", "b")["writer_signed"], true);
  EXPECT_FALSE(kv("notes", "b").contains("table_owner"));
  // A signed transaction must be the connection's own client's.
  auto foreign = post(as_member, signed_body(ledger::make_signed_kv_write("notes", "c", to_bytes(std::string("3")), 2, user.key)));
  EXPECT_EQ(foreign.status, 403);
  EXPECT_NE(foreign.body.find("another key"), std::string::npos) << foreign.body;
  EXPECT_EQ(code(post(as_member, R"({"tx":"00"})")), "bad_tx");
  EXPECT_EQ(code(post(as_member, R"({"tx":"zz"})")), "bad_request");
  EXPECT_EQ(code(post(as_member, R"({"table":"_owners","key":"prices","value":"member"})")), "kv.reserved");

  // The member claims "prices"; a table that holds entries cannot be claimed.
  auto claimed = post(as_member, signed_body(ledger::make_table_claim("prices", 3, member.key)));
  ASSERT_EQ(claimed.status, 200) << claimed.body;
  EXPECT_EQ(code(post(as_user, signed_body(ledger::make_table_claim("notes", 4, user.key)))), "kv.in_use");
  EXPECT_EQ(code(post(as_user, signed_body(ledger::make_table_claim("prices", 5, user.key)))), "kv.claimed");
  EXPECT_EQ(kv("_owners", "prices")["value"], "member");
  // Only the owner's signed writes go in: unsigned ones (even its own) and others' are refused.
  ASSERT_EQ(post(as_member, signed_body(ledger::make_signed_kv_write("prices", "gold", to_bytes(std::string("2400")), 6, member.key))).status, 200);
  EXPECT_EQ(code(post(as_member, R"({"table":"prices","key":"gold","value":"1"})")), "kv.owner_only");
  EXPECT_EQ(code(post(as_user, signed_body(ledger::make_signed_kv_write("prices", "gold", to_bytes(std::string("1")), 7, user.key)))),
            "kv.owner_only");
  json batch = {{"writes", json::array({{{"table", "prices"}, {"key", "gold"}, {"value", "1"}}, {{"table", "notes"}, {"key", "d"}, {"value", "4"}}})}};
  json results = json::parse(as_member.post("/v1/tx/batch?wait_ms=10000", batch.dump())->body);
  EXPECT_EQ(results["results"][0]["error"], "kv.owner_only");
  EXPECT_EQ(results["results"][1]["status"], "committed");
  json gold = kv("prices", "gold");
  EXPECT_EQ(gold["value"], "2400");
  EXPECT_EQ(gold["writer"], "member");
  EXPECT_EQ(gold["writer_signed"], true);
  EXPECT_EQ(gold["table_owner"], "member");

  // A write that a validator orders past the API (the receiving node's check) is committed but
  // never applied, on any node, and GET /v1/tx says why.
  asio::post(io_, [&] { nodes_[2]->submit(forged); });
  json status = json::parse(as_user.get("/v1/tx/" + to_hex(as_bytes(consensus::tx_id(forged))) + "?wait_ms=10000")->body);
  for (int i = 0; i < 100 && status.value("status", "") != "invalid"; i++) {  // 404 until node 1 hears of it
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    status = json::parse(as_user.get("/v1/tx/" + to_hex(as_bytes(consensus::tx_id(forged))) + "?wait_ms=2000")->body);
  }
  EXPECT_EQ(status["status"], "invalid") << status.dump();
  EXPECT_NE(status.value("reason", "").find("owner-write-only"), std::string::npos) << status.dump();
  EXPECT_EQ(kv("prices", "gold")["value"], "2400");
  }
  ASSERT_TRUE(run_until([&] { return all_committed({forged}); }));
  for (auto& [i, n] : nodes_) {
    auto e = n->store().get("prices", "gold").value();
    ASSERT_TRUE(e) << "node " << i;
    EXPECT_EQ(to_string(e->value), "2400") << "node " << i;
    EXPECT_EQ(n->store().table_owner("prices"), std::optional<std::string>("member")) << "node " << i;
  }
}

}  // namespace
}  // namespace supernet::node
