// The simulated TEE platform of the simulator and the consensus tests: evidence is the platform
// key's Ed25519 signature over the node program's measurement and the report data. Honest node
// code asks it only for the binding its checker computed (ReplicaConfig::attest); code playing
// a Byzantine host never holds the platform key, just as a real host cannot make hardware sign.
#pragma once

#include <memory>

#include "consensus/genesis.h"
#include "crypto/keys.h"

namespace supernet::sim {

class SimPlatform {
 public:
  explicit SimPlatform(crypto::Ed25519KeyPair key) : key_(std::move(key)) {}
  Bytes evidence(ByteView report_data) const;
  const Bytes& public_key() const { return key_.public_key; }

 private:
  crypto::Ed25519KeyPair key_;
};

// Appraises SimPlatform evidence under `platform_key` (the policy text must be non-empty; its
// content is not read).
std::shared_ptr<const consensus::EvidenceAppraiser> sim_appraiser(Bytes platform_key);

}  // namespace supernet::sim
