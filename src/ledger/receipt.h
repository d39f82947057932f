// Receipts: a client's offline proof that its transaction was committed. A receipt holds the
// block header, the transaction, its index, the Merkle inclusion proof, and the block's commit
// certificate. Verifying needs only the validator set in force at that block (the network's
// public identity for that epoch): the certificate proves a quorum committed the header, the
// proof puts the transaction under the header's root.
#pragma once

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

// Builds the receipt of transaction `index` of a committed block.
Result<Receipt> make_receipt(consensus::Protocol protocol, const consensus::CommittedBlock& cb, uint32_t index);

// Checks the inclusion proof, that the certificate commits this header, and the certificate's
// signatures and quorum under `validators` (whose epoch must be the header's).
Status verify_receipt(const Receipt& r, const consensus::ValidatorSet& validators);

}  // namespace supernet::ledger
