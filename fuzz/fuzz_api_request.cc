// REST API request bodies: key-value writes, batches of them and governance submissions (JSON from clients).
#include <cstdlib>

#include "node/api.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace supernet;
  std::string_view body(reinterpret_cast<const char*>(data), size);
  auto w = node::parse_write_request(body, "fuzz");
  if (w.ok()) {
    auto back = ledger::KvWrite::decode(w->encode());
    if (!back.ok() || back->table != w->table || back->key != w->key || back->value != w->value) std::abort();
  }
  if (auto b = node::parse_batch_request(body, "fuzz"); b.ok() && (b->empty() || b->size() > node::kTxBatchMax)) std::abort();
  Bytes tx;
  auto g = node::parse_governance_request(body, &tx);
  if (g.ok() && g->encode() != tx) std::abort();
  return 0;
}
