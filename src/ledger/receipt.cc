#include "ledger/receipt.h"

#include <map>

#include "consensus/chain.h"
#include "consensus/verify.h"
#include "crypto/keys.h"
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

static constexpr char kCheckpointMagic[] = "SNCP";

Bytes Checkpoint::message(ByteView chain, uint64_t height, ByteView block_hash) {
  Writer w;
  w.str("supernet-checkpoint-v1").bytes(chain).u64(height).bytes(block_hash);
  return w.take();
}

Bytes Checkpoint::encode() const {
  Writer w;
  w.fixed(as_bytes(kCheckpointMagic)).fixed(chain).u64(height).fixed(block_hash).fixed(signature);
  return w.take();
}

Result<Checkpoint> Checkpoint::decode(ByteView data) {
  Reader r(data);
  SN_ASSIGN(ByteView magic, r.fixed(4));
  if (to_string(magic) != kCheckpointMagic) return make_error("checkpoint.format", "not a SuperNet checkpoint");
  Checkpoint c;
  SN_ASSIGN(ByteView chain, r.fixed(consensus::kHashBytes));
  SN_ASSIGN(c.height, r.u64());
  SN_ASSIGN(ByteView hash, r.fixed(consensus::kHashBytes));
  SN_ASSIGN(ByteView sig, r.fixed(64));
  SN_TRY(r.finish());
  c.chain = to_bytes(chain);
  c.block_hash = to_bytes(hash);
  c.signature = to_bytes(sig);
  return c;
}

Status Checkpoint::verify(ByteView group_public_key) const {
  if (group_public_key.size() != 32) return make_error("checkpoint.key", "the service key is 32 bytes (64 hex digits)");
  if (!crypto::ed25519_verify(group_public_key, message(chain, height, block_hash), signature)) {
    return make_error("checkpoint.signature", "the checkpoint of height " + std::to_string(height) + " is not signed by this service key");
  }
  return ok_status();
}

Bytes ReceiptProof::encode() const {
  Writer w;
  w.fixed(as_bytes(kProofMagic)).fixed(genesis_hash).bytes(receipt.encode()).u32(static_cast<uint32_t>(epoch_changes.size()));
  for (const auto& r : epoch_changes) w.bytes(r.encode());
  // Optional, last: proofs written before checkpoints existed end here.
  if (checkpoint) {
    w.u32(static_cast<uint32_t>(checkpoint->headers.size()));
    for (const auto& h : checkpoint->headers) h.encode(w);
    w.bytes(checkpoint->checkpoint.encode());
  }
  return w.take();
}

Result<ReceiptProof> ReceiptProof::decode(ByteView data) {
  Reader r(data);
  SN_ASSIGN(ByteView magic, r.fixed(4));
  if (to_string(magic) != kProofMagic) return make_error("receipt.format", "not a SuperNet receipt proof");
  ReceiptProof out;
  SN_ASSIGN(ByteView chain, r.fixed(consensus::kHashBytes));
  out.genesis_hash = to_bytes(chain);
  SN_ASSIGN(ByteView main, r.bytes(kReceiptBytesMax));
  SN_ASSIGN(out.receipt, Receipt::decode(main));
  SN_ASSIGN(uint32_t n, r.count(1u << 20, 4 + 64));
  for (uint32_t i = 0; i < n; i++) {
    SN_ASSIGN(ByteView one, r.bytes(kReceiptBytesMax));
    SN_ASSIGN(Receipt ec, Receipt::decode(one));
    out.epoch_changes.push_back(std::move(ec));
  }
  if (!r.done()) {
    CheckpointLink link;
    SN_ASSIGN(uint32_t headers, r.count(kCheckpointLinkHeadersMax, 8 + 32));
    for (uint32_t i = 0; i < headers; i++) {
      SN_ASSIGN(consensus::BlockHeader h, consensus::BlockHeader::decode(r));
      link.headers.push_back(std::move(h));
    }
    SN_ASSIGN(ByteView cp, r.bytes(256));
    SN_ASSIGN(link.checkpoint, Checkpoint::decode(cp));
    out.checkpoint = std::move(link);
  }
  SN_TRY(r.finish());
  return out;
}

// A receipt under the membership state at its block's start: a vote certificate under that
// state's set, or a recovery certificate (the members' approvals) under its governance.
static Status verify_receipt_in(const Receipt& r, const consensus::Membership& state) {
  if (r.commit_qc.phase != Phase::kRecovery) return verify_receipt(r, state.set());
  if (!verify_inclusion(leaf_hash(r.tx), r.index, r.header.tx_count, r.proof, r.header.tx_root)) {
    return make_error("receipt.proof", "transaction is not under the block's Merkle root");
  }
  const consensus::QuorumCert& qc = r.commit_qc;
  if (qc.height != r.header.height || !crypto::ct_equal(qc.block, r.header.hash())) {
    return make_error("receipt.certificate", "the recovery certificate does not commit this block");
  }
  SN_ASSIGN(consensus::Recovery rec, consensus::Recovery::decode(qc.recovery));
  if (auto s = state.check_recovery_approvals(rec, qc.approvals); !s.ok()) return make_error("receipt.certificate", s.error().message);
  bool carried = r.header.height > rec.height && r.header.height < rec.block_height() &&
                 r.header.hash() == rec.carried[r.header.height - rec.height - 1];
  if (r.header.height != rec.block_height() && !carried) {
    return make_error("receipt.certificate", "the recovery certificate is for another block");
  }
  return ok_status();
}

Status verify_receipt_proof(const ReceiptProof& p, consensus::Protocol protocol, const consensus::Membership& genesis) {
  auto check_protocol = [&](const Receipt& r) -> Status {
    if (r.protocol != protocol) return make_error("receipt.protocol", "receipt names another consensus protocol than the network's");
    return ok_status();
  };
  if (!crypto::ct_equal(p.genesis_hash, genesis.genesis_hash())) {
    return make_error("receipt.chain", "the receipt is of another chain: its genesis hash is " + to_hex(p.genesis_hash).substr(0, 16) +
                                           "..., this genesis' is " + to_hex(genesis.genesis_hash()).substr(0, 16) + "...");
  }
  consensus::Membership state = genesis;
  consensus::Membership block_state;  // the state at the start of the current change's block
  uint64_t block_height = 0;
  for (size_t i = 0; i < p.epoch_changes.size(); i++) {
    const Receipt& ec = p.epoch_changes[i];
    std::string which = "membership change " + std::to_string(i + 1);
    SN_TRY(check_protocol(ec));
    if (ec.header.height < block_height || ec.header.height >= p.receipt.header.height) {
      return make_error("receipt.epoch", which + " is out of order or not before the receipt's block");
    }
    if (ec.header.height > block_height) {
      // The first change of its block: the header must pin exactly the state the earlier
      // changes reach (chain, set, history), which a proof that left one out cannot.
      if (auto s = state.check_header(ec.header); !s.ok()) {
        return make_error("receipt.epoch", which + ": " + s.error().message + " (a change before it is missing or out of order)");
      }
      block_height = ec.header.height;
      block_state = state;
    }
    if (auto s = verify_receipt_in(ec, block_state); !s.ok()) return make_error(s.error().code, which + ": " + s.error().message);
    // A recovery transaction is never valid "in order": its certificate (checked above) is
    // what admits it.
    bool recovery = consensus::is_recovery_tx(ec.tx) && ec.commit_qc.phase == Phase::kRecovery && ec.commit_qc.recovery == ec.tx;
    bool by_recovery = ec.commit_qc.phase == Phase::kRecovery;
    if (auto s = state.check(ec.tx, by_recovery); !recovery && !s.ok()) {
      return make_error("receipt.epoch", which + " is not valid in order: " + s.error().message);
    }
    if (!consensus::Membership::handles(ec.tx) || !state.apply(ec.tx, ec.header.height, by_recovery)) {
      return make_error("receipt.epoch", which + " does not change the membership");
    }
  }
  SN_TRY(check_protocol(p.receipt));
  if (auto s = state.check_header(p.receipt.header); !s.ok()) {
    return make_error("receipt.epoch", "the receipt's block: " + s.error().message + " (the proof's membership changes are incomplete)");
  }
  return verify_receipt_in(p.receipt, state);
}

Status verify_receipt_checkpoint(const ReceiptProof& p, ByteView group_public_key) {
  const Receipt& r = p.receipt;
  if (!verify_inclusion(leaf_hash(r.tx), r.index, r.header.tx_count, r.proof, r.header.tx_root)) {
    return make_error("receipt.proof", "transaction is not under the block's Merkle root");
  }
  if (!p.checkpoint) {
    return make_error("receipt.checkpoint",
                      "this receipt carries no signed checkpoint yet (the network signs one every few seconds: fetch it again with "
                      "supernet tx get ID --receipt FILE --wait-checkpoint 30)");
  }
  const CheckpointLink& link = *p.checkpoint;
  const consensus::BlockHeader* last = &r.header;
  Hash last_hash = r.header.hash();
  for (size_t i = 0; i < link.headers.size(); i++) {
    const auto& h = link.headers[i];
    if (h.height != last->height + 1 || !crypto::ct_equal(h.parent, last_hash) || !crypto::ct_equal(h.chain, r.header.chain)) {
      return make_error("receipt.checkpoint", "the link's header " + std::to_string(i + 1) + " (height " + std::to_string(h.height) +
                                                  ") does not follow the block before it");
    }
    last = &h;
    last_hash = h.hash();
  }
  const Checkpoint& c = link.checkpoint;
  if (c.height != last->height || !crypto::ct_equal(c.block_hash, last_hash)) {
    return make_error("receipt.checkpoint", "the checkpoint (height " + std::to_string(c.height) + ") is not of the link's last block (height " +
                                                std::to_string(last->height) + ")");
  }
  if (!crypto::ct_equal(c.chain, r.header.chain) || !crypto::ct_equal(c.chain, p.genesis_hash)) {
    return make_error("receipt.chain", "the checkpoint is of another chain than the receipt's block");
  }
  return c.verify(group_public_key);
}

}  // namespace supernet::ledger
