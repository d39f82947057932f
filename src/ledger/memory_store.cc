#include "ledger/store.h"

#include "util/codec.h"

namespace supernet::ledger {

Status MemoryStore::append(const consensus::CommittedBlock& cb) {
  if (appends_allowed_) {
    if (*appends_allowed_ == 0) return make_error("store.fault", "injected write failure");
    (*appends_allowed_)--;
  }
  if (cb.block.header.height != blocks_.size() + 1) {
    return make_error("store.height", "block " + std::to_string(cb.block.header.height) + " is not the next height");
  }
  uint64_t h = cb.block.header.height;
  for (auto& w : state_writes(cb.block)) kv_[{w.table, w.key}] = {w.value, h};
  blocks_.push_back(cb);
  return ok_status();
}

Bytes VoteRecord::encode() const {
  Writer w;
  vote.encode(w);
  block.encode(w);
  return w.take();
}

Result<VoteRecord> VoteRecord::decode(ByteView data) {
  Reader r(data);
  VoteRecord v;
  SN_ASSIGN(v.vote, consensus::Vote::decode(r));
  SN_ASSIGN(v.block, consensus::Block::decode(r));
  SN_TRY(r.finish());
  return v;
}

Result<std::optional<KvEntry>> MemoryStore::get(const std::string& table, const std::string& key) {
  auto it = kv_.find({table, key});
  if (it == kv_.end()) return std::optional<KvEntry>();
  return std::optional<KvEntry>(it->second);
}

}  // namespace supernet::ledger
