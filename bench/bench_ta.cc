// bench_ta: the cost of running work in a trusted application worker, each against a baseline
// measured in the same run:
//  - warm round trip: a no-op task through a warm worker (frame out, decode, frame back) against
//    a bare pipe round trip of the same frame between two processes (the physical floor);
//  - cold start: a worker from spawn to Ready (exec of the node program, sandbox entry) against a
//    bare posix_spawn of /bin/true to its exit;
//  - gas: a Lua script with the instruction count hook against the same script without it.
// Goals (issue 14): warm p50 at most 50 us and at most 3x the pipe; cold start at most 5 ms; the
// gas hook at most 1.3x. Also a party's local training in a worker against the same in process;
// the demo's whole FL round with and without (goal: at most 5% slower) is bench_fl_round.
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "fl/wire.h"
#include "ta/frame.h"
#include "ta/lua_runtime.h"
#include "ta/worker.h"

using namespace supernet;
using Clock = std::chrono::steady_clock;

namespace {

double us_since(Clock::time_point t) { return std::chrono::duration<double, std::micro>(Clock::now() - t).count(); }

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

// A child process that sends every frame back: the bare pipe round trip.
std::vector<double> pipe_round_trips(int n, const Bytes& frame) {
  int down[2], up[2];
  if (pipe(down) != 0 || pipe(up) != 0) return {};
  pid_t pid = fork();
  if (pid == 0) {
    close(down[1]);
    close(up[0]);
    for (;;) {
      auto f = ta::read_frame(down[0]);
      if (!f.ok() || !ta::write_frame(up[1], *f).ok()) _exit(0);
    }
  }
  close(down[0]);
  close(up[1]);
  std::vector<double> out;
  for (int i = 0; i < n; i++) {
    auto t = Clock::now();
    if (!ta::write_frame(down[1], frame).ok() || !ta::read_frame(up[0]).ok()) break;
    out.push_back(us_since(t));
  }
  close(down[1]);
  close(up[0]);
  waitpid(pid, nullptr, 0);
  return out;
}

double spawn_true_us() {
  auto t = Clock::now();
  pid_t pid;
  char* argv[] = {const_cast<char*>("/bin/true"), nullptr};
  char* envp[] = {nullptr};
  if (posix_spawn(&pid, "/bin/true", nullptr, nullptr, argv, envp) != 0) return 0;
  waitpid(pid, nullptr, 0);
  return us_since(t);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench_ta: trusted application workers against bare pipes, bare spawns and unmetered Lua"};
  int calls = 20000, starts = 40, lua_reps = 5;
  std::string program = SUPERNET_NODE_PATH;
  app.add_option("--calls", calls, "round trips per measurement")->capture_default_str();
  app.add_option("--starts", starts, "cold starts")->capture_default_str();
  app.add_option("--lua-reps", lua_reps, "runs of the Lua script each way")->capture_default_str();
  app.add_option("--program", program, "the node program the workers run")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  ta::Task ping;
  ping.id = 1;
  Bytes frame = ta::encode_message(ping);
  auto bare = pipe_round_trips(calls, frame);
  if (bare.empty()) {
    std::fprintf(stderr, "bench_ta: cannot make the baseline pipe\n");
    return 1;
  }
  ta::WorkerOptions o;
  o.program = program;
  auto w = ta::Worker::start(o);
  if (!w.ok()) {
    std::fprintf(stderr, "bench_ta: %s\n", w.error().to_string().c_str());
    return 1;
  }
  std::vector<double> warm;
  for (int i = 0; i < calls; i++) {
    ping.id = static_cast<uint64_t>(i + 1);
    auto t = Clock::now();
    auto r = (*w)->run(ping);
    if (r.outcome != ta::Outcome::kOk) {
      std::fprintf(stderr, "bench_ta: a no-op task failed: %s\n", r.message.c_str());
      return 1;
    }
    warm.push_back(us_since(t));
  }
  w->reset();
  double pipe50 = percentile(bare, 0.5), warm50 = percentile(warm, 0.5);
  std::printf("warm round trip (%d calls): p50 %.1f us, p99 %.1f us; bare pipe between two processes: p50 %.1f us, p99 %.1f us\n", calls,
              warm50, percentile(warm, 0.99), pipe50, percentile(bare, 0.99));
  std::printf("  ratio %.2fx the pipe (goal <= 3x), p50 %s 50 us\n", warm50 / pipe50, warm50 <= 50 ? "<=" : ">");

  std::vector<double> cold, spawn;
  for (int i = 0; i < starts; i++) {
    spawn.push_back(spawn_true_us());
    auto t = Clock::now();
    auto c = ta::Worker::start(o);
    if (!c.ok()) {
      std::fprintf(stderr, "bench_ta: %s\n", c.error().to_string().c_str());
      return 1;
    }
    cold.push_back(us_since(t));
  }
  double cold50 = percentile(cold, 0.5), spawn50 = percentile(spawn, 0.5);
  std::printf("cold start to Ready (%d starts): p50 %.2f ms, p99 %.2f ms; posix_spawn of /bin/true to exit: p50 %.2f ms\n", starts,
              cold50 / 1000, percentile(cold, 0.99) / 1000, spawn50 / 1000);
  std::printf("  ratio %.2fx the bare spawn, p50 %s 5 ms (goal)\n", cold50 / spawn50, cold50 <= 5000 ? "<=" : ">");

  // Two workloads: calls and arithmetic (fib, the VM's cheapest instructions: the worst case for a
  // per-instruction cost), and table and string work (more time in the library per instruction).
  struct Script {
    const char* name;
    const char* source;
    const char* input;
    const char* expect;
  };
  const Script scripts[] = {
      {"fib(27)",
       "local function fib(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end function handle(x) return fib(x.n) end",
       R"({"n": 27})", "196418"},
      {"tables and strings",
       "function handle(x) local t, n = {}, 0 for i = 1, x.n do t[#t + 1] = string.format('%d:%s', i, string.rep('a', i % 7)) end "
       "table.sort(t) for _, s in ipairs(t) do n = n + #s end return n end",
       R"({"n": 200000})", nullptr},
  };
  ta::Limits l{ta::kTaGasMax, 256u << 20, 60000};
  double fib_ratio = 0;
  for (const auto& sc : scripts) {
    std::vector<double> metered, bare_lua;
    for (int i = 0; i < lua_reps; i++) {  // interleaved, medians
      auto t = Clock::now();
      auto a = ta::run_lua(sc.source, sc.input, l, 1, true);
      metered.push_back(us_since(t));
      t = Clock::now();
      auto b = ta::run_lua(sc.source, sc.input, l, 1, false);
      bare_lua.push_back(us_since(t));
      if (a.outcome != ta::Outcome::kOk || a.output != b.output || (sc.expect != nullptr && a.output != sc.expect)) {
        std::fprintf(stderr, "bench_ta: %s gave %s / %s (%s)\n", sc.name, a.output.c_str(), b.output.c_str(), a.message.c_str());
        return 1;
      }
    }
    double m50 = percentile(metered, 0.5), b50 = percentile(bare_lua, 0.5);
    if (fib_ratio == 0) fib_ratio = m50 / b50;
    std::printf("Lua %s: with the gas hook %.1f ms, without %.1f ms: ratio %.3fx (goal <= 1.3x)\n", sc.name, m50 / 1000, b50 / 1000, m50 / b50);
  }
  // A party's local training as in the demo's job (logistic regression, 2 epochs, batches of
  // 32, a third of the breast cancer data set: 190 rows of 30 features), in a worker (encode,
  // pipe, decode, train, back) against the same training in this process.
  fl::TrainTask task;
  task.spec.inputs = 30;
  task.params.assign(task.spec.parameter_count(), 0.01f);
  task.options.epochs = 2;
  task.options.batch = 32;
  fl::PartyData party;
  party.train.rows = 190;
  party.train.features = 30;
  party.train.classes = 2;
  for (size_t i = 0; i < 190 * 30; i++) party.train.x.push_back(static_cast<float>((i * 7919) % 1000) / 500.0f - 1.0f);
  for (size_t i = 0; i < 190; i++) party.train.y.push_back(static_cast<int32_t>(i % 2));
  party.test = party.train;
  auto trainer = ta::Worker::start(o);
  if (!trainer.ok()) {
    std::fprintf(stderr, "bench_ta: %s\n", trainer.error().to_string().c_str());
    return 1;
  }
  std::vector<double> in_worker, in_process;
  for (int i = 0; i < 300; i++) {
    auto t = Clock::now();
    ta::Task ft;
    ft.id = static_cast<uint64_t>(i + 1);
    ft.kind = ta::TaskKind::kFlFit;
    // The first task carries the party's splits, as a node's first task to a job's worker does.
    fl::TrainTask sent = task;
    if (i == 0) sent.data = party;
    ft.input = to_string(fl::encode_train_task(sent));
    auto r = (*trainer)->run(ft);
    auto res = fl::decode_train_result(as_bytes(r.output), task.params.size());
    in_worker.push_back(us_since(t));
    t = Clock::now();
    auto local = fl::run_train_task(task, party.train);
    in_process.push_back(us_since(t));
    if (r.outcome != ta::Outcome::kOk || !res.ok() || !local.ok() || res->params != local->params) {
      std::fprintf(stderr, "bench_ta: the training in a worker failed or differs: %s\n", r.message.c_str());
      return 1;
    }
  }
  double fw = percentile(in_worker, 0.5), fp = percentile(in_process, 0.5);
  std::printf("FL local training (190 x 30, logistic, 2 epochs): in a worker p50 %.1f us, in process p50 %.1f us: +%.1f us, ratio %.2fx\n", fw,
              fp, fw - fp, fw / fp);
  std::printf("  (the demo's whole round with training in workers against in-process training: bench_fl_round)\n");
  std::printf("bench_ta: warm p50 %.1f us = %.2fx pipe; cold start p50 %.2f ms; gas hook %.3fx (fib)\n", warm50, warm50 / pipe50,
              cold50 / 1000, fib_ratio);
  return 0;
}
