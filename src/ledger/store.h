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
  std::string writer;   // the client that wrote it (StateWrite::writer)
  bool verified = false;  // the writer's signature was checked by every node
};

// tee-bft: the last vote this node's checker signed, with the block it is for, written before
// the vote leaves the node. After a total stop the members' recovery keeps the block the
// highest such vote above the committed chain was for (docs/consensus.md); the vote's own
// signature (by the old checker key, in the set of its height) makes a forged record useless.
struct VoteRecord {
  consensus::Vote vote;
  consensus::Block block;
  Bytes encode() const;
  static Result<VoteRecord> decode(ByteView data);
};

class Store {
 public:
  virtual ~Store() = default;
  // Appends the next block (height = height() + 1) with its certificate and applies its state
  // writes, all or nothing, durably before returning.
  virtual Status append(const consensus::CommittedBlock& cb) = 0;
  virtual Result<std::vector<consensus::CommittedBlock>> load_blocks() = 0;
  virtual Result<std::optional<KvEntry>> get(const std::string& table, const std::string& key) = 0;
  virtual uint64_t height() const = 0;
  // Replaces the recorded vote, durably before returning.
  virtual Status record_vote(const VoteRecord& v) = 0;
  virtual Result<std::optional<VoteRecord>> last_vote() = 0;

  // The clients whose signed writes and table claims apply (the genesis'); until set, none do.
  void set_rules(KvRules rules) { rules_ = std::move(rules); }
  const KvRules& rules() const { return rules_; }
  // The owner of an owner-write-only table, from the committed state.
  std::optional<std::string> table_owner(const std::string& table) const {
    auto it = owners_.find(table);
    return it == owners_.end() ? std::nullopt : std::optional<std::string>(it->second);
  }
  virtual Result<bool> table_has_entries(const std::string& table) = 0;
  // The view check_write needs, of the committed state (the API checks writes with it).
  StateView view();

 protected:
  KvRules rules_;
  std::map<std::string, std::string> owners_;  // kTableOwners, cached: read on every write
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
  uint64_t height() const override { return blocks_.size(); }
  Status record_vote(const VoteRecord& v) override {
    vote_ = v;
    return ok_status();
  }
  Result<std::optional<VoteRecord>> last_vote() override { return vote_; }
  Result<bool> table_has_entries(const std::string& table) override;
  void fail_appends_after(size_t n) { appends_allowed_ = n; }

 private:
  std::vector<consensus::CommittedBlock> blocks_;
  std::map<std::pair<std::string, std::string>, KvEntry> kv_;
  std::optional<size_t> appends_allowed_;
  std::optional<VoteRecord> vote_;
};

}  // namespace supernet::ledger
