#include "consensus/signer.h"

#include "consensus/chain.h"
#include "consensus/verify.h"
#include "crypto/keys.h"

namespace supernet::consensus {

static Error refused(const std::string& why) { return make_error("checker.refused", why); }

Checker::Checker(NodeId self) : Checker(self, crypto::ed25519_generate()) {}

Checker::Checker(NodeId self, crypto::Ed25519KeyPair key)
    : self_(self), public_key_(std::move(key.public_key)), secret_key_(std::move(key.secret_key)) {}

Status Checker::begin(ByteView genesis_encoding, std::shared_ptr<const EvidenceAppraiser> appraiser) {
  if (begun_) return refused("checker already has its genesis");
  SN_ASSIGN(Membership m, Membership::from_genesis(genesis_encoding, std::move(appraiser)));
  if (m.protocol() != Protocol::kTeeBft) return refused("a checker serves tee-bft chains only");
  begun_ = true;
  membership_ = std::move(m);
  parent_ = membership_.genesis_hash();
  return ok_status();
}

Result<RotationRequest> Checker::key_rotation(int64_t issued_at) const {
  if (!begun_) return refused("checker has no genesis yet");
  const Validator* me = membership_.set().find(self_);
  if (me == nullptr) return refused("node " + std::to_string(self_) + " is not a validator of the chain this checker follows");
  RotationRequest r;
  r.rotation.node = self_;
  r.rotation.new_vote_key = public_key_;
  r.rotation.nonce = me->rotation_nonce + 1;
  r.rotation.issued_at = issued_at;
  r.report_data = vote_key_binding(membership_.genesis_hash(), self_, me->identity_key, public_key_, r.rotation.nonce, issued_at);
  return r;
}

Result<Bytes> Checker::admission_binding(ByteView identity_key, int64_t issued_at) const {
  if (!begun_) return refused("checker has no genesis yet");
  if (identity_key.size() != kKeyBytes) return refused("an identity key is 32 bytes");
  return vote_key_binding(membership_.genesis_hash(), self_, identity_key, public_key_, 0, issued_at);
}

Checker::~Checker() = default;  // SecureBytes wipes the key

Bytes Checker::sign(ByteView msg) { return crypto::ed25519_sign(secret_key_, msg); }

Status Checker::check_extends_chain(const BlockHeader& h) const {
  if (!begun_) return refused("checker has no genesis yet");
  if (h.height != height_) return refused("block height " + std::to_string(h.height) + " is not the checker's " + std::to_string(height_));
  if (h.parent != parent_) return refused("block does not extend the committed chain");
  if (auto s = membership_.check_header(h); !s.ok()) return refused(s.error().message);
  return ok_status();
}

Status Checker::advance(const Block& b, const QuorumCert& qc) {
  SN_TRY(check_extends_chain(b.header));
  if (!b.txs_match_header()) return refused("committed block's transactions do not match its header");
  if (qc.phase == Phase::kRecovery) {
    // After a total stop: the members' approvals, verified here as by every replica.
    if (auto s = verify_recovery_block(membership_, height_, parent_, b, qc); !s.ok()) return refused(s.error().message);
  } else {
    if (qc.phase != Phase::kVote || qc.height != height_ || qc.block != b.header.hash()) {
      return refused("certificate is not for this block");
    }
    SN_TRY(verify_qc(membership_.set(), Protocol::kTeeBft, qc));
  }
  // The same state machine as every replica's chain: the set changes only as they see it.
  for (const auto& tx : b.txs) {
    if (Membership::handles(tx)) membership_.apply(tx, b.header.height, qc.phase == Phase::kRecovery);
  }
  height_++;
  parent_ = b.header.hash();
  last_vote_.reset();
  last_proposal_round_.reset();
  view_change_round_ = 0;
  return ok_status();
}

Status Checker::sign_proposal(Proposal& p) {
  const BlockHeader& h = p.block.header;
  SN_TRY(check_extends_chain(h));
  if (p.proposer != self_ || membership_.set().leader(h.height, p.round) != self_) return refused("not the leader of this round");
  if (last_proposal_round_ && p.round <= *last_proposal_round_) return refused("already proposed in this or a later round");
  if (p.round > 0) {
    SN_ASSIGN(Justification j, verify_view_change_quorum(membership_.set(), Protocol::kTeeBft, membership_.genesis_hash(),
                                                         h.height, p.round, p.view_changes));
    if (j.required_block && *j.required_block != h.hash()) return refused("must re-propose the highest voted block");
  }
  last_proposal_round_ = p.round;
  p.counter = ++counter_;
  p.signature = sign(p.signed_bytes());
  return ok_status();
}

Status Checker::sign_vote(Vote& v, const Proposal* p, const BftLock*, const QuorumCert*) {
  if (p == nullptr || v.phase != Phase::kVote) return refused("a vote needs the proposal it is for");
  const BlockHeader& h = p->block.header;
  SN_TRY(check_extends_chain(h));
  if (v.height != h.height || v.round != p->round || v.block != h.hash()) return refused("vote does not match the proposal");
  SN_TRY(verify_proposal_signature(membership_.set(), *p));
  if (last_vote_ && v.round <= last_vote_->first) return refused("already voted in this or a later round");
  if (v.round < view_change_round_) return refused("round is below a view change this checker signed");
  if (v.round > 0) {
    SN_ASSIGN(Justification j, verify_view_change_quorum(membership_.set(), Protocol::kTeeBft, membership_.genesis_hash(),
                                                         h.height, p->round, p->view_changes));
    if (j.required_block && *j.required_block != v.block) return refused("proposal ignores the highest voted block");
  }
  last_vote_ = std::make_pair(v.round, v.block);
  v.voter = self_;
  v.counter = ++counter_;
  v.signature = sign(v.signed_bytes(Protocol::kTeeBft));
  return ok_status();
}

Status Checker::sign_view_change(ViewChange& vc) {
  if (!begun_ || vc.height != height_) return refused("view change for another height");
  if (vc.new_round <= view_change_round_ || (last_vote_ && vc.new_round <= last_vote_->first)) {
    return refused("view change does not move to a later round");
  }
  view_change_round_ = vc.new_round;
  vc.chain = membership_.genesis_hash();
  vc.epoch = membership_.set().epoch();
  vc.sender = self_;
  vc.has_last_vote = last_vote_.has_value();
  vc.last_round = last_vote_ ? last_vote_->first : 0;
  vc.last_block = last_vote_ ? last_vote_->second : Hash{};
  vc.highest_qc.reset();
  vc.counter = ++counter_;
  vc.signature = sign(vc.signed_bytes());
  return ok_status();
}

PlainSigner::PlainSigner(NodeId self, crypto::SecureBytes secret_key, Bytes public_key, std::shared_ptr<SignState> state,
                         std::function<Status(const SignState&)> persist)
    : self_(self),
      secret_key_(std::move(secret_key)),
      public_key_(std::move(public_key)),
      state_(std::move(state)),
      persist_(std::move(persist)) {}

Status PlainSigner::step(uint64_t height, uint64_t round, uint8_t phase, const BftLock* lock, const QuorumCert* qc,
                         const Block* prevoted) {
  if (!state_) return ok_status();  // Byzantine: signs anything
  // Proposal (0) < prevote (1) < precommit (2) within a round; never twice, never back.
  auto next = std::make_tuple(height, round, phase);
  if (state_->height != 0 && next <= std::make_tuple(state_->height, state_->round, state_->phase)) {
    return refused("would sign twice for one step, or go back");
  }
  SignState next_state;
  next_state.height = height;
  next_state.round = round;
  next_state.phase = phase;
  if (state_->height == height) {  // the lock and certificate of this height carry over
    next_state.lock = state_->lock;
    next_state.highest_qc = state_->highest_qc;
    next_state.prevoted = state_->prevoted;
    next_state.earlier_prevotes = state_->earlier_prevotes;
  }
  if (lock) next_state.lock = *lock;
  if (qc && (!next_state.highest_qc || qc->round > next_state.highest_qc->round)) next_state.highest_qc = *qc;
  if (prevoted) {
    if (next_state.prevoted && next_state.prevoted->header.hash() != prevoted->header.hash()) next_state.keep_earlier(*next_state.prevoted);
    next_state.prevoted = *prevoted;
  }
  if (persist_) SN_TRY(persist_(next_state));
  *state_ = std::move(next_state);
  return ok_status();
}

Status PlainSigner::sign_proposal(Proposal& p) {
  SN_TRY(step(p.block.header.height, p.round, 0, nullptr, nullptr));
  p.counter = 0;
  p.signature = crypto::ed25519_sign(secret_key_, p.signed_bytes());
  return ok_status();
}

Status PlainSigner::sign_vote(Vote& v, const Proposal* proposal, const BftLock* lock, const QuorumCert* prevote_qc) {
  if (state_ && v.phase == Phase::kPrecommit && (lock == nullptr || prevote_qc == nullptr || lock->round != v.round ||
                                                 lock->block.header.hash() != v.block || prevote_qc->block != v.block)) {
    return refused("a precommit needs the lock it takes and its prevote certificate");
  }
  const Block* prevoted = v.phase == Phase::kVote && proposal != nullptr ? &proposal->block : nullptr;
  SN_TRY(step(v.height, v.round, static_cast<uint8_t>(v.phase), lock, prevote_qc, prevoted));
  v.voter = self_;
  v.counter = 0;
  v.signature = crypto::ed25519_sign(secret_key_, v.signed_bytes(Protocol::kBft));
  return ok_status();
}

Status PlainSigner::sign_view_change(ViewChange& vc) {
  // A view change may carry a certificate the state has not recorded yet: persist it first, so
  // that a restarted node never reports less than it did. (At a height where this node has
  // signed nothing it holds no lock, and safety rests on locks.)
  if (state_ && vc.highest_qc && vc.height == state_->height &&
      (!state_->highest_qc || vc.highest_qc->round > state_->highest_qc->round)) {
    SignState next = *state_;
    next.highest_qc = vc.highest_qc;
    if (persist_) SN_TRY(persist_(next));
    *state_ = std::move(next);
  }
  vc.sender = self_;
  vc.has_last_vote = false;
  vc.counter = 0;
  vc.signature = crypto::ed25519_sign(secret_key_, vc.signed_bytes());
  return ok_status();
}

// --- the persisted sign state ---

void SignState::keep_earlier(const Block& replaced) {
  Hash h = replaced.header.hash();
  for (const auto& b : earlier_prevotes) {
    if (b.header.hash() == h) return;
  }
  earlier_prevotes.push_back(replaced);
  while (earlier_prevotes.size() > kSignStateEarlierMax) {
    // Drop the oldest, unless it is the block of the highest certificate (then the next).
    size_t drop = 0;
    if (highest_qc && earlier_prevotes[0].header.hash() == highest_qc->block) drop = 1;
    earlier_prevotes.erase(earlier_prevotes.begin() + static_cast<long>(drop));
  }
}

Bytes SignState::encode() const {
  Writer w;
  w.str("supernet-sign-state-v3").u64(height).u64(round).u8(phase).u8(lock ? 1 : 0);
  if (lock) {
    w.u64(lock->round);
    lock->block.encode(w);
  }
  w.u8(highest_qc ? 1 : 0);
  if (highest_qc) highest_qc->encode(w);
  w.u8(prevoted ? 1 : 0);
  if (prevoted) prevoted->encode(w);
  w.u32(static_cast<uint32_t>(earlier_prevotes.size()));
  for (const auto& b : earlier_prevotes) b.encode(w);
  return w.take();
}

Result<SignState> SignState::decode(ByteView data) {
  Reader r(data);
  SN_ASSIGN(ByteView magic, r.bytes(64));
  // v2 (before qc_block) is read as it was written.
  bool v3 = to_string(magic) == "supernet-sign-state-v3";
  if (!v3 && to_string(magic) != "supernet-sign-state-v2") return make_error("sign_state.format", "not a bft sign state");
  SignState s;
  SN_ASSIGN(s.height, r.u64());
  SN_ASSIGN(s.round, r.u64());
  SN_ASSIGN(s.phase, r.u8());
  if (s.phase > 2) return make_error("sign_state.format", "unknown phase");
  SN_ASSIGN(uint8_t has_lock, r.u8());
  if (has_lock == 1) {
    BftLock l;
    SN_ASSIGN(l.round, r.u64());
    SN_ASSIGN(l.block, Block::decode(r));
    s.lock = std::move(l);
  }
  SN_ASSIGN(uint8_t has_qc, r.u8());
  if (has_qc == 1) {
    SN_ASSIGN(QuorumCert qc, QuorumCert::decode(r));
    s.highest_qc = std::move(qc);
  }
  SN_ASSIGN(uint8_t has_prevoted, r.u8());
  if (has_prevoted == 1) {
    SN_ASSIGN(Block b, Block::decode(r));
    s.prevoted = std::move(b);
  }
  if (has_prevoted > 1) return make_error("sign_state.format", "bad flag");
  if (v3) {
    SN_ASSIGN(uint32_t n, r.u32());
    if (n > kSignStateEarlierMax) return make_error("sign_state.format", "too many earlier prevotes");
    for (uint32_t i = 0; i < n; i++) {
      SN_ASSIGN(Block b, Block::decode(r));
      s.earlier_prevotes.push_back(std::move(b));
    }
  }
  SN_TRY(r.finish());
  return s;
}

}  // namespace supernet::consensus
