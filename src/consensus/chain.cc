#include "consensus/chain.h"

#include "consensus/verify.h"
#include "crypto/hash.h"

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

Status Chain::append(CommittedBlock cb) {
  SN_TRY(check_next(cb.block));
  SN_TRY(check_commit(cb.block, cb.commit_qc));
  apply(std::move(cb));
  return ok_status();
}

void Chain::apply(CommittedBlock cb) {
  for (uint32_t i = 0; i < cb.block.txs.size(); i++) {
    const Bytes& tx = cb.block.txs[i];
    tx_ids_.insert(tx_id(tx));
    if (Membership::handles(tx) && membership_.apply(tx, cb.block.header.height)) {
      state_changes_.push_back({cb.block.header.height, i});
    }
  }
  last_hash_ = cb.block.header.hash();
  blocks_.push_back(std::move(cb));
}

}  // namespace supernet::consensus
