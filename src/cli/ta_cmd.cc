// supernet ta run / selftest: trusted application workers on this machine (docs/trusted-applications.md).
// The workers are the node program (supernet-node) re-executed, as a node starts them.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "crypto/secure.h"
#include "ta/kv_store.h"
#include "ta/selftest.h"
#include "ta/worker.h"
#include "util/file.h"

namespace supernet::cli {

namespace {

struct RunArgs {
  std::string script, input;
  uint64_t gas = ta::Limits{}.gas;
  uint64_t memory_mb = ta::Limits{}.memory_bytes >> 20;
  uint32_t timeout_ms = ta::Limits{}.timeout_ms;
  uint64_t seed = 0;
};

int run_ta(const RunArgs& a) {
  if (a.gas == 0 || a.gas > ta::kTaGasMax) return fail(make_error("usage.gas", "--gas must be 1 to " + std::to_string(ta::kTaGasMax)));
  if (a.memory_mb == 0 || (a.memory_mb << 20) > ta::kTaMemoryBytesMax) {
    return fail(make_error("usage.memory", "--memory-mb must be 1 to " + std::to_string(ta::kTaMemoryBytesMax >> 20)));
  }
  if (a.timeout_ms == 0 || a.timeout_ms > ta::kTaTimeoutMsMax) {
    return fail(make_error("usage.timeout", "--timeout-ms must be 1 to " + std::to_string(ta::kTaTimeoutMsMax)));
  }
  auto source = read_file(a.script);
  if (!source.ok()) return fail(source.error());
  if (source->size() > ta::kTaCodeBytesMax) return fail(make_error("usage.script", a.script + " is over 1 MiB"));
  std::string input = "null";
  if (!a.input.empty()) {
    auto in = read_file(a.input);
    if (!in.ok()) return fail(in.error());
    if (in->size() > ta::kTaFrameBytesMax - 4096) return fail(make_error("usage.input", a.input + " is over the 64 MiB task bound"));
    input = to_string(*in);
    if (nlohmann::json::parse(input, nullptr, false).is_discarded()) return fail(make_error("usage.input", a.input + " is not valid JSON"));
  }
  ta::Task t;
  t.id = 1;
  t.kind = ta::TaskKind::kLua;
  t.limits = {a.gas, a.memory_mb << 20, a.timeout_ms};
  t.seed = a.seed;
  t.code = to_string(*source);
  t.input = std::move(input);
  ta::WorkerOptions o;
  o.program = node_program();
  o.address_space_bytes = (a.memory_mb << 20) + (1ull << 30);
  auto w = ta::Worker::start(o);
  if (!w.ok()) return fail(w.error(), kExitCheckFailed);
  // The script's store lives as long as this run: a key of its own, the entries in memory.
  ta::MemoryKvStore store;
  crypto::SecureBytes root(crypto::random_bytes(32));
  t.key = ta::tenant_key(root.view(), "supernet-ta-run");
  t.nonce_seed = crypto::random_bytes(ta::kTaNonceSeedBytes);
  ta::TaskResult r = (*w)->run(t, &store, "supernet-ta-run");
  for (const auto& line : r.log) std::fprintf(stderr, "log: %s\n", line.c_str());
  std::fprintf(stderr, "gas %llu, memory %llu bytes at peak, time %.3f ms\n", static_cast<unsigned long long>(r.gas_used),
               static_cast<unsigned long long>(r.peak_memory), r.micros / 1000.0);
  if (r.outcome != ta::Outcome::kOk) {
    std::fprintf(stderr, "error: ta.%s: %s\n", ta::outcome_name(r.outcome), r.message.c_str());
    return kExitCheckFailed;
  }
  std::printf("%s\n", r.output.c_str());
  return kExitOk;
}

int run_selftest() {
  ta::WorkerOptions o;
  o.program = node_program();
  {
    auto w = ta::Worker::start(o);
    if (!w.ok()) return fail(w.error(), kExitCheckFailed);
    std::printf("worker confinement: seccomp allowlist, rlimits, no new privileges, dies with its parent; mount and network "
                "namespaces with an empty root: %s\n",
                (*w)->namespaces() ? "yes" : "no (not root, or namespaces unavailable here)");
  }
  ta::Pool pool(o, 1);
  auto verdicts = ta::run_selftest(pool);
  int escaped = 0;
  for (const auto& v : verdicts) {
    bool last = v.attempt == "node-unharmed";
    std::printf("%-28s %s  %s\n", v.attempt.c_str(), last ? (v.refused ? "ok     " : "HARMED ") : v.refused ? "refused" : "ESCAPED", v.reason.c_str());
    escaped += !v.refused;
  }
  auto s = pool.stats();
  std::printf("%zu attempts, %d not refused; workers started %llu, replaced %llu\n", verdicts.size(), escaped,
              static_cast<unsigned long long>(s.started), static_cast<unsigned long long>(s.replaced));
  return escaped == 0 ? kExitOk : kExitCheckFailed;
}

}  // namespace

void add_ta_commands(CLI::App& app, int* exit_code) {
  CLI::App* ta = app.add_subcommand("ta", "Trusted applications: run a Lua script in a real sandboxed worker, or test the sandbox");
  ta->require_subcommand(1);
  auto r = std::make_shared<RunArgs>();
  CLI::App* run = ta->add_subcommand(
      "run",
      "Run SCRIPT.lua's handle(input) in a trusted application worker (the node program, confined by seccomp and rlimits) and print "
      "its JSON output; gas, memory and time go to stderr. Exit 0 on success, 1 when the script failed or hit a limit (the message "
      "names which), 2 for bad usage");
  run->add_option("script", r->script, "the Lua 5.4 script; it defines function handle(input)")->required();
  run->add_option("--input", r->input, "JSON file handed to handle (default: null)");
  run->add_option("--gas", r->gas, "instruction budget")->capture_default_str();
  run->add_option("--memory-mb", r->memory_mb, "Lua heap limit, MiB")->capture_default_str();
  run->add_option("--timeout-ms", r->timeout_ms, "wall-clock limit; the worker is killed past it")->capture_default_str();
  run->add_option("--seed", r->seed, "math.random's seed (a run replays exactly)")->capture_default_str();
  run->callback([r, exit_code] { *exit_code = run_ta(*r); });
  CLI::App* selftest = ta->add_subcommand(
      "selftest", "Make every escape attempt (native system calls, Lua sandbox breaks, limits) in real workers and print one verdict each; "
                  "exit 1 if any was not refused");
  selftest->callback([exit_code] { *exit_code = run_selftest(); });
}

}  // namespace supernet::cli
