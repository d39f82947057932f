// Federated learning job files (TOML) submitted by members.
#include "fl/job.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)supernet::fl::parse_job(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
