#include "consensus/genesis.h"

#include <algorithm>

#include "crypto/hash.h"
#include "crypto/keys.h"

namespace supernet::consensus {

namespace {

constexpr size_t kChainIdBytesMax = 256;
constexpr size_t kAddressBytesMax = 256;
constexpr size_t kClientsMax = 1024;
constexpr size_t kNameBytesMax = 256;
constexpr size_t kPolicyBytesMax = 256 * 1024;

}  // namespace

Bytes ChainGenesis::encode() const {
  Writer w;
  w.str("supernet-genesis-v2").str(chain_id).u8(static_cast<uint8_t>(protocol));
  w.u32(static_cast<uint32_t>(validators.size()));
  for (const auto& v : validators) {
    w.u32(v.id).u64(v.weight).str(v.peer).str(v.api).fixed(v.identity_key).fixed(v.vote_key);
  }
  w.u32(static_cast<uint32_t>(clients.size()));
  for (const auto& c : clients) w.str(c.name).str(c.role).fixed(c.spki_sha256);
  w.u32(approvals).str(policy);
  return w.take();
}

Result<ChainGenesis> ChainGenesis::decode(ByteView data) {
  Reader r(data);
  SN_ASSIGN(ByteView magic, r.bytes(64));
  if (to_string(magic) != "supernet-genesis-v2") return make_error("genesis.decode", "not a SuperNet genesis encoding");
  ChainGenesis g;
  SN_ASSIGN(ByteView chain_id, r.bytes(kChainIdBytesMax));
  g.chain_id = to_string(chain_id);
  SN_ASSIGN(uint8_t protocol, r.u8());
  if (protocol != 1 && protocol != 2) return make_error("genesis.decode", "unknown consensus protocol");
  g.protocol = static_cast<Protocol>(protocol);
  SN_ASSIGN(uint32_t n, r.count(kValidatorsMax, 4 + 8 + 4 + 4 + 2 * kKeyBytes));
  if (n == 0) return make_error("genesis.decode", "a genesis needs at least one validator");
  for (uint32_t i = 0; i < n; i++) {
    GenesisValidatorInfo v;
    SN_ASSIGN(v.id, r.u32());
    SN_ASSIGN(v.weight, r.u64());
    SN_ASSIGN(ByteView peer, r.bytes(kAddressBytesMax));
    SN_ASSIGN(ByteView api, r.bytes(kAddressBytesMax));
    SN_ASSIGN(ByteView ik, r.fixed(kKeyBytes));
    SN_ASSIGN(ByteView vk, r.fixed(kKeyBytes));
    v.peer = to_string(peer);
    v.api = to_string(api);
    v.identity_key = to_bytes(ik);
    v.vote_key = to_bytes(vk);
    if (v.weight == 0 || (!g.validators.empty() && v.id <= g.validators.back().id)) {
      return make_error("genesis.decode", "validators must have weight and strictly increasing ids");
    }
    g.validators.push_back(std::move(v));
  }
  SN_ASSIGN(uint32_t m, r.count(kClientsMax, 4 + 4 + 32));
  for (uint32_t i = 0; i < m; i++) {
    GenesisClientInfo c;
    SN_ASSIGN(ByteView name, r.bytes(kNameBytesMax));
    SN_ASSIGN(ByteView role, r.bytes(16));
    SN_ASSIGN(ByteView spki, r.fixed(32));
    c.name = to_string(name);
    c.role = to_string(role);
    c.spki_sha256 = to_bytes(spki);
    g.clients.push_back(std::move(c));
  }
  SN_ASSIGN(g.approvals, r.u32());
  SN_ASSIGN(ByteView policy, r.bytes(kPolicyBytesMax));
  g.policy = to_string(policy);
  SN_TRY(r.finish());
  return g;
}

Hash ChainGenesis::hash() const { return crypto::sha256(encode()); }

ValidatorSet ChainGenesis::validator_set() const {
  std::vector<Validator> vals;
  for (const auto& v : validators) vals.push_back({v.id, v.weight, v.vote_key, v.identity_key, 0});
  return ValidatorSet(vals, 0);
}

GovernanceRules ChainGenesis::governance() const {
  GovernanceRules r;
  for (const auto& c : clients) {
    if (c.role == "member") r.members.push_back({c.name, c.spki_sha256});
  }
  r.approvals = r.members.empty() ? 0 : approvals != 0 ? approvals : GovernanceRules::majority(r.members.size());
  return r;
}

Bytes vote_key_binding(const Hash& genesis_hash, NodeId node, ByteView identity_key, ByteView vote_key, uint64_t nonce,
                       int64_t issued_at) {
  Writer w;
  w.fixed(as_bytes(std::string_view("supernet-vote-key-v1")));
  w.u8(0).fixed(genesis_hash).u32(node).fixed(identity_key).fixed(vote_key).u64(nonce).u64(static_cast<uint64_t>(issued_at));
  return crypto::sha512(w.data());
}

ChainGenesis genesis_for_set(Protocol protocol, const ValidatorSet& set, const std::string& chain_id, GovernanceRules rules,
                             std::string policy) {
  ChainGenesis g;
  g.chain_id = chain_id;
  g.protocol = protocol;
  for (const auto& v : set.validators()) g.validators.push_back({v.id, v.weight, "", "", v.identity_key, v.vote_key});
  for (const auto& m : rules.members) g.clients.push_back({m.name, "member", m.spki_sha256});
  g.approvals = rules.approvals;
  g.policy = std::move(policy);
  return g;
}

Result<const GenesisClientInfo*> client_signer(const std::string& what, const Bytes& spki, const Bytes& signed_bytes, const Bytes& signature,
                                               const ChainGenesis& genesis) {
  Bytes fingerprint = crypto::sha256(spki);
  const GenesisClientInfo* client = nullptr;
  for (const auto& c : genesis.clients) {
    if (c.spki_sha256 == fingerprint) client = &c;
  }
  if (client == nullptr) return make_error(what + ".signer", "the " + what + " is signed by a key that is no client's of this network");
  SN_ASSIGN(crypto::PublicKey key, crypto::PublicKey::from_spki(spki));
  if (!key.verify_ecdsa_der(crypto::HashAlg::kSha256, signed_bytes, signature).ok()) {
    return make_error(what + ".signature", "the " + what + "'s signature does not verify under " + client->name + "'s key");
  }
  return client;
}

}  // namespace supernet::consensus
