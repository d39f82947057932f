// The SQLite store. One connection; WAL with synchronous=FULL so a committed append survives
// power loss; each append is one IMMEDIATE transaction. Blocks, the key-value state and the
// vote record; no index of transactions (the chain rebuilds one in memory from the blocks:
// a B-tree keyed by random hashes made every block rewrite most of its pages, half the cost
// of a busy node). A ledger written before keeps its old txs table, unused.
#include <sqlite3.h>

#include "ledger/store.h"
#include "util/codec.h"
#include "util/sqlite_stmt.h"

namespace supernet::ledger {

namespace {

constexpr const char* kSchema = R"(
CREATE TABLE IF NOT EXISTS blocks (height INTEGER PRIMARY KEY, hash BLOB NOT NULL, block BLOB NOT NULL, qc BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS kv (tbl TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, height INTEGER NOT NULL,
                               writer TEXT NOT NULL DEFAULT '', verified INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (tbl, key));
CREATE TABLE IF NOT EXISTS vote (id INTEGER PRIMARY KEY CHECK (id = 1), record BLOB NOT NULL);
)";


class SqliteStore : public Store {
 public:
  explicit SqliteStore(sqlite3* db) : db_(db) {}
  ~SqliteStore() override { sqlite3_close(db_); }

  Status init() {
    for (const char* pragma : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA foreign_keys=ON"}) {
      SN_TRY(exec(pragma));
    }
    SN_TRY(exec(kSchema));
    // A ledger written before writers were recorded: its entries keep an empty writer.
    bool has_writer = false;
    {
      Stmt cols(db_, "PRAGMA table_info(kv)");
      if (!cols.ok()) return error("read the state's columns");
      while (cols.step() == SQLITE_ROW) {
        const unsigned char* name = sqlite3_column_text(cols.get(), 1);
        has_writer |= name != nullptr && std::string(reinterpret_cast<const char*>(name)) == "writer";
      }
    }
    if (!has_writer) {
      SN_TRY(exec("ALTER TABLE kv ADD COLUMN writer TEXT NOT NULL DEFAULT ''"));
      SN_TRY(exec("ALTER TABLE kv ADD COLUMN verified INTEGER NOT NULL DEFAULT 0"));
    }
    {
      Stmt owners(db_, "SELECT key, value FROM kv WHERE tbl = ?");
      if (!owners.ok()) return error("read the table owners");
      owners.text(1, kTableOwners);
      while (owners.step() == SQLITE_ROW) {
        Bytes v = owners.column_blob(1);
        const unsigned char* key = sqlite3_column_text(owners.get(), 0);
        owners_[key ? reinterpret_cast<const char*>(key) : ""] = to_string(v);
      }
    }
    Stmt count(db_, "SELECT COUNT(*), COALESCE(MAX(height), 0) FROM blocks");
    if (!count.ok() || count.step() != SQLITE_ROW) return error("count blocks");
    height_ = static_cast<uint64_t>(sqlite3_column_int64(count.get(), 0));
    if (static_cast<uint64_t>(sqlite3_column_int64(count.get(), 1)) != height_) {
      return make_error("store.corrupt", "the blocks table has gaps");
    }
    return ok_status();
  }

  Status append(const consensus::CommittedBlock& cb) override {
    if (cb.block.header.height != height_ + 1) {
      return make_error("store.height", "block " + std::to_string(cb.block.header.height) + " is not the next height");
    }
    SN_TRY(exec("BEGIN IMMEDIATE"));
    std::map<std::string, std::string> claims;
    Status s = write(cb, claims);
    if (!s.ok()) {
      (void)exec("ROLLBACK");
      return s;
    }
    SN_TRY(exec("COMMIT"));
    height_++;
    for (auto& [table, owner] : claims) owners_[table] = std::move(owner);
    return ok_status();
  }

  Result<std::vector<consensus::CommittedBlock>> load_blocks() override {
    Stmt q(db_, "SELECT height, block, qc FROM blocks ORDER BY height");
    if (!q.ok()) return error("read blocks");
    std::vector<consensus::CommittedBlock> out;
    int rc;
    while ((rc = q.step()) == SQLITE_ROW) {
      uint64_t h = static_cast<uint64_t>(sqlite3_column_int64(q.get(), 0));
      Bytes block = q.column_blob(1), qc = q.column_blob(2);
      Reader br(block), qr(qc);
      auto b = consensus::Block::decode(br);
      auto c = consensus::QuorumCert::decode(qr);
      if (!b.ok() || !c.ok() || !br.done() || !qr.done() || b->header.height != h) {
        return make_error("store.corrupt", "stored block " + std::to_string(h) + " does not decode");
      }
      out.push_back({std::move(b).value(), std::move(c).value()});
    }
    if (rc != SQLITE_DONE) return error("read blocks");
    return out;
  }

  Result<std::optional<KvEntry>> get(const std::string& table, const std::string& key) override {
    Stmt q(db_, "SELECT value, height, writer, verified FROM kv WHERE tbl = ? AND key = ?");
    if (!q.ok()) return error("read state");
    q.text(1, table);
    q.text(2, key);
    int rc = q.step();
    if (rc == SQLITE_DONE) return std::optional<KvEntry>();
    if (rc != SQLITE_ROW) return error("read state");
    const unsigned char* writer = sqlite3_column_text(q.get(), 2);
    return std::optional<KvEntry>(KvEntry{q.column_blob(0), static_cast<uint64_t>(sqlite3_column_int64(q.get(), 1)),
                                          writer ? reinterpret_cast<const char*>(writer) : "", sqlite3_column_int64(q.get(), 3) != 0});
  }

  Result<bool> table_has_entries(const std::string& table) override {
    Stmt q(db_, "SELECT 1 FROM kv WHERE tbl = ? LIMIT 1");
    if (!q.ok()) return error("read state");
    q.text(1, table);
    int rc = q.step();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return error("read state");
    return rc == SQLITE_ROW;
  }

  uint64_t height() const override { return height_; }

  Status record_vote(const VoteRecord& v) override {
    Stmt q(db_, "INSERT OR REPLACE INTO vote (id, record) VALUES (1, ?)");
    if (!q.ok()) return error("prepare vote record");
    q.blob(1, v.encode());
    if (q.step() != SQLITE_DONE) return error("record the vote");
    return ok_status();
  }

  Result<std::optional<VoteRecord>> last_vote() override {
    Stmt q(db_, "SELECT record FROM vote WHERE id = 1");
    if (!q.ok()) return error("read the vote record");
    int rc = q.step();
    if (rc == SQLITE_DONE) return std::optional<VoteRecord>();
    if (rc != SQLITE_ROW) return error("read the vote record");
    auto v = VoteRecord::decode(q.column_blob(0));
    if (!v.ok()) return make_error("store.corrupt", "the vote record does not decode");
    return std::optional<VoteRecord>(std::move(v).value());
  }

 private:
  Error error(const std::string& what) { return make_error("store.sqlite", "cannot " + what + ": " + sqlite3_errmsg(db_)); }

  Status exec(const char* sql) {
    char* msg = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
      std::string m = msg ? msg : sqlite3_errmsg(db_);
      sqlite3_free(msg);
      return make_error("store.sqlite", m);
    }
    return ok_status();
  }

  Status write(const consensus::CommittedBlock& cb, std::map<std::string, std::string>& claims) {
    uint64_t h = cb.block.header.height;
    Writer bw, qw;
    cb.block.encode(bw);
    cb.commit_qc.encode(qw);
    Stmt ins(db_, "INSERT INTO blocks (height, hash, block, qc) VALUES (?, ?, ?, ?)");
    if (!ins.ok()) return error("prepare block insert");
    ins.integer(1, static_cast<int64_t>(h));
    ins.blob(2, cb.block.header.hash());
    ins.blob(3, bw.data());
    ins.blob(4, qw.data());
    if (ins.step() != SQLITE_DONE) return error("insert block");
    Stmt kv(db_, "INSERT INTO kv (tbl, key, value, height, writer, verified) VALUES (?, ?, ?, ?, ?, ?) "
                 "ON CONFLICT (tbl, key) DO UPDATE SET value = excluded.value, height = excluded.height, "
                 "writer = excluded.writer, verified = excluded.verified");
    if (!kv.ok()) return error("prepare state write");
    // A read that fails fails the append (rather than let this node decide a claim otherwise
    // than its peers).
    std::optional<Error> read_failed;
    StateView v{[this](const std::string& t) { return table_owner(t); },
                [&](const std::string& t) {
                  auto has = table_has_entries(t);
                  if (!has.ok()) read_failed = has.error();
                  return has.ok() && *has;
                }};
    auto writes = state_writes(cb.block, rules_, v);
    if (read_failed) return *read_failed;
    for (const auto& w : writes) {
      if (w.claim) claims[w.key] = w.writer;
      kv.text(1, w.table);
      kv.text(2, w.key);
      kv.blob(3, w.value);
      kv.integer(4, static_cast<int64_t>(h));
      kv.text(5, w.writer);
      kv.integer(6, w.verified ? 1 : 0);
      if (kv.step() != SQLITE_DONE) return error("write state");
      kv.reset();
    }
    return ok_status();
  }

  sqlite3* db_;
  uint64_t height_ = 0;
};

}  // namespace

Result<std::unique_ptr<Store>> open_sqlite_store(const std::string& path) {
  SN_ASSIGN(sqlite3* db, open_sqlite(path, "store.open"));
  auto store = std::make_unique<SqliteStore>(db);
  if (auto s = store->init(); !s.ok()) return make_error(s.error().code, path + ": " + s.error().message);
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace supernet::ledger
