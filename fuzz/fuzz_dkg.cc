// DKG transactions and messages as the ledger delivers them (any validator's, or a host's forgery that a broken
// validator ordered): decoding gives one encoding per message, and a node fed them never crashes.
#include <cstdlib>

#include "keys/dkg.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace supernet;
  using namespace supernet::keys;
  // The ledger transaction around a message (what every node decodes from a block).
  if (auto t = DkgTx::decode(ByteView(data, size)); t.ok() && t->encode() != Bytes(data, data + size)) std::abort();
  auto m = decode_dkg(ByteView(data, size));
  if (!m.ok()) return 0;
  if (encode_dkg(*m) != Bytes(data, data + size)) std::abort();
  // Node 1 hears the fuzzed message in round 1, and (a second node) in round 2 after valid round
  // 1 messages of all three, so that the round 2 and complaint paths are reached too.
  DkgConfig config{to_bytes("fuzz"), {1, 2, 3}, 2, 0, 4, {}, 0, {}, {}};
  auto node = Dkg::create(config, 1, Bytes(32, 1));
  auto later = Dkg::create(config, 1, Bytes(32, 1));
  if (!node.ok() || !later.ok()) std::abort();
  for (uint16_t sender : {1, 2, 3}) (void)node->on_ledger(sender, *m, 1);
  static const std::vector<DkgMessage> round1 = [&] {
    std::vector<DkgMessage> out;
    for (uint16_t id : {1, 2, 3}) {
      auto d = Dkg::create(config, id, Bytes(32, static_cast<uint8_t>(id)));
      for (auto& msg : d->outbox()) out.push_back(msg);
    }
    return out;
  }();
  for (uint16_t id = 1; id <= 3; id++) (void)later->on_ledger(id, round1[id - 1], 1);
  (void)later->outbox();
  for (uint16_t sender : {1, 2, 3}) (void)later->on_ledger(sender, *m, 2);
  later->on_height(20);
  node->on_height(10);
  (void)node->outbox();
  return 0;
}
