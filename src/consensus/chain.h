// The committed chain as a node holds it: blocks with their commit certificates, the validator
// set they lead to (key rotations applied), and the ids of committed transactions. Every block
// is checked before it is appended, so a chain read back from untrusted storage, received from
// a peer or presented offline (`ledger verify`) is verified by the same code.
#pragma once

#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "consensus/membership.h"
#include "consensus/types.h"

namespace supernet::consensus {

// SHA-256 of a transaction, as raw bytes in a string (for hashing containers).
std::string tx_id(ByteView tx);

// A block with a recovery certificate (phase kRecovery), as the next block on `state` whose
// last block hash is `parent`: the members' approvals of the recovery the certificate carries
// verify, and the block is either one of the blocks the recovery carries (in order, the first
// on its base) or the recovery block itself (on the last carried block or the base: the
// recovery transaction, then exactly the rotations it names, each valid in order). The Chain,
// the trusted checker and offline receipt verification all use this.
Status verify_recovery_block(const Membership& state, uint64_t next_height, const Hash& parent, const Block& b,
                             const QuorumCert& qc);

class Chain {
 public:
  // `appraiser` admits vote keys after the genesis (tee-bft); nullptr admits none.
  Chain(const ChainGenesis& genesis, std::shared_ptr<const EvidenceAppraiser> appraiser);
  Protocol protocol() const { return protocol_; }
  const Hash& genesis_hash() const { return membership_.genesis_hash(); }

  uint64_t next_height() const { return blocks_.size() + 1; }
  const Hash& last_hash() const { return last_hash_; }
  const ValidatorSet& validators() const { return membership_.set(); }
  const Membership& membership() const { return membership_; }
  const std::vector<CommittedBlock>& blocks() const { return blocks_; }
  bool contains_tx(const std::string& id) const { return tx_index_.count(id) != 0; }
  // Where a committed transaction is (`id` as tx_id makes it): its height and index.
  struct TxPosition {
    uint64_t height = 0;
    uint32_t index = 0;
  };
  const TxPosition* find_tx(const std::string& id) const {
    auto it = tx_index_.find(id);
    return it == tx_index_.end() ? nullptr : &it->second;
  }
  // Where each transaction that changed the validator set or the governance state is:
  // (height, index), in order. Receipt proofs carry them.
  const std::vector<std::pair<uint64_t, uint32_t>>& state_changes() const { return state_changes_; }

  // `b` may be the next block: it extends the chain, its header names this chain, the current
  // validator set and membership history, its transactions match its header and none repeats,
  // and its membership transactions (key rotations, governance, evidence) are valid in order.
  Status check_next(const Block& b) const;
  // `qc` is a valid commit certificate for `b` as the next block.
  Status check_commit(const Block& b, const QuorumCert& qc) const;
  // A committed block from storage or a peer may be the next block: check_next and
  // check_commit, or, for a recovery certificate, verify_recovery_block.
  Status check_committed(const CommittedBlock& cb) const;
  // Checks both, then appends and applies the block's membership transactions.
  Status append(CommittedBlock cb);

 private:
  void apply(CommittedBlock cb);

  Protocol protocol_;
  Membership membership_;
  Hash last_hash_;
  std::vector<CommittedBlock> blocks_;
  // Every committed transaction: the ledger's only transaction index (a random-keyed index on
  // disk cost more than everything else a block's write does; this one is rebuilt on restore).
  std::unordered_map<std::string, TxPosition> tx_index_;
  std::vector<std::pair<uint64_t, uint32_t>> state_changes_;
};

}  // namespace supernet::consensus
