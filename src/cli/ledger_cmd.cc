// supernet ledger verify: checks a node's stored chain offline against the genesis.
#include <cstdio>
#include <filesystem>

#include "cli/commands.h"
#include "consensus/chain.h"
#include "ledger/store.h"
#include "node/appraiser.h"
#include "node/config.h"

namespace supernet::cli {

namespace {

struct VerifyArgs {
  std::string dir;
  std::string genesis;
};

int run_verify(const VerifyArgs& a) {
  // A node folder (with node.toml) or a network folder (every node-* in it).
  std::vector<std::string> nodes;
  if (std::filesystem::exists(a.dir + "/node.toml")) {
    nodes.push_back(a.dir);
  } else {
    for (int i = 1; std::filesystem::exists(a.dir + "/node-" + std::to_string(i) + "/node.toml"); i++) {
      nodes.push_back(a.dir + "/node-" + std::to_string(i));
    }
  }
  if (nodes.empty()) return fail(make_error("ledger.none", "no node.toml in " + a.dir + " nor node-*/node.toml below it"));
  int bad = 0;
  std::optional<Bytes> tip;
  uint64_t tip_height = 0;
  for (const auto& dir : nodes) {
    auto cfg = node::load_node_config(dir + "/node.toml");
    if (!cfg.ok()) return fail(cfg.error());
    auto genesis = node::load_genesis(a.genesis.empty() ? cfg->genesis : a.genesis);
    if (!genesis.ok()) return fail(genesis.error());
    auto store = ledger::open_sqlite_store(cfg->data_dir + "/ledger.db");
    if (!store.ok()) return fail(store.error());
    auto blocks = (*store)->load_blocks();
    if (!blocks.ok()) {
      std::printf("%s: FAILED: %s\n", dir.c_str(), blocks.error().to_string().c_str());
      bad++;
      continue;
    }
    consensus::Chain chain(genesis->chain(), node::evidence_appraiser());
    Status s = ok_status();
    size_t txs = 0;
    for (const auto& cb : *blocks) {
      txs += cb.block.txs.size();
      if (s = chain.append(cb); !s.ok()) break;
    }
    if (!s.ok()) {
      std::printf("%s: FAILED at height %llu: %s\n", dir.c_str(), static_cast<unsigned long long>(chain.next_height()),
                  s.error().to_string().c_str());
      bad++;
      continue;
    }
    std::printf("%s: %zu blocks, %zu transactions, every block and certificate verifies (validator set epoch %llu)\n",
                dir.c_str(), blocks->size(), txs, static_cast<unsigned long long>(chain.validators().epoch()));
    // Nodes may be at different heights; their common prefix must be the same chain.
    if (!blocks->empty()) {
      if (tip && tip_height <= blocks->size() && (*blocks)[tip_height - 1].block.header.hash() != *tip) {
        std::printf("%s: FAILED: differs from the other nodes at height %llu\n", dir.c_str(), static_cast<unsigned long long>(tip_height));
        bad++;
      } else if (!tip || blocks->size() < tip_height) {
        tip = blocks->back().block.header.hash();
        tip_height = blocks->size();
      }
    }
  }
  std::printf("%s\n", bad == 0 ? "ledger verified" : "LEDGER VERIFICATION FAILED");
  return bad == 0 ? kExitOk : kExitCheckFailed;
}

struct TxsArgs {
  std::string dir;
};

// Every transaction in a node's stored chain, in order: "<id> <height> <index>" per line (the
// id is what POST /v1/tx answers).
int run_txs(const TxsArgs& a) {
  auto cfg = node::load_node_config(a.dir + "/node.toml");
  if (!cfg.ok()) return fail(cfg.error());
  auto store = ledger::open_sqlite_store(cfg->data_dir + "/ledger.db");
  if (!store.ok()) return fail(store.error());
  auto blocks = (*store)->load_blocks();
  if (!blocks.ok()) return fail(blocks.error());
  std::string out;
  for (const auto& cb : *blocks) {
    for (size_t i = 0; i < cb.block.txs.size(); i++) {
      out += to_hex(as_bytes(consensus::tx_id(cb.block.txs[i]))) + " " + std::to_string(cb.block.header.height) + " " + std::to_string(i) + "\n";
      if (out.size() > (1 << 20)) {
        std::fputs(out.c_str(), stdout);
        out.clear();
      }
    }
  }
  std::fputs(out.c_str(), stdout);
  return kExitOk;
}

}  // namespace

void add_ledger_commands(CLI::App& app, int* exit_code) {
  CLI::App* ledger = app.add_subcommand("ledger", "Inspect and verify stored ledgers");
  ledger->require_subcommand(1);
  auto a = std::make_shared<VerifyArgs>();
  CLI::App* verify = ledger->add_subcommand(
      "verify", "Check a node's (or every node's) stored chain offline: links, Merkle roots, commit certificates, key rotations");
  verify->add_option("--dir", a->dir, "a node folder, or a network folder from `supernet up`")->required();
  verify->add_option("--genesis", a->genesis, "genesis file (default: the one named in node.toml)");
  verify->callback([a, exit_code] { *exit_code = run_verify(*a); });
  auto t = std::make_shared<TxsArgs>();
  CLI::App* txs = ledger->add_subcommand("txs", "List every transaction in a node's stored chain: id, height, index (one per line)");
  txs->add_option("--dir", t->dir, "a node folder (with node.toml)")->required();
  txs->callback([t, exit_code] { *exit_code = run_txs(*t); });
}

}  // namespace supernet::cli
