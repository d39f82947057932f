// Lua 5.4 inside a trusted application: a script defines `function handle(input)`; the input is
// the task's JSON decoded, the return value is encoded as the JSON output.
//
// What a script can reach: the base library without dofile, loadfile, print (it logs) and with
// `load` of text only (no bytecode: a crafted bytecode string is an exploit of the VM), string
// without string.dump, table, math (math.random seeded from the task's seed, so a task replays
// exactly), utf8, coroutine; no io, os, package, require or debug; setmetatable refuses __gc
// (Lua runs finalizers with hooks off: gas would not bound them). Host functions: json.encode,
// json.decode, log (at most kTaLogLinesMax lines of kTaLogLineBytesMax bytes) and
// model.predict (the federated learning models' inference, natively, its cost charged as gas;
// model.predict(name, rows) takes one of the task's model files by name and applies its
// standardization to the rows; model.predict(m, rows) takes the shape and parameters as a table),
// and the tenant's private store: kv.get(key) (the value, or nil), kv.put(key, value) (any
// value JSON holds; nil deletes), kv.delete(key); keys are strings of 1 to kTaKvKeyBytesMax
// bytes, values at most kTaKvValueBytesMax as JSON, at most kTaKvCallsMax calls per task, each
// charged kKvCallGas plus one per 16 bytes moved (ta/kv_store.h says what the node sees).
//
// Bounds: gas counts VM instructions (a count hook every kLuaGasQuantum); once spent, every
// further instruction raises the error, so pcall cannot run on. The heap is capped by the
// allocator: an allocation past the cap fails, as out of memory. Deep recursion ends in Lua's
// own "stack overflow" (its C stack bound and the heap cap). The wall-clock deadline is the
// node's (ta::Worker). This runs in-process too (tests, fuzzing, the benchmark): it never touches
// anything outside its own Lua state.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ta/frame.h"

namespace supernet::ta {

inline constexpr int kLuaGasQuantum = 1000;
inline constexpr int kJsonDepthMax = 100;  // nesting of input, output and json.decode
inline constexpr uint64_t kKvCallGas = 1000;

// The store as a script sees it: plain keys and JSON texts. In a worker, the implementation
// encrypts and asks the node over the pipe; null: the task has no store.
class KvAccess {
 public:
  virtual ~KvAccess() = default;
  virtual Result<std::optional<std::string>> get(std::string_view key) = 0;
  virtual Status put(std::string_view key, std::string_view value_json) = 0;
  virtual Status erase(std::string_view key) = 0;
};

struct LuaRun {
  Outcome outcome = Outcome::kOk;
  std::string output;    // JSON
  std::string message;
  uint64_t gas_used = 0;
  uint64_t peak_memory = 0;
  std::vector<std::string> log;
};

// `metered` false runs without the count hook (the benchmark's baseline only: no gas bound).
// `models`: the task's named model files, for model.predict(name, rows).
LuaRun run_lua(std::string_view source, std::string_view input_json, const Limits& limits, uint64_t seed, bool metered = true,
               KvAccess* kv = nullptr, const ModelSet* models = nullptr);

// Compiles a script without running it (text only, bytecode refused); the error says where.
Status compile_lua(std::string_view source);

}  // namespace supernet::ta
