#include "ta/worker.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "crypto/secure.h"
#include "fl/wire.h"
#include "ta/kv_store.h"
#include "ta/lua_runtime.h"
#include "ta/sandbox.h"
#include "ta/selftest.h"

namespace supernet::ta {

namespace {

using Clock = std::chrono::steady_clock;

// --- the worker ---

// The tenant's store from inside the worker: sealed here, kept by the node (ta/kv_store.h).
class PipeKv : public KvAccess {
 public:
  PipeKv(ByteView key, ByteView nonce_seed) : cipher_(key, nonce_seed) {}

  Result<std::optional<std::string>> get(std::string_view key) override {
    Bytes index = cipher_.index(key);
    SN_ASSIGN(KvAnswer a, call(KvCall{KvOp::kGet, index, {}}));
    if (!a.found) return std::optional<std::string>();
    SN_ASSIGN(std::string value, cipher_.open(index, key, a.blob));
    return std::optional<std::string>(std::move(value));
  }
  Status put(std::string_view key, std::string_view value) override {
    Bytes index = cipher_.index(key);
    Bytes blob = cipher_.seal(index, key, value);
    SN_TRY(call(KvCall{KvOp::kPut, std::move(index), std::move(blob)}));
    return ok_status();
  }
  Status erase(std::string_view key) override {
    SN_TRY(call(KvCall{KvOp::kDelete, cipher_.index(key), {}}));
    return ok_status();
  }

 private:
  Result<KvAnswer> call(KvCall c) {
    SN_TRY(write_frame(kWorkerOutFd, encode_message(c)));
    SN_ASSIGN(Bytes frame, read_frame(kWorkerInFd));
    auto m = decode_message(frame);
    if (!m.ok() || !std::holds_alternative<KvAnswer>(*m)) return make_error("ta.kv", "the node's answer was not a kv answer");
    KvAnswer a = std::move(std::get<KvAnswer>(*m));
    if (!a.ok) return make_error("ta.kv", a.error);
    return a;
  }
  KvCipher cipher_;
};

// OpenSSL sets itself up on first use (its providers, CPU features), which may open files:
// done once before the filter is on, so that the store's crypto needs no system call later.
void warm_crypto() {
  Bytes key(kTaTenantKeyBytes, 1), seed(kTaNonceSeedBytes, 2);
  KvCipher c(key, seed);
  Bytes index = c.index("warm");
  Bytes blob = c.seal(index, "warm", "up");
  (void)c.open(index, "warm", blob);
}

// What a worker keeps between its tenant's tasks: a federated job's party splits, handed over
// once (fl::TrainTask, fl::EvalTask).
struct WorkerState {
  std::optional<fl::PartyData> party;
};

TaskResult execute(const Task& t, int parent_pid, WorkerState& state) {
  TaskResult r;
  r.id = t.id;
  auto bad = [&](std::string why) {
    r.outcome = Outcome::kBadTask;
    r.message = std::move(why);
    return r;
  };
  auto failed = [&](std::string why) {
    r.outcome = Outcome::kScriptError;
    r.message = std::move(why);
    return r;
  };
  switch (t.kind) {
    case TaskKind::kPing:
      r.output = "null";
      return r;
    case TaskKind::kLua: {
      std::optional<PipeKv> kv;
      if (!t.key.empty()) kv.emplace(t.key.view(), t.nonce_seed);
      LuaRun run = run_lua(t.code, t.input, t.limits, t.seed, true, kv ? &*kv : nullptr, &t.models);
      r.outcome = run.outcome;
      r.output = std::move(run.output);
      r.message = std::move(run.message);
      r.gas_used = run.gas_used;
      r.peak_memory = run.peak_memory;
      r.log = std::move(run.log);
      return r;
    }
    case TaskKind::kFlFit: {
      auto task = fl::decode_train_task(as_bytes(t.input));
      if (!task.ok()) return bad("the training task: " + task.error().message);
      if (task->data) state.party = std::move(task->data);
      if (!state.party) return bad("the training task carries no data set and this worker holds none");
      auto res = fl::run_train_task(*task, state.party->train);
      if (!res.ok()) return failed("training failed: " + res.error().message);
      r.output = to_string(fl::encode_train_result(*res));
      return r;
    }
    case TaskKind::kFlEval: {
      auto task = fl::decode_eval_task(as_bytes(t.input));
      if (!task.ok()) return bad("the evaluation task: " + task.error().message);
      if (task->data) state.party = std::move(task->data);
      if (!state.party) return bad("the evaluation task carries no data set and this worker holds none");
      auto res = fl::run_eval_task(*task, state.party->test);
      if (!res.ok()) return failed("evaluation failed: " + res.error().message);
      r.output = to_string(fl::encode_metrics(*res));
      return r;
    }
    case TaskKind::kSelftest:
      // Returns only when the attempt was not stopped: the node reports that as an escape.
      r.output = "\"" + make_attempt(t.code, parent_pid) + "\"";
      return r;
  }
  r.outcome = Outcome::kBadTask;
  r.message = "unknown task kind";
  return r;
}

int worker_main(int parent_pid, uint64_t address_space, uint32_t cpu_seconds) {
  warm_crypto();
  auto state = enter_sandbox({parent_pid, address_space, cpu_seconds});
  if (!state.ok()) {
    // The node waits for Ready; what it gets instead says why (the filter is not on yet).
    TaskResult r;
    r.outcome = Outcome::kBadTask;
    r.message = "the worker could not enter its sandbox: " + state.error().to_string();
    (void)write_frame(kWorkerOutFd, encode_message(r));
    return 2;
  }
  if (!write_frame(kWorkerOutFd, encode_message(Ready{state->namespaces})).ok()) return 3;
  WorkerState kept;
  for (;;) {
    auto frame = read_frame(kWorkerInFd);
    if (!frame.ok()) return frame.error().code == "ta.eof" ? 0 : 3;
    auto m = decode_message(*frame);
    crypto::zeroize(frame->data(), frame->size());  // a task may carry its tenant's key
    if (!m.ok() || !std::holds_alternative<Task>(*m)) return 3;
    TaskResult r = execute(std::get<Task>(*m), parent_pid, kept);
    if (!write_frame(kWorkerOutFd, encode_message(r)).ok()) return 3;
  }
}

std::string describe(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    const char* name = sigabbrev_np(sig);
    return "was killed by signal " + std::to_string(sig) + " (SIG" + (name ? name : "?") + ")";
  }
  return "ended";
}

void ignore_sigpipe() {
  static std::once_flag once;
  std::call_once(once, [] { signal(SIGPIPE, SIG_IGN); });  // a dead worker's pipe is an error, not our end
}

}  // namespace

int maybe_run_worker(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], kWorkerFlag) != 0) return -1;
  if (argc != 5) return 2;
  return worker_main(std::atoi(argv[2]), std::strtoull(argv[3], nullptr, 10), static_cast<uint32_t>(std::strtoul(argv[4], nullptr, 10)));
}

Result<std::unique_ptr<Worker>> Worker::start(const WorkerOptions& o) {
  ignore_sigpipe();
  auto begun = Clock::now();
  int down[2], up[2];
  if (pipe2(down, O_CLOEXEC) != 0) return make_error("ta.start", std::string("pipe: ") + std::strerror(errno));
  if (pipe2(up, O_CLOEXEC) != 0) {
    close(down[0]);
    close(down[1]);
    return make_error("ta.start", std::string("pipe: ") + std::strerror(errno));
  }
  // Above 4, so that dup2 onto 3 and 4 always makes fresh (inheritable) descriptors.
  int child_in = fcntl(down[0], F_DUPFD_CLOEXEC, 10), child_out = fcntl(up[1], F_DUPFD_CLOEXEC, 10);
  close(down[0]);
  close(up[1]);
  std::unique_ptr<Worker> w(new Worker());
  w->to_ = down[1];
  w->from_ = up[0];
  auto close_child = [&] {
    if (child_in >= 0) close(child_in);
    if (child_out >= 0) close(child_out);
  };
  if (child_in < 0 || child_out < 0) {
    close_child();
    return make_error("ta.start", "cannot place the worker's pipe");
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, child_in, kWorkerInFd);
  posix_spawn_file_actions_adddup2(&fa, child_out, kWorkerOutFd);
  std::string program = o.program.empty() ? "/proc/self/exe" : o.program;
  std::string ppid = std::to_string(getpid()), as = std::to_string(o.address_space_bytes), cpu = std::to_string(o.cpu_seconds);
  char* argv[] = {program.data(), const_cast<char*>(kWorkerFlag), ppid.data(), as.data(), cpu.data(), nullptr};
  char* envp[] = {nullptr};
  pid_t pid = -1;
  int rc = posix_spawn(&pid, program.c_str(), &fa, nullptr, argv, envp);
  posix_spawn_file_actions_destroy(&fa);
  close_child();
  if (rc != 0) return make_error("ta.start", "cannot start the worker " + program + ": " + std::strerror(rc));
  w->pid_ = pid;
  auto frame = read_frame_until(w->from_, begun + std::chrono::milliseconds(kTaStartMsMax));
  if (!frame.ok()) {
    std::string how = w->reap(true);
    return make_error("ta.start", "the worker was not ready (" + frame.error().message + "); it " + how);
  }
  auto m = decode_message(*frame);
  if (m.ok() && std::holds_alternative<TaskResult>(*m)) {
    std::string why = std::get<TaskResult>(*m).message;
    w->reap(true);
    return make_error("ta.sandbox", why);
  }
  if (!m.ok() || !std::holds_alternative<Ready>(*m)) {
    w->reap(true);
    return make_error("ta.start", "the worker's first frame was not Ready");
  }
  w->namespaces_ = std::get<Ready>(*m).namespaces;
  w->started_in_ = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - begun);
  return w;
}

Worker::~Worker() {
  if (pid_ > 0) {
    close(to_);  // the worker sees the end of its input and exits
    to_ = -1;
    reap(false);
  }
  if (to_ >= 0) close(to_);
  if (from_ >= 0) close(from_);
}

std::string Worker::reap(bool kill_first) {
  if (pid_ <= 0) return "was gone";
  int status = 0;
  pid_t got = 0;
  if (!kill_first) {
    // It is ending by itself (end of input, a trapped call): give it a moment.
    for (int i = 0; i < 100 && got == 0; i++) {
      got = waitpid(pid_, &status, WNOHANG);
      if (got == 0) std::this_thread::sleep_for(std::chrono::milliseconds(i < 10 ? 1 : 10));
    }
  }
  if (got == 0 || kill_first) {
    ::kill(pid_, SIGKILL);
    while ((got = waitpid(pid_, &status, 0)) < 0 && errno == EINTR) {
    }
  }
  pid_ = -1;
  if (to_ >= 0) close(to_);
  if (from_ >= 0) close(from_);
  to_ = from_ = -1;
  return got > 0 ? describe(status) : "could not be reaped";
}

// A worker's kv call, answered from `store` (null: the task has none).
KvAnswer answer_kv(KvStore* store, const std::string& tenant, const KvCall& c) {
  KvAnswer a;
  auto fail = [&](const Error& e) {
    a = KvAnswer{};
    a.ok = false;
    a.error = e.message;
    return a;
  };
  if (store == nullptr) return fail(make_error("ta.kv", "this task has no store"));
  switch (c.op) {
    case KvOp::kGet: {
      auto r = store->get(tenant, c.index);
      if (!r.ok()) return fail(r.error());
      if (r->has_value()) {
        a.found = true;
        a.blob = std::move(**r);
      }
      return a;
    }
    case KvOp::kPut:
      if (auto s = store->put(tenant, c.index, c.blob); !s.ok()) return fail(s.error());
      return a;
    case KvOp::kDelete:
      if (auto s = store->erase(tenant, c.index); !s.ok()) return fail(s.error());
      return a;
  }
  return fail(make_error("ta.kv", "unknown kv operation"));
}

TaskResult Worker::run(const Task& task, KvStore* store, const std::string& tenant) {
  TaskResult r;
  r.id = task.id;
  auto begun = Clock::now();
  auto finish = [&](Outcome o, std::string message) {
    r.outcome = o;
    r.message = std::move(message);
    r.micros = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - begun).count());
    return r;
  };
  if (pid_ <= 0) return finish(Outcome::kCrashed, "the worker is not running");
  {
    Bytes encoded = encode_message(task);
    auto s = write_frame(to_, encoded);
    crypto::zeroize(encoded.data(), encoded.size());  // it may carry the tenant's key
    if (!s.ok()) {
      std::string how = reap(false);
      return finish(Outcome::kCrashed, "the worker took no task (" + s.error().message + "); it " + how);
    }
  }
  auto deadline = begun + std::chrono::milliseconds(task.limits.timeout_ms);
  auto frame = read_frame_until(from_, deadline);
  // The script's kv calls, answered while the task runs (under the same deadline).
  for (uint32_t calls = 0; frame.ok(); calls++) {
    auto call = decode_message(*frame);
    if (!call.ok() || !std::holds_alternative<KvCall>(*call)) break;
    if (calls >= kTaKvCallsMax) {
      reap(true);
      return finish(Outcome::kBadTask, "the worker made more than " + std::to_string(kTaKvCallsMax) + " kv calls in one task and was killed");
    }
    if (auto s = write_frame(to_, encode_message(answer_kv(store, tenant, std::get<KvCall>(*call)))); !s.ok()) {
      std::string how = reap(false);
      return finish(Outcome::kCrashed, "the worker " + how);
    }
    frame = read_frame_until(from_, deadline);
  }
  if (!frame.ok()) {
    if (frame.error().code == "ta.timeout") {
      reap(true);
      return finish(Outcome::kTime, "time limit of " + std::to_string(task.limits.timeout_ms) + " ms reached: the worker was killed");
    }
    std::string how = reap(false);
    if (how.find("SIGSYS") != std::string::npos) {
      return finish(Outcome::kForbiddenCall, "the worker " + how + ": a forbidden call the kernel ends at once (signal handling)");
    }
    return finish(Outcome::kCrashed, "the worker " + how);
  }
  auto m = decode_message(*frame);
  if (m.ok() && std::holds_alternative<Violation>(*m)) {
    int sc = std::get<Violation>(*m).syscall;
    reap(false);
    r.syscall = sc;
    return finish(Outcome::kForbiddenCall, std::string("forbidden system call ") + syscall_name(sc) + " (" + std::to_string(sc) + "): the worker was stopped");
  }
  if (!m.ok() || !std::holds_alternative<TaskResult>(*m) || std::get<TaskResult>(*m).id != task.id) {
    reap(true);
    return finish(Outcome::kCrashed, "the worker sent a malformed answer and was killed");
  }
  r = std::move(std::get<TaskResult>(*m));
  if (r.outcome == Outcome::kOk) answered_++;
  r.micros = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - begun).count());
  if (r.outcome == Outcome::kTime || r.outcome == Outcome::kForbiddenCall || r.outcome == Outcome::kCrashed) {
    r.outcome = Outcome::kBadTask;  // only the node says these
    r.message = "the worker claimed an outcome only the node can observe";
  }
  return r;
}

Status Pool::refill() {
  size_t live = idle_.size() + tenants_.size();
  while (idle_.size() < spares_ && live < kTaWorkersMax) {
    SN_ASSIGN(auto w, Worker::start(options_));
    idle_.push_back(std::move(w));
    stats_.started++;
    live++;
  }
  return ok_status();
}

Status Pool::warm() {
  std::lock_guard lock(mu_);
  return refill();
}

void Pool::set_store(KvStore* store, crypto::SecureBytes root) {
  std::lock_guard lock(mu_);
  store_ = store;
  root_ = std::move(root);
}

Result<TaskResult> Pool::run(const std::string& tenant, const Task& task) {
  std::lock_guard lock(mu_);
  SN_ASSIGN(Worker * w, assign(tenant));
  return dispatch(*w, tenant, task);
}

Result<TaskResult> Pool::run(const std::string& tenant, const std::function<Task(bool fresh)>& make) {
  std::lock_guard lock(mu_);
  SN_ASSIGN(Worker * w, assign(tenant));
  return dispatch(*w, tenant, make(w->answered() == 0));
}

Result<Worker*> Pool::assign(const std::string& tenant) {
  auto it = tenants_.find(tenant);
  if (it != tenants_.end() && !it->second.worker->alive()) {
    tenants_.erase(it);
    it = tenants_.end();
    stats_.replaced++;
  }
  if (it == tenants_.end()) {
    // Room first: the least recently used tenant's worker goes.
    while (!tenants_.empty() && idle_.size() + tenants_.size() >= kTaWorkersMax) {
      auto lru = tenants_.begin();
      for (auto t = tenants_.begin(); t != tenants_.end(); ++t) {
        if (t->second.last_used < lru->second.last_used) lru = t;
      }
      tenants_.erase(lru);
      stats_.evicted++;
    }
    std::unique_ptr<Worker> w;
    if (!idle_.empty()) {
      w = std::move(idle_.back());
      idle_.pop_back();
    } else {
      SN_ASSIGN(w, Worker::start(options_));
      stats_.started++;
    }
    it = tenants_.emplace(tenant, Assigned{std::move(w), 0}).first;
  }
  it->second.last_used = ++clock_;
  return it->second.worker.get();
}

TaskResult Pool::dispatch(Worker& w, const std::string& tenant, const Task& task) {
  stats_.tasks++;
  if (store_ == nullptr || task.kind != TaskKind::kLua) return w.run(task);
  // Only a script's task gets its tenant's key, with a fresh seed for its nonces.
  Task keyed = task;
  keyed.key = tenant_key(root_.view(), tenant);
  keyed.nonce_seed = crypto::random_bytes(kTaNonceSeedBytes);
  return w.run(keyed, store_, tenant);
}

Pool::Stats Pool::stats() {
  std::lock_guard lock(mu_);
  Stats s = stats_;
  s.live = idle_.size() + tenants_.size();
  return s;
}

}  // namespace supernet::ta
