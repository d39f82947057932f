// The genesis as consensus sees it: the chain's first state, in one canonical encoding whose
// SHA-256 is the genesis hash (the parent of block 1, and the chain every block, view change,
// receipt and rotation names).
//
// Whoever must know "which chain" computes the hash from these bytes itself: the trusted
// checker is begun with the encoding, never with a set and a hash handed over separately, so
// a host cannot pair the real hash with a fake validator set (issue 10, B).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "consensus/types.h"

namespace supernet::consensus {

struct GenesisValidatorInfo {
  NodeId id = 0;
  uint64_t weight = 1;
  std::string peer, api;  // host:port
  Bytes identity_key, vote_key;
};

struct GenesisClientInfo {
  std::string name;
  std::string role;  // "member" or "user"
  Bytes spki_sha256;
};

struct ChainGenesis {
  std::string chain_id;
  Protocol protocol = Protocol::kTeeBft;
  std::vector<GenesisValidatorInfo> validators;  // sorted by id
  std::vector<GenesisClientInfo> clients;
  uint32_t approvals = 0;  // as written; 0 means a majority of the members
  // The network's appraisal policy (its floor), in the policy file's TOML form. Vote keys of
  // tee-bft validators admitted after the genesis (key rotations, added nodes) must carry
  // evidence that passes it. Empty: no attestation, so no such key is ever admitted.
  std::string policy;

  Bytes encode() const;
  static Result<ChainGenesis> decode(ByteView data);
  Hash hash() const;
  ValidatorSet validator_set() const;
  GovernanceRules governance() const;
};

// The report data that admits a tee-bft vote key after the genesis (a key rotation, an added
// node): SHA-512 of "supernet-vote-key-v1", 0, the genesis hash, the node id, its identity key,
// the vote key, the nonce (the rotation's; 0 for an added node) and the issue time. Only the
// checker holding the key computes it, from its own genesis, and the node asks its platform for
// evidence over it; nothing else in the node program produces evidence over chosen data.
Bytes vote_key_binding(const Hash& genesis_hash, NodeId node, ByteView identity_key, ByteView vote_key, uint64_t nonce,
                       int64_t issued_at);

// Appraises evidence for a vote key. Code, not data: the node, the checker and offline
// verifiers run the same implementation, so a host cannot substitute it; what it is checked
// against (the policy, governance's measurements) comes from the verified chain.
// What governance changed of the genesis' policy, as of some height.
struct PolicyAdjustments {
  std::vector<std::string> measurements;           // lower-case hex; replace the lists when not empty
  std::vector<std::string> virtual_platform_keys;  // key ids (hex SHA-256), trusted besides the policy's
  // Members' revocations: minimum TCB components by platform kind name (they raise the
  // policy's, never lower them), and platform key ids distrusted whatever the policy says.
  std::map<std::string, std::map<std::string, uint64_t>> min_tcb;
  std::vector<std::string> revoked_platform_keys;
  std::vector<std::string> revoked_chip_ids;  // hardware machines distrusted (hex chip ids)
  bool operator==(const PolicyAdjustments&) const = default;
};

class EvidenceAppraiser {
 public:
  virtual ~EvidenceAppraiser() = default;
  // `evidence` verifies, binds exactly `report_data`, and passes `policy` (the genesis'
  // policy TOML) with governance's `adjustments` as of unix time `at`. The error says which
  // check failed.
  virtual Status appraise(ByteView evidence, ByteView report_data, int64_t at, const std::string& policy,
                          const PolicyAdjustments& adjustments) const = 0;
};

// For tests and the simulator: a genesis over a given validator set.
ChainGenesis genesis_for_set(Protocol protocol, const ValidatorSet& set, const std::string& chain_id,
                             GovernanceRules rules = {}, std::string policy = "");

// The genesis client whose certificate key signed `signed_bytes` (ECDSA over SHA-256, DER):
// `what` names the transaction in the errors (<what>.signer, <what>.signature). Client-signed
// ledger transactions (FL jobs, data policies, credits) all check their signer with it.
Result<const GenesisClientInfo*> client_signer(const std::string& what, const Bytes& spki, const Bytes& signed_bytes, const Bytes& signature,
                                               const ChainGenesis& genesis);

}  // namespace supernet::consensus
