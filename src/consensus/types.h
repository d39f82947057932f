// Consensus data: validators, blocks, votes, certificates and the protocol's messages, with
// their explicit binary encoding. Everything signed is signed over an encoding built here,
// prefixed with a domain string, never over re-serialized structures.
#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "util/bytes.h"
#include "util/codec.h"
#include "util/result.h"

namespace supernet::consensus {

using NodeId = uint32_t;
using Hash = Bytes;  // 32 bytes (SHA-256)
using TimeMs = int64_t;

enum class Protocol : uint8_t {
  // n = 2f+1. Votes are signed by each node's trusted checker module, which refuses to
  // equivocate or to break the voting rules. One vote phase; quorum = more than half the weight.
  kTeeBft = 1,
  // n = 3f+1. Trusts no TEE: propose, prevote, precommit with locking; quorum = more than two
  // thirds of the weight.
  kBft = 2,
};
const char* protocol_name(Protocol p);

// Limits on everything that arrives from outside.
inline constexpr size_t kValidatorsMax = 64;
inline constexpr size_t kBlockTxsMax = 4096;
inline constexpr size_t kTxBytesMax = 64 * 1024;
inline constexpr size_t kBlockBytesMax = 8 * 1024 * 1024;
// What a leader puts in one block, and a node in one sync response, bounded in bytes so that
// every consensus message fits one peer frame (1 MiB, net::kFrameBytesMax) with its headers
// and certificates. A block always takes at least one transaction (at most kTxBytesMax).
inline constexpr size_t kBlockTxBytesMax = 768 * 1024;
inline constexpr size_t kSyncBytesMax = 768 * 1024;
inline constexpr size_t kSyncBlocksMax = 32;
inline constexpr size_t kHashBytes = 32;
inline constexpr size_t kSignatureBytes = 64;
inline constexpr size_t kKeyBytes = 32;
inline constexpr size_t kMembersMax = 1024;
// A recovery transaction (heights, hashes and the ids of the rotations it admits).
inline constexpr size_t kRecoveryBytesMax = 64 * 1024;
inline constexpr size_t kRecoveryCarriedMax = 4;
// Platform evidence in a key rotation or an added node's change (hardware quotes with their
// certificate chains fit; tee::kEvidenceBytesMax is the same bound).
inline constexpr size_t kRotationEvidenceBytesMax = 64 * 1024;

struct Validator {
  NodeId id = 0;
  uint64_t weight = 1;
  Bytes vote_key;      // Ed25519 public key: the checker module's in tee-bft, the node's in bft
  Bytes identity_key;  // Ed25519 public key of the node itself (long-term, sealed in its TEE)
  uint64_t rotation_nonce = 0;  // the last key rotation applied for this node
};

class ValidatorSet {
 public:
  ValidatorSet() = default;
  ValidatorSet(std::vector<Validator> validators, uint64_t epoch);
  const std::vector<Validator>& validators() const { return v_; }
  size_t size() const { return v_.size(); }
  uint64_t epoch() const { return epoch_; }
  uint64_t total_weight() const { return total_; }
  const Validator* find(NodeId id) const;
  // Smallest weight that makes a quorum: > 1/2 of the total for tee-bft, > 2/3 for bft.
  uint64_t quorum(Protocol p) const;
  // Round-robin over validators in id order.
  NodeId leader(uint64_t height, uint64_t round) const;
  Hash hash() const;
  // The same set, next epoch, with one validator's vote key replaced (key rotation).
  ValidatorSet with_key(NodeId id, const Bytes& key, uint64_t nonce) const;
  // The same set, next epoch, with a validator added, removed, or its weight changed.
  ValidatorSet with_validator(const Validator& v) const;
  ValidatorSet without(NodeId id) const;
  ValidatorSet with_weight(NodeId id, uint64_t weight) const;

 private:
  std::vector<Validator> v_;
  uint64_t epoch_ = 0;
  uint64_t total_ = 0;
};

// Who may change the membership (governance), from the genesis.
struct Member {
  std::string name;
  Bytes spki_sha256;
};

struct GovernanceRules {
  std::vector<Member> members;
  uint32_t approvals = 0;  // needed to carry out a proposal; 0: no governance
  // A majority of the members.
  static uint32_t majority(size_t members) { return static_cast<uint32_t>(members / 2 + 1); }
};

// A block's identity does not depend on the round that proposes it: a block re-proposed in a
// later round keeps its hash, so votes and certificates for it stay valid.
//
// A header pins what it is checked against: the chain (genesis hash), the validator set it was
// agreed under (its hash), and every membership change before it (a running digest), so a
// receipt cannot be checked against a set that never existed or passed across chains.
struct BlockHeader {
  uint64_t height = 0;
  Hash parent;        // hash of the header at height - 1 (genesis: the genesis hash)
  Hash tx_root;       // Merkle root of the transactions
  uint32_t tx_count = 0;
  NodeId creator = 0;  // the node that first built the block
  uint64_t epoch = 0;  // validator set epoch the block was agreed under
  Hash chain;          // the genesis hash
  Hash validators;     // ValidatorSet::hash() of the set in force (epoch above)
  Hash changes;        // Membership::changes_digest() before this block's transactions
  Hash hash() const;
  void encode(Writer& w) const;
  static Result<BlockHeader> decode(Reader& r);
};

struct Block {
  BlockHeader header;
  std::vector<Bytes> txs;
  void encode(Writer& w) const;
  static Result<Block> decode(Reader& r);
  // The header's tx_root and tx_count describe these transactions.
  bool txs_match_header() const;
};

enum class Phase : uint8_t {
  kVote = 1,       // tee-bft's single vote; bft's prevote
  kPrecommit = 2,  // bft only
  // Not a vote: the certificate of a recovery block, the members' approvals (membership.h).
  kRecovery = 3,
};

// A member's ECDSA approval of a recovery: its key (DER SPKI) and signature (DER).
struct MemberApproval {
  Bytes spki;
  Bytes signature;
  bool operator==(const MemberApproval&) const = default;
};

struct Vote {
  Phase phase = Phase::kVote;
  uint64_t height = 0, round = 0;
  Hash block;
  NodeId voter = 0;
  uint64_t counter = 0;  // the checker module's counter (tee-bft), 0 in bft
  Bytes signature;
  Bytes signed_bytes(Protocol p) const;
  void encode(Writer& w) const;
  static Result<Vote> decode(Reader& r);
};

// A quorum certificate: votes of one phase for one block at (height, round). A recovery block's
// certificate (phase kRecovery) carries the members' approvals instead of votes.
struct QuorumCert {
  Phase phase = Phase::kVote;
  uint64_t height = 0, round = 0;
  Hash block;
  std::vector<Vote> votes;  // sorted by voter, one each
  // kRecovery only: the recovery transaction the approvals sign, and the approvals.
  Bytes recovery;
  std::vector<MemberApproval> approvals;
  void encode(Writer& w) const;
  static Result<QuorumCert> decode(Reader& r);
};

// Sent when a round times out; a quorum of them justifies the next leader's proposal.
struct ViewChange {
  Hash chain;          // the genesis hash
  uint64_t epoch = 0;  // the validator set epoch it is signed under
  uint64_t height = 0;
  uint64_t new_round = 0;
  NodeId sender = 0;
  // tee-bft: the checker module's last vote at this height, as it attests.
  bool has_last_vote = false;
  uint64_t last_round = 0;
  Hash last_block;
  // bft: the highest prevote certificate the sender knows at this height.
  std::optional<QuorumCert> highest_qc;
  uint64_t counter = 0;
  Bytes signature;
  Bytes signed_bytes() const;
  void encode(Writer& w) const;
  static Result<ViewChange> decode(Reader& r);
};

struct Proposal {
  uint64_t round = 0;
  NodeId proposer = 0;
  Block block;
  std::optional<QuorumCert> parent_qc;    // commit certificate of block.height - 1
  std::vector<ViewChange> view_changes;   // a quorum for block.round when round > 0
  uint64_t counter = 0;
  Bytes signature;  // by the proposer's vote key (its checker module in tee-bft)
  // Covers the block, the parent certificate and the justification: what the receiver checks.
  Bytes signed_bytes() const;
  void encode(Writer& w) const;
  static Result<Proposal> decode(Reader& r);
};

struct SyncRequest {
  uint64_t from_height = 0;
};

struct CommittedBlock {
  Block block;
  QuorumCert commit_qc;
};

struct SyncResponse {
  std::vector<CommittedBlock> blocks;
};

// A restarted node's new checker key; it takes effect once a block carrying it commits. The
// identity key's signature alone never suffices: the evidence must bind the new key, the node,
// its identity key, the chain and the nonce (vote_key_binding in genesis.h), made inside the
// TEE by the checker that holds the key, and pass the network's policy in force.
struct KeyRotation {
  NodeId node = 0;
  Bytes new_vote_key;
  uint64_t nonce = 0;
  int64_t issued_at = 0;  // unix seconds; the evidence is appraised as of this time
  Bytes evidence;         // platform evidence over vote_key_binding(...)
  Bytes signature;        // by the node's identity key
  Bytes signed_bytes() const;
  Bytes encode() const;
  static Result<KeyRotation> decode(ByteView data);
};

// Client transactions passed on to the validators.
struct Transactions {
  std::vector<Bytes> txs;
};

using Message = std::variant<Proposal, Vote, ViewChange, SyncRequest, SyncResponse, Transactions>;
Bytes encode_message(const Message& m);
Result<Message> decode_message(ByteView data);
const char* message_name(const Message& m);

}  // namespace supernet::consensus
