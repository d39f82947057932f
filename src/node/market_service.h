// The node's side of the marketplace (docs/marketplace.md): it keeps the market's ledger state
// (market::Market) from the committed blocks, replayed at start, and it validates packages for
// publishing inside its TEE: the whole package (agents::verify_package: the signature, every
// file against the signed manifest, agent.toml, the script compiles, the schemas), then the
// network's limits, then the listing against the ledger's state; only then does it sign the
// listing with its identity key. It keeps the package files it published
// (<data dir>/packages/<root digest>.agent; public bytes, models encrypted) for deployment,
// which is to verify them again when it reads them (not built yet).
#pragma once

#include <asio.hpp>
#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <map>
#include <optional>
#include <string>

#include "consensus/membership.h"
#include "crypto/secure.h"
#include "keys/release.h"
#include "market/market.h"
#include "node/node.h"
#include "util/log.h"

namespace supernet::node {

inline constexpr size_t kApiPackageBytesMax = 16u << 20;  // POST /v1/agents: a package file
// The network's limits on a listed agent's resources per call (checked at publish).
inline constexpr uint64_t kListingGasMax = 10'000'000'000ull;
inline constexpr uint64_t kListingMemoryMbMax = 256;
inline constexpr uint32_t kListingTimeoutMsMax = 60'000;
inline constexpr size_t kRefusalsKept = 4096;
inline constexpr int kPublishesInFlightMax = 4;

class MarketService {
 public:
  MarketService(Node& node, std::string data_dir, crypto::SecureBytes identity_secret);
  const market::Market& state() const { return market_; }
  market::Directory directory() const;
  ~MarketService();
  // Verifies a package for publishing and returns the listing transaction to submit; the error
  // names the check that failed (codes "package.*", "listing.*", "market.*"). The package
  // checks and keeping the file run on a worker thread, never on the node's event loop (a
  // 16 MiB package takes a few hundred milliseconds); `done` runs on the event loop. At most
  // kPublishesInFlightMax at once: past it `done` gets "market.busy" at once.
  struct Published {
    Bytes tx;  // the listing transaction to submit
    std::string name, version;
    Bytes root;
  };
  void publish(std::string package_file, std::string client, std::function<void(Result<Published>)> done);
  // The key management module's built-in release policy of "agent:<root hex>": the client that
  // posted the listing, and attested TAs running that root digest; nullopt for other resources
  // and for roots no listing has.
  std::optional<keys::ReleasePolicy> release_policy(const std::string& resource) const;
  // Why every node ignored a committed market transaction (by transaction id), for the last
  // kRefusalsKept refused; nullopt when it applied (or is too old to tell).
  std::optional<std::string> refusal(const Bytes& tx_id) const;

 private:
  void record(const consensus::CommittedBlock& cb);
  // The checks that need no ledger state (thread-safe), and the file kept.
  Result<agents::Package> verify_and_keep(std::string_view file) const;
  // The rest, on the event loop: the licence's clients, the listing against the state.
  Result<Bytes> listing_for(const agents::Package& p, const std::string& client);
  Node& node_;
  std::string dir_;
  crypto::SecureBytes identity_secret_;
  market::Market market_;
  std::optional<consensus::Membership> tracked_;  // the validator set as of the last recorded block
  std::map<Bytes, std::string> refusals_;
  std::deque<Bytes> refusal_order_;
  std::atomic<int> in_flight_{0};
  LogLimiter log_limiter_;
  std::shared_ptr<std::atomic<bool>> alive_ = std::make_shared<std::atomic<bool>>(true);  // read by the worker
  asio::thread_pool verifier_{1};
};

}  // namespace supernet::node
