#include "agents/package.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sodium.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <toml++/toml.h>
// Schema errors are exceptions, caught here (without this valijson aborts the process).
#define VALIJSON_USE_EXCEPTIONS 1
#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validator.hpp>

#include "crypto/aead.h"
#include "crypto/hash.h"
#include "crypto/keys.h"
#include "ta/frame.h"
#include "ta/lua_runtime.h"
#include "util/file.h"

namespace supernet::agents {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

std::string base64_encode(ByteView b) {
  crypto::sodium_ready();
  std::string out(sodium_base64_ENCODED_LEN(b.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), b.data(), b.size(), sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.size() - 1);  // the terminating NUL
  return out;
}

Result<Bytes> base64_decode(std::string_view s, const std::string& what) {
  crypto::sodium_ready();
  Bytes out(s.size() / 4 * 3 + 3);
  size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(out.data(), out.size(), s.data(), s.size(), nullptr, &len, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
      end != s.data() + s.size()) {
    return make_error("package.base64", what + " is not valid base64");
  }
  out.resize(len);
  return out;
}

bool valid_name(std::string_view n) {
  if (n.empty() || n.size() > kAgentNameBytesMax || !(n[0] >= 'a' && n[0] <= 'z')) return false;
  return std::all_of(n.begin(), n.end(), [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; });
}

json entry_json(const ManifestEntry& e) {
  json j{{"path", e.path}, {"size", e.size}, {"sha256", to_hex(e.sha256)}};
  if (e.encrypted) {
    j["encrypted"] = true;
    j["stored_size"] = e.stored_size;
    j["stored_sha256"] = to_hex(e.stored_sha256);
  }
  return j;
}

json manifest_json(const Manifest& m) {
  json a = json::array();
  for (const auto& e : m) a.push_back(entry_json(e));
  return a;
}

json resources_json(const Resources& r) { return json{{"gas", r.gas}, {"memory_mb", r.memory_mb}, {"timeout_ms", r.timeout_ms}}; }

json licence_json(const Licence& l) { return json{{"kind", l.open ? "open" : "clients"}, {"clients", l.clients}, {"calls", l.calls}}; }

json release_json(const ContentRelease&) { return json{{"kind", "attested-ta"}, {"package", "this root digest"}}; }

json config_json(const AgentConfig& c) {
  return json{{"name", c.name},         {"version", c.version},     {"description", c.description},     {"entry", c.entry},
              {"models", c.models},     {"price", c.price},         {"input_schema", c.input_schema}, {"output_schema", c.output_schema}};
}

// Every string field of a JSON object, checked.
Result<std::string> str_field(const json& j, const char* k, const std::string& where) {
  if (!j.contains(k) || !j[k].is_string()) return make_error("package.statement", where + "." + k + " must be a string");
  return j[k].get<std::string>();
}
Result<uint64_t> uint_field(const json& j, const char* k, const std::string& where) {
  if (!j.contains(k) || !j[k].is_number_unsigned()) return make_error("package.statement", where + "." + k + " must be a non-negative integer");
  return j[k].get<uint64_t>();
}
Result<Bytes> hex32_field(const json& j, const char* k, const std::string& where) {
  SN_ASSIGN(std::string h, str_field(j, k, where));
  auto b = from_hex(h);
  if (!b.ok() || b->size() != 32 || to_hex(*b) != h) return make_error("package.statement", where + "." + k + " must be 64 lower-case hex digits");
  return *b;
}

Result<Manifest> parse_manifest(const json& j) {
  if (!j.is_array() || j.size() > kPackageFilesMax) return make_error("package.statement", "manifest must be an array of at most " + std::to_string(kPackageFilesMax) + " files");
  Manifest m;
  for (const auto& e : j) {
    if (!e.is_object()) return make_error("package.statement", "a manifest entry is not an object");
    ManifestEntry x;
    SN_ASSIGN(x.path, str_field(e, "path", "manifest[]"));
    SN_TRY(check_package_path(x.path));
    SN_ASSIGN(x.size, uint_field(e, "size", x.path));
    SN_ASSIGN(x.sha256, hex32_field(e, "sha256", x.path));
    x.encrypted = e.value("encrypted", false);
    if (x.encrypted) {
      SN_ASSIGN(x.stored_size, uint_field(e, "stored_size", x.path));
      SN_ASSIGN(x.stored_sha256, hex32_field(e, "stored_sha256", x.path));
    } else {
      x.stored_size = x.size;
      x.stored_sha256 = x.sha256;
    }
    if (!m.empty() && !(m.back().path < x.path)) return make_error("package.statement", "the manifest is not sorted by path, or names " + x.path + " twice");
    m.push_back(std::move(x));
  }
  return m;
}

// The SIV associated data of a stored model file: its path, under this format's label.
std::vector<ByteView> file_ad(const std::string& path) {
  static const std::string label = "supernet-agent-file/v1";
  return {as_bytes(label), as_bytes(path)};
}

Result<std::string> text_of(const std::map<std::string, Bytes>& files, const std::string& path, const char* what) {
  auto it = files.find(path);
  if (it == files.end()) return make_error("package.config", std::string(what) + " " + path + " is not a file of the package");
  return to_string(it->second);
}

}  // namespace

Result<std::array<uint64_t, 3>> parse_version(std::string_view v) {
  std::array<uint64_t, 3> out{};
  size_t pos = 0;
  for (int i = 0; i < 3; i++) {
    size_t end = i < 2 ? v.find('.', pos) : v.size();
    if (end == std::string_view::npos || end == pos || end - pos > 9) break;
    std::string_view part = v.substr(pos, end - pos);
    auto [p, ec] = std::from_chars(part.data(), part.data() + part.size(), out[i]);
    if (ec != std::errc() || p != part.data() + part.size() || (part.size() > 1 && part[0] == '0')) break;
    if (i == 2) return out;
    pos = end + 1;
  }
  return make_error("agent_toml.version", "version '" + std::string(v.substr(0, 40)) + "' is not MAJOR.MINOR.PATCH (numbers, no leading zeros)");
}

Status check_package_path(std::string_view path) {
  auto bad = [&](const std::string& why) { return make_error("package.path", "'" + std::string(path.substr(0, 80)) + "' " + why); };
  if (path.empty() || path.size() > kPackagePathBytesMax) return bad("must be 1 to " + std::to_string(kPackagePathBytesMax) + " bytes");
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t slash = path.find('/', pos);
    std::string_view part = path.substr(pos, slash == std::string_view::npos ? std::string_view::npos : slash - pos);
    if (part.empty() || part[0] == '.') return bad("has an empty part, or one starting with '.'");
    for (char c : part) {
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-')) {
        return bad("has a character outside A-Z a-z 0-9 . _ -");
      }
    }
    if (slash == std::string_view::npos) break;
    pos = slash + 1;
  }
  return ok_status();
}

Result<AgentConfig> parse_agent_toml(std::string_view text) {
  if (text.size() > kAgentTomlBytesMax) return make_error("agent_toml.too_large", "agent.toml is over 64 KiB");
  toml::table t;
  try {
    t = toml::parse(text, std::string_view("agent.toml"));
  } catch (const toml::parse_error& e) {
    return make_error("agent_toml.syntax", std::string(e.description()) + " (line " + std::to_string(e.source().begin.line) + ")");
  }
  static const std::set<std::string> top{"name", "version", "description", "entry", "models", "price", "schema", "resources", "licence"};
  for (const auto& [k, v] : t) {
    if (!top.count(std::string(k.str()))) return make_error("agent_toml.unknown", "unknown key '" + std::string(k.str()) + "'");
  }
  AgentConfig c;
  auto need_string = [&](const char* key, std::string& out, size_t max, bool required) -> Status {
    auto node = t[key];
    if (!node) {
      if (required) return make_error("agent_toml.missing", std::string(key) + " is required");
      return ok_status();
    }
    if (!node.is_string()) return make_error("agent_toml.type", std::string(key) + " must be a string");
    out = *node.value<std::string>();
    if (out.size() > max) return make_error("agent_toml.too_long", std::string(key) + " is over " + std::to_string(max) + " bytes");
    return ok_status();
  };
  SN_TRY(need_string("name", c.name, kAgentNameBytesMax, true));
  if (!valid_name(c.name)) return make_error("agent_toml.name", "name '" + c.name + "' must be 1-64 of a-z 0-9 -, starting with a letter");
  SN_TRY(need_string("version", c.version, 32, false));
  if (c.version.empty()) c.version = "0.1.0";
  SN_TRY(parse_version(c.version));
  SN_TRY(need_string("description", c.description, kAgentDescriptionBytesMax, false));
  SN_TRY(need_string("entry", c.entry, kPackagePathBytesMax, true));
  if (auto s = check_package_path(c.entry); !s.ok()) return make_error("agent_toml.entry", "entry " + s.error().message);
  if (auto m = t["models"]) {
    const toml::array* a = m.as_array();
    if (a == nullptr || a->size() > 16) return make_error("agent_toml.models", "models must be an array of at most 16 file paths");
    for (const auto& e : *a) {
      if (!e.is_string()) return make_error("agent_toml.models", "models must be an array of file paths");
      std::string p = *e.value<std::string>();
      if (auto s = check_package_path(p); !s.ok()) return make_error("agent_toml.models", "model " + s.error().message);
      if (p == c.entry || std::count(c.models.begin(), c.models.end(), p)) return make_error("agent_toml.models", "model " + p + " is listed twice or is the entry script");
      c.models.push_back(p);
    }
  }
  auto uint_key = [&](toml::node_view<toml::node> n, const std::string& key, uint64_t lo, uint64_t hi, auto& out) -> Status {
    if (!n) return ok_status();
    auto v = n.value<int64_t>();
    if (!n.is_integer() || !v || *v < static_cast<int64_t>(lo) || static_cast<uint64_t>(*v) > hi) {
      return make_error("agent_toml.range", key + " must be an integer " + std::to_string(lo) + " to " + std::to_string(hi));
    }
    out = static_cast<std::remove_reference_t<decltype(out)>>(*v);
    return ok_status();
  };
  SN_TRY(uint_key(t["price"], "price", 0, kPriceMax, c.price));
  if (auto s = t["schema"]) {
    const toml::table* st = s.as_table();
    if (st == nullptr) return make_error("agent_toml.schema", "[schema] must be a table with input and output paths");
    for (const auto& [k, v] : *st) {
      std::string key(k.str());
      if (key != "input" && key != "output") return make_error("agent_toml.unknown", "unknown key 'schema." + key + "'");
      if (!v.is_string()) return make_error("agent_toml.schema", "schema." + key + " must be a file path");
      std::string p = *v.value<std::string>();
      if (auto ps = check_package_path(p); !ps.ok()) return make_error("agent_toml.schema", "schema." + key + " " + ps.error().message);
      (key == "input" ? c.input_schema : c.output_schema) = p;
    }
  }
  if (auto r = t["resources"]) {
    const toml::table* rt = r.as_table();
    if (rt == nullptr) return make_error("agent_toml.resources", "[resources] must be a table");
    for (const auto& [k, v] : *rt) {
      std::string key(k.str());
      if (key != "gas" && key != "memory_mb" && key != "timeout_ms") return make_error("agent_toml.unknown", "unknown key 'resources." + key + "'");
    }
    SN_TRY(uint_key(r["gas"], "resources.gas", 1, ta::kTaGasMax, c.resources.gas));
    SN_TRY(uint_key(r["memory_mb"], "resources.memory_mb", 1, kAgentMemoryMbMax, c.resources.memory_mb));
    SN_TRY(uint_key(r["timeout_ms"], "resources.timeout_ms", 1, ta::kTaTimeoutMsMax, c.resources.timeout_ms));
  }
  if (auto l = t["licence"]) {
    const toml::table* lt = l.as_table();
    if (lt == nullptr) return make_error("agent_toml.licence", "[licence] must be a table");
    for (const auto& [k, v] : *lt) {
      std::string key(k.str());
      if (key != "kind" && key != "clients" && key != "calls") return make_error("agent_toml.unknown", "unknown key 'licence." + key + "'");
    }
    std::string kind = l["kind"].value_or(std::string("open"));
    if (l["kind"] && !l["kind"].is_string()) return make_error("agent_toml.licence", "licence.kind must be \"open\" or \"clients\"");
    if (kind != "open" && kind != "clients") return make_error("agent_toml.licence", "licence.kind must be \"open\" or \"clients\"");
    c.licence.open = kind == "open";
    if (auto cl = l["clients"]) {
      const toml::array* a = cl.as_array();
      if (a == nullptr || a->size() > kLicenceClientsMax) return make_error("agent_toml.licence", "licence.clients must be an array of at most " + std::to_string(kLicenceClientsMax) + " client names");
      for (const auto& e : *a) {
        if (!e.is_string() || e.value<std::string>()->empty() || e.value<std::string>()->size() > 64) {
          return make_error("agent_toml.licence", "licence.clients holds client names of 1 to 64 bytes");
        }
        c.licence.clients.push_back(*e.value<std::string>());
      }
      std::sort(c.licence.clients.begin(), c.licence.clients.end());
      c.licence.clients.erase(std::unique(c.licence.clients.begin(), c.licence.clients.end()), c.licence.clients.end());
    }
    if (c.licence.open && !c.licence.clients.empty()) return make_error("agent_toml.licence", "an open licence lists no clients (kind = \"clients\" limits calls to them)");
    if (!c.licence.open && c.licence.clients.empty()) return make_error("agent_toml.licence", "licence kind \"clients\" needs at least one client");
    SN_TRY(uint_key(l["calls"], "licence.calls", 0, 1'000'000'000'000ull, c.licence.calls));
  }
  return c;
}

Bytes root_digest(const Manifest& m, const Resources& r, const Licence& l, const ContentRelease& c) {
  // nlohmann writes object keys sorted and no spaces: one canonical text for these terms.
  json terms{{"manifest", manifest_json(m)}, {"resources", resources_json(r)}, {"licence", licence_json(l)}, {"release", release_json(c)}};
  return crypto::sha256(as_bytes("supernet-agent-root/v1\n" + terms.dump()));
}

PublisherKey generate_publisher_key() {
  auto kp = crypto::ed25519_generate();
  return PublisherKey{kp.public_key, std::move(kp.secret_key)};
}

namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};

std::string bio_text(BIO* b) {
  char* data = nullptr;
  long n = BIO_get_mem_data(b, &data);
  return std::string(data, static_cast<size_t>(n));
}

int passphrase_cb(char* buf, int size, int, void* u) {
  auto* p = static_cast<std::string_view*>(u);
  if (p->size() > static_cast<size_t>(size)) return -1;
  std::memcpy(buf, p->data(), p->size());
  return static_cast<int>(p->size());
}

}  // namespace

Result<std::string> publisher_key_pem(const PublisherKey& k, std::string_view passphrase) {
  std::unique_ptr<EVP_PKEY, PkeyFree> pkey(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, k.secret.data(), 32));
  if (!pkey) return make_error("key.encode", crypto::openssl_error());
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  int ok = passphrase.empty()
               ? PEM_write_bio_PKCS8PrivateKey(bio.get(), pkey.get(), nullptr, nullptr, 0, nullptr, nullptr)
               : PEM_write_bio_PKCS8PrivateKey(bio.get(), pkey.get(), EVP_aes_256_cbc(), passphrase.data(), static_cast<int>(passphrase.size()), nullptr, nullptr);
  if (ok != 1) return make_error("key.encode", crypto::openssl_error());
  std::string out = bio_text(bio.get());
  return out;
}

std::string publisher_public_pem(const PublisherKey& k) {
  std::unique_ptr<EVP_PKEY, PkeyFree> pkey(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, k.public_key.data(), 32));
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PUBKEY(bio.get(), pkey.get());
  return bio_text(bio.get());
}

Result<PublisherKey> parse_publisher_key_pem(std::string_view pem, std::string_view passphrase) {
  if (pem.size() > 16 * 1024) return make_error("key.parse", "the key file is over 16 KiB");
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  std::string_view pass = passphrase;
  std::unique_ptr<EVP_PKEY, PkeyFree> pkey(PEM_read_bio_PrivateKey(bio.get(), nullptr, passphrase_cb, &pass));
  if (!pkey) {
    crypto::openssl_error();
    bool encrypted = pem.find("ENCRYPTED PRIVATE KEY") != std::string_view::npos;
    return make_error("key.parse", encrypted ? (passphrase.empty() ? "the key is encrypted: set the passphrase (SUPERNET_KEY_PASSPHRASE)"
                                                                   : "the passphrase does not open the key")
                                             : "not a PEM private key");
  }
  if (EVP_PKEY_id(pkey.get()) != EVP_PKEY_ED25519) return make_error("key.parse", "not an Ed25519 key (supernet agent keygen makes one)");
  crypto::SecureBytes seed(32);
  size_t len = 32;
  if (EVP_PKEY_get_raw_private_key(pkey.get(), seed.data(), &len) != 1 || len != 32) return make_error("key.parse", crypto::openssl_error());
  auto kp = crypto::ed25519_from_seed(seed.view());
  return PublisherKey{kp.public_key, std::move(kp.secret_key)};
}

Result<Bytes> parse_publisher_public_pem(std::string_view pem) {
  if (pem.size() > 16 * 1024) return make_error("key.parse", "the key file is over 16 KiB");
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  std::unique_ptr<EVP_PKEY, PkeyFree> pkey(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!pkey || EVP_PKEY_id(pkey.get()) != EVP_PKEY_ED25519) {
    crypto::openssl_error();
    return make_error("key.parse", "not a PEM Ed25519 public key");
  }
  Bytes pk(32);
  size_t len = 32;
  if (EVP_PKEY_get_raw_public_key(pkey.get(), pk.data(), &len) != 1 || len != 32) return make_error("key.parse", crypto::openssl_error());
  return pk;
}

std::string key_id(ByteView public_key) { return to_hex(crypto::sha256(public_key)); }

Bytes dsse_pae(std::string_view type, ByteView payload) {
  std::string head = "DSSEv1 " + std::to_string(type.size()) + " " + std::string(type) + " " + std::to_string(payload.size()) + " ";
  Bytes out(head.begin(), head.end());
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

crypto::SecureBytes content_key(const PublisherKey& k, const Manifest& plaintext) {
  json files = json::array();
  for (const auto& e : plaintext) files.push_back(json{{"path", e.path}, {"size", e.size}, {"sha256", to_hex(e.sha256)}});
  Bytes salt = crypto::sha256(as_bytes(files.dump()));
  static const std::string info = "supernet-agent-content-key/v1";
  return crypto::hkdf_sha256(ByteView(k.secret.data(), 32), salt, as_bytes(info), 64);  // AES-256-SIV: two keys
}

Result<Package> pack_folder(const std::string& dir, const PublisherKey& key, std::vector<std::string>* skipped) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return make_error("package.folder", dir + " is not a folder");
  auto toml_text = read_file((fs::path(dir) / "agent.toml").string(), kAgentTomlBytesMax);
  if (!toml_text.ok()) return make_error("package.config", dir + " has no readable agent.toml (supernet agent init makes one)");
  auto cfg = parse_agent_toml(to_string(*toml_text));
  if (!cfg.ok()) return make_error(cfg.error().code, "agent.toml: " + cfg.error().message);
  Package p;
  p.config = *cfg;
  std::map<std::string, Bytes> plain;
  uint64_t total = 0;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::string rel = fs::relative(it->path(), dir, ec).generic_string();
    std::string leaf = it->path().filename().string();
    if (it->is_symlink(ec)) return make_error("package.file", rel + " is a symbolic link: a package holds regular files only");
    if (!leaf.empty() && leaf[0] == '.') {
      if (skipped) skipped->push_back(rel);
      if (it->is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    if (it->is_directory(ec)) continue;
    if (!it->is_regular_file(ec)) return make_error("package.file", rel + " is not a regular file");
    SN_TRY(check_package_path(rel));
    if (plain.size() >= kPackageFilesMax) return make_error("package.too_large", "more than " + std::to_string(kPackageFilesMax) + " files");
    auto data = read_file(it->path().string(), kPackageFileBytesMax);
    if (!data.ok()) return make_error("package.file", rel + ": " + data.error().message);
    total += data->size();
    if (total > kPackageBytesMax / 2) return make_error("package.too_large", "the files add up to over " + std::to_string(kPackageBytesMax / 2 >> 20) + " MiB");
    plain[rel] = std::move(*data);
  }
  if (ec) return make_error("package.folder", dir + ": " + ec.message());
  if (!plain.count(p.config.entry)) return make_error("package.config", "the entry script " + p.config.entry + " is not in " + dir);
  for (const auto& m : p.config.models) {
    if (!plain.count(m)) return make_error("package.config", "model " + m + " is not in " + dir);
  }
  // The plaintext manifest gives the content key; the models are then sealed under it.
  Manifest plaintext;
  for (const auto& [path, data] : plain) plaintext.push_back(ManifestEntry{path, data.size(), crypto::sha256(data), false, data.size(), crypto::sha256(data)});
  crypto::SecureBytes ck = content_key(key, plaintext);
  for (auto& e : plaintext) {
    Bytes stored = plain[e.path];
    if (std::count(p.config.models.begin(), p.config.models.end(), e.path)) {
      auto sealed = crypto::aes_siv_seal(ck.view(), file_ad(e.path), stored);
      if (!sealed.ok()) return sealed.error();
      stored = std::move(*sealed);
      e.encrypted = true;
      e.stored_size = stored.size();
      e.stored_sha256 = crypto::sha256(stored);
    }
    p.files[e.path] = std::move(stored);
  }
  p.manifest = std::move(plaintext);
  // The statement, signed; then the package goes through the verifier's own checks (a script
  // that does not compile, a bad schema) before anyone else sees it.
  p.publisher = key.public_key;
  p.root = root_digest(p.manifest, p.config.resources, p.config.licence, p.release);
  json predicate{{"agent", config_json(p.config)},
                 {"manifest", manifest_json(p.manifest)},
                 {"resources", resources_json(p.config.resources)},
                 {"licence", licence_json(p.config.licence)},
                 {"release", release_json(p.release)},
                 {"publisher", to_hex(p.publisher)}};
  json subject{{"name", p.config.name + "@" + p.config.version}, {"digest", {{"sha256", to_hex(p.root)}}}};
  json statement{{"_type", kStatementType}, {"subject", json::array({subject})}, {"predicateType", kPredicateType}, {"predicate", predicate}};
  std::string payload = statement.dump();
  Bytes sig = crypto::ed25519_sign(key.secret, dsse_pae(kDssePayloadType, as_bytes(payload)));
  json env{{"payloadType", kDssePayloadType},
           {"payload", base64_encode(as_bytes(payload))},
           {"signatures", json::array({json{{"keyid", key_id(key.public_key)}, {"sig", base64_encode(sig)}}})}};
  p.envelope_json = env.dump();
  SN_TRY(verify_package(encode_package(p), VerifyOptions{key.public_key, &ck}));
  return p;
}

std::string encode_package(const Package& p) {
  json files = json::array();
  for (const auto& [path, data] : p.files) files.push_back(json{{"path", path}, {"data", base64_encode(data)}});
  json doc{{"format", kPackageFormat}, {"version", kPackageVersion}, {"envelope", json::parse(p.envelope_json)}, {"files", files}};
  return doc.dump() + "\n";
}

Result<Statement> verify_envelope(std::string_view envelope_json, const std::optional<Bytes>& expected_publisher) {
  if (envelope_json.size() > kEnvelopeBytesMax) return make_error("package.envelope", "the envelope is over " + std::to_string(kEnvelopeBytesMax >> 10) + " KiB");
  json env = json::parse(envelope_json, nullptr, false);
  if (env.is_discarded()) return make_error("package.envelope", "the envelope is not JSON");
  // 1. The envelope and its signature.
  if (!env.is_object()) return make_error("package.envelope", "no DSSE envelope");
  if (env.value("payloadType", "") != kDssePayloadType) return make_error("package.envelope", std::string("payloadType is not ") + kDssePayloadType);
  if (!env.contains("payload") || !env["payload"].is_string()) return make_error("package.envelope", "no payload");
  SN_ASSIGN(Bytes payload, base64_decode(env["payload"].get<std::string>(), "the payload"));
  json st = json::parse(payload, nullptr, false);
  if (st.is_discarded() || !st.is_object()) return make_error("package.statement", "the payload is not a JSON object");
  if (st.value("_type", "") != kStatementType) return make_error("package.statement", std::string("_type is not ") + kStatementType);
  if (st.value("predicateType", "") != kPredicateType) return make_error("package.statement", std::string("predicateType is not ") + kPredicateType);
  if (!st.contains("predicate") || !st["predicate"].is_object()) return make_error("package.statement", "no predicate");
  const json& pr = st["predicate"];
  Statement p;
  SN_ASSIGN(p.publisher, hex32_field(pr, "publisher", "predicate"));
  if (!env.contains("signatures") || !env["signatures"].is_array() || env["signatures"].empty() || env["signatures"].size() > 8) {
    return make_error("package.signature", "the envelope carries no signatures (or more than 8)");
  }
  bool signed_ok = false;
  Bytes pae = dsse_pae(kDssePayloadType, payload);
  for (const auto& s : env["signatures"]) {
    if (!s.is_object() || !s.contains("sig") || !s["sig"].is_string()) return make_error("package.signature", "a signature entry has no sig");
    if (s.value("keyid", "") != key_id(p.publisher)) continue;
    SN_ASSIGN(Bytes sig, base64_decode(s["sig"].get<std::string>(), "a signature"));
    signed_ok = sig.size() == 64 && crypto::ed25519_verify(p.publisher, pae, sig);
    if (!signed_ok) return make_error("package.signature", "the publisher's signature over the statement does not verify");
  }
  if (!signed_ok) return make_error("package.signature", "no signature by the publisher key the statement names (" + key_id(p.publisher).substr(0, 16) + ")");
  if (expected_publisher && !crypto::ct_equal(*expected_publisher, p.publisher)) {
    return make_error("package.publisher", "signed by " + key_id(p.publisher).substr(0, 16) + ", not by the expected publisher " + key_id(*expected_publisher).substr(0, 16));
  }
  // 2. The signed terms and the root digest the subject names.
  if (!pr.contains("agent") || !pr["agent"].is_object()) return make_error("package.statement", "predicate.agent is missing");
  SN_ASSIGN(p.manifest, parse_manifest(pr.value("manifest", json())));
  if (!pr.contains("resources") || !pr["resources"].is_object()) return make_error("package.statement", "predicate.resources is missing");
  const json& rj = pr["resources"];
  Resources& res = p.resources;
  SN_ASSIGN(res.gas, uint_field(rj, "gas", "resources"));
  SN_ASSIGN(res.memory_mb, uint_field(rj, "memory_mb", "resources"));
  SN_ASSIGN(uint64_t timeout, uint_field(rj, "timeout_ms", "resources"));
  if (timeout > ta::kTaTimeoutMsMax) return make_error("package.statement", "resources.timeout_ms is out of range");
  res.timeout_ms = static_cast<uint32_t>(timeout);
  if (!pr.contains("licence") || !pr["licence"].is_object()) return make_error("package.statement", "predicate.licence is missing");
  const json& lj = pr["licence"];
  Licence& lic = p.licence;
  SN_ASSIGN(std::string kind, str_field(lj, "kind", "licence"));
  lic.open = kind == "open";
  if (!lj.contains("clients") || !lj["clients"].is_array() || lj["clients"].size() > kLicenceClientsMax) return make_error("package.statement", "licence.clients is not a list");
  for (const auto& c : lj["clients"]) {
    if (!c.is_string()) return make_error("package.statement", "licence.clients holds names");
    lic.clients.push_back(c.get<std::string>());
  }
  SN_ASSIGN(lic.calls, uint_field(lj, "calls", "licence"));
  if (pr.value("release", json()) != release_json(ContentRelease{})) return make_error("package.statement", "predicate.release is not the attested-TA release policy");
  p.root = root_digest(p.manifest, res, lic, ContentRelease{});
  if (!st.contains("subject") || !st["subject"].is_array() || st["subject"].size() != 1 || !st["subject"][0].is_object() ||
      !st["subject"][0].contains("digest") || !st["subject"][0]["digest"].is_object()) {
    return make_error("package.statement", "the statement needs exactly one subject with a digest");
  }
  SN_ASSIGN(Bytes subject_root, hex32_field(st["subject"][0]["digest"], "sha256", "subject.digest"));
  if (subject_root != p.root) {
    return make_error("package.root", "the subject's digest " + to_hex(subject_root).substr(0, 16) + " is not the root digest of the signed terms (" + to_hex(p.root).substr(0, 16) + ")");
  }
  // The agent's own terms as signed: what a listing shows.
  const json& ag = pr["agent"];
  SN_ASSIGN(p.name, str_field(ag, "name", "agent"));
  SN_ASSIGN(p.version, str_field(ag, "version", "agent"));
  SN_ASSIGN(p.price, uint_field(ag, "price", "agent"));
  if (!valid_name(p.name) || !parse_version(p.version).ok() || p.price > kPriceMax) return make_error("package.statement", "the signed agent's name, version or price is not valid");
  if (st["subject"][0].value("name", "") != p.name + "@" + p.version) return make_error("package.terms", "the subject's name is not NAME@VERSION of the signed agent");
  p.agent_json = ag.dump();
  return p;
}

Result<Package> verify_package(std::string_view text, const VerifyOptions& o) {
  if (text.size() > kPackageBytesMax) return make_error("package.too_large", "the package is over " + std::to_string(kPackageBytesMax >> 20) + " MiB");
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return make_error("package.format", "not a package (not a JSON object)");
  if (doc.value("format", "") != kPackageFormat) return make_error("package.format", "not a SuperNet agent package (format is not \"supernet-agent\")");
  if (!doc.contains("version") || doc["version"] != kPackageVersion) return make_error("package.version", "only version 1 packages are known");
  // 1-2. The envelope, its signature and the signed terms.
  if (!doc.contains("envelope") || !doc["envelope"].is_object()) return make_error("package.envelope", "no DSSE envelope");
  SN_ASSIGN(Statement st, verify_envelope(doc["envelope"].dump(), o.expected_publisher));
  Package p;
  p.publisher = st.publisher;
  p.manifest = st.manifest;
  p.root = st.root;
  p.envelope_json = doc["envelope"].dump();
  const Resources& res = st.resources;
  const Licence& lic = st.licence;
  // 3. The files against the signed manifest, whole: nothing extra, nothing missing, nothing changed.
  if (!doc.contains("files") || !doc["files"].is_array() || doc["files"].size() > kPackageFilesMax) return make_error("package.format", "files must be an array");
  for (const auto& f : doc["files"]) {
    if (!f.is_object() || !f.contains("path") || !f["path"].is_string() || !f.contains("data") || !f["data"].is_string()) {
      return make_error("package.format", "a file entry needs path and data");
    }
    std::string path = f["path"].get<std::string>();
    SN_TRY(check_package_path(path));
    if (p.files.count(path)) return make_error("package.file", "file " + path + " appears twice");
    SN_ASSIGN(Bytes data, base64_decode(f["data"].get<std::string>(), "file " + path));
    p.files[path] = std::move(data);
  }
  std::set<std::string> signed_paths;
  for (const auto& e : p.manifest) {
    signed_paths.insert(e.path);
    auto it = p.files.find(e.path);
    if (it == p.files.end()) return make_error("package.file_missing", "file " + e.path + " of the signed manifest is missing");
    if (it->second.size() != e.stored_size || crypto::sha256(it->second) != e.stored_sha256) {
      return make_error("package.file_changed", "file " + e.path + " does not match its digest in the signed manifest");
    }
  }
  for (const auto& [path, data] : p.files) {
    if (!signed_paths.count(path)) return make_error("package.file_extra", "file " + path + " is not in the signed manifest");
  }
  // 4. agent.toml is the one signed, and says what the signed terms say.
  SN_ASSIGN(std::string toml_text, text_of(p.files, "agent.toml", "agent.toml"));
  auto cfg = parse_agent_toml(toml_text);
  if (!cfg.ok()) return make_error(cfg.error().code, "agent.toml: " + cfg.error().message);
  p.config = *cfg;
  if (!(p.config.resources == res) || !(p.config.licence == lic)) return make_error("package.terms", "agent.toml's resources or licence differ from the signed terms");
  if (json::parse(st.agent_json) != config_json(p.config)) return make_error("package.terms", "agent.toml differs from the signed agent description");
  for (const auto& e : p.manifest) {
    bool model = std::count(p.config.models.begin(), p.config.models.end(), e.path) > 0;
    if (model != e.encrypted) return make_error("package.terms", "file " + e.path + (model ? " is a model but is not encrypted" : " is encrypted but is not a model"));
  }
  SN_ASSIGN(std::string entry, text_of(p.files, p.config.entry, "the entry script"));
  if (auto s = ta::compile_lua(entry); !s.ok()) return make_error("package.script", p.config.entry + " does not compile: " + s.error().message);
  for (const auto* schema : {&p.config.input_schema, &p.config.output_schema}) {
    if (schema->empty()) continue;
    SN_ASSIGN(std::string text_s, text_of(p.files, *schema, "the schema"));
    if (auto s = check_schema(text_s); !s.ok()) return make_error("package.schema", *schema + ": " + s.error().message);
  }
  for (const auto& m : p.config.models) {
    if (!p.files.count(m)) return make_error("package.file_missing", "model " + m + " is not in the package");
  }
  // 5. With the content key, the models' plaintext too.
  if (o.content_key != nullptr) {
    for (const auto& e : p.manifest) {
      if (!e.encrypted) continue;
      auto plain = crypto::aes_siv_open(o.content_key->view(), file_ad(e.path), p.files.at(e.path));
      if (!plain.ok()) return make_error("package.model", "model " + e.path + " does not decrypt with the content key");
      if (plain->size() != e.size || crypto::sha256(plain->view()) != e.sha256) return make_error("package.model", "model " + e.path + "'s plaintext does not match its digest");
    }
  }
  return p;
}

Result<crypto::SecureBytes> open_model(const Package& p, const std::string& path, const crypto::SecureBytes& key) {
  auto it = std::find_if(p.manifest.begin(), p.manifest.end(), [&](const ManifestEntry& e) { return e.path == path; });
  if (it == p.manifest.end() || !it->encrypted) return make_error("package.model", path + " is not a model of the package");
  auto plain = crypto::aes_siv_open(key.view(), file_ad(path), p.files.at(path));
  if (!plain.ok() || plain->size() != it->size || crypto::sha256(plain->view()) != it->sha256) {
    return make_error("package.model", "model " + path + " does not decrypt to its signed digest with this key");
  }
  return std::move(*plain);
}

std::map<std::string, std::string> template_files(const std::string& name) {
  std::map<std::string, std::string> f;
  f["agent.toml"] = "# A SuperNet agent (docs/agents.md).\n"
                    "name = \"" + name + "\"\n"
                    "version = \"0.1.0\"\n"
                    "description = \"Says hello, and counts its calls in its private store\"\n"
                    "entry = \"main.lua\"\n"
                    "models = []\n"
                    "price = 1\n\n"
                    "[schema]\n"
                    "input = \"input.schema.json\"\n"
                    "output = \"output.schema.json\"\n\n"
                    "[resources]\n"
                    "gas = 10000000\n"
                    "memory_mb = 32\n"
                    "timeout_ms = 1000\n\n"
                    "[licence]\n"
                    "kind = \"open\"\n"
                    "calls = 0\n";
  f["main.lua"] = "-- handle(input): input is the request's JSON, decoded; the value returned is the answer.\n"
                  "function handle(input)\n"
                  "  local who = input.name or \"world\"\n"
                  "  return {greeting = \"hello, \" .. who, length = #who}\n"
                  "end\n";
  f["input.schema.json"] = "{\n  \"type\": \"object\",\n  \"properties\": {\"name\": {\"type\": \"string\", \"maxLength\": 100}},\n"
                           "  \"additionalProperties\": false\n}\n";
  f["output.schema.json"] = "{\n  \"type\": \"object\",\n  \"required\": [\"greeting\"],\n"
                            "  \"properties\": {\"greeting\": {\"type\": \"string\"}, \"length\": {\"type\": \"integer\"}}\n}\n";
  return f;
}

namespace {

// valijson walks schemas and documents recursively: both are bounded in depth first.
size_t depth(const json& j, size_t limit) {
  if (limit == 0 || !j.is_structured()) return 0;
  size_t d = 0;
  for (const auto& v : j) {
    d = std::max(d, depth(v, limit - 1));
    if (d + 1 >= limit) break;
  }
  return d + 1;
}

// The first "pattern" or "patternProperties" key anywhere in a schema: valijson matches them
// with std::regex, which backtracks without bound, so a publisher's pattern could stall the
// process that validates a caller's input. They are refused.
// `names`: j maps names to subschemas ("properties", "definitions"): its keys are not keywords.
const char* regex_keyword(const json& j, bool names = false) {
  if (j.is_object()) {
    for (const auto& [k, v] : j.items()) {
      if (!names && (k == "pattern" || k == "patternProperties")) return k == "pattern" ? "pattern" : "patternProperties";
      bool map = !names && (k == "properties" || k == "definitions" || k == "$defs" || k == "dependencies");
      if (const char* inner = regex_keyword(v, map)) return inner;
    }
  } else if (j.is_array()) {
    for (const auto& v : j) {
      if (const char* inner = regex_keyword(v)) return inner;
    }
  }
  return nullptr;
}

}  // namespace

Status check_schema(std::string_view schema_json) {
  if (schema_json.size() > kSchemaBytesMax) return make_error("schema.too_large", "the schema is over 256 KiB");
  json doc = json::parse(schema_json, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return make_error("schema.json", "not a JSON object");
  if (depth(doc, kSchemaDepthMax + 1) > kSchemaDepthMax) return make_error("schema.too_deep", "nested over " + std::to_string(kSchemaDepthMax) + " levels");
  if (const char* k = regex_keyword(doc)) {
    return make_error("schema.regex", std::string("'") + k + "' is not supported (regular expressions can take unbounded time); use enum, const or lengths");
  }
  try {
    valijson::Schema schema;
    valijson::SchemaParser parser;
    valijson::adapters::NlohmannJsonAdapter adapter(doc);
    parser.populateSchema(adapter, schema);
  } catch (const std::exception& e) {
    return make_error("schema.invalid", std::string("not a JSON Schema valijson can compile: ") + e.what());
  }
  return ok_status();
}

Status validate_json(std::string_view schema_json, std::string_view document_json, const std::string& what) {
  SN_TRY(check_schema(schema_json));
  json sdoc = json::parse(schema_json, nullptr, false);
  json doc = json::parse(document_json, nullptr, false);
  if (doc.is_discarded()) return make_error("schema.json", what + " is not valid JSON");
  if (depth(doc, kSchemaDepthMax + 1) > kSchemaDepthMax) return make_error("schema.too_deep", what + " is nested over " + std::to_string(kSchemaDepthMax) + " levels");
  try {
    valijson::Schema schema;
    valijson::SchemaParser parser;
    valijson::adapters::NlohmannJsonAdapter sa(sdoc);
    parser.populateSchema(sa, schema);
    valijson::Validator validator;
    valijson::ValidationResults results;
    valijson::adapters::NlohmannJsonAdapter da(doc);
    if (!validator.validate(schema, da, &results)) {
      valijson::ValidationResults::Error e;
      std::string where, why;
      // valijson reports the innermost failure first: it names the field.
      size_t deepest = 0;
      while (results.popError(e)) {
        if (!why.empty() && e.context.size() <= deepest) continue;
        deepest = e.context.size();
        where.clear();
        for (const auto& c : e.context) where += c;
        why = e.description;
      }
      return make_error("schema.mismatch", what + " does not match its schema at " + where + ": " + why);
    }
  } catch (const std::exception& e) {
    return make_error("schema.invalid", std::string("the schema does not compile: ") + e.what());
  }
  return ok_status();
}

}  // namespace supernet::agents
