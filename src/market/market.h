// The marketplace's ledger state (docs/marketplace.md): agent listings with their versions, and
// credit balances. Deterministic: every node applies the same committed transactions in the same
// order and holds the same state; a transaction that fails a check is ignored by all alike, and
// the check's error says why (the API runs the same checks before it submits, so a client hears
// the reason at once).
//
// Transactions (magic "SNMK", then a kind byte):
//   listing   a publishing node's word that it verified the whole package inside its TEE
//             (agents::verify_package), signed by its identity key; it carries the package's
//             DSSE envelope, which every node verifies itself (agents::verify_envelope): the
//             publisher, name, version, root digest, price and licence come from the
//             publisher's signature, never from the node.
//   delist    the publisher's withdrawal of one version, signed by its package key (Ed25519).
//   mint      credits created by a member for a client (development and tests: the seam where
//             real payment plugs in), signed by the member's client key.
//   transfer  credits from the signing client to another client.
// Client-signed transactions carry a nonce; a (signer, nonce) pair counts once.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "agents/package.h"
#include "consensus/genesis.h"
#include "crypto/keys.h"
#include "util/bytes.h"
#include "util/result.h"

namespace supernet::market {

inline constexpr uint64_t kAmountMax = 1'000'000'000'000'000ull;  // credits in one mint or transfer
inline constexpr uint64_t kBalanceMax = 1ull << 62;
inline constexpr size_t kVersionsMax = 1000;  // listed versions of one name
inline constexpr size_t kListingsMax = 100000;  // names

enum class Kind : uint8_t { kListing = 1, kDelist = 2, kMint = 3, kTransfer = 4, kContentKey = 5 };

struct ListingTx {
  uint32_t node = 0;
  std::string client;    // the client that posted the package (it may wrap the content key)
  std::string envelope;  // the package's DSSE envelope (JSON)
  Bytes signature;       // Ed25519 by validator `node`'s identity key
  Bytes signed_bytes() const;
  Bytes encode() const;
  static Result<ListingTx> decode(ByteView tx);
};
Bytes make_listing_tx(uint32_t node, std::string client, std::string envelope, const crypto::SecureBytes& identity_secret);

// The package's content key, wrapped (AES-256-SIV) under the key management module's key of the
// resource "agent:<root hex>" (content_key_resource), which the module releases only to the
// posting client (to wrap) and to attested TAs running that root digest; signed by the
// publisher's package key. Once per listing.
struct ContentKeyTx {
  Bytes root;
  Bytes wrapped;
  Bytes signature;  // Ed25519 by the listing's publisher
  Bytes signed_bytes() const;
  Bytes encode() const;
  static Result<ContentKeyTx> decode(ByteView tx);
};
Bytes make_content_key_tx(Bytes root, Bytes wrapped, const agents::PublisherKey& key);
std::string content_key_resource(ByteView root);
// Wraps and unwraps a content key under the resource key (associated data: the root digest).
Result<Bytes> wrap_content_key(const crypto::SecureBytes& resource_key, const crypto::SecureBytes& content_key, ByteView root);
Result<crypto::SecureBytes> unwrap_content_key(const crypto::SecureBytes& resource_key, ByteView wrapped, ByteView root);

struct DelistTx {
  std::string name, version;
  uint64_t nonce = 0;
  Bytes publisher;  // 32-byte Ed25519
  Bytes signature;
  Bytes signed_bytes() const;
  Bytes encode() const;
  static Result<DelistTx> decode(ByteView tx);
};
Bytes make_delist_tx(std::string name, std::string version, uint64_t nonce, const agents::PublisherKey& key);

struct CreditTx {
  Kind kind = Kind::kTransfer;  // kMint or kTransfer
  std::string to;               // a client of the network
  uint64_t amount = 0;
  uint64_t nonce = 0;
  Bytes client_spki;
  Bytes signature;  // ECDSA (SHA-256) by the client's certificate key
  Bytes signed_bytes() const;
  Bytes encode() const;
  static Result<CreditTx> decode(ByteView tx);
};
Bytes make_credit_tx(Kind kind, std::string to, uint64_t amount, uint64_t nonce, const crypto::PrivateKey& client_key);

bool is_market_tx(ByteView tx);

struct Listing {
  std::string name, version;
  Bytes root, publisher;
  uint64_t price = 0;
  agents::Licence licence;
  agents::Resources resources;
  uint32_t node = 0;     // the node that verified the package
  std::string client;    // the client that posted it
  uint64_t height = 0;   // the block that committed it
  bool delisted = false;
  Bytes wrapped_content_key;  // empty until the publisher hands it over (ContentKeyTx)
  bool has_models = false;    // the package holds encrypted model files
};

// Who is who, as the ledger says: validators' identity keys, the genesis clients.
struct Directory {
  const consensus::ChainGenesis* genesis = nullptr;
  std::function<const Bytes*(uint32_t node)> identity_key;
};

class Market {
 public:
  // Checks a market transaction against the current state; apply() applies it if it passes.
  Status check(ByteView tx, const Directory& d) const;
  Status apply(ByteView tx, uint64_t height, const Directory& d);

  const Listing* find(const std::string& name, const std::string& version) const;
  // The highest version not delisted, or null.
  const Listing* latest(const std::string& name) const;
  const Listing* by_root(const Bytes& root) const;
  std::vector<Listing> versions(const std::string& name) const;  // lowest first
  std::vector<std::string> names() const;
  uint64_t balance(const std::string& client) const;
  const std::map<std::string, uint64_t>& balances() const { return balances_; }

 private:
  // The checked effect of a transaction, before it changes anything.
  struct Effect {
    std::optional<Listing> listing;
    std::optional<std::pair<std::string, std::string>> delist;  // name, version
    std::optional<std::pair<Bytes, Bytes>> content_key;          // root, wrapped
    std::optional<std::string> debit, credit;
    uint64_t amount = 0;
    std::optional<std::pair<Bytes, uint64_t>> nonce;
  };
  Result<Effect> evaluate(ByteView tx, const Directory& d) const;
  std::map<std::string, std::map<std::array<uint64_t, 3>, Listing>> listings_;
  std::map<std::string, Bytes> owners_;  // name -> the publisher who listed it first
  std::map<Bytes, std::pair<std::string, std::array<uint64_t, 3>>> roots_;
  std::map<std::string, uint64_t> balances_;
  std::set<std::pair<Bytes, uint64_t>> nonces_;
};

}  // namespace supernet::market
