#include "node/key_service.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "crypto/hash.h"
#include "crypto/keys.h"
#include "keys/hpke.h"
#include "keys/private_table.h"
#include "tee/evidence.h"
#include "tee/policy.h"
#include "tee/seal.h"
#include "util/codec.h"
#include "util/file.h"
#include "util/log.h"
#include "util/time.h"

namespace supernet::node {

namespace {

constexpr std::string_view kSeedLabel = "supernet-dkg-seed-v1";

// Faulty validators tolerated by count: tee-bft n = 2f + 1, bft n = 3f + 1.
uint16_t threshold_for(consensus::Protocol p, size_t n) {
  size_t f = p == consensus::Protocol::kTeeBft ? (n - 1) / 2 : (n - 1) / 3;
  return static_cast<uint16_t>(f + 1);
}

}  // namespace

KeyService::KeyService(Node& node, tee::Platform& platform, std::string dir, crypto::SecureBytes identity_secret)
    : node_(node), platform_(platform), dir_(std::move(dir)), identity_secret_(std::move(identity_secret)), timer_(node.io()) {
  start();
  node_.on_commit([this](const consensus::CommittedBlock& cb) { on_commit(cb); });
  node_.on_key_frame([this](uint32_t from, Bytes frame) { on_key_frame(from, std::move(frame)); });
  asio::post(node_.io(), [this, alive = alive_] {
    if (*alive) flush();
  });
  arm();
}

KeyService::~KeyService() {
  *alive_ = false;
  timer_.cancel();
}

void KeyService::start() {
  const auto& genesis = node_.replica().genesis();
  Writer s;
  s.str("supernet-dkg-v1").str(genesis.chain_id);
  session_ = crypto::sha256(s.data());
  for (const auto& v : genesis.validators) {
    if (v.id == 0 || v.id > 0xFFFF || parties_.size() >= keys::kDkgParticipantsMax) {
      problem_ = "the genesis validators do not fit the DKG (at most 64, ids up to 65535): no group key";
      return;
    }
    parties_.push_back(static_cast<uint16_t>(v.id));
  }
  std::sort(parties_.begin(), parties_.end());
  threshold_ = threshold_for(genesis.protocol, parties_.size());
  self_ = node_.replica().self();
  bool party = std::binary_search(parties_.begin(), parties_.end(), static_cast<uint16_t>(self_ <= 0xFFFF ? self_ : 0));
  // Did this node take part already (its messages on the restored ledger)?
  bool took_part = false;
  for (const auto& cb : node_.replica().chain()) {
    for (const auto& tx : cb.block.txs) {
      if (!keys::is_dkg_tx(tx)) continue;
      auto t = keys::DkgTx::decode(tx);
      took_part |= t.ok() && t->node == self_;
    }
  }
  Bytes seed;
  std::string path = dir_ + "/dkg-seed.sealed";
  // Every node keeps a seed: a genesis validator for the DKG, any node for the resharings that
  // may make it a holder later (a node added by vote).
  {
    std::error_code ec;
    if (std::filesystem::exists(path, ec)) {
      auto blob = read_file(path, 4096);
      auto plain = blob.ok() ? tee::unseal(platform_, kSeedLabel, *blob) : Result<crypto::SecureBytes>(blob.error());
      if (plain.ok() && plain->size() == 32) {
        seed = to_bytes(plain->view());
      } else {
        problem_ = "the sealed DKG seed does not unseal (" + (plain.ok() ? std::string("wrong size") : plain.error().message) + "): this node only follows";
      }
    } else if (took_part) {
      problem_ = "this node took part in the DKG but its sealed seed is gone (a rolled-back disk?): it only follows and holds no share";
    } else {
      // Sealed before anything is submitted: a restart gives the same secrets, never new ones.
      Bytes fresh = crypto::random_bytes(32);
      auto sealed = tee::seal(platform_, kSeedLabel, fresh);
      Status written = sealed.ok() ? write_file_atomic(path, *sealed, 0600) : Status(sealed.error());
      if (written.ok()) {
        seed = std::move(fresh);
      } else {
        problem_ = "cannot seal the DKG seed (" + written.error().message + "): this node only follows";
      }
      crypto::zeroize(fresh.data(), fresh.size());
    }
  }
  keys::DkgConfig config{session_, parties_, threshold_, 0, kDkgWindowBlocks, {}, 0, {}, {}};
  auto dkg = keys::Dkg::create(config, seed.empty() || !party ? 0 : static_cast<uint16_t>(self_), seed);
  seed_ = crypto::SecureBytes(seed);
  crypto::zeroize(seed.data(), seed.size());
  if (!dkg.ok()) {
    problem_ = "the DKG cannot start: " + dkg.error().message;
    return;
  }
  dkg_ = std::move(dkg).value();
  // The validator set as of each block, followed here block by block (replay included), so
  // that every node starts the same resharing at the same height.
  tracked_.emplace(genesis, node_.replica().membership().appraiser());
  for (const auto& v : tracked_->set().validators()) known_identity_[v.id] = v.identity_key;
  for (const auto& cb : node_.replica().chain()) record(cb);  // what the restored ledger holds
}

void KeyService::use_outcome(const keys::DkgOutcome& o, uint16_t threshold) {
  current_ = o;
  threshold_ = threshold;
  keys::CheckpointConfig config{node_.replica().genesis_hash(), threshold_, o.group_public_key, o.public_shares};
  std::optional<keys::frost::KeyShare> share;
  if (o.share) {
    share = keys::frost::KeyShare{o.share->identifier, crypto::SecureBytes(o.share->secret.view()), o.share->public_share,
                                  o.share->group_public_key};
  }
  if (signer_) {
    signer_->rekey(std::move(config), std::move(share));
  } else {
    signer_.emplace(std::move(config), std::move(share));
  }
}

void KeyService::maybe_reshare(uint64_t height) {
  if (!current_ || reshare_) return;
  std::vector<uint16_t> now;
  for (const auto& v : tracked_->set().validators()) {
    if (v.id == 0 || v.id > 0xFFFF) return;  // does not fit the key's identifiers
    now.push_back(static_cast<uint16_t>(v.id));
  }
  std::sort(now.begin(), now.end());
  // A changed set, or a refresh the members ordered (the same set, new shares).
  bool refresh = tracked_->key_refreshes() > refreshes_done_;
  if ((now == parties_ && !refresh) || now.empty() || now.size() > keys::kDkgParticipantsMax) return;
  refreshes_done_ = tracked_->key_refreshes();
  // The same height and inputs on every node: the same run.
  uint64_t epoch = epoch_ + 1;
  Writer s;
  s.str("supernet-reshare-v1").str(node_.replica().genesis().chain_id).u64(epoch).u64(height);
  keys::DkgConfig config;
  config.session = crypto::sha256(s.data());
  config.threshold = threshold_for(node_.replica().genesis().protocol, now.size());
  config.start_height = height;
  config.window = kDkgWindowBlocks;
  config.old_public_shares = current_->public_shares;
  config.old_threshold = threshold_;
  config.old_group_key = current_->group_public_key;
  config.recipients = now;
  std::set<uint16_t> all(now.begin(), now.end());
  for (const auto& [id, ps] : config.old_public_shares) all.insert(id);
  config.participants.assign(all.begin(), all.end());
  uint16_t me = self_ <= 0xFFFF ? static_cast<uint16_t>(self_) : 0;
  bool takes_part = me != 0 && all.contains(me) && !seed_.empty();
  // An old holder without its share (a lost seed) cannot deal; it follows.
  if (config.old_public_shares.contains(me) && !current_->share) takes_part = false;
  Writer sd;
  sd.str("supernet-reshare-seed-v1").bytes(seed_.view()).u64(epoch);
  Bytes seed = takes_part ? crypto::sha256(sd.data()) : Bytes{};
  auto d = keys::Dkg::create(config, takes_part ? me : 0, seed, current_->share);
  crypto::zeroize(seed.data(), seed.size());
  if (!d.ok()) {
    reshare_problem_ = "the resharing to {" + std::to_string(now.size()) + " validators} cannot start: " + d.error().message;
    parties_ = now;  // not retried for this set
    return;
  }
  reshare_ = std::move(d).value();
  reshare_session_ = config.session;
  reshare_epoch_ = epoch;
  reshare_to_ = now;
  reshare_threshold_ = config.threshold;
  log(LogLevel::kInfo, "keys", std::string(refresh && now == parties_ ? "the members ordered a refresh" : "the validator set changed") +
                                   " at height " + std::to_string(height) + ": resharing the group key to " +
                                   std::to_string(now.size()) + " validators (threshold " + std::to_string(config.threshold) + ", epoch " +
                                   std::to_string(epoch) + ")" + (takes_part ? "" : "; this node follows"));
}

void KeyService::record(const consensus::CommittedBlock& cb) {
  if (!dkg_) return;
  uint64_t height = cb.block.header.height;
  // Checkpoint messages count once the group key was ready before this block (the same rule
  // on every node, replay included).
  record_checkpoints(cb);
  record_releases(cb);
  for (const auto& tx : cb.block.txs) {
    if (consensus::Membership::handles(tx)) {
      (void)tracked_->apply(tx, height, cb.commit_qc.phase == consensus::Phase::kRecovery);
      continue;
    }
    if (!keys::is_dkg_tx(tx)) continue;
    auto t = keys::DkgTx::decode(tx);
    if (!t.ok() || t->node > 0xFFFF) continue;
    // Counted only with its node's identity signature: a validator cannot speak for another
    // (one removed since still signs as itself: its key stays known).
    auto key = known_identity_.find(t->node);
    if (key == known_identity_.end()) continue;
    bool genesis_run = !dkg_->done() && t->verify(session_, key->second);
    bool reshare_run = !genesis_run && reshare_ && t->verify(reshare_session_, key->second);
    if (!genesis_run && !reshare_run) continue;
    auto m = keys::decode_dkg(t->message);
    if (!m.ok()) continue;
    if (t->node == self_) {
      // By session and message: one run's ack is byte for byte another's.
      Bytes tagged = concat({genesis_run ? ByteView(session_) : ByteView(reshare_session_), t->message});
      unconfirmed_.erase(tagged);
      on_ledger_.insert(tagged);
    }
    (void)(genesis_run ? dkg_->on_ledger(static_cast<uint16_t>(t->node), *m, height)
                       : reshare_->on_ledger(static_cast<uint16_t>(t->node), *m, height));
  }
  for (const auto& v : tracked_->set().validators()) known_identity_[v.id] = v.identity_key;
  dkg_->on_height(height);
  if (!current_ && dkg_->done() && dkg_->outcome()) use_outcome(*dkg_->outcome(), threshold_);
  if (reshare_) {
    reshare_->on_height(height);
    if (reshare_->done()) {
      if (reshare_->outcome()) {
        use_outcome(*reshare_->outcome(), reshare_threshold_);
        epoch_ = reshare_epoch_;
        reshare_problem_.clear();
        const auto& o = *current_;
        log(LogLevel::kInfo, "keys", "the group key " + to_hex(o.group_public_key).substr(0, 16) + "... was reshared to " +
                                         std::to_string(reshare_to_.size()) + " validators (epoch " + std::to_string(epoch_) + ", threshold " +
                                         std::to_string(threshold_) + ", " + std::to_string(o.excluded.size()) + " excluded)" +
                                         (o.share ? "; this node holds a share" : "; this node holds no share"));
      } else {
        reshare_problem_ = "the resharing to epoch " + std::to_string(reshare_epoch_) + " failed: " + reshare_->failure().value_or("?") +
                           "; the current holders keep the key";
        log(LogLevel::kWarn, "keys", reshare_problem_);
      }
      parties_ = reshare_to_;  // the set this run was for: a later change starts another
      reshare_.reset();
      unconfirmed_.clear();  // this node's messages of the run are moot now
    }
  }
  maybe_reshare(height);
}

void KeyService::record_checkpoints(const consensus::CommittedBlock& cb) {
  uint64_t height = cb.block.header.height;
  bool content = false;
  for (const auto& tx : cb.block.txs) {
    if (!keys::is_checkpoint_tx(tx)) {
      content = true;
      continue;
    }
    if (!signer_) continue;
    auto t = keys::CheckpointTx::decode(tx);
    if (!t.ok() || t->node > 0xFFFF) continue;
    // The identity keys as of this block (not the set at the end of the chain), so that a replay
    // after a restart counts the very messages the live run counted.
    auto key = known_identity_.find(t->node);
    if (key == known_identity_.end() || !t->verify(session_, key->second)) continue;
    auto m = keys::decode_checkpoint_message(t->message);
    if (!m.ok()) continue;
    if (t->node == self_) checkpoint_unconfirmed_.erase(t->message);
    const auto& chain = node_.replica().chain();
    (void)signer_->on_ledger(static_cast<uint16_t>(t->node), *m, height, [&chain](uint64_t h) -> std::optional<Bytes> {
      if (h == 0 || h > chain.size()) return std::nullopt;
      return chain[h - 1].block.header.hash();
    });
  }
  if (content) content_height_ = height;
}

void KeyService::record_releases(const consensus::CommittedBlock& cb) {
  for (const auto& tx : cb.block.txs) {
    if (!keys::ReleaseTx::is(tx)) continue;
    auto t = keys::ReleaseTx::decode(tx);
    if (!t.ok()) continue;
    // Only a validator's own signed record counts: a host cannot invent releases.
    auto key = known_identity_.find(t->node);
    if (key == known_identity_.end() || !t->verify(session_, key->second)) continue;
    auto r = keys::ReleaseRecord::decode(t->message);
    if (!r.ok()) continue;
    releases_total_++;
    releases_.emplace_back(t->node, std::move(*r));
    if (releases_.size() > kReleaseLogShown) releases_.pop_front();
    // A part for another node waited for this record: it may go now.
    if (auto it = node_releases_.find(consensus::tx_id(tx)); it != node_releases_.end()) {
      node_.send_app(it->second.to, it->second.reply.encode());
      node_releases_.erase(it);
    }
  }
}

void KeyService::expire_node_releases() {
  int64_t now = node_.now_ms();
  for (auto it = node_releases_.begin(); it != node_releases_.end();) {
    if (now < it->second.deadline_ms) {
      ++it;
      continue;
    }
    keys::KeyFrame refusal = keys::KeyFrame::make(keys::KeyFrame::Type::kReleaseReply, it->second.reply.request);
    refusal.error_code = "release.log";
    refusal.error_message = "the release record did not commit within " + std::to_string(kReleaseRecordWaitMs) + " ms: nothing released";
    node_.send_app(it->second.to, refusal.encode());
    it = node_releases_.erase(it);
  }
}

void KeyService::on_key_frame(uint32_t from, Bytes frame) {
  auto f = keys::KeyFrame::decode(frame);
  if (!f.ok()) return;  // bounded and dropped: a peer's garbage costs it nothing but the frame
  if (f->type == keys::KeyFrame::Type::kNonceAsk || f->type == keys::KeyFrame::Type::kReleaseAsk) return answer_key_frame(from, *f);
  std::lock_guard lock(mu_);
  ledger_key_reply(from, *f);
}

void KeyService::answer_key_frame(uint32_t from, const keys::KeyFrame& f) {
  if (f.type == keys::KeyFrame::Type::kNonceAsk) {
    keys::KeyFrame reply = keys::KeyFrame::make(keys::KeyFrame::Type::kNonceReply, f.request);
    auto n = release_nonce("node:" + std::to_string(from));
    if (n.ok()) {
      reply.nonce = *n;
    } else {
      reply.error_code = n.error().code;
      reply.error_message = n.error().message;
    }
    return node_.send_app(from, reply.encode());
  }
  keys::KeyFrame reply = keys::KeyFrame::make(keys::KeyFrame::Type::kReleaseReply, f.request);
  auto refuse = [&](const Error& e) {
    reply.error_code = e.code;
    reply.error_message = e.message;
    node_.send_app(from, reply.encode());
  };
  {
    std::lock_guard lock(mu_);
    if (node_releases_.size() >= kPendingNodeReleasesMax) {
      return refuse(make_error("release.busy", std::to_string(kPendingNodeReleasesMax) + " releases are waiting for their records"));
    }
  }
  // A node asks with its own evidence, as any attested requester; no client name.
  auto granted = release(f.release, "");
  if (!granted.ok()) return refuse(granted.error());
  if (!node_.submit(granted->record_tx)) return refuse(make_error("release.log", "this node cannot take the release record now"));
  reply.identifier = granted->identifier;
  reply.sealed = std::move(granted->sealed);
  std::lock_guard lock(mu_);
  node_releases_[consensus::tx_id(granted->record_tx)] = {from, std::move(reply), node_.now_ms() + kReleaseRecordWaitMs};
}

void KeyService::ask_ledger_key() {
  if (ledger_key_ || !current_) return;
  int64_t now = node_.now_ms();
  if (ledger_attempt_ && now - ledger_attempt_->started_ms < kLedgerKeyRetryMs) return;
  if (ledger_attempt_ && !ledger_attempt_->refusals.empty()) {
    std::string why;
    for (const auto& [node, r] : ledger_attempt_->refusals) why += (why.empty() ? "" : "; ") + ("node " + std::to_string(node) + ": " + r);
    ledger_key_problem_ = why;
  }
  ledger_attempt_.emplace();
  ledger_attempt_->ephemeral = keys::hpke_generate_key_pair();
  ledger_attempt_->request = crypto::random_u64();
  ledger_attempt_->started_ms = now;
  for (uint16_t p : parties_) {
    if (!current_->public_shares.count(p)) continue;
    node_.send_app(p, keys::KeyFrame::make(keys::KeyFrame::Type::kNonceAsk, ledger_attempt_->request).encode());
  }
}

void KeyService::ledger_key_reply(uint32_t from, const keys::KeyFrame& f) {
  if (!ledger_attempt_ || f.request != ledger_attempt_->request || ledger_key_ || !current_) return;
  auto& a = *ledger_attempt_;
  if (!f.error_code.empty()) {
    a.refusals[from] = f.error_code + ": " + f.error_message;
    return;
  }
  Bytes chain = node_.replica().genesis_hash();
  if (f.type == keys::KeyFrame::Type::kNonceReply) {
    // Fresh evidence from this node's own platform, binding the validator's nonce and this
    // attempt's key; no package: it is the node program itself that asks.
    auto evidence = platform_.evidence(keys::release_report_data(chain, f.nonce, a.ephemeral.public_key, {}));
    if (!evidence.ok()) {
      a.refusals[from] = "this node's evidence: " + evidence.error().message;
      return;
    }
    keys::KeyFrame ask = keys::KeyFrame::make(keys::KeyFrame::Type::kReleaseAsk, a.request);
    ask.release = {std::string(keys::kLedgerKeyResource), a.ephemeral.public_key, std::move(*evidence), f.nonce, {}};
    node_.send_app(from, ask.encode());
    return;
  }
  const auto& shares = current_->public_shares;
  auto part = keys::open_part(a.ephemeral.secret, a.ephemeral.public_key, chain, keys::kLedgerKeyResource, f.sealed);
  auto share = part.ok() ? shares.find(part->identifier) : shares.end();
  Status checked = !part.ok() ? Status(part.error())
                   : share == shares.end() ? Status(make_error("release.part", "no public share for its identifier"))
                                           : keys::verify_part(*part, share->second, keys::kLedgerKeyResource);
  if (!checked.ok()) {
    a.refusals[from] = checked.error().message;
    return;
  }
  a.parts[part->identifier] = *part;
  if (a.parts.size() < threshold_) return;
  std::vector<keys::DerivedPart> parts;
  for (const auto& [id, p] : a.parts) parts.push_back(p);
  auto key = keys::combine_parts(parts, threshold_, shares, current_->group_public_key, keys::kLedgerKeyResource);
  if (!key.ok()) {
    a.refusals[from] = key.error().message;
    return;
  }
  ledger_key_ = std::move(*key);
  ledger_key_problem_.clear();
  std::string from_nodes;
  for (const auto& [id, p] : a.parts) from_nodes += (from_nodes.empty() ? "" : ", ") + std::to_string(id);
  log(LogLevel::kInfo, "keys", "obtained the ledger key (private tables) by key release from share holders " + from_nodes);
  ledger_attempt_.reset();
}

std::optional<crypto::SecureBytes> KeyService::ledger_key() const {
  std::lock_guard lock(mu_);
  return ledger_key_;
}

Result<Bytes> KeyService::release_nonce(const std::string& requester) {
  std::lock_guard lock(mu_);
  if (!current_ || !current_->share) {
    return make_error("release.share", "this node holds no key share" + (problem_.empty() ? std::string() : ": " + problem_));
  }
  return nonces_.issue(node_.now_ms(), requester);
}

Result<KeyService::Release> KeyService::release(const keys::ReleaseRequest& request, const std::string& client) {
  std::lock_guard lock(mu_);
  if (!current_) return make_error("release.share", "the network's group key is not generated yet");
  if (!current_->share) {
    return make_error("release.share", "this node holds no key share" + (problem_.empty() ? std::string() : ": " + problem_));
  }
  const auto& policies = node_.replica().membership().release_policies();
  auto it = policies.find(request.resource);
  std::optional<keys::ReleasePolicy> policy;
  if (it != policies.end()) policy = it->second;
  if (request.resource == keys::kLedgerKeyResource) {
    policy = keys::ReleasePolicy{};
    policy->node_programs = true;
  }
  if (builtin_) {
    if (auto b = builtin_(request.resource)) policy = std::move(b);
  }
  // Evidence passes what a peer's must pass now: the operator's policy with every revocation
  // the members committed, and the exact report data.
  keys::EvidenceCheck verify = [this](ByteView evidence, ByteView report_data) -> Result<tee::Claims> {
    UnixSeconds now = now_unix();
    SN_ASSIGN(tee::Claims claims, tee::verify_evidence(evidence, node_.collateral(), now));
    tee::Appraisal a = tee::appraise(node_.policy(), claims, now, report_data);
    if (!a.pass()) {
      std::string why;
      for (const auto& f : a.failures) why += (why.empty() ? "" : "; ") + f;
      return make_error("release.evidence", why);
    }
    return claims;
  };
  const auto& share = *current_->share;
  SN_ASSIGN(keys::ReleaseGrant grant, keys::decide_release(request, policy, client, node_.replica().genesis_hash(), share, nonces_,
                                                          verify, node_.now_ms()));
  // The clock in the record is the wall clock (a record is for people); decide_release's is the node's.
  grant.record.time_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  Release out;
  out.sealed = std::move(grant.sealed);
  out.identifier = share.identifier;
  out.record_tx = keys::ReleaseTx::make(session_, self_, grant.record.encode(), identity_secret_);
  return out;
}

void KeyService::submit_checkpoint_messages() {
  if (!signer_ || !signer_->can_sign()) return;
  int64_t now = node_.now_ms();
  auto latest = signer_->latest();
  uint64_t last = latest ? latest->height : 0;
  if (last != last_checkpoint_height_ || last_checkpoint_ms_ == 0) {
    last_checkpoint_height_ = last;
    last_checkpoint_ms_ = now;
  }
  // A change of attempt (opened, done, abandoned) makes this node's earlier shares and votes moot.
  uint64_t attempt = signer_->attempt() ? signer_->attempt()->opened_at : 0;
  if (attempt != seen_attempt_) {
    seen_attempt_ = attempt;
    seen_attempt_ms_ = now;
    std::erase_if(checkpoint_unconfirmed_, [](const auto& kv) {
      auto m = keys::decode_checkpoint_message(kv.first);
      return !m.ok() || !std::holds_alternative<keys::CheckpointCommit>(*m);
    });
  }
  std::optional<uint64_t> wanted;
  uint64_t height = node_.height();
  if (content_height_ > last && height > last &&
      (now - last_checkpoint_ms_ >= kCheckpointIntervalMs || content_height_ - last >= kCheckpointEveryBlocks)) {
    wanted = height;
  }
  auto add = [&](const keys::CheckpointMessage& m) {
    checkpoint_unconfirmed_.emplace(keys::encode_checkpoint_message(m), keys::make_checkpoint_tx(session_, self_, m, identity_secret_));
  };
  for (const auto& m : signer_->poll(wanted)) {
    if (std::holds_alternative<keys::CheckpointCommit>(m)) checkpoint_unconfirmed_.clear();  // a new commitment supersedes the rest
    add(m);
  }
  if (attempt != 0 && now - seen_attempt_ms_ >= kCheckpointStallMs) {
    if (auto v = signer_->abandon()) {
      log(LogLevel::kInfo, "keys", "the checkpoint attempt for height " + std::to_string(signer_->attempt()->height) +
                                       " is stalled (a chosen signer did not sign): voting to abandon it");
      add(*v);
    }
  }
  for (const auto& [encoded, tx] : checkpoint_unconfirmed_) (void)node_.submit(tx);
}

void KeyService::on_commit(const consensus::CommittedBlock& cb) {
  {
    std::lock_guard lock(mu_);
    record(cb);
  }
  // Posted: this runs inside the node's commit processing, which must not be re-entered.
  asio::post(node_.io(), [this, alive = alive_] {
    if (*alive) flush();
  });
}

void KeyService::flush() {
  std::lock_guard lock(mu_);
  if (!dkg_) return;
  for (auto& m : dkg_->outbox()) {
    Bytes tagged = concat({session_, keys::encode_dkg(m)});
    if (on_ledger_.contains(tagged)) continue;  // replayed after a restart: it is there already
    unconfirmed_.emplace(tagged, keys::make_dkg_tx(session_, self_, m, identity_secret_));
  }
  if (reshare_) {
    for (auto& m : reshare_->outbox()) {
      Bytes tagged = concat({reshare_session_, keys::encode_dkg(m)});
      if (on_ledger_.contains(tagged)) continue;
      unconfirmed_.emplace(tagged, keys::make_dkg_tx(reshare_session_, self_, m, identity_secret_));
    }
  }
  for (const auto& [encoded, tx] : unconfirmed_) (void)node_.submit(tx);
  submit_checkpoint_messages();
  expire_node_releases();
  ask_ledger_key();
  if (dkg_->done() && !logged_) {
    logged_ = true;
    if (current_) {
      const auto& o = *current_;
      log(LogLevel::kInfo, "keys", "the network's group key is " + to_hex(o.group_public_key) + " (threshold " + std::to_string(threshold_) +
                                       " of " + std::to_string(parties_.size()) + ", epoch " + std::to_string(epoch_) + ", " +
                                       std::to_string(o.excluded.size()) + " excluded)" +
                                       (o.share ? "; this node holds a share" : "; this node holds no share"));
    } else {
      log(LogLevel::kWarn, "keys", "the DKG failed: " + dkg_->failure().value_or("?"));
    }
  }
}

void KeyService::arm() {
  timer_.expires_after(std::chrono::milliseconds(kDkgResubmitMs));
  timer_.async_wait([this, alive = alive_](const asio::error_code& ec) {
    if (ec || !*alive) return;
    flush();
    arm();
  });
}

nlohmann::json KeyService::status() const {
  std::lock_guard lock(mu_);
  nlohmann::json j;
  j["session"] = to_hex(session_);
  j["threshold"] = threshold_;
  j["parties"] = parties_.size();
  j["epoch"] = epoch_;
  if (reshare_) {
    j["resharing"] = {{"epoch", reshare_epoch_}, {"to", reshare_to_}, {"threshold", reshare_threshold_},
                      {"phase", reshare_->phase_name()}, {"waiting_for", reshare_->waiting_for()}};
  }
  if (!reshare_problem_.empty()) j["reshare_problem"] = reshare_problem_;
  j["checkpoint"] = nullptr;
  j["public_key"] = nullptr;
  j["share"] = false;
  if (!problem_.empty()) j["problem"] = problem_;
  if (!dkg_) {
    j["state"] = "off";
    return j;
  }
  if (!dkg_->done()) {
    j["state"] = "generating";
    return j;
  }
  if (!current_) {
    j["state"] = "failed";
    j["failure"] = dkg_->failure().value_or("");
    return j;
  }
  const auto& o = *current_;
  j["state"] = "ready";
  j["public_key"] = to_hex(o.group_public_key);
  j["qualified"] = o.qualified;
  j["excluded"] = nlohmann::json::object();
  for (const auto& [id, why] : o.excluded) j["excluded"][std::to_string(id)] = why;
  j["share"] = o.share.has_value();
  // Each share holder's G·s_i: what a requester checks every released part against.
  j["public_shares"] = nlohmann::json::object();
  for (const auto& [id, s] : o.public_shares) j["public_shares"][std::to_string(id)] = to_hex(s);
  nlohmann::json log = nlohmann::json::array();
  for (const auto& [node, r] : releases_) {
    log.push_back({{"validator", node}, {"resource", r.resource}, {"requester", r.requester}, {"measurement", r.measurement},
                   {"package", r.package}, {"time", format_rfc3339(r.time_ms / 1000, static_cast<int>(r.time_ms % 1000))},
                   {"request_key", to_hex(r.request_key)}});
  }
  j["releases"] = {{"total", releases_total_}, {"recent", log}};
  j["ledger_key"] = ledger_key_.has_value();
  if (!ledger_key_ && !ledger_key_problem_.empty()) j["ledger_key_problem"] = ledger_key_problem_;
  if (signer_) {
    if (auto cp = signer_->latest()) {
      j["checkpoint"] = {{"height", cp->height}, {"block_hash", to_hex(cp->block_hash)}, {"signature", to_hex(cp->signature)}};
    }
    nlohmann::json signing = {{"checkpoints", signer_->checkpoints().size()}, {"abandoned", signer_->abandoned()}};
    if (const auto& a = signer_->attempt()) {
      signing["attempt"] = {{"height", a->height}, {"opened_at", a->opened_at}, {"commitments", a->commits.size()}, {"shares", a->shares.size()}};
    }
    j["signing"] = signing;
  }
  return j;
}

std::optional<ledger::Checkpoint> KeyService::checkpoint_covering(uint64_t height) const {
  std::lock_guard lock(mu_);
  if (!signer_) return std::nullopt;
  return signer_->covering(height);
}

}  // namespace supernet::node
