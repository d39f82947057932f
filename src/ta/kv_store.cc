#include "ta/kv_store.h"

#include "crypto/aead.h"
#include "crypto/hash.h"
#include "util/codec.h"
#include "util/sqlite_stmt.h"

namespace supernet::ta {

namespace {

constexpr std::string_view kTenantSalt = "supernet/ta/tenant-key/v1";

crypto::SecureBytes subkey(ByteView key, std::string_view label) {
  return crypto::hkdf_sha256(key, {}, as_bytes(label), 32);
}

Bytes aad_of(ByteView index) {
  Bytes aad = to_bytes("supernet/ta/kv/v1");
  aad.insert(aad.end(), index.begin(), index.end());
  return aad;
}

Status check_entry(ByteView index, ByteView blob) {
  if (index.size() != kTaKvIndexBytes) return make_error("ta.kv_bad", "an index is " + std::to_string(kTaKvIndexBytes) + " bytes");
  if (blob.size() > kTaKvBlobBytesMax) return make_error("ta.kv_bad", "a value is over the bound of " + std::to_string(kTaKvBlobBytesMax) + " bytes");
  return ok_status();
}

}  // namespace

crypto::SecureBytes tenant_key(ByteView root, std::string_view tenant) {
  return crypto::hkdf_sha256(root, as_bytes(kTenantSalt), as_bytes(tenant), kTaTenantKeyBytes);
}

KvCipher::KvCipher(ByteView key, ByteView nonce_seed)
    : index_key_(subkey(key, "index")), seal_key_(subkey(key, "seal")), nonce_key_(subkey(key, "nonce")), seed_(nonce_seed.begin(), nonce_seed.end()) {}

Bytes KvCipher::index(std::string_view key) const { return crypto::hmac(crypto::HashAlg::kSha256, index_key_.view(), as_bytes(key)); }

Bytes KvCipher::seal(ByteView index, std::string_view key, std::string_view value) {
  // A nonce per seal: the task's seed (random, from the node) and a counter, keyed.
  Writer n;
  n.fixed(seed_).u64(counter_++);
  Bytes nonce = crypto::hmac(crypto::HashAlg::kSha256, nonce_key_.view(), n.data());
  nonce.resize(crypto::kAesGcmNonceBytes);
  Writer plain;
  plain.str(key).str(value);
  Bytes clear = plain.take();
  Bytes sealed = crypto::aes256gcm_seal(seal_key_.view(), nonce, aad_of(index), clear);
  crypto::zeroize(clear.data(), clear.size());
  Bytes blob = nonce;
  blob.insert(blob.end(), sealed.begin(), sealed.end());
  return blob;
}

Result<std::string> KvCipher::open(ByteView index, std::string_view key, ByteView blob) const {
  if (blob.size() < crypto::kAesGcmNonceBytes + crypto::kAesGcmTagBytes) return make_error("ta.kv_corrupt", "a stored value is too short");
  auto plain = crypto::aes256gcm_open(seal_key_.view(), blob.first(crypto::kAesGcmNonceBytes), aad_of(index),
                                      blob.subspan(crypto::kAesGcmNonceBytes));
  if (!plain.ok()) return make_error("ta.kv_corrupt", "a stored value does not open with this tenant's key (altered or not its own)");
  Reader r(plain->view());
  auto k = r.bytes(kTaKvKeyBytesMax);
  auto v = k.ok() ? r.bytes(kTaKvValueBytesMax) : Result<ByteView>(k.error());
  if (!v.ok() || !r.finish().ok() || to_string(*k) != key) return make_error("ta.kv_corrupt", "a stored value is not the one of this key");
  return to_string(*v);
}

Result<std::optional<Bytes>> MemoryKvStore::get(const std::string& tenant, ByteView index) {
  std::lock_guard lock(mu_);
  auto t = entries_.find(tenant);
  if (t == entries_.end()) return std::optional<Bytes>();
  auto e = t->second.find(Bytes(index.begin(), index.end()));
  if (e == t->second.end()) return std::optional<Bytes>();
  return std::optional<Bytes>(e->second);
}

Status MemoryKvStore::put(const std::string& tenant, ByteView index, ByteView blob) {
  SN_TRY(check_entry(index, blob));
  std::lock_guard lock(mu_);
  auto& t = entries_[tenant];
  Bytes i(index.begin(), index.end());
  if (!t.contains(i) && t.size() >= kTaKvEntriesMax) {
    return make_error("ta.kv_full", "the tenant's store holds " + std::to_string(kTaKvEntriesMax) + " entries, its bound");
  }
  t[std::move(i)] = Bytes(blob.begin(), blob.end());
  return ok_status();
}

Status MemoryKvStore::erase(const std::string& tenant, ByteView index) {
  std::lock_guard lock(mu_);
  if (auto t = entries_.find(tenant); t != entries_.end()) t->second.erase(Bytes(index.begin(), index.end()));
  return ok_status();
}

Result<size_t> MemoryKvStore::count(const std::string& tenant) {
  std::lock_guard lock(mu_);
  auto t = entries_.find(tenant);
  return t == entries_.end() ? size_t{0} : t->second.size();
}

namespace {

class SqliteKvStore : public KvStore {
 public:
  explicit SqliteKvStore(sqlite3* db) : db_(db) {}
  ~SqliteKvStore() override { sqlite3_close(db_); }

  Status init() {
    char* msg = nullptr;
    const char* sql =
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
        "CREATE TABLE IF NOT EXISTS entries (tenant TEXT NOT NULL, idx BLOB NOT NULL, blob BLOB NOT NULL, PRIMARY KEY (tenant, idx));";
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
      std::string m = msg ? msg : sqlite3_errmsg(db_);
      sqlite3_free(msg);
      return make_error("ta.kv_store", m);
    }
    return ok_status();
  }

  Result<std::optional<Bytes>> get(const std::string& tenant, ByteView index) override {
    std::lock_guard lock(mu_);
    Stmt q(db_, "SELECT blob FROM entries WHERE tenant = ? AND idx = ?");
    if (!q.ok()) return error("read");
    q.text(1, tenant);
    q.blob(2, index);
    int rc = q.step();
    if (rc == SQLITE_DONE) return std::optional<Bytes>();
    if (rc != SQLITE_ROW) return error("read");
    return std::optional<Bytes>(q.column_blob(0));
  }

  Status put(const std::string& tenant, ByteView index, ByteView blob) override {
    SN_TRY(check_entry(index, blob));
    std::lock_guard lock(mu_);
    Stmt has(db_, "SELECT 1 FROM entries WHERE tenant = ? AND idx = ?");
    if (!has.ok()) return error("read");
    has.text(1, tenant);
    has.blob(2, index);
    int rc = has.step();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return error("read");
    if (rc == SQLITE_DONE) {
      SN_ASSIGN(size_t n, count_locked(tenant));
      if (n >= kTaKvEntriesMax) return make_error("ta.kv_full", "the tenant's store holds " + std::to_string(kTaKvEntriesMax) + " entries, its bound");
    }
    Stmt ins(db_, "INSERT INTO entries (tenant, idx, blob) VALUES (?, ?, ?) ON CONFLICT (tenant, idx) DO UPDATE SET blob = excluded.blob");
    if (!ins.ok()) return error("write");
    ins.text(1, tenant);
    ins.blob(2, index);
    ins.blob(3, blob);
    if (ins.step() != SQLITE_DONE) return error("write");
    return ok_status();
  }

  Status erase(const std::string& tenant, ByteView index) override {
    std::lock_guard lock(mu_);
    Stmt del(db_, "DELETE FROM entries WHERE tenant = ? AND idx = ?");
    if (!del.ok()) return error("delete");
    del.text(1, tenant);
    del.blob(2, index);
    if (del.step() != SQLITE_DONE) return error("delete");
    return ok_status();
  }

  Result<size_t> count(const std::string& tenant) override {
    std::lock_guard lock(mu_);
    return count_locked(tenant);
  }

 private:
  Error error(const std::string& what) { return make_error("ta.kv_store", "cannot " + what + " the tenants' store: " + sqlite3_errmsg(db_)); }
  Result<size_t> count_locked(const std::string& tenant) {
    Stmt q(db_, "SELECT COUNT(*) FROM entries WHERE tenant = ?");
    if (!q.ok()) return error("count");
    q.text(1, tenant);
    if (q.step() != SQLITE_ROW) return error("count");
    return static_cast<size_t>(sqlite3_column_int64(q.get(), 0));
  }

  std::mutex mu_;
  sqlite3* db_;
};

}  // namespace

Result<std::unique_ptr<KvStore>> open_sqlite_kv_store(const std::string& path) {
  SN_ASSIGN(sqlite3* db, open_sqlite(path, "ta.kv_store"));
  auto store = std::make_unique<SqliteKvStore>(db);
  if (auto s = store->init(); !s.ok()) return make_error(s.error().code, path + ": " + s.error().message);
  return std::unique_ptr<KvStore>(std::move(store));
}

}  // namespace supernet::ta
