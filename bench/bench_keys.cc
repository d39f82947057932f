// bench_keys: the key management module's costs (docs/keys.md).
//  1. The validators' DKG on real nodes over 127.0.0.1 (bench/local_network.h: tee-bft, the
//     attested peer transport, SQLite ledgers, node::KeyService on each): from the nodes' start
//     to every node holding its share, for n = 3, 5, 7, 10; beside it, the same DKG's computation
//     alone (keys::Dkg in one process, messages handed over directly), measured in the same run.
//  2. A FROST signature by t = 2 of 3 (both rounds and the coordinator's checks, in one process)
//     against one Ed25519 signature, measured in the same run.
// Key release is not built yet (docs/keys.md): nothing to measure.
#include <sodium.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "crypto/keys.h"
#include "keys/dkg.h"
#include "keys/frost.h"
#include "local_network.h"
#include "node/key_service.h"
#include "util/log.h"

using namespace supernet;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

namespace {

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }
double us_since(Clock::time_point t) { return std::chrono::duration<double, std::micro>(Clock::now() - t).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// The DKG's computation alone: n nodes, every message handed to every node at once.
double dkg_compute_ms(uint16_t n) {
  keys::DkgConfig config{to_bytes("bench"), {}, static_cast<uint16_t>((n - 1) / 2 + 1), 0, 100};
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
    struct Teardown {
      bench::LocalNetwork& net;
      std::map<int, std::unique_ptr<node::KeyService>>& services;
      ~Teardown() {
        net.stop();
        services.clear();
      }
    } teardown{net, services};
  }
  fs::remove_all(dir);
  return took;
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
  std::printf("key release: not built yet (docs/keys.md)\n");
  std::printf("bench_keys: DKG of 3 real nodes %.0f ms from start; FROST 2 of 3 %.1fx one Ed25519 signature; key release not built\n", first, f / e);
  return 0;
}
