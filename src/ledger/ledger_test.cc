#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>

#include "ledger/receipt.h"
#include "ledger/store.h"
#include "ledger/tx.h"
#include "consensus/chain.h"
#include "consensus/signer.h"
#include "crypto/hash.h"
#include "crypto/keys.h"
#include "ledger/merkle.h"
#include "sim/sim_platform.h"
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

// Two clients of a network and a key that is no client's.
struct KvClients {
  crypto::PrivateKey alice = crypto::PrivateKey::generate_ec(crypto::Curve::kP256);
  crypto::PrivateKey bob = crypto::PrivateKey::generate_ec(crypto::Curve::kP256);
  crypto::PrivateKey stranger = crypto::PrivateKey::generate_ec(crypto::Curve::kP256);
  KvRules rules() const {
    return KvRules::from_genesis({{"alice", "user", crypto::sha256(alice.public_key().spki_der())},
                                  {"bob", "member", crypto::sha256(bob.public_key().spki_der())}});
  }
};

CommittedBlock block_of(uint64_t height, std::vector<Bytes> txs) {
  CommittedBlock cb;
  cb.block.header.height = height;
  cb.block.txs = std::move(txs);
  cb.commit_qc.block = Bytes(32, 0);
  return cb;
}

Bytes text(const char* s) { return to_bytes(std::string(s)); }

TEST(Tx, SignedWritesAndTableClaimsRoundTripAndRejects) {
  KvClients c;
  Bytes tx = make_signed_kv_write("t", "k", text("v"), 9, c.alice);
  auto w = SignedKvWrite::decode(tx);
  ASSERT_TRUE(w.ok()) << w.error().to_string();
  EXPECT_EQ(w->table, "t");
  EXPECT_EQ(w->nonce, 9u);
  EXPECT_FALSE(KvWrite::decode(tx).ok());
  auto sw = decode_state_write(tx, c.rules());
  ASSERT_TRUE(sw.ok() && sw->has_value());
  EXPECT_EQ((*sw)->writer, "alice");
  EXPECT_TRUE((*sw)->verified);
  // Any changed byte: no longer decodes, or its signature fails.
  for (size_t i = 4; i < tx.size(); i++) {
    Bytes bad = tx;
    bad[i] ^= 0x01;
    auto d = decode_state_write(bad, c.rules());
    EXPECT_FALSE(d.ok() && d->has_value() && (*d)->verified && (*d)->value == text("v") && (*d)->key == "k" && (*d)->table == "t" &&
                 (*d)->writer == "alice")
        << "byte " << i;
  }
  EXPECT_EQ(decode_state_write(make_signed_kv_write("t", "k", text("v"), 1, c.stranger), c.rules()).error().code, "kv.signer");
  Bytes truncated = tx;
  truncated.pop_back();
  EXPECT_FALSE(SignedKvWrite::decode(truncated).ok());
  Bytes claim = make_table_claim("prices", 3, c.bob);
  auto cl = TableClaim::decode(claim);
  ASSERT_TRUE(cl.ok());
  EXPECT_EQ(cl->table, "prices");
  auto cw = decode_state_write(claim, c.rules());
  ASSERT_TRUE(cw.ok() && cw->has_value());
  EXPECT_TRUE((*cw)->claim);
  EXPECT_EQ((*cw)->table, kTableOwners);
  EXPECT_EQ((*cw)->key, "prices");
  EXPECT_EQ((*cw)->writer, "bob");
  // A key rotation or governance transaction is no state write.
  auto none = decode_state_write(text("SNGVxxxx"), c.rules());
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

TEST(StateMachine, OwnerWriteOnlyTablesApplyOnlyTheOwnersSignedWrites) {
  KvClients c;
  MemoryStore store;
  store.set_rules(c.rules());
  // Block 1: alice writes to "open" unsigned and signed; bob claims "prices" and writes to it,
  // then alice (signed) and an unsigned write naming bob (what a broken validator can forge)
  // try to: only bob's own signed write applies. A write to the reserved table and a claim of
  // "open" (it has entries) are skipped; so is a write signed by a stranger.
  ASSERT_TRUE(store
                  .append(block_of(1, {KvWrite{"open", "a", text("1"), "alice", 1}.encode(),
                                       make_signed_kv_write("open", "b", text("2"), 2, c.alice),
                                       make_table_claim("prices", 3, c.bob),
                                       make_signed_kv_write("prices", "x", text("bob's"), 4, c.bob),
                                       make_signed_kv_write("prices", "x", text("alice's"), 5, c.alice),
                                       KvWrite{"prices", "x", text("forged"), "bob", 6}.encode(),
                                       KvWrite{kTableOwners, "open", text("alice"), "alice", 7}.encode(),
                                       make_table_claim("open", 8, c.alice),
                                       make_signed_kv_write("open", "c", text("3"), 9, c.stranger)}))
                  .ok());
  auto a = store.get("open", "a").value();
  ASSERT_TRUE(a);
  EXPECT_EQ(a->writer, "alice");
  EXPECT_FALSE(a->verified);
  auto b = store.get("open", "b").value();
  ASSERT_TRUE(b);
  EXPECT_TRUE(b->verified);
  EXPECT_FALSE(store.get("open", "c").value());
  auto x = store.get("prices", "x").value();
  ASSERT_TRUE(x);
  EXPECT_EQ(to_string(x->value), "bob's");
  EXPECT_EQ(x->writer, "bob");
  EXPECT_EQ(store.table_owner("prices"), std::optional<std::string>("bob"));
  EXPECT_FALSE(store.table_owner("open"));
  // Block 2: the same refusals hold from the committed state, and a second claim loses.
  ASSERT_TRUE(store
                  .append(block_of(2, {KvWrite{"prices", "x", text("forged"), "bob", 10}.encode(),
                                       make_table_claim("prices", 11, c.alice),
                                       make_signed_kv_write("prices", "y", text("bob again"), 12, c.bob)}))
                  .ok());
  EXPECT_EQ(to_string(store.get("prices", "x").value()->value), "bob's");
  EXPECT_EQ(to_string(store.get("prices", "y").value()->value), "bob again");
  EXPECT_EQ(store.table_owner("prices"), std::optional<std::string>("bob"));
  // check_write gives the reasons the API answers with.
  auto view = store.view();
  EXPECT_EQ(check_write({"prices", "z", {}, "bob", false, false}, view).error().code, "kv.owner_only");
  EXPECT_EQ(check_write({"prices", "z", {}, "alice", true, false}, view).error().code, "kv.owner_only");
  EXPECT_TRUE(check_write({"prices", "z", {}, "bob", true, false}, view).ok());
  EXPECT_EQ(check_write({"_owners", "z", {}, "bob", true, false}, view).error().code, "kv.reserved");
  EXPECT_EQ(check_write({kTableOwners, "open", {}, "bob", true, true}, view).error().code, "kv.in_use");
  EXPECT_EQ(check_write({kTableOwners, "prices", {}, "alice", true, true}, view).error().code, "kv.claimed");
  EXPECT_TRUE(check_write({kTableOwners, "fresh", {}, "alice", true, true}, view).ok());
  // Private tables: only sealed values, only unsigned writes through a node, no claims; and a
  // block's plaintext write to one (a broken validator's) is skipped by every node.
  Bytes envelope = concat({as_bytes(kPrivateValueMagic), Bytes{kPrivateValueVersion}, Bytes(17, 9)});
  EXPECT_TRUE(check_write({"private.notes", "k", envelope, "bob", false, false}, view).ok());
  EXPECT_EQ(check_write({"private.notes", "k", text("plain"), "bob", false, false}, view).error().code, "kv.private");
  EXPECT_EQ(check_write({"private.notes", "k", envelope, "bob", true, false}, view).error().code, "kv.private");
  EXPECT_EQ(check_write({kTableOwners, "private.notes", {}, "bob", true, true}, view).error().code, "kv.private");
  Bytes short_envelope(envelope.begin(), envelope.end() - 1);
  EXPECT_EQ(check_write({"private.notes", "k", short_envelope, "bob", false, false}, view).error().code, "kv.private");
  EXPECT_FALSE(is_private_table("private."));
  EXPECT_FALSE(is_private_table("privatex"));
  EXPECT_TRUE(is_private_table("private.x"));
  ASSERT_TRUE(store.append(block_of(3, {KvWrite{"private.notes", "p", text("leaked"), "bob", 13}.encode(),
                                        KvWrite{"private.notes", "q", envelope, "bob", 14}.encode()}))
                  .ok());
  EXPECT_FALSE(store.get("private.notes", "p").value());
  EXPECT_TRUE(store.get("private.notes", "q").value());
  // A store without the genesis' clients applies no signed write at all.
  MemoryStore bare;
  ASSERT_TRUE(bare.append(block_of(1, {make_signed_kv_write("t", "k", text("v"), 1, c.alice)})).ok());
  EXPECT_FALSE(bare.get("t", "k").value());
}

TEST(SqliteStore, KeepsWritersAndOwnersAcrossReopenAndUpgradesAnOldLedger) {
  KvClients c;
  std::string path = temp_db("owners");
  {
    auto store = open_sqlite_store(path).value();
    store->set_rules(c.rules());
    ASSERT_TRUE(store
                    ->append(block_of(1, {make_table_claim("prices", 1, c.bob), make_signed_kv_write("prices", "x", text("1"), 2, c.bob),
                                          KvWrite{"prices", "x", text("forged"), "bob", 3}.encode(),
                                          KvWrite{"open", "k", text("v"), "alice", 4}.encode()}))
                    .ok());
  }
  auto store = open_sqlite_store(path).value();
  store->set_rules(c.rules());
  EXPECT_EQ(store->table_owner("prices"), std::optional<std::string>("bob"));
  auto x = store->get("prices", "x").value();
  ASSERT_TRUE(x);
  EXPECT_EQ(to_string(x->value), "1");
  EXPECT_EQ(x->writer, "bob");
  EXPECT_TRUE(x->verified);
  auto k = store->get("open", "k").value();
  ASSERT_TRUE(k);
  EXPECT_EQ(k->writer, "alice");
  EXPECT_FALSE(k->verified);
  EXPECT_TRUE(store->table_has_entries("open").value());
  EXPECT_FALSE(store->table_has_entries("nothing").value());
  ASSERT_TRUE(store->append(block_of(2, {KvWrite{"prices", "x", text("forged"), "bob", 5}.encode()})).ok());
  EXPECT_EQ(to_string(store->get("prices", "x").value()->value), "1");
  store.reset();

  // A ledger from before writers were recorded: opened, upgraded, its entries without a writer.
  std::string old = temp_db("old-schema");
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(old.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         "CREATE TABLE kv (tbl TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, height INTEGER NOT NULL, "
                         "PRIMARY KEY (tbl, key)); INSERT INTO kv VALUES ('t', 'k', x'7631', 1)",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto upgraded = open_sqlite_store(old);
  ASSERT_TRUE(upgraded.ok()) << upgraded.error().to_string();
  auto e = (*upgraded)->get("t", "k").value();
  ASSERT_TRUE(e);
  EXPECT_EQ(to_string(e->value), "v1");
  EXPECT_EQ(e->writer, "");
  EXPECT_FALSE(e->verified);
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

// A tee-bft chain built block by block with three real checkers and one member, so that a
// test can put several membership changes into one block.
struct ChainBuilder {
  sim::SimPlatform platform{crypto::ed25519_generate()};
  std::shared_ptr<const consensus::EvidenceAppraiser> appraiser = sim::sim_appraiser(platform.public_key());
  std::vector<std::unique_ptr<consensus::Checker>> checkers;
  crypto::PrivateKey member = crypto::PrivateKey::generate_ec(crypto::Curve::kP256);
  consensus::ChainGenesis genesis;
  std::unique_ptr<consensus::Chain> chain;
  uint64_t nonce = 0;

  explicit ChainBuilder(const std::string& chain_id) {
    std::vector<consensus::Validator> vals;
    for (consensus::NodeId id = 1; id <= 3; id++) {
      checkers.push_back(std::make_unique<consensus::Checker>(id));
      vals.push_back({id, 1, checkers.back()->public_key(), crypto::ed25519_generate().public_key, 0});
    }
    consensus::GovernanceRules rules{{{"member", crypto::sha256(member.public_key().spki_der())}}, 1};
    genesis = consensus::genesis_for_set(consensus::Protocol::kTeeBft, consensus::ValidatorSet(vals, 0), chain_id, rules, "p");
    for (auto& c : checkers) EXPECT_TRUE(c->begin(genesis.encode(), appraiser).ok());
    chain = std::make_unique<consensus::Chain>(genesis, appraiser);
  }
  Bytes set_weight(consensus::NodeId node, uint64_t weight) {
    consensus::GovernanceTx g;
    g.change.kind = consensus::ChangeKind::kSetWeight;
    g.change.node = node;
    g.change.weight = weight;
    g.nonce = ++nonce;
    return consensus::make_governance_tx(g, member);
  }
  // Commits a block of `txs` with votes of every checker; returns its height.
  uint64_t commit(std::vector<Bytes> txs) {
    consensus::Proposal p;
    consensus::BlockHeader& h = p.block.header;
    h.height = chain->next_height();
    h.parent = chain->last_hash();
    chain->membership().fill_header(h);
    std::vector<Bytes> leaves;
    for (const auto& t : txs) leaves.push_back(leaf_hash(t));
    h.tx_count = static_cast<uint32_t>(txs.size());
    h.tx_root = merkle_root(leaves);
    p.block.txs = std::move(txs);
    p.proposer = chain->validators().leader(h.height, 0);
    EXPECT_TRUE(checkers[p.proposer - 1]->sign_proposal(p).ok());
    consensus::QuorumCert qc;
    qc.height = h.height;
    qc.block = h.hash();
    for (auto& c : checkers) {
      consensus::Vote v;
      v.height = h.height;
      v.block = qc.block;
      EXPECT_TRUE(c->sign_vote(v, &p).ok());
      qc.votes.push_back(v);
    }
    EXPECT_TRUE(chain->append({p.block, qc}).ok());
    for (auto& c : checkers) EXPECT_TRUE(c->advance(p.block, qc).ok());
    return h.height;
  }
  ReceiptProof proof(uint64_t height, uint32_t index) {
    ReceiptProof out;
    out.genesis_hash = genesis.hash();
    out.receipt = make_receipt(consensus::Protocol::kTeeBft, chain->blocks()[height - 1], index).value();
    for (auto [h, i] : chain->state_changes()) {
      if (h < height) out.epoch_changes.push_back(make_receipt(consensus::Protocol::kTeeBft, chain->blocks()[h - 1], i).value());
    }
    return out;
  }
};

// The chain indexes every committed transaction (the API's lookups; the store keeps none).
TEST(Chain, FindsEveryCommittedTransaction) {
  ChainBuilder b("index");
  b.commit({to_bytes(std::string("first"))});
  uint64_t h = b.commit({to_bytes(std::string("a")), to_bytes(std::string("b"))});
  const auto* where = b.chain->find_tx(consensus::tx_id(to_bytes(std::string("b"))));
  ASSERT_NE(where, nullptr);
  EXPECT_EQ(where->height, h);
  EXPECT_EQ(where->index, 1u);
  EXPECT_EQ(b.chain->find_tx(consensus::tx_id(to_bytes(std::string("first"))))->height, h - 1);
  EXPECT_EQ(b.chain->find_tx(std::string(32, '\0')), nullptr);
}

// Issue 10, D: a proof that omits one of several membership changes of one block (which once
// left the verifier with a validator set that never existed), reorders them, or is checked
// against another chain's genesis, is refused; the complete proof verifies.
TEST(ReceiptProof, MustBeCompleteInOrderAndOfThisChain) {
  ChainBuilder b("receipts");
  b.commit({to_bytes(std::string("first"))});
  uint64_t changes = b.commit({b.set_weight(1, 3), b.set_weight(2, 5), b.set_weight(3, 2)});
  EXPECT_EQ(b.chain->validators().epoch(), 3u);
  uint64_t h = b.commit({to_bytes(std::string("after"))});
  ASSERT_GT(h, changes);
  consensus::Membership genesis(b.genesis, b.appraiser);
  ReceiptProof full = b.proof(h, 0);
  ASSERT_EQ(full.epoch_changes.size(), 3u);
  ASSERT_TRUE(verify_receipt_proof(full, consensus::Protocol::kTeeBft, genesis).ok())
      << verify_receipt_proof(full, consensus::Protocol::kTeeBft, genesis).error().to_string();
  auto back = ReceiptProof::decode(full.encode());
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(verify_receipt_proof(*back, consensus::Protocol::kTeeBft, genesis).ok());
  for (size_t omit = 0; omit < 3; omit++) {
    ReceiptProof cut = full;
    cut.epoch_changes.erase(cut.epoch_changes.begin() + static_cast<long>(omit));
    auto s = verify_receipt_proof(cut, consensus::Protocol::kTeeBft, genesis);
    ASSERT_FALSE(s.ok()) << "a proof without change " << omit + 1 << " verified";
    EXPECT_EQ(s.error().code, "receipt.epoch");
  }
  ReceiptProof swapped = full;
  std::swap(swapped.epoch_changes[0], swapped.epoch_changes[1]);
  EXPECT_FALSE(verify_receipt_proof(swapped, consensus::Protocol::kTeeBft, genesis).ok());
  // Another chain: the same keys in a new genesis.
  consensus::ChainGenesis other = b.genesis;
  other.chain_id = "receipts-recreated";
  EXPECT_EQ(verify_receipt_proof(full, consensus::Protocol::kTeeBft, consensus::Membership(other, b.appraiser)).error().code,
            "receipt.chain");
  ReceiptProof relabelled = full;
  relabelled.genesis_hash = other.hash();
  EXPECT_FALSE(verify_receipt_proof(relabelled, consensus::Protocol::kTeeBft, consensus::Membership(other, b.appraiser)).ok());
}


// Issue 15 §2: a receipt with a signed checkpoint verifies with the group key alone; every
// alteration of the link (a header left out, a header of another chain, a checkpoint of another
// height or chain, another key, a bit of the signature) is refused, each by the check it broke,
// and the file round-trips (older files without a checkpoint still decode).
TEST(ReceiptProof, ACheckpointLinkVerifiesWithTheGroupKeyAloneAndEveryAlterationFails) {
  ChainBuilder b("checkpoints");
  uint64_t h = b.commit({to_bytes(std::string("write"))});
  for (int i = 0; i < 3; i++) b.commit({to_bytes("later " + std::to_string(i))});
  uint64_t top = b.chain->next_height() - 1;
  crypto::Ed25519KeyPair group = crypto::ed25519_generate();
  ReceiptProof p = b.proof(h, 0);
  ReceiptProof without = p;
  EXPECT_EQ(verify_receipt_checkpoint(without, group.public_key).error().code, "receipt.checkpoint");
  CheckpointLink link;
  for (uint64_t k = h + 1; k <= top; k++) link.headers.push_back(b.chain->blocks()[k - 1].block.header);
  link.checkpoint.chain = b.genesis.hash();
  link.checkpoint.height = top;
  link.checkpoint.block_hash = b.chain->blocks()[top - 1].block.header.hash();
  link.checkpoint.signature =
      crypto::ed25519_sign(group.secret_key, Checkpoint::message(link.checkpoint.chain, top, link.checkpoint.block_hash));
  p.checkpoint = link;
  ASSERT_TRUE(verify_receipt_checkpoint(p, group.public_key).ok()) << verify_receipt_checkpoint(p, group.public_key).error().to_string();
  auto back = ReceiptProof::decode(p.encode());
  ASSERT_TRUE(back.ok()) << back.error().to_string();
  ASSERT_TRUE(back->checkpoint.has_value());
  EXPECT_TRUE(verify_receipt_checkpoint(*back, group.public_key).ok());
  EXPECT_EQ(back->encode(), p.encode());
  auto old = ReceiptProof::decode(without.encode());
  ASSERT_TRUE(old.ok());
  EXPECT_FALSE(old->checkpoint.has_value());
  // The genesis path still verifies the receipt with its checkpoint attached.
  consensus::Membership genesis(b.genesis, b.appraiser);
  EXPECT_TRUE(verify_receipt_proof(p, consensus::Protocol::kTeeBft, genesis).ok());

  auto code = [&](const ReceiptProof& q, ByteView key) {
    auto s = verify_receipt_checkpoint(q, key);
    return s.ok() ? std::string("ok") : s.error().code;
  };
  EXPECT_EQ(code(p, crypto::ed25519_generate().public_key), "checkpoint.signature");
  ReceiptProof bad = p;
  bad.checkpoint->headers.erase(bad.checkpoint->headers.begin() + 1);
  EXPECT_EQ(code(bad, group.public_key), "receipt.checkpoint");
  bad = p;
  bad.checkpoint->headers.pop_back();
  EXPECT_EQ(code(bad, group.public_key), "receipt.checkpoint");
  bad = p;
  bad.checkpoint->headers[0].tx_count += 1;  // the next header's parent no longer matches
  EXPECT_EQ(code(bad, group.public_key), "receipt.checkpoint");
  bad = p;
  bad.checkpoint->checkpoint.signature[5] ^= 1;
  EXPECT_EQ(code(bad, group.public_key), "checkpoint.signature");
  bad = p;
  bad.checkpoint->checkpoint.chain[0] ^= 1;
  EXPECT_EQ(code(bad, group.public_key), "receipt.chain");
  bad = p;
  bad.receipt.tx.push_back('!');
  EXPECT_EQ(code(bad, group.public_key), "receipt.proof");
  // A checkpoint signed for the receipt's own block needs no headers.
  ReceiptProof direct = b.proof(top, 0);
  direct.checkpoint = CheckpointLink{{}, link.checkpoint};
  EXPECT_EQ(code(direct, group.public_key), "ok");
}

}  // namespace
}  // namespace supernet::ledger
