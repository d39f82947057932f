// The pipe between a node and a trusted application (TA) worker. A frame is a u32 big-endian
// length and that many bytes, at most kTaFrameBytesMax; its first byte says which message it
// is. The node reads what a worker sends as outside bytes: a worker runs code the node did not
// write, so every field is bounded and checked (fuzz/fuzz_ta_frame).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "crypto/secure.h"
#include "util/bytes.h"
#include "util/result.h"

namespace supernet::ta {

inline constexpr size_t kTaFrameBytesMax = 64u << 20;     // a task's input or output, whole
inline constexpr size_t kTaCodeBytesMax = 1u << 20;       // a script's source
inline constexpr size_t kTaTenantBytesMax = 128;
inline constexpr uint32_t kTaLogLinesMax = 64;            // log() lines kept per task
inline constexpr size_t kTaLogLineBytesMax = 1024;        // each cut to this
inline constexpr size_t kTaModelsMax = 16;                // named models of one task
inline constexpr size_t kTaModelNameBytesMax = 200;

using ModelSet = std::vector<std::pair<std::string, std::string>>;  // name, model file JSON

enum class TaskKind : uint8_t {
  kPing = 1,      // answers at once with an empty output: the round trip itself
  kLua = 2,       // code: Lua 5.4 source defining handle(input); input: JSON
  kSelftest = 3,  // code: the name of an escape attempt (ta/selftest.h) to make from native code
  kFlFit = 4,     // input: an fl::TrainTask (binary); output: the fl::TrainResult (binary)
  kFlEval = 5,    // input: an fl::EvalTask (binary); output: the fl::Metrics (binary)
};

// What a task may use. The node enforces the deadline (it kills a worker that overruns); the
// worker enforces gas and memory, and the kernel its address space and CPU time (rlimits).
struct Limits {
  uint64_t gas = 100'000'000;            // Lua VM instructions
  uint64_t memory_bytes = 64u << 20;     // the Lua heap
  uint32_t timeout_ms = 5000;            // wall clock, from when the node sends the task
};
inline constexpr uint64_t kTaGasMax = 1'000'000'000'000ull;
inline constexpr uint64_t kTaMemoryBytesMax = 4ull << 30;
inline constexpr uint32_t kTaTimeoutMsMax = 10 * 60 * 1000;

struct Task {
  uint64_t id = 0;
  TaskKind kind = TaskKind::kPing;
  Limits limits;
  uint64_t seed = 0;   // math.random's seed: a task replays exactly
  std::string code;
  std::string input;   // JSON
  // The tenant's store (ta/kv_store.h), when the node keeps one for it: the tenant's key (the
  // only key the worker ever holds) and a fresh random seed for this task's nonces. Empty: the
  // task has no store and kv calls fail.
  crypto::SecureBytes key;
  Bytes nonce_seed;
  // kLua: the model files (fl/model_file.h) the script may call by name with model.predict, as
  // (name, JSON text); at most kTaModelsMax, names of 1 to kTaModelNameBytesMax bytes.
  ModelSet models;
};

enum class Outcome : uint8_t {
  kOk = 0,
  kScriptError = 1,   // the script raised an error or returned what JSON cannot hold
  kGas = 2,
  kMemory = 3,
  kTime = 4,          // the node's deadline (set by the node, never by a worker)
  kForbiddenCall = 5, // a system call outside the allowlist (set by the node from the trap)
  kCrashed = 6,       // the worker died otherwise (a signal, a broken frame)
  kBadTask = 7,       // the task itself is malformed (unknown kind, bad input JSON)
};
const char* outcome_name(Outcome o);

struct TaskResult {
  uint64_t id = 0;
  Outcome outcome = Outcome::kOk;
  std::string output;    // when kOk: JSON (kLua, kPing), or the binary answer (kFlFit)
  std::string message;   // what went wrong, for people
  uint64_t gas_used = 0;
  uint64_t peak_memory = 0;  // bytes of the Lua heap at its largest
  uint64_t micros = 0;       // measured by the node from send to answer
  int32_t syscall = -1;      // kForbiddenCall: the call's number
  std::vector<std::string> log;
};

// The worker's first frame once it is inside its sandbox: nothing of the task reaches it before.
struct Ready {
  bool namespaces = false;  // in fresh mount and network namespaces with an empty root
};

// Sent by the worker's SIGSYS handler: the system call the filter trapped. The worker then exits.
struct Violation {
  int32_t syscall = -1;
};

// A script's kv call, from the worker while a task runs: the index and the sealed blob only
// (the worker encrypted; the node never sees a key name or a value).
enum class KvOp : uint8_t { kGet = 1, kPut = 2, kDelete = 3 };
struct KvCall {
  KvOp op = KvOp::kGet;
  Bytes index;  // kTaKvIndexBytes
  Bytes blob;   // kPut only
};
// The node's answer to a KvCall.
struct KvAnswer {
  bool ok = true;
  bool found = false;  // kGet
  Bytes blob;          // kGet, when found
  std::string error;   // when !ok: which bound or failure
};

using Message = std::variant<Task, TaskResult, Ready, Violation, KvCall, KvAnswer>;
Bytes encode_message(const Message& m);
Result<Message> decode_message(ByteView payload);

// Blocking frame I/O on a descriptor. read_frame fails with "ta.eof" on a clean end of stream.
Status write_frame(int fd, ByteView payload);
Result<Bytes> read_frame(int fd, size_t max = kTaFrameBytesMax);
// The node's read: waits at most until `deadline` ("ta.timeout" then).
Result<Bytes> read_frame_until(int fd, std::chrono::steady_clock::time_point deadline, size_t max = kTaFrameBytesMax);

}  // namespace supernet::ta
