// A tenant's private key-value store: what a Lua script reaches through kv.get, kv.put and
// kv.delete (ta/lua_runtime.h).
//
// The worker encrypts. Each tenant (an agent, a job, a contract) has its own key, which the node
// derives from its sealing key and the tenant's name (tenant_key) and hands to that tenant's
// worker only. With it the worker turns a script's key into an index (HMAC-SHA256: the node
// never sees key names) and a value into a sealed blob (AES-256-GCM, bound to the index), then
// asks the node over the pipe. The node (KvStore) keeps the (tenant, index) -> blob entries,
// which it cannot read, within named bounds. Another tenant's worker holds another key: it can
// neither find nor open the entries.
//
// Not protected: freshness. A host that rolls the store's file back gets old values read back
// (each one still authentic for its key); ledger-backed private tables are the place for state
// that must not go back in time.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "crypto/secure.h"
#include "util/bytes.h"
#include "util/result.h"

namespace supernet::ta {

inline constexpr size_t kTaKvKeyBytesMax = 256;             // a script's key
inline constexpr size_t kTaKvValueBytesMax = 1u << 20;       // a value as JSON text
inline constexpr size_t kTaKvIndexBytes = 32;                // HMAC-SHA256
inline constexpr size_t kTaKvBlobBytesMax = kTaKvValueBytesMax + kTaKvKeyBytesMax + 64;  // nonce, lengths, tag
inline constexpr uint32_t kTaKvCallsMax = 10'000;            // kv calls in one task
inline constexpr size_t kTaKvEntriesMax = 10'000;            // entries of one tenant
inline constexpr size_t kTaTenantKeyBytes = 32;
inline constexpr size_t kTaNonceSeedBytes = 16;

// The tenant's key: HKDF-SHA256 of the node's root (its sealing key) and the tenant's name.
crypto::SecureBytes tenant_key(ByteView root, std::string_view tenant);

// The worker's half: index and seal with a tenant key. Nonces come from a seed the node sends
// with each task (random per task) and a counter, so the worker needs no random source.
class KvCipher {
 public:
  KvCipher(ByteView tenant_key, ByteView nonce_seed);
  Bytes index(std::string_view key) const;
  Bytes seal(ByteView index, std::string_view key, std::string_view value);
  // The value, when the blob was sealed under this tenant's key for this index and key.
  Result<std::string> open(ByteView index, std::string_view key, ByteView blob) const;

 private:
  crypto::SecureBytes index_key_, seal_key_, nonce_key_;
  Bytes seed_;
  uint64_t counter_ = 0;
};

// The node's half: stores blobs it cannot read. Thread-safe.
class KvStore {
 public:
  virtual ~KvStore() = default;
  virtual Result<std::optional<Bytes>> get(const std::string& tenant, ByteView index) = 0;
  // Refuses a new entry past kTaKvEntriesMax for the tenant ("ta.kv_full").
  virtual Status put(const std::string& tenant, ByteView index, ByteView blob) = 0;
  virtual Status erase(const std::string& tenant, ByteView index) = 0;
  virtual Result<size_t> count(const std::string& tenant) = 0;
};

// For tests and `supernet ta run`: gone when the process ends.
class MemoryKvStore : public KvStore {
 public:
  Result<std::optional<Bytes>> get(const std::string& tenant, ByteView index) override;
  Status put(const std::string& tenant, ByteView index, ByteView blob) override;
  Status erase(const std::string& tenant, ByteView index) override;
  Result<size_t> count(const std::string& tenant) override;

 private:
  std::mutex mu_;
  std::map<std::string, std::map<Bytes, Bytes>> entries_;
};

// A SQLite file (the node's data directory): entries survive restarts.
Result<std::unique_ptr<KvStore>> open_sqlite_kv_store(const std::string& path);

}  // namespace supernet::ta
