#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>

#include "ledger/receipt.h"
#include "ledger/store.h"
#include "ledger/tx.h"
#include "sim/simulator.h"
#include "util/file.h"

namespace supernet::ledger {
namespace {

using consensus::CommittedBlock;

// A real committed chain: run a fault-free simulated tee-bft cluster and take node 1's ledger.
struct Fixture {
  std::vector<CommittedBlock> chain;
  consensus::ValidatorSet validators;
};

Fixture committed_chain() {
  static Fixture f = [] {
    sim::SimConfig cfg;
    cfg.protocol = consensus::Protocol::kTeeBft;
    cfg.nodes = 3;
    cfg.byzantine = 0;
    cfg.faults = false;
    cfg.txs_before_heal = 12;
    cfg.txs_after_heal = 3;
    cfg.capture_chain = true;
    auto r = sim::run_simulation(cfg);
    EXPECT_TRUE(r.ok) << r.failure;
    return Fixture{r.chain, r.validators};
  }();
  return f;
}

std::string temp_db(const char* name) {
  auto p = std::filesystem::temp_directory_path() / ("supernet-ledger-" + std::to_string(::getpid()) + "-" + name + ".db");
  std::filesystem::remove(p);
  std::filesystem::remove(p.string() + "-wal");
  std::filesystem::remove(p.string() + "-shm");
  return p.string();
}

TEST(Tx, KvWriteRoundTripAndRejects) {
  KvWrite w{"accounts", "alice", to_bytes(std::string("42")), "client-1", 7};
  auto back = KvWrite::decode(w.encode());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->table, "accounts");
  EXPECT_EQ(back->nonce, 7u);
  EXPECT_FALSE(KvWrite::decode(as_bytes("SNKV")).ok());
  Bytes bad = w.encode();
  bad.push_back(0);
  EXPECT_EQ(KvWrite::decode(bad).error().code, "codec.trailing");
  EXPECT_FALSE(KvWrite::decode(KvWrite{"", "k", {}, "c", 0}.encode()).ok());
}

TEST(SqliteStore, AppendsLoadsAndSurvivesReopen) {
  auto f = committed_chain();
  ASSERT_GT(f.chain.size(), 3u);
  std::string path = temp_db("reopen");
  {
    auto store = open_sqlite_store(path);
    ASSERT_TRUE(store.ok()) << store.error().to_string();
    for (const auto& cb : f.chain) ASSERT_TRUE((*store)->append(cb).ok());
    EXPECT_EQ((*store)->height(), f.chain.size());
    // Not the next height: refused, nothing written.
    EXPECT_EQ((*store)->append(f.chain[0]).error().code, "store.height");
  }
  auto store = open_sqlite_store(path);
  ASSERT_TRUE(store.ok());
  EXPECT_EQ((*store)->height(), f.chain.size());
  auto loaded = (*store)->load_blocks();
  ASSERT_TRUE(loaded.ok());
  ASSERT_EQ(loaded->size(), f.chain.size());
  for (size_t i = 0; i < f.chain.size(); i++) EXPECT_EQ((*loaded)[i].block.header.hash(), f.chain[i].block.header.hash());
  // Every transaction is findable where it was committed.
  const auto& tx = f.chain[1].block.txs[0];
  auto where = (*store)->find_tx(tx_hash(tx));
  ASSERT_TRUE(where.ok() && where->has_value());
  EXPECT_EQ((*where)->height, 2u);
  EXPECT_FALSE((*store)->find_tx(Bytes(32, 0)).value().has_value());
}

TEST(SqliteStore, StateWritesAndCorruptionIsAnError) {
  std::string path = temp_db("state");
  auto store = open_sqlite_store(path).value();
  // A block whose transactions are key-value writes (certificate content does not matter to the store).
  CommittedBlock cb;
  cb.block.header.height = 1;
  cb.block.txs = {KvWrite{"t", "k", to_bytes(std::string("v1")), "c", 1}.encode(), KvWrite{"t", "k", to_bytes(std::string("v2")), "c", 2}.encode()};
  cb.commit_qc.block = Bytes(32, 0);
  ASSERT_TRUE(store->append(cb).ok());
  auto v = store->get("t", "k");
  ASSERT_TRUE(v.ok() && v->has_value());
  EXPECT_EQ(to_string((*v)->value), "v2");  // the later write in block order wins
  EXPECT_FALSE(store->get("t", "missing").value().has_value());
  store.reset();
  // Garbage where a block should be: loading reports it, it does not crash.
  std::string cmd = "UPDATE blocks SET block = x'0102'";
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, cmd.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  auto reopened = open_sqlite_store(path).value();
  auto loaded = reopened->load_blocks();
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.error().code, "store.corrupt");
  EXPECT_FALSE(open_sqlite_store("/nonexistent-dir/x.db").ok());
}

TEST(MemoryStore, InjectedFaultWritesNothing) {
  auto f = committed_chain();
  MemoryStore store;
  store.fail_appends_after(2);
  EXPECT_TRUE(store.append(f.chain[0]).ok());
  EXPECT_TRUE(store.append(f.chain[1]).ok());
  EXPECT_EQ(store.append(f.chain[2]).error().code, "store.fault");
  EXPECT_EQ(store.height(), 2u);
}

TEST(Receipt, VerifiesOfflineAndEveryAlterationFails) {
  auto f = committed_chain();
  const CommittedBlock& cb = f.chain[2];
  auto r = make_receipt(consensus::Protocol::kTeeBft, cb, 0);
  ASSERT_TRUE(r.ok());
  auto decoded = Receipt::decode(r->encode());
  ASSERT_TRUE(decoded.ok()) << decoded.error().to_string();
  // The validator set at that block: genesis (no rotations in a fault-free run).
  ASSERT_TRUE(verify_receipt(*decoded, f.validators).ok());
  Receipt bad = *decoded;
  bad.tx.push_back('!');
  EXPECT_EQ(verify_receipt(bad, f.validators).error().code, "receipt.proof");
  bad = *decoded;
  bad.header.height += 1;
  EXPECT_EQ(verify_receipt(bad, f.validators).error().code, "receipt.certificate");
  bad = *decoded;
  bad.commit_qc.votes.pop_back();
  bad.commit_qc.votes.pop_back();
  EXPECT_EQ(verify_receipt(bad, f.validators).error().code, "consensus.bad_qc");
  bad = *decoded;
  bad.commit_qc.votes[0].signature[0] ^= 1;
  EXPECT_FALSE(verify_receipt(bad, f.validators).ok());
  EXPECT_FALSE(Receipt::decode(as_bytes("SNRCjunk")).ok());
}

}  // namespace
}  // namespace supernet::ledger
