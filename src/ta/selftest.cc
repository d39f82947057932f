#include "ta/selftest.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <functional>

namespace supernet::ta {

const std::vector<NativeAttempt>& native_attempts() {
  static const std::vector<NativeAttempt> list = {
      {"open", "open a file of the host (openat /etc/passwd)"},
      {"socket", "make a network socket"},
      {"connect", "connect a descriptor to 127.0.0.1:22"},
      {"execve", "run /bin/sh"},
      {"fork", "start a child process (fork)"},
      {"clone", "start a thread or process (clone)"},
      {"ptrace", "attach to the node with ptrace"},
      {"kill", "kill the node"},
      {"write-outside-pipe", "write to descriptor 2 instead of the pipe"},
      {"exec-memory", "map memory executable (to run injected code)"},
      {"segfault", "crash (write through a null pointer)"},
  };
  return list;
}

std::string make_attempt(const std::string& name, int parent_pid) {
  long r = -1;
  if (name == "open") {
    r = syscall(SYS_openat, AT_FDCWD, "/etc/passwd", O_RDONLY);
  } else if (name == "socket") {
    r = syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
  } else if (name == "connect") {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(22);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    r = syscall(SYS_connect, 4, &a, sizeof a);
  } else if (name == "execve") {
    const char* argv[] = {"/bin/sh", "-c", "true", nullptr};
    const char* envp[] = {nullptr};
    r = syscall(SYS_execve, "/bin/sh", argv, envp);
  } else if (name == "fork") {
    r = syscall(SYS_fork);
    if (r == 0) _exit(0);
  } else if (name == "clone") {
    r = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
    if (r == 0) _exit(0);
  } else if (name == "ptrace") {
    r = syscall(SYS_ptrace, PTRACE_ATTACH, parent_pid, 0, 0);
  } else if (name == "kill") {
    r = syscall(SYS_kill, parent_pid, SIGKILL);
  } else if (name == "write-outside-pipe") {
    r = syscall(SYS_write, 2, "x", 1);
  } else if (name == "exec-memory") {
    void* p = mmap(nullptr, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    r = p == MAP_FAILED ? -1 : 0;
  } else if (name == "segfault") {
    volatile int* null = nullptr;
    *null = 1;
  } else {
    return "unknown attempt " + name;
  }
  return name + " returned " + std::to_string(r) + " instead of being stopped";
}

const std::vector<LuaAttempt>& lua_attempts() {
  static const std::vector<LuaAttempt> list = {
      {"lua-os-execute", "function handle() return os.execute('id') end", Outcome::kScriptError, "os"},
      {"lua-io-open", "function handle() return io.open('/etc/passwd'):read('a') end", Outcome::kScriptError, "io"},
      {"lua-require", "function handle() return require('os') end", Outcome::kScriptError, "require"},
      {"lua-load-bytecode",
       "function handle() local f, err = load('\\27Lua\\84\\0\\25\\147\\13\\10\\26\\10') if not f then error(err) end return f() end",
       Outcome::kScriptError, "attempt to load a binary chunk"},
      {"lua-string-dump", "function handle() return string.dump(handle) end", Outcome::kScriptError, "dump"},
      {"lua-huge-string", "function handle() return #string.rep('x', 1 << 30) end", Outcome::kMemory, "memory limit"},
      {"lua-endless-loop", "function handle() while true do end end", Outcome::kGas, "gas limit"},
      {"lua-endless-loop-in-pcall", "function handle() while true do pcall(function() while true do end end) end end", Outcome::kGas,
       "gas limit"},
      {"lua-growing-table", "function handle() local t = {} local i = 0 while true do i = i + 1 t[i] = i end end", Outcome::kMemory,
       "memory limit"},
      {"lua-deep-recursion", "local function f(n) return 1 + f(n + 1) end function handle() return f(1) end", Outcome::kMemory,
       "memory limit"},
      {"lua-deep-c-recursion", "local function f() return string.gsub('x', 'x', f) end function handle() return f() end",
       Outcome::kScriptError, "stack overflow"},
      {"lua-unmetered-finalizer", "function handle() setmetatable({}, {__gc = function() while true do end end}) end",
       Outcome::kScriptError, "__gc"},
      {"lua-debug", "function handle() return debug.getregistry() end", Outcome::kScriptError, "debug"},
  };
  return list;
}

namespace {

// Runs one attempt in its own tenant's worker; `refused` judges the result.
Verdict attempt(Pool& pool, const char* name, const Task& t, const std::function<bool(const TaskResult&)>& refused) {
  auto r = pool.run(std::string("selftest/") + name, t);
  if (!r.ok()) return {name, false, "could not run: " + r.error().to_string()};
  return {name, refused(*r), std::string(outcome_name(r->outcome)) + ": " + (r->outcome == Outcome::kOk ? r->output : r->message)};
}

}  // namespace

std::vector<Verdict> run_selftest(Pool& pool) {
  std::vector<Verdict> out;
  uint64_t id = 1;
  for (const auto& a : native_attempts()) {
    Task t;
    t.id = id++;
    t.kind = TaskKind::kSelftest;
    t.code = a.name;
    t.limits.timeout_ms = 5000;
    bool segfault = std::string(a.name) == "segfault";
    out.push_back(attempt(pool, a.name, t, [segfault](const TaskResult& r) {
      return segfault ? r.outcome == Outcome::kCrashed && r.message.find("SIGSEGV") != std::string::npos : r.outcome == Outcome::kForbiddenCall;
    }));
  }
  for (const auto& a : lua_attempts()) {
    Task t;
    t.id = id++;
    t.kind = TaskKind::kLua;
    t.code = a.source;
    t.input = "{}";
    t.limits.gas = 50'000'000;
    t.limits.memory_bytes = 32u << 20;
    t.limits.timeout_ms = 10000;
    out.push_back(attempt(pool, a.name, t, [&a](const TaskResult& r) {
      return r.outcome == a.expected && r.message.find(a.expected_text) != std::string::npos;
    }));
  }
  // The node is unharmed: its pool still serves, in a fresh worker.
  Task ping;
  ping.id = id++;
  auto r = pool.run("selftest/after", ping);
  out.push_back({"node-unharmed", r.ok() && r->outcome == Outcome::kOk, r.ok() ? std::string(outcome_name(r->outcome)) : r.error().to_string()});
  return out;
}

}  // namespace supernet::ta
