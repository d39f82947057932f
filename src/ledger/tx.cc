#include "ledger/tx.h"

#include "crypto/hash.h"
#include "util/codec.h"

namespace supernet::ledger {

static constexpr char kMagic[] = "SNKV";

bool is_kv_write(ByteView tx) { return tx.size() >= 4 && to_string(tx.subspan(0, 4)) == kMagic; }

Bytes tx_hash(ByteView tx) { return crypto::sha256(tx); }

Bytes KvWrite::encode() const {
  Writer w;
  w.fixed(as_bytes(kMagic)).str(table).str(key).bytes(value).str(client).u64(nonce);
  return w.take();
}

Result<KvWrite> KvWrite::decode(ByteView tx) {
  if (!is_kv_write(tx)) return make_error("tx.format", "not a key-value write");
  Reader r(tx.subspan(4));
  KvWrite w;
  SN_ASSIGN(ByteView table, r.bytes(kTableBytesMax));
  SN_ASSIGN(ByteView key, r.bytes(kKeyBytesMax));
  SN_ASSIGN(ByteView value, r.bytes(kValueBytesMax));
  SN_ASSIGN(ByteView client, r.bytes(256));
  SN_ASSIGN(w.nonce, r.u64());
  SN_TRY(r.finish());
  w.table = to_string(table);
  w.key = to_string(key);
  w.value = to_bytes(value);
  w.client = to_string(client);
  if (w.table.empty() || w.key.empty()) return make_error("tx.format", "table and key must not be empty");
  return w;
}

std::vector<KvWrite> state_writes(const consensus::Block& b) {
  std::vector<KvWrite> out;
  for (const auto& tx : b.txs) {
    auto w = KvWrite::decode(tx);
    if (w.ok()) out.push_back(std::move(w).value());
  }
  return out;
}

}  // namespace supernet::ledger
