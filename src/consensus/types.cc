#include "consensus/types.h"

#include <algorithm>
#include <cassert>

#include "crypto/hash.h"
#include "ledger/merkle.h"

namespace supernet::consensus {

const char* protocol_name(Protocol p) { return p == Protocol::kTeeBft ? "tee-bft" : "bft"; }

ValidatorSet::ValidatorSet(std::vector<Validator> validators, uint64_t epoch) : v_(std::move(validators)), epoch_(epoch) {
  std::sort(v_.begin(), v_.end(), [](const Validator& a, const Validator& b) { return a.id < b.id; });
  for (const auto& v : v_) total_ += v.weight;
  assert(!v_.empty() && v_.size() <= kValidatorsMax);
}

const Validator* ValidatorSet::find(NodeId id) const {
  for (const auto& v : v_) {
    if (v.id == id) return &v;
  }
  return nullptr;
}

uint64_t ValidatorSet::quorum(Protocol p) const {
  return p == Protocol::kTeeBft ? total_ / 2 + 1 : (2 * total_) / 3 + 1;
}

NodeId ValidatorSet::leader(uint64_t height, uint64_t round) const {
  return v_[(height + round) % v_.size()].id;
}

Hash ValidatorSet::hash() const {
  Writer w;
  w.str("supernet-validators-v1").u64(epoch_).u32(static_cast<uint32_t>(v_.size()));
  for (const auto& v : v_) w.u32(v.id).u64(v.weight).bytes(v.vote_key).bytes(v.identity_key).u64(v.rotation_nonce);
  return crypto::sha256(w.data());
}

ValidatorSet ValidatorSet::with_key(NodeId id, const Bytes& key, uint64_t nonce) const {
  std::vector<Validator> v = v_;
  for (auto& x : v) {
    if (x.id == id) {
      x.vote_key = key;
      x.rotation_nonce = nonce;
    }
  }
  return ValidatorSet(std::move(v), epoch_ + 1);
}

ValidatorSet ValidatorSet::with_validator(const Validator& v) const {
  std::vector<Validator> next = v_;
  next.push_back(v);
  return ValidatorSet(std::move(next), epoch_ + 1);
}

ValidatorSet ValidatorSet::without(NodeId id) const {
  std::vector<Validator> next;
  for (const auto& x : v_) {
    if (x.id != id) next.push_back(x);
  }
  return ValidatorSet(std::move(next), epoch_ + 1);
}

ValidatorSet ValidatorSet::with_weight(NodeId id, uint64_t weight) const {
  std::vector<Validator> next = v_;
  for (auto& x : next) {
    if (x.id == id) x.weight = weight;
  }
  return ValidatorSet(std::move(next), epoch_ + 1);
}

void BlockHeader::encode(Writer& w) const {
  w.u64(height).fixed(parent).fixed(tx_root).u32(tx_count).u32(creator).u64(epoch).fixed(chain).fixed(validators).fixed(changes);
}

Result<BlockHeader> BlockHeader::decode(Reader& r) {
  BlockHeader h;
  SN_ASSIGN(h.height, r.u64());
  SN_ASSIGN(ByteView parent, r.fixed(kHashBytes));
  SN_ASSIGN(ByteView root, r.fixed(kHashBytes));
  h.parent = to_bytes(parent);
  h.tx_root = to_bytes(root);
  SN_ASSIGN(h.tx_count, r.u32());
  SN_ASSIGN(h.creator, r.u32());
  SN_ASSIGN(h.epoch, r.u64());
  SN_ASSIGN(ByteView chain, r.fixed(kHashBytes));
  SN_ASSIGN(ByteView validators, r.fixed(kHashBytes));
  SN_ASSIGN(ByteView changes, r.fixed(kHashBytes));
  h.chain = to_bytes(chain);
  h.validators = to_bytes(validators);
  h.changes = to_bytes(changes);
  return h;
}

Hash BlockHeader::hash() const {
  Writer w;
  w.str("supernet-block-v2");
  encode(w);
  return crypto::sha256(w.data());
}

void Block::encode(Writer& w) const {
  header.encode(w);
  w.u32(static_cast<uint32_t>(txs.size()));
  for (const auto& tx : txs) w.bytes(tx);
}

Result<Block> Block::decode(Reader& r) {
  Block b;
  SN_ASSIGN(b.header, BlockHeader::decode(r));
  SN_ASSIGN(uint32_t n, r.count(kBlockTxsMax, 4));
  b.txs.reserve(n);
  for (uint32_t i = 0; i < n; i++) {
    SN_ASSIGN(ByteView tx, r.bytes(kTxBytesMax));
    b.txs.push_back(to_bytes(tx));
  }
  return b;
}

bool Block::txs_match_header() const {
  if (txs.size() != header.tx_count) return false;
  std::vector<Hash> leaves;
  leaves.reserve(txs.size());
  for (const auto& tx : txs) leaves.push_back(ledger::leaf_hash(tx));
  return ledger::merkle_root(leaves) == header.tx_root;
}

Bytes Vote::signed_bytes(Protocol p) const {
  Writer w;
  w.str("supernet-vote-v1").u8(static_cast<uint8_t>(p)).u8(static_cast<uint8_t>(phase)).u64(height).u64(round);
  w.fixed(block).u32(voter).u64(counter);
  return w.take();
}

void Vote::encode(Writer& w) const {
  w.u8(static_cast<uint8_t>(phase)).u64(height).u64(round).fixed(block).u32(voter).u64(counter).fixed(signature);
}

Result<Vote> Vote::decode(Reader& r) {
  Vote v;
  SN_ASSIGN(uint8_t phase, r.u8());
  if (phase != 1 && phase != 2) return make_error("consensus.decode", "unknown vote phase");
  v.phase = static_cast<Phase>(phase);
  SN_ASSIGN(v.height, r.u64());
  SN_ASSIGN(v.round, r.u64());
  SN_ASSIGN(ByteView block, r.fixed(kHashBytes));
  v.block = to_bytes(block);
  SN_ASSIGN(v.voter, r.u32());
  SN_ASSIGN(v.counter, r.u64());
  SN_ASSIGN(ByteView sig, r.fixed(kSignatureBytes));
  v.signature = to_bytes(sig);
  return v;
}

void QuorumCert::encode(Writer& w) const {
  w.u8(static_cast<uint8_t>(phase)).u64(height).u64(round).fixed(block);
  if (phase == Phase::kRecovery) {
    w.bytes(recovery).u32(static_cast<uint32_t>(approvals.size()));
    for (const auto& a : approvals) w.bytes(a.spki).bytes(a.signature);
    return;
  }
  w.u32(static_cast<uint32_t>(votes.size()));
  for (const auto& v : votes) w.u32(v.voter).u64(v.counter).fixed(v.signature);
}

Result<QuorumCert> QuorumCert::decode(Reader& r) {
  QuorumCert qc;
  SN_ASSIGN(uint8_t phase, r.u8());
  if (phase < 1 || phase > 3) return make_error("consensus.decode", "unknown certificate phase");
  qc.phase = static_cast<Phase>(phase);
  SN_ASSIGN(qc.height, r.u64());
  SN_ASSIGN(qc.round, r.u64());
  SN_ASSIGN(ByteView block, r.fixed(kHashBytes));
  qc.block = to_bytes(block);
  if (qc.phase == Phase::kRecovery) {
    SN_ASSIGN(ByteView recovery, r.bytes(kRecoveryBytesMax));
    qc.recovery = to_bytes(recovery);
    SN_ASSIGN(uint32_t n, r.count(kMembersMax, 8));
    for (uint32_t i = 0; i < n; i++) {
      MemberApproval a;
      SN_ASSIGN(ByteView spki, r.bytes(1024));
      SN_ASSIGN(ByteView sig, r.bytes(256));
      a.spki = to_bytes(spki);
      a.signature = to_bytes(sig);
      qc.approvals.push_back(std::move(a));
    }
    return qc;
  }
  SN_ASSIGN(uint32_t n, r.count(kValidatorsMax, 4 + 8 + kSignatureBytes));
  for (uint32_t i = 0; i < n; i++) {
    Vote v;
    v.phase = qc.phase;
    v.height = qc.height;
    v.round = qc.round;
    v.block = qc.block;
    SN_ASSIGN(v.voter, r.u32());
    SN_ASSIGN(v.counter, r.u64());
    SN_ASSIGN(ByteView sig, r.fixed(kSignatureBytes));
    v.signature = to_bytes(sig);
    qc.votes.push_back(std::move(v));
  }
  return qc;
}

Bytes ViewChange::signed_bytes() const {
  Writer w;
  w.str("supernet-view-change-v2").fixed(chain).u64(epoch).u64(height).u64(new_round).u32(sender).u8(has_last_vote ? 1 : 0);
  w.u64(last_round).fixed(has_last_vote ? ByteView(last_block) : ByteView(Bytes(kHashBytes, 0)));
  if (highest_qc) {
    w.u8(1).u64(highest_qc->round).fixed(highest_qc->block);
  } else {
    w.u8(0);
  }
  w.u64(counter);
  return w.take();
}

void ViewChange::encode(Writer& w) const {
  w.fixed(chain).u64(epoch).u64(height).u64(new_round).u32(sender).u8(has_last_vote ? 1 : 0).u64(last_round);
  w.fixed(has_last_vote ? ByteView(last_block) : ByteView(Bytes(kHashBytes, 0)));
  w.u8(highest_qc ? 1 : 0);
  if (highest_qc) highest_qc->encode(w);
  w.u64(counter).fixed(signature);
}

Result<ViewChange> ViewChange::decode(Reader& r) {
  ViewChange vc;
  SN_ASSIGN(ByteView chain, r.fixed(kHashBytes));
  vc.chain = to_bytes(chain);
  SN_ASSIGN(vc.epoch, r.u64());
  SN_ASSIGN(vc.height, r.u64());
  SN_ASSIGN(vc.new_round, r.u64());
  SN_ASSIGN(vc.sender, r.u32());
  SN_ASSIGN(uint8_t has, r.u8());
  vc.has_last_vote = has == 1;
  SN_ASSIGN(vc.last_round, r.u64());
  SN_ASSIGN(ByteView last, r.fixed(kHashBytes));
  if (vc.has_last_vote) vc.last_block = to_bytes(last);
  SN_ASSIGN(uint8_t has_qc, r.u8());
  if (has_qc == 1) {
    SN_ASSIGN(QuorumCert qc, QuorumCert::decode(r));
    vc.highest_qc = std::move(qc);
  }
  SN_ASSIGN(vc.counter, r.u64());
  SN_ASSIGN(ByteView sig, r.fixed(kSignatureBytes));
  vc.signature = to_bytes(sig);
  return vc;
}

Bytes Proposal::signed_bytes() const {
  Writer w;
  // The justification the receiver checks is signed too: the parent certificate and the view
  // changes, by the hash of their encoding.
  Writer j;
  j.u8(parent_qc ? 1 : 0);
  if (parent_qc) parent_qc->encode(j);
  j.u32(static_cast<uint32_t>(view_changes.size()));
  for (const auto& vc : view_changes) vc.encode(j);
  w.str("supernet-proposal-v2").u64(block.header.height).u64(round).fixed(block.header.hash()).u32(proposer).u64(counter);
  w.fixed(crypto::sha256(j.data()));
  return w.take();
}

void Proposal::encode(Writer& w) const {
  w.u64(round).u32(proposer);
  block.encode(w);
  w.u8(parent_qc ? 1 : 0);
  if (parent_qc) parent_qc->encode(w);
  w.u32(static_cast<uint32_t>(view_changes.size()));
  for (const auto& vc : view_changes) vc.encode(w);
  w.u64(counter).fixed(signature);
}

Result<Proposal> Proposal::decode(Reader& r) {
  Proposal p;
  SN_ASSIGN(p.round, r.u64());
  SN_ASSIGN(p.proposer, r.u32());
  SN_ASSIGN(p.block, Block::decode(r));
  SN_ASSIGN(uint8_t has_qc, r.u8());
  if (has_qc == 1) {
    SN_ASSIGN(QuorumCert qc, QuorumCert::decode(r));
    p.parent_qc = std::move(qc);
  }
  SN_ASSIGN(uint32_t n, r.count(kValidatorsMax, kHashBytes + 8 + 8 + 8 + 4 + 1 + 8 + kHashBytes + 1 + 8 + kSignatureBytes));
  for (uint32_t i = 0; i < n; i++) {
    SN_ASSIGN(ViewChange vc, ViewChange::decode(r));
    p.view_changes.push_back(std::move(vc));
  }
  SN_ASSIGN(p.counter, r.u64());
  SN_ASSIGN(ByteView sig, r.fixed(kSignatureBytes));
  p.signature = to_bytes(sig);
  return p;
}

Bytes KeyRotation::signed_bytes() const {
  Writer w;
  w.str("supernet-key-rotation-v2").u32(node).fixed(new_vote_key).u64(nonce).u64(static_cast<uint64_t>(issued_at)).bytes(evidence);
  return w.take();
}

static constexpr char kRotationMagic[] = "SNKR";

Bytes KeyRotation::encode() const {
  Writer w;
  w.fixed(as_bytes(kRotationMagic)).u32(node).fixed(new_vote_key).u64(nonce).u64(static_cast<uint64_t>(issued_at)).bytes(evidence);
  w.fixed(signature);
  return w.take();
}

Result<KeyRotation> KeyRotation::decode(ByteView data) {
  Reader r(data);
  SN_ASSIGN(ByteView magic, r.fixed(4));
  if (to_string(magic) != kRotationMagic) return make_error("consensus.decode", "not a key rotation");
  KeyRotation k;
  SN_ASSIGN(k.node, r.u32());
  SN_ASSIGN(ByteView key, r.fixed(kKeyBytes));
  k.new_vote_key = to_bytes(key);
  SN_ASSIGN(k.nonce, r.u64());
  SN_ASSIGN(uint64_t issued_at, r.u64());
  k.issued_at = static_cast<int64_t>(issued_at);
  SN_ASSIGN(ByteView evidence, r.bytes(kRotationEvidenceBytesMax));
  k.evidence = to_bytes(evidence);
  SN_ASSIGN(ByteView sig, r.fixed(kSignatureBytes));
  k.signature = to_bytes(sig);
  SN_TRY(r.finish());
  return k;
}

enum MessageTag : uint8_t {
  kTagProposal = 1, kTagVote = 2, kTagViewChange = 3, kTagSyncRequest = 4, kTagSyncResponse = 5, kTagTransactions = 6
};

Bytes encode_message(const Message& m) {
  Writer w;
  std::visit(
      [&](const auto& msg) {
        using T = std::decay_t<decltype(msg)>;
        if constexpr (std::is_same_v<T, Proposal>) {
          w.u8(kTagProposal);
          msg.encode(w);
        } else if constexpr (std::is_same_v<T, Vote>) {
          w.u8(kTagVote);
          msg.encode(w);
        } else if constexpr (std::is_same_v<T, ViewChange>) {
          w.u8(kTagViewChange);
          msg.encode(w);
        } else if constexpr (std::is_same_v<T, SyncRequest>) {
          w.u8(kTagSyncRequest).u64(msg.from_height);
        } else if constexpr (std::is_same_v<T, Transactions>) {
          w.u8(kTagTransactions).u32(static_cast<uint32_t>(msg.txs.size()));
          for (const auto& tx : msg.txs) w.bytes(tx);
        } else {
          w.u8(kTagSyncResponse).u32(static_cast<uint32_t>(msg.blocks.size()));
          for (const auto& cb : msg.blocks) {
            cb.block.encode(w);
            cb.commit_qc.encode(w);
          }
        }
      },
      m);
  return w.take();
}

Result<Message> decode_message(ByteView data) {
  if (data.size() > kBlockBytesMax * 2) return make_error("consensus.decode", "message too large");
  Reader r(data);
  SN_ASSIGN(uint8_t tag, r.u8());
  Message out;
  switch (tag) {
    case kTagProposal: {
      SN_ASSIGN(Proposal p, Proposal::decode(r));
      out = std::move(p);
      break;
    }
    case kTagVote: {
      SN_ASSIGN(Vote v, Vote::decode(r));
      out = std::move(v);
      break;
    }
    case kTagViewChange: {
      SN_ASSIGN(ViewChange vc, ViewChange::decode(r));
      out = std::move(vc);
      break;
    }
    case kTagSyncRequest: {
      SyncRequest s;
      SN_ASSIGN(s.from_height, r.u64());
      out = s;
      break;
    }
    case kTagSyncResponse: {
      SyncResponse s;
      SN_ASSIGN(uint32_t n, r.count(kSyncBlocksMax, 100));
      for (uint32_t i = 0; i < n; i++) {
        CommittedBlock cb;
        SN_ASSIGN(cb.block, Block::decode(r));
        SN_ASSIGN(cb.commit_qc, QuorumCert::decode(r));
        s.blocks.push_back(std::move(cb));
      }
      out = std::move(s);
      break;
    }
    case kTagTransactions: {
      Transactions t;
      SN_ASSIGN(uint32_t n, r.count(kBlockTxsMax, 4));
      for (uint32_t i = 0; i < n; i++) {
        SN_ASSIGN(ByteView tx, r.bytes(kTxBytesMax));
        t.txs.push_back(to_bytes(tx));
      }
      out = std::move(t);
      break;
    }
    default:
      return make_error("consensus.decode", "unknown message tag " + std::to_string(tag));
  }
  SN_TRY(r.finish());
  return out;
}

const char* message_name(const Message& m) {
  static const char* kNames[] = {"proposal", "vote", "view-change", "sync-request", "sync-response", "transactions"};
  return kNames[m.index()];
}

}  // namespace supernet::consensus
