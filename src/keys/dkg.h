// Distributed key generation for the validators' FROST key: Pedersen's DKG with a proof of
// knowledge per dealer (the FROST paper's KeyGen, as RFC 9591 section 1 points to), over
// Ed25519, as a sans-IO state machine.
//
// Every message goes through the ledger, so every honest node reads the same messages in the
// same order and decides the same: the same group key, or the same list of excluded dealers.
//   1. Each participant publishes a Round1: the commitments G·a_k to its polynomial's t
//      coefficients, a Schnorr proof that it knows a_0, and a fresh encryption key X = G·x.
//   2. Each qualified dealer publishes a Round2: its share f(l) for every qualified participant
//      l, each under a one-time pad derived from K = x_l·E (E = G·e, the dealer's ephemeral key),
//      so only l can read it.
//   3. A participant whose share does not match the dealer's commitments publishes a Complaint
//      with K and a proof (DLEQ) that K is x_l·E for its own X: everyone recomputes the share and
//      excludes the dealer if it is bad, the complainer if it is not. Then it publishes an Ack.
// A second, different message of the same kind from one participant is equivocation: it is
// excluded (the ledger shows both to everyone, so everyone excludes it).
// Phases end when all expected messages are in or at a ledger height (the window), whichever
// comes first; dealers whose messages are missing then are excluded. The result needs at least
// t qualified dealers. Secrets (coefficients, x, the share) never leave the node; the caller
// seals them (docs/keys.md).
#pragma once

#include <map>
#include <optional>
#include <algorithm>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "crypto/secure.h"
#include "keys/frost.h"
#include "keys/ledger_tx.h"
#include "util/bytes.h"
#include "util/result.h"

namespace supernet::keys {

inline constexpr uint16_t kDkgParticipantsMax = 64;
inline constexpr size_t kDkgSessionBytesMax = 64;

struct DkgConfig {
  Bytes session;                  // unique per run (the epoch, the ledger height it started at)
  std::vector<uint16_t> participants;  // identifiers, sorted, distinct, 1..kDkgParticipantsMax of them
  uint16_t threshold = 0;         // t: signers needed; 1 <= t <= n
  uint64_t start_height = 0;      // the ledger height the run began at
  uint64_t window = 20;           // blocks per phase
  // Resharing (empty `old_public_shares`: a fresh DKG). The holders of the current key's shares
  // among the participants deal their own share, f_i(0) = s_i (round 1's C_0 must be their
  // public share), to `recipients`, the new set (participants = dealers ∪ recipients); each
  // recipient's new share is Σ λ_i·f_i(j) over the qualified dealers, at least `old_threshold`
  // of them, so the group key stays the same and `threshold` is the new set's.
  std::map<uint16_t, frost::Element> old_public_shares;
  uint16_t old_threshold = 0;
  frost::Element old_group_key{};
  std::vector<uint16_t> recipients;  // sorted; a fresh DKG: empty (every participant receives)
};

struct DkgRound1 {
  uint16_t dealer = 0;
  std::vector<frost::Element> commitments;  // t of them: G·a_0 .. G·a_{t-1}
  frost::Element proof_r{};                 // Schnorr proof of knowledge of a_0
  Bytes proof_z;                            // 32-byte scalar
  frost::Element encryption_key{};          // X = G·x
};
struct DkgRound2 {
  uint16_t dealer = 0;
  frost::Element ephemeral{};               // E = G·e
  std::map<uint16_t, Bytes> shares;         // recipient -> f(recipient) + pad, 32-byte scalars
};
struct DkgComplaint {
  uint16_t complainer = 0, dealer = 0;
  frost::Element shared{};                  // K = x_complainer · E_dealer
  Bytes proof_c, proof_z;                   // DLEQ(G, X_complainer; E_dealer, K), scalars
};
// A participant read every Round2 and made its complaints, if any: the complaint phase ends
// when every qualified participant acknowledged (or at its window's end).
struct DkgAck {
  uint16_t participant = 0;
};
using DkgMessage = std::variant<DkgRound1, DkgRound2, DkgComplaint, DkgAck>;
Bytes encode_dkg(const DkgMessage& m);
Result<DkgMessage> decode_dkg(ByteView b);

// A DKG message on the ledger ("SNKG"): the participant's node id and its Ed25519 identity
// signature over the session and the message, which every node checks before it counts it.
inline constexpr size_t kDkgMessageBytesMax = 8 * 1024;
struct DkgTxKind {
  static constexpr std::string_view magic = "SNKG", domain = "supernet-dkg-tx-v1", error = "dkg.tx";
  static constexpr size_t message_max = kDkgMessageBytesMax;
};
using DkgTx = SignedLedgerTx<DkgTxKind>;  // message: encode_dkg
bool is_dkg_tx(ByteView tx);
Bytes make_dkg_tx(ByteView session, uint32_t node, const DkgMessage& m, const crypto::SecureBytes& identity_secret);

struct DkgOutcome {
  frost::Element group_public_key{};
  std::vector<uint16_t> qualified;              // the dealers whose polynomials make the key
  std::map<uint16_t, std::string> excluded;     // dealer -> why (the same on every honest node)
  std::map<uint16_t, frost::Element> public_shares;  // every participant's G·s_l
  std::optional<frost::KeyShare> share;         // this node's, if it took part
};

class Dkg {
 public:
  // `self`: this node's identifier (0: an observer that only follows). `seed32`: 32 random bytes
  // for this node's secrets; empty: the system's random source (tests give one to replay).
  // Resharing: `old_share` is this node's share of the current key, if it holds one.
  static Result<Dkg> create(DkgConfig config, uint16_t self, ByteView seed32 = {},
                            const std::optional<frost::KeyShare>& old_share = std::nullopt);

  // What this node submits to the ledger now (its Round1 at the start; its Round2 once round 1
  // closed; complaints after its shares arrived), each once.
  std::vector<DkgMessage> outbox();
  // A message the ledger ordered, from `sender` (the participant whose signature the ledger
  // checked), in ledger order. Malformed, misattributed or out-of-phase messages are ignored
  // with the reason returned; a participant's provably bad ones exclude it.
  Status on_ledger(uint16_t sender, const DkgMessage& m, uint64_t height);
  // The ledger reached `height`: closes phases whose window ended.
  void on_height(uint64_t height);

  bool done() const { return outcome_.has_value() || failed_.has_value(); }
  // For operators: the phase ("round 1", "round 2", "complaints", "done") and who it waits for.
  std::string phase_name() const;
  std::vector<uint16_t> waiting_for() const;
  const std::optional<DkgOutcome>& outcome() const { return outcome_; }
  const std::optional<std::string>& failure() const { return failed_; }

 private:
  Dkg() = default;
  enum class Phase { kRound1, kRound2, kComplaints, kDone };
  void close_round1(uint64_t height);
  void close_round2(uint64_t height);
  void finish();
  void exclude(uint16_t dealer, std::string why);
  bool participant(uint16_t id) const;
  bool resharing() const { return !config_.old_public_shares.empty(); }
  bool dealer(uint16_t id) const { return !resharing() || config_.old_public_shares.contains(id); }
  bool recipient(uint16_t id) const {
    return !resharing() || std::binary_search(config_.recipients.begin(), config_.recipients.end(), id);
  }
  void advance(uint64_t height);
  crypto::SecureBytes secret_scalar(std::string_view label, uint32_t index) const;
  Bytes seed_;
  std::optional<crypto::SecureBytes> my_share_from(uint16_t dealer, const DkgRound2& r2) const;

  DkgConfig config_;
  uint16_t self_ = 0;
  Phase phase_ = Phase::kRound1;
  uint64_t phase_start_ = 0;
  // This node's secrets.
  std::vector<crypto::SecureBytes> coefficients_;
  crypto::SecureBytes decryption_key_, ephemeral_, proof_nonce_;
  bool sent_round1_ = false, sent_round2_ = false, sent_ack_ = false;
  std::vector<DkgMessage> pending_complaints_;
  std::set<uint16_t> complaints_unconfirmed_;  // dealers this node complained about, not yet on the ledger
  std::set<uint16_t> acked_;
  std::set<uint16_t> qualified1_;  // valid Round1 when round 1 closed
  std::set<uint16_t> dealers1_, recipients1_;  // of those, the dealers and the recipients
  // What the ledger said.
  std::map<uint16_t, DkgRound1> round1_;
  std::map<uint16_t, DkgRound2> round2_;
  std::map<uint16_t, crypto::SecureBytes> received_;  // dealer -> f_dealer(self), verified
  std::map<uint16_t, std::string> excluded_;
  std::optional<DkgOutcome> outcome_;
  std::optional<std::string> failed_;
};

}  // namespace supernet::keys
