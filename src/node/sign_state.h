// A bft node's sign state on disk: sealed to the node program (authenticated and secret, under
// the label "bft-sign-state"), bound to the node id with a version that grows with every write
// (tee::seal_bound), rewritten atomically (file and directory fsynced) before every signature
// is released.
//
// It is the node's own promise never to sign twice, so nothing about it is silently reset: a
// missing, short or foreign file is an error that stops the node (a node restored from a
// backup would otherwise sign again what it signed before). At start it is also checked against
// the ledger: if a stored commit certificate holds this node's precommit at a later (height,
// round) than the state records, the file was rolled back and the node refuses to start.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "consensus/signer.h"
#include "tee/platform.h"

namespace supernet::node {

// Reads the sealed state at `path`, or, when `create` (a node whose vote key is new), writes
// an empty one. The returned persist function seals and writes a state.
struct SignStateFile {
  std::shared_ptr<consensus::SignState> state;
  std::shared_ptr<uint64_t> version;  // of the blob on disk
  std::function<Status(const consensus::SignState&)> persist;
};
Result<SignStateFile> open_sign_state(tee::Platform& platform, const std::string& path, uint32_t node, bool create);

// The state is not behind the ledger: no stored commit certificate holds `node`'s precommit at
// a (height, round) after the state's last signature.
Status check_sign_state_against_ledger(const consensus::SignState& state, uint32_t node,
                                       const std::vector<consensus::CommittedBlock>& chain);

}  // namespace supernet::node
