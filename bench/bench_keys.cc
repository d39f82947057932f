// bench_keys: the key management module's costs (docs/keys.md).
//  1. The validators' DKG on real nodes over 127.0.0.1 (bench/local_network.h: tee-bft, the
//     attested peer transport, SQLite ledgers, node::KeyService on each): from the nodes' start
//     to every node holding its share, for n = 3, 5, 7, 10; beside it, the same DKG's computation
//     alone (keys::Dkg in one process, messages handed over directly), measured in the same run.
//  2. A FROST signature by t = 2 of 3 (both rounds and the coordinator's checks, in one process)
//     against one Ed25519 signature, measured in the same run.
//  3. Key release to attested code, t = 2 of 3 on real nodes (as 1.): the requester (a TA of
//     node 1: its platform, the node program's measurement) asks validators 1 and 2 at once for
//     a nonce, makes evidence binding it, its ephemeral key and its package, and each validator
//     appraises the evidence against the network policy, checks the release policy on the
//     ledger, commits the release record and returns its sealed part; the requester opens both,
//     checks their proofs and combines them. Beside it, one evidence verification and appraisal
//     alone, measured in the same run.
#include <sodium.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "crypto/keys.h"
#include "keys/dkg.h"
#include "keys/frost.h"
#include "keys/hpke.h"
#include "keys/release.h"
#include "consensus/membership.h"
#include "tee/evidence.h"
#include "local_network.h"
#include "node/key_service.h"
#include "util/log.h"

using namespace supernet;
using Clock = std::chrono::steady_clock;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }
double us_since(Clock::time_point t) { return std::chrono::duration<double, std::micro>(Clock::now() - t).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// Stops the nodes before their key services go (the services' timers run on the nodes' threads).
struct Teardown {
  bench::LocalNetwork& net;
  std::map<int, std::unique_ptr<node::KeyService>>& services;
  ~Teardown() {
    net.stop();
    services.clear();
  }
};

// The DKG's computation alone: n nodes, every message handed to every node at once.
double dkg_compute_ms(uint16_t n) {
  keys::DkgConfig config{to_bytes("bench"), {}, static_cast<uint16_t>((n - 1) / 2 + 1), 0, 100, {}, 0, {}, {}};
  for (uint16_t i = 1; i <= n; i++) config.participants.push_back(i);
  auto t = Clock::now();
  std::vector<keys::Dkg> nodes;
  for (uint16_t i = 1; i <= n; i++) nodes.push_back(keys::Dkg::create(config, i).value());
  uint64_t height = 0;
  for (int step = 0; step < 10; step++) {
    std::vector<std::pair<uint16_t, keys::DkgMessage>> batch;
    for (uint16_t i = 1; i <= n; i++) {
      for (auto& m : nodes[i - 1].outbox()) batch.emplace_back(i, std::move(m));
    }
    height++;
    for (const auto& [from, m] : batch) {
      for (auto& d : nodes) (void)d.on_ledger(from, m, height);
    }
    bool done = true;
    for (auto& d : nodes) done &= d.done();
    if (done) break;
  }
  for (auto& d : nodes) {
    if (!d.outcome() || !d.outcome()->share) {
      std::fprintf(stderr, "bench_keys: the in-process DKG did not finish\n");
      std::exit(1);
    }
  }
  return ms_since(t);
}

// From the first node's start (its connections, attestation and the DKG's three ledger rounds)
// to every node's share, on real nodes.
double dkg_network_ms(int n, const std::string& dir) {
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (int i = 1; i <= n; i++) fs::create_directories(dir + "/keys-" + std::to_string(i));
  std::map<int, std::unique_ptr<node::KeyService>> services;
  Clock::time_point started;
  double took = -1;
  {
    bench::LocalNetwork net(consensus::Protocol::kTeeBft, n, dir, 2048, [&](int i, bench::NetworkNode& nn) {
      if (i == n) started = Clock::now();  // the first node made (they start from n down to 1)
      services[i] = std::make_unique<node::KeyService>(*nn.node, *nn.platform, dir + "/keys-" + std::to_string(i), nn.identity.secret_key);
    });
    auto deadline = Clock::now() + std::chrono::seconds(60);
    while (Clock::now() < deadline) {
      int ready = 0;
      for (auto& [i, s] : services) ready += s->status().value("share", false);
      if (ready == n) {
        took = ms_since(started);
        break;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
    Teardown teardown{net, services};
  }
  fs::remove_all(dir);
  return took;
}

// One validator's side of a release, as POST /v1/keys/release runs it: a nonce, the decision,
// the record committed, the sealed part. Returns the sealed part or an empty result on failure.
struct Validator {
  bench::LocalNetwork& net;
  int id;
  node::KeyService& keys;
  std::mutex mu;
  std::condition_variable cv;
  std::set<std::string> committed;

  Result<Bytes> nonce() {
    return net.on(id, [&](bench::NetworkNode&) { return keys.release_nonce("node:1"); });
  }
  Result<Bytes> release(const keys::ReleaseRequest& r) {
    auto granted = net.on(id, [&](bench::NetworkNode& nn) -> Result<node::KeyService::Release> {
      auto g = keys.release(r, "bench");
      if (g.ok() && !nn.node->submit(g->record_tx)) return make_error("release.log", "mempool full");
      return g;
    });
    if (!granted.ok()) return granted.error();
    std::string id_ = consensus::tx_id(granted->record_tx);
    std::unique_lock lock(mu);
    if (!cv.wait_for(lock, std::chrono::seconds(10), [&] { return committed.count(id_) > 0; })) {
      return make_error("release.log", "the record did not commit");
    }
    committed.erase(id_);
    return granted->sealed;
  }
};

// Key release on 3 real nodes: p50 of the whole release (ms), p50 of one evidence appraisal (ms).
std::pair<double, double> release_ms(const std::string& dir, int runs) {
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (int i = 1; i <= 3; i++) fs::create_directories(dir + "/keys-" + std::to_string(i));
  std::map<int, std::unique_ptr<node::KeyService>> services;
  std::map<int, std::unique_ptr<Validator>> validators;
  std::vector<double> release, appraise;
  {
    bench::LocalNetwork net(
        consensus::Protocol::kTeeBft, 3, dir, 2048,
        [&](int i, bench::NetworkNode& nn) {
          services[i] = std::make_unique<node::KeyService>(*nn.node, *nn.platform, dir + "/keys-" + std::to_string(i), nn.identity.secret_key);
        },
        true);
    Teardown teardown{net, services};
    for (int i : {1, 2}) {
      validators[i] = std::make_unique<Validator>(net, i, *services[i]);
      Validator* v = validators[i].get();
      net.on(i, [v](bench::NetworkNode& nn) {
        nn.node->on_commit([v](const consensus::CommittedBlock& cb) {
          std::lock_guard lock(v->mu);
          for (const auto& tx : cb.block.txs) {
            if (keys::ReleaseTx::is(tx)) v->committed.insert(consensus::tx_id(tx));
          }
          v->cv.notify_all();
        });
        return 0;
      });
    }
    auto deadline = Clock::now() + std::chrono::seconds(60);
    auto ready = [&] {
      int n = 0;
      for (auto& [i, s] : services) n += s->status().value("share", false);
      return n == 3;
    };
    while (!ready() && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (!ready()) {
      std::fprintf(stderr, "bench_keys: no group key within 60 s\n");
      std::exit(1);
    }
    // The release policy: TAs of the node program running this package.
    Bytes package = crypto::sha256(to_bytes("bench package"));
    std::string measurement = to_hex(net[1].platform->measurement().value());
    consensus::GovernanceTx g;
    g.change.kind = consensus::ChangeKind::kSetReleasePolicy;
    g.change.resource = "bench:model";
    g.change.measurements = {measurement};
    g.change.packages = {to_hex(package)};
    g.nonce = 1;
    Bytes gtx = consensus::make_governance_tx(g, net.member_key());
    net.on(1, [&](bench::NetworkNode& nn) { return nn.node->submit(gtx); });
    while (Clock::now() < deadline && !net.on(1, [](bench::NetworkNode& nn) {
      return nn.node->replica().membership().release_policies().count("bench:model") > 0;
    })) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    Bytes chain = net.on(1, [](bench::NetworkNode& nn) { return nn.node->replica().genesis_hash(); });
    json status = services[1]->status();
    std::map<uint16_t, keys::frost::Element> shares;
    for (const auto& [id, hex] : status["public_shares"].items()) {
      shares[static_cast<uint16_t>(std::stoi(id))] = keys::frost::parse_element(from_hex(hex.get<std::string>()).value()).value();
    }
    auto group = keys::frost::parse_element(from_hex(status["public_key"].get<std::string>()).value()).value();
    tee::Policy policy = net.on(1, [](bench::NetworkNode& nn) { return nn.node->policy(); });
    Bytes first_key;
    for (int r = 0; r < runs + 3; r++) {
      auto t = Clock::now();
      keys::HpkeKeyPair eph = keys::hpke_generate_key_pair();
      std::vector<std::future<Result<keys::DerivedPart>>> asks;
      for (int i : {1, 2}) {
        asks.push_back(std::async(std::launch::async, [&, i]() -> Result<keys::DerivedPart> {
          SN_ASSIGN(Bytes n, validators[i]->nonce());
          keys::ReleaseRequest req{"bench:model", eph.public_key, {}, n, package};
          SN_ASSIGN(req.evidence, net[1].platform->evidence(keys::release_report_data(chain, n, eph.public_key, package)));
          SN_ASSIGN(Bytes sealed, validators[i]->release(req));
          SN_ASSIGN(keys::DerivedPart part, keys::open_part(eph.secret, eph.public_key, chain, "bench:model", sealed));
          return part;
        }));
      }
      std::vector<keys::DerivedPart> parts;
      for (auto& a : asks) {
        auto p = a.get();
        if (!p.ok()) {
          std::fprintf(stderr, "bench_keys: a release failed: %s\n", p.error().to_string().c_str());
          std::exit(1);
        }
        parts.push_back(*p);
      }
      auto key = keys::combine_parts(parts, 2, shares, group, "bench:model");
      double took = ms_since(t);
      if (!key.ok()) {
        std::fprintf(stderr, "bench_keys: the parts do not combine: %s\n", key.error().to_string().c_str());
        std::exit(1);
      }
      if (first_key.empty()) first_key = to_bytes(key->view());
      if (to_bytes(key->view()) != first_key) {
        std::fprintf(stderr, "bench_keys: two releases gave two keys\n");
        std::exit(1);
      }
      if (r >= 3) release.push_back(took);  // the first ones warm the connections' paths
      // One evidence verification and appraisal alone, as each validator does it.
      Bytes rd = keys::release_report_data(chain, Bytes(32, 1), eph.public_key, package);
      Bytes ev = net[1].platform->evidence(rd).value();
      t = Clock::now();
      auto claims = tee::verify_evidence(ev, {}, now_unix());
      bool pass = claims.ok() && tee::appraise(policy, *claims, now_unix(), rd).pass();
      appraise.push_back(ms_since(t));
      if (!pass) {
        std::fprintf(stderr, "bench_keys: the requester's evidence does not pass\n");
        std::exit(1);
      }
    }
  }
  validators.clear();
  fs::remove_all(dir);
  return {median(release), median(appraise)};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"The key management module's costs: the validators' DKG on real nodes over 127.0.0.1 against its computation alone, "
               "and a FROST 2-of-3 signature against one Ed25519 signature",
               "bench_keys"};
  int runs = 3;
  app.add_option("--runs", runs, "networks started per size (the median is reported)")->check(CLI::Range(1, 50))->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  set_log_level(LogLevel::kError);
  std::string dir = (fs::temp_directory_path() / ("supernet-bench-keys-" + std::to_string(::getpid()))).string();

  std::printf("bench_keys: the validators' DKG (tee-bft, threshold f + 1), median of %d network starts per size\n", runs);
  std::printf("  %-4s %16s %20s %8s\n", "n", "on real nodes", "computation alone", "ratio");
  double first = 0;
  for (int n : {3, 5, 7, 10}) {
    std::vector<double> net, compute;
    for (int r = 0; r < runs; r++) {
      double ms = dkg_network_ms(n, dir);
      if (ms < 0) {
        std::fprintf(stderr, "bench_keys: the DKG of %d nodes did not finish within 60 s\n", n);
        return 1;
      }
      net.push_back(ms);
      compute.push_back(dkg_compute_ms(static_cast<uint16_t>(n)));
    }
    std::printf("  %-4d %13.1f ms %17.2f ms %7.1fx\n", n, median(net), median(compute), median(net) / median(compute));
    if (n == 3) first = median(net);
  }

  // FROST 2 of 3 against Ed25519.
  crypto::SecureBytes secret(32);
  {
    Bytes wide = crypto::random_bytes(64);
    crypto_core_ed25519_scalar_reduce(secret.data(), wide.data());
  }
  crypto::SecureBytes coefficient(32);
  {
    Bytes wide = crypto::random_bytes(64);
    crypto_core_ed25519_scalar_reduce(coefficient.data(), wide.data());
  }
  auto shares = keys::frost::split(secret, {coefficient}, 3).value();
  auto single = crypto::ed25519_generate();
  Bytes message = to_bytes("checkpoint 1000: a block hash and a state root");
  std::vector<double> frost_us, ed_us;
  for (int i = 0; i < 400; i++) {
    auto t = Clock::now();
    std::vector<keys::frost::Commitment> commitments;
    std::vector<keys::frost::Nonces> nonces;
    for (int k : {0, 2}) {
      auto c = keys::frost::commit(shares[static_cast<size_t>(k)]).value();
      nonces.push_back(std::move(c.first));
      commitments.push_back(c.second);
    }
    std::vector<Bytes> sig_shares;
    for (size_t k = 0; k < 2; k++) sig_shares.push_back(keys::frost::sign(shares[k == 0 ? 0 : 2], nonces[k], commitments, message).value());
    auto sig = keys::frost::aggregate(commitments, message, shares[0].group_public_key, sig_shares, {shares[0].public_share, shares[2].public_share});
    frost_us.push_back(us_since(t));
    t = Clock::now();
    Bytes one = crypto::ed25519_sign(single.secret_key, message);
    ed_us.push_back(us_since(t));
    Bytes pk(shares[0].group_public_key.begin(), shares[0].group_public_key.end());
    if (!sig.ok() || !crypto::ed25519_verify(pk, message, *sig) || one.size() != 64) {
      std::fprintf(stderr, "bench_keys: a threshold signature failed\n");
      return 1;
    }
  }
  double f = median(frost_us), e = median(ed_us);
  std::printf("FROST 2 of 3 (commitments, shares, share checks, aggregation; one process): p50 %.1f us; one Ed25519 signature: p50 %.1f us; ratio %.1fx\n",
              f, e, f / e);
  auto [rel, one] = release_ms(dir, 60);
  std::printf("key release to attested code, 2 of 3 real nodes (nonces, evidence, appraisal, policy, ledger record, HPKE, proofs, "
              "combination): p50 %.2f ms (goal: at most 10 ms); one evidence verification and appraisal: p50 %.3f ms; ratio %.1fx\n",
              rel, one, rel / one);
  std::printf("bench_keys: DKG of 3 real nodes %.0f ms from start; FROST 2 of 3 %.1fx one Ed25519 signature; key release p50 %.2f ms, %.1fx one appraisal\n",
              first, f / e, rel, rel / one);
  return 0;
}
