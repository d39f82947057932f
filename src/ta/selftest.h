// Escape attempts against real workers: native calls a worker must not make, and scripts that
// try to leave the Lua sandbox or exhaust its bounds. `supernet ta selftest` runs them all and
// prints one verdict per attempt; the tests run them too.
#pragma once

#include <string>
#include <vector>

#include "ta/frame.h"
#include "ta/worker.h"

namespace supernet::ta {

struct NativeAttempt {
  const char* name;
  const char* what;
};
// open, socket, connect, execve, fork, clone, ptrace, kill (of the node), write outside the
// pipe, an executable mapping, a segfault.
const std::vector<NativeAttempt>& native_attempts();

// In the worker, inside its sandbox: makes attempt `name`. Returns (a description) only when
// nothing stopped it.
std::string make_attempt(const std::string& name, int parent_pid);

struct LuaAttempt {
  const char* name;
  const char* source;
  Outcome expected;
  const char* expected_text;  // a part of the message that names the refusal
};
const std::vector<LuaAttempt>& lua_attempts();

struct Verdict {
  std::string attempt;
  bool refused = false;  // for the last, "node-unharmed": the pool still serves
  std::string reason;  // the outcome and message the worker or the node gave
};
// Runs every attempt, each in its own tenant's worker, then checks the pool still serves.
std::vector<Verdict> run_selftest(Pool& pool);

}  // namespace supernet::ta
