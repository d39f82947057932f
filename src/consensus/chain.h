// The committed chain as a node holds it: blocks with their commit certificates, the validator
// set they lead to (key rotations applied), and the ids of committed transactions. Every block
// is checked before it is appended, so a chain read back from untrusted storage, received from
// a peer or presented offline (`ledger verify`) is verified by the same code.
#pragma once

#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "consensus/types.h"

namespace supernet::consensus {

// SHA-256 of a transaction, as raw bytes in a string (for hashing containers).
std::string tx_id(ByteView tx);

// The validator set after `tx`, when `tx` changes it (a valid key rotation); nullopt when
// `tx` leaves the set alone. The one rule for epoch changes, used by the chain and by offline
// receipt verification.
std::optional<ValidatorSet> after_epoch_change(const ValidatorSet& set, ByteView tx);

class Chain {
 public:
  Chain(Protocol protocol, ValidatorSet genesis, Hash genesis_hash);

  uint64_t next_height() const { return blocks_.size() + 1; }
  const Hash& last_hash() const { return last_hash_; }
  const ValidatorSet& validators() const { return set_; }
  const std::vector<CommittedBlock>& blocks() const { return blocks_; }
  bool contains_tx(const std::string& id) const { return tx_ids_.count(id) != 0; }
  // Where each transaction that changed the validator set is: (height, index), in order.
  const std::vector<std::pair<uint64_t, uint32_t>>& epoch_changes() const { return epoch_changes_; }

  // `b` may be the next block: it extends the chain under the current validator set, its
  // transactions match its header and none repeats, and its key rotations verify.
  Status check_next(const Block& b) const;
  // `qc` is a valid commit certificate for `b` as the next block.
  Status check_commit(const Block& b, const QuorumCert& qc) const;
  // Checks both, then appends and applies the block's key rotations.
  Status append(CommittedBlock cb);

 private:
  void apply(CommittedBlock cb);

  Protocol protocol_;
  ValidatorSet set_;
  Hash last_hash_;
  std::vector<CommittedBlock> blocks_;
  std::unordered_set<std::string> tx_ids_;
  std::vector<std::pair<uint64_t, uint32_t>> epoch_changes_;
};

}  // namespace supernet::consensus
