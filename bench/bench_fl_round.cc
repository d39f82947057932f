// bench_fl_round: the demo's federated job on a real network, with the TEE protections and
// without them.
//
// Each job runs on three real nodes in one process (bench/local_network.h: tee-bft, the peer
// transport on 127.0.0.1, SQLite ledgers), each a party holding a third of the breast cancer
// data set in its DatasetStore, with the node's FlService training and aggregating exactly as
// `supernet node run` does; the demo's job, examples/breast-cancer-fedavg.toml (logistic
// regression, FedAvg, 2 local epochs, 20 rounds, every party in every round, each round recorded
// on the ledger).
//
// "Protected" is this executable: the product's code, with each party's local training in a
// trusted application worker (the node program re-executed and confined, as `supernet node run`
// does). "Unprotected" is
// bench_fl_round_unprotected, the same source linked with two of the product's files compiled a
// second time with SUPERNET_BENCH_UNPROTECTED (bench/CMakeLists.txt): the peer transport is
// plain TCP (no TLS, no attestation, an unsigned hello) and sealing stores plaintext. That
// switch is compile-time and exists only in that executable; the product has no unprotected
// mode (ctest build.no_unprotected_code checks its binaries).
//
// A third variant, "in-process training", is this executable with --train-in-process: the same
// protections, but each party trains in the node's own process, so that the cost of the TA
// workers is measured apart from the rest (the goal: at most 5%).
//
// The driver runs whole jobs in child processes, rotating the variants, and reports
// medians: a round (from one round record's commit to the next's: requests, local training,
// updates, aggregation, evaluation, the record's consensus), the first round (which also
// exchanges the standardization statistics and unseals each party's data set), and the job.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <sstream>
#include <thread>

#include "fl/dataset.h"
#include "fl/job.h"
#include "fl/wire.h"
#include "local_network.h"
#include "crypto/hash.h"
#include "node/datasets.h"
#include "node/fl_service.h"
#include "util/log.h"

using namespace supernet;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

namespace {

#if defined(SUPERNET_BENCH_UNPROTECTED)
constexpr bool kProtected = false;
#else
constexpr bool kProtected = true;
#endif


double ms_between(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double, std::milli>(b - a).count(); }

// User and system CPU time of this process (all threads) and of its live children (the TA
// workers, which run until the job ends), in milliseconds.
double cpu_ms() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  auto ms = [](const timeval& t) { return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_usec) / 1e3; };
  double total = ms(u.ru_utime) + ms(u.ru_stime);
  std::error_code ec;
  for (const auto& task : fs::directory_iterator("/proc/self/task", ec)) {
    std::ifstream children(task.path() / "children");
    int pid;
    while (children >> pid) {
      // The first field of schedstat: nanoseconds on a CPU (exact, unlike stat's clock ticks).
      std::ifstream sched("/proc/" + std::to_string(pid) + "/schedstat");
      double ns = 0;
      if (sched >> ns) total += ns / 1e6;
    }
  }
  return total;
}

struct JobResult {
  double register_ms = 0;  // registering the three data sets (parse, seal, write)
  double first_ms = 0;     // job committed -> round 1 committed
  double job_ms = 0;       // job committed -> last round committed
  std::vector<double> round_ms;  // round k-1 committed -> round k committed, k >= 2
  double cpu_ms = 0;             // CPU time of the whole process (every node) from round 1 to the last
  double accuracy = 0;
  std::string model_hash;
};

// One job on a fresh network, in this process.
Result<JobResult> run_job(const std::string& data_path, const std::string& job_path, bool train_in_process) {
  SN_ASSIGN(fl::Dataset all, fl::load_csv(data_path));
  SN_ASSIGN(Bytes job_text, read_file(job_path, 64 * 1024));
  SN_ASSIGN(fl::JobSpec spec, fl::parse_job(to_string(job_text), job_path));
  const int rounds = spec.config.rounds;
  auto parts = fl::partition_iid(all.rows, 3, 11);
  std::string dir = (fs::temp_directory_path() / ("supernet-bench-fl-" + std::to_string(::getpid()))).string();
  fs::remove_all(dir);
  fs::create_directories(dir);
  JobResult result;
  // Commit times seen by node 1 (every node commits the same blocks at nearly the same time).
  std::mutex mu;
  std::optional<Clock::time_point> job_at;
  std::vector<Clock::time_point> round_at;
  std::vector<double> cpu_at;
  std::vector<fl::RoundRecord> records;
  std::promise<void> done;
  std::atomic<bool> finished{false};
  std::map<int, std::unique_ptr<node::DatasetStore>> stores;
  std::map<int, std::unique_ptr<ta::Pool>> trainers;  // protected: training in TA workers, as the node program does
  std::map<int, std::unique_ptr<node::FlService>> services;
  Status registered = ok_status();
  std::map<int, Bytes> records_tx;  // each node's record of its data set, for the ledger
  size_t records_seen = 0;
  {
    bench::LocalNetwork net(consensus::Protocol::kTeeBft, 3, dir, 2048, [&](int i, bench::NetworkNode& nn) {
      stores[i] = std::make_unique<node::DatasetStore>(*nn.platform, dir + "/data-" + std::to_string(i));
      auto t = Clock::now();
      auto s = stores[i]->add({"member", "breast-cancer"}, fl::to_csv(all, parts[static_cast<size_t>(i - 1)]), {});
      result.register_ms += ms_between(t, Clock::now());
      if (!s.ok()) registered = s.error();
#ifdef SUPERNET_BENCH_UNPROTECTED
      ta::Pool* pool = nullptr;  // unprotected: training in the node's own process
#else
      ta::Pool* pool = nullptr;
      if (!train_in_process) {
        ta::WorkerOptions wo;
        wo.program = SUPERNET_NODE_PATH;
        trainers[i] = std::make_unique<ta::Pool>(wo, 1);
        if (auto w = trainers[i]->warm(); !w.ok()) registered = w.error();
        pool = trainers[i].get();
      }
#endif
      services[i] = std::make_unique<node::FlService>(*nn.node, stores[i].get(), nn.identity.secret_key, nullptr, pool);
      if (s.ok()) {
        std::string csv = fl::to_csv(all, parts[static_cast<size_t>(i - 1)]);
        auto st = fl::OwnerStatement::decode(fl::make_owner_statement(static_cast<uint32_t>(i), "breast-cancer", crypto::sha256(as_bytes(csv)), "",
                                                                      false, net.member_key()));
        records_tx[i] = services[i]->data_record_tx(*s, false, st.value());
      }
      if (i != 1) return;
      nn.node->on_commit([&](const consensus::CommittedBlock& cb) {
        auto now = Clock::now();
        std::lock_guard lock(mu);
        for (const auto& tx : cb.block.txs) {
          if (fl::is_job_tx(tx)) job_at = now;
          if (fl::is_data_record_tx(tx)) records_seen++;
          if (!fl::is_round_tx(tx)) continue;
          auto r = fl::RoundTx::decode(tx);
          if (!r.ok() || r->record.round != static_cast<int>(records.size()) + 1) continue;
          round_at.push_back(now);
          cpu_at.push_back(cpu_ms());
          records.push_back(r->record);
          if (static_cast<int>(records.size()) == rounds && !finished.exchange(true)) done.set_value();
        }
      });
    });
    // Services go before their nodes: stop the nodes' threads, then destroy the services.
    struct Teardown {
      bench::LocalNetwork& net;
      std::map<int, std::unique_ptr<node::FlService>>& services;
      ~Teardown() {
        net.stop();
        services.clear();
      }
    } teardown{net, services};
    if (!registered.ok()) return registered.error();
    if (!net.wait_connected(30)) return make_error("bench.connect", "the nodes did not connect within 30 s");
    // The data sets' records go on the ledger first (jobs name registered data sets only).
    for (auto& [i, rtx] : records_tx) {
      if (!net.on(i, [&](bench::NetworkNode& b) { return b.node->submit(rtx); })) return make_error("bench.submit", "a node refused its data record");
    }
    for (int waited = 0;; waited += 10) {
      {
        std::lock_guard lock(mu);
        if (records_seen >= records_tx.size()) break;
      }
      if (waited > 30000) return make_error("bench.register", "the data sets' records did not commit within 30 s");
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    // A fixed nonce: the same job id in every run, so the same node aggregates in both variants.
    Bytes tx = fl::make_job_tx(to_string(job_text), 1, net.member_key());
    bool accepted = net.on(1, [&](bench::NetworkNode& b) { return b.node->submit(tx); });
    if (!accepted) return make_error("bench.submit", "node 1 refused the job");
    if (done.get_future().wait_for(std::chrono::seconds(120)) != std::future_status::ready) {
      return make_error("bench.timeout", "the job did not finish within 120 s");
    }
  }
  stores.clear();
  fs::remove_all(dir);
  std::lock_guard lock(mu);
  if (!job_at) return make_error("bench.job", "the job's commit was not seen");
  result.first_ms = ms_between(*job_at, round_at.front());
  result.job_ms = ms_between(*job_at, round_at.back());
  for (size_t k = 1; k < round_at.size(); k++) result.round_ms.push_back(ms_between(round_at[k - 1], round_at[k]));
  result.cpu_ms = cpu_at.back() - cpu_at.front();
  result.accuracy = records.back().eval.accuracy;
  result.model_hash = to_hex(records.back().model_hash);
  return result;
}

std::string encode(const JobResult& r) {
  std::ostringstream o;
  o.precision(17);
  o << "result " << r.register_ms << " " << r.first_ms << " " << r.job_ms << " " << r.cpu_ms << " " << r.accuracy << " " << r.model_hash;
  for (double x : r.round_ms) o << " " << x;
  return o.str();
}

std::optional<JobResult> decode(const std::string& line) {
  std::istringstream in(line);
  std::string word;
  JobResult r;
  if (!(in >> word) || word != "result" || !(in >> r.register_ms >> r.first_ms >> r.job_ms >> r.cpu_ms >> r.accuracy >> r.model_hash)) return std::nullopt;
  double x;
  while (in >> x) r.round_ms.push_back(x);
  return r;
}

// Runs `exe --one-job ...` and returns what it prints.
std::optional<std::string> run_child(const std::string& exe, const std::vector<std::string>& args) {
  int fds[2];
  if (::pipe(fds) != 0) return std::nullopt;
  std::vector<char*> argv{const_cast<char*>(exe.c_str())};
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) return std::nullopt;
  if (pid == 0) {
    ::dup2(fds[1], 1);
    ::close(fds[0]);
    ::close(fds[1]);
    ::execv(exe.c_str(), argv.data());
    std::fprintf(stderr, "cannot run %s: %s\n", exe.c_str(), std::strerror(errno));
    std::_Exit(127);
  }
  ::close(fds[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {
    if (n > 0) out.append(buf, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return std::nullopt;
  return out;
}

double quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{kProtected ? "The demo's federated job on three real nodes, with the TEE protections (this executable) and without "
                            "them (bench_fl_round_unprotected, run by this one); prints the protections' overhead per round"
                          : "The unprotected half of bench_fl_round (plain TCP between nodes, no sealing): run bench_fl_round, "
                            "which runs this one",
               kProtected ? "bench_fl_round" : "bench_fl_round_unprotected"};
  int jobs = 20;
  bool one_job = false, train_in_process = false;
  std::string data_path = std::string(SUPERNET_SOURCE_DIR) + "/data/breast_cancer.csv";
  std::string job_path = std::string(SUPERNET_SOURCE_DIR) + "/examples/breast-cancer-fedavg.toml";
  std::string unprotected = (fs::read_symlink("/proc/self/exe").parent_path() / "bench_fl_round_unprotected").string();
  app.add_option("--jobs", jobs, "jobs per variant, alternating (medians are reported)")->check(CLI::Range(1, 1000))->capture_default_str();
  app.add_option("--job", job_path, "the job file (its data sets are the breast cancer CSV split over nodes 1-3)")->capture_default_str();
  app.add_option("--data", data_path, "the breast cancer CSV (make deps fetches it)")->capture_default_str();
  app.add_option("--unprotected", unprotected, "the unprotected executable")->capture_default_str();
  app.add_flag("--one-job", one_job, "run one job in this process and print its figures (what the driver runs)");
  app.add_flag("--train-in-process", train_in_process,
               "with --one-job: train in the nodes' own processes rather than in TA workers (the driver's third variant, to "
               "measure the workers' cost)");
  CLI11_PARSE(app, argc, argv);
  set_log_level(LogLevel::kError);

  if (one_job) {
    auto r = run_job(data_path, job_path, train_in_process);
    if (!r.ok()) {
      std::fprintf(stderr, "%s\n", r.error().to_string().c_str());
      return 1;
    }
    std::printf("%s\n", encode(*r).c_str());
    return 0;
  }
  if (!kProtected) {
    std::fprintf(stderr, "bench_fl_round_unprotected is run by bench_fl_round (with --one-job); run bench_fl_round\n");
    return 2;
  }
  std::error_code ec;
  auto text = read_file(job_path, 64 * 1024);
  auto spec = text.ok() ? fl::parse_job(to_string(*text), job_path) : Result<fl::JobSpec>(text.error());
  if (!spec.ok()) {
    std::fprintf(stderr, "%s\n", spec.error().to_string().c_str());
    return 1;
  }
  const int rounds = spec->config.rounds;
  if (rounds < 2) {
    std::fprintf(stderr, "%s: the job needs at least 2 rounds to time one\n", job_path.c_str());
    return 1;
  }
  if (!fs::exists(data_path, ec)) {
    std::fprintf(stderr, "%s: not found (scripts/fetch-datasets.sh fetches it; make deps runs it)\n", data_path.c_str());
    return 1;
  }
  std::string self = fs::read_symlink("/proc/self/exe").string();
  // 0 protected (training in TA workers), 1 unprotected, 2 protected with in-process training.
  const char* names[3] = {"protected", "unprotected", "in-process"};
  std::vector<JobResult> results[3];
  for (int j = 0; j < jobs; j++) {
    for (int k = 0; k < 3; k++) {
      int which = (j + k) % 3;  // rotate which goes first
      std::vector<std::string> args{"--one-job", "--data", data_path, "--job", job_path};
      if (which == 2) args.push_back("--train-in-process");
      auto out = run_child(which == 1 ? unprotected : self, args);
      auto r = out ? decode(*out) : std::nullopt;
      if (!r) {
        std::fprintf(stderr, "bench_fl_round: the %s job failed\n", names[which]);
        return 1;
      }
      std::fprintf(stderr, "  job %d/%d %-11s: %d rounds, median round %.2f ms, first round %.2f ms, accuracy %.4f\n", j + 1, jobs,
                   names[which], rounds, quantile(r->round_ms, 0.5), r->first_ms, r->accuracy);
      results[which].push_back(std::move(*r));
    }
  }
  struct Summary {
    std::vector<double> rounds, first, job, reg, cpu;
  } s[3];
  bool same_model = true;
  for (int w = 0; w < 3; w++) {
    for (const auto& r : results[w]) {
      s[w].rounds.insert(s[w].rounds.end(), r.round_ms.begin(), r.round_ms.end());
      s[w].first.push_back(r.first_ms);
      s[w].job.push_back(r.job_ms / rounds);
      s[w].reg.push_back(r.register_ms);
      s[w].cpu.push_back(r.cpu_ms / (rounds - 1));
      same_model &= r.model_hash == results[0].front().model_hash;
    }
  }
  auto row = [&](const char* what, const std::vector<double>& p, const std::vector<double>& u) {
    double mp = quantile(p, 0.5), mu = quantile(u, 0.5);
    std::printf("  %-44s %9.3f ms %9.3f ms   %+6.1f%%\n", what, mp, mu, mu > 0 ? 100 * (mp / mu - 1) : 0);
  };
  std::printf("bench_fl_round: the demo's job (%s: %d rounds, %s over nodes 1-3)\n", fs::path(job_path).filename().c_str(), rounds,
              fs::path(data_path).filename().c_str());
  std::printf("on three tee-bft nodes over 127.0.0.1; %d jobs per variant, rotating; medians\n", jobs);
  std::printf("  %-44s %12s %12s   %7s\n", "", "protected", "unprotected", "overhead");
  row("a round (record committed to record committed)", s[0].rounds, s[1].rounds);
  std::printf("  %-44s %9.3f ms %9.3f ms\n", "  (interquartile range of rounds)", quantile(s[0].rounds, 0.75) - quantile(s[0].rounds, 0.25),
              quantile(s[1].rounds, 0.75) - quantile(s[1].rounds, 0.25));
  row("the first round (with standardization, unsealing)", s[0].first, s[1].first);
  row("the whole job, per round", s[0].job, s[1].job);
  row("CPU time of a round, nodes and their workers", s[0].cpu, s[1].cpu);
  row("registering the 3 data sets (once)", s[0].reg, s[1].reg);
  std::printf("  the same final model in every job of every variant: %s (accuracy %.4f)\n", same_model ? "yes" : "NO",
              results[0].front().accuracy);
  std::printf("  %-44s %12s %12s   %7s\n", "", "TA workers", "in-process", "");
  row("a round, training in TA workers or not", s[0].rounds, s[2].rounds);
  row("CPU time of a round, nodes and workers", s[0].cpu, s[2].cpu);
  double ta_cost = 100 * (quantile(s[0].rounds, 0.5) / quantile(s[2].rounds, 0.5) - 1);
  std::printf("  TA workers' cost per round: %+.1f%% (goal: at most 5%%)\n", ta_cost);
  double overhead = 100 * (quantile(s[0].rounds, 0.5) / quantile(s[1].rounds, 0.5) - 1);
  std::printf("  protections' overhead per round: %+.1f%% (goal: at most 5%%)\n", overhead);
  return same_model ? 0 : 1;
}
