// What signs a node's consensus messages.
//
// tee-bft: the Checker, the small trusted module that lives in the node's TEE. Its Ed25519 key
// exists only in memory, and it signs nothing that breaks the protocol: one proposal per
// (height, round) and only as that round's leader, one vote per (height, round) and only for a
// properly justified proposal extending the committed chain, and view changes that truthfully
// report its last vote. It follows the committed chain only through certificates it verifies
// itself, from the genesis it decoded and hashed itself, with the appraiser (code) admitting
// later vote keys: nothing it believes is a host input it did not verify. Every signature
// carries the next value of its counter, so it never signs two messages with one counter.
// Rollback: its state is never written to disk, so a host cannot roll it back; a restarted node
// gets a new checker key, admitted through a committed KeyRotation whose evidence binds the key
// and the chain the checker computed (see docs/consensus.md).
//
// bft: the PlainSigner. An honest node's signer refuses to sign twice for one (height, round,
// phase) and persists that state with its lock and highest prevote certificate (like a
// validator's "last sign state"), before it releases any signature; a Byzantine node's signer
// signs anything. No guarantee is trusted by other nodes.
#pragma once

#include <functional>
#include <memory>

#include "consensus/membership.h"
#include "consensus/types.h"
#include "crypto/keys.h"
#include "crypto/secure.h"

namespace supernet::consensus {

// bft: what a node is locked on at one height (its last precommit), with the block itself so
// that a restarted node can still re-propose it.
struct BftLock {
  uint64_t round = 0;
  Block block;
};

// State an honest bft signer keeps across restarts, all of it at `height`.
inline constexpr size_t kSignStateEarlierMax = 4;

struct SignState {
  uint64_t height = 0, round = 0;
  uint8_t phase = 0;  // 0 proposal, 1 prevote, 2 precommit
  std::optional<BftLock> lock;
  std::optional<QuorumCert> highest_qc;  // the highest prevote certificate it signed with
  // The block of its last prevote: a restarted network may need it to re-propose the block of a
  // prevote certificate that no node locked on.
  std::optional<Block> prevoted;
  // The other blocks it prevoted at this height, oldest first, at most kSignStateEarlierMax
  // (trimming keeps the block of highest_qc): the prevote certificate a node learns later may be
  // for one of them, and after every node restarted the only copies are these (found by the
  // total-stop nemesis: bft seeds 5513 and 5786, where a certificate named a block that every
  // honest node had prevoted and then replaced by a later prevote).
  std::vector<Block> earlier_prevotes;
  // Moves `replaced` (the block of an earlier prevote) into earlier_prevotes, bounded.
  void keep_earlier(const Block& replaced);
  Bytes encode() const;
  static Result<SignState> decode(ByteView data);
};

// A key rotation to a checker's key as the checker makes it (node, key, nonce, issue time),
// and the report data the node must obtain platform evidence over.
struct RotationRequest {
  KeyRotation rotation;
  Bytes report_data;
};

class VoteSigner {
 public:
  virtual ~VoteSigner() = default;
  virtual const Bytes& public_key() const = 0;
  // Follows the committed chain. The checker verifies the certificate and applies key
  // rotations itself.
  virtual Status advance(const Block& committed, const QuorumCert& commit_qc) = 0;
  // Sets counter and signature.
  virtual Status sign_proposal(Proposal& p) = 0;
  // Sets voter, counter and signature. tee-bft needs the proposal voted for; a bft precommit
  // carries the lock it takes and the prevote certificate that justifies it.
  virtual Status sign_vote(Vote& v, const Proposal* proposal, const BftLock* lock = nullptr,
                           const QuorumCert* prevote_qc = nullptr) = 0;
  // Sets chain, epoch, sender, counter and signature (tee-bft: also the attested last vote).
  virtual Status sign_view_change(ViewChange& vc) = 0;
  // tee-bft: a rotation to this signer's key. bft keys do not rotate.
  virtual Result<RotationRequest> key_rotation(int64_t issued_at) const {
    return make_error("signer.rotation", "this signer's key does not rotate");
  }
  // bft: the persisted state (lock and certificate) to resume from after a restart.
  virtual const SignState* persisted() const { return nullptr; }
};

class Checker : public VoteSigner {
 public:
  // A new checker with a fresh key; it signs nothing until begin().
  explicit Checker(NodeId self);
  // The same with a given key pair: the simulator's seeded keys (its Rng seam).
  Checker(NodeId self, crypto::Ed25519KeyPair key);
  ~Checker() override;
  // Begins from the genesis' canonical encoding (ChainGenesis::encode): the checker decodes it
  // and computes the genesis hash itself, so a validator set and a hash can never be handed to
  // it apart. `appraiser` admits vote keys after the genesis. Once only.
  Status begin(ByteView genesis_encoding, std::shared_ptr<const EvidenceAppraiser> appraiser);
  const Bytes& public_key() const override { return public_key_; }
  Status advance(const Block& committed, const QuorumCert& commit_qc) override;
  Status sign_proposal(Proposal& p) override;
  Status sign_vote(Vote& v, const Proposal* proposal, const BftLock* lock = nullptr,
                   const QuorumCert* prevote_qc = nullptr) override;
  Status sign_view_change(ViewChange& vc) override;
  // The node's next rotation to this key, from the chain this checker verified.
  Result<RotationRequest> key_rotation(int64_t issued_at) const override;
  // For a node not yet in the set (joining by add_node): the report data binding this key to
  // `identity_key` with nonce 0.
  Result<Bytes> admission_binding(ByteView identity_key, int64_t issued_at) const;

  uint64_t height() const { return height_; }
  const ValidatorSet& validator_set() const { return membership_.set(); }
  const Hash& genesis_hash() const { return membership_.genesis_hash(); }

 private:
  Bytes sign(ByteView msg);
  Status check_extends_chain(const BlockHeader& h) const;

  NodeId self_;
  bool begun_ = false;
  Membership membership_;
  Bytes public_key_;
  crypto::SecureBytes secret_key_;
  uint64_t counter_ = 0;
  uint64_t height_ = 1;
  Hash parent_;
  std::optional<std::pair<uint64_t, Hash>> last_vote_;  // (round, block) at height_
  std::optional<uint64_t> last_proposal_round_;
  uint64_t view_change_round_ = 0;
};

class PlainSigner : public VoteSigner {
 public:
  // `state` is the persisted last-sign state (shared with the simulator's "disk"); nullptr
  // for a Byzantine signer that signs anything.
  // `persist` (optional) stores the state durably; a signature is released only after it
  // succeeds.
  PlainSigner(NodeId self, crypto::SecureBytes secret_key, Bytes public_key, std::shared_ptr<SignState> state,
              std::function<Status(const SignState&)> persist = nullptr);
  const Bytes& public_key() const override { return public_key_; }
  Status advance(const Block&, const QuorumCert&) override { return ok_status(); }
  Status sign_proposal(Proposal& p) override;
  Status sign_vote(Vote& v, const Proposal* proposal, const BftLock* lock = nullptr,
                   const QuorumCert* prevote_qc = nullptr) override;
  Status sign_view_change(ViewChange& vc) override;
  const SignState* persisted() const override { return state_.get(); }

 private:
  // Moves to the next step (never twice, never back) with what it locks and carries, persists
  // it, and only then lets the caller sign.
  Status step(uint64_t height, uint64_t round, uint8_t phase, const BftLock* lock, const QuorumCert* qc,
              const Block* prevoted = nullptr);
  NodeId self_;
  crypto::SecureBytes secret_key_;
  Bytes public_key_;
  std::shared_ptr<SignState> state_;
  std::function<Status(const SignState&)> persist_;
};

}  // namespace supernet::consensus
