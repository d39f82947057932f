#include "consensus/signer.h"

#include "consensus/verify.h"
#include "crypto/keys.h"

namespace supernet::consensus {

static Error refused(const std::string& why) { return make_error("checker.refused", why); }

Checker::Checker(NodeId self) : Checker(self, crypto::ed25519_generate()) {}

Checker::Checker(NodeId self, crypto::Ed25519KeyPair key)
    : self_(self), public_key_(std::move(key.public_key)), secret_key_(std::move(key.secret_key)) {}

Status Checker::begin(ValidatorSet genesis_set, Hash genesis_hash) {
  return begin(Membership(std::move(genesis_set), {}), std::move(genesis_hash));
}

Status Checker::begin(Membership genesis, Hash genesis_hash) {
  if (begun_) return refused("checker already has its genesis");
  begun_ = true;
  membership_ = std::move(genesis);
  parent_ = std::move(genesis_hash);
  return ok_status();
}

Checker::~Checker() = default;  // SecureBytes wipes the key

Bytes Checker::sign(ByteView msg) { return crypto::ed25519_sign(secret_key_, msg); }

Status Checker::check_extends_chain(const BlockHeader& h) const {
  if (!begun_) return refused("checker has no genesis yet");
  if (h.height != height_) return refused("block height " + std::to_string(h.height) + " is not the checker's " + std::to_string(height_));
  if (h.parent != parent_) return refused("block does not extend the committed chain");
  if (h.epoch != membership_.set().epoch()) return refused("block names another validator set epoch");
  return ok_status();
}

Status Checker::advance(const Block& b, const QuorumCert& qc) {
  SN_TRY(check_extends_chain(b.header));
  if (!b.txs_match_header()) return refused("committed block's transactions do not match its header");
  if (qc.phase != Phase::kVote || qc.height != height_ || qc.block != b.header.hash()) {
    return refused("certificate is not for this block");
  }
  SN_TRY(verify_qc(membership_.set(), Protocol::kTeeBft, qc));
  // The same state machine as every replica's chain: the set changes only as they see it.
  for (const auto& tx : b.txs) {
    if (Membership::handles(tx)) membership_.apply(tx, b.header.height);
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
    SN_ASSIGN(Justification j, verify_view_change_quorum(membership_.set(), Protocol::kTeeBft, h.height, p.round, p.view_changes));
    if (j.required_block && *j.required_block != h.hash()) return refused("must re-propose the highest voted block");
  }
  last_proposal_round_ = p.round;
  p.counter = ++counter_;
  p.signature = sign(p.signed_bytes());
  return ok_status();
}

Status Checker::sign_vote(Vote& v, const Proposal* p) {
  if (p == nullptr || v.phase != Phase::kVote) return refused("a vote needs the proposal it is for");
  const BlockHeader& h = p->block.header;
  SN_TRY(check_extends_chain(h));
  if (v.height != h.height || v.round != p->round || v.block != h.hash()) return refused("vote does not match the proposal");
  SN_TRY(verify_proposal_signature(membership_.set(), *p));
  if (last_vote_ && v.round <= last_vote_->first) return refused("already voted in this or a later round");
  if (v.round < view_change_round_) return refused("round is below a view change this checker signed");
  if (v.round > 0) {
    SN_ASSIGN(Justification j, verify_view_change_quorum(membership_.set(), Protocol::kTeeBft, h.height, p->round, p->view_changes));
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

Status PlainSigner::step(uint64_t height, uint64_t round, uint8_t phase) {
  if (!state_) return ok_status();  // Byzantine: signs anything
  // Proposal (0) < prevote (1) < precommit (2) within a round; never twice, never back.
  auto next = std::make_tuple(height, round, phase);
  if (state_->height != 0 && next <= std::make_tuple(state_->height, state_->round, state_->phase)) {
    return refused("would sign twice for one step, or go back");
  }
  SignState next_state{height, round, phase};
  if (persist_) SN_TRY(persist_(next_state));
  *state_ = next_state;
  return ok_status();
}

Status PlainSigner::sign_proposal(Proposal& p) {
  SN_TRY(step(p.block.header.height, p.round, 0));
  p.counter = 0;
  p.signature = crypto::ed25519_sign(secret_key_, p.signed_bytes());
  return ok_status();
}

Status PlainSigner::sign_vote(Vote& v, const Proposal*) {
  SN_TRY(step(v.height, v.round, static_cast<uint8_t>(v.phase)));
  v.voter = self_;
  v.counter = 0;
  v.signature = crypto::ed25519_sign(secret_key_, v.signed_bytes(Protocol::kBft));
  return ok_status();
}

Status PlainSigner::sign_view_change(ViewChange& vc) {
  vc.sender = self_;
  vc.has_last_vote = false;
  vc.counter = 0;
  vc.signature = crypto::ed25519_sign(secret_key_, vc.signed_bytes());
  return ok_status();
}

}  // namespace supernet::consensus
