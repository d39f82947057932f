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
  for (auto& w : state_writes(cb.block, rules_, view())) {
    if (w.claim) owners_[w.key] = w.writer;
    kv_[{w.table, w.key}] = {std::move(w.value), h, std::move(w.writer), w.verified};
  }
  blocks_.push_back(cb);
  return ok_status();
}

StateView Store::view() {
  return StateView{[this](const std::string& t) { return table_owner(t); },
                   [this](const std::string& t) {
                     auto has = table_has_entries(t);
                     return !has.ok() || *has;  // a store that cannot tell refuses the claim
                   }};
}

Result<bool> MemoryStore::table_has_entries(const std::string& table) {
  auto it = kv_.lower_bound({table, std::string()});
  return it != kv_.end() && it->first.first == table;
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
