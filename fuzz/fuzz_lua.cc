// Arbitrary Lua source given to handle(): the runtime (gas, heap cap, stripped libraries, JSON
// both ways) must end every script with a result, never crash or hang the process that runs it.
// The first line of the input, if it is JSON, is handed to handle as its input. The tenant's
// store is a map here (the worker's sealing is fuzzed in fuzz_ta_frame).
#include <map>
#include <string>

#include "ta/lua_runtime.h"

namespace {

using namespace supernet;

class MapKv : public ta::KvAccess {
 public:
  Result<std::optional<std::string>> get(std::string_view key) override {
    auto it = m_.find(std::string(key));
    if (it == m_.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }
  Status put(std::string_view key, std::string_view value) override {
    if (m_.size() >= 64 && !m_.contains(std::string(key))) return make_error("ta.kv_full", "full");
    m_[std::string(key)] = value;
    return ok_status();
  }
  Status erase(std::string_view key) override {
    m_.erase(std::string(key));
    return ok_status();
  }

 private:
  std::map<std::string, std::string> m_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  std::string input = "null", source = text;
  if (auto nl = text.find('\n'); nl != std::string::npos && nl < 4096) {
    input = text.substr(0, nl);
    source = text.substr(nl + 1);
  }
  ta::Limits limits{200'000, 16u << 20, 1000};
  MapKv kv;
  auto r = ta::run_lua(source, input, limits, 1, true, &kv);
  if (r.peak_memory > limits.memory_bytes) __builtin_trap();
  if (r.gas_used > limits.gas) __builtin_trap();
  return 0;
}
