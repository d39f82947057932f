#include "ledger/tx.h"

#include <set>

#include "crypto/hash.h"
#include "util/codec.h"

namespace supernet::ledger {

static constexpr char kMagic[] = "SNKV";
static constexpr char kSignedMagic[] = "SNKS";
static constexpr char kClaimMagic[] = "SNKT";
static constexpr size_t kSpkiBytesMax = 1024, kSignatureBytesMax = 256;

bool is_kv_write(ByteView tx) { return tx.size() >= 4 && to_string(tx.subspan(0, 4)) == kMagic; }

Bytes tx_hash(ByteView tx) { return crypto::sha256(tx); }

Bytes KvWrite::encode() const {
  Writer w;
  w.fixed(as_bytes(kMagic)).str(table).str(key).bytes(value).str(client).u64(nonce);
  return w.take();
}

Result<KvWrite> KvWrite::decode(ByteView tx) {
  if (!is_kv_write(tx)) return make_error("tx.format", "not a key-value write");
  Reader r(tx.subspan(4));
  KvWrite w;
  SN_ASSIGN(ByteView table, r.bytes(kTableBytesMax));
  SN_ASSIGN(ByteView key, r.bytes(kKeyBytesMax));
  SN_ASSIGN(ByteView value, r.bytes(kValueBytesMax));
  SN_ASSIGN(ByteView client, r.bytes(256));
  SN_ASSIGN(w.nonce, r.u64());
  SN_TRY(r.finish());
  w.table = to_string(table);
  w.key = to_string(key);
  w.value = to_bytes(value);
  w.client = to_string(client);
  if (w.table.empty() || w.key.empty()) return make_error("tx.format", "table and key must not be empty");
  return w;
}

bool is_signed_kv_write(ByteView tx) { return tx.size() >= 4 && to_string(tx.subspan(0, 4)) == kSignedMagic; }
bool is_table_claim(ByteView tx) { return tx.size() >= 4 && to_string(tx.subspan(0, 4)) == kClaimMagic; }

Bytes SignedKvWrite::signed_bytes() const {
  Writer w;
  w.str("supernet-kv-write-v1").str(table).str(key).bytes(value).u64(nonce).bytes(client_spki);
  return w.take();
}

Bytes SignedKvWrite::encode() const {
  Writer w;
  w.fixed(as_bytes(kSignedMagic)).str(table).str(key).bytes(value).u64(nonce).bytes(client_spki).bytes(signature);
  return w.take();
}

Result<SignedKvWrite> SignedKvWrite::decode(ByteView tx) {
  if (!is_signed_kv_write(tx)) return make_error("tx.format", "not a signed key-value write");
  Reader r(tx.subspan(4));
  SignedKvWrite w;
  SN_ASSIGN(ByteView table, r.bytes(kTableBytesMax));
  SN_ASSIGN(ByteView key, r.bytes(kKeyBytesMax));
  SN_ASSIGN(ByteView value, r.bytes(kValueBytesMax));
  SN_ASSIGN(w.nonce, r.u64());
  SN_ASSIGN(ByteView spki, r.bytes(kSpkiBytesMax));
  SN_ASSIGN(ByteView sig, r.bytes(kSignatureBytesMax));
  SN_TRY(r.finish());
  w.table = to_string(table);
  w.key = to_string(key);
  w.value = to_bytes(value);
  w.client_spki = to_bytes(spki);
  w.signature = to_bytes(sig);
  if (w.table.empty() || w.key.empty()) return make_error("tx.format", "table and key must not be empty");
  return w;
}

Bytes make_signed_kv_write(std::string table, std::string key, Bytes value, uint64_t nonce, const crypto::PrivateKey& client_key) {
  SignedKvWrite w;
  w.table = std::move(table);
  w.key = std::move(key);
  w.value = std::move(value);
  w.nonce = nonce;
  w.client_spki = client_key.public_key().spki_der();
  w.signature = client_key.sign_ecdsa_der(crypto::HashAlg::kSha256, w.signed_bytes());
  return w.encode();
}

Bytes TableClaim::signed_bytes() const {
  Writer w;
  w.str("supernet-kv-table-claim-v1").str(table).u64(nonce).bytes(client_spki);
  return w.take();
}

Bytes TableClaim::encode() const {
  Writer w;
  w.fixed(as_bytes(kClaimMagic)).str(table).u64(nonce).bytes(client_spki).bytes(signature);
  return w.take();
}

Result<TableClaim> TableClaim::decode(ByteView tx) {
  if (!is_table_claim(tx)) return make_error("tx.format", "not a table claim");
  Reader r(tx.subspan(4));
  TableClaim c;
  SN_ASSIGN(ByteView table, r.bytes(kTableBytesMax));
  SN_ASSIGN(c.nonce, r.u64());
  SN_ASSIGN(ByteView spki, r.bytes(kSpkiBytesMax));
  SN_ASSIGN(ByteView sig, r.bytes(kSignatureBytesMax));
  SN_TRY(r.finish());
  c.table = to_string(table);
  c.client_spki = to_bytes(spki);
  c.signature = to_bytes(sig);
  if (c.table.empty()) return make_error("tx.format", "the table must not be empty");
  return c;
}

Bytes make_table_claim(std::string table, uint64_t nonce, const crypto::PrivateKey& client_key) {
  TableClaim c;
  c.table = std::move(table);
  c.nonce = nonce;
  c.client_spki = client_key.public_key().spki_der();
  c.signature = client_key.sign_ecdsa_der(crypto::HashAlg::kSha256, c.signed_bytes());
  return c.encode();
}

KvRules KvRules::from_genesis(const std::vector<consensus::GenesisClientInfo>& clients) {
  KvRules r;
  for (const auto& c : clients) r.clients[c.spki_sha256] = c.name;
  return r;
}

Result<std::string> KvRules::signer(const Bytes& spki, const Bytes& signed_bytes, const Bytes& signature) const {
  auto it = clients.find(crypto::sha256(spki));
  if (it == clients.end()) return make_error("kv.signer", "signed by a key that is no client's of this network");
  SN_ASSIGN(crypto::PublicKey key, crypto::PublicKey::from_spki(spki));
  if (!key.verify_ecdsa_der(crypto::HashAlg::kSha256, signed_bytes, signature).ok()) {
    return make_error("kv.signature", "the signature does not verify under " + it->second + "'s key");
  }
  return it->second;
}

Result<std::optional<StateWrite>> decode_state_write(ByteView tx, const KvRules& rules) {
  if (is_kv_write(tx)) {
    SN_ASSIGN(KvWrite w, KvWrite::decode(tx));
    return std::optional<StateWrite>(StateWrite{std::move(w.table), std::move(w.key), std::move(w.value), std::move(w.client), false, false});
  }
  if (is_signed_kv_write(tx)) {
    SN_ASSIGN(SignedKvWrite w, SignedKvWrite::decode(tx));
    SN_ASSIGN(std::string writer, rules.signer(w.client_spki, w.signed_bytes(), w.signature));
    return std::optional<StateWrite>(StateWrite{std::move(w.table), std::move(w.key), std::move(w.value), std::move(writer), true, false});
  }
  if (is_table_claim(tx)) {
    SN_ASSIGN(TableClaim c, TableClaim::decode(tx));
    SN_ASSIGN(std::string owner, rules.signer(c.client_spki, c.signed_bytes(), c.signature));
    Bytes value = to_bytes(as_bytes(owner));
    return std::optional<StateWrite>(StateWrite{kTableOwners, std::move(c.table), std::move(value), std::move(owner), true, true});
  }
  return std::optional<StateWrite>();
}

bool is_private_table(std::string_view table) {
  return table.size() > kPrivateTablePrefix.size() && table.substr(0, kPrivateTablePrefix.size()) == kPrivateTablePrefix;
}

bool is_private_envelope(ByteView value) {
  return value.size() >= kPrivateValueOverhead && to_string(value.first(4)) == kPrivateValueMagic && value[4] == kPrivateValueVersion;
}

Status check_write(const StateWrite& w, const StateView& view) {
  if (w.claim && is_private_table(w.key)) {
    return make_error("kv.private", "table " + w.key + " is private: its values are sealed by the nodes, so it cannot be claimed");
  }
  if (!w.claim && is_private_table(w.table)) {
    if (w.verified) {
      return make_error("kv.private", "table " + w.table + " is private: write to it unsigned, through a node, which seals the value "
                                      "(a signature would cover the plaintext)");
    }
    if (!is_private_envelope(w.value)) return make_error("kv.private", "table " + w.table + " is private: the value is not sealed");
  }
  if (w.claim) {
    if (w.key.empty() || w.key[0] == kReservedTablePrefix) {
      return make_error("kv.reserved", "table " + w.key + " is the state machine's own (names beginning with _ are reserved)");
    }
    if (auto owner = view.table_owner(w.key)) return make_error("kv.claimed", "table " + w.key + " is already owned by " + *owner);
    if (view.table_has_entries(w.key)) {
      return make_error("kv.in_use", "table " + w.key + " already holds entries: only a table nobody has written to can be claimed");
    }
    return ok_status();
  }
  if (w.table.empty() || w.table[0] == kReservedTablePrefix) {
    return make_error("kv.reserved", "table " + w.table + " is the state machine's own (names beginning with _ are reserved)");
  }
  if (auto owner = view.table_owner(w.table)) {
    if (!w.verified) {
      return make_error("kv.owner_only", "table " + w.table + " is owner-write-only (owner " + *owner + "): the write must be signed by its owner");
    }
    if (w.writer != *owner) {
      return make_error("kv.owner_only", "table " + w.table + " is owner-write-only: " + w.writer + " is not its owner (" + *owner + ")");
    }
  }
  return ok_status();
}

std::vector<StateWrite> state_writes(const consensus::Block& b, const KvRules& rules, const StateView& view) {
  std::vector<StateWrite> out;
  // The block's own earlier claims and first writes count for its later transactions.
  std::map<std::string, std::string> claimed;
  std::set<std::string> written;
  StateView within{[&](const std::string& t) -> std::optional<std::string> {
                     if (auto it = claimed.find(t); it != claimed.end()) return it->second;
                     return view.table_owner(t);
                   },
                   [&](const std::string& t) { return written.count(t) > 0 || view.table_has_entries(t); }};
  for (const auto& tx : b.txs) {
    auto w = decode_state_write(tx, rules);
    if (!w.ok() || !*w) continue;
    if (!check_write(**w, within).ok()) continue;
    if ((*w)->claim) claimed[(*w)->key] = (*w)->writer;
    else written.insert((*w)->table);
    out.push_back(std::move(**w));
  }
  return out;
}

}  // namespace supernet::ledger
