// Application transactions: writes to the key-value state. Encoded explicitly (magic "SNKV",
// then length-prefixed fields); the transaction id is SHA-256 of the encoding.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <functional>
#include <map>
#include <optional>

#include "consensus/genesis.h"
#include "consensus/types.h"
#include "crypto/keys.h"
#include "util/bytes.h"
#include "util/result.h"

namespace supernet::ledger {

inline constexpr size_t kTableBytesMax = 64;
inline constexpr size_t kKeyBytesMax = 256;
inline constexpr size_t kValueBytesMax = 48 * 1024;

struct KvWrite {
  std::string table;
  std::string key;
  Bytes value;
  std::string client;  // who submitted it (the client certificate's name)
  uint64_t nonce = 0;  // makes repeated writes of one value distinct transactions

  Bytes encode() const;
  static Result<KvWrite> decode(ByteView tx);
};

bool is_kv_write(ByteView tx);
Bytes tx_hash(ByteView tx);

// A write signed by its writer's client certificate key (ECDSA P-256, SHA-256), magic "SNKS".
// Every node checks the signature against the genesis' clients when it applies the block, so
// the writer it records is the key's owner, not a name that the node which received the write
// wrote into it (KvWrite::client: a broken validator can put any name there).
struct SignedKvWrite {
  std::string table;
  std::string key;
  Bytes value;
  uint64_t nonce = 0;
  Bytes client_spki;  // DER SubjectPublicKeyInfo of the writer's key
  Bytes signature;    // ECDSA (DER) over signed_bytes()
  Bytes signed_bytes() const;
  Bytes encode() const;
  static Result<SignedKvWrite> decode(ByteView tx);
};
bool is_signed_kv_write(ByteView tx);
Bytes make_signed_kv_write(std::string table, std::string key, Bytes value, uint64_t nonce, const crypto::PrivateKey& client_key);

// A client declares a table owner-write-only, with itself as the owner (magic "SNKT"). Applied
// only when the table has no owner and no entries yet (so nobody takes over a table others
// write to); from then on every node applies to it only writes signed by the owner.
struct TableClaim {
  std::string table;
  uint64_t nonce = 0;
  Bytes client_spki;
  Bytes signature;
  Bytes signed_bytes() const;
  Bytes encode() const;
  static Result<TableClaim> decode(ByteView tx);
};
bool is_table_claim(ByteView tx);
Bytes make_table_claim(std::string table, uint64_t nonce, const crypto::PrivateKey& client_key);

// Tables whose name begins with this are the state machine's own (kTableOwners); no write names
// them.
inline constexpr char kReservedTablePrefix = '_';
// The owners of owner-write-only tables: key the table, value the owner's client name.
inline constexpr const char* kTableOwners = "_owners";
// Private tables ("private.<name>"): their values are sealed under the network's ledger key by
// the node that receives the write (keys/private_table.h), so every value the ledger holds for
// them is an envelope: "SNPV", a version byte, then AES-SIV ciphertext. Only unsigned writes
// through a node reach them (a client's signature would cover the plaintext); no claims.
inline constexpr std::string_view kPrivateTablePrefix = "private.";
inline constexpr std::string_view kPrivateValueMagic = "SNPV";
inline constexpr uint8_t kPrivateValueVersion = 1;
inline constexpr size_t kPrivateValueOverhead = 4 + 1 + 16 + 1;  // magic, version, IV, the plaintext's format byte
bool is_private_table(std::string_view table);
bool is_private_envelope(ByteView value);

// What the state machine knows when it applies writes: the genesis' clients (the keys whose
// signatures it accepts) and the current state of table ownership.
struct KvRules {
  std::map<Bytes, std::string> clients;  // SHA-256 of a client's SPKI -> its name
  static KvRules from_genesis(const std::vector<consensus::GenesisClientInfo>& clients);
  // Resolves a signed transaction's signer: its name, or an error naming the failed check.
  Result<std::string> signer(const Bytes& spki, const Bytes& signed_bytes, const Bytes& signature) const;
};

// One write as the state machine applies it.
struct StateWrite {
  std::string table;
  std::string key;
  Bytes value;
  std::string writer;   // the client: checked by every node when `verified`, as named by the
                        // receiving node otherwise (KvWrite::client)
  bool verified = false;
  bool claim = false;  // a TableClaim: table kTableOwners, key the claimed table, value the owner
};

// The state the rules depend on, read from the store as of before the block (the block's own
// earlier writes are accounted for by state_writes itself).
struct StateView {
  std::function<std::optional<std::string>(const std::string& table)> table_owner;
  std::function<bool(const std::string& table)> table_has_entries;
};

// Why the state machine would not apply a transaction's write (an unsigned write to an owned
// table, a signature that does not verify, a reserved table, a claim on a used table), or ok.
// Deterministic: the API refuses with it up front, every node skips with it on apply.
Status check_write(const StateWrite& w, const StateView& view);

// The state writes of a block's application transactions, in order (other transactions,
// such as key rotations, write no state). Undecodable ones and those check_write refuses are
// skipped: consensus orders bytes, the state machine decides what they mean, identically on
// every node. A table claim comes out as the write of its owner into kTableOwners.
std::vector<StateWrite> state_writes(const consensus::Block& b, const KvRules& rules, const StateView& view);

// Decodes one application transaction into the write it asks for (no ownership checks yet):
// an unsigned or signed write, or a table claim. nullopt for other transactions; an error when
// a signed one's signature does not verify.
Result<std::optional<StateWrite>> decode_state_write(ByteView tx, const KvRules& rules);

}  // namespace supernet::ledger
