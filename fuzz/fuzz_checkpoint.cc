// Checkpoint messages and transactions as the ledger delivers them (any validator's, or a host's
// forgery that a broken validator ordered), and receipt files with a checkpoint link as a client
// reads them: decoding gives one encoding per value, a signer fed the message never crashes, and
// a receipt decoded from the bytes never verifies against a key nobody holds.
#include <cstdlib>

#include "keys/checkpoint.h"
#include "ledger/receipt.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace supernet;
  using namespace supernet::keys;
  ByteView in(data, size);
  if (auto t = CheckpointTx::decode(in); t.ok() && t->encode() != Bytes(data, data + size)) std::abort();
  if (auto p = ledger::ReceiptProof::decode(in); p.ok()) {
    // The identity element is no key anyone holds a secret for: nothing verifies under it.
    frost::Element identity{};
    if (ledger::verify_receipt_checkpoint(*p, ByteView(identity.data(), identity.size())).ok()) std::abort();
  }
  auto m = decode_checkpoint_message(in);
  if (!m.ok()) return 0;
  if (encode_checkpoint_message(*m) != Bytes(data, data + size)) std::abort();
  // A follower and a share holder of a 2-of-3 group hear it from each sender, at a few heights.
  static const std::vector<frost::KeyShare> shares = [] {
    std::vector<crypto::SecureBytes> coefficients;
    coefficients.push_back(frost::hash_to_scalar("fuzz", {Bytes(64, 2)}));
    return frost::split(frost::hash_to_scalar("fuzz", {Bytes(64, 1)}), coefficients, 3).value();
  }();
  CheckpointConfig config;
  config.chain = Bytes(32, 7);
  config.threshold = 2;
  config.group_public_key = shares[0].group_public_key;
  for (const auto& s : shares) config.public_shares[s.identifier] = s.public_share;
  frost::KeyShare mine{shares[0].identifier, crypto::SecureBytes(shares[0].secret.view()), shares[0].public_share,
                       shares[0].group_public_key};
  CheckpointSigner follower(config, std::nullopt);
  CheckpointSigner holder(config, std::move(mine));
  auto hashes = [](uint64_t h) -> std::optional<Bytes> {
    if (h == 0 || h > 50) return std::nullopt;
    return Bytes(32, static_cast<uint8_t>(h));
  };
  (void)holder.poll(10);
  for (uint16_t sender : {1, 2, 3, 4}) {
    (void)follower.on_ledger(sender, *m, 20, hashes);
    (void)holder.on_ledger(sender, *m, 20, hashes);
  }
  (void)holder.poll(30);
  (void)holder.abandon();
  return 0;
}
