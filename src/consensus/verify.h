// Signature and certificate checks shared by the replicas and the trusted checker module.
// Pure functions of their arguments.
#pragma once

#include "consensus/types.h"

namespace supernet::consensus {

bool is_key_rotation(ByteView tx);

Status verify_vote(const ValidatorSet& set, Protocol p, const Vote& v);
// Distinct voters of the set, each vote valid, their weight a quorum.
Status verify_qc(const ValidatorSet& set, Protocol p, const QuorumCert& qc);
// The phase whose certificate commits a block: kVote in tee-bft, kPrecommit in bft.
Phase commit_phase(Protocol p);
Status verify_proposal_signature(const ValidatorSet& set, const Proposal& p);
// Also: it names `chain` (the genesis hash) and the set's epoch.
Status verify_view_change(const ValidatorSet& set, Protocol p, const Hash& chain, const ViewChange& vc);

// What a quorum of view changes for (height, round) obliges the round's leader to propose.
struct Justification {
  // tee-bft: the block of the highest-round last vote among the view changes, if any.
  // bft: the block of the highest prevote certificate among them, if any.
  std::optional<Hash> required_block;
  uint64_t required_round = 0;
};
Result<Justification> verify_view_change_quorum(const ValidatorSet& set, Protocol p, const Hash& chain, uint64_t height,
                                                uint64_t round, const std::vector<ViewChange>& vcs);

// A key rotation's signature by the node's identity key and its nonce against the set (its
// evidence is Membership's to check).
// `fresh_nonce` false: a rotation a recovery names (the members chose it; its nonce need only be
// what its evidence binds).
Status verify_key_rotation(const ValidatorSet& set, const KeyRotation& k, bool fresh_nonce = true);

}  // namespace supernet::consensus
