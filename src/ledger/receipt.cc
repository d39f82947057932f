#include "ledger/receipt.h"

#include <map>

#include "consensus/chain.h"
#include "consensus/verify.h"
#include "crypto/secure.h"
#include "ledger/merkle.h"
#include "util/codec.h"

namespace supernet::ledger {

using consensus::Phase;

static constexpr char kMagic[] = "SNRC";
static constexpr char kProofMagic[] = "SNRP";
static constexpr size_t kReceiptBytesMax = consensus::kTxBytesMax + 64 * 1024;

Bytes Receipt::encode() const {
  Writer w;
  w.fixed(as_bytes(kMagic)).u8(static_cast<uint8_t>(protocol));
  header.encode(w);
  w.bytes(tx).u32(index).u32(static_cast<uint32_t>(proof.size()));
  for (const auto& p : proof) w.fixed(p);
  commit_qc.encode(w);
  return w.take();
}

Result<Receipt> Receipt::decode(ByteView data) {
  Reader r(data);
  SN_ASSIGN(ByteView magic, r.fixed(4));
  if (to_string(magic) != kMagic) return make_error("receipt.format", "not a SuperNet receipt");
  Receipt out;
  SN_ASSIGN(uint8_t p, r.u8());
  if (p != 1 && p != 2) return make_error("receipt.format", "unknown protocol");
  out.protocol = static_cast<consensus::Protocol>(p);
  SN_ASSIGN(out.header, consensus::BlockHeader::decode(r));
  SN_ASSIGN(ByteView tx, r.bytes(consensus::kTxBytesMax));
  out.tx = to_bytes(tx);
  SN_ASSIGN(out.index, r.u32());
  SN_ASSIGN(uint32_t n, r.count(64, consensus::kHashBytes));
  for (uint32_t i = 0; i < n; i++) {
    SN_ASSIGN(ByteView h, r.fixed(consensus::kHashBytes));
    out.proof.push_back(to_bytes(h));
  }
  SN_ASSIGN(out.commit_qc, consensus::QuorumCert::decode(r));
  SN_TRY(r.finish());
  return out;
}

Result<Receipt> make_receipt(consensus::Protocol protocol, const consensus::CommittedBlock& cb, uint32_t index) {
  if (index >= cb.block.txs.size()) return make_error("receipt.index", "block has no transaction " + std::to_string(index));
  std::vector<Hash> leaves;
  for (const auto& tx : cb.block.txs) leaves.push_back(leaf_hash(tx));
  Receipt r;
  r.protocol = protocol;
  r.header = cb.block.header;
  r.tx = cb.block.txs[index];
  r.index = index;
  r.proof = inclusion_proof(leaves, index);
  r.commit_qc = cb.commit_qc;
  return r;
}

Status verify_receipt(const Receipt& r, const consensus::ValidatorSet& validators) {
  if (!verify_inclusion(leaf_hash(r.tx), r.index, r.header.tx_count, r.proof, r.header.tx_root)) {
    return make_error("receipt.proof", "transaction is not under the block's Merkle root");
  }
  const consensus::QuorumCert& qc = r.commit_qc;
  if (qc.phase != consensus::commit_phase(r.protocol) || qc.height != r.header.height ||
      !crypto::ct_equal(qc.block, r.header.hash())) {
    return make_error("receipt.certificate", "certificate does not commit this block");
  }
  if (r.header.epoch != validators.epoch()) {
    return make_error("receipt.epoch", "block was committed under validator set epoch " + std::to_string(r.header.epoch) +
                                           ", the given set is epoch " + std::to_string(validators.epoch()));
  }
  return consensus::verify_qc(validators, r.protocol, qc);
}

}  // namespace supernet::ledger

namespace supernet::ledger {

Bytes ReceiptProof::encode() const {
  Writer w;
  w.fixed(as_bytes(kProofMagic)).str(chain_id).bytes(receipt.encode()).u32(static_cast<uint32_t>(epoch_changes.size()));
  for (const auto& r : epoch_changes) w.bytes(r.encode());
  return w.take();
}

Result<ReceiptProof> ReceiptProof::decode(ByteView data) {
  Reader r(data);
  SN_ASSIGN(ByteView magic, r.fixed(4));
  if (to_string(magic) != kProofMagic) return make_error("receipt.format", "not a SuperNet receipt proof");
  ReceiptProof out;
  SN_ASSIGN(ByteView chain, r.bytes(256));
  out.chain_id = to_string(chain);
  SN_ASSIGN(ByteView main, r.bytes(kReceiptBytesMax));
  SN_ASSIGN(out.receipt, Receipt::decode(main));
  SN_ASSIGN(uint32_t n, r.count(1u << 20, 4 + 64));
  for (uint32_t i = 0; i < n; i++) {
    SN_ASSIGN(ByteView one, r.bytes(kReceiptBytesMax));
    SN_ASSIGN(Receipt ec, Receipt::decode(one));
    out.epoch_changes.push_back(std::move(ec));
  }
  SN_TRY(r.finish());
  return out;
}

Status verify_receipt_proof(const ReceiptProof& p, consensus::Protocol protocol, const consensus::Membership& genesis) {
  auto check_protocol = [&](const Receipt& r) -> Status {
    if (r.protocol != protocol) return make_error("receipt.protocol", "receipt names another consensus protocol than the network's");
    return ok_status();
  };
  std::map<uint64_t, consensus::ValidatorSet> sets{{genesis.set().epoch(), genesis.set()}};
  consensus::Membership state = genesis;
  for (size_t i = 0; i < p.epoch_changes.size(); i++) {
    const Receipt& ec = p.epoch_changes[i];
    std::string which = "membership change " + std::to_string(i + 1);
    SN_TRY(check_protocol(ec));
    auto set = sets.find(ec.header.epoch);
    if (set == sets.end()) {
      return make_error("receipt.epoch", which + " was committed under epoch " + std::to_string(ec.header.epoch) +
                                             ", which the earlier changes do not reach");
    }
    if (auto s = verify_receipt(ec, set->second); !s.ok()) return make_error(s.error().code, which + ": " + s.error().message);
    if (auto s = state.check(ec.tx); !s.ok()) return make_error("receipt.epoch", which + " is not valid in order: " + s.error().message);
    if (!consensus::Membership::handles(ec.tx) || !state.apply(ec.tx, ec.header.height)) {
      return make_error("receipt.epoch", which + " does not change the membership");
    }
    sets[state.set().epoch()] = state.set();
  }
  SN_TRY(check_protocol(p.receipt));
  auto set = sets.find(p.receipt.header.epoch);
  if (set == sets.end()) {
    return make_error("receipt.epoch", "the receipt's block was committed under validator set epoch " +
                                           std::to_string(p.receipt.header.epoch) + ", which the proof's membership changes do not reach");
  }
  return verify_receipt(p.receipt, set->second);
}

}  // namespace supernet::ledger
