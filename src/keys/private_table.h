// Private tables (docs/keys.md, "Private tables"): the values of tables named "private.<name>"
// are sealed under the network's ledger key, a key derived by the validators' quorum like any
// resource key (resource "supernet:ledger") and released only to node programs the network's
// policy accepts, running no package. The node that receives a write seals the value before
// the transaction is ordered, so blocks, logs, state and receipts hold only the envelope.
//
// Sealing is deterministic (AES-256-SIV, RFC 5297), so a value written twice gives the same
// bytes and the same write on every retry; the header binds the chain, the table and the key,
// so an envelope cannot be moved to another key, table or network. The cost of determinism:
// whoever sees the ledger learns when two values under one table are equal, and the keys and
// sizes of the entries (only values are sealed).
#pragma once

#include <string_view>

#include "crypto/secure.h"
#include "util/bytes.h"
#include "util/result.h"

namespace supernet::keys {

inline constexpr std::string_view kLedgerKeyResource = "supernet:ledger";

// The envelope of `value` for (chain, table, key): ledger::kPrivateValueMagic, the version,
// AES-256-SIV under a per-table key derived from the ledger key.
Result<Bytes> seal_private_value(const crypto::SecureBytes& ledger_key, ByteView chain, std::string_view table,
                                 std::string_view key, ByteView value);
// The value back, or kv.private when the envelope does not open for this chain, table and key.
Result<crypto::SecureBytes> open_private_value(const crypto::SecureBytes& ledger_key, ByteView chain, std::string_view table,
                                               std::string_view key, ByteView envelope);

}  // namespace supernet::keys
