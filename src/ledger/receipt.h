// Receipts: a client's offline proof that its transaction was committed. A receipt holds the
// block header, the transaction, its index, the Merkle inclusion proof, and the block's commit
// certificate. Verifying needs only the validator set in force at that block (the network's
// public identity for that epoch): the certificate proves a quorum committed the header, the
// proof puts the transaction under the header's root.
#pragma once

#include <string>
#include <vector>

#include "consensus/membership.h"
#include "consensus/types.h"

namespace supernet::ledger {

struct Receipt {
  consensus::Protocol protocol = consensus::Protocol::kTeeBft;
  consensus::BlockHeader header;
  Bytes tx;
  uint32_t index = 0;
  std::vector<Bytes> proof;
  consensus::QuorumCert commit_qc;

  Bytes encode() const;
  static Result<Receipt> decode(ByteView data);
};

// A receipt with what an offline verifier needs to get from the genesis validator set to the
// set that committed it: the receipts of every membership transaction that changed the set or
// the governance state before its block (key rotations, proposals, approvals), in order. The
// verifier replays them through the same state machine the nodes run; the genesis is the only
// thing it has to trust. Every header pins its chain, its validator set and the digest of all
// membership changes before it, so a proof that leaves one out, reorders them, or comes from
// another chain is refused.
struct ReceiptProof {
  Bytes genesis_hash;
  Receipt receipt;
  std::vector<Receipt> epoch_changes;

  Bytes encode() const;
  static Result<ReceiptProof> decode(ByteView data);
};

// Builds the receipt of transaction `index` of a committed block.
Result<Receipt> make_receipt(consensus::Protocol protocol, const consensus::CommittedBlock& cb, uint32_t index);

// Checks the inclusion proof, that the certificate commits this header, and the certificate's
// signatures and quorum under `validators` (whose epoch must be the header's).
Status verify_receipt(const Receipt& r, const consensus::ValidatorSet& validators);

// Checks the proof names `genesis`' chain, replays its membership changes from `genesis` (each
// block's header must pin the state the changes before it reach; each change is verified as a
// receipt under that set and must be valid and change the state), then verifies the receipt's
// header pins the state all the changes reach and its certificate under that set. `protocol` is
// the network's (a receipt naming another is refused).
Status verify_receipt_proof(const ReceiptProof& p, consensus::Protocol protocol, const consensus::Membership& genesis);

}  // namespace supernet::ledger
