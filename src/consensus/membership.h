// The network's membership state: the validator set and what changes it, as a deterministic
// state machine over committed transactions. Every node, every trusted checker and every
// offline receipt verifier applies the same transactions with this same code.
//
// Transactions it handles (each with its own magic):
//  - KeyRotation "SNKR": a validator's new vote key, signed by its identity key, with platform
//    evidence binding the key, the node, the chain and the nonce that passes the network's
//    policy in force (tee-bft only; bft keys never rotate). Changes the set (epoch + 1).
//  - Governance "SNGV": a member proposes a change, or approves an open proposal. Members are
//    the genesis' [[clients]] with role "member"; each governance transaction carries the
//    member's public key (DER SPKI, whose SHA-256 the genesis lists) and an ECDSA signature by
//    it, so no node can forge a member's vote. A proposal is carried out by the transaction
//    that brings its approvals (the proposer's included) to the genesis' threshold:
//      add_node         a validator with weight, keys and addresses  (epoch + 1); in
//                       tee-bft with evidence for its vote key, as for a rotation
//      remove_node      a validator                                  (epoch + 1)
//      set_weight       a validator's stake                          (epoch + 1)
//      set_measurements the code measurements nodes accept (hex)     (policy, no epoch)
//    A proposal that is no longer valid when it is carried out (the node was already added,
//    say) is marked failed.
//  - Evidence "SNEV": a validator's signed report that another broke the protocol, with the
//    offending signed messages when they fit. Recorded; removing the node is the members'
//    decision.
// check() says whether such a transaction is valid now; a block holding an invalid one is
// invalid (leaders leave them out). Other transactions are not this module's business.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "consensus/genesis.h"
#include "consensus/types.h"
#include "crypto/keys.h"
#include "crypto/secure.h"
#include "keys/release.h"

namespace supernet::consensus {

enum class ChangeKind : uint8_t {
  kAddNode = 1,
  kRemoveNode = 2,
  kSetWeight = 3,
  kSetMeasurements = 4,
  kSetMinTcb = 5,          // raise a platform kind's minimum TCB components
  kRevokePlatformKey = 6,  // distrust a platform key (a virtual platform key id, hex)
  kSetReleasePolicy = 7,   // who may obtain a resource's key (keys/release.h); all empty: none
  kRefreshKey = 8,         // a proactive refresh: the group key reshared to the same validators
  kRevokeChip = 9,         // distrust a hardware machine by chip id (SNP CHIP_ID, PSA/CCA instance id; hex in platform_key)
};
inline constexpr size_t kMinTcbComponentsMax = 16;
const char* change_kind_name(ChangeKind k);

struct Change {
  ChangeKind kind = ChangeKind::kAddNode;
  NodeId node = 0;
  uint64_t weight = 0;
  Bytes identity_key, vote_key;  // add_node
  std::string peer, api;         // add_node: where peers and clients reach it
  std::vector<std::string> measurements;  // set_measurements, lower-case hex
  std::string note;
  // add_node in tee-bft: evidence over vote_key_binding(genesis, node, identity, vote key, 0,
  // issued_at), made by the new node's checker.
  int64_t issued_at = 0;
  Bytes evidence;
  // add_node: a virtual platform key id (hex) to trust from now on, the new "machine" of a
  // development network (a production policy never accepts virtual evidence);
  // revoke_platform_key: the key id to distrust.
  std::string platform_key;
  // set_min_tcb: the platform kind ("sev-snp", "sgx", ...) and its components' minimums
  // (encoded after the fields above, for these kinds only).
  std::string platform;
  std::map<std::string, uint64_t> min_tcb;
  // set_release_policy: the resource, and who may obtain its key (`measurements` above are the
  // node programs whose TAs may; encoded after the fields above, for this kind only).
  std::string resource;
  std::vector<std::string> clients, packages;
};

struct GovernanceTx {
  enum class Action : uint8_t { kPropose = 1, kApprove = 2 };
  Action action = Action::kPropose;
  Change change;      // kPropose
  Hash proposal;      // kApprove: id (SHA-256) of the proposing transaction
  uint64_t nonce = 0;
  Bytes member_spki;  // DER SubjectPublicKeyInfo of the member's key
  Bytes signature;    // ECDSA (DER) by that key over signed_bytes()

  Bytes signed_bytes() const;
  Bytes encode() const;
  static Result<GovernanceTx> decode(ByteView tx);
};
bool is_governance_tx(ByteView tx);
// Fills in the member's public key and signature and encodes the transaction.
Bytes make_governance_tx(GovernanceTx g, const crypto::PrivateKey& member_key);

struct Evidence {
  NodeId reporter = 0, accused = 0;
  std::string reason;
  std::vector<Bytes> messages;  // encoded offending messages (signed by the accused), if they fit
  uint64_t height = 0;          // the reporter's height when it noticed
  Bytes signature;              // Ed25519 by the reporter's identity key

  Bytes signed_bytes() const;
  Bytes encode() const;
  static Result<Evidence> decode(ByteView tx);
};
bool is_evidence_tx(ByteView tx);
// A signed evidence transaction, its messages dropped if they would not fit in one.
Bytes make_evidence_tx(NodeId reporter, NodeId accused, const std::string& reason, std::vector<Bytes> messages,
                       uint64_t height, const crypto::SecureBytes& identity_secret);

// A recovery ("SNRY"), after every node of a tee-bft network restarted at once: no quorum of
// vote keys is left, so consensus cannot order anything, and the members restart it. The
// recovery builds on `block`, the committed block at `height` (the highest any validator
// reported, or one below it), keeps the blocks `carried` above it in order (the highest tip
// itself, which only its reporter may hold, and the block the highest-round vote any validator
// reported above it was for: an old quorum may have committed it, so it must not be replaced),
// and admits the validators' new checker keys: the recovery block holds this
// transaction and then exactly the key rotations `rotation_ids` names (ordinary attested
// rotations, checked as any). Its certificate is the members' approvals (threshold of the
// genesis) over signed_bytes(), never votes; docs/consensus.md has the safety argument.
struct Recovery {
  uint64_t height = 0;
  Hash block;
  std::vector<Hash> carried;  // blocks kept above `block`, in height order (at most kRecoveryCarriedMax)
  std::vector<Hash> rotation_ids;  // SHA-256 of each KeyRotation transaction, in block order
  uint64_t nonce = 0;
  std::string note;

  Bytes signed_bytes(const Hash& genesis_hash) const;
  Bytes encode() const;
  static Result<Recovery> decode(ByteView tx);
  // The height of the recovery block itself.
  uint64_t block_height() const { return height + carried.size() + 1; }
};
bool is_recovery_tx(ByteView tx);
// A member's approval of `recovery` for the chain `genesis_hash`.
MemberApproval approve_recovery(const Recovery& recovery, const Hash& genesis_hash, const crypto::PrivateKey& member_key);

struct ProposalState {
  Change change;
  std::string proposer;
  std::set<std::string> approvals;  // member names
  enum class Status { kOpen, kApplied, kFailed } status = Status::kOpen;
  std::string failure;
  uint64_t proposed_at = 0, decided_at = 0;  // heights
};

struct EvidenceRecord {
  NodeId reporter = 0, accused = 0;
  std::string reason;
  uint64_t height = 0;  // the block that recorded it
  size_t messages = 0;
};

class Membership {
 public:
  Membership() = default;
  // The state at the genesis. `appraiser` admits vote keys that come after it (nullptr: none
  // is ever admitted).
  Membership(const ChainGenesis& genesis, std::shared_ptr<const EvidenceAppraiser> appraiser);
  // The same from the genesis' canonical encoding, whose hash it computes itself.
  static Result<Membership> from_genesis(ByteView genesis_encoding, std::shared_ptr<const EvidenceAppraiser> appraiser);

  Protocol protocol() const { return trust_->protocol; }
  const Hash& genesis_hash() const { return trust_->genesis_hash; }
  const std::string& policy() const { return trust_->policy; }
  const std::shared_ptr<const EvidenceAppraiser>& appraiser() const { return trust_->appraiser; }
  // A running digest over every transaction that changed the validator set or the governance
  // state, in order (what block headers carry, so receipt proofs must be complete).
  const Hash& changes_digest() const { return changes_digest_; }
  static Hash next_changes_digest(const Hash& digest, ByteView tx);
  // `h` names this chain, this set (epoch and hash) and this changes digest.
  Status check_header(const BlockHeader& h) const;
  // Fills those fields of a header being built on this state.
  void fill_header(BlockHeader& h) const;

  const ValidatorSet& set() const { return set_; }
  const GovernanceRules& rules() const { return rules_; }
  // By proposal id (raw SHA-256 as a string).
  const std::map<std::string, ProposalState>& proposals() const { return proposals_; }
  // Measurements the members allowed; empty until a set_measurements proposal is carried out.
  const std::vector<std::string>& measurements() const { return measurements_; }
  // Virtual platform keys the members trusted (add_node), besides the genesis policy's.
  const std::vector<std::string>& platform_keys() const { return platform_keys_; }
  // Minimum TCB components the members set, by platform kind name; revoked platform keys.
  const std::map<std::string, std::map<std::string, uint64_t>>& min_tcb() const { return min_tcb_; }
  const std::vector<std::string>& revoked_platform_keys() const { return revoked_platform_keys_; }
  // Release policies the members set, by resource (keys/release.h).
  const std::map<std::string, keys::ReleasePolicy>& release_policies() const { return release_policies_; }
  // Proactive refreshes of the group key the members ordered (refresh_key), so far.
  uint64_t key_refreshes() const { return key_refreshes_; }
  const std::vector<std::string>& revoked_chip_ids() const { return revoked_chip_ids_; }
  PolicyAdjustments adjustments() const { return {measurements_, platform_keys_, min_tcb_, revoked_platform_keys_, revoked_chip_ids_}; }
  const std::vector<EvidenceRecord>& evidence() const { return evidence_; }
  // Peer and API addresses of validators added by governance.
  const std::map<NodeId, std::pair<std::string, std::string>>& addresses() const { return addresses_; }

  // Key rotations, governance and evidence transactions.
  static bool handles(ByteView tx);
  // Whether a handled transaction is valid in this state (others: ok). `by_recovery`: it is in
  // a block certified by a recovery, whose members named its rotations (their nonces need not
  // be fresh: a node that caught up past a rotation of its own earlier process made its new one
  // on an older state).
  Status check(ByteView tx, bool by_recovery = false) const;
  // Applies a transaction check() accepted, committed at `height`. True when it changed the
  // validator set or the governance state (such transactions go into receipt proofs).
  bool apply(ByteView tx, uint64_t height, bool by_recovery = false);
  // A recovery's approvals: distinct members of this state's governance, each signature valid,
  // at least the threshold.
  Status check_recovery_approvals(const Recovery& r, const std::vector<MemberApproval>& approvals) const;

 private:
  Result<const Member*> check_member(const GovernanceTx& g) const;
  // Valid now: a member's signature, and the proposal new or open and not yet approved by them.
  Result<const Member*> check_governance(const GovernanceTx& g, ByteView tx) const;
  Status check_change(const Change& c) const;
  Status check_rotation(const KeyRotation& k, bool by_recovery = false) const;
  // Evidence for a vote key of `node` that arrives after the genesis, against the policy and
  // governance's measurements in force.
  Status check_vote_key_evidence(NodeId node, ByteView identity_key, ByteView vote_key, uint64_t nonce, int64_t issued_at,
                                 ByteView evidence, const PolicyAdjustments& adjustments) const;
  void carry_out(ProposalState& p, uint64_t height);

  struct Trust {
    Protocol protocol = Protocol::kTeeBft;
    Hash genesis_hash;
    std::string policy;
    std::shared_ptr<const EvidenceAppraiser> appraiser;
    std::set<std::string> clients;  // the genesis' registered client names
  };
  std::shared_ptr<const Trust> trust_ = std::make_shared<Trust>();
  Hash changes_digest_;
  ValidatorSet set_;
  GovernanceRules rules_;
  std::map<std::string, ProposalState> proposals_;
  std::vector<std::string> measurements_;
  std::vector<std::string> platform_keys_;
  std::map<std::string, std::map<std::string, uint64_t>> min_tcb_;
  std::vector<std::string> revoked_platform_keys_;
  std::vector<std::string> revoked_chip_ids_;
  std::map<std::string, keys::ReleasePolicy> release_policies_;
  uint64_t key_refreshes_ = 0;
  std::vector<EvidenceRecord> evidence_;
  std::map<NodeId, std::pair<std::string, std::string>> addresses_;
};

}  // namespace supernet::consensus
