// The Store seam: what a node keeps on disk. Everything in it is public ledger data (blocks,
// commit certificates, the state committed transactions wrote) protected by hashes and
// signatures; secrets are sealed elsewhere. A store can be altered by the host, so readers
// verify what they load (consensus::Chain). Implementations are not thread-safe.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "consensus/types.h"
#include "ledger/tx.h"

namespace supernet::ledger {

struct KvEntry {
  Bytes value;
  uint64_t height = 0;  // the block that wrote it
};

struct TxLocation {
  uint64_t height = 0;
  uint32_t index = 0;
};

class Store {
 public:
  virtual ~Store() = default;
  // Appends the next block (height = height() + 1) with its certificate and applies its state
  // writes, all or nothing, durably before returning.
  virtual Status append(const consensus::CommittedBlock& cb) = 0;
  virtual Result<std::vector<consensus::CommittedBlock>> load_blocks() = 0;
  virtual Result<std::optional<KvEntry>> get(const std::string& table, const std::string& key) = 0;
  virtual Result<std::optional<TxLocation>> find_tx(ByteView tx_hash) = 0;
  virtual uint64_t height() const = 0;
};

// SQLite in WAL mode with synchronous=FULL at `path` (created if absent).
Result<std::unique_ptr<Store>> open_sqlite_store(const std::string& path);

// In memory, for tests and the simulator. `fail_appends_after(n)` makes every append after
// the next n fail without writing anything (an injected disk fault).
class MemoryStore : public Store {
 public:
  Status append(const consensus::CommittedBlock& cb) override;
  Result<std::vector<consensus::CommittedBlock>> load_blocks() override { return blocks_; }
  Result<std::optional<KvEntry>> get(const std::string& table, const std::string& key) override;
  Result<std::optional<TxLocation>> find_tx(ByteView tx_hash) override;
  uint64_t height() const override { return blocks_.size(); }
  void fail_appends_after(size_t n) { appends_allowed_ = n; }

 private:
  std::vector<consensus::CommittedBlock> blocks_;
  std::map<std::pair<std::string, std::string>, KvEntry> kv_;
  std::map<Bytes, TxLocation> txs_;
  std::optional<size_t> appends_allowed_;
};

}  // namespace supernet::ledger
