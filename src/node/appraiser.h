// The node's evidence appraiser for consensus: what admits a tee-bft vote key after the
// genesis (a key rotation, an added node). Every node, every node's checker and the offline
// verifiers (`receipt verify`, `ledger verify`) use this one implementation.
//
// It verifies the evidence (signatures, chains) and appraises it against the genesis' policy
// as of the rotation's issue time (so that replaying an old chain gives the same answer as on
// the day it committed), with governance's measurements in place of the policy's lists when
// the members set any, and requires the exact report data. Thread-safe.
#pragma once

#include <memory>

#include "consensus/genesis.h"
#include "tee/collateral.h"
#include "tee/policy.h"

namespace supernet::node {

// `collateral` (certificates, CRLs, TCB info) for hardware evidence; virtual evidence needs none.
std::shared_ptr<const consensus::EvidenceAppraiser> make_evidence_appraiser(tee::Collateral collateral);
// The policy as governance changed it: its measurements replaced when the members set any, and
// the virtual platform keys they trusted added (a production policy refuses virtual evidence
// whatever it trusts).
void apply_adjustments(tee::Policy& policy, const consensus::PolicyAdjustments& adjustments);
// A process-wide appraiser without collateral.
std::shared_ptr<const consensus::EvidenceAppraiser> evidence_appraiser();

}  // namespace supernet::node
