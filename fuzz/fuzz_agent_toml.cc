// agent.toml and the JSON Schemas of a package: the first byte splits the input into a schema
// and a document validated against it; the whole input is also read as agent.toml.
#include <cstdlib>

#include "agents/package.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace supernet;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto c = agents::parse_agent_toml(text);
  if (c.ok() && (c->name.empty() || c->entry.empty() || c->resources.gas == 0)) std::abort();
  if (size == 0) return 0;
  size_t cut = std::min<size_t>(size - 1, static_cast<size_t>(data[0]) * 8);
  std::string_view schema = text.substr(1, cut), doc = text.substr(1 + cut);
  (void)agents::check_schema(schema);
  (void)agents::validate_json(schema, doc, "the input");
  (void)agents::parse_version(doc.substr(0, 64));
  (void)agents::check_package_path(doc.substr(0, 256));
  return 0;
}
