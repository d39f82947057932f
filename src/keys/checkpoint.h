// Signed ledger checkpoints: the validators' FROST signing (RFC 9591) over the ledger, as a
// sans-IO state machine. The result is a ledger::Checkpoint, an Ed25519 signature by the
// network's group key that the block of some height has some hash; a receipt at or below it
// verifies offline with that key alone (docs/keys.md).
//
// Every message goes through the ledger ("SNCK" transactions, signed by the sender's identity
// key, which the caller checks), so every node reads the same messages in the same order and
// reaches the same outcome without a coordinator:
//   - An attempt opens with the first Commit on the ledger (after the last checkpoint) naming a
//     committed height above the last checkpoint's: every share holder then publishes one
//     Commit (fresh nonce commitments) for that height.
//   - The first t Commits of the attempt, in ledger order, fix the signers and the commitment
//     list. Each chosen signer signs once with the nonces of its commitment and publishes its
//     Share; every node checks each share (frost::verify_share) and, with t valid ones,
//     aggregates the signature: the checkpoint is done, the same on every node.
//   - A chosen signer that does not sign (crashed: its nonces died with it; Byzantine: a bad
//     share is ignored) stalls the attempt. Share holders vote to abandon an attempt that is
//     open too long (the caller's clock); with t votes it is abandoned, the signers that did not
//     sign are passed over until the next checkpoint is done, and the next Commit opens a new
//     attempt.
// Nonces are made fresh for each Commit, live only in memory, and are used for one signature
// at most (frost::sign wipes them); nonces of an attempt this node was not chosen for, or that
// was abandoned, are dropped, never reused. A node that restarts holds no nonces: it signs
// nothing from before, and its Commits from before count as stalls.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <variant>
#include <vector>

#include "keys/frost.h"
#include "keys/ledger_tx.h"
#include "ledger/receipt.h"

namespace supernet::keys {

inline constexpr size_t kCheckpointMessageBytesMax = 256;
// Completed checkpoints a signer keeps (the oldest go); receipts below the oldest kept use the
// genesis path.
inline constexpr size_t kCheckpointsKeptMax = 100000;

struct CheckpointCommit {
  uint64_t height = 0;  // the committed block to sign
  frost::Element hiding{}, binding{};
};
struct CheckpointShare {
  uint64_t height = 0;
  uint64_t attempt = 0;  // the block height its attempt opened at
  Bytes share;           // 32-byte scalar
};
struct CheckpointAbandon {
  uint64_t height = 0;
  uint64_t attempt = 0;
};
using CheckpointMessage = std::variant<CheckpointCommit, CheckpointShare, CheckpointAbandon>;
Bytes encode_checkpoint_message(const CheckpointMessage& m);
Result<CheckpointMessage> decode_checkpoint_message(ByteView b);

// A checkpoint message on the ledger ("SNCK"): the sender's node id and its Ed25519 identity
// signature over the session and the message.
struct CheckpointTxKind {
  static constexpr std::string_view magic = "SNCK", domain = "supernet-checkpoint-tx-v1", error = "checkpoint.tx";
  static constexpr size_t message_max = kCheckpointMessageBytesMax;
};
using CheckpointTx = SignedLedgerTx<CheckpointTxKind>;  // message: encode_checkpoint_message
bool is_checkpoint_tx(ByteView tx);
Bytes make_checkpoint_tx(ByteView session, uint32_t node, const CheckpointMessage& m, const crypto::SecureBytes& identity_secret);

struct CheckpointConfig {
  Bytes chain;  // the genesis hash: what checkpoints name
  uint16_t threshold = 0;
  frost::Element group_public_key{};
  std::map<uint16_t, frost::Element> public_shares;  // every share holder's G·s_i (the DKG's outcome)
};

class CheckpointSigner {
 public:
  // The committed block hash of a height, if this node has it.
  using BlockHash = std::function<std::optional<Bytes>(uint64_t height)>;

  // `share`: this node's (none: it follows and verifies, and signs nothing).
  CheckpointSigner(CheckpointConfig config, std::optional<frost::KeyShare> share);
  // The key was reshared (same group key, new shares and threshold): from this point of the
  // ledger on, attempts use the new holders. The open attempt and this node's nonces are
  // dropped (they belong to the old shares); completed checkpoints stay.
  void rekey(CheckpointConfig config, std::optional<frost::KeyShare> share);

  // A checkpoint message from `sender` (its identity signature already checked), in ledger
  // order, in the committed block of `block_height`. Returns whether it changed anything.
  bool on_ledger(uint16_t sender, const CheckpointMessage& m, uint64_t block_height, const BlockHash& block_hash);

  // Messages this node should put on the ledger now: its Commit for the open attempt, or for
  // `wanted` (a committed height above the last checkpoint's) when no attempt is open; its Share
  // once it is a chosen signer. Each is returned once; the caller resubmits until it is on the
  // ledger, and drops those of attempts that ended.
  std::vector<CheckpointMessage> poll(std::optional<uint64_t> wanted);
  // A vote to abandon the open attempt (the caller's clock says it took too long), once per attempt.
  std::optional<CheckpointMessage> abandon();

  struct Attempt {
    uint64_t height = 0, opened_at = 0;      // opened_at: the block of its first Commit (its id)
    Bytes block_hash;                        // of `height`: what the signers sign
    size_t signers = 0;                      // t
    std::vector<frost::Commitment> commits;  // in ledger order, at most t: the signers'
    std::map<uint16_t, Bytes> shares;        // valid shares of chosen signers
    std::set<uint16_t> abandon_votes;
    bool chosen() const;  // t commits: the signers are fixed
  };
  const std::optional<Attempt>& attempt() const { return attempt_; }
  // Completed checkpoints by height, and the latest.
  const std::map<uint64_t, ledger::Checkpoint>& checkpoints() const { return done_; }
  std::optional<ledger::Checkpoint> latest() const;
  // The first checkpoint at or above `height`.
  std::optional<ledger::Checkpoint> covering(uint64_t height) const;
  uint64_t abandoned() const { return abandoned_; }
  const std::set<uint16_t>& passed_over() const { return passed_over_; }
  bool can_sign() const { return share_.has_value(); }

 private:
  std::vector<frost::Commitment> sorted_commits() const;

  CheckpointConfig config_;
  std::optional<frost::KeyShare> share_;
  std::optional<Attempt> attempt_;
  std::map<uint64_t, ledger::Checkpoint> done_;
  uint64_t last_height_ = 0;  // the latest checkpoint's height
  std::set<uint16_t> passed_over_;  // stalled an abandoned attempt since the last checkpoint
  uint64_t abandoned_ = 0;
  // This node's live nonces: for the commitment it published (or is about to).
  struct Pending {
    uint64_t height = 0;
    uint64_t attempt = 0;  // 0: not yet counted in an attempt
    frost::Nonces nonces;
    frost::Commitment commitment;
  };
  std::optional<Pending> pending_;
  uint64_t voted_attempt_ = 0;   // the attempt this node voted to abandon
  uint64_t shared_attempt_ = 0;  // the attempt this node signed in
};

}  // namespace supernet::keys
