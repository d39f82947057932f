// The node's side of the key management module (docs/keys.md): it runs the validators'
// distributed key generation (keys::Dkg) over the ledger, so that the network gets one FROST
// group key while no node holds its secret, and it keeps this node's share.
//
// The run is the genesis validators' (session: "supernet-dkg-v1", the chain id), threshold
// f + 1. Its messages are ledger transactions (keys::DkgTx) signed by each node's identity
// key; every node feeds the ordered ones to its keys::Dkg, so every node learns the same
// outcome. This node's secrets come from a 32-byte seed that it seals to its data directory
// before it submits anything: after a restart it unseals the seed and replays the ledger, which
// gives it the very same state and share. A node that lost its seed after it took part, or
// cannot seal (TDX today), only follows: it learns the key, holds no share, and says why.
#pragma once

#include <asio.hpp>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>

#include "crypto/secure.h"
#include "keys/checkpoint.h"
#include "keys/dkg.h"
#include "keys/hpke.h"
#include "keys/release.h"
#include "node/node.h"
#include "tee/platform.h"

namespace supernet::node {

inline constexpr uint64_t kDkgWindowBlocks = 100;   // a phase waits this many blocks for the missing
inline constexpr int kDkgResubmitMs = 1000;        // this node's messages not yet on the ledger, again
// Signed checkpoints (keys/checkpoint.h): a share holder proposes one when blocks with
// transactions other than checkpoint messages were committed above the last checkpoint and
// kCheckpointIntervalMs passed since it saw the last one done, or kCheckpointEveryBlocks such
// blocks were committed; it votes to abandon an attempt open longer than kCheckpointStallMs.
inline constexpr int64_t kCheckpointIntervalMs = 2000;
inline constexpr uint64_t kCheckpointEveryBlocks = 256;
inline constexpr int64_t kCheckpointStallMs = 3000;
// Key release: GET /v1/keys shows the last kReleaseLogShown releases the ledger recorded.
inline constexpr size_t kReleaseLogShown = 64;
// Releases to other nodes (SNKX frames) waiting for their record to commit, at most; each waits
// kReleaseRecordWaitMs, then is refused.
inline constexpr size_t kPendingNodeReleasesMax = 256;
inline constexpr int64_t kReleaseRecordWaitMs = 10000;
// The ledger key: asked of every share holder again when an attempt has not gathered t parts
// within kLedgerKeyRetryMs.
inline constexpr int64_t kLedgerKeyRetryMs = 5000;

// A part for another node, sent once its release record commits.
struct NodeRelease {
  uint32_t to = 0;
  keys::KeyFrame reply;
  int64_t deadline_ms = 0;
};
// This node's request for the ledger key: its ephemeral key, the parts and refusals so far.
struct LedgerKeyAttempt {
  keys::HpkeKeyPair ephemeral;
  uint64_t request = 0;
  int64_t started_ms = 0;
  std::map<uint16_t, keys::DerivedPart> parts;
  std::map<uint32_t, std::string> refusals;
};

class KeyService {
 public:
  KeyService(Node& node, tee::Platform& platform, std::string dir, crypto::SecureBytes identity_secret);
  ~KeyService();
  KeyService(const KeyService&) = delete;
  KeyService& operator=(const KeyService&) = delete;

  // GET /v1/keys and `supernet keys status`: state, public_key (hex), threshold, parties,
  // epoch, checkpoint, qualified, excluded, share.
  nlohmann::json status() const;
  // The first signed checkpoint at or above `height` (receipts that verify with the key alone).
  std::optional<ledger::Checkpoint> checkpoint_covering(uint64_t height) const;

  // Key release (keys/release.h), on the io thread. A nonce for an attested requester's
  // evidence (POST /v1/keys/nonce).
  Result<Bytes> release_nonce(const std::string& requester);
  // This validator's part for `request` from the client `client` (authenticated by its TLS
  // certificate), appraised against the peer policy in force and the resource's release policy
  // on the ledger: the sealed part and the signed SNRL transaction that records it, which the
  // caller commits before it answers. Each refusal names its check (release.*).
  struct Release {
    Bytes sealed;
    uint16_t identifier = 0;
    Bytes record_tx;
  };
  Result<Release> release(const keys::ReleaseRequest& request, const std::string& client);
  // Release policies of resources another service owns (the marketplace's "agent:<root>"):
  // consulted before the members' votes, which cannot name such resources.
  using BuiltinPolicies = std::function<std::optional<keys::ReleasePolicy>(const std::string& resource)>;
  void set_builtin_policies(BuiltinPolicies f) {
    std::lock_guard lock(mu_);
    builtin_ = std::move(f);
  }
  // The network's ledger key (keys/private_table.h), once this node obtained it by key release
  // from t share holders with its own evidence; nullopt before.
  std::optional<crypto::SecureBytes> ledger_key() const;

 private:
  void start();
  void on_commit(const consensus::CommittedBlock& cb);
  void record(const consensus::CommittedBlock& cb);
  void flush();
  void arm();
  void record_checkpoints(const consensus::CommittedBlock& cb);
  void submit_checkpoint_messages();
  void record_releases(const consensus::CommittedBlock& cb);
  // The key as of now (the genesis DKG's, then each resharing's) and its threshold.
  void use_outcome(const keys::DkgOutcome& o, uint16_t threshold);
  // The validator set changed: reshare the key to it (the same run on every node).
  void maybe_reshare(uint64_t height);
  void on_key_frame(uint32_t from, Bytes frame);
  void answer_key_frame(uint32_t from, const keys::KeyFrame& f);
  void ledger_key_reply(uint32_t from, const keys::KeyFrame& f);
  void ask_ledger_key();
  void expire_node_releases();

  Node& node_;
  tee::Platform& platform_;
  std::string dir_;
  crypto::SecureBytes identity_secret_;
  Bytes session_;
  uint32_t self_ = 0;
  uint16_t threshold_ = 0;
  std::vector<uint16_t> parties_;  // the current holders' set (the genesis validators, then each resharing's)
  std::optional<keys::Dkg> dkg_;              // the genesis validators' DKG
  crypto::SecureBytes seed_;                   // unsealed; empty: this node only follows
  std::optional<keys::DkgOutcome> current_;    // the key's current sharing
  uint64_t epoch_ = 0;                         // resharings done
  std::optional<keys::Dkg> reshare_;           // the resharing under way
  Bytes reshare_session_;
  uint64_t reshare_epoch_ = 0;
  std::vector<uint16_t> reshare_to_;
  uint16_t reshare_threshold_ = 0;
  std::string reshare_problem_;
  uint64_t refreshes_done_ = 0;  // the members' refresh_key orders already acted on
  std::optional<consensus::Membership> tracked_;  // the validator set as of the last recorded block
  BuiltinPolicies builtin_;
  std::map<uint32_t, Bytes> known_identity_;      // every validator's identity key seen, removed ones too
  std::map<Bytes, Bytes> unconfirmed_;  // this node's messages (session || encoded) not yet on the ledger -> their tx
  std::set<Bytes> on_ledger_;           // this node's messages (session || encoded) the ledger holds
  std::optional<keys::CheckpointSigner> signer_;  // once the group key is ready
  std::map<Bytes, Bytes> checkpoint_unconfirmed_;  // this node's checkpoint messages (encoded) not yet on the ledger -> tx
  uint64_t content_height_ = 0;   // the last block with a transaction that is not a checkpoint message
  uint64_t seen_attempt_ = 0;     // the attempt this node last saw open, and when (node time)
  int64_t seen_attempt_ms_ = 0;
  int64_t last_checkpoint_ms_ = 0;  // when this node saw the last checkpoint done
  uint64_t last_checkpoint_height_ = 0;
  keys::NonceBook nonces_;
  // Parts for other nodes whose release record is not committed yet: record tx id -> the reply.
  std::map<std::string, NodeRelease> node_releases_;
  std::optional<LedgerKeyAttempt> ledger_attempt_;  // this node's own request for the ledger key
  std::optional<crypto::SecureBytes> ledger_key_;
  std::string ledger_key_problem_;
  std::deque<std::pair<uint32_t, keys::ReleaseRecord>> releases_;  // the last kReleaseLogShown, by validator
  uint64_t releases_total_ = 0;
  std::string problem_;                 // why this node runs no DKG, or holds no share
  bool logged_ = false;
  asio::steady_timer timer_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  mutable std::mutex mu_;
};

}  // namespace supernet::node
