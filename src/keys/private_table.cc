#include "keys/private_table.h"

#include "crypto/aead.h"
#include "crypto/hash.h"
#include "ledger/tx.h"

namespace supernet::keys {

namespace {
constexpr uint8_t kFormatRaw = 1;  // the plaintext's first byte: the value follows as it was written

crypto::SecureBytes table_key(const crypto::SecureBytes& ledger_key, std::string_view table) {
  return crypto::hkdf_sha256(ledger_key.view(), as_bytes("supernet-private-table-v1"), as_bytes(table), 64);
}
}  // namespace

Result<Bytes> seal_private_value(const crypto::SecureBytes& ledger_key, ByteView chain, std::string_view table,
                                 std::string_view key, ByteView value) {
  if (!ledger::is_private_table(table)) return make_error("kv.private", "table " + std::string(table) + " is not private");
  crypto::SecureBytes k = table_key(ledger_key, table);
  crypto::SecureBytes plain(value.size() + 1);
  plain.data()[0] = kFormatRaw;
  std::copy(value.begin(), value.end(), plain.data() + 1);
  SN_ASSIGN(Bytes sealed, crypto::aes_siv_seal(k.view(), {chain, as_bytes(table), as_bytes(key)}, plain.view()));
  Bytes out = to_bytes(ledger::kPrivateValueMagic);
  out.push_back(ledger::kPrivateValueVersion);
  out.insert(out.end(), sealed.begin(), sealed.end());
  return out;
}

Result<crypto::SecureBytes> open_private_value(const crypto::SecureBytes& ledger_key, ByteView chain, std::string_view table,
                                               std::string_view key, ByteView envelope) {
  if (!ledger::is_private_envelope(envelope)) return make_error("kv.private", "the stored value is not a sealed envelope");
  crypto::SecureBytes k = table_key(ledger_key, table);
  auto plain = crypto::aes_siv_open(k.view(), {chain, as_bytes(table), as_bytes(key)}, envelope.subspan(5));
  if (!plain.ok()) return make_error("kv.private", "the sealed value does not open under the ledger key for this table and key");
  if (plain->size() < 1 || plain->data()[0] != kFormatRaw) return make_error("kv.private", "the sealed value has an unknown format");
  return crypto::SecureBytes(plain->view().subspan(1));
}

}  // namespace supernet::keys
