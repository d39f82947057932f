// What signs a node's consensus messages.
//
// tee-bft: the Checker, the small trusted module that lives in the node's TEE. Its Ed25519 key
// exists only in memory, and it signs nothing that breaks the protocol: one proposal per
// (height, round) and only as that round's leader, one vote per (height, round) and only for a
// properly justified proposal extending the committed chain, and view changes that truthfully
// report its last vote. It follows the committed chain only through certificates it verifies
// itself. Every signature carries the next value of its counter, so it never signs two
// messages with one counter. Rollback: its state is never written to disk, so a host cannot
// roll it back; a restarted node gets a new checker key, admitted through a committed
// KeyRotation (see docs/consensus.md).
//
// bft: the PlainSigner. An honest node's signer refuses to sign twice for one (height, round,
// phase) and persists that state (like a validator's "last sign state"); a Byzantine node's
// signer signs anything. No guarantee is trusted by other nodes.
#pragma once

#include <functional>
#include <memory>

#include "consensus/membership.h"
#include "consensus/types.h"
#include "crypto/keys.h"
#include "crypto/secure.h"

namespace supernet::consensus {

class VoteSigner {
 public:
  virtual ~VoteSigner() = default;
  virtual const Bytes& public_key() const = 0;
  // Follows the committed chain. The checker verifies the certificate and applies key
  // rotations itself.
  virtual Status advance(const Block& committed, const QuorumCert& commit_qc) = 0;
  // Sets counter and signature.
  virtual Status sign_proposal(Proposal& p) = 0;
  // Sets voter, counter and signature. tee-bft needs the proposal voted for.
  virtual Status sign_vote(Vote& v, const Proposal* proposal) = 0;
  // Sets sender, counter and signature (tee-bft: also the attested last vote).
  virtual Status sign_view_change(ViewChange& vc) = 0;
};

class Checker : public VoteSigner {
 public:
  // A new checker with a fresh key; it signs nothing until begin().
  explicit Checker(NodeId self);
  // The same with a given key pair: the simulator's seeded keys (its Rng seam).
  Checker(NodeId self, crypto::Ed25519KeyPair key);
  ~Checker() override;
  // Sets the genesis validator set (which holds this checker's key, or, after a restart, the
  // node's previous key) and the genesis hash. Once only.
  Status begin(ValidatorSet genesis_set, Hash genesis_hash);
  // The same with the genesis' governance rules (membership changes it follows).
  Status begin(Membership genesis, Hash genesis_hash);
  const Bytes& public_key() const override { return public_key_; }
  Status advance(const Block& committed, const QuorumCert& commit_qc) override;
  Status sign_proposal(Proposal& p) override;
  Status sign_vote(Vote& v, const Proposal* proposal) override;
  Status sign_view_change(ViewChange& vc) override;

  uint64_t height() const { return height_; }
  const ValidatorSet& validator_set() const { return membership_.set(); }

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

// State an honest bft signer keeps across restarts.
struct SignState {
  uint64_t height = 0, round = 0;
  uint8_t phase = 0;  // 0 proposal, 1 prevote, 2 precommit
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
  Status sign_vote(Vote& v, const Proposal* proposal) override;
  Status sign_view_change(ViewChange& vc) override;

 private:
  Status step(uint64_t height, uint64_t round, uint8_t phase);
  NodeId self_;
  crypto::SecureBytes secret_key_;
  Bytes public_key_;
  std::shared_ptr<SignState> state_;
  std::function<Status(const SignState&)> persist_;
};

}  // namespace supernet::consensus
