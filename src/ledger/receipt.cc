#include "ledger/receipt.h"

#include "consensus/verify.h"
#include "crypto/secure.h"
#include "ledger/merkle.h"
#include "util/codec.h"

namespace supernet::ledger {

using consensus::Phase;

static constexpr char kMagic[] = "SNRC";

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
