#include "consensus/membership.h"

#include <algorithm>
#include <cassert>
#include <set>

#include "consensus/chain.h"
#include "consensus/verify.h"
#include "crypto/hash.h"
#include "crypto/keys.h"
#include "util/codec.h"

namespace supernet::consensus {

namespace {

constexpr char kGovMagic[] = "SNGV";
constexpr char kEvidenceMagic[] = "SNEV";
constexpr size_t kMeasurementsMax = 64;
constexpr size_t kEvidenceMessagesBytesMax = 48 * 1024;

bool has_magic(ByteView tx, const char* magic) { return tx.size() >= 4 && std::equal(tx.begin(), tx.begin() + 4, magic); }

bool is_lower_hex(const std::string& s) {
  return !s.empty() && s.size() % 2 == 0 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

void encode_change(Writer& w, const Change& c) {
  w.u8(static_cast<uint8_t>(c.kind)).u32(c.node).u64(c.weight).bytes(c.identity_key).bytes(c.vote_key).str(c.peer).str(c.api);
  w.u32(static_cast<uint32_t>(c.measurements.size()));
  for (const auto& m : c.measurements) w.str(m);
  w.str(c.note).u64(static_cast<uint64_t>(c.issued_at)).bytes(c.evidence).str(c.platform_key);
  if (c.kind == ChangeKind::kSetMinTcb) {
    w.str(c.platform).u32(static_cast<uint32_t>(c.min_tcb.size()));
    for (const auto& [component, min] : c.min_tcb) w.str(component).u64(min);
  }
  if (c.kind == ChangeKind::kSetReleasePolicy) {
    w.str(c.resource).u32(static_cast<uint32_t>(c.clients.size()));
    for (const auto& client : c.clients) w.str(client);
    w.u32(static_cast<uint32_t>(c.packages.size()));
    for (const auto& p : c.packages) w.str(p);
  }
}

Result<Change> decode_change(Reader& r) {
  Change c;
  SN_ASSIGN(uint8_t kind, r.u8());
  if (kind < 1 || kind > 9) return make_error("governance.decode", "unknown kind of change");
  c.kind = static_cast<ChangeKind>(kind);
  SN_ASSIGN(c.node, r.u32());
  SN_ASSIGN(c.weight, r.u64());
  SN_ASSIGN(ByteView ik, r.bytes(kKeyBytes));
  SN_ASSIGN(ByteView vk, r.bytes(kKeyBytes));
  c.identity_key = to_bytes(ik);
  c.vote_key = to_bytes(vk);
  SN_ASSIGN(ByteView peer, r.bytes(256));
  SN_ASSIGN(ByteView api, r.bytes(256));
  c.peer = to_string(peer);
  c.api = to_string(api);
  SN_ASSIGN(uint32_t n, r.count(kMeasurementsMax, 4));
  for (uint32_t i = 0; i < n; i++) {
    SN_ASSIGN(ByteView m, r.bytes(256));
    c.measurements.push_back(to_string(m));
  }
  SN_ASSIGN(ByteView note, r.bytes(1024));
  c.note = to_string(note);
  SN_ASSIGN(uint64_t issued_at, r.u64());
  c.issued_at = static_cast<int64_t>(issued_at);
  SN_ASSIGN(ByteView evidence, r.bytes(kRotationEvidenceBytesMax));
  c.evidence = to_bytes(evidence);
  SN_ASSIGN(ByteView platform_key, r.bytes(256));  // a virtual key id (64), or a chip id (revoke_chip)
  c.platform_key = to_string(platform_key);
  if (c.kind == ChangeKind::kSetMinTcb) {
    SN_ASSIGN(ByteView platform, r.bytes(16));
    c.platform = to_string(platform);
    SN_ASSIGN(uint32_t n, r.count(kMinTcbComponentsMax, 12));
    for (uint32_t i = 0; i < n; i++) {
      SN_ASSIGN(ByteView component, r.bytes(32));
      SN_ASSIGN(uint64_t min, r.u64());
      // One encoding: components sorted and distinct (as a map encodes them).
      if (!c.min_tcb.empty() && to_string(component) <= c.min_tcb.rbegin()->first) {
        return make_error("governance.decode", "minimum TCB components are not sorted and distinct");
      }
      c.min_tcb[to_string(component)] = min;
    }
  }
  if (c.kind == ChangeKind::kSetReleasePolicy) {
    SN_ASSIGN(ByteView resource, r.bytes(keys::kResourceNameBytesMax));
    c.resource = to_string(resource);
    SN_ASSIGN(uint32_t clients, r.count(keys::kReleasePolicyEntriesMax, 4));
    for (uint32_t i = 0; i < clients; i++) {
      SN_ASSIGN(ByteView client, r.bytes(64));
      c.clients.push_back(to_string(client));
    }
    SN_ASSIGN(uint32_t packages, r.count(keys::kReleasePolicyEntriesMax, 4));
    for (uint32_t i = 0; i < packages; i++) {
      SN_ASSIGN(ByteView p, r.bytes(64));
      c.packages.push_back(to_string(p));
    }
  }
  return c;
}

}  // namespace

const char* change_kind_name(ChangeKind k) {
  switch (k) {
    case ChangeKind::kAddNode:
      return "add_node";
    case ChangeKind::kRemoveNode:
      return "remove_node";
    case ChangeKind::kSetWeight:
      return "set_weight";
    case ChangeKind::kSetMeasurements:
      return "set_measurements";
    case ChangeKind::kSetMinTcb:
      return "set_min_tcb";
    case ChangeKind::kRevokePlatformKey:
      return "revoke_platform_key";
    case ChangeKind::kSetReleasePolicy:
      return "set_release_policy";
    case ChangeKind::kRefreshKey:
      return "refresh_key";
    case ChangeKind::kRevokeChip:
      return "revoke_chip";
  }
  return "?";
}

// --- governance transactions ---

bool is_governance_tx(ByteView tx) { return has_magic(tx, kGovMagic); }

Bytes GovernanceTx::signed_bytes() const {
  Writer w;
  w.str("supernet-governance-v1").u8(static_cast<uint8_t>(action));
  if (action == Action::kPropose) {
    encode_change(w, change);
  } else {
    w.fixed(proposal);
  }
  w.u64(nonce).bytes(member_spki);
  return w.take();
}

Bytes GovernanceTx::encode() const {
  Writer w;
  w.fixed(as_bytes(kGovMagic)).u8(static_cast<uint8_t>(action));
  if (action == Action::kPropose) {
    encode_change(w, change);
  } else {
    w.fixed(proposal);
  }
  w.u64(nonce).bytes(member_spki).bytes(signature);
  return w.take();
}

Result<GovernanceTx> GovernanceTx::decode(ByteView tx) {
  if (!is_governance_tx(tx)) return make_error("governance.decode", "not a governance transaction");
  Reader r(tx.subspan(4));
  GovernanceTx g;
  SN_ASSIGN(uint8_t action, r.u8());
  if (action == 1) {
    g.action = Action::kPropose;
    SN_ASSIGN(g.change, decode_change(r));
  } else if (action == 2) {
    g.action = Action::kApprove;
    SN_ASSIGN(ByteView id, r.fixed(kHashBytes));
    g.proposal = to_bytes(id);
  } else {
    return make_error("governance.decode", "unknown governance action");
  }
  SN_ASSIGN(g.nonce, r.u64());
  SN_ASSIGN(ByteView spki, r.bytes(1024));
  SN_ASSIGN(ByteView sig, r.bytes(256));
  g.member_spki = to_bytes(spki);
  g.signature = to_bytes(sig);
  SN_TRY(r.finish());
  return g;
}

Bytes make_governance_tx(GovernanceTx g, const crypto::PrivateKey& member_key) {
  g.member_spki = member_key.public_key().spki_der();
  g.signature = member_key.sign_ecdsa_der(crypto::HashAlg::kSha256, g.signed_bytes());
  return g.encode();
}

// --- evidence ---

bool is_evidence_tx(ByteView tx) { return has_magic(tx, kEvidenceMagic); }

Bytes Evidence::signed_bytes() const {
  Writer w;
  w.str("supernet-evidence-v1").u32(reporter).u32(accused).str(reason).u32(static_cast<uint32_t>(messages.size()));
  for (const auto& m : messages) w.bytes(m);
  w.u64(height);
  return w.take();
}

Bytes Evidence::encode() const {
  Writer w;
  w.fixed(as_bytes(kEvidenceMagic)).u32(reporter).u32(accused).str(reason).u32(static_cast<uint32_t>(messages.size()));
  for (const auto& m : messages) w.bytes(m);
  w.u64(height).fixed(signature);
  return w.take();
}

Result<Evidence> Evidence::decode(ByteView tx) {
  if (!is_evidence_tx(tx)) return make_error("evidence.decode", "not an evidence transaction");
  Reader r(tx.subspan(4));
  Evidence e;
  SN_ASSIGN(e.reporter, r.u32());
  SN_ASSIGN(e.accused, r.u32());
  SN_ASSIGN(ByteView reason, r.bytes(512));
  e.reason = to_string(reason);
  SN_ASSIGN(uint32_t n, r.count(16, 4));
  for (uint32_t i = 0; i < n; i++) {
    SN_ASSIGN(ByteView m, r.bytes(kEvidenceMessagesBytesMax));
    e.messages.push_back(to_bytes(m));
  }
  SN_ASSIGN(e.height, r.u64());
  SN_ASSIGN(ByteView sig, r.fixed(kSignatureBytes));
  e.signature = to_bytes(sig);
  SN_TRY(r.finish());
  return e;
}

Bytes make_evidence_tx(NodeId reporter, NodeId accused, const std::string& reason, std::vector<Bytes> messages, uint64_t height,
                       const crypto::SecureBytes& identity_secret) {
  Evidence e;
  e.reporter = reporter;
  e.accused = accused;
  e.reason = reason.substr(0, 512);
  size_t total = 0;
  for (const auto& m : messages) total += m.size();
  if (total <= kEvidenceMessagesBytesMax && messages.size() <= 16) e.messages = std::move(messages);
  e.height = height;
  e.signature = crypto::ed25519_sign(identity_secret, e.signed_bytes());
  return e.encode();
}

// --- recovery ---

namespace {
constexpr char kRecoveryMagic[] = "SNRY";
}

bool is_recovery_tx(ByteView tx) { return has_magic(tx, kRecoveryMagic); }

Bytes Recovery::signed_bytes(const Hash& genesis_hash) const {
  Writer w;
  w.str("supernet-recovery-v1").fixed(genesis_hash).bytes(encode());
  return w.take();
}

Bytes Recovery::encode() const {
  Writer w;
  w.fixed(as_bytes(kRecoveryMagic)).u64(height).fixed(block).u32(static_cast<uint32_t>(carried.size()));
  for (const auto& c : carried) w.fixed(c);
  w.u32(static_cast<uint32_t>(rotation_ids.size()));
  for (const auto& id : rotation_ids) w.fixed(id);
  w.u64(nonce).str(note);
  return w.take();
}

Result<Recovery> Recovery::decode(ByteView tx) {
  if (!is_recovery_tx(tx)) return make_error("recovery.decode", "not a recovery transaction");
  Reader r(tx.subspan(4));
  Recovery out;
  SN_ASSIGN(out.height, r.u64());
  SN_ASSIGN(ByteView block, r.fixed(kHashBytes));
  out.block = to_bytes(block);
  SN_ASSIGN(uint32_t c, r.count(kRecoveryCarriedMax, kHashBytes));
  for (uint32_t i = 0; i < c; i++) {
    SN_ASSIGN(ByteView id, r.fixed(kHashBytes));
    out.carried.push_back(to_bytes(id));
  }
  SN_ASSIGN(uint32_t n, r.count(kValidatorsMax, kHashBytes));
  for (uint32_t i = 0; i < n; i++) {
    SN_ASSIGN(ByteView id, r.fixed(kHashBytes));
    out.rotation_ids.push_back(to_bytes(id));
  }
  SN_ASSIGN(out.nonce, r.u64());
  SN_ASSIGN(ByteView note, r.bytes(1024));
  out.note = to_string(note);
  SN_TRY(r.finish());
  return out;
}

MemberApproval approve_recovery(const Recovery& recovery, const Hash& genesis_hash, const crypto::PrivateKey& member_key) {
  return {member_key.public_key().spki_der(), member_key.sign_ecdsa_der(crypto::HashAlg::kSha256, recovery.signed_bytes(genesis_hash))};
}

Status Membership::check_recovery_approvals(const Recovery& r, const std::vector<MemberApproval>& approvals) const {
  if (rules_.approvals == 0) return make_error("recovery.governance", "this network's genesis sets no members, so nobody can recover it");
  Bytes msg = r.signed_bytes(genesis_hash());
  std::set<std::string> approved;
  for (const auto& a : approvals) {
    Bytes fingerprint = crypto::sha256(a.spki);
    const Member* member = nullptr;
    for (const auto& m : rules_.members) {
      if (m.spki_sha256 == fingerprint) member = &m;
    }
    if (member == nullptr) return make_error("recovery.member", "a recovery approval is signed by a key that is not a member's");
    SN_ASSIGN(crypto::PublicKey key, crypto::PublicKey::from_spki(a.spki));
    if (!key.verify_ecdsa_der(crypto::HashAlg::kSha256, msg, a.signature).ok()) {
      return make_error("recovery.signature", member->name + "'s approval of the recovery does not verify");
    }
    if (!approved.insert(member->name).second) return make_error("recovery.member", member->name + " approved twice");
  }
  if (approved.size() < rules_.approvals) {
    return make_error("recovery.approvals", "the recovery has " + std::to_string(approved.size()) + " member approval(s), " +
                                                std::to_string(rules_.approvals) + " needed");
  }
  return ok_status();
}

// --- the state machine ---

Membership::Membership(const ChainGenesis& genesis, std::shared_ptr<const EvidenceAppraiser> appraiser)
    : set_(genesis.validator_set()), rules_(genesis.governance()) {
  auto trust = std::make_shared<Trust>();
  trust->protocol = genesis.protocol;
  trust->genesis_hash = genesis.hash();
  trust->policy = genesis.policy;
  trust->appraiser = std::move(appraiser);
  for (const auto& client : genesis.clients) trust->clients.insert(client.name);
  changes_digest_ = crypto::sha256(concat({as_bytes("supernet-changes-v1"), trust->genesis_hash}));
  trust_ = std::move(trust);
}

Result<Membership> Membership::from_genesis(ByteView encoding, std::shared_ptr<const EvidenceAppraiser> appraiser) {
  SN_ASSIGN(ChainGenesis g, ChainGenesis::decode(encoding));
  Membership m(g, std::move(appraiser));
  assert(m.genesis_hash() == crypto::sha256(encoding));  // the canonical encoding is the one decoded
  return m;
}

Hash Membership::next_changes_digest(const Hash& digest, ByteView tx) {
  return crypto::sha256(concat({as_bytes("supernet-changes-v1"), digest, crypto::sha256(tx)}));
}

Status Membership::check_header(const BlockHeader& h) const {
  if (h.chain != genesis_hash()) return make_error("consensus.block", "block names another chain (genesis hash)");
  if (h.epoch != set_.epoch()) return make_error("consensus.block", "block names another validator set epoch");
  if (h.validators != set_.hash()) return make_error("consensus.block", "block names another validator set");
  if (h.changes != changes_digest_) return make_error("consensus.block", "block names another history of membership changes");
  return ok_status();
}

void Membership::fill_header(BlockHeader& h) const {
  h.chain = genesis_hash();
  h.epoch = set_.epoch();
  h.validators = set_.hash();
  h.changes = changes_digest_;
}

Status Membership::check_vote_key_evidence(NodeId node, ByteView identity_key, ByteView vote_key, uint64_t nonce,
                                           int64_t issued_at, ByteView evidence, const PolicyAdjustments& adjustments) const {
  if (protocol() != Protocol::kTeeBft) return make_error("consensus.rotation", "bft vote keys are not rotated");
  if (!appraiser()) return make_error("consensus.attestation", "this chain admits no vote key after its genesis (no appraiser)");
  if (evidence.empty()) return make_error("consensus.attestation", "the vote key of node " + std::to_string(node) + " comes without evidence");
  Bytes binding = vote_key_binding(genesis_hash(), node, identity_key, vote_key, nonce, issued_at);
  if (auto s = appraiser()->appraise(evidence, binding, issued_at, policy(), adjustments); !s.ok()) {
    return make_error("consensus.attestation", "evidence for the vote key of node " + std::to_string(node) +
                                                   " is refused: " + s.error().message);
  }
  return ok_status();
}

Status Membership::check_rotation(const KeyRotation& k, bool by_recovery) const {
  SN_TRY(verify_key_rotation(set_, k, !by_recovery));
  const Validator* v = set_.find(k.node);
  return check_vote_key_evidence(k.node, v->identity_key, k.new_vote_key, k.nonce, k.issued_at, k.evidence, adjustments());
}

bool Membership::handles(ByteView tx) {
  return is_key_rotation(tx) || is_governance_tx(tx) || is_evidence_tx(tx) || is_recovery_tx(tx);
}

Result<const Member*> Membership::check_member(const GovernanceTx& g) const {
  if (rules_.approvals == 0) return make_error("governance.off", "this network's genesis sets no governance");
  Bytes fingerprint = crypto::sha256(g.member_spki);
  const Member* member = nullptr;
  for (const auto& m : rules_.members) {
    if (m.spki_sha256 == fingerprint) member = &m;
  }
  if (member == nullptr) return make_error("governance.member", "signed by a key that is not a member's");
  SN_ASSIGN(crypto::PublicKey key, crypto::PublicKey::from_spki(g.member_spki));
  if (!key.verify_ecdsa_der(crypto::HashAlg::kSha256, g.signed_bytes(), g.signature).ok()) {
    return make_error("governance.signature", "the member's signature does not verify");
  }
  return member;
}

Status Membership::check_change(const Change& c) const {
  const Validator* v = set_.find(c.node);
  switch (c.kind) {
    case ChangeKind::kAddNode:
      if (c.node == 0 || v != nullptr) return make_error("governance.change", "node " + std::to_string(c.node) + " is already a validator (or id 0)");
      if (set_.size() >= kValidatorsMax) return make_error("governance.change", "the validator set is full");
      if (c.identity_key.size() != kKeyBytes || c.vote_key.size() != kKeyBytes) return make_error("governance.change", "a new node needs 32-byte identity and vote keys");
      if (c.weight == 0 || c.weight > (uint64_t{1} << 40)) return make_error("governance.change", "weight must be 1 to 2^40");
      if (c.peer.empty()) return make_error("governance.change", "a new node needs its peer address");
      if (!c.platform_key.empty() && (c.platform_key.size() != 64 || !is_lower_hex(c.platform_key))) {
        return make_error("governance.change", "a platform key id is 64 lower-case hex digits");
      }
      if (!c.platform_key.empty() &&
          std::find(revoked_platform_keys_.begin(), revoked_platform_keys_.end(), c.platform_key) != revoked_platform_keys_.end()) {
        return make_error("governance.change", "the new node's platform key " + c.platform_key.substr(0, 16) + "... was revoked by the members");
      }
      if (protocol() == Protocol::kTeeBft) {
        PolicyAdjustments adj = adjustments();
        if (!c.platform_key.empty()) adj.virtual_platform_keys.push_back(c.platform_key);
        return check_vote_key_evidence(c.node, c.identity_key, c.vote_key, 0, c.issued_at, c.evidence, adj);
      }
      return ok_status();
    case ChangeKind::kRemoveNode:
      if (v == nullptr) return make_error("governance.change", "node " + std::to_string(c.node) + " is not a validator");
      if (set_.size() <= 1) return make_error("governance.change", "cannot remove the last validator");
      return ok_status();
    case ChangeKind::kSetWeight:
      if (v == nullptr) return make_error("governance.change", "node " + std::to_string(c.node) + " is not a validator");
      if (c.weight == 0 || c.weight > (uint64_t{1} << 40)) return make_error("governance.change", "weight must be 1 to 2^40");
      return ok_status();
    case ChangeKind::kSetMeasurements:
      if (c.measurements.empty() || c.measurements.size() > kMeasurementsMax) return make_error("governance.change", "give 1 to 64 measurements");
      for (const auto& m : c.measurements) {
        if (!is_lower_hex(m) || m.size() > 256) return make_error("governance.change", "measurements are lower-case hex");
      }
      return ok_status();
    case ChangeKind::kSetMinTcb: {
      static const std::set<std::string> kHardware{"sev-snp", "sgx", "tdx", "psa", "cca", "tpm"};  // tee::kind_name
      if (!kHardware.count(c.platform)) {
        return make_error("governance.change", "set_min_tcb names a hardware platform kind (sev-snp, sgx, tdx, psa, cca, tpm), not '" + c.platform + "'");
      }
      if (c.min_tcb.empty() || c.min_tcb.size() > kMinTcbComponentsMax) return make_error("governance.change", "give 1 to 16 TCB components");
      for (const auto& [component, min] : c.min_tcb) {
        if (component.empty() || component.size() > 32 || component.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") != std::string::npos) {
          return make_error("governance.change", "TCB component names are lower-case letters, digits and _ (at most 32)");
        }
      }
      return ok_status();
    }
    case ChangeKind::kRevokePlatformKey:
      if (!is_lower_hex(c.platform_key) || c.platform_key.size() != 64) {
        return make_error("governance.change", "revoke_platform_key names a platform key id: 64 lower-case hex digits");
      }
      return ok_status();
    case ChangeKind::kSetReleasePolicy: {
      if (auto s = keys::check_votable_resource(c.resource); !s.ok()) return make_error("governance.change", s.error().message);
      if (auto s = keys::check_release_policy({c.clients, c.measurements, c.packages}); !s.ok()) {
        return make_error("governance.change", s.error().message);
      }
      for (const auto& client : c.clients) {
        if (!trust_->clients.count(client)) return make_error("governance.change", "set_release_policy names client '" + client + "', which the genesis does not register");
      }
      return ok_status();
    }
    case ChangeKind::kRefreshKey:
      return ok_status();
    case ChangeKind::kRevokeChip:
      if (!is_lower_hex(c.platform_key) || c.platform_key.size() < 16) {
        return make_error("governance.change", "revoke_chip names a chip id: at least 8 bytes, in lower-case hex");
      }
      return ok_status();
  }
  return make_error("governance.change", "unknown change");
}

Status Membership::check(ByteView tx, bool by_recovery) const {
  if (is_key_rotation(tx)) {
    SN_ASSIGN(KeyRotation k, KeyRotation::decode(tx));
    return check_rotation(k, by_recovery);
  }
  if (is_evidence_tx(tx)) {
    SN_ASSIGN(Evidence e, Evidence::decode(tx));
    const Validator* reporter = set_.find(e.reporter);
    if (reporter == nullptr || e.reporter == e.accused) return make_error("evidence.reporter", "evidence must come from another validator");
    if (!crypto::ed25519_verify(reporter->identity_key, e.signed_bytes(), e.signature)) {
      return make_error("evidence.signature", "evidence is not signed by its reporter's identity key");
    }
    return ok_status();
  }
  if (is_governance_tx(tx)) {
    SN_ASSIGN(GovernanceTx g, GovernanceTx::decode(tx));
    auto member = check_governance(g, tx);
    if (!member.ok()) return member.error();
    return ok_status();
  }
  if (is_recovery_tx(tx)) {
    return make_error("recovery.ordered", "a recovery is applied by the members' certificate in its own block, never ordered with others");
  }
  return ok_status();
}

Result<const Member*> Membership::check_governance(const GovernanceTx& g, ByteView tx) const {
  SN_ASSIGN(const Member* member, check_member(g));
  if (g.action == GovernanceTx::Action::kPropose) {
    if (proposals_.count(tx_id(tx))) return make_error("governance.repeat", "this proposal was already made");
    SN_TRY(check_change(g.change));
    return member;
  }
  auto p = proposals_.find(to_string(g.proposal));
  if (p == proposals_.end()) return make_error("governance.unknown", "no such proposal");
  if (p->second.status != ProposalState::Status::kOpen) return make_error("governance.closed", "the proposal is already decided");
  if (p->second.approvals.count(member->name)) return make_error("governance.repeat", member->name + " already approved it");
  return member;
}

void Membership::carry_out(ProposalState& p, uint64_t height) {
  p.decided_at = height;
  if (auto s = check_change(p.change); !s.ok()) {
    p.status = ProposalState::Status::kFailed;
    p.failure = s.error().message;
    return;
  }
  const Change& c = p.change;
  switch (c.kind) {
    case ChangeKind::kAddNode:
      set_ = set_.with_validator({c.node, c.weight, c.vote_key, c.identity_key, 0});
      addresses_[c.node] = {c.peer, c.api};
      if (!c.platform_key.empty() && std::find(platform_keys_.begin(), platform_keys_.end(), c.platform_key) == platform_keys_.end()) {
        platform_keys_.push_back(c.platform_key);
      }
      break;
    case ChangeKind::kRemoveNode:
      set_ = set_.without(c.node);
      addresses_.erase(c.node);
      break;
    case ChangeKind::kSetWeight:
      set_ = set_.with_weight(c.node, c.weight);
      break;
    case ChangeKind::kSetMeasurements:
      measurements_ = c.measurements;
      break;
    case ChangeKind::kSetMinTcb:
      for (const auto& [component, min] : c.min_tcb) min_tcb_[c.platform][component] = min;
      break;
    case ChangeKind::kRevokePlatformKey:
      std::erase(platform_keys_, c.platform_key);
      if (std::find(revoked_platform_keys_.begin(), revoked_platform_keys_.end(), c.platform_key) == revoked_platform_keys_.end()) {
        revoked_platform_keys_.push_back(c.platform_key);
      }
      break;
    case ChangeKind::kSetReleasePolicy:
      if (c.clients.empty() && c.measurements.empty() && c.packages.empty()) {
        release_policies_.erase(c.resource);
      } else {
        release_policies_[c.resource] = {c.clients, c.measurements, c.packages};
      }
      break;
    case ChangeKind::kRefreshKey:
      key_refreshes_++;
      break;
    case ChangeKind::kRevokeChip:
      if (std::find(revoked_chip_ids_.begin(), revoked_chip_ids_.end(), c.platform_key) == revoked_chip_ids_.end()) {
        revoked_chip_ids_.push_back(c.platform_key);
      }
      break;
  }
  p.status = ProposalState::Status::kApplied;
}

bool Membership::apply(ByteView tx, uint64_t height, bool by_recovery) {
  if (is_key_rotation(tx)) {
    auto k = KeyRotation::decode(tx);
    if (!k.ok() || !check_rotation(*k, by_recovery).ok()) return false;
    set_ = set_.with_key(k->node, k->new_vote_key, std::max(k->nonce, set_.find(k->node)->rotation_nonce));
    changes_digest_ = next_changes_digest(changes_digest_, tx);
    return true;
  }
  if (is_evidence_tx(tx)) {
    auto e = Evidence::decode(tx);
    if (!e.ok()) return false;
    evidence_.push_back({e->reporter, e->accused, e->reason, height, e->messages.size()});
    return false;
  }
  if (is_recovery_tx(tx)) {
    // Its certificate was checked with its block (Chain); here it only enters the history.
    if (!Recovery::decode(tx).ok()) return false;
    changes_digest_ = next_changes_digest(changes_digest_, tx);
    return true;
  }
  if (!is_governance_tx(tx)) return false;
  auto g = GovernanceTx::decode(tx);
  if (!g.ok()) return false;
  auto member_or = check_governance(*g, tx);  // one decode and one signature check per transaction
  if (!member_or.ok()) return false;
  const Member* member = *member_or;
  ProposalState* p = nullptr;
  if (g->action == GovernanceTx::Action::kPropose) {
    p = &proposals_[tx_id(tx)];
    p->change = g->change;
    p->proposer = member->name;
    p->proposed_at = height;
  } else {
    p = &proposals_[to_string(g->proposal)];
  }
  p->approvals.insert(member->name);
  if (p->approvals.size() >= rules_.approvals) carry_out(*p, height);
  changes_digest_ = next_changes_digest(changes_digest_, tx);
  return true;
}

}  // namespace supernet::consensus
