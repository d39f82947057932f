// Node configuration and network genesis files (TOML).
//
// node.toml (paths relative to the file's folder):
//   id = 1
//   data_dir = "."
//   peer_listen = "127.0.0.1:7101"
//   api_listen = "127.0.0.1:8101"
//   platform = "virtual"            # auto, virtual, sev-snp, tdx, sgx
//   consensus = "tee-bft"           # or "bft"; must match the genesis
//   virtual_dir = "platform"        # the virtual platform's key folder
//   policy = "../network-policy.toml"
//   genesis = "../genesis.toml"
//   collateral = "collateral"       # optional: certificates, CRLs, TCB info for hardware peers
//   fault_detection = "phi-accrual" # or "timeout": tasks move only after 10 s without progress
//                                   # (the fixed timeout of before, kept to measure against)
//   block_txs = 2048                # most transactions a block this node proposes holds (1 to 4096)
//
// genesis.toml (written by `supernet up` from the nodes' published keys):
//   chain_id = "..."
//   protocol = "tee-bft"            # or "bft"
//   [[validators]]
//   id = 1
//   weight = 1
//   peer = "127.0.0.1:7101"
//   api = "127.0.0.1:8101"
//   identity_key = "<hex Ed25519>"
//   vote_key = "<hex Ed25519>"      # the checker's key at genesis (tee-bft), the node's (bft)
//   [[clients]]                     # who may use the REST API (mutual TLS)
//   name = "alice"
//   role = "member"                 # member (governance and writes) or user (writes)
//   spki_sha256 = "<hex>"           # SHA-256 of the client certificate's public key (DER SPKI)
//   [governance]                    # optional
//   approvals = 2                   # member approvals that carry out a proposal (default: a majority)
//   [policy]                        # the network's policy floor (keys of a policy file,
//   profile = "development"         # tee/policy.h); [policy.platform.<kind>] tables
//   ...
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "consensus/membership.h"
#include "consensus/genesis.h"
#include "consensus/types.h"
#include "tee/policy.h"

namespace supernet::node {

struct HostPort {
  std::string host;
  uint16_t port = 0;
  std::string text() const { return host + ":" + std::to_string(port); }
};
Result<HostPort> parse_host_port(const std::string& text);

struct NodeConfig {
  uint32_t id = 0;
  std::string data_dir, virtual_dir, policy, genesis;  // absolute after loading
  std::string collateral;  // a folder of collateral files (absolute); loaded when it exists
  HostPort peer_listen, api_listen;
  std::string platform = "virtual";
  consensus::Protocol consensus = consensus::Protocol::kTeeBft;
  bool phi_accrual = true;  // fault_detection = "phi-accrual" (default) or "timeout"
  size_t block_txs = 2048;
};
Result<NodeConfig> load_node_config(const std::string& path);
std::string node_config_toml(const NodeConfig& c);  // with paths as given

struct GenesisValidator {
  uint32_t id = 0;
  uint64_t weight = 1;
  HostPort peer, api;
  Bytes identity_key, vote_key;
  // public.toml of a tee-bft node that joins after the genesis: evidence for its vote key
  // (Checker::admission_binding), what `supernet node add` proposes. Not part of a genesis.
  int64_t vote_key_issued_at = 0;
  Bytes vote_key_evidence;
};

struct GenesisClient {
  std::string name;
  std::string role;  // "member" or "user"
  Bytes spki_sha256;
};

struct Genesis {
  std::string chain_id;
  consensus::Protocol protocol = consensus::Protocol::kTeeBft;
  std::vector<GenesisValidator> validators;
  std::vector<GenesisClient> clients;
  uint32_t approvals = 0;  // 0: a majority of the members
  // [policy]: the network's appraisal policy, the floor every node's and client's policy must
  // meet and what admits vote keys after the genesis (same keys as a policy file).
  std::optional<tee::Policy> policy;

  consensus::ValidatorSet validator_set() const;
  consensus::GovernanceRules governance() const;
  // What consensus sees: the canonical form whose hash is the genesis hash.
  consensus::ChainGenesis chain() const;
  // The membership state at genesis, with the node's evidence appraiser.
  consensus::Membership membership() const;
  // SHA-256 over the canonical encoding of the whole genesis: the chain's first parent hash.
  Bytes hash() const;
};
Result<Genesis> parse_genesis(std::string_view toml_text, const std::string& source = "genesis");
Result<Genesis> load_genesis(const std::string& path);
std::string genesis_toml(const Genesis& g);

// What a starting node publishes for the genesis (public.toml in its data folder).
Result<GenesisValidator> load_published(const std::string& path);
std::string published_toml(const GenesisValidator& v);

}  // namespace supernet::node
