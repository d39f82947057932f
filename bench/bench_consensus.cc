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
#include "local_network.h"
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

// What the benchmark tracks per node; only touched on the node's thread.
struct Latencies {
  std::unordered_map<std::string, Clock::time_point> submitted;
  std::vector<double> ms;
};

class Cluster {
 public:
  Cluster(consensus::Protocol protocol, int n, const Options& o, const std::string& dir)
      : n_(n), latencies_(static_cast<size_t>(n) + 1), net_(protocol, n, dir, o.block_txs, [this](int i, bench::NetworkNode& nn) {
          Latencies* l = &latencies_[static_cast<size_t>(i)];
          nn.node->on_commit([l](const consensus::CommittedBlock& cb) {
            auto now = Clock::now();
            for (const auto& tx : cb.block.txs) {
              auto it = l->submitted.find(consensus::tx_id(tx));
              if (it == l->submitted.end()) continue;
              l->ms.push_back(std::chrono::duration<double, std::milli>(now - it->second).count());
              l->submitted.erase(it);
            }
          });
        }) {}

  bool wait_connected(int seconds) { return net_.wait_connected(seconds); }

  // A 100-byte transaction (a key-value write whose encoding is exactly 100 bytes).
  Bytes make_tx() {
    uint64_t k = next_tx_++;
    ledger::KvWrite w{"bench", "k" + std::to_string(k), {}, "bench", k};
    size_t base = w.encode().size();
    w.value.assign(base < 100 ? 100 - base : 0, 'x');
    return w.encode();
  }

  uint64_t committed() {
    return net_.on(1, [](bench::NetworkNode& b) { return b.node->committed_txs(); });
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
        node::Node* raw = net_[i].node.get();
        asio::post(net_[i].io, [raw, txs] {
          for (auto& tx : *txs) raw->submit(std::move(tx));
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
    for (int i = 1; i <= n_; i++) {
      Latencies* l = &latencies_[static_cast<size_t>(i)];
      net_.on(i, [l](bench::NetworkNode&) {
        l->ms.clear();
        l->submitted.clear();
        return 0;
      });
    }
    auto start = Clock::now();
    uint64_t total = static_cast<uint64_t>(rate * seconds);
    for (uint64_t k = 0; k < total; k++) {
      std::this_thread::sleep_until(start + std::chrono::microseconds(static_cast<int64_t>(static_cast<double>(k) * 1e6 / rate)));
      int i = 1 + static_cast<int>(k % static_cast<uint64_t>(n_));
      node::Node* raw = net_[i].node.get();
      Latencies* l = &latencies_[static_cast<size_t>(i)];
      asio::post(net_[i].io, [raw, l, tx = make_tx()]() mutable {
        std::string id = consensus::tx_id(tx);
        auto when = Clock::now();
        if (raw->submit(std::move(tx))) l->submitted[id] = when;
      });
    }
    drain(20);
    std::vector<double> all;
    for (int i = 1; i <= n_; i++) {
      Latencies* lp = &latencies_[static_cast<size_t>(i)];
      auto l = net_.on(i, [lp](bench::NetworkNode&) { return lp->ms; });
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
      for (int i = 1; i <= n_; i++) pending += net_.on(i, [](bench::NetworkNode& b) { return b.node->replica().mempool_size(); });
      if (pending == 0) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  int n_;
  std::vector<Latencies> latencies_;  // by node id
  bench::LocalNetwork net_;
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
