#include "consensus/chain.h"

#include "consensus/verify.h"
#include "crypto/hash.h"

#include <optional>

namespace supernet::consensus {

std::string tx_id(ByteView tx) { return to_string(crypto::sha256(tx)); }

Chain::Chain(const ChainGenesis& genesis, std::shared_ptr<const EvidenceAppraiser> appraiser)
    : protocol_(genesis.protocol), membership_(genesis, std::move(appraiser)), last_hash_(membership_.genesis_hash()) {}

Status Chain::check_next(const Block& b) const {
  const BlockHeader& h = b.header;
  if (h.height != next_height() || h.parent != last_hash_) return make_error("consensus.block", "block does not extend the chain");
  SN_TRY(membership_.check_header(h));
  if (b.txs.size() > kBlockTxsMax || !b.txs_match_header()) return make_error("consensus.block", "transactions do not match the header");
  std::unordered_set<std::string> ids;
  std::optional<Membership> next;  // copied only when the block holds membership transactions
  for (const auto& tx : b.txs) {
    std::string id = tx_id(tx);
    if (contains_tx(id) || !ids.insert(id).second) return make_error("consensus.block", "block repeats a transaction");
    if (Membership::handles(tx)) {
      if (!next) next = membership_;
      SN_TRY(next->check(tx));
      next->apply(tx, h.height);
    }
  }
  return ok_status();
}

Status Chain::check_commit(const Block& b, const QuorumCert& qc) const {
  if (qc.phase != commit_phase(protocol_) || qc.height != next_height() || qc.block != b.header.hash()) {
    return make_error("consensus.commit", "certificate is not a commit certificate for this block");
  }
  return verify_qc(validators(), protocol_, qc);
}

Status Chain::check_committed(const CommittedBlock& cb) const {
  if (cb.commit_qc.phase == Phase::kRecovery) {
    SN_TRY(verify_recovery_block(membership_, next_height(), last_hash_, cb.block, cb.commit_qc));
    for (const auto& tx : cb.block.txs) {
      if (contains_tx(tx_id(tx))) return make_error("consensus.block", "block repeats a transaction");
    }
    return ok_status();
  }
  SN_TRY(check_next(cb.block));
  return check_commit(cb.block, cb.commit_qc);
}

Status Chain::append(CommittedBlock cb) {
  SN_TRY(check_committed(cb));
  apply(std::move(cb));
  return ok_status();
}

Status verify_recovery_block(const Membership& state, uint64_t next_height, const Hash& parent,
                             const Block& b, const QuorumCert& qc) {
  const BlockHeader& h = b.header;
  auto refuse = [](const std::string& why) { return make_error("consensus.recovery", why); };
  if (qc.phase != Phase::kRecovery || qc.height != next_height || qc.round != 0 || qc.block != h.hash()) {
    return refuse("the recovery certificate is not for this block");
  }
  SN_ASSIGN(Recovery r, Recovery::decode(qc.recovery));
  SN_TRY(state.check_recovery_approvals(r, qc.approvals));
  if (h.height != next_height || h.parent != parent) return refuse("the block does not extend the chain");
  SN_TRY(state.check_header(h));
  if (b.txs.size() > kBlockTxsMax || !b.txs_match_header()) return refuse("transactions do not match the header");
  std::unordered_set<std::string> ids;
  for (const auto& tx : b.txs) {
    if (!ids.insert(tx_id(tx)).second) return refuse("the block repeats a transaction");
  }
  if (next_height > r.height && next_height <= r.height + r.carried.size()) {
    // A carried block (the highest tip, or the block of the highest vote above it), kept as it was.
    size_t i = next_height - r.height - 1;
    if (h.hash() != r.carried[i] || parent != (i == 0 ? r.block : r.carried[i - 1])) {
      return refuse("this is not the block the recovery carries at height " + std::to_string(next_height));
    }
    Membership next = state;
    for (const auto& tx : b.txs) {
      if (!Membership::handles(tx)) continue;
      SN_TRY(next.check(tx, true));
      next.apply(tx, h.height, true);
    }
    return ok_status();
  }
  if (next_height != r.block_height()) return refuse("the recovery is for height " + std::to_string(r.block_height()));
  // The carried blocks were placed on the base as they were applied (or are this chain's own).
  bool base_ok = r.carried.empty() ? parent == r.block : parent == r.carried.back();
  if (!base_ok) return refuse("the recovery does not build on this chain's block " + std::to_string(r.height));
  if (h.creator != 0 || b.txs.empty() || b.txs[0] != qc.recovery || b.txs.size() != 1 + r.rotation_ids.size()) {
    return refuse("a recovery block holds the recovery and exactly the rotations it names");
  }
  Membership next = state;
  next.apply(b.txs[0], h.height);
  for (size_t i = 0; i < r.rotation_ids.size(); i++) {
    const Bytes& tx = b.txs[i + 1];
    if (!is_key_rotation(tx) || to_string(r.rotation_ids[i]) != tx_id(tx)) return refuse("rotation " + std::to_string(i + 1) + " is not the one the recovery names");
    if (auto s = next.check(tx, true); !s.ok()) return refuse("rotation " + std::to_string(i + 1) + ": " + s.error().message);
    next.apply(tx, h.height, true);
  }
  return ok_status();
}

void Chain::apply(CommittedBlock cb) {
  for (uint32_t i = 0; i < cb.block.txs.size(); i++) {
    const Bytes& tx = cb.block.txs[i];
    tx_index_.emplace(tx_id(tx), TxPosition{cb.block.header.height, i});
    if (Membership::handles(tx) && membership_.apply(tx, cb.block.header.height, cb.commit_qc.phase == Phase::kRecovery)) {
      state_changes_.push_back({cb.block.header.height, i});
    }
  }
  last_hash_ = cb.block.header.hash();
  blocks_.push_back(std::move(cb));
}

}  // namespace supernet::consensus
