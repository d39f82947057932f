#include "consensus/replica.h"

#include <algorithm>
#include <cassert>

#include "consensus/verify.h"
#include "crypto/hash.h"
#include "crypto/keys.h"
#include "ledger/merkle.h"

namespace supernet::consensus {

namespace {

constexpr size_t kResendTxsMax = 64;
constexpr TimeMs kSyncProbeMs = 1000;
// Transactions messages stay well under the transport's 1 MiB frame limit: small submissions
// handled together share a message of at most 256 (256 KiB at most).
constexpr size_t kTxsMessageBytesMax = 512 * 1024;
constexpr size_t kBatchTxsMax = 256;
constexpr size_t kBatchTxBytesMax = 1024;

uint64_t message_height(const Message& m) {
  if (auto* p = std::get_if<Proposal>(&m)) return p->block.header.height;
  if (auto* v = std::get_if<Vote>(&m)) return v->height;
  if (auto* vc = std::get_if<ViewChange>(&m)) return vc->height;
  return 0;
}

QuorumCert make_qc(Phase phase, uint64_t height, uint64_t round, const Hash& block, const std::map<NodeId, Vote>& votes) {
  QuorumCert qc;
  qc.phase = phase;
  qc.height = height;
  qc.round = round;
  qc.block = block;
  for (const auto& [id, v] : votes) qc.votes.push_back(v);  // std::map keeps them sorted by voter
  return qc;
}

}  // namespace

Replica::Replica(ReplicaConfig cfg, std::unique_ptr<VoteSigner> signer)
    : cfg_(std::move(cfg)), protocol_(cfg_.genesis.protocol), signer_(std::move(signer)), chain_(cfg_.genesis, cfg_.appraiser) {}

bool Replica::can_sign() const {
  const Validator* me = set().find(cfg_.self);
  return me != nullptr && me->vote_key == signer_->public_key();
}

Status Replica::restore(const std::vector<CommittedBlock>& chain) {
  for (const auto& cb : chain) {
    if (auto st = chain_.append(cb); !st.ok()) {
      return make_error("consensus.restore", "stored block " + std::to_string(chain_.next_height()) +
                                                 " does not verify: " + st.error().message);
    }
    (void)signer_->advance(cb.block, cb.commit_qc);
  }
  return ok_status();
}

void Replica::resume_lock() {
  const SignState* s = signer_->persisted();
  if (protocol_ != Protocol::kBft || s == nullptr || s->height != next_height()) return;
  if (s->lock) {
    Hash h = s->lock->block.header.hash();
    st_.locked = std::make_pair(s->lock->round, h);
    st_.blocks.emplace(h, s->lock->block);
  }
  if (s->prevoted && s->prevoted->header.height == next_height()) st_.blocks.emplace(s->prevoted->header.hash(), *s->prevoted);
  for (const auto& b : s->earlier_prevotes) {
    if (b.header.height == next_height()) st_.blocks.emplace(b.header.hash(), b);
  }
  if (s->highest_qc && s->highest_qc->height == next_height() && verify_qc(set(), protocol_, *s->highest_qc).ok()) {
    st_.prevote_qcs.emplace(s->highest_qc->round, *s->highest_qc);
  }
}

void Replica::start(TimeMs now, Output& out) {
  resume_lock();
  st_.round_started = now;
  queue_key_rotation(now, out);
  maybe_propose(now, out);
}

void Replica::queue_key_rotation(TimeMs now, Output& out) {
  if (can_sign() || rotation_queued_ || cfg_.identity_secret.empty()) return;
  if (set().find(cfg_.self) == nullptr) return;  // not (yet) a validator: nothing to rotate
  // The checker makes the rotation from the chain it verified; the platform attests the
  // binding it computed, and nothing else.
  auto req = signer_->key_rotation(cfg_.unix_now ? cfg_.unix_now() : 0);
  if (!req.ok()) return;
  KeyRotation k = std::move(req->rotation);
  if (cfg_.attest) {
    auto evidence = cfg_.attest(req->report_data);
    if (!evidence.ok()) return;  // tried again after the next commit
    k.evidence = std::move(evidence).value();
  }
  k.signature = crypto::ed25519_sign(cfg_.identity_secret, k.signed_bytes());
  rotation_queued_ = true;
  own_rotation_ = k.encode();
  submit(*own_rotation_, now, out);
}

Result<bool> Replica::recover(TimeMs now, const RecoveryRequest& req, Output& out) {
  SN_ASSIGN(Recovery r, Recovery::decode(req.recovery));
  if (req.carried.size() != r.carried.size()) return make_error("consensus.recovery", "the recovery carries blocks that were not given with it");
  for (size_t i = 0; i < r.carried.size(); i++) {
    if (req.carried[i].header.hash() != r.carried[i]) return make_error("consensus.recovery", "a carried block is not the one the recovery names");
  }
  QuorumCert qc;
  qc.phase = Phase::kRecovery;
  qc.recovery = req.recovery;
  qc.approvals = req.approvals;
  auto have = [&](uint64_t height) -> const CommittedBlock* {
    return height >= 1 && height <= chain_.blocks().size() ? &chain_.blocks()[height - 1] : nullptr;
  };
  if (const CommittedBlock* done = have(r.block_height())) {
    if (done->commit_qc.phase == Phase::kRecovery && done->commit_qc.recovery == req.recovery) return true;
    return make_error("consensus.recovery", "this node already committed another block at height " + std::to_string(r.block_height()) +
                                                ": the recovery is for an older state of the chain");
  }
  if (next_height() < r.height + 1) return false;  // behind its base: catch up first
  while (next_height() > r.height && next_height() < r.block_height()) {
    const Block& b = req.carried[next_height() - r.height - 1];
    qc.height = next_height();
    qc.block = b.header.hash();
    SN_TRY(chain_.check_committed({b, qc}));
    commit(now, b, qc, out);
  }
  if (next_height() != r.block_height()) {
    return make_error("consensus.recovery", "the chain here is at height " + std::to_string(next_height() - 1) +
                                                ", the recovery builds on " + std::to_string(r.block_height() - 1));
  }
  Block b;
  b.header.height = next_height();
  b.header.parent = chain_.last_hash();
  b.header.creator = 0;
  chain_.membership().fill_header(b.header);
  b.txs.push_back(req.recovery);
  for (const auto& rot : req.rotations) b.txs.push_back(rot);
  std::vector<Hash> leaves;
  for (const auto& tx : b.txs) leaves.push_back(ledger::leaf_hash(tx));
  b.header.tx_count = static_cast<uint32_t>(b.txs.size());
  b.header.tx_root = ledger::merkle_root(leaves);
  qc.height = b.header.height;
  qc.block = b.header.hash();
  SN_TRY(chain_.check_committed({b, qc}));
  commit(now, b, qc, out);
  return true;
}

bool Replica::submit(Bytes tx, TimeMs now, Output& out) {
  if (tx.empty() || tx.size() > kTxBytesMax || mempool_ids_.size() >= cfg_.mempool_max) return false;
  std::string id = tx_id(tx);
  if (chain_.contains_tx(id) || mempool_ids_.count(id)) return false;
  // Submissions handled together go out as one Transactions message.
  Transactions* batch = out.sends.empty() || out.sends.back().to ? nullptr : std::get_if<Transactions>(&out.sends.back().message);
  if (batch != nullptr && tx.size() <= kBatchTxBytesMax && batch->txs.size() < kBatchTxsMax &&
      batch->txs.front().size() <= kBatchTxBytesMax) {
    batch->txs.push_back(tx);
  } else {
    out.sends.push_back({std::nullopt, Transactions{{tx}}});
  }
  mempool_ids_.insert(id);
  mempool_.push_back({std::move(id), std::move(tx)});
  maybe_propose(now, out);
  return true;
}

void Replica::add_txs(const std::vector<Bytes>& txs, TimeMs now, Output& out) {
  for (const auto& tx : txs) {
    if (tx.empty() || tx.size() > kTxBytesMax || mempool_ids_.size() >= cfg_.mempool_max) continue;
    std::string id = tx_id(tx);
    if (chain_.contains_tx(id) || !mempool_ids_.insert(id).second) continue;
    mempool_.push_back({std::move(id), tx});
  }
  maybe_propose(now, out);
}

void Replica::sweep_mempool() {
  while (!mempool_.empty() && !mempool_ids_.count(mempool_.front().id)) mempool_.pop_front();
  // Entries committed out of arrival order linger behind live ones; compact once they
  // outnumber the live entries.
  if (mempool_.size() > 2 * mempool_ids_.size() + 64) {
    mempool_.erase(std::remove_if(mempool_.begin(), mempool_.end(), [&](const Pending& p) { return !mempool_ids_.count(p.id); }),
                   mempool_.end());
  }
}

void Replica::report(NodeId node, const std::string& reason, Output& out, std::vector<Bytes> proof) {
  if (node == cfg_.self || !isolated_.insert(node).second) return;
  out.misbehaviour.push_back({node, reason});
  // The evidence goes on the ledger, signed by this node's identity key, with the offending
  // signed messages so that anyone can check an equivocation for themselves.
  if (cfg_.identity_secret.empty() || set().find(cfg_.self) == nullptr || set().find(node) == nullptr) return;
  Bytes tx = make_evidence_tx(cfg_.self, node, reason, std::move(proof), next_height(), cfg_.identity_secret);
  std::string id = tx_id(tx);
  if (mempool_ids_.count(id) || mempool_ids_.size() >= cfg_.mempool_max) return;
  out.sends.push_back({std::nullopt, Transactions{{tx}}});
  mempool_ids_.insert(id);
  mempool_.push_back({std::move(id), std::move(tx)});
}

void Replica::on_message(TimeMs now, NodeId from, const Message& m, Output& out) {
  if (from == cfg_.self || isolated_.count(from) || set().find(from) == nullptr) return;
  handle(now, from, m, out);
}

void Replica::handle(TimeMs now, NodeId from, const Message& m, Output& out) {
  if (auto* tx = std::get_if<Transactions>(&m)) return add_txs(tx->txs, now, out);
  if (auto* sr = std::get_if<SyncRequest>(&m)) return on_sync_request(from, *sr, out);
  if (auto* resp = std::get_if<SyncResponse>(&m)) return on_sync_response(now, from, *resp, out);
  uint64_t h = message_height(m);
  if (h < next_height()) {
    // The sender is behind: help it catch up.
    if (from != cfg_.self) on_sync_request(from, SyncRequest{h}, out);
    return;
  }
  if (auto* p = std::get_if<Proposal>(&m)) return on_proposal(now, from, *p, out);
  if (h > next_height()) return buffer_future(from, m, h, now, out);
  if (auto* v = std::get_if<Vote>(&m)) return on_vote(now, from, *v, out);
  if (auto* vc = std::get_if<ViewChange>(&m)) return on_view_change(now, from, *vc, out);
}

void Replica::buffer_future(NodeId from, const Message& m, uint64_t height, TimeMs now, Output& out) {
  if (future_.size() < cfg_.future_messages_max) future_.emplace_back(height, from, m);
  request_sync(now, from, out);
}

void Replica::request_sync(TimeMs now, NodeId peer, Output& out) {
  if (peer == cfg_.self || now - st_.last_sync_request < cfg_.round_timeout_ms / 2) return;
  st_.last_sync_request = now;
  out.sends.push_back({peer, SyncRequest{next_height()}});
}

void Replica::on_proposal(TimeMs now, NodeId from, const Proposal& p, Output& out) {
  const BlockHeader& h = p.block.header;
  if (h.height > next_height()) {
    // A proposal for the next height carries the commit certificate of ours.
    if (p.parent_qc && p.parent_qc->height == next_height() && p.parent_qc->phase == commit_phase(protocol_)) {
      if (verify_qc(set(), protocol_, *p.parent_qc).ok()) try_commit(now, *p.parent_qc, out);
    }
    if (h.height > next_height()) return buffer_future(from, p, h.height, now, out);
    // Committing the parent replayed what had arrived early for this height: a copy of this
    // very proposal and its votes may already have committed it. It is stale now, not invalid
    // (once, the check below reported an honest proposer for it).
    if (h.height < next_height()) return;
  }
  if (from != p.proposer) return report(from, "sent a proposal made by another node", out);
  if (auto s = verify_proposal_signature(set(), p); !s.ok()) return report(from, s.error().message, out);
  Hash hash = h.hash();
  if (auto it = st_.proposals.find(p.round); it != st_.proposals.end()) {
    if (it->second.block.header.hash() != hash) {
      report(from, "proposed two blocks for round " + std::to_string(p.round) + " of height " + std::to_string(h.height) + " (" +
                       to_hex(it->second.block.header.hash()).substr(0, 8) + ", " + to_hex(hash).substr(0, 8) + ")", out,
             {encode_message(it->second), encode_message(p)});
    }
    return;
  }
  if (auto s = chain_.check_next(p.block); !s.ok()) return report(from, "invalid block: " + s.error().message, out, {encode_message(p)});
  std::optional<Hash> required;
  if (p.round > 0) {
    auto j = verify_view_change_quorum(set(), protocol_, genesis_hash(), h.height, p.round, p.view_changes);
    if (!j.ok()) return report(from, "unjustified proposal: " + j.error().message, out);
    if (protocol_ == Protocol::kTeeBft && j->required_block && *j->required_block != hash) {
      return report(from, "proposal ignores the highest voted block", out);
    }
    if (j->required_block) required = j->required_block;
    // The justification's view changes are this node's quorum for the round too: a node that
    // enters the round by this proposal must be able to relay them to peers still behind (who
    // may not hear the proposer), or they wait forever for view changes nobody sends again.
    auto& bucket = st_.view_changes[p.round];
    for (const auto& vc : p.view_changes) bucket.emplace(vc.sender, vc);
    // bft: the justification's certificates count for the lock rule.
    if (protocol_ == Protocol::kBft) {
      for (const auto& vc : p.view_changes) {
        if (vc.highest_qc) st_.prevote_qcs.emplace(vc.highest_qc->round, *vc.highest_qc);
      }
    }
  }
  st_.proposals.emplace(p.round, p);
  st_.required[p.round] = required;
  st_.blocks.emplace(hash, p.block);
  if (p.round > st_.round) enter_round(now, p.round, out);
  if (p.round == st_.round) try_vote(now, p.round, out);
  if (st_.pending_commit && st_.pending_commit->block == hash) {
    QuorumCert qc = *st_.pending_commit;
    try_commit(now, qc, out);
  }
}

void Replica::try_vote(TimeMs now, uint64_t round, Output& out) {
  auto it = st_.proposals.find(round);
  if (it == st_.proposals.end() || !can_sign() || st_.my_votes.count({1, round})) return;
  const Proposal& p = it->second;
  Hash hash = p.block.header.hash();
  if (protocol_ == Protocol::kBft && st_.locked && st_.locked->second != hash) {
    // Locked on another block: vote only if the proposal is justified by a prevote
    // certificate for it from a round at or after the lock.
    auto req_it = st_.required.find(round);
    const std::optional<Hash> req = req_it == st_.required.end() ? std::nullopt : req_it->second;
    bool unlocked = false;
    for (auto qc = st_.prevote_qcs.lower_bound(st_.locked->first); qc != st_.prevote_qcs.end() && qc->first < round; ++qc) {
      unlocked = unlocked || qc->second.block == hash;
    }
    if (!req || *req != hash || !unlocked) return;
  }
  Vote v;
  v.phase = Phase::kVote;
  v.height = next_height();
  v.round = round;
  v.block = hash;
  if (!signer_->sign_vote(v, &p).ok()) return;
  if (protocol_ == Protocol::kTeeBft) out.voted = std::make_pair(v, p.block);
  st_.my_votes.insert({1, round});
  out.sends.push_back({std::nullopt, v});
  on_vote(now, cfg_.self, v, out);
}

uint64_t Replica::weight_of(const std::map<NodeId, Vote>& votes) const {
  uint64_t w = 0;
  for (const auto& [id, v] : votes) {
    if (const Validator* val = set().find(id)) w += val->weight;
  }
  return w;
}

void Replica::on_vote(TimeMs now, NodeId from, const Vote& v, Output& out) {
  if (from != cfg_.self) {
    if (from != v.voter) return report(from, "sent a vote made by another node", out);
    if (auto s = verify_vote(set(), protocol_, v); !s.ok()) return report(from, s.error().message, out);
  }
  auto key = std::make_tuple(static_cast<uint8_t>(v.phase), v.round, v.voter);
  if (auto it = st_.voted_for.find(key); it != st_.voted_for.end()) {
    if (it->second != v.block) {
      std::vector<Bytes> proof;
      auto earlier = st_.votes[{static_cast<uint8_t>(v.phase), v.round}][it->second].find(v.voter);
      if (earlier != st_.votes[{static_cast<uint8_t>(v.phase), v.round}][it->second].end()) proof.push_back(encode_message(earlier->second));
      proof.push_back(encode_message(v));
      report(v.voter, "voted for two blocks at height " + std::to_string(v.height) + " round " + std::to_string(v.round), out,
             std::move(proof));
    }
    return;
  }
  st_.voted_for[key] = v.block;
  auto& bucket = st_.votes[{static_cast<uint8_t>(v.phase), v.round}][v.block];
  bucket[v.voter] = v;
  uint64_t w = weight_of(bucket);
  uint64_t before = w - set().find(v.voter)->weight;
  if (w >= set().quorum(protocol_) && before < set().quorum(protocol_)) on_quorum(now, v.phase, v.round, v.block, out);
}

void Replica::on_quorum(TimeMs now, Phase phase, uint64_t round, const Hash& block, Output& out) {
  QuorumCert qc = make_qc(phase, next_height(), round, block, st_.votes[{static_cast<uint8_t>(phase), round}][block]);
  if (phase == commit_phase(protocol_)) return try_commit(now, qc, out);
  // bft prevote certificate: lock and precommit if this is our round and we know the block.
  st_.prevote_qcs.emplace(round, qc);
  if (round != st_.round || !st_.blocks.count(block) || !can_sign() || st_.my_votes.count({2, round})) return;
  Vote pc;
  pc.phase = Phase::kPrecommit;
  pc.height = next_height();
  pc.round = round;
  pc.block = block;
  auto prop = st_.proposals.find(round);  // never operator[]: it would invent an empty proposal
  // The lock and its certificate are persisted with the sign state before the precommit goes
  // out: a restarted node keeps them (issue 10, C).
  BftLock lock{round, st_.blocks.at(block)};
  if (!signer_->sign_vote(pc, prop == st_.proposals.end() ? nullptr : &prop->second, &lock, &qc).ok()) return;
  st_.locked = std::make_pair(round, block);
  st_.my_votes.insert({2, round});
  out.sends.push_back({std::nullopt, pc});
  on_vote(now, cfg_.self, pc, out);
}

void Replica::try_commit(TimeMs now, const QuorumCert& qc, Output& out) {
  if (qc.height != next_height()) return;
  auto it = st_.blocks.find(qc.block);
  if (it == st_.blocks.end()) {
    st_.pending_commit = qc;
    for (const auto& v : qc.votes) {
      if (v.voter != cfg_.self) {
        request_sync(now, v.voter, out);
        break;
      }
    }
    return;
  }
  Block b = it->second;
  commit(now, b, qc, out);
}

void Replica::commit(TimeMs now, const Block& b, const QuorumCert& qc, Output& out) {
  assert(b.header.height == next_height());
  // Callers verified the certificate; Chain checks block and certificate again (cheap: the
  // signatures are memoized) so that nothing unverified is ever appended.
  if (auto st = chain_.append({b, qc}); !st.ok()) return;
  out.committed.push_back(chain_.blocks().back());
  for (const auto& tx : b.txs) mempool_ids_.erase(tx_id(tx));
  sweep_mempool();
  (void)signer_->advance(b, qc);  // the checker verifies this itself; a refusal leaves it unable to sign
  TimeMs last_sync = st_.last_sync_request;
  st_ = HeightState{};
  st_.round_started = now;
  st_.last_sync_request = last_sync;
  // A node whose storage was rolled back reaches, by sync, the height its persisted lock is for.
  resume_lock();
  if (!can_sign()) {
    rotation_queued_ = rotation_queued_ && mempool_ids_.size() > 0;
    // A node catching up may pass a rotation of its own that an earlier process made: the one it
    // holds then has a stale nonce, and a new one is due (a recovery names the fresh one).
    if (own_rotation_) {
      auto k = KeyRotation::decode(*own_rotation_);
      const Validator* me = set().find(cfg_.self);
      if (k.ok() && me != nullptr && k->nonce <= me->rotation_nonce) {
        mempool_ids_.erase(tx_id(*own_rotation_));
        rotation_queued_ = false;
      }
    }
    queue_key_rotation(now, out);
  }
  // Replay what arrived early for this height; keep what is still ahead.
  std::deque<std::tuple<uint64_t, NodeId, Message>> pending;
  pending.swap(future_);
  for (auto& [h, from, m] : pending) {
    if (h == next_height()) {
      handle(now, from, m, out);
    } else if (h > next_height()) {
      future_.emplace_back(h, from, std::move(m));
    }
  }
  maybe_propose(now, out);
}

void Replica::maybe_propose(TimeMs now, Output& out) {
  uint64_t r = st_.round;
  uint64_t h = next_height();
  if (set().leader(h, r) != cfg_.self || st_.proposed.count(r) || !can_sign()) return;
  Proposal p;
  std::optional<Hash> required;
  if (r > 0) {
    auto vcs_it = st_.view_changes.find(r);
    if (vcs_it == st_.view_changes.end()) return;
    for (const auto& [id, vc] : vcs_it->second) p.view_changes.push_back(vc);
    // Any quorum of view changes justifies the round: each intersects every quorum that could
    // have committed or locked a block in an earlier round, so it names that block. A leader
    // that never saw the block its view changes name leaves out those that name it and tries
    // the rest: a Byzantine node that reports a certificate for a block it withholds (after a
    // restart, no honest node may hold it any more) cannot stall every round that way. If no
    // quorum remains, a block was locked that this node lacks, and the round times out.
    while (true) {
      uint64_t w = 0;
      for (const auto& vc : p.view_changes) w += set().find(vc.sender)->weight;
      if (w < set().quorum(protocol_)) return;
      auto j = verify_view_change_quorum(set(), protocol_, genesis_hash(), h, r, p.view_changes);
      if (!j.ok()) return;
      required = j->required_block;
      if (!required || st_.blocks.count(*required)) break;
      std::erase_if(p.view_changes, [&](const ViewChange& vc) {
        return (vc.has_last_vote && vc.last_block == *required) || (vc.highest_qc && vc.highest_qc->block == *required);
      });
    }
  } else if (mempool_ids_.empty()) {
    return;  // nothing to order yet
  }
  p.round = r;
  p.proposer = cfg_.self;
  if (required) {
    // Re-propose the block the justification names, unchanged.
    auto b = st_.blocks.find(*required);
    assert(b != st_.blocks.end());  // the loop above kept only a justification whose block is here
    p.block = b->second;
  } else {
    BlockHeader& hd = p.block.header;
    hd.height = h;
    hd.parent = chain_.last_hash();
    hd.creator = cfg_.self;
    chain_.membership().fill_header(hd);
    std::vector<Hash> leaves;
    std::optional<Membership> next;  // the membership state as this block's transactions change it
    std::vector<std::string> stale;
    size_t tx_bytes = 0;
    for (const auto& [id, tx] : mempool_) {
      if (p.block.txs.size() >= cfg_.block_txs_max) break;
      if (!mempool_ids_.count(id)) continue;
      if (!p.block.txs.empty() && tx_bytes + tx.size() > kBlockTxBytesMax) break;  // the rest go in the next block
      if (Membership::handles(tx)) {
        // One that is no longer valid (a rotation superseded by a committed one, an approval of
        // a decided proposal) is dropped: followers would refuse the block.
        if (!next) next = chain_.membership();
        if (!next->check(tx).ok()) {
          stale.push_back(id);
          continue;
        }
        next->apply(tx, h);
      }
      p.block.txs.push_back(tx);
      tx_bytes += tx.size();
      leaves.push_back(ledger::leaf_hash(tx));
    }
    for (const auto& id : stale) mempool_ids_.erase(id);
    if (!stale.empty()) sweep_mempool();
    if (p.block.txs.empty() && r == 0) return;  // only invalid transactions: nothing to order
    hd.tx_count = static_cast<uint32_t>(p.block.txs.size());
    hd.tx_root = ledger::merkle_root(leaves);
  }
  if (!chain_.blocks().empty()) p.parent_qc = chain_.blocks().back().commit_qc;
  if (!signer_->sign_proposal(p).ok()) return;
  st_.proposed.insert(r);
  out.sends.push_back({std::nullopt, p});
  on_proposal(now, cfg_.self, p, out);
}

void Replica::on_view_change(TimeMs now, NodeId from, const ViewChange& vc, Output& out) {
  // View changes are self-authenticating, so a node may relay others' (see below).
  if (from != cfg_.self) {
    if (auto s = verify_view_change(set(), protocol_, genesis_hash(), vc); !s.ok()) return report(from, s.error().message, out);
  }
  // A peer asking for a round we are already past lags behind: relay the quorum that moved us.
  if (from != cfg_.self && from == vc.sender && vc.new_round <= st_.round && st_.round > 0) {
    auto [it, first] = st_.helped.try_emplace({from, st_.round}, now);
    if (first || now - it->second >= cfg_.round_timeout_ms) {  // at most once per timeout: relays get lost too
      it->second = now;
      for (const auto& [id, justification] : st_.view_changes[st_.round]) out.sends.push_back({from, justification});
    }
  }
  auto& bucket = st_.view_changes[vc.new_round];
  if (!bucket.emplace(vc.sender, vc).second) return;
  uint64_t w = 0;
  for (const auto& [id, x] : bucket) w += set().find(id)->weight;
  // Join a round that at least one correct node has moved to; enter it on a quorum.
  if (vc.new_round > st_.round && w > set().total_weight() - set().quorum(protocol_) &&
      !st_.my_view_changes.count(vc.new_round)) {
    send_view_change(now, vc.new_round, out);
  }
  if (w >= set().quorum(protocol_) && vc.new_round > st_.round) enter_round(now, vc.new_round, out);
  if (vc.new_round == st_.round) maybe_propose(now, out);
}

void Replica::enter_round(TimeMs now, uint64_t round, Output& out) {
  if (round <= st_.round) return;
  st_.round = round;
  st_.round_started = now;
  try_vote(now, round, out);
  maybe_propose(now, out);
}

void Replica::send_view_change(TimeMs now, uint64_t round, Output& out) {
  if (auto sent = st_.my_view_changes.find(round); sent != st_.my_view_changes.end()) {
    out.sends.push_back({std::nullopt, sent->second});  // again: the first may have been lost
    return;
  }
  if (!can_sign()) return;
  ViewChange vc;
  vc.chain = genesis_hash();
  vc.epoch = set().epoch();
  vc.height = next_height();
  vc.new_round = round;
  // The highest prevote certificate below the new round (one from that round or later
  // justifies nothing in it, and peers refuse it).
  if (protocol_ == Protocol::kBft) {
    auto it = st_.prevote_qcs.lower_bound(round);
    if (it != st_.prevote_qcs.begin()) vc.highest_qc = std::prev(it)->second;
  }
  if (!signer_->sign_view_change(vc).ok()) return;
  st_.my_view_changes.emplace(round, vc);
  out.sends.push_back({std::nullopt, vc});
  on_view_change(now, cfg_.self, vc, out);
}

bool Replica::has_work() const {
  return !mempool_ids_.empty() || !st_.proposals.empty() || !st_.votes.empty() || !st_.view_changes.empty() ||
         st_.pending_commit.has_value();
}

TimeMs Replica::timeout_for(uint64_t round) const {
  return cfg_.round_timeout_ms * static_cast<TimeMs>(1 + std::min<uint64_t>(round, 7));
}

void Replica::on_tick(TimeMs now, Output& out) {
  if (st_.pending_commit) {
    for (const auto& v : st_.pending_commit->votes) {
      if (v.voter != cfg_.self) {
        request_sync(now, v.voter, out);
        break;
      }
    }
  }
  // Every so often ask one peer (in turn) for blocks past ours, so that a node that was away or
  // has just joined catches up even while the network is idle.
  if (now - last_sync_probe_ >= kSyncProbeMs && set().size() > 1) {
    last_sync_probe_ = now;
    const auto& vals = set().validators();
    for (size_t tries = 0; tries < vals.size(); tries++) {
      NodeId peer = vals[sync_probe_next_++ % vals.size()].id;
      if (peer == cfg_.self) continue;
      out.sends.push_back({peer, SyncRequest{next_height()}});
      break;
    }
  }
  if (!has_work() || now - st_.round_started < timeout_for(st_.round)) return;
  // Messages get lost: offer the oldest pending transactions again, so a dropped broadcast
  // (a restarted node's key rotation, say) is not lost for good.
  Transactions again;
  size_t again_bytes = 0;
  for (const auto& [id, tx] : mempool_) {
    if (again.txs.size() >= kResendTxsMax || again_bytes + tx.size() > kTxsMessageBytesMax) break;
    if (!mempool_ids_.count(id)) continue;
    again.txs.push_back(tx);
    again_bytes += tx.size();
  }
  if (!again.txs.empty()) out.sends.push_back({std::nullopt, std::move(again)});
  // Ask to move on, but enter the next round only with a quorum of view changes for it (or a
  // proposal they justify): a node never runs ahead of a quorum, so rounds stay in step. Until
  // then the same view change is sent again on every timeout.
  send_view_change(now, st_.round + 1, out);
  st_.round_started = now;
}

void Replica::on_sync_request(NodeId from, const SyncRequest& r, Output& out) {
  const auto& blocks = chain_.blocks();
  if (r.from_height == 0 || r.from_height > blocks.size()) return;
  SyncResponse resp;
  size_t bytes = 0;
  for (uint64_t h = r.from_height; h <= blocks.size() && resp.blocks.size() < kSyncBlocksMax; h++) {
    Writer cert;
    blocks[h - 1].commit_qc.encode(cert);
    size_t b = 1024 + cert.data().size();  // header, and the certificate as it is (a recovery's may be large)
    for (const auto& tx : blocks[h - 1].block.txs) b += tx.size() + 4;
    if (!resp.blocks.empty() && bytes + b > kSyncBytesMax) break;
    bytes += b;
    resp.blocks.push_back(blocks[h - 1]);
  }
  out.sends.push_back({from, std::move(resp)});
}

void Replica::on_sync_response(TimeMs now, NodeId from, const SyncResponse& r, Output& out) {
  for (const auto& cb : r.blocks) {
    if (cb.block.header.height < next_height()) continue;
    if (cb.block.header.height > next_height()) break;
    const QuorumCert& qc = cb.commit_qc;
    Status s = chain_.check_committed(cb);
    if (!s.ok()) {
      if (from != cfg_.self) report(from, "sent an invalid committed block: " + s.error().message, out);
      return;
    }
    commit(now, cb.block, qc, out);
  }
  // The response took this node forward: the peer may have more (responses are bounded in
  // blocks and bytes); ask for the next batch at once (an empty answer ends it).
  if (!r.blocks.empty() && r.blocks.back().block.header.height + 1 == next_height()) {
    st_.last_sync_request = now;
    out.sends.push_back({from, SyncRequest{next_height()}});
  }
}

}  // namespace supernet::consensus
