// Arbitrary Lua source given to handle(): the runtime (gas, heap cap, stripped libraries, JSON
// both ways) must end every script with a result, never crash or hang the process that runs it.
// The first line of the input, if it is JSON, is handed to handle as its input.
#include <string>

#include "ta/lua_runtime.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace supernet;
  std::string text(reinterpret_cast<const char*>(data), size);
  std::string input = "null", source = text;
  if (auto nl = text.find('\n'); nl != std::string::npos && nl < 4096) {
    input = text.substr(0, nl);
    source = text.substr(nl + 1);
  }
  ta::Limits limits{200'000, 16u << 20, 1000};
  auto r = ta::run_lua(source, input, limits, 1);
  if (r.peak_memory > limits.memory_bytes) __builtin_trap();
  if (r.gas_used > limits.gas) __builtin_trap();
  return 0;
}
