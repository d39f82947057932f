// The confinement a trusted application worker puts itself in before it reads any task: its
// own process (the node program itself, re-executed: no other code is loaded), every descriptor
// but its pipe closed, rlimits, no new privileges, death with its node, fresh mount and network
// namespaces with an empty root when it may make them (root), and last a seccomp filter that
// allows only what running a task needs (docs/trusted-applications.md has the list and why).
// A call outside the list raises SIGSYS (SECCOMP_RET_TRAP); the handler sends the node the
// call's number over the pipe and exits. Calls that could disarm that handler (signal actions
// and masks, sigreturn) kill the process outright (SECCOMP_RET_KILL_PROCESS).
#pragma once

#include <cstdint>

#include "util/result.h"

namespace supernet::ta {

// The worker's pipe: the task frames come in on 3, results go out on 4.
inline constexpr int kWorkerInFd = 3;
inline constexpr int kWorkerOutFd = 4;

struct SandboxOptions {
  int parent_pid = 0;               // the node: the worker exits if it is gone already
  uint64_t address_space_bytes = 0; // RLIMIT_AS
  uint32_t cpu_seconds = 0;         // RLIMIT_CPU over the worker's life (a backstop; the node's deadline is per task)
};

struct SandboxState {
  bool namespaces = false;  // mount and network namespaces, empty root
};

// Confines this process. Irreversible; on error the caller must exit.
Result<SandboxState> enter_sandbox(const SandboxOptions& o);

// The name of a system call on this architecture ("openat"), or its number as text.
const char* syscall_name(int number);

}  // namespace supernet::ta
