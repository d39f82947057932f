#include "node/market_service.h"

#include <filesystem>

#include "util/file.h"
#include "util/log.h"

namespace supernet::node {

namespace fs = std::filesystem;

MarketService::MarketService(Node& node, std::string data_dir, crypto::SecureBytes identity_secret)
    : node_(node), dir_(std::move(data_dir) + "/packages"), identity_secret_(std::move(identity_secret)) {
  tracked_.emplace(node_.replica().genesis(), node_.replica().membership().appraiser());
  for (const auto& cb : node_.replica().chain()) record(cb);  // what the restored ledger holds
  node_.on_commit([this](const consensus::CommittedBlock& cb) { record(cb); });
}

market::Directory MarketService::directory() const {
  market::Directory d;
  d.genesis = &node_.replica().genesis();
  // A listing counts only from a validator of the set as of its block (a removed node's word
  // no longer does).
  d.identity_key = [this](uint32_t n) -> const Bytes* {
    const consensus::Validator* v = tracked_->set().find(n);
    return v == nullptr ? nullptr : &v->identity_key;
  };
  return d;
}

void MarketService::record(const consensus::CommittedBlock& cb) {
  uint64_t height = cb.block.header.height;
  for (const auto& tx : cb.block.txs) {
    if (consensus::Membership::handles(tx)) {
      (void)tracked_->apply(tx, height, cb.commit_qc.phase == consensus::Phase::kRecovery);
      continue;
    }
    if (!market::is_market_tx(tx)) continue;
    // Every node ignores a failing market transaction alike; the reason is only logged.
    if (auto s = market_.apply(tx, height, directory()); !s.ok()) {
      // Rate-limited by kind: a validator could order refused transactions at will.
      log_limiter_.log(LogLevel::kInfo, "market", s.error().code, "ledger",
                       "a market transaction at height " + std::to_string(height) + " does not apply: " + s.error().to_string(), steady_ms());
      Bytes id = to_bytes(as_bytes(consensus::tx_id(tx)));
      if (refusals_.emplace(id, s.error().to_string()).second) refusal_order_.push_back(id);
      while (refusal_order_.size() > kRefusalsKept) {
        refusals_.erase(refusal_order_.front());
        refusal_order_.pop_front();
      }
    }
  }
}

std::optional<keys::ReleasePolicy> MarketService::release_policy(const std::string& resource) const {
  if (resource.rfind("agent:", 0) != 0 || resource.size() != 6 + 64) return std::nullopt;
  auto root = from_hex(resource.substr(6));
  if (!root.ok()) return std::nullopt;
  const market::Listing* l = market_.by_root(*root);
  if (l == nullptr) return std::nullopt;
  keys::ReleasePolicy p;
  p.clients = {l->client};
  p.packages = {to_hex(l->root)};
  return p;
}

MarketService::~MarketService() {
  *alive_ = false;
  verifier_.join();
}

void MarketService::publish(std::string file, std::string client, std::function<void(Result<Published>)> done) {
  if (in_flight_.fetch_add(1) >= kPublishesInFlightMax) {
    in_flight_--;
    return done(make_error("market.busy", "this node is verifying " + std::to_string(kPublishesInFlightMax) + " packages; try again shortly"));
  }
  asio::post(verifier_, [this, alive = alive_, file = std::move(file), client = std::move(client), done = std::move(done)]() mutable {
    if (!*alive) return;
    auto p = verify_and_keep(file);
    asio::post(node_.io(), [this, alive, p = std::move(p), client = std::move(client), done = std::move(done)]() mutable {
      if (!*alive) return;
      in_flight_--;
      if (!p.ok()) return done(p.error());
      auto tx = listing_for(*p, client);
      if (!tx.ok()) {
        if (market_.by_root(p->root) == nullptr) {
          // Refused: the file kept for it goes (a client must not fill the disk with refused
          // packages). A listed package of the same root keeps its file.
          std::error_code ec;
          fs::remove(dir_ + "/" + to_hex(p->root) + ".agent", ec);
        }
        return done(tx.error());
      }
      done(Published{std::move(*tx), p->config.name, p->config.version, p->root});
    });
  });
}

Result<agents::Package> MarketService::verify_and_keep(std::string_view file) const {
  if (file.size() > kApiPackageBytesMax) {
    return make_error("listing.too_large", "the package is over " + std::to_string(kApiPackageBytesMax >> 20) + " MiB, the most this node takes");
  }
  SN_ASSIGN(agents::Package p, agents::verify_package(file));
  const auto& r = p.config.resources;
  if (r.gas > kListingGasMax || r.memory_mb > kListingMemoryMbMax || r.timeout_ms > kListingTimeoutMsMax) {
    return make_error("listing.limits", "the resources per call (gas " + std::to_string(r.gas) + ", memory " + std::to_string(r.memory_mb) + " MiB, " +
                                            std::to_string(r.timeout_ms) + " ms) pass the network's limits (gas " + std::to_string(kListingGasMax) +
                                            ", " + std::to_string(kListingMemoryMbMax) + " MiB, " + std::to_string(kListingTimeoutMsMax) + " ms)");
  }
  // Kept before the listing is submitted: a listing this node made always has its package here.
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return make_error("io.mkdir", dir_ + ": " + ec.message());
  SN_TRY(write_file_atomic(dir_ + "/" + to_hex(p.root) + ".agent", as_bytes(file), 0644));
  return p;
}

Result<Bytes> MarketService::listing_for(const agents::Package& p, const std::string& client) {
  if (!p.config.licence.open) {
    for (const auto& c : p.config.licence.clients) {
      bool known = false;
      for (const auto& g : node_.replica().genesis().clients) known |= g.name == c;
      if (!known) return make_error("listing.licence", "the licence names " + c + ", who is no client of this network");
    }
  }
  Bytes tx = market::make_listing_tx(node_.replica().self(), client, p.envelope_json, identity_secret_);
  if (tx.size() > consensus::kTxBytesMax) {
    return make_error("listing.too_large", "the package's signed statement is " + std::to_string(tx.size() >> 10) + " KiB; a listing holds at most " +
                                               std::to_string(consensus::kTxBytesMax >> 10) + " KiB (fewer or shorter file names)");
  }
  SN_TRY(market_.check(tx, directory()));
  return tx;
}

std::optional<std::string> MarketService::refusal(const Bytes& tx_id) const {
  auto it = refusals_.find(tx_id);
  if (it == refusals_.end()) return std::nullopt;
  return it->second;
}


}  // namespace supernet::node
