// Appraisal policy files (TOML).
#include "tee/policy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace supernet;
  auto p = tee::parse_policy(std::string_view(reinterpret_cast<const char*>(data), size));
  if (p.ok()) (void)tee::parse_policy(tee::policy_to_toml(*p));
  return 0;
}
