#include "consensus/verify.h"

#include <mutex>
#include <set>
#include <unordered_set>

#include "crypto/hash.h"
#include "crypto/keys.h"

namespace supernet::consensus {

namespace {

// Votes are checked once on arrival and again inside every certificate that carries them.
// This remembers successful Ed25519 checks, keyed by (key, signature, SHA-256 of the
// message): a memo of a pure function, so it cannot change an answer. Bounded; failures are
// never remembered.
constexpr size_t kVerifiedCacheMax = 1 << 16;

bool verify_signature(ByteView key, ByteView msg, ByteView sig) {
  static std::mutex mu;
  static std::unordered_set<std::string> verified;
  std::string id = to_string(key) + to_string(sig) + to_string(crypto::sha256(msg));
  {
    std::lock_guard<std::mutex> lock(mu);
    if (verified.count(id)) return true;
  }
  if (!crypto::ed25519_verify(key, msg, sig)) return false;
  std::lock_guard<std::mutex> lock(mu);
  if (verified.size() >= kVerifiedCacheMax) verified.clear();
  verified.insert(std::move(id));
  return true;
}

}  // namespace

bool is_key_rotation(ByteView tx) { return tx.size() >= 4 && to_string(tx.subspan(0, 4)) == "SNKR"; }

Phase commit_phase(Protocol p) { return p == Protocol::kTeeBft ? Phase::kVote : Phase::kPrecommit; }

Status verify_vote(const ValidatorSet& set, Protocol p, const Vote& v) {
  const Validator* val = set.find(v.voter);
  if (val == nullptr) return make_error("consensus.unknown_voter", "vote from non-validator " + std::to_string(v.voter));
  if (p == Protocol::kTeeBft && v.phase != Phase::kVote) return make_error("consensus.phase", "tee-bft has no precommit phase");
  if (v.block.size() != kHashBytes || !verify_signature(val->vote_key, v.signed_bytes(p), v.signature)) {
    return make_error("consensus.bad_signature", "vote signature of node " + std::to_string(v.voter) + " does not verify");
  }
  return ok_status();
}

Status verify_qc(const ValidatorSet& set, Protocol p, const QuorumCert& qc) {
  uint64_t weight = 0;
  std::set<NodeId> seen;
  for (const auto& v : qc.votes) {
    if (v.phase != qc.phase || v.height != qc.height || v.round != qc.round || v.block != qc.block) {
      return make_error("consensus.bad_qc", "certificate holds a vote for something else");
    }
    if (!seen.insert(v.voter).second) return make_error("consensus.bad_qc", "certificate counts a voter twice");
    SN_TRY(verify_vote(set, p, v));
    weight += set.find(v.voter)->weight;
  }
  if (weight < set.quorum(p)) {
    return make_error("consensus.bad_qc", "certificate weight " + std::to_string(weight) + " is below the quorum " +
                                              std::to_string(set.quorum(p)));
  }
  return ok_status();
}

Status verify_proposal_signature(const ValidatorSet& set, const Proposal& p) {
  uint64_t height = p.block.header.height;
  if (set.leader(height, p.round) != p.proposer) {
    return make_error("consensus.not_leader", "node " + std::to_string(p.proposer) + " is not the leader of height " +
                                                  std::to_string(height) + " round " + std::to_string(p.round));
  }
  const Validator* val = set.find(p.proposer);
  if (val == nullptr || !verify_signature(val->vote_key, p.signed_bytes(), p.signature)) {
    return make_error("consensus.bad_signature", "proposal signature of node " + std::to_string(p.proposer) + " does not verify");
  }
  return ok_status();
}

Status verify_view_change(const ValidatorSet& set, Protocol p, const Hash& chain, const ViewChange& vc) {
  const Validator* val = set.find(vc.sender);
  if (val == nullptr) return make_error("consensus.unknown_voter", "view change from non-validator");
  if (vc.chain != chain || vc.epoch != set.epoch()) {
    return make_error("consensus.bad_view_change", "view change of node " + std::to_string(vc.sender) +
                                                       " names another chain or validator set epoch");
  }
  if (!verify_signature(val->vote_key, vc.signed_bytes(), vc.signature)) {
    return make_error("consensus.bad_signature", "view change signature of node " + std::to_string(vc.sender) + " does not verify");
  }
  if (vc.has_last_vote && (vc.last_block.size() != kHashBytes || vc.last_round >= vc.new_round)) {
    return make_error("consensus.bad_view_change", "view change reports a vote not below its round");
  }
  if (vc.highest_qc) {
    if (p != Protocol::kBft || vc.highest_qc->phase != Phase::kVote || vc.highest_qc->height != vc.height ||
        vc.highest_qc->round >= vc.new_round) {
      return make_error("consensus.bad_view_change", "view change carries an unfit certificate");
    }
    SN_TRY(verify_qc(set, p, *vc.highest_qc));
  }
  return ok_status();
}

Result<Justification> verify_view_change_quorum(const ValidatorSet& set, Protocol p, const Hash& chain, uint64_t height,
                                                uint64_t round, const std::vector<ViewChange>& vcs) {
  Justification j;
  uint64_t weight = 0;
  std::set<NodeId> seen;
  std::optional<uint64_t> best;
  for (const auto& vc : vcs) {
    if (vc.height != height || vc.new_round != round) return make_error("consensus.bad_justification", "view change for another round");
    if (!seen.insert(vc.sender).second) return make_error("consensus.bad_justification", "view change sender counted twice");
    SN_TRY(verify_view_change(set, p, chain, vc));
    weight += set.find(vc.sender)->weight;
    if (p == Protocol::kTeeBft && vc.has_last_vote && (!best || vc.last_round > *best)) {
      best = vc.last_round;
      j.required_block = vc.last_block;
    }
    if (p == Protocol::kBft && vc.highest_qc && (!best || vc.highest_qc->round > *best)) {
      best = vc.highest_qc->round;
      j.required_block = vc.highest_qc->block;
    }
  }
  if (weight < set.quorum(p)) return make_error("consensus.bad_justification", "view changes below quorum weight");
  j.required_round = best.value_or(0);
  return j;
}

Status verify_key_rotation(const ValidatorSet& set, const KeyRotation& k, bool fresh_nonce) {
  const Validator* val = set.find(k.node);
  if (val == nullptr) return make_error("consensus.rotation", "key rotation for non-validator " + std::to_string(k.node));
  if (fresh_nonce && k.nonce <= val->rotation_nonce) return make_error("consensus.rotation", "key rotation nonce is not fresh (replay)");
  if (k.new_vote_key.size() != kKeyBytes || !crypto::ed25519_verify(val->identity_key, k.signed_bytes(), k.signature)) {
    return make_error("consensus.rotation", "key rotation is not signed by the node's identity key");
  }
  return ok_status();
}

}  // namespace supernet::consensus
