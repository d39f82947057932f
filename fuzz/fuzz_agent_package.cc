// Agent package files (supernet agent verify; a node's publish check): the container, the DSSE
// envelope, the in-toto statement, the manifest against the files, agent.toml inside, the entry
// script's compilation and the schemas. Any input either verifies or is refused; whatever
// verifies must be self-consistent (the manifest covers exactly the files).
#include <cstdlib>

#include "agents/package.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace supernet;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto p = agents::verify_package(text);
  if (p.ok()) {
    if (p->files.size() != p->manifest.size()) std::abort();
    for (const auto& e : p->manifest) {
      if (!p->files.count(e.path)) std::abort();
    }
  }
  return 0;
}
