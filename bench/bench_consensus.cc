// bench_consensus: committed transactions per second and commit latency of real node clusters
// (the Node runtime: replica, RA-TLS transport on 127.0.0.1, SQLite ledgers with
// synchronous=FULL) for tee-bft with n = 3 and bft with n = 4, both f = 1, 100-byte
// transactions. Each node runs on its own thread and io_context, as in its own process.
//
// Two measurements per protocol, interleaved over rounds (this machine is shared and noisy;
// medians are reported):
//  - throughput: a closed loop keeps the mempools full; committed transactions per second;
//  - latency: an open loop at a fixed offered rate, the same for both protocols; the time from
//    submit at a node to that node's commit, p50 and p99.
// The report prints tee-bft's figures as ratios of bft's measured in the same run. With
// --netem (default: when root), the same runs repeat inside a private network namespace whose
// loopback adds 2.5 ms each way (5 ms round trip) with `tc qdisc ... netem`.
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <asio.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "crypto/hash.h"
#include "ledger/tx.h"
#include "node/node.h"
#include "tee/virtual_platform.h"
#include "util/file.h"
#include "util/log.h"

using namespace supernet;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

namespace {

struct Options {
  double seconds = 3;        // per throughput measurement
  double latency_rate = 2000;  // offered transactions per second in the latency measurement
  double latency_seconds = 3;
  int rounds = 3;
  std::string netem = "auto";  // auto, on, off
  size_t block_txs = 2048;
};

struct Figures {
  double tps = 0;
  double p50_ms = 0, p99_ms = 0;
};

// One node on its own thread.
struct BenchNode {
  asio::io_context io;
  std::unique_ptr<node::Node> node;
  std::thread thread;
  // Only touched on the node's thread.
  std::unordered_map<std::string, Clock::time_point> submitted;
  std::vector<double> latencies_ms;
};

class Cluster {
 public:
  Cluster(consensus::Protocol protocol, int n, const Options& o, const std::string& dir) : protocol_(protocol), n_(n) {
    tee::Policy policy;
    policy.production = false;
    policy.allowed_platforms = {tee::Kind::kVirtual};
    std::map<int, std::unique_ptr<tee::VirtualPlatform>> platforms;
    std::map<int, crypto::Ed25519KeyPair> identities, vote_keys;
    std::map<int, std::unique_ptr<consensus::Checker>> checkers;
    std::vector<consensus::Validator> vals;
    for (int i = 1; i <= n; i++) {
      platforms[i] = tee::VirtualPlatform::open(dir + "/platform-" + std::to_string(i)).value();
      policy.trusted_virtual_platform_keys.push_back(from_hex(platforms[i]->platform_key_id()).value());
      identities[i] = crypto::ed25519_generate();
      Bytes vote_key;
      if (protocol == consensus::Protocol::kTeeBft) {
        checkers[i] = std::make_unique<consensus::Checker>(static_cast<uint32_t>(i));
        vote_key = checkers[i]->public_key();
      } else {
        vote_keys[i] = crypto::ed25519_generate();
        vote_key = vote_keys[i].public_key;
      }
      vals.push_back({static_cast<uint32_t>(i), 1, vote_key, identities[i].public_key, 0});
    }
    policy.platforms[tee::Kind::kVirtual].measurements = {platforms[1]->measurement().value()};
    consensus::ValidatorSet set(vals, 0);
    Bytes genesis_hash = crypto::sha256(as_bytes("bench-genesis"));
    std::map<int, uint16_t> ports;
    for (int i = n; i >= 1; i--) {  // higher ids first: lower ones dial them
      auto bn = std::make_unique<BenchNode>();
      node::NodeOptions no;
      no.replica.self = static_cast<uint32_t>(i);
      no.replica.protocol = protocol;
      no.replica.genesis = set;
      no.replica.genesis_hash = genesis_hash;
      no.replica.identity_secret = identities[i].secret_key;
      no.replica.block_txs_max = o.block_txs;
      if (protocol == consensus::Protocol::kTeeBft) {
        (void)checkers[i]->begin(set, genesis_hash);
        no.signer = std::move(checkers[i]);
      } else {
        // As a real bft node: the last-sign state is stored durably before each signature.
        std::string state_path = dir + "/sign-state-" + std::to_string(i);
        auto persist = [state_path](const consensus::SignState& s) -> Status {
          Writer w;
          w.u64(s.height).u64(s.round).u8(s.phase);
          return write_file_atomic(state_path, w.data(), 0600);
        };
        no.signer = std::make_unique<consensus::PlainSigner>(static_cast<uint32_t>(i), vote_keys[i].secret_key, vote_keys[i].public_key,
                                                              std::make_shared<consensus::SignState>(), persist);
      }
      no.transport.self = static_cast<uint32_t>(i);
      for (auto& [id, port] : ports) no.transport.dial.push_back({static_cast<uint32_t>(id), "127.0.0.1", port});
      no.transport.ratls.identity = net::make_identity(*platforms[i], "bench-" + std::to_string(i)).value();
      no.transport.ratls.policy = policy;
      no.transport.ratls.platform = platforms[i].get();
      no.transport.identity_secret = identities[i].secret_key;
      for (int j = 1; j <= n; j++) no.transport.identity_keys[static_cast<uint32_t>(j)] = identities[j].public_key;
      no.store = ledger::open_sqlite_store(dir + "/ledger-" + std::to_string(i) + ".db").value();
      bn->node = std::make_unique<node::Node>(bn->io, std::move(no));
      BenchNode* raw = bn.get();
      bn->node->on_commit([raw](const consensus::CommittedBlock& cb) {
        auto now = Clock::now();
        for (const auto& tx : cb.block.txs) {
          auto it = raw->submitted.find(consensus::tx_id(tx));
          if (it == raw->submitted.end()) continue;
          raw->latencies_ms.push_back(std::chrono::duration<double, std::milli>(now - it->second).count());
          raw->submitted.erase(it);
        }
      });
      if (auto s = bn->node->start(); !s.ok()) {
        std::fprintf(stderr, "node %d: %s\n", i, s.error().to_string().c_str());
        std::exit(1);
      }
      ports[i] = bn->node->peer_port();
      platforms_.push_back(std::move(platforms[i]));
      nodes_[i] = std::move(bn);
    }
    for (auto& [i, bn] : nodes_) {
      BenchNode* raw = bn.get();
      raw->thread = std::thread([raw] {
        auto guard = asio::make_work_guard(raw->io);
        raw->io.run();
      });
    }
  }

  ~Cluster() {
    for (auto& [i, bn] : nodes_) {
      BenchNode* raw = bn.get();
      asio::post(raw->io, [raw] {
        raw->node->stop();
        raw->io.stop();
      });
    }
    for (auto& [i, bn] : nodes_) bn->thread.join();
  }

  // Runs f on node i's thread and waits for its result.
  template <typename F>
  auto on(int i, F f) {
    std::promise<decltype(f(*nodes_[i]))> p;
    auto fut = p.get_future();
    asio::post(nodes_[i]->io, [&] { p.set_value(f(*nodes_[i])); });
    return fut.get();
  }

  bool wait_connected(int seconds) {
    auto end = Clock::now() + std::chrono::seconds(seconds);
    while (Clock::now() < end) {
      bool all = true;
      for (int i = 1; i <= n_; i++) {
        all &= on(i, [&](BenchNode& b) {
          for (int j = 1; j <= n_; j++) {
            if (j != i && !b.node->connected(static_cast<uint32_t>(j))) return false;
          }
          return b.node->replica().can_sign();
        });
      }
      if (all) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  // A 100-byte transaction (a key-value write whose encoding is exactly 100 bytes).
  Bytes make_tx() {
    uint64_t k = next_tx_++;
    ledger::KvWrite w{"bench", "k" + std::to_string(k), {}, "bench", k};
    size_t base = w.encode().size();
    w.value.assign(base < 100 ? 100 - base : 0, 'x');
    return w.encode();
  }

  uint64_t committed() {
    return on(1, [](BenchNode& b) { return b.node->committed_txs(); });
  }

  // Closed loop: keeps `window` transactions outstanding, spread over the nodes.
  double throughput(double seconds) {
    const uint64_t window = 12000;
    uint64_t start_committed = committed();
    uint64_t sent = 0;
    auto start = Clock::now();
    auto end = start + std::chrono::duration<double>(seconds);
    while (Clock::now() < end) {
      uint64_t done = committed() - start_committed;
      uint64_t want = done + window;
      std::vector<std::vector<Bytes>> batch(static_cast<size_t>(n_));
      for (; sent < want; sent++) batch[sent % static_cast<uint64_t>(n_)].push_back(make_tx());
      for (int i = 1; i <= n_; i++) {
        auto txs = std::make_shared<std::vector<Bytes>>(std::move(batch[static_cast<size_t>(i - 1)]));
        if (txs->empty()) continue;
        BenchNode* raw = nodes_[i].get();
        asio::post(raw->io, [raw, txs] {
          for (auto& tx : *txs) raw->node->submit(std::move(tx));
        });
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    double secs = std::chrono::duration<double>(Clock::now() - start).count();
    uint64_t done = committed() - start_committed;
    drain(20);
    return static_cast<double>(done) / secs;
  }

  // Open loop at `rate` per second for `seconds`; commit latency at the submitting node.
  std::pair<double, double> latency(double rate, double seconds) {
    for (int i = 1; i <= n_; i++) on(i, [](BenchNode& b) { b.latencies_ms.clear(); b.submitted.clear(); return 0; });
    auto start = Clock::now();
    uint64_t total = static_cast<uint64_t>(rate * seconds);
    for (uint64_t k = 0; k < total; k++) {
      std::this_thread::sleep_until(start + std::chrono::microseconds(static_cast<int64_t>(static_cast<double>(k) * 1e6 / rate)));
      int i = 1 + static_cast<int>(k % static_cast<uint64_t>(n_));
      BenchNode* raw = nodes_[i].get();
      asio::post(raw->io, [raw, tx = make_tx()]() mutable {
        std::string id = consensus::tx_id(tx);
        auto when = Clock::now();
        if (raw->node->submit(std::move(tx))) raw->submitted[id] = when;
      });
    }
    drain(20);
    std::vector<double> all;
    for (int i = 1; i <= n_; i++) {
      auto l = on(i, [](BenchNode& b) { return b.latencies_ms; });
      all.insert(all.end(), l.begin(), l.end());
    }
    if (all.empty()) return {0, 0};
    std::sort(all.begin(), all.end());
    return {all[all.size() / 2], all[std::min(all.size() - 1, all.size() * 99 / 100)]};
  }

 private:
  // Waits until every mempool is empty.
  void drain(int seconds) {
    auto end = Clock::now() + std::chrono::seconds(seconds);
    while (Clock::now() < end) {
      size_t pending = 0;
      for (int i = 1; i <= n_; i++) pending += on(i, [](BenchNode& b) { return b.node->replica().mempool_size(); });
      if (pending == 0) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  consensus::Protocol protocol_;
  int n_;
  std::vector<std::unique_ptr<tee::VirtualPlatform>> platforms_;
  std::map<int, std::unique_ptr<BenchNode>> nodes_;
  uint64_t next_tx_ = 0;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

struct Report {
  Figures tee, bft;
};

Report measure(const Options& o, const std::string& label) {
  std::string dir = (fs::temp_directory_path() / ("supernet-bench-consensus-" + std::to_string(::getpid()))).string();
  std::vector<double> tps[2], p50[2], p99[2];
  for (int round = 0; round < o.rounds; round++) {
    for (int which = 0; which < 2; which++) {
      auto protocol = which == 0 ? consensus::Protocol::kTeeBft : consensus::Protocol::kBft;
      int n = which == 0 ? 3 : 4;
      fs::remove_all(dir);
      fs::create_directories(dir);
      {
        Cluster c(protocol, n, o, dir);
        if (!c.wait_connected(30)) {
          std::fprintf(stderr, "%s: nodes did not connect\n", consensus::protocol_name(protocol));
          std::exit(1);
        }
        auto [l50, l99] = c.latency(o.latency_rate, o.latency_seconds);
        double t = c.throughput(o.seconds);
        tps[which].push_back(t);
        p50[which].push_back(l50);
        p99[which].push_back(l99);
        std::fprintf(stderr, "  %s round %d/%d %-7s n=%d: %8.0f tx/s  p50 %6.2f ms  p99 %6.2f ms\n", label.c_str(), round + 1, o.rounds,
                     consensus::protocol_name(protocol), n, t, l50, l99);
      }
    }
  }
  fs::remove_all(dir);
  Report r;
  r.tee = {median(tps[0]), median(p50[0]), median(p99[0])};
  r.bft = {median(tps[1]), median(p50[1]), median(p99[1])};
  return r;
}

void print(const Options& o, const std::string& label, const Report& r) {
  std::printf("\n%s (medians of %d rounds; latency at %.0f tx/s offered; 100-byte transactions; f = 1)\n", label.c_str(), o.rounds,
              o.latency_rate);
  std::printf("  %-16s %14s %12s %12s\n", "protocol", "committed tx/s", "p50 latency", "p99 latency");
  std::printf("  %-16s %14.0f %9.2f ms %9.2f ms\n", "tee-bft (n = 3)", r.tee.tps, r.tee.p50_ms, r.tee.p99_ms);
  std::printf("  %-16s %14.0f %9.2f ms %9.2f ms\n", "bft (n = 4)", r.bft.tps, r.bft.p50_ms, r.bft.p99_ms);
  double p50_ratio = r.bft.p50_ms > 0 ? r.tee.p50_ms / r.bft.p50_ms : 0;
  std::printf("  tee-bft / bft:   throughput %.2fx, p50 latency %.2fx (%.0f%% lower; goal >= 40%%), p99 latency %.2fx\n",
              r.bft.tps > 0 ? r.tee.tps / r.bft.tps : 0, p50_ratio, (1 - p50_ratio) * 100, r.bft.p99_ms > 0 ? r.tee.p99_ms / r.bft.p99_ms : 0);
  std::printf("  tee-bft throughput: %.0f tx/s (goal >= 20000 on this machine)\n", r.tee.tps);
}

// Runs `measure` in a child inside a new network namespace with 2.5 ms netem on loopback.
bool run_netem(const Options& o) {
  std::fflush(stdout);
  pid_t pid = ::fork();
  if (pid < 0) return false;
  if (pid == 0) {
    if (::unshare(CLONE_NEWNET) != 0) {
      std::printf("\nwith 5 ms round trip: skipped (a network namespace needs root)\n");
      std::fflush(stdout);
      std::_Exit(0);
    }
    if (std::system("ip link set lo up && tc qdisc add dev lo root netem delay 2500us") != 0) {
      std::printf("\nwith 5 ms round trip: skipped (tc could not add a netem qdisc: iproute2 missing or no sch_netem kernel module)\n");
      std::fflush(stdout);
      std::_Exit(0);
    }
    print(o, "loopback with 5 ms added round trip (tc netem, network namespace)", measure(o, "netem"));
    std::fflush(stdout);
    std::_Exit(0);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"Consensus benchmark: tee-bft (n = 3) against bft (n = 4) on real nodes over loopback RA-TLS", "bench_consensus"};
  app.add_option("--seconds", o.seconds, "length of each throughput measurement")->capture_default_str();
  app.add_option("--latency-rate", o.latency_rate, "offered load for the latency measurement (tx/s)")->capture_default_str();
  app.add_option("--latency-seconds", o.latency_seconds, "length of each latency measurement")->capture_default_str();
  app.add_option("--rounds", o.rounds, "interleaved rounds (medians are reported)")->capture_default_str();
  app.add_option("--block-txs", o.block_txs, "most transactions per block")->capture_default_str();
  app.add_option("--netem", o.netem, "also measure with 5 ms added round trip: auto (when root), on, off")
      ->check(CLI::IsMember({"auto", "on", "off"}))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  set_log_level(LogLevel::kWarn);
  std::printf("bench_consensus: %u hardware threads\n", std::thread::hardware_concurrency());
  print(o, "loopback", measure(o, "loopback"));
  bool netem = o.netem == "on" || (o.netem == "auto" && ::geteuid() == 0);
  if (netem) {
    if (!run_netem(o)) return 1;
  } else {
    std::printf("\nwith 5 ms round trip: skipped (--netem %s%s)\n", o.netem.c_str(), o.netem == "auto" ? ", not root" : "");
  }
  return 0;
}
