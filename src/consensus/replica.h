// The consensus replica: a deterministic state machine. Inputs are on_message(now, from, m),
// on_tick(now) and submit(tx); outputs are messages to send, committed blocks and evidence of
// misbehaviour, appended to an Output. It reads no clock, socket or random source, so the
// real runtime and the simulator drive the same code. Not thread-safe.
//
// One height at a time: the leader of (height, round) proposes a block; in tee-bft every
// checker votes once and a quorum of votes (more than half the weight) commits it; in bft,
// prevotes and then precommits (each more than two thirds of the weight) commit it, with
// locking. A round that times out ends with view changes; a quorum of them justifies the next
// leader's proposal. See docs/consensus.md for the protocol and its safety argument.
#pragma once

#include <deque>
#include <optional>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_set>

#include "consensus/chain.h"
#include "consensus/signer.h"
#include "consensus/types.h"

namespace supernet::consensus {

struct ReplicaConfig {
  NodeId self = 0;
  ChainGenesis genesis;  // protocol, validators, governance, the policy floor
  // Admits vote keys after the genesis (key rotations, added tee-bft nodes); nullptr: none.
  std::shared_ptr<const EvidenceAppraiser> appraiser;
  // The platform seam: evidence over report data that the checker computed for its own key
  // rotation (the only evidence a node asks for). Empty: rotations go out without evidence
  // (and are refused).
  std::function<Result<Bytes>(ByteView report_data)> attest;
  // The clock seam for a rotation's issue time (unix seconds). Empty: 0.
  std::function<int64_t()> unix_now;
  TimeMs round_timeout_ms = 200;
  size_t block_txs_max = 512;
  size_t mempool_max = 20000;
  size_t future_messages_max = 4096;
  crypto::SecureBytes identity_secret;  // signs this node's key rotations and evidence
};

struct Misbehaviour {
  NodeId node = 0;
  std::string reason;
};

struct Output {
  struct Send {
    std::optional<NodeId> to;  // nullopt: every other validator
    Message message;
  };
  std::vector<Send> sends;
  std::vector<CommittedBlock> committed;
  std::vector<Misbehaviour> misbehaviour;
  // tee-bft: a vote this node's checker signed, with its block: the runtime records it durably
  // before anything in `sends` goes out (ledger::VoteRecord).
  std::optional<std::pair<Vote, Block>> voted;
};

class Replica {
 public:
  Replica(ReplicaConfig cfg, std::unique_ptr<VoteSigner> signer);

  // Replays a committed chain from storage, verifying every certificate, before start(). A bft
  // signer's persisted lock and certificate for the next height are taken up again.
  Status restore(const std::vector<CommittedBlock>& chain);
  Protocol protocol() const { return protocol_; }
  const ChainGenesis& genesis() const { return cfg_.genesis; }
  const Hash& genesis_hash() const { return chain_.genesis_hash(); }
  void start(TimeMs now, Output& out);
  void on_message(TimeMs now, NodeId from, const Message& m, Output& out);
  void on_tick(TimeMs now, Output& out);
  // What the members hand every node to recover a network after a total stop: the recovery
  // transaction, the rotations it names, the carried block when it names one, and their
  // approvals.
  struct RecoveryRequest {
    Bytes recovery;
    std::vector<Bytes> rotations;
    std::vector<Block> carried;
    std::vector<MemberApproval> approvals;
  };
  // Builds the recovery's blocks on this node's chain and commits them once they verify: true
  // when the recovery block is committed (now or before), false while this node is still behind
  // the recovery's base (it catches up by sync, and may receive the blocks from a peer), an
  // error when the recovery does not fit this chain.
  Result<bool> recover(TimeMs now, const RecoveryRequest& request, Output& out);
  // The runtime found that `node` misbehaves outside consensus (a cloned identity): isolate it
  // and record signed evidence, as for a consensus misbehaviour.
  void isolate(NodeId node, const std::string& reason, Output& out) { report(node, reason, out); }
  // A client transaction. False when it is too large, already known or the mempool is full.
  bool submit(Bytes tx, TimeMs now, Output& out);

  uint64_t next_height() const { return chain_.next_height(); }
  uint64_t round() const { return st_.round; }
  NodeId self() const { return cfg_.self; }
  const std::vector<std::pair<uint64_t, uint32_t>>& state_changes() const { return chain_.state_changes(); }
  const Membership& membership() const { return chain_.membership(); }
  const std::vector<CommittedBlock>& chain() const { return chain_.blocks(); }
  const ValidatorSet& validators() const { return chain_.validators(); }
  bool is_isolated(NodeId n) const { return isolated_.count(n) != 0; }
  size_t mempool_size() const { return mempool_ids_.size(); }
  // Waiting in this node's mempool (`id` as tx_id makes it).
  bool in_mempool(const std::string& id) const { return mempool_ids_.count(id) != 0; }
  // In a block of this node's committed chain.
  bool committed_tx(const std::string& id) const { return chain_.contains_tx(id); }
  const Chain::TxPosition* find_committed_tx(const std::string& id) const { return chain_.find_tx(id); }
  // False while this node's signer key is not (yet) the one in the validator set.
  bool can_sign() const;
  // The attested rotation to this node's current checker key, once it made one (what a
  // recovery after a total stop names).
  const std::optional<Bytes>& own_rotation() const { return own_rotation_; }

 private:
  struct HeightState {
    uint64_t round = 0;
    TimeMs round_started = 0;
    std::map<uint64_t, Proposal> proposals;
    std::map<uint64_t, std::optional<Hash>> required;  // round -> block its justification requires
    std::map<Hash, Block> blocks;
    std::map<std::pair<uint8_t, uint64_t>, std::map<Hash, std::map<NodeId, Vote>>> votes;
    std::map<std::tuple<uint8_t, uint64_t, NodeId>, Hash> voted_for;
    std::map<uint64_t, std::map<NodeId, ViewChange>> view_changes;
    std::set<std::pair<uint8_t, uint64_t>> my_votes;
    std::set<uint64_t> proposed;
    std::map<uint64_t, ViewChange> my_view_changes;  // round -> the view change this node sent
    std::map<std::pair<NodeId, uint64_t>, TimeMs> helped;  // (peer, round) -> when we last relayed
    std::optional<std::pair<uint64_t, Hash>> locked;  // bft
    std::map<uint64_t, QuorumCert> prevote_qcs;        // bft: round -> prevote certificate
    std::optional<QuorumCert> pending_commit;          // certificate whose block we lack
    TimeMs last_sync_request = -1000000;
  };

  void handle(TimeMs now, NodeId from, const Message& m, Output& out);
  void on_proposal(TimeMs now, NodeId from, const Proposal& p, Output& out);
  void on_vote(TimeMs now, NodeId from, const Vote& v, Output& out);
  void on_view_change(TimeMs now, NodeId from, const ViewChange& vc, Output& out);
  void on_sync_request(NodeId from, const SyncRequest& r, Output& out);
  void on_sync_response(TimeMs now, NodeId from, const SyncResponse& r, Output& out);
  void add_txs(const std::vector<Bytes>& txs, TimeMs now, Output& out);

  void try_vote(TimeMs now, uint64_t round, Output& out);
  void maybe_propose(TimeMs now, Output& out);
  void enter_round(TimeMs now, uint64_t round, Output& out);
  void send_view_change(TimeMs now, uint64_t round, Output& out);
  void on_quorum(TimeMs now, Phase phase, uint64_t round, const Hash& block, Output& out);
  void try_commit(TimeMs now, const QuorumCert& qc, Output& out);
  void commit(TimeMs now, const Block& b, const QuorumCert& qc, Output& out);
  void request_sync(TimeMs now, NodeId peer, Output& out);
  void buffer_future(NodeId from, const Message& m, uint64_t height, TimeMs now, Output& out);
  void report(NodeId node, const std::string& reason, Output& out, std::vector<Bytes> proof = {});
  uint64_t weight_of(const std::map<NodeId, Vote>& votes) const;
  bool has_work() const;
  TimeMs timeout_for(uint64_t round) const;
  void queue_key_rotation(TimeMs now, Output& out);

  const ValidatorSet& set() const { return chain_.validators(); }

  void resume_lock();

  ReplicaConfig cfg_;
  Protocol protocol_;
  std::unique_ptr<VoteSigner> signer_;
  Chain chain_;
  // Pending transactions in arrival order with their ids. mempool_ids_ is the truth: entries
  // whose id left it (committed, dropped) are skipped and swept lazily, so a commit costs
  // O(block) rather than O(mempool) hashing.
  struct Pending {
    std::string id;
    Bytes tx;
  };
  void sweep_mempool();
  std::deque<Pending> mempool_;
  std::unordered_set<std::string> mempool_ids_;
  HeightState st_;
  std::deque<std::tuple<uint64_t, NodeId, Message>> future_;
  std::set<NodeId> isolated_;
  bool rotation_queued_ = false;
  std::optional<Bytes> own_rotation_;
  TimeMs last_sync_probe_ = 0;
  size_t sync_probe_next_ = 0;
};

}  // namespace supernet::consensus
