// Trusted application workers, node side, and the worker's own entry point.
//
// A worker is the running program itself, re-executed from /proc/self/exe with a hidden first
// argument (kWorkerFlag) and an empty environment, its pipe on descriptors 3 and 4. It enters
// its sandbox (ta/sandbox.h), says Ready, then runs one task per frame until the pipe closes.
// The node enforces each task's wall-clock deadline: a worker that overruns is killed and the
// result says so. A worker serves one tenant (an agent, a job, a contract) for its whole life.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "crypto/secure.h"
#include "ta/frame.h"
#include "ta/kv_store.h"
#include "util/bytes.h"
#include "util/result.h"

namespace supernet::ta {

inline constexpr const char* kWorkerFlag = "--supernet-ta-worker";
inline constexpr int kTaStartMsMax = 5000;              // a worker not Ready by then is killed
inline constexpr size_t kTaWorkersMax = 16;             // live workers of one pool, warm spares included
inline constexpr size_t kTaSparesMax = 4;               // fresh workers kept ready for new tenants

// In main(), before anything else: runs the worker and returns its exit code when argv says
// this process is one; -1 otherwise.
int maybe_run_worker(int argc, char** argv);

struct WorkerOptions {
  std::string program;                        // default: this program (/proc/self/exe)
  uint64_t address_space_bytes = 1ull << 32;  // the worker's RLIMIT_AS
  uint32_t cpu_seconds = 3600;                // RLIMIT_CPU over its life
};

class Worker {
 public:
  // Starts a worker and waits until it is inside its sandbox (Ready).
  static Result<std::unique_ptr<Worker>> start(const WorkerOptions& o);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Runs one task. A worker that overran, crashed or made a forbidden call is dead afterwards
  // (alive() false) and the result says what happened; the caller replaces it. The script's kv
  // calls go to `store` under `tenant` (none: they fail), at most kTaKvCallsMax per task.
  TaskResult run(const Task& task, KvStore* store = nullptr, const std::string& tenant = {});
  bool alive() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  bool namespaces() const { return namespaces_; }
  // Tasks this worker answered with success: none means it holds nothing of its tenant yet.
  uint64_t answered() const { return answered_; }
  std::chrono::microseconds start_time() const { return started_in_; }

 private:
  Worker() = default;
  // Kills (if `kill`) and reaps the worker; describes how it ended.
  std::string reap(bool kill);
  pid_t pid_ = -1;
  int to_ = -1, from_ = -1;
  bool namespaces_ = false;
  uint64_t answered_ = 0;
  std::chrono::microseconds started_in_{0};
};

// Warm workers: each tenant keeps its own, fresh spares wait for new tenants, at most
// kTaWorkersMax live at once (the least recently used tenant's worker is stopped first). A dead
// worker is replaced on the tenant's next task. Thread-safe: one task at a time per pool.
class Pool {
 public:
  explicit Pool(WorkerOptions o, size_t spares = 1) : options_(std::move(o)), spares_(std::min(spares, kTaSparesMax)) {}
  // Runs `task` in `tenant`'s worker (a spare if it has none, else a new one started now).
  Result<TaskResult> run(const std::string& tenant, const Task& task);
  // The same, with the task made once the worker is chosen: `fresh` says that it has answered
  // none of the tenant's tasks yet (a new worker, or one that replaced a dead one), so the task
  // must carry whatever the tenant's worker keeps (a federated job's data sets).
  Result<TaskResult> run(const std::string& tenant, const std::function<Task(bool fresh)>& make);
  // Gives the pool's scripts their tenants' stores: each Lua task carries its tenant's key,
  // derived from `root` (the node's sealing key), and its kv calls go to `store`. Without it a
  // pool hands out no key at all.
  void set_store(KvStore* store, crypto::SecureBytes root);
  // Starts spares up to the configured count. Callers do it off their critical path (after a
  // new tenant's first answer went out), so that the next new tenant finds one.
  Status warm();
  struct Stats {
    uint64_t started = 0, replaced = 0, evicted = 0, tasks = 0;
    size_t live = 0;
  };
  Stats stats();

 private:
  Status refill();
  // The tenant's worker (a spare, or one started now), under mu_.
  Result<Worker*> assign(const std::string& tenant);
  TaskResult dispatch(Worker& w, const std::string& tenant, const Task& task);
  WorkerOptions options_;
  size_t spares_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Worker>> idle_;  // fresh, no tenant yet
  struct Assigned {
    std::unique_ptr<Worker> worker;
    uint64_t last_used = 0;
  };
  std::map<std::string, Assigned> tenants_;
  uint64_t clock_ = 0;
  Stats stats_;
  KvStore* store_ = nullptr;
  crypto::SecureBytes root_;
};

}  // namespace supernet::ta
