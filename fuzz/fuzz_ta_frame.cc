// Frames a trusted application worker sends its node (and the node's tasks): whatever a worker
// running foreign code writes to its pipe is decoded here, so it must never crash the node; and
// the federated training and evaluation tasks and results the frames carry; and a stored blob as the host hands
// it back to a worker's kv.get (only what this tenant sealed may open).
#include <cstdlib>

#include "fl/wire.h"
#include "ta/frame.h"
#include "ta/kv_store.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace supernet;
  auto m = ta::decode_message(ByteView(data, size));
  if (m.ok()) {
    // One encoding per message: what decodes re-encodes to the same bytes.
    if (ta::encode_message(*m) != Bytes(data, data + size)) std::abort();
  }
  // A training task (what a worker decodes) and its answer (what the node decodes).
  auto task = fl::decode_train_task(ByteView(data, size));
  if (task.ok() && fl::encode_train_task(*task) != Bytes(data, data + size)) std::abort();
  (void)fl::decode_train_result(ByteView(data, size), size % 64);
  auto eval = fl::decode_eval_task(ByteView(data, size));
  if (eval.ok() && fl::encode_eval_task(*eval) != Bytes(data, data + size)) std::abort();
  auto metrics = fl::decode_metrics(ByteView(data, size));
  if (metrics.ok() && fl::encode_metrics(*metrics) != Bytes(data, data + size)) std::abort();
  static const Bytes key(ta::kTaTenantKeyBytes, 1), seed(ta::kTaNonceSeedBytes, 2);
  static ta::KvCipher cipher(key, seed);
  static const Bytes index = cipher.index("k");
  if (cipher.open(index, "k", ByteView(data, size)).ok()) std::abort();  // nobody forges a seal

  return 0;
}
