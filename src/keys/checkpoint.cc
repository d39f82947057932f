#include "keys/checkpoint.h"

#include <algorithm>

#include "crypto/keys.h"
#include "util/codec.h"

namespace supernet::keys {

namespace {

constexpr uint8_t kCommit = 1, kShare = 2, kAbandon = 3;

}  // namespace

Bytes encode_checkpoint_message(const CheckpointMessage& m) {
  Writer w;
  if (const auto* c = std::get_if<CheckpointCommit>(&m)) {
    w.u8(kCommit).u64(c->height).fixed(c->hiding).fixed(c->binding);
  } else if (const auto* s = std::get_if<CheckpointShare>(&m)) {
    w.u8(kShare).u64(s->height).u64(s->attempt).fixed(s->share);
  } else {
    const auto& a = std::get<CheckpointAbandon>(m);
    w.u8(kAbandon).u64(a.height).u64(a.attempt);
  }
  return w.take();
}

Result<CheckpointMessage> decode_checkpoint_message(ByteView b) {
  if (b.size() > kCheckpointMessageBytesMax) return make_error("checkpoint.message", "too large");
  Reader r(b);
  SN_ASSIGN(uint8_t kind, r.u8());
  CheckpointMessage out;
  if (kind == kCommit) {
    CheckpointCommit c;
    SN_ASSIGN(c.height, r.u64());
    SN_ASSIGN(ByteView hiding, r.fixed(frost::kElementBytes));
    SN_ASSIGN(ByteView binding, r.fixed(frost::kElementBytes));
    SN_ASSIGN(c.hiding, frost::parse_element(hiding));
    SN_ASSIGN(c.binding, frost::parse_element(binding));
    out = c;
  } else if (kind == kShare) {
    CheckpointShare s;
    SN_ASSIGN(s.height, r.u64());
    SN_ASSIGN(s.attempt, r.u64());
    SN_ASSIGN(ByteView share, r.fixed(frost::kScalarBytes));
    SN_ASSIGN(crypto::SecureBytes checked, frost::parse_scalar(share));
    (void)checked;
    s.share = to_bytes(share);
    out = s;
  } else if (kind == kAbandon) {
    CheckpointAbandon a;
    SN_ASSIGN(a.height, r.u64());
    SN_ASSIGN(a.attempt, r.u64());
    out = a;
  } else {
    return make_error("checkpoint.message", "unknown checkpoint message kind " + std::to_string(kind));
  }
  SN_TRY(r.finish());
  return out;
}

bool is_checkpoint_tx(ByteView tx) { return CheckpointTx::is(tx); }

Bytes make_checkpoint_tx(ByteView session, uint32_t node, const CheckpointMessage& m, const crypto::SecureBytes& identity_secret) {
  return CheckpointTx::make(session, node, encode_checkpoint_message(m), identity_secret);
}

bool CheckpointSigner::Attempt::chosen() const { return !commits.empty() && commits.size() == signers; }

CheckpointSigner::CheckpointSigner(CheckpointConfig config, std::optional<frost::KeyShare> share)
    : config_(std::move(config)), share_(std::move(share)) {}

std::vector<frost::Commitment> CheckpointSigner::sorted_commits() const {
  std::vector<frost::Commitment> c = attempt_->commits;
  std::sort(c.begin(), c.end(), [](const auto& a, const auto& b) { return a.identifier < b.identifier; });
  return c;
}

void CheckpointSigner::rekey(CheckpointConfig config, std::optional<frost::KeyShare> share) {
  config_ = std::move(config);
  share_ = std::move(share);
  attempt_.reset();
  pending_.reset();
  passed_over_.clear();
  voted_attempt_ = 0;
  shared_attempt_ = 0;
}

bool CheckpointSigner::on_ledger(uint16_t sender, const CheckpointMessage& m, uint64_t block_height, const BlockHash& block_hash) {
  auto ps = config_.public_shares.find(sender);
  if (ps == config_.public_shares.end()) return false;  // not a share holder
  uint16_t self = share_ ? share_->identifier : 0;

  if (const auto* c = std::get_if<CheckpointCommit>(&m)) {
    bool mine = pending_ && sender == self && c->hiding == pending_->commitment.hiding && c->binding == pending_->commitment.binding;
    bool counted = false;
    if (!passed_over_.contains(sender)) {
      if (!attempt_) {
        std::optional<Bytes> hash;
        if (c->height > last_height_ && c->height < block_height) hash = block_hash(c->height);
        if (hash) {
          attempt_ = Attempt{};
          attempt_->height = c->height;
          attempt_->opened_at = block_height;
          attempt_->block_hash = *hash;
          attempt_->signers = config_.threshold;
          attempt_->commits.push_back(frost::Commitment{sender, c->hiding, c->binding});
          counted = true;
        }
      } else if (c->height == attempt_->height && !attempt_->chosen() &&
                 std::none_of(attempt_->commits.begin(), attempt_->commits.end(), [&](const auto& x) { return x.identifier == sender; })) {
        attempt_->commits.push_back(frost::Commitment{sender, c->hiding, c->binding});
        counted = true;
      }
    }
    if (mine) {
      if (counted) {
        pending_->attempt = attempt_->opened_at;
      } else {
        pending_.reset();  // it came too late or for another height: these nonces are never used
      }
    }
    return counted;
  }

  if (const auto* s = std::get_if<CheckpointShare>(&m)) {
    if (!attempt_ || !attempt_->chosen() || s->height != attempt_->height || s->attempt != attempt_->opened_at) return false;
    if (attempt_->shares.contains(sender)) return false;
    if (std::none_of(attempt_->commits.begin(), attempt_->commits.end(), [&](const auto& x) { return x.identifier == sender; })) return false;
    Bytes msg = ledger::Checkpoint::message(config_.chain, attempt_->height, attempt_->block_hash);
    if (!frost::verify_share(sender, ps->second, s->share, sorted_commits(), config_.group_public_key, msg).ok()) return false;
    attempt_->shares.emplace(sender, s->share);
    if (attempt_->shares.size() < attempt_->commits.size()) return true;
    // Every chosen signer signed: the signature, the same on every node.
    std::vector<frost::Commitment> commits = sorted_commits();
    std::vector<Bytes> shares;
    std::vector<frost::Element> publics;
    for (const auto& c : commits) {
      shares.push_back(attempt_->shares.at(c.identifier));
      publics.push_back(config_.public_shares.at(c.identifier));
    }
    auto sig = frost::aggregate(commits, msg, config_.group_public_key, shares, publics);
    if (!sig.ok()) return true;  // cannot happen with verified shares; the attempt will be abandoned
    ledger::Checkpoint cp;
    cp.chain = config_.chain;
    cp.height = attempt_->height;
    cp.block_hash = attempt_->block_hash;
    cp.signature = std::move(sig).value();
    done_[cp.height] = cp;
    while (done_.size() > kCheckpointsKeptMax) done_.erase(done_.begin());
    last_height_ = cp.height;
    passed_over_.clear();
    attempt_.reset();
    pending_.reset();
    return true;
  }

  const auto& a = std::get<CheckpointAbandon>(m);
  if (!attempt_ || a.height != attempt_->height || a.attempt != attempt_->opened_at) return false;
  if (!attempt_->abandon_votes.insert(sender).second) return false;
  if (attempt_->abandon_votes.size() < config_.threshold) return true;
  // Abandoned: the chosen signers that did not sign are passed over until a checkpoint is done,
  // unless that would leave fewer than t share holders to choose from.
  if (attempt_->chosen()) {
    for (const auto& c : attempt_->commits) {
      if (!attempt_->shares.contains(c.identifier)) passed_over_.insert(c.identifier);
    }
  }
  if (config_.public_shares.size() - passed_over_.size() < config_.threshold) passed_over_.clear();
  attempt_.reset();
  pending_.reset();
  abandoned_++;
  return true;
}

std::vector<CheckpointMessage> CheckpointSigner::poll(std::optional<uint64_t> wanted) {
  std::vector<CheckpointMessage> out;
  if (!share_) return out;
  uint16_t self = share_->identifier;
  if (passed_over_.contains(self)) return out;
  auto fresh_commit = [&](uint64_t height) {
    auto made = frost::commit(*share_);
    if (!made.ok()) return;
    pending_ = Pending{height, 0, std::move(made->first), made->second};
    out.push_back(CheckpointCommit{height, made->second.hiding, made->second.binding});
  };
  if (!attempt_) {
    if (!pending_ && wanted && *wanted > last_height_) fresh_commit(*wanted);
    return out;
  }
  bool in = std::any_of(attempt_->commits.begin(), attempt_->commits.end(), [&](const auto& x) { return x.identifier == self; });
  if (!attempt_->chosen()) {
    // Join the open attempt, unless this node's commitment for it is on its way already.
    if (!in && !(pending_ && pending_->height == attempt_->height && pending_->attempt == 0)) fresh_commit(attempt_->height);
    return out;
  }
  if (in && shared_attempt_ != attempt_->opened_at && pending_ && pending_->attempt == attempt_->opened_at) {
    shared_attempt_ = attempt_->opened_at;
    Bytes msg = ledger::Checkpoint::message(config_.chain, attempt_->height, attempt_->block_hash);
    auto share = frost::sign(*share_, pending_->nonces, sorted_commits(), msg);  // wipes the nonces
    pending_.reset();
    if (share.ok()) out.push_back(CheckpointShare{attempt_->height, attempt_->opened_at, std::move(share).value()});
  }
  return out;
}

std::optional<CheckpointMessage> CheckpointSigner::abandon() {
  if (!share_ || !attempt_ || voted_attempt_ == attempt_->opened_at) return std::nullopt;
  voted_attempt_ = attempt_->opened_at;
  return CheckpointAbandon{attempt_->height, attempt_->opened_at};
}

std::optional<ledger::Checkpoint> CheckpointSigner::latest() const {
  if (done_.empty()) return std::nullopt;
  return done_.rbegin()->second;
}

std::optional<ledger::Checkpoint> CheckpointSigner::covering(uint64_t height) const {
  auto it = done_.lower_bound(height);
  if (it == done_.end()) return std::nullopt;
  return it->second;
}

}  // namespace supernet::keys
