// Receipts: a client's offline proof that its transaction was committed. A receipt holds the
// block header, the transaction, its index, the Merkle inclusion proof, and the block's commit
// certificate. Verifying needs only the validator set in force at that block (the network's
// public identity for that epoch): the certificate proves a quorum committed the header, the
// proof puts the transaction under the header's root.
#pragma once

#include <optional>
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
// A signed checkpoint (docs/keys.md): the network's group key, a FROST threshold key no node
// holds, signed that the block of `height` in chain `chain` has hash `block_hash`. Every
// header pins its parent, so the checkpoint vouches for the whole chain below it.
struct Checkpoint {
  Bytes chain;       // the genesis hash
  uint64_t height = 0;
  Bytes block_hash;
  Bytes signature;   // Ed25519 (R || z) by the group key
  // What the group key signs: "supernet-checkpoint-v1", the chain, the height, the hash.
  static Bytes message(ByteView chain, uint64_t height, ByteView block_hash);
  Bytes encode() const;
  static Result<Checkpoint> decode(ByteView data);
  // The signature under `group_public_key` (32 bytes, as `supernet keys status` prints it).
  Status verify(ByteView group_public_key) const;
};

// From a receipt's block to the first signed checkpoint at or above it: the headers of the
// blocks after it up to the checkpoint's (each pins its parent), and the checkpoint.
inline constexpr size_t kCheckpointLinkHeadersMax = 65536;
struct CheckpointLink {
  std::vector<consensus::BlockHeader> headers;
  Checkpoint checkpoint;
};

struct ReceiptProof {
  Bytes genesis_hash;
  Receipt receipt;
  std::vector<Receipt> epoch_changes;
  // Present once the network signed a checkpoint at or above the receipt's block: then the
  // receipt verifies with the network's public key alone (verify_receipt_checkpoint).
  std::optional<CheckpointLink> checkpoint;

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

// Offline with the network's service key alone (`supernet receipt verify --service-key`): the
// transaction is under its block's Merkle root, the link's headers chain from that block to the
// checkpoint's, which names the same chain, and the checkpoint's signature verifies under
// `group_public_key`. Needs no genesis and no membership history.
Status verify_receipt_checkpoint(const ReceiptProof& p, ByteView group_public_key);

}  // namespace supernet::ledger
