// supernet tx submit / get / load, kv get, receipt verify: clients of a network's REST API.
// They read the network folder `supernet up` wrote: genesis.toml (addresses, the network's
// identity), network-policy.toml (to appraise each node's RA-TLS certificate) and the client
// credentials in client/.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli/client.h"
#include "cli/commands.h"
#include "crypto/secure.h"
#include "ledger/receipt.h"
#include "ledger/tx.h"
#include "node/api.h"
#include "node/api_client.h"
#include "node/config.h"
#include "tee/policy.h"
#include "util/file.h"

namespace supernet::cli {

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;


Status write_receipt(const json& status, const std::string& path) {
  SN_ASSIGN(Bytes proof, from_hex(status["receipt"].get<std::string>()));
  SN_ASSIGN(auto decoded, ledger::ReceiptProof::decode(proof));
  (void)decoded;
  return write_file_atomic(path, proof, 0644);
}

struct SubmitArgs {
  NetFlags net;
  std::string table, key, value, value_hex, receipt;
  std::optional<uint64_t> nonce;
  bool no_wait = false, unsigned_write = false;
  int timeout_s = 30;
};

int run_submit(const SubmitArgs& a) {
  auto net = open_network(a.net);
  if (!net.ok()) return fail(net.error());
  if (a.value.empty() == a.value_hex.empty()) return fail(make_error("usage.value", "give exactly one of --value or --value-hex"));
  uint64_t nonce = a.nonce.value_or(crypto::random_u64());
  json body;
  // A private table's value is sealed by the node that receives it, so the write goes unsigned
  // (a signature would cover the plaintext); the node records this client as its writer.
  bool private_table = ledger::is_private_table(a.table);
  if (private_table && !a.unsigned_write) std::fprintf(stderr, "%s is a private table: the write goes unsigned and the node seals its value\n", a.table.c_str());
  if (a.unsigned_write || private_table) {
    body = {{"table", a.table}, {"key", a.key}, {"nonce", nonce}};
    if (!a.value_hex.empty()) body["value_hex"] = a.value_hex;
    else body["value"] = a.value;
  } else {
    // Signed with this client's key: every node checks who wrote it (GET /v1/kv: writer_signed).
    Bytes value;
    if (!a.value_hex.empty()) {
      auto v = from_hex(a.value_hex);
      if (!v.ok()) return fail(make_error("usage.value", "--value-hex must be an even-length hex string"));
      value = std::move(v).value();
    } else {
      value = to_bytes(as_bytes(a.value));
    }
    if (a.table.empty() || a.key.empty() || a.key.size() > ledger::kKeyBytesMax || value.size() > ledger::kValueBytesMax) {
      return fail(make_error("usage.value", "--table and --key (1 to 256 bytes) are required and the value is at most 48 KiB"));
    }
    body = {{"tx", to_hex(ledger::make_signed_kv_write(a.table, a.key, std::move(value), nonce, net->credentials.key))}};
  }
  std::string text = body.dump();
  Clients c(*net, a.net.node);
  node::HttpReply r;
  for (int attempt = 0;; attempt++) {
    auto sent = c.request(true, "/v1/tx", text);
    if (!sent.ok()) return fail(sent.error(), kExitCheckFailed);
    r = *sent;
    if (r.status != 503 || attempt >= 50) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (r.status != 200 && r.status != 202) {
    return fail(make_error("tx.refused", "node " + std::to_string(c.node_id()) + " refused the write: " + error_text(r)),
                r.status == 403 ? kExitCheckFailed : kExitBadInput);
  }
  std::string id = json::parse(r.body)["id"];
  std::printf("transaction %s accepted by node %u\n", id.c_str(), c.node_id());
  if (a.no_wait) return kExitOk;
  auto done = await_commit(c, id, text, a.timeout_s, isatty(2));
  if (!done.ok()) return fail(done.error(), kExitCheckFailed);
  if ((*done)["status"] != "committed") {
    return fail(make_error("tx.skipped", "the write was ordered but not applied: " + (*done).value("reason", std::string("?"))), kExitCheckFailed);
  }
  std::printf("committed at height %llu (validator set epoch %llu)\n", static_cast<unsigned long long>((*done)["height"].get<uint64_t>()),
              static_cast<unsigned long long>((*done)["epoch"].get<uint64_t>()));
  if (!a.receipt.empty()) {
    if (auto s = write_receipt(*done, a.receipt); !s.ok()) return fail(s.error());
    std::printf("receipt written to %s (check it offline: supernet receipt verify %s --genesis %s/genesis.toml)\n", a.receipt.c_str(),
                a.receipt.c_str(), a.net.dir.c_str());
  }
  return kExitOk;
}

struct GetArgs {
  NetFlags net;
  std::string id, receipt;
  int wait_checkpoint_s = 0;
};

int run_get(const GetArgs& a) {
  auto net = open_network(a.net);
  if (!net.ok()) return fail(net.error());
  Clients c(*net, a.net.node);
  auto deadline = Clock::now() + std::chrono::seconds(a.wait_checkpoint_s);
  json j;
  for (;;) {
    auto r = c.request(false, "/v1/tx/" + a.id);
    if (!r.ok()) return fail(r.error(), kExitCheckFailed);
    if (r->status != 200) return fail(make_error("tx.get", error_text(*r)), r->status == 404 ? kExitCheckFailed : kExitBadInput);
    j = json::parse(r->body, nullptr, false);
    if (!j.is_object()) return fail(make_error("tx.get", "the node's answer is not JSON"), kExitCheckFailed);
    // --wait-checkpoint: until the receipt carries a signed checkpoint (it then verifies with
    // the service key alone).
    bool covered = j.contains("checkpoint") && !j["checkpoint"].is_null();
    if (a.wait_checkpoint_s <= 0 || covered) break;
    if (Clock::now() >= deadline) {
      return fail(make_error("tx.checkpoint", "no signed checkpoint covers this transaction after " + std::to_string(a.wait_checkpoint_s) +
                                                  " s (is the network's group key ready? supernet keys status)"),
                  kExitCheckFailed);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  if (!a.receipt.empty() && j["status"] != "pending") {
    if (auto s = write_receipt(j, a.receipt); !s.ok()) return fail(s.error());
  }
  if (j.contains("receipt")) j["receipt"] = "(" + std::to_string(j["receipt"].get<std::string>().size() / 2) + " bytes" +
                                            (a.receipt.empty() ? ", --receipt FILE saves it)" : ", saved to " + a.receipt + ")");
  std::printf("%s\n", j.dump(2).c_str());
  return kExitOk;
}

struct KvArgs {
  NetFlags net;
  std::string table, key;
};

int run_kv_get(const KvArgs& a) {
  auto net = open_network(a.net);
  if (!net.ok()) return fail(net.error());
  Clients c(*net, a.net.node);
  std::string key;  // percent-encoded: keys may hold any byte
  for (unsigned char ch : a.key) {
    if (std::isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
      key += static_cast<char>(ch);
    } else {
      char esc[4];
      std::snprintf(esc, sizeof esc, "%%%02X", ch);
      key += esc;
    }
  }
  auto r = c.request(false, "/v1/kv/" + a.table + "/" + key);
  if (!r.ok()) return fail(r.error(), kExitCheckFailed);
  if (r->status != 200) return fail(make_error("kv.get", error_text(*r)), r->status == 404 ? kExitCheckFailed : kExitBadInput);
  std::printf("%s\n", json::parse(r->body).dump(2).c_str());
  return kExitOk;
}

struct ClaimArgs {
  NetFlags net;
  std::string table;
  int timeout_s = 30;
};

int run_kv_claim(const ClaimArgs& a) {
  auto net = open_network(a.net);
  if (!net.ok()) return fail(net.error());
  json body = {{"tx", to_hex(ledger::make_table_claim(a.table, crypto::random_u64(), net->credentials.key))}};
  std::string text = body.dump();
  Clients c(*net, a.net.node);
  auto r = c.request(true, "/v1/tx", text);
  if (!r.ok()) return fail(r.error(), kExitCheckFailed);
  if (r->status != 200 && r->status != 202) {
    return fail(make_error("kv.claim", "node " + std::to_string(c.node_id()) + " refused the claim: " + error_text(*r)),
                r->status == 403 ? kExitCheckFailed : kExitBadInput);
  }
  std::string id = json::parse(r->body)["id"];
  auto done = await_commit(c, id, text, a.timeout_s, isatty(2));
  if (!done.ok()) return fail(done.error(), kExitCheckFailed);
  if ((*done)["status"] != "committed") {
    return fail(make_error("kv.claim", "the claim was ordered but not applied: " + (*done).value("reason", std::string("?"))), kExitCheckFailed);
  }
  std::printf("table %s is owner-write-only, owned by %s (committed at height %llu): only writes signed by %s apply to it\n",
              a.table.c_str(), a.net.as.c_str(), static_cast<unsigned long long>((*done)["height"].get<uint64_t>()), a.net.as.c_str());
  return kExitOk;
}

struct ReceiptArgs {
  std::string file, genesis, service_key;
};

// With the network's service key alone: the signed checkpoint the receipt carries.
int run_receipt_verify_key(const ReceiptArgs& a, const ledger::ReceiptProof& proof) {
  auto key = from_hex(a.service_key);
  if (!key.ok() || key->size() != 32) {
    return fail(make_error("usage.service_key", "--service-key is the network's group public key, 64 hex digits (supernet keys status)"));
  }
  if (auto s = ledger::verify_receipt_checkpoint(proof, *key); !s.ok()) {
    std::printf("receipt NOT verified: %s\n", s.error().to_string().c_str());
    return kExitCheckFailed;
  }
  const auto& r = proof.receipt;
  const auto& cp = proof.checkpoint->checkpoint;
  std::printf("receipt verified: transaction %s\n", to_hex(ledger::tx_hash(r.tx)).c_str());
  std::printf("  committed in block %llu (index %u) of chain %s..., under the checkpoint of block %llu signed by the service key %s...\n",
              static_cast<unsigned long long>(r.header.height), r.index, to_hex(proof.genesis_hash).substr(0, 16).c_str(),
              static_cast<unsigned long long>(cp.height), a.service_key.substr(0, 16).c_str());
  if (auto w = ledger::KvWrite::decode(r.tx); w.ok()) {
    std::printf("  write %s/%s = %zu bytes, by client %s\n", w->table.c_str(), w->key.c_str(), w->value.size(), w->client.c_str());
  }
  return kExitOk;
}

int run_receipt_verify(const ReceiptArgs& a) {
  if (a.genesis.empty() == a.service_key.empty()) {
    return fail(make_error("usage.receipt", "give exactly one of --genesis FILE or --service-key KEY"));
  }
  std::optional<node::Genesis> genesis;
  if (!a.genesis.empty()) {
    auto g = node::load_genesis(a.genesis);
    if (!g.ok()) return fail(g.error());
    genesis = std::move(g).value();
  }
  auto bytes = read_file(a.file, 64 * 1024 * 1024);
  if (!bytes.ok()) return fail(bytes.error());
  auto proof = ledger::ReceiptProof::decode(*bytes);
  if (!proof.ok()) return fail(proof.error());
  if (!genesis) return run_receipt_verify_key(a, *proof);
  if (auto s = ledger::verify_receipt_proof(*proof, genesis->protocol, genesis->membership()); !s.ok()) {
    std::printf("receipt NOT verified: %s\n", s.error().to_string().c_str());
    return kExitCheckFailed;
  }
  const auto& r = proof->receipt;
  std::printf("receipt verified: transaction %s\n", to_hex(ledger::tx_hash(r.tx)).c_str());
  std::printf("  committed in block %llu (index %u) of chain %s (genesis %s) by a quorum of validator set epoch %llu\n",
              static_cast<unsigned long long>(r.header.height), r.index, genesis->chain_id.c_str(),
              to_hex(proof->genesis_hash).substr(0, 16).c_str(), static_cast<unsigned long long>(r.header.epoch));
  std::printf("  %zu membership change(s) replayed from the genesis\n", proof->epoch_changes.size());
  if (auto w = ledger::KvWrite::decode(r.tx); w.ok()) {
    std::printf("  write %s/%s = %zu bytes, by client %s\n", w->table.c_str(), w->key.c_str(), w->value.size(), w->client.c_str());
  }
  return kExitOk;
}

// --- load: many concurrent clients, for tests and demonstrations of fault tolerance ---

struct LoadArgs {
  NetFlags net;
  int count = 2000;
  int clients = 8;
  double rate = 0;  // transactions per second over all clients; 0 = as fast as they go
  std::string table = "load";
  std::string ids_out;
  int timeout_s = 120;
  size_t value_bytes = 0;  // 0: short values ("v<i>")
  int batch = 1;           // writes per request (POST /v1/tx/batch when more than 1)
};

int run_load(const LoadArgs& a) {
  if (a.count < 1 || a.clients < 1 || a.clients > 256 || a.rate < 0 || a.batch < 1 || a.batch > static_cast<int>(node::kTxBatchMax)) {
    return fail(make_error("usage.load", "--count must be >= 1, --clients 1 to 256, --rate >= 0, --batch 1 to " + std::to_string(node::kTxBatchMax)));
  }
  if (a.value_bytes > ledger::kValueBytesMax) {
    return fail(make_error("usage.load", "--value-bytes must be at most " + std::to_string(ledger::kValueBytesMax)));
  }
  auto net = open_network(a.net);
  if (!net.ok()) return fail(net.error());
  uint64_t base = crypto::random_u64() >> 20;
  std::vector<std::string> bodies(static_cast<size_t>(a.count)), ids(static_cast<size_t>(a.count));
  // Per write: when its first request went out, and how long until its commit was acknowledged.
  std::vector<Clock::time_point> sent_at(static_cast<size_t>(a.count));
  std::vector<double> latency_ms(static_cast<size_t>(a.count), -1);
  std::atomic<int> submitted{0}, acknowledged{0}, committed{0};
  std::atomic<uint64_t> failovers{0}, retries{0};
  std::atomic<bool> finished{false};
  std::mutex errors_mu;
  std::vector<std::string> errors;
  auto start = Clock::now();
  auto deadline = start + std::chrono::seconds(a.timeout_s);

  // Each client sends its writes in requests of --batch writes (POST /v1/tx, or POST
  // /v1/tx/batch), each answered when its writes commit (?wait_ms) over a kept-alive
  // connection; a write that is still pending after the wait is looked up until it commits.
  auto worker = [&](int w) {
    int first = static_cast<int>(net->apis[static_cast<size_t>(w) % net->apis.size()].first);
    Clients c(*net, a.net.node != 0 ? a.net.node : first);
    std::vector<int> mine, later;
    for (int i = w; i < a.count; i += a.clients) mine.push_back(i);
    auto note_error = [&](const std::string& e) {
      std::lock_guard<std::mutex> lock(errors_mu);
      errors.push_back(e);
    };
    // One write's answer: its id, and whether it is already committed.
    auto accepted = [&](int i, const json& j) {
      if (!j.is_object() || !j["id"].is_string()) return note_error("write " + std::to_string(i) + ": the node's answer is not a write's status");
      ids[i] = j["id"];
      acknowledged++;
      if (j.value("status", "") == "committed") {
        committed++;
        latency_ms[i] = std::chrono::duration<double, std::milli>(Clock::now() - sent_at[i]).count();
      } else {
        later.push_back(i);
      }
    };
    for (size_t at = 0; at < mine.size(); at += static_cast<size_t>(a.batch)) {
      std::vector<int> todo(mine.begin() + static_cast<long>(at), mine.begin() + static_cast<long>(std::min(mine.size(), at + static_cast<size_t>(a.batch))));
      if (a.rate > 0) std::this_thread::sleep_until(start + std::chrono::microseconds(static_cast<int64_t>(todo.front() * 1e6 / a.rate)));
      for (int i : todo) {
        char key[32];
        std::snprintf(key, sizeof key, "k%06d", i);
        std::string value = "v" + std::to_string(i);
        if (value.size() < a.value_bytes) value.resize(a.value_bytes, 'x');
        bodies[i] = json{{"table", a.table}, {"key", key}, {"value", value}, {"nonce", base + static_cast<uint64_t>(i)}}.dump();
        sent_at[i] = Clock::now();
        submitted++;
      }
      while (!todo.empty() && Clock::now() < deadline) {
        int64_t wait = std::clamp<int64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count(), 1, 5000);
        std::string query = "?wait_ms=" + std::to_string(wait);
        bool single = a.batch == 1;
        std::string body;
        if (single) {
          body = bodies[todo[0]];
        } else {
          body = "{\"writes\":[";
          for (size_t k = 0; k < todo.size(); k++) body += (k ? "," : "") + bodies[todo[k]];
          body += "]}";
        }
        auto r = c.request(true, single ? "/v1/tx" + query : "/v1/tx/batch" + query, body);
        if (!r.ok() || r->status == 503) {  // no answer, or a busy or failed node: the same writes again (idempotent)
          retries++;
          if (r.ok()) c.next();
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
          continue;
        }
        if (single) {
          if (r->status != 200 && r->status != 202) {
            note_error("write " + std::to_string(todo[0]) + ": " + error_text(*r));
          } else {
            accepted(todo[0], json::parse(r->body, nullptr, false));
          }
          break;
        }
        if (r->status != 200) {
          note_error("writes " + std::to_string(todo.front()) + "...: " + error_text(*r));
          break;
        }
        json results = json::parse(r->body, nullptr, false);
        if (results.is_discarded() || !results["results"].is_array() || results["results"].size() != todo.size()) {
          note_error("writes " + std::to_string(todo.front()) + "...: the node's answer has not one status per write");
          break;
        }
        std::vector<int> again;
        for (size_t k = 0; k < todo.size(); k++) {
          const json& res = results["results"][k];
          if (res.value("status", "") != "refused") {
            accepted(todo[k], res);
          } else if (res.value("error", "") == "busy" || res.value("error", "") == "unavailable") {
            again.push_back(todo[k]);
          } else {
            note_error("write " + std::to_string(todo[k]) + ": " + res.value("error", "") + ": " + res.value("message", ""));
          }
        }
        todo = std::move(again);
        if (!todo.empty()) {
          retries++;
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
      }
    }
    for (int i : later) {
      auto done = await_commit(c, ids[i], bodies[i], static_cast<int>(std::max<int64_t>(1, std::chrono::duration_cast<std::chrono::seconds>(deadline - Clock::now()).count())), false);
      if (done.ok() && (*done)["status"] == "committed") {
        committed++;
        latency_ms[i] = std::chrono::duration<double, std::milli>(Clock::now() - sent_at[i]).count();
      } else {
        note_error("write " + std::to_string(i) + ": " + (done.ok() ? std::string("invalid") : done.error().message));
      }
    }
    failovers += c.failovers();
  };
  std::vector<std::thread> threads;
  for (int w = 0; w < a.clients; w++) threads.emplace_back(worker, w);
  std::thread progress([&] {
    bool tty = isatty(2);
    while (!finished) {
      std::fprintf(stderr, "%ssubmitted %d/%d  acknowledged %d  committed %d  failovers %llu%s", tty ? "\r" : "", submitted.load(), a.count,
                   acknowledged.load(), committed.load(), static_cast<unsigned long long>(failovers.load()), tty ? "" : "\n");
      std::fflush(stderr);
      for (int i = 0; i < (tty ? 5 : 20) && !finished; i++) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (tty) std::fprintf(stderr, "\n");
  });
  for (auto& t : threads) t.join();
  finished = true;
  progress.join();
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  if (!a.ids_out.empty()) {
    std::string text;
    for (const auto& id : ids) {
      if (!id.empty()) text += id + "\n";
    }
    if (auto w = write_file_atomic(a.ids_out, as_bytes(text)); !w.ok()) return fail(w.error());
  }
  std::printf("%d writes from %d clients: %d acknowledged, %d committed, %llu retries, %llu failovers, %.1f s (%.0f tx/s)\n", a.count,
              a.clients, acknowledged.load(), committed.load(), static_cast<unsigned long long>(retries.load()),
              static_cast<unsigned long long>(failovers.load()), secs, committed.load() / secs);
  std::vector<double> lat;
  for (double l : latency_ms) {
    if (l >= 0) lat.push_back(l);
  }
  if (!lat.empty()) {
    std::sort(lat.begin(), lat.end());
    auto pct = [&](double q) { return lat[std::min(lat.size() - 1, static_cast<size_t>(q * static_cast<double>(lat.size())))]; };
    std::printf("latency from sending a write to its acknowledged commit: p50 %.1f ms, p99 %.1f ms (batches of %d)\n", pct(0.50), pct(0.99), a.batch);
  }
  for (size_t i = 0; i < errors.size() && i < 10; i++) std::printf("  %s\n", errors[i].c_str());
  return committed.load() == a.count ? kExitOk : kExitCheckFailed;
}

}  // namespace

void add_tx_commands(CLI::App& app, int* exit_code) {
  CLI::App* tx = app.add_subcommand("tx", "Submit and look up transactions through a node's REST API");
  tx->require_subcommand(1);

  auto s = std::make_shared<SubmitArgs>();
  CLI::App* submit = tx->add_subcommand("submit", "Write a value to the key-value state and wait until it is committed");
  s->net.add_to(submit);
  submit->add_option("--table", s->table, "table name (A-Z a-z 0-9 . _ -, at most 64)")->required();
  submit->add_option("--key", s->key, "key (1 to 256 bytes)")->required();
  submit->add_option("--value", s->value, "text value");
  submit->add_option("--value-hex", s->value_hex, "binary value, hex");
  submit->add_option("--nonce", s->nonce, "makes the write distinct; resubmitting with the same nonce is idempotent (default: random)");
  submit->add_flag("--no-wait", s->no_wait, "return once a node has accepted the write");
  submit->add_flag("--unsigned", s->unsigned_write,
                   "send the write unsigned: the writer recorded is the client the receiving node says it authenticated, and "
                   "owner-write-only tables refuse it (default: signed with this client's key, checked by every node)");
  submit->add_option("--receipt", s->receipt, "write the commit receipt proof to this file");
  submit->add_option("--timeout", s->timeout_s, "seconds to wait for the commit")->capture_default_str();
  submit->callback([s, exit_code] { *exit_code = run_submit(*s); });

  auto g = std::make_shared<GetArgs>();
  CLI::App* get = tx->add_subcommand("get", "Show a transaction's status (pending, committed with its receipt, invalid)");
  g->net.add_to(get);
  get->add_option("id", g->id, "transaction id (64 hex digits)")->required();
  get->add_option("--receipt", g->receipt, "write its receipt proof to this file");
  get->add_option("--wait-checkpoint", g->wait_checkpoint_s,
                  "wait up to this many seconds until a signed checkpoint covers the transaction, so that its receipt verifies "
                  "with the network's service key alone (receipt verify --service-key)");
  get->callback([g, exit_code] { *exit_code = run_get(*g); });

  auto l = std::make_shared<LoadArgs>();
  CLI::App* load = tx->add_subcommand(
      "load", "Submit many writes from concurrent clients, failing over between nodes, and wait until every one is committed");
  l->net.add_to(load);
  load->add_option("--count", l->count, "number of writes")->capture_default_str();
  load->add_option("--clients", l->clients, "concurrent clients")->capture_default_str();
  load->add_option("--rate", l->rate, "writes per second over all clients (0: as fast as possible)")->capture_default_str();
  load->add_option("--table", l->table, "table to write keys k000000... into")->capture_default_str();
  load->add_option("--ids-out", l->ids_out, "write the acknowledged transaction ids to this file");
  load->add_option("--timeout", l->timeout_s, "seconds for the whole run")->capture_default_str();
  load->add_option("--batch", l->batch, "writes per request (more than 1: POST /v1/tx/batch, at most 1000)")->capture_default_str();
  load->add_option("--value-bytes", l->value_bytes, "pad each value to this many bytes (at most 49152; 0: short values)")->capture_default_str();
  load->callback([l, exit_code] { *exit_code = run_load(*l); });

  auto k = std::make_shared<KvArgs>();
  CLI::App* kv = app.add_subcommand("kv", "Read the committed key-value state; claim a table");
  kv->require_subcommand(1);
  CLI::App* kv_get = kv->add_subcommand("get", "Show the committed value of TABLE KEY");
  k->net.add_to(kv_get);
  kv_get->add_option("table", k->table, "table")->required();
  kv_get->add_option("key", k->key, "key")->required();
  kv_get->callback([k, exit_code] { *exit_code = run_kv_get(*k); });
  auto cl = std::make_shared<ClaimArgs>();
  CLI::App* claim = kv->add_subcommand("claim",
                                       "Make TABLE owner-write-only, owned by this client: from then on every node applies to it only "
                                       "writes signed by this client (a table nobody has written to yet)");
  cl->net.add_to(claim);
  claim->add_option("table", cl->table, "table (A-Z a-z 0-9 . _ -, at most 64; not beginning with _)")->required();
  claim->add_option("--timeout", cl->timeout_s, "seconds to wait for the commit")->capture_default_str();
  claim->callback([cl, exit_code] { *exit_code = run_kv_claim(*cl); });

  auto r = std::make_shared<ReceiptArgs>();
  CLI::App* receipt = app.add_subcommand("receipt", "Check commit receipts offline");
  receipt->require_subcommand(1);
  CLI::App* verify = receipt->add_subcommand(
      "verify",
      "Verify a receipt proof offline: against the network's genesis (Merkle inclusion, commit certificate, validator set "
      "changes), or with the network's service key alone (Merkle inclusion, the headers up to a checkpoint the key signed)");
  verify->add_option("file", r->file, "receipt proof (from tx submit/get --receipt)")->required();
  verify->add_option("--genesis", r->genesis, "the network's genesis.toml (its public identity)");
  verify->add_option("--service-key", r->service_key,
                     "the network's group public key (hex, `public_key` of supernet keys status): needs a receipt with a checkpoint "
                     "(tx get ID --receipt F --wait-checkpoint S)");
  verify->callback([r, exit_code] { *exit_code = run_receipt_verify(*r); });
}

}  // namespace supernet::cli
