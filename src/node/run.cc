// The node program's main loop (supernet-node): one SuperNet node process.
#include "node/run.h"

#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <asio.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "node/api.h"
#include "node/appraiser.h"
#include "node/config.h"
#include "node/fl_service.h"
#include "node/key_service.h"
#include "node/market_service.h"
#include "ta/worker.h"
#include "node/node.h"
#include "node/sign_state.h"
#include "tee/seal.h"
#include "util/file.h"
#include "util/log.h"

namespace supernet::node {

namespace {

int fail(const Error& e, int code = kExitBadInput) {
  log(LogLevel::kError, "node", e.to_string());
  std::fprintf(stderr, "error: %s\n", e.to_string().c_str());
  return code;
}


namespace fs = std::filesystem;

// The node's long-term Ed25519 key (identity or bft vote key), kept sealed in `path`, bound to
// this node's id (another node's blob, on the same machine, is refused by name).
Result<crypto::Ed25519KeyPair> sealed_ed25519(tee::Platform& platform, const std::string& path, const std::string& label,
                                              uint32_t node) {
  std::error_code ec;
  if (fs::exists(path, ec)) {
    SN_ASSIGN(Bytes sealed, read_file(path));
    SN_ASSIGN(tee::Unsealed secret, tee::unseal_bound(platform, label, node, sealed));
    if (secret.plaintext.size() != 64) return make_error("node.key", path + " does not hold an Ed25519 key");
    crypto::Ed25519KeyPair kp;
    kp.public_key = Bytes(secret.plaintext.data() + 32, secret.plaintext.data() + 64);  // libsodium keeps the public half last
    kp.secret_key = std::move(secret.plaintext);
    return kp;
  }
  auto kp = crypto::ed25519_generate();
  SN_ASSIGN(Bytes sealed, tee::seal_bound(platform, label, node, 1, kp.secret_key.view()));
  SN_TRY(write_file_atomic(path, sealed, 0600));
  return kp;
}

Result<node::Genesis> wait_for_genesis(const std::string& path, int wait_s) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(wait_s);
  bool said = false;
  std::error_code ec;
  while (!fs::exists(path, ec)) {
    if (std::chrono::steady_clock::now() > deadline) {
      return make_error("node.genesis", "no genesis at " + path + " after " + std::to_string(wait_s) + " s");
    }
    if (!said) log(LogLevel::kInfo, "node", "waiting for the genesis at " + path);
    said = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return node::load_genesis(path);
}

}  // namespace

int run_node(const RunOptions& a) {
  auto cfg = node::load_node_config(a.config);
  if (!cfg.ok()) return fail(cfg.error());
  std::error_code ec;
  fs::create_directories(cfg->data_dir, ec);
  tee::PlatformOptions po;
  po.kind = cfg->platform;
  po.virtual_dir = cfg->virtual_dir;
  std::string warning;
  auto platform = tee::open_platform(po, &warning);
  if (!platform.ok()) return fail(platform.error());
  if (!warning.empty()) log(LogLevel::kWarn, "platform", warning);
  auto identity = sealed_ed25519(**platform, cfg->data_dir + "/identity.ed25519.sealed", "node-identity-key", cfg->id);
  if (!identity.ok()) return fail(identity.error(), kExitCheckFailed);

  // The vote key: a fresh checker (tee-bft) or the node's sealed key (bft).
  std::unique_ptr<consensus::Checker> checker;
  crypto::Ed25519KeyPair bft_key;
  bool bft_key_created = false;
  Bytes vote_key;
  if (cfg->consensus == consensus::Protocol::kTeeBft) {
    checker = std::make_unique<consensus::Checker>(cfg->id);
    vote_key = checker->public_key();
  } else {
    bft_key_created = !fs::exists(cfg->data_dir + "/vote.ed25519.sealed", ec);
    auto k = sealed_ed25519(**platform, cfg->data_dir + "/vote.ed25519.sealed", "node-vote-key", cfg->id);
    if (!k.ok()) return fail(k.error(), kExitCheckFailed);
    bft_key = std::move(k).value();
    vote_key = bft_key.public_key;
  }
  node::GenesisValidator me;
  me.id = cfg->id;
  me.peer = cfg->peer_listen;
  me.api = cfg->api_listen;
  me.identity_key = identity->public_key;
  me.vote_key = vote_key;
  if (auto w = write_file_atomic(cfg->data_dir + "/public.toml", as_bytes(node::published_toml(me))); !w.ok()) return fail(w.error());

  auto genesis = wait_for_genesis(cfg->genesis, a.genesis_wait_s);
  if (!genesis.ok()) return fail(genesis.error());
  if (genesis->protocol != cfg->consensus) return fail(make_error("node.genesis", "genesis protocol differs from this node's"));
  const node::GenesisValidator* listed = nullptr;
  for (const auto& v : genesis->validators) {
    if (v.id == cfg->id) listed = &v;
  }
  if (listed != nullptr && listed->identity_key != identity->public_key) {
    return fail(make_error("node.genesis", "the genesis lists node " + std::to_string(cfg->id) + " with another identity key"));
  }
  if (listed == nullptr) {
    log(LogLevel::kInfo, "node", "node " + std::to_string(cfg->id) + " is not in the genesis: it follows the network once the members " +
                                     "approve adding it (supernet node add), then catches up from its peers");
  }
  auto policy = tee::load_policy(cfg->policy);
  if (!policy.ok()) return fail(policy.error());

  node::NodeOptions o;
  o.replica.self = cfg->id;
  o.replica.block_txs_max = cfg->block_txs;
  o.phi_accrual = cfg->phi_accrual;
  o.replica.genesis = genesis->chain();
  // Collateral (certificates, CRLs, TCB info) so hardware peers are appraised, not "not evaluated".
  tee::Collateral collateral;
  std::error_code cec;
  if (fs::is_directory(cfg->collateral, cec)) {
    if (auto s = collateral.add_path(cfg->collateral); !s.ok()) return fail(s.error());
    log(LogLevel::kInfo, "node", "collateral from " + cfg->collateral + ": " + std::to_string(collateral.certs.size()) +
                                     " certificates, " + std::to_string(collateral.crls.size()) + " CRLs, " +
                                     std::to_string(collateral.tcb_infos.size()) + " TCB infos");
  }
  o.replica.appraiser = collateral.certs.empty() && collateral.tcb_infos.empty() ? node::evidence_appraiser()
                                                                                  : node::make_evidence_appraiser(collateral);
  o.replica.identity_secret = identity->secret_key;
  o.replica.unix_now = [] { return static_cast<int64_t>(now_unix()); };
  tee::Platform* platform_ptr = platform->get();
  // The only evidence this program asks its platform for over consensus data: the binding its
  // checker computed for its own key (issue 10, A).
  o.replica.attest = [platform_ptr](ByteView report_data) { return platform_ptr->evidence(report_data); };
  Bytes genesis_bytes = o.replica.genesis.encode();
  if (checker) {
    if (auto s = checker->begin(genesis_bytes, o.replica.appraiser); !s.ok()) return fail(s.error(), kExitCheckFailed);
    if (listed == nullptr) {
      // Joining after the genesis: publish evidence for the checker's key, which the members'
      // add_node proposal carries (and every node appraises) (issue 10, A).
      me.vote_key_issued_at = static_cast<int64_t>(now_unix());
      auto binding = checker->admission_binding(identity->public_key, me.vote_key_issued_at);
      if (!binding.ok()) return fail(binding.error(), kExitCheckFailed);
      auto evidence = (*platform)->evidence(*binding);
      if (!evidence.ok()) return fail(evidence.error(), kExitCheckFailed);
      me.vote_key_evidence = std::move(evidence).value();
      if (auto w = write_file_atomic(cfg->data_dir + "/public.toml", as_bytes(node::published_toml(me))); !w.ok()) return fail(w.error());
    }
    o.signer = std::move(checker);
  } else {
    auto state = node::open_sign_state(**platform, cfg->data_dir + "/sign-state.sealed", cfg->id, bft_key_created);
    if (!state.ok()) return fail(state.error(), kExitCheckFailed);
    auto stored = ledger::open_sqlite_store(cfg->data_dir + "/ledger.db");
    if (!stored.ok()) return fail(stored.error());
    auto blocks = (*stored)->load_blocks();
    if (!blocks.ok()) return fail(blocks.error());
    if (auto s = node::check_sign_state_against_ledger(*state->state, cfg->id, *blocks); !s.ok()) return fail(s.error(), kExitCheckFailed);
    o.signer = std::make_unique<consensus::PlainSigner>(cfg->id, bft_key.secret_key, bft_key.public_key, state->state, state->persist);
  }
  o.transport.self = cfg->id;
  o.transport.listen_host = cfg->peer_listen.host;
  o.transport.listen_port = cfg->peer_listen.port;
  for (const auto& v : genesis->validators) {
    o.transport.identity_keys[v.id] = v.identity_key;
    if (v.id > cfg->id) o.transport.dial.push_back({v.id, v.peer.host, v.peer.port});
  }
  o.transport.identity_secret = identity->secret_key;
  // The TLS certificate's evidence binds the TLS key, this node's identity key and the chain.
  Bytes genesis_hash = genesis->hash();
  net::Binding binding{identity->public_key, genesis_hash};
  auto tls = net::load_or_create_identity(**platform, cfg->data_dir + "/tls", "supernet-node-" + std::to_string(cfg->id), binding);
  if (!tls.ok()) return fail(tls.error(), kExitCheckFailed);
  auto certificates = std::make_shared<net::IdentityStore>(*tls);  // peers and the API serve it; renewed below
  o.transport.ratls.identity = *tls;
  o.transport.ratls.store = certificates;
  o.transport.ratls.chain = genesis_hash;
  o.transport.ratls.policy = *policy;
  o.transport.ratls.collateral = collateral;
  o.policy_floor = genesis->policy;  // the network's policy: the local one may only be stricter
  o.transport.ratls.platform = platform->get();
  auto store = ledger::open_sqlite_store(cfg->data_dir + "/ledger.db");
  if (!store.ok()) return fail(store.error());
  o.store = std::move(store).value();

  // Blocks and frames of hundreds of kilobytes come and go with small objects: with glibc's
  // sliding mmap threshold they end up on the heap, which then fragments and spends its time
  // consolidating (a busy node lost a third of its write rate over 200,000 writes). A fixed
  // threshold keeps them in their own mappings (bench_api: 25,000 writes/s, stable).
  mallopt(M_MMAP_THRESHOLD, 256 * 1024);
  // File descriptors for the API's and the peer port's connection caps (net::HttpLimits,
  // TransportConfig): raise the soft limit to the hard one.
  if (rlimit rl{}; getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &rl);
  }
  asio::io_context io;
  node::Node node(io, std::move(o));
  if (auto s = node.start(); !s.ok()) return fail(s.error(), kExitCheckFailed);
  node::ApiHandler api_handler(node, *genesis);
  node::DatasetStore datasets(**platform, cfg->data_dir + "/datasets");
  api_handler.set_datasets(&datasets);
  node::ModelStore models(**platform, cfg->data_dir + "/models");
  // Trusted application workers: this program re-executed and confined; each job's local
  // training runs in one (docs/trusted-applications.md). One spare is started now, so that a
  // node whose workers cannot start says so at once.
  ta::Pool trainers(ta::WorkerOptions{}, 1);
  if (auto w = trainers.warm(); !w.ok()) {
    log(LogLevel::kWarn, "node", "trusted application workers cannot start (" + w.error().to_string() +
                                     "): this node's federated training will fail until they can");
  }
  node::FlService fl(node, &datasets, identity->secret_key, &models, &trainers);
  api_handler.set_fl(&fl);
  // The validators' distributed key generation: the network's group key (docs/keys.md).
  node::KeyService keys(node, **platform, cfg->data_dir, identity->secret_key);
  api_handler.set_keys(&keys);
  node::MarketService market(node, cfg->data_dir, identity->secret_key);
  api_handler.set_market(&market);
  // A listed agent's content key: released to the client that listed it and to attested TAs
  // running its root digest (docs/marketplace.md).
  keys.set_builtin_policies([&market](const std::string& resource) { return market.release_policy(resource); });
  api_handler.set_attestation(platform->get(), certificates);
  node::ApiServer api(io, api_handler, certificates);
  if (auto s = api.start(cfg->api_listen.host, cfg->api_listen.port); !s.ok()) return fail(s.error(), kExitCheckFailed);
  log(LogLevel::kInfo, "node", "node " + std::to_string(cfg->id) + " running (" + consensus::protocol_name(cfg->consensus) +
                                   ", chain " + genesis->chain_id + ", height " + std::to_string(node.height()) + ", API https://" +
                                   cfg->api_listen.host + ":" + std::to_string(api.port()) + ")");

  // The operator may change the policy file (trusting a new node's platform, say): re-read it
  // when it changes. Measurements the members set by governance stay on top of it.
  auto policy_mtime = [&] {
    std::error_code e;
    return fs::last_write_time(cfg->policy, e);
  };
  auto seen_policy = policy_mtime();
  // The collateral folder's files (names, sizes, times): new ones (supernet attest collateral add)
  // are loaded and every peer appraised again. Bounded: at most 4,096 entries are looked at.
  auto collateral_stamp = [&] {
    std::string stamp;
    std::error_code ec;
    if (!fs::is_directory(cfg->collateral, ec)) return stamp;
    size_t seen = 0;
    for (auto it = fs::recursive_directory_iterator(cfg->collateral, ec); !ec && it != fs::recursive_directory_iterator() && seen < 4096;
         it.increment(ec), seen++) {
      std::error_code e2;
      if (!it->is_regular_file(e2)) continue;
      stamp += it->path().string() + ":" + std::to_string(it->file_size(e2)) + ":" +
               std::to_string(it->last_write_time(e2).time_since_epoch().count()) + "\n";
    }
    return stamp;
  };
  auto seen_collateral = collateral_stamp();
  // A status file for `supernet status` and `supernet up`, refreshed twice a second.
  asio::steady_timer status_timer(io);
  std::function<void()> write_status = [&] {
    nlohmann::json j;
    j["id"] = cfg->id;
    j["pid"] = ::getpid();
    j["chain_id"] = genesis->chain_id;
    j["protocol"] = consensus::protocol_name(cfg->consensus);
    j["height"] = node.height();
    j["round"] = node.replica().round();
    j["can_sign"] = node.replica().can_sign();
    j["mempool"] = node.replica().mempool_size();
    j["failed"] = node.failed();
    j["validator"] = node.replica().validators().find(cfg->id) != nullptr;
    j["epoch"] = node.replica().validators().epoch();
    j["leader"] = node.replica().validators().leader(node.replica().next_height(), node.replica().round());
    j["api"] = cfg->api_listen.host + ":" + std::to_string(api.port());
    nlohmann::json peers = nlohmann::json::array();
    for (const auto& v : node.replica().validators().validators()) {
      if (v.id != cfg->id && node.connected(v.id)) peers.push_back(v.id);
    }
    j["connected"] = peers;
    j["suspected"] = node.suspected();
    (void)write_file_atomic(cfg->data_dir + "/status.json", as_bytes(j.dump() + "\n"));
    if (auto t = policy_mtime(); t != seen_policy) {
      seen_policy = t;
      if (auto p = tee::load_policy(cfg->policy); !p.ok()) {
        log(LogLevel::kWarn, "node", "policy " + cfg->policy + " changed but does not load (keeping the old one): " + p.error().to_string());
      } else if (auto s = node.set_policy(*p); !s.ok()) {
        log(LogLevel::kWarn, "node", "policy " + cfg->policy + " changed but is refused (keeping the old one): " + s.error().to_string());
      } else {
        log(LogLevel::kInfo, "node", "policy " + cfg->policy + " changed: reloaded");
      }
    }
    if (auto c = collateral_stamp(); c != seen_collateral) {
      seen_collateral = c;
      tee::Collateral fresh;
      if (auto s = fresh.add_path(cfg->collateral); !s.ok()) {
        log(LogLevel::kWarn, "node", "collateral in " + cfg->collateral + " changed but does not load (keeping the old): " + s.error().to_string());
      } else {
        log(LogLevel::kInfo, "node", "collateral in " + cfg->collateral + " changed: " + std::to_string(fresh.certs.size()) + " certificates, " +
                                         std::to_string(fresh.crls.size()) + " CRLs, " + std::to_string(fresh.tcb_infos.size()) +
                                         " TCB infos; every peer is appraised again");
        node.set_collateral(std::move(fresh));
      }
    }
    // Certificates live a day: renew with fresh evidence when half of it has passed.
    if (auto renewed = net::renew_certificate_if_due(**platform, *certificates, now_unix()); !renewed.ok()) {
      log(LogLevel::kError, "node", "cannot renew the TLS certificate: " + renewed.error().to_string());
    } else if (*renewed) {
      log(LogLevel::kInfo, "node", "renewed the TLS certificate with fresh evidence (valid until " +
                                       format_rfc3339(certificates->current()->cert.not_after()) + ")");
    }
    status_timer.expires_after(std::chrono::milliseconds(500));
    status_timer.async_wait([&](asio::error_code e) {
      if (!e) write_status();
    });
  };
  write_status();
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](asio::error_code, int sig) {
    log(LogLevel::kInfo, "node", "signal " + std::to_string(sig) + ": stopping");
    api.stop();
    node.stop();
    status_timer.cancel();
    io.stop();
  });
  io.run();
  return node.failed() ? kExitCheckFailed : kExitOk;
}


}  // namespace supernet::node
