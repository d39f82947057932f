#include "keys/dkg.h"

#include <algorithm>

#include "crypto/keys.h"
#include "util/codec.h"

namespace supernet::keys {

namespace {

using Scalar = crypto::SecureBytes;
using frost::Element;

constexpr std::string_view kMagic = "SNDK";
enum : uint8_t { kTypeRound1 = 1, kTypeRound2 = 2, kTypeComplaint = 3, kTypeAck = 4 };

ByteView ev(const Element& e) { return ByteView(e.data(), e.size()); }
Bytes u16_bytes(uint16_t v) { return Bytes{static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)}; }

Scalar pok_challenge(ByteView session, uint16_t dealer, const Element& c0, const Element& r) {
  Bytes d = u16_bytes(dealer);
  return frost::hash_to_scalar("supernet/dkg/pok/v1", {session, d, ev(c0), ev(r)});
}

Scalar pad_of(ByteView session, uint16_t dealer, uint16_t recipient, const Element& e, const Element& x, const Element& k) {
  Bytes d = u16_bytes(dealer), r = u16_bytes(recipient);
  return frost::hash_to_scalar("supernet/dkg/pad/v1", {session, d, r, ev(e), ev(x), ev(k)});
}

Scalar dleq_challenge(ByteView session, uint16_t complainer, uint16_t dealer, const Element& x, const Element& e, const Element& k,
                      const Element& a1, const Element& a2) {
  Bytes c = u16_bytes(complainer), d = u16_bytes(dealer);
  return frost::hash_to_scalar("supernet/dkg/dleq/v1", {session, c, d, ev(x), ev(e), ev(k), ev(a1), ev(a2)});
}

// Σ_k C_k · id^k: the dealer's commitment to f(id).
Result<Element> evaluate_commitments(const std::vector<Element>& c, uint16_t id) {
  Scalar power = frost::identifier_scalar(1), x = frost::identifier_scalar(id);
  Element sum = c[0];
  for (size_t k = 1; k < c.size(); k++) {
    power = frost::scalar_mul(power, x);
    SN_ASSIGN(Element term, frost::element_times(c[k], power));
    SN_ASSIGN(sum, frost::element_add(sum, term));
  }
  return sum;
}

bool share_matches(const std::vector<Element>& commitments, uint16_t id, const Scalar& share) {
  auto expected = evaluate_commitments(commitments, id);
  auto got = frost::base_times(share);
  return expected.ok() && got.ok() && *expected == *got;
}

void put_element(Writer& w, const Element& e) { w.fixed(ev(e)); }
Result<Element> get_element(Reader& r) {
  SN_ASSIGN(ByteView b, r.fixed(frost::kElementBytes));
  return frost::parse_element(b);
}
Result<Bytes> get_scalar(Reader& r) {
  SN_ASSIGN(ByteView b, r.fixed(frost::kScalarBytes));
  SN_TRY(frost::parse_scalar(b));
  return to_bytes(b);
}
Result<uint16_t> get_id(Reader& r) {
  SN_ASSIGN(uint32_t v, r.u32());
  if (v == 0 || v > 0xFFFF) return make_error("dkg.decode", "a participant identifier is 1 to 65535");
  return static_cast<uint16_t>(v);
}

}  // namespace

Bytes encode_dkg(const DkgMessage& m) {
  Writer w;
  w.fixed(as_bytes(kMagic));
  if (const auto* a = std::get_if<DkgRound1>(&m)) {
    w.u8(kTypeRound1).u32(a->dealer).u32(static_cast<uint32_t>(a->commitments.size()));
    for (const auto& c : a->commitments) put_element(w, c);
    put_element(w, a->proof_r);
    w.fixed(a->proof_z);
    put_element(w, a->encryption_key);
  } else if (const auto* b = std::get_if<DkgRound2>(&m)) {
    w.u8(kTypeRound2).u32(b->dealer);
    put_element(w, b->ephemeral);
    w.u32(static_cast<uint32_t>(b->shares.size()));
    for (const auto& [id, s] : b->shares) w.u32(id).fixed(s);
  } else if (const auto* c = std::get_if<DkgComplaint>(&m)) {
    w.u8(kTypeComplaint).u32(c->complainer).u32(c->dealer);
    put_element(w, c->shared);
    w.fixed(c->proof_c).fixed(c->proof_z);
  } else {
    w.u8(kTypeAck).u32(std::get<DkgAck>(m).participant);
  }
  return w.take();
}

Result<DkgMessage> decode_dkg(ByteView bytes) {
  Reader r(bytes);
  SN_ASSIGN(ByteView magic, r.fixed(kMagic.size()));
  if (to_string(magic) != kMagic) return make_error("dkg.decode", "not a DKG message");
  SN_ASSIGN(uint8_t type, r.u8());
  DkgMessage out;
  switch (type) {
    case kTypeRound1: {
      DkgRound1 a;
      SN_ASSIGN(a.dealer, get_id(r));
      // None from a participant that only receives (resharing to a new member).
      SN_ASSIGN(uint32_t n, r.count(kDkgParticipantsMax, frost::kElementBytes));
      for (uint32_t i = 0; i < n; i++) {
        SN_ASSIGN(Element e, get_element(r));
        a.commitments.push_back(e);
      }
      SN_ASSIGN(a.proof_r, get_element(r));
      SN_ASSIGN(a.proof_z, get_scalar(r));
      SN_ASSIGN(a.encryption_key, get_element(r));
      out = std::move(a);
      break;
    }
    case kTypeRound2: {
      DkgRound2 b;
      SN_ASSIGN(b.dealer, get_id(r));
      SN_ASSIGN(b.ephemeral, get_element(r));
      SN_ASSIGN(uint32_t n, r.count(kDkgParticipantsMax, 4 + frost::kScalarBytes));
      uint16_t last = 0;
      for (uint32_t i = 0; i < n; i++) {
        SN_ASSIGN(uint16_t id, get_id(r));
        if (id <= last) return make_error("dkg.decode", "round 2 shares are sorted by recipient, each once");
        last = id;
        SN_ASSIGN(b.shares[id], get_scalar(r));
      }
      out = std::move(b);
      break;
    }
    case kTypeComplaint: {
      DkgComplaint c;
      SN_ASSIGN(c.complainer, get_id(r));
      SN_ASSIGN(c.dealer, get_id(r));
      SN_ASSIGN(c.shared, get_element(r));
      SN_ASSIGN(c.proof_c, get_scalar(r));
      SN_ASSIGN(c.proof_z, get_scalar(r));
      out = std::move(c);
      break;
    }
    case kTypeAck: {
      DkgAck a;
      SN_ASSIGN(a.participant, get_id(r));
      out = a;
      break;
    }
    default:
      return make_error("dkg.decode", "unknown DKG message type " + std::to_string(type));
  }
  SN_TRY(r.finish());
  return out;
}

bool is_dkg_tx(ByteView tx) { return DkgTx::is(tx); }

Bytes make_dkg_tx(ByteView session, uint32_t node, const DkgMessage& m, const crypto::SecureBytes& identity_secret) {
  return DkgTx::make(session, node, encode_dkg(m), identity_secret);
}

Result<Dkg> Dkg::create(DkgConfig config, uint16_t self, ByteView seed32, const std::optional<frost::KeyShare>& old_share) {
  const auto& p = config.participants;
  if (p.empty() || p.size() > kDkgParticipantsMax) return make_error("dkg.config", "1 to 64 participants");
  for (size_t i = 0; i < p.size(); i++) {
    if (p[i] == 0 || (i > 0 && p[i] <= p[i - 1])) return make_error("dkg.config", "participants are sorted, distinct and nonzero");
  }
  if (config.threshold == 0 || config.threshold > p.size()) return make_error("dkg.config", "the threshold is 1 to the number of participants");
  if (config.session.empty() || config.session.size() > kDkgSessionBytesMax) return make_error("dkg.config", "the session id is 1 to 64 bytes");
  if (config.window == 0) return make_error("dkg.config", "a phase lasts at least one block");
  if (self != 0 && !std::binary_search(p.begin(), p.end(), self)) return make_error("dkg.config", "this node is not a participant");
  if (!seed32.empty() && seed32.size() != 32) return make_error("dkg.config", "the seed is 32 bytes");
  if (!config.old_public_shares.empty()) {
    // Every participant deals (an old holder) or receives (the new set), or both.
    const auto& r = config.recipients;
    if (r.empty() || !std::is_sorted(r.begin(), r.end()) || std::adjacent_find(r.begin(), r.end()) != r.end()) {
      return make_error("dkg.config", "resharing needs the new set, sorted and distinct");
    }
    if (config.threshold > r.size()) return make_error("dkg.config", "the new threshold is 1 to the size of the new set");
    if (config.old_threshold == 0 || config.old_threshold > config.old_public_shares.size()) {
      return make_error("dkg.config", "the old threshold is 1 to the number of old shares");
    }
    for (uint16_t id : p) {
      if (!config.old_public_shares.contains(id) && !std::binary_search(r.begin(), r.end(), id)) {
        return make_error("dkg.config", "participant " + std::to_string(id) + " neither holds an old share nor receives");
      }
    }
    for (uint16_t id : r) {
      if (!std::binary_search(p.begin(), p.end(), id)) return make_error("dkg.config", "a recipient is not a participant");
    }
    if (self != 0 && config.old_public_shares.contains(self)) {
      if (!old_share || old_share->identifier != self || frost::base_times(old_share->secret).value() != config.old_public_shares.at(self)) {
        return make_error("dkg.config", "this node holds an old share by the config, but not the one given");
      }
    }
  }
  Dkg d;
  d.config_ = std::move(config);
  d.self_ = self;
  d.phase_start_ = d.config_.start_height;
  d.seed_ = seed32.empty() ? crypto::random_bytes(32) : to_bytes(seed32);
  if (self != 0) {
    if (d.dealer(self)) {
      for (uint32_t k = 0; k < d.config_.threshold; k++) d.coefficients_.push_back(d.secret_scalar("coefficient", k));
      // Resharing: the constant term is this node's old share, so Σ λ_i·f_i(0) is the old secret.
      if (d.resharing()) d.coefficients_[0] = old_share->secret;
    }
    d.decryption_key_ = d.secret_scalar("decryption", 0);
    d.ephemeral_ = d.secret_scalar("ephemeral", 0);
    d.proof_nonce_ = d.secret_scalar("proof", 0);
  }
  return d;
}

crypto::SecureBytes Dkg::secret_scalar(std::string_view label, uint32_t index) const {
  Bytes i{static_cast<uint8_t>(index >> 24), static_cast<uint8_t>(index >> 16), static_cast<uint8_t>(index >> 8), static_cast<uint8_t>(index)};
  return frost::hash_to_scalar("supernet/dkg/secret/v1", {seed_, config_.session, as_bytes(label), i});
}

bool Dkg::participant(uint16_t id) const { return std::binary_search(config_.participants.begin(), config_.participants.end(), id); }

void Dkg::exclude(uint16_t dealer, std::string why) { excluded_.emplace(dealer, std::move(why)); }

std::vector<DkgMessage> Dkg::outbox() {
  std::vector<DkgMessage> out;
  if (self_ == 0 || done() || excluded_.contains(self_)) return out;
  if (phase_ == Phase::kRound1 && !sent_round1_) {
    DkgRound1 a;
    a.dealer = self_;
    for (const auto& c : coefficients_) a.commitments.push_back(frost::base_times(c).value());
    a.proof_r = frost::base_times(proof_nonce_).value();
    if (dealer(self_)) {
      Scalar c = pok_challenge(config_.session, self_, a.commitments[0], a.proof_r);
      a.proof_z = to_bytes(frost::scalar_add(proof_nonce_, frost::scalar_mul(coefficients_[0], c)).view());
    } else {
      a.proof_z = to_bytes(Scalar(frost::kScalarBytes).view());  // a recipient only: nothing to prove
    }
    a.encryption_key = frost::base_times(decryption_key_).value();
    sent_round1_ = true;
    out.push_back(std::move(a));
  }
  if (phase_ == Phase::kRound2 && !sent_round2_ && dealers1_.contains(self_)) {
    DkgRound2 b;
    b.dealer = self_;
    b.ephemeral = frost::base_times(ephemeral_).value();
    for (uint16_t l : recipients1_) {
      const Element& x = round1_.at(l).encryption_key;
      Element k = frost::element_times(x, ephemeral_).value();
      Scalar f = frost::polynomial_evaluate(l, coefficients_);
      b.shares[l] = to_bytes(frost::scalar_add(f, pad_of(config_.session, self_, l, b.ephemeral, x, k)).view());
    }
    sent_round2_ = true;
    out.push_back(std::move(b));
  }
  for (auto& c : pending_complaints_) out.push_back(std::move(c));
  pending_complaints_.clear();
  // The ack after this node's complaints are on the ledger (a complaint ordered after its
  // author's ack would not count).
  if (phase_ == Phase::kComplaints && !sent_ack_ && recipients1_.contains(self_) && complaints_unconfirmed_.empty()) {
    sent_ack_ = true;
    out.push_back(DkgAck{self_});
  }
  return out;
}

std::optional<crypto::SecureBytes> Dkg::my_share_from(uint16_t dealer, const DkgRound2& r2) const {
  Element k = frost::element_times(r2.ephemeral, decryption_key_).value();
  const Element& x = round1_.at(self_).encryption_key;
  Scalar s = frost::scalar_sub(Scalar(r2.shares.at(self_)), pad_of(config_.session, dealer, self_, r2.ephemeral, x, k));
  if (!share_matches(round1_.at(dealer).commitments, self_, s)) return std::nullopt;
  return s;
}

Status Dkg::on_ledger(uint16_t sender, const DkgMessage& m, uint64_t height) {
  advance(height);
  if (done()) return make_error("dkg.done", "the run is over");
  if (!participant(sender)) return make_error("dkg.sender", "the sender is not a participant");
  if (excluded_.contains(sender)) return make_error("dkg.excluded", "the sender is excluded");
  auto equivocated = [&](const char* what) {
    exclude(sender, std::string("sent two different ") + what);
    return make_error("dkg.equivocation", std::string("a second, different ") + what);
  };
  if (const auto* a = std::get_if<DkgRound1>(&m)) {
    if (a->dealer != sender) return make_error("dkg.sender", "a round 1 message names another dealer");
    if (phase_ != Phase::kRound1) return make_error("dkg.late", "round 1 is closed");
    if (auto it = round1_.find(sender); it != round1_.end()) {
      if (encode_dkg(it->second) == encode_dkg(*a)) return ok_status();
      round1_.erase(it);
      return equivocated("round 1 messages");
    }
    size_t want = dealer(sender) ? config_.threshold : 0;
    if (a->commitments.size() != want) {
      exclude(sender, "round 1 commits to " + std::to_string(a->commitments.size()) + " coefficients, not " + std::to_string(want));
      return make_error("dkg.round1", "wrong number of commitments");
    }
    if (want > 0) {
      // G·z == R + C_0·c
      Scalar c = pok_challenge(config_.session, sender, a->commitments[0], a->proof_r);
      auto lhs = frost::base_times(Scalar(a->proof_z));
      auto term = frost::element_times(a->commitments[0], c);
      auto rhs = term.ok() ? frost::element_add(a->proof_r, *term) : Result<Element>(term.error());
      if (!lhs.ok() || !rhs.ok() || *lhs != *rhs) {
        exclude(sender, "round 1's proof of knowledge does not verify");
        return make_error("dkg.round1", "bad proof of knowledge");
      }
      // Resharing: an old holder deals the share it holds, nothing else.
      if (resharing() && a->commitments[0] != config_.old_public_shares.at(sender)) {
        exclude(sender, "round 1's constant term is not its share of the current key");
        return make_error("dkg.round1", "the constant term is not the dealer's share");
      }
    }
    round1_.emplace(sender, *a);
    size_t heard = 0;
    for (uint16_t p : config_.participants) heard += round1_.contains(p) || excluded_.contains(p);
    if (heard == config_.participants.size()) close_round1(height);
    return ok_status();
  }
  if (const auto* b = std::get_if<DkgRound2>(&m)) {
    if (b->dealer != sender) return make_error("dkg.sender", "a round 2 message names another dealer");
    if (phase_ != Phase::kRound2) return make_error("dkg.phase", "not in round 2");
    if (!dealers1_.contains(sender)) return make_error("dkg.round2", "the dealer did not qualify in round 1");
    if (auto it = round2_.find(sender); it != round2_.end()) {
      if (encode_dkg(it->second) == encode_dkg(*b)) return ok_status();
      return equivocated("round 2 messages");
    }
    std::set<uint16_t> recipients;
    for (const auto& [id, s] : b->shares) recipients.insert(id);
    if (recipients != recipients1_) {
      exclude(sender, "round 2 holds shares for other participants than those qualified in round 1");
      return make_error("dkg.round2", "wrong recipients");
    }
    round2_.emplace(sender, *b);
    if (recipients1_.contains(self_) && !excluded_.contains(self_)) {
      auto s = my_share_from(sender, *b);
      if (s) {
        received_[sender] = std::move(*s);
      } else {
        // K and a proof that it is x_self·E: anyone can then recompute the share.
        Element k = frost::element_times(b->ephemeral, decryption_key_).value();
        Scalar r = secret_scalar("dleq", sender);
        Element a1 = frost::base_times(r).value(), a2 = frost::element_times(b->ephemeral, r).value();
        Scalar c = dleq_challenge(config_.session, self_, sender, round1_.at(self_).encryption_key, b->ephemeral, k, a1, a2);
        DkgComplaint complaint;
        complaint.complainer = self_;
        complaint.dealer = sender;
        complaint.shared = k;
        complaint.proof_c = to_bytes(c.view());
        complaint.proof_z = to_bytes(frost::scalar_add(r, frost::scalar_mul(c, decryption_key_)).view());
        pending_complaints_.push_back(std::move(complaint));
        complaints_unconfirmed_.insert(sender);
      }
    }
    size_t heard = 0;
    for (uint16_t d : dealers1_) heard += round2_.contains(d) || excluded_.contains(d);
    if (heard == dealers1_.size()) close_round2(height);
    return ok_status();
  }
  if (const auto* c = std::get_if<DkgComplaint>(&m)) {
    if (c->complainer != sender) return make_error("dkg.sender", "a complaint names another complainer");
    if (phase_ != Phase::kRound2 && phase_ != Phase::kComplaints) return make_error("dkg.phase", "no complaints now");
    if (!recipients1_.contains(sender) || acked_.contains(sender)) return make_error("dkg.complaint", "the complainer may not complain now");
    auto r2 = round2_.find(c->dealer);
    if (r2 == round2_.end() || excluded_.contains(c->dealer)) return make_error("dkg.complaint", "no such dealer's round 2");
    // DLEQ: A1 = G·z − X·c, A2 = E·z − K·c, and c is their challenge.
    const Element& x = round1_.at(sender).encryption_key;
    const Element& e = r2->second.ephemeral;
    Scalar cc(c->proof_c), z(c->proof_z);
    auto gz = frost::base_times(z);
    auto xc = frost::element_times(x, cc);
    auto ez = frost::element_times(e, z);
    auto kc = frost::element_times(c->shared, cc);
    bool proven = false;
    if (gz.ok() && xc.ok() && ez.ok() && kc.ok()) {
      auto a1 = frost::element_sub(*gz, *xc);
      auto a2 = frost::element_sub(*ez, *kc);
      proven = a1.ok() && a2.ok() && crypto::ct_equal(dleq_challenge(config_.session, sender, c->dealer, x, e, c->shared, *a1, *a2).view(), cc.view());
    }
    if (sender == self_) complaints_unconfirmed_.erase(c->dealer);
    if (!proven) {
      exclude(sender, "a complaint against " + std::to_string(c->dealer) + " whose proof does not verify");
      return make_error("dkg.complaint", "the complaint's proof does not verify");
    }
    Scalar share = frost::scalar_sub(Scalar(r2->second.shares.at(sender)), pad_of(config_.session, c->dealer, sender, e, x, c->shared));
    if (share_matches(round1_.at(c->dealer).commitments, sender, share)) {
      exclude(sender, "a false complaint against " + std::to_string(c->dealer));
    } else {
      exclude(c->dealer, "its share for " + std::to_string(sender) + " does not match its commitments (shown by " + std::to_string(sender) + ")");
    }
    return ok_status();
  }
  const auto& ack = std::get<DkgAck>(m);
  if (ack.participant != sender) return make_error("dkg.sender", "an ack names another participant");
  if (phase_ != Phase::kComplaints) return make_error("dkg.phase", "round 2 is not closed");
  if (!recipients1_.contains(sender)) return make_error("dkg.ack", "only a recipient acknowledges");
  acked_.insert(sender);
  size_t heard = 0, expected = 0;
  for (uint16_t p : recipients1_) {
    if (excluded_.contains(p)) continue;
    expected++;
    heard += acked_.contains(p);
  }
  if (heard == expected) finish();
  return ok_status();
}

void Dkg::on_height(uint64_t height) { advance(height); }

std::string Dkg::phase_name() const {
  switch (phase_) {
    case Phase::kRound1: return "round 1";
    case Phase::kRound2: return "round 2";
    case Phase::kComplaints: return "complaints";
    case Phase::kDone: return "done";
  }
  return "?";
}

std::vector<uint16_t> Dkg::waiting_for() const {
  std::vector<uint16_t> out;
  for (uint16_t p : config_.participants) {
    if (excluded_.contains(p)) continue;
    bool missing = phase_ == Phase::kRound1   ? !round1_.contains(p)
                   : phase_ == Phase::kRound2 ? dealers1_.contains(p) && !round2_.contains(p)
                   : phase_ == Phase::kComplaints ? recipients1_.contains(p) && !acked_.contains(p)
                                                  : false;
    if (missing) out.push_back(p);
  }
  return out;
}

void Dkg::advance(uint64_t height) {
  while (!done() && height >= phase_start_ + config_.window) {
    uint64_t closed_at = phase_start_ + config_.window;
    if (phase_ == Phase::kRound1) {
      close_round1(closed_at);
    } else if (phase_ == Phase::kRound2) {
      close_round2(closed_at);
    } else {
      finish();
    }
  }
}

void Dkg::close_round1(uint64_t height) {
  phase_start_ = height;
  for (uint16_t p : config_.participants) {
    if (!round1_.contains(p) && !excluded_.contains(p)) exclude(p, "no round 1 message within its window");
    if (round1_.contains(p) && !excluded_.contains(p)) {
      qualified1_.insert(p);
      if (dealer(p)) dealers1_.insert(p);
      if (recipient(p)) recipients1_.insert(p);
    }
  }
  if (!resharing() && qualified1_.size() < config_.threshold) {
    failed_ = std::to_string(qualified1_.size()) + " participants qualified in round 1, fewer than the threshold " + std::to_string(config_.threshold);
    return;
  }
  if (resharing() && (dealers1_.size() < config_.old_threshold || recipients1_.size() < config_.threshold)) {
    failed_ = std::to_string(dealers1_.size()) + " old holders and " + std::to_string(recipients1_.size()) +
              " recipients qualified in round 1; resharing needs " + std::to_string(config_.old_threshold) + " and " +
              std::to_string(config_.threshold);
    return;
  }
  phase_ = Phase::kRound2;
}

void Dkg::close_round2(uint64_t height) {
  phase_start_ = height;
  for (uint16_t d : dealers1_) {
    if (!round2_.contains(d) && !excluded_.contains(d)) exclude(d, "no round 2 message within its window");
  }
  phase_ = Phase::kComplaints;
}

void Dkg::finish() {
  DkgOutcome o;
  for (uint16_t d : dealers1_) {
    if (!excluded_.contains(d) && round2_.contains(d)) o.qualified.push_back(d);
  }
  o.excluded = excluded_;
  phase_ = Phase::kDone;
  size_t needed = resharing() ? config_.old_threshold : config_.threshold;
  if (o.qualified.size() < needed) {
    failed_ = std::to_string(o.qualified.size()) + " dealers qualified, fewer than the " + std::to_string(needed) + " needed";
    return;
  }
  // Each qualified dealer's weight: 1 in a fresh DKG (the key is the sum of the dealers'
  // secrets); in a resharing, its Lagrange coefficient among the qualified old holders (the key
  // is the old one, Σ λ_i·s_i).
  std::map<uint16_t, Scalar> weight;
  for (uint16_t d : o.qualified) {
    weight[d] = resharing() ? frost::lagrange_at_zero(d, o.qualified).value() : frost::identifier_scalar(1);
  }
  auto weighted = [&](uint16_t d, const Element& e) { return resharing() ? frost::element_times(e, weight.at(d)).value() : e; };
  std::optional<Element> group;
  for (uint16_t d : o.qualified) {
    Element c0 = weighted(d, round1_.at(d).commitments[0]);
    group = group ? frost::element_add(*group, c0).value() : c0;
  }
  o.group_public_key = *group;
  if (resharing() && o.group_public_key != config_.old_group_key) {
    failed_ = "the reshared key differs from the current one (the old public shares are not of one key)";
    return;
  }
  for (uint16_t p : config_.participants) {
    if (!recipient(p)) continue;
    std::optional<Element> y;
    bool ok = true;
    for (uint16_t d : o.qualified) {
      auto term = evaluate_commitments(round1_.at(d).commitments, p);
      if (!term.ok()) { ok = false; break; }
      Element t = weighted(d, *term);
      y = y ? frost::element_add(*y, t).value() : t;
    }
    if (ok && y) o.public_shares[p] = *y;
  }
  if (self_ != 0 && recipients1_.contains(self_) && !excluded_.contains(self_)) {
    Scalar s(frost::kScalarBytes);
    bool complete = true;
    for (uint16_t d : o.qualified) {
      auto it = received_.find(d);
      if (it == received_.end()) { complete = false; break; }
      s = frost::scalar_add(s, resharing() ? frost::scalar_mul(weight.at(d), it->second) : it->second);
    }
    if (complete && o.public_shares.contains(self_)) {
      frost::KeyShare k;
      k.identifier = self_;
      k.secret = std::move(s);
      k.public_share = o.public_shares.at(self_);
      k.group_public_key = o.group_public_key;
      o.share = std::move(k);
    }
  }
  coefficients_.clear();  // the polynomial is no longer needed (SecureBytes wipe on release)
  outcome_ = std::move(o);
}

}  // namespace supernet::keys
