#include "market/market.h"

#include <cstring>

#include "crypto/aead.h"
#include "crypto/hash.h"
#include "util/codec.h"

namespace supernet::market {

namespace {

constexpr char kMagic[] = "SNMK";
constexpr size_t kNameBytesMax = 64;
constexpr size_t kVersionBytesMax = 32;

Writer tagged(Kind k) {
  Writer w;
  w.fixed(as_bytes(std::string_view(kMagic, 4))).u8(static_cast<uint8_t>(k));
  return w;
}

Result<Reader> open(ByteView tx, Kind k) {
  if (tx.size() < 5 || std::memcmp(tx.data(), kMagic, 4) != 0 || tx[4] != static_cast<uint8_t>(k)) {
    return make_error("market.tx", "not a market transaction of this kind");
  }
  return Reader(tx.subspan(5));
}

Result<std::string> str(Reader& r, size_t max) {
  SN_ASSIGN(ByteView b, r.bytes(max));
  return std::string(b.begin(), b.end());
}

const consensus::GenesisClientInfo* client_named(const consensus::ChainGenesis& g, const std::string& name) {
  for (const auto& c : g.clients) {
    if (c.name == name) return &c;
  }
  return nullptr;
}


}  // namespace

bool is_market_tx(ByteView tx) { return tx.size() >= 5 && std::memcmp(tx.data(), kMagic, 4) == 0; }

Bytes ListingTx::signed_bytes() const {
  Writer w;
  w.str("supernet-market-listing-v1").u32(node).str(client).str(envelope);
  return w.take();
}

Bytes ListingTx::encode() const {
  Writer w = tagged(Kind::kListing);
  w.u32(node).str(client).str(envelope).bytes(signature);
  return w.take();
}

Result<ListingTx> ListingTx::decode(ByteView tx) {
  SN_ASSIGN(Reader r, open(tx, Kind::kListing));
  ListingTx t;
  SN_ASSIGN(t.node, r.u32());
  SN_ASSIGN(t.client, str(r, 128));
  SN_ASSIGN(t.envelope, str(r, agents::kEnvelopeBytesMax));
  SN_ASSIGN(ByteView sig, r.bytes(64));
  t.signature = to_bytes(sig);
  SN_TRY(r.finish());
  return t;
}

Bytes make_listing_tx(uint32_t node, std::string client, std::string envelope, const crypto::SecureBytes& identity_secret) {
  ListingTx t;
  t.node = node;
  t.client = std::move(client);
  t.envelope = std::move(envelope);
  t.signature = crypto::ed25519_sign(identity_secret, t.signed_bytes());
  return t.encode();
}

Bytes ContentKeyTx::signed_bytes() const {
  Writer w;
  w.str("supernet-market-content-key-v1").bytes(root).bytes(wrapped);
  return w.take();
}

Bytes ContentKeyTx::encode() const {
  Writer w = tagged(Kind::kContentKey);
  w.bytes(root).bytes(wrapped).bytes(signature);
  return w.take();
}

Result<ContentKeyTx> ContentKeyTx::decode(ByteView tx) {
  SN_ASSIGN(Reader r, open(tx, Kind::kContentKey));
  ContentKeyTx t;
  SN_ASSIGN(ByteView root, r.bytes(32));
  SN_ASSIGN(ByteView wrapped, r.bytes(256));
  SN_ASSIGN(ByteView sig, r.bytes(64));
  t.root = to_bytes(root);
  t.wrapped = to_bytes(wrapped);
  t.signature = to_bytes(sig);
  SN_TRY(r.finish());
  return t;
}

Bytes make_content_key_tx(Bytes root, Bytes wrapped, const agents::PublisherKey& key) {
  ContentKeyTx t;
  t.root = std::move(root);
  t.wrapped = std::move(wrapped);
  t.signature = crypto::ed25519_sign(key.secret, t.signed_bytes());
  return t.encode();
}

std::string content_key_resource(ByteView root) { return "agent:" + to_hex(root); }

namespace {
std::vector<ByteView> wrap_ad(ByteView root) {
  static const std::string label = "supernet-agent-content-key-wrap/v1";
  return {as_bytes(label), root};
}
}  // namespace

Result<Bytes> wrap_content_key(const crypto::SecureBytes& resource_key, const crypto::SecureBytes& content_key, ByteView root) {
  // AES-256-SIV takes 64 bytes of key: the 32-byte resource key, expanded.
  crypto::SecureBytes k = crypto::hkdf_sha256(resource_key.view(), root, as_bytes(std::string("supernet-agent-wrap-key/v1")), 64);
  return crypto::aes_siv_seal(k.view(), wrap_ad(root), content_key.view());
}

Result<crypto::SecureBytes> unwrap_content_key(const crypto::SecureBytes& resource_key, ByteView wrapped, ByteView root) {
  crypto::SecureBytes k = crypto::hkdf_sha256(resource_key.view(), root, as_bytes(std::string("supernet-agent-wrap-key/v1")), 64);
  auto ck = crypto::aes_siv_open(k.view(), wrap_ad(root), wrapped);
  if (!ck.ok()) return make_error("market.content_key", "the wrapped content key does not open with this resource key");
  return ck;
}

Bytes DelistTx::signed_bytes() const {
  Writer w;
  w.str("supernet-market-delist-v1").str(name).str(version).u64(nonce).bytes(publisher);
  return w.take();
}

Bytes DelistTx::encode() const {
  Writer w = tagged(Kind::kDelist);
  w.str(name).str(version).u64(nonce).bytes(publisher).bytes(signature);
  return w.take();
}

Result<DelistTx> DelistTx::decode(ByteView tx) {
  SN_ASSIGN(Reader r, open(tx, Kind::kDelist));
  DelistTx t;
  SN_ASSIGN(t.name, str(r, kNameBytesMax));
  SN_ASSIGN(t.version, str(r, kVersionBytesMax));
  SN_ASSIGN(t.nonce, r.u64());
  SN_ASSIGN(ByteView pk, r.bytes(32));
  SN_ASSIGN(ByteView sig, r.bytes(64));
  t.publisher = to_bytes(pk);
  t.signature = to_bytes(sig);
  SN_TRY(r.finish());
  return t;
}

Bytes make_delist_tx(std::string name, std::string version, uint64_t nonce, const agents::PublisherKey& key) {
  DelistTx t;
  t.name = std::move(name);
  t.version = std::move(version);
  t.nonce = nonce;
  t.publisher = key.public_key;
  t.signature = crypto::ed25519_sign(key.secret, t.signed_bytes());
  return t.encode();
}

Bytes CreditTx::signed_bytes() const {
  Writer w;
  w.str("supernet-market-credit-v1").u8(static_cast<uint8_t>(kind)).str(to).u64(amount).u64(nonce).bytes(client_spki);
  return w.take();
}

Bytes CreditTx::encode() const {
  Writer w = tagged(kind);
  w.str(to).u64(amount).u64(nonce).bytes(client_spki).bytes(signature);
  return w.take();
}

Result<CreditTx> CreditTx::decode(ByteView tx) {
  if (tx.size() < 5 || (tx[4] != static_cast<uint8_t>(Kind::kMint) && tx[4] != static_cast<uint8_t>(Kind::kTransfer))) {
    return make_error("market.tx", "not a credit transaction");
  }
  CreditTx t;
  t.kind = static_cast<Kind>(tx[4]);
  SN_ASSIGN(Reader r, open(tx, t.kind));
  SN_ASSIGN(t.to, str(r, 128));
  SN_ASSIGN(t.amount, r.u64());
  SN_ASSIGN(t.nonce, r.u64());
  SN_ASSIGN(ByteView spki, r.bytes(1024));
  SN_ASSIGN(ByteView sig, r.bytes(160));
  t.client_spki = to_bytes(spki);
  t.signature = to_bytes(sig);
  SN_TRY(r.finish());
  return t;
}

Bytes make_credit_tx(Kind kind, std::string to, uint64_t amount, uint64_t nonce, const crypto::PrivateKey& client_key) {
  CreditTx t;
  t.kind = kind;
  t.to = std::move(to);
  t.amount = amount;
  t.nonce = nonce;
  t.client_spki = client_key.public_key().spki_der();
  t.signature = client_key.sign_ecdsa_der(crypto::HashAlg::kSha256, t.signed_bytes());
  return t.encode();
}

Result<Market::Effect> Market::evaluate(ByteView tx, const Directory& d) const {
  if (!is_market_tx(tx)) return make_error("market.tx", "not a market transaction");
  Effect e;
  switch (static_cast<Kind>(tx[4])) {
    case Kind::kListing: {
      SN_ASSIGN(ListingTx t, ListingTx::decode(tx));
      const Bytes* key = d.identity_key ? d.identity_key(t.node) : nullptr;
      if (key == nullptr) return make_error("market.node", "node " + std::to_string(t.node) + " is not a validator");
      if (!crypto::ed25519_verify(*key, t.signed_bytes(), t.signature)) {
        return make_error("market.node", "the listing's signature does not verify under node " + std::to_string(t.node) + "'s identity key");
      }
      SN_ASSIGN(agents::Statement st, agents::verify_envelope(t.envelope));
      auto owner = owners_.find(st.name);
      if (owner != owners_.end() && owner->second != st.publisher) {
        return make_error("market.name", "the name " + st.name + " is listed by another publisher (" + agents::key_id(owner->second).substr(0, 16) + ")");
      }
      if (roots_.count(st.root)) return make_error("market.duplicate", "a package with this root digest is listed already");
      SN_ASSIGN(auto version, agents::parse_version(st.version));
      auto it = listings_.find(st.name);
      if (it != listings_.end()) {
        if (it->second.count(version)) return make_error("market.version", st.name + "@" + st.version + " is listed already");
        if (version < it->second.rbegin()->first) {
          return make_error("market.version", st.name + "@" + st.version + " is below the highest version listed (" + it->second.rbegin()->second.version + ")");
        }
        if (it->second.size() >= kVersionsMax) return make_error("market.full", st.name + " has " + std::to_string(kVersionsMax) + " versions listed");
      } else if (listings_.size() >= kListingsMax) {
        return make_error("market.full", "the marketplace holds " + std::to_string(kListingsMax) + " names");
      }
      Listing l;
      l.name = st.name;
      l.version = st.version;
      l.root = st.root;
      l.publisher = st.publisher;
      l.price = st.price;
      l.licence = st.licence;
      l.resources = st.resources;
      l.node = t.node;
      if (d.genesis == nullptr || client_named(*d.genesis, t.client) == nullptr) {
        return make_error("market.client", "the listing names " + t.client + ", who is no client of this network");
      }
      l.client = t.client;
      for (const auto& m : st.manifest) l.has_models |= m.encrypted;
      e.listing = std::move(l);
      return e;
    }
    case Kind::kContentKey: {
      SN_ASSIGN(ContentKeyTx t, ContentKeyTx::decode(tx));
      const Listing* l = by_root(t.root);
      if (l == nullptr) return make_error("market.unknown", "no listing has root digest " + to_hex(t.root).substr(0, 16));
      if (!crypto::ed25519_verify(l->publisher, t.signed_bytes(), t.signature)) {
        return make_error("market.publisher", "the content key is not signed by the listing's publisher");
      }
      if (!l->wrapped_content_key.empty()) return make_error("market.content_key", "the listing's content key was handed over already");
      if (!l->has_models) return make_error("market.content_key", "the package has no encrypted files");
      e.content_key = std::make_pair(t.root, t.wrapped);
      return e;
    }
    case Kind::kDelist: {
      SN_ASSIGN(DelistTx t, DelistTx::decode(tx));
      if (t.publisher.size() != 32 || !crypto::ed25519_verify(t.publisher, t.signed_bytes(), t.signature)) {
        return make_error("market.signature", "the delisting's signature does not verify under the key it names");
      }
      const Listing* l = find(t.name, t.version);
      if (l == nullptr) return make_error("market.unknown", "no listing " + t.name + "@" + t.version);
      if (l->publisher != t.publisher) return make_error("market.publisher", "only the publisher of " + t.name + " may delist it");
      if (l->delisted) return make_error("market.delisted", t.name + "@" + t.version + " is delisted already");
      if (nonces_.count({t.publisher, t.nonce})) return make_error("market.replay", "this delisting was applied already");
      e.delist = std::make_pair(t.name, t.version);
      e.nonce = std::make_pair(t.publisher, t.nonce);
      return e;
    }
    case Kind::kMint:
    case Kind::kTransfer: {
      SN_ASSIGN(CreditTx t, CreditTx::decode(tx));
      if (d.genesis == nullptr) return make_error("market.signer", "no genesis to check the signer against");
      SN_ASSIGN(const consensus::GenesisClientInfo* signer, consensus::client_signer("market", t.client_spki, t.signed_bytes(), t.signature, *d.genesis));
      if (nonces_.count({crypto::sha256(t.client_spki), t.nonce})) return make_error("market.replay", "this transaction was applied already");
      if (client_named(*d.genesis, t.to) == nullptr) return make_error("market.client", "no client " + t.to + " in this network");
      if (t.amount == 0 || t.amount > kAmountMax) return make_error("market.amount", "an amount is 1 to " + std::to_string(kAmountMax) + " credits");
      if (balance(t.to) + t.amount > kBalanceMax) return make_error("market.amount", t.to + "'s balance would pass " + std::to_string(kBalanceMax));
      if (t.kind == Kind::kMint) {
        if (signer->role != "member") return make_error("market.mint", signer->name + " is not a member: only members mint credits");
      } else {
        if (signer->name == t.to) return make_error("market.transfer", "a transfer to oneself");
        if (balance(signer->name) < t.amount) {
          return make_error("market.balance", signer->name + " has " + std::to_string(balance(signer->name)) + " credits, not " + std::to_string(t.amount));
        }
        e.debit = signer->name;
      }
      e.credit = t.to;
      e.amount = t.amount;
      e.nonce = std::make_pair(crypto::sha256(t.client_spki), t.nonce);
      return e;
    }
  }
  return make_error("market.tx", "unknown market transaction kind " + std::to_string(tx[4]));
}

Status Market::check(ByteView tx, const Directory& d) const {
  SN_TRY(evaluate(tx, d));
  return ok_status();
}

Status Market::apply(ByteView tx, uint64_t height, const Directory& d) {
  SN_ASSIGN(Effect e, evaluate(tx, d));
  if (e.listing) {
    Listing l = std::move(*e.listing);
    l.height = height;
    auto version = *agents::parse_version(l.version);
    owners_.emplace(l.name, l.publisher);
    roots_[l.root] = {l.name, version};
    listings_[l.name][version] = std::move(l);
  }
  if (e.content_key) {
    const auto& [name, version] = roots_.at(e.content_key->first);
    listings_[name][version].wrapped_content_key = e.content_key->second;
  }
  if (e.delist) {
    auto version = *agents::parse_version(e.delist->second);
    listings_[e.delist->first][version].delisted = true;
  }
  if (e.debit) balances_[*e.debit] -= e.amount;
  if (e.credit) balances_[*e.credit] += e.amount;
  if (e.nonce) nonces_.insert(*e.nonce);
  return ok_status();
}

const Listing* Market::find(const std::string& name, const std::string& version) const {
  auto v = agents::parse_version(version);
  auto it = listings_.find(name);
  if (!v.ok() || it == listings_.end()) return nullptr;
  auto l = it->second.find(*v);
  return l == it->second.end() ? nullptr : &l->second;
}

const Listing* Market::latest(const std::string& name) const {
  auto it = listings_.find(name);
  if (it == listings_.end()) return nullptr;
  for (auto l = it->second.rbegin(); l != it->second.rend(); ++l) {
    if (!l->second.delisted) return &l->second;
  }
  return nullptr;
}

const Listing* Market::by_root(const Bytes& root) const {
  auto it = roots_.find(root);
  if (it == roots_.end()) return nullptr;
  return &listings_.at(it->second.first).at(it->second.second);
}

std::vector<Listing> Market::versions(const std::string& name) const {
  std::vector<Listing> out;
  auto it = listings_.find(name);
  if (it == listings_.end()) return out;
  for (const auto& [v, l] : it->second) out.push_back(l);
  return out;
}

std::vector<std::string> Market::names() const {
  std::vector<std::string> out;
  for (const auto& [n, v] : listings_) out.push_back(n);
  return out;
}

uint64_t Market::balance(const std::string& client) const {
  auto it = balances_.find(client);
  return it == balances_.end() ? 0 : it->second;
}

}  // namespace supernet::market
