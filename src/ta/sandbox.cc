#include "ta/sandbox.h"

#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace supernet::ta {

namespace {

// The Violation frame (ta/frame.h), written by the SIGSYS handler: length 5, type 4, the call.
void on_sigsys(int, siginfo_t* info, void*) {
  uint32_t sc = static_cast<uint32_t>(info->si_syscall);
  unsigned char frame[9] = {0, 0, 0, 5, 4, static_cast<unsigned char>(sc >> 24), static_cast<unsigned char>(sc >> 16),
                            static_cast<unsigned char>(sc >> 8), static_cast<unsigned char>(sc)};
  ssize_t ignored = ::write(kWorkerOutFd, frame, sizeof frame);
  (void)ignored;
  _exit(97);
}

Error fail(const char* what) { return make_error("ta.sandbox", std::string(what) + ": " + std::strerror(errno)); }

Status limit(int resource, rlim_t value) {
  rlimit r{value, value};
  if (setrlimit(resource, &r) != 0) return fail("setrlimit");
  return ok_status();
}

// Fresh mount and network namespaces; the root becomes an empty, read-only tmpfs.
bool enter_namespaces() {
  if (unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS) != 0) return false;
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return false;
  if (mount("supernet-ta", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=0555") != 0) return false;
  if (chdir("/tmp") != 0 || chroot(".") != 0 || chdir("/") != 0) return false;
  if (mount(nullptr, "/", nullptr, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) return false;
  return true;
}

Status install_filter() {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
  if (ctx == nullptr) return make_error("ta.sandbox", "seccomp_init failed");
  struct Release {
    scmp_filter_ctx c;
    ~Release() { seccomp_release(c); }
  } release{ctx};
  auto allow = [&](int sc) { return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, sc, 0); };
  int rc = 0;
  // The pipe, and nothing else: reads from 3, writes to 4.
  rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(read), 1, scmp_arg_cmp{0, SCMP_CMP_EQ, kWorkerInFd, 0});
  rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(write), 1, scmp_arg_cmp{0, SCMP_CMP_EQ, kWorkerOutFd, 0});
  // Memory, never executable: no code is made at run time.
  rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1, SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
  rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1, SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
  rc |= allow(SCMP_SYS(munmap));
  rc |= allow(SCMP_SYS(brk));
  rc |= allow(SCMP_SYS(mremap));
  rc |= allow(SCMP_SYS(madvise));
  rc |= allow(SCMP_SYS(futex));
  rc |= allow(SCMP_SYS(clock_gettime));
  rc |= allow(SCMP_SYS(gettimeofday));
  rc |= allow(SCMP_SYS(exit));
  rc |= allow(SCMP_SYS(exit_group));
  // What could disarm the SIGSYS handler kills the process instead of trapping.
  for (int sc : {SCMP_SYS(rt_sigaction), SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigreturn), SCMP_SYS(sigaltstack), SCMP_SYS(seccomp)}) {
    rc |= seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, sc, 0);
  }
  if (rc != 0) return make_error("ta.sandbox", "a seccomp rule could not be added");
  if (seccomp_load(ctx) != 0) return make_error("ta.sandbox", "seccomp_load failed");
  return ok_status();
}

}  // namespace

const char* syscall_name(int number) {
  char* name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, number);
  if (name == nullptr) return "unknown";
  // Kept for the life of the process: names are few and this reports a worker's end.
  static thread_local std::string last;
  last = name;
  std::free(name);
  return last.c_str();
}

Result<SandboxState> enter_sandbox(const SandboxOptions& o) {
  SandboxState state;
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) return fail("PR_SET_PDEATHSIG");
  if (o.parent_pid != 0 && getppid() != o.parent_pid) return make_error("ta.sandbox", "the node that started this worker is gone");
  // Every descriptor but the pipe.
  for (int fd = 0; fd < kWorkerInFd; fd++) close(fd);
  if (syscall(SYS_close_range, kWorkerOutFd + 1, ~0U, 0) != 0) return fail("close_range");
  if (fcntl(kWorkerInFd, F_GETFD) < 0 || fcntl(kWorkerOutFd, F_GETFD) < 0) return make_error("ta.sandbox", "the worker's pipe is not on descriptors 3 and 4");
  if (geteuid() == 0) state.namespaces = enter_namespaces();
  if (o.address_space_bytes > 0) SN_TRY(limit(RLIMIT_AS, o.address_space_bytes));
  if (o.cpu_seconds > 0) SN_TRY(limit(RLIMIT_CPU, o.cpu_seconds));
  SN_TRY(limit(RLIMIT_NOFILE, kWorkerOutFd + 1));
  SN_TRY(limit(RLIMIT_NPROC, 0));
  SN_TRY(limit(RLIMIT_CORE, 0));
  SN_TRY(limit(RLIMIT_FSIZE, 0));
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return fail("PR_SET_NO_NEW_PRIVS");
  if (prctl(PR_SET_DUMPABLE, 0) != 0) return fail("PR_SET_DUMPABLE");  // no ptrace by others of the same user
  struct sigaction sa {};
  sa.sa_sigaction = on_sigsys;
  sa.sa_flags = SA_SIGINFO;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGSYS, &sa, nullptr) != 0) return fail("sigaction SIGSYS");
  sigset_t sys;
  sigemptyset(&sys);
  sigaddset(&sys, SIGSYS);
  if (sigprocmask(SIG_UNBLOCK, &sys, nullptr) != 0) return fail("sigprocmask");
  SN_TRY(install_filter());
  return state;
}

}  // namespace supernet::ta
