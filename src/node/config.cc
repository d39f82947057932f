#include "node/config.h"

#include <algorithm>
#include <filesystem>
#include <set>
#include <sstream>
#include <toml++/toml.h>

#include "crypto/hash.h"
#include "node/appraiser.h"
#include "util/codec.h"
#include "util/file.h"
#include "util/names.h"

namespace supernet::node {

namespace fs = std::filesystem;

Result<HostPort> parse_host_port(const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) return make_error("config.address", "'" + text + "' is not host:port");
  HostPort hp;
  hp.host = text.substr(0, colon);
  std::string port = text.substr(colon + 1);
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos || std::stoul(port) > 65535) {
    return make_error("config.address", "'" + text + "' has no valid port");
  }
  hp.port = static_cast<uint16_t>(std::stoul(port));
  return hp;
}

static Result<toml::table> parse_toml(std::string_view text, const std::string& source) {
  try {
    return toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    std::ostringstream msg;
    msg << source << ":" << e.source().begin.line << ": " << e.description();
    return make_error("config.syntax", msg.str());
  }
}

static Result<std::string> need_string(const toml::table& t, const char* key, const std::string& source) {
  auto v = t[key].value<std::string>();
  if (!v) return make_error("config.missing", source + ": missing string '" + key + "'");
  return *v;
}

static Result<int64_t> need_int(const toml::table& t, const char* key, const std::string& source, int64_t min, int64_t max) {
  auto v = t[key].value<int64_t>();
  if (!v || *v < min || *v > max) {
    return make_error("config.missing", source + ": '" + key + "' must be an integer from " + std::to_string(min) + " to " +
                                            std::to_string(max));
  }
  return *v;
}

Result<NodeConfig> load_node_config(const std::string& path) {
  SN_ASSIGN(Bytes text, read_file(path, 64 * 1024));
  SN_ASSIGN(toml::table t, parse_toml(to_string(text), path));
  NodeConfig c;
  SN_ASSIGN(int64_t id, need_int(t, "id", path, 1, 1 << 30));
  c.id = static_cast<uint32_t>(id);
  fs::path base = fs::absolute(fs::path(path)).parent_path();
  auto resolve = [&](const std::string& p) { return (base / p).lexically_normal().string(); };
  c.data_dir = resolve(t["data_dir"].value_or<std::string>("."));
  c.virtual_dir = resolve(t["virtual_dir"].value_or<std::string>("platform"));
  SN_ASSIGN(std::string policy, need_string(t, "policy", path));
  SN_ASSIGN(std::string genesis, need_string(t, "genesis", path));
  c.policy = resolve(policy);
  c.genesis = resolve(genesis);
  c.collateral = resolve(t["collateral"].value_or<std::string>("collateral"));
  SN_ASSIGN(std::string peer, need_string(t, "peer_listen", path));
  SN_ASSIGN(std::string api, need_string(t, "api_listen", path));
  SN_ASSIGN(c.peer_listen, parse_host_port(peer));
  SN_ASSIGN(c.api_listen, parse_host_port(api));
  c.platform = t["platform"].value_or<std::string>("virtual");
  std::string protocol = t["consensus"].value_or<std::string>("tee-bft");
  if (protocol != "tee-bft" && protocol != "bft") return make_error("config.protocol", path + ": consensus must be \"tee-bft\" or \"bft\"");
  c.consensus = protocol == "bft" ? consensus::Protocol::kBft : consensus::Protocol::kTeeBft;
  std::string detection = t["fault_detection"].value_or<std::string>("phi-accrual");
  if (detection != "phi-accrual" && detection != "timeout") {
    return make_error("config.fault_detection", path + ": fault_detection must be \"phi-accrual\" or \"timeout\"");
  }
  c.phi_accrual = detection == "phi-accrual";
  int64_t block_txs = t["block_txs"].value_or<int64_t>(2048);
  if (block_txs < 1 || block_txs > static_cast<int64_t>(consensus::kBlockTxsMax)) {
    return make_error("config.block_txs", path + ": block_txs must be 1 to " + std::to_string(consensus::kBlockTxsMax));
  }
  c.block_txs = static_cast<size_t>(block_txs);
  return c;
}

std::string node_config_toml(const NodeConfig& c) {
  std::ostringstream o;
  o << "id = " << c.id << "\ndata_dir = \"" << c.data_dir << "\"\npeer_listen = \"" << c.peer_listen.text()
    << "\"\napi_listen = \"" << c.api_listen.text() << "\"\nplatform = \"" << c.platform << "\"\nvirtual_dir = \""
    << c.virtual_dir << "\"\nconsensus = \"" << consensus::protocol_name(c.consensus) << "\"\npolicy = \"" << c.policy << "\"\ngenesis = \"" << c.genesis << "\"\n";
  if (!c.phi_accrual) o << "fault_detection = \"timeout\"\n";
  if (c.block_txs != 2048) o << "block_txs = " << c.block_txs << "\n";
  return o.str();
}

static Result<GenesisValidator> parse_validator(const toml::table& t, const std::string& source) {
  GenesisValidator v;
  SN_ASSIGN(int64_t id, need_int(t, "id", source, 1, 1 << 30));
  v.id = static_cast<uint32_t>(id);
  SN_ASSIGN(int64_t weight, need_int(t, "weight", source, 1, int64_t{1} << 40));
  v.weight = static_cast<uint64_t>(weight);
  SN_ASSIGN(std::string peer, need_string(t, "peer", source));
  SN_ASSIGN(std::string api, need_string(t, "api", source));
  SN_ASSIGN(v.peer, parse_host_port(peer));
  SN_ASSIGN(v.api, parse_host_port(api));
  SN_ASSIGN(std::string ik, need_string(t, "identity_key", source));
  SN_ASSIGN(std::string vk, need_string(t, "vote_key", source));
  SN_ASSIGN(v.identity_key, from_hex(ik));
  SN_ASSIGN(v.vote_key, from_hex(vk));
  if (v.identity_key.size() != 32 || v.vote_key.size() != 32) {
    return make_error("config.key", source + ": validator " + std::to_string(v.id) + " keys must be 32-byte Ed25519 keys");
  }
  return v;
}

Result<Genesis> parse_genesis(std::string_view text, const std::string& source) {
  SN_ASSIGN(toml::table t, parse_toml(text, source));
  Genesis g;
  SN_ASSIGN(g.chain_id, need_string(t, "chain_id", source));
  SN_ASSIGN(std::string protocol, need_string(t, "protocol", source));
  if (protocol == "tee-bft") g.protocol = consensus::Protocol::kTeeBft;
  else if (protocol == "bft") g.protocol = consensus::Protocol::kBft;
  else return make_error("config.protocol", source + ": protocol must be \"tee-bft\" or \"bft\"");
  const toml::array* vals = t["validators"].as_array();
  if (vals == nullptr || vals->empty() || vals->size() > consensus::kValidatorsMax) {
    return make_error("config.validators", source + ": needs 1 to 64 [[validators]]");
  }
  std::set<uint32_t> ids;
  for (const auto& node : *vals) {
    const toml::table* vt = node.as_table();
    if (vt == nullptr) return make_error("config.validators", source + ": [[validators]] entries must be tables");
    SN_ASSIGN(GenesisValidator v, parse_validator(*vt, source));
    if (!ids.insert(v.id).second) return make_error("config.validators", source + ": validator id " + std::to_string(v.id) + " twice");
    g.validators.push_back(std::move(v));
  }
  if (const toml::node* cn = t.get("clients")) {
    const toml::array* clients = cn->as_array();
    if (clients == nullptr || clients->size() > 1024) return make_error("config.clients", source + ": [[clients]] must be at most 1024 tables");
    std::set<std::string> names, keys;
    for (const auto& node : *clients) {
      const toml::table* ct = node.as_table();
      if (ct == nullptr) return make_error("config.clients", source + ": [[clients]] entries must be tables");
      GenesisClient c;
      SN_ASSIGN(c.name, need_string(*ct, "name", source));
      SN_ASSIGN(c.role, need_string(*ct, "role", source));
      SN_ASSIGN(std::string spki, need_string(*ct, "spki_sha256", source));
      SN_ASSIGN(c.spki_sha256, from_hex(spki));
      if (!is_simple_name(c.name, 64)) {
        return make_error("config.clients", source + ": client name '" + c.name + "' must be 1 to 64 of A-Z a-z 0-9 . _ -");
      }
      if (c.role != "member" && c.role != "user") return make_error("config.clients", source + ": client " + c.name + ": role must be \"member\" or \"user\"");
      if (c.spki_sha256.size() != 32) return make_error("config.clients", source + ": client " + c.name + ": spki_sha256 must be 32 bytes");
      if (!names.insert(c.name).second || !keys.insert(to_hex(c.spki_sha256)).second) {
        return make_error("config.clients", source + ": client " + c.name + " (or its key) is listed twice");
      }
      g.clients.push_back(std::move(c));
    }
  }
  if (const toml::table* gov = t["governance"].as_table()) {
    SN_ASSIGN(int64_t approvals, need_int(*gov, "approvals", source + " [governance]", 1, 1024));
    size_t members = 0;
    for (const auto& c : g.clients) members += c.role == "member";
    if (static_cast<size_t>(approvals) > members) {
      return make_error("config.governance", source + ": [governance] approvals (" + std::to_string(approvals) +
                                                 ") is more than the number of members (" + std::to_string(members) + ")");
    }
    g.approvals = static_cast<uint32_t>(approvals);
  }
  if (const toml::node* pn = t.get("policy")) {
    const toml::table* pt = pn->as_table();
    if (pt == nullptr) return make_error("config.policy", source + ": [policy] must be a table");
    std::ostringstream text;
    text << toml::toml_formatter(*pt);
    auto p = tee::parse_policy(text.str(), source + " [policy]");
    if (!p.ok()) return p.error();
    g.policy = std::move(p).value();
  }
  return g;
}

Result<Genesis> load_genesis(const std::string& path) {
  SN_ASSIGN(Bytes text, read_file(path, 1024 * 1024));
  return parse_genesis(to_string(text), path);
}

static void validator_toml(std::ostringstream& o, const GenesisValidator& v) {
  o << "id = " << v.id << "\nweight = " << v.weight << "\npeer = \"" << v.peer.text() << "\"\napi = \"" << v.api.text()
    << "\"\nidentity_key = \"" << to_hex(v.identity_key) << "\"\nvote_key = \"" << to_hex(v.vote_key) << "\"\n";
}

std::string genesis_toml(const Genesis& g) {
  std::ostringstream o;
  o << "chain_id = \"" << g.chain_id << "\"\nprotocol = \"" << consensus::protocol_name(g.protocol) << "\"\n";
  for (const auto& v : g.validators) {
    o << "\n[[validators]]\n";
    validator_toml(o, v);
  }
  for (const auto& c : g.clients) {
    o << "\n[[clients]]\nname = \"" << c.name << "\"\nrole = \"" << c.role << "\"\nspki_sha256 = \"" << to_hex(c.spki_sha256) << "\"\n";
  }
  if (g.approvals != 0) o << "\n[governance]\napprovals = " << g.approvals << "\n";
  if (g.policy) {
    // The policy file's lines, its [platform.X] tables nested as [policy.platform.X].
    o << "\n[policy]\n";
    std::istringstream lines(tee::policy_to_toml(*g.policy));
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind("[platform.", 0) == 0) line = "[policy." + line.substr(1);
      o << line << "\n";
    }
  }
  return o.str();
}

consensus::ValidatorSet Genesis::validator_set() const {
  std::vector<consensus::Validator> vals;
  for (const auto& v : validators) vals.push_back({v.id, v.weight, v.vote_key, v.identity_key, 0});
  return consensus::ValidatorSet(vals, 0);
}

consensus::GovernanceRules Genesis::governance() const {
  consensus::GovernanceRules r;
  for (const auto& c : clients) {
    if (c.role == "member") r.members.push_back({c.name, c.spki_sha256});
  }
  r.approvals = r.members.empty() ? 0 : approvals != 0 ? approvals : consensus::GovernanceRules::majority(r.members.size());
  return r;
}

consensus::ChainGenesis Genesis::chain() const {
  consensus::ChainGenesis g;
  g.chain_id = chain_id;
  g.protocol = protocol;
  std::vector<GenesisValidator> sorted = validators;
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  for (const auto& v : sorted) g.validators.push_back({v.id, v.weight, v.peer.text(), v.api.text(), v.identity_key, v.vote_key});
  for (const auto& c : clients) g.clients.push_back({c.name, c.role, c.spki_sha256});
  g.approvals = governance().approvals;
  if (policy) g.policy = tee::policy_to_toml(*policy);
  return g;
}

consensus::Membership Genesis::membership() const { return consensus::Membership(chain(), evidence_appraiser()); }

Bytes Genesis::hash() const { return chain().hash(); }

Result<GenesisValidator> load_published(const std::string& path) {
  SN_ASSIGN(Bytes text, read_file(path, 256 * 1024));
  SN_ASSIGN(toml::table t, parse_toml(to_string(text), path));
  SN_ASSIGN(GenesisValidator v, parse_validator(t, path));
  if (auto e = t["vote_key_evidence"].value<std::string>()) {
    SN_ASSIGN(v.vote_key_evidence, from_hex(*e));
    v.vote_key_issued_at = t["vote_key_issued_at"].value_or<int64_t>(0);
  }
  return v;
}

std::string published_toml(const GenesisValidator& v) {
  std::ostringstream o;
  validator_toml(o, v);
  if (!v.vote_key_evidence.empty()) {
    o << "vote_key_issued_at = " << v.vote_key_issued_at << "\nvote_key_evidence = \"" << to_hex(v.vote_key_evidence) << "\"\n";
  }
  return o.str();
}

}  // namespace supernet::node
