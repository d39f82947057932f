#include "agents/package.h"

#include <gtest/gtest.h>
#include <sodium.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>

#include "crypto/hash.h"
#include "util/file.h"

namespace supernet::agents {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// A package folder in a fresh temporary directory, removed at the end.
class Folder {
 public:
  Folder() {
    dir_ = fs::temp_directory_path() / ("agent-test-" + std::to_string(getpid()) + "-" + std::to_string(counter_++));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    for (const auto& [path, text] : template_files("greeter")) write(path, text);
  }
  ~Folder() { fs::remove_all(dir_); }
  void write(const std::string& path, const std::string& text) {
    fs::create_directories((dir_ / path).parent_path());
    ASSERT_TRUE(write_file_atomic((dir_ / path).string(), as_bytes(text)).ok());
  }
  std::string dir() const { return dir_.string(); }

 private:
  fs::path dir_;
  static inline int counter_ = 0;
};

const std::string kModelText = "{\"format\": \"supernet-model\", \"secret-weights\": [0.123456, 0.654321]}\n";

std::string with_model(Folder& f) {
  f.write("model.json", kModelText);
  auto toml = template_files("greeter")["agent.toml"];
  toml.replace(toml.find("models = []"), 11, "models = [\"model.json\"]");
  f.write("agent.toml", toml);
  return toml;
}

TEST(AgentToml, TheTemplateParsesAndEveryBadFieldIsNamed) {
  auto c = parse_agent_toml(template_files("greeter")["agent.toml"]);
  ASSERT_TRUE(c.ok()) << c.error().to_string();
  EXPECT_EQ(c->name, "greeter");
  EXPECT_EQ(c->entry, "main.lua");
  EXPECT_TRUE(c->licence.open);
  EXPECT_EQ(c->price, 1u);
  EXPECT_EQ(c->input_schema, "input.schema.json");
  auto code = [](const std::string& text) {
    auto r = parse_agent_toml(text);
    return r.ok() ? std::string("ok") : r.error().code;
  };
  EXPECT_EQ(code("name = \"a\"\nentry = \"m.lua\"\n"), "ok");
  EXPECT_EQ(code("entry = \"m.lua\"\n"), "agent_toml.missing");
  EXPECT_EQ(code("name = \"A b\"\nentry = \"m.lua\"\n"), "agent_toml.name");
  EXPECT_EQ(code("name = \"a\"\nentry = \"../m.lua\"\n"), "agent_toml.entry");
  EXPECT_EQ(code("name = \"a\"\nentry = \"m.lua\"\nversion = \"1.02.3\"\n"), "agent_toml.version");
  EXPECT_EQ(code("name = \"a\"\nentry = \"m.lua\"\nversion = \"1.2\"\n"), "agent_toml.version");
  EXPECT_EQ(code("name = \"a\"\nentry = \"m.lua\"\ncolour = 1\n"), "agent_toml.unknown");
  EXPECT_EQ(code("name = \"a\"\nentry = \"m.lua\"\nprice = -1\n"), "agent_toml.range");
  EXPECT_EQ(code("name = \"a\"\nentry = \"m.lua\"\n[resources]\ngas = 0\n"), "agent_toml.range");
  EXPECT_EQ(code("name = \"a\"\nentry = \"m.lua\"\n[resources]\nmemory_mb = 5000\n"), "agent_toml.range");
  EXPECT_EQ(code("name = \"a\"\nentry = \"m.lua\"\n[licence]\nkind = \"clients\"\n"), "agent_toml.licence");
  EXPECT_EQ(code("name = \"a\"\nentry = \"m.lua\"\n[licence]\nclients = [\"x\"]\n"), "agent_toml.licence");
  EXPECT_EQ(code("name = \"a\"\nentry = \"m.lua\"\n[licence]\nkind = \"clients\"\nclients = [\"x\", \"x\"]\ncalls = 5\n"), "ok");
  EXPECT_EQ(code("name = \"a\"\nentry = \"m.lua\"\nmodels = [\"m.lua\"]\n"), "agent_toml.models");
  EXPECT_EQ(code("name = \"a\"\nentry = \"m.lua\"\n[schema]\ninput = \"/etc/x\"\n"), "agent_toml.schema");
  EXPECT_EQ(code("name = \"a\"\nentry = \"m.lua\"\nname = \"b\"\n"), "agent_toml.syntax");
  EXPECT_EQ(code(std::string(70 * 1024, '#')), "agent_toml.too_large");
}

TEST(AgentPackage, PathsAreRelativeAndPlain) {
  EXPECT_TRUE(check_package_path("main.lua").ok());
  EXPECT_TRUE(check_package_path("models/a-1_b.json").ok());
  for (const char* bad : {"", "/abs", "a/../b", "./a", "a//b", ".hidden", "a/.b", "sp ace", "a\\b", "a/"}) {
    EXPECT_FALSE(check_package_path(bad).ok()) << bad;
  }
  EXPECT_FALSE(check_package_path(std::string(300, 'a')).ok());
}

TEST(AgentPackage, DssePreAuthenticationEncodingIsTheSpecs) {
  // The example of the DSSE v1 protocol document.
  EXPECT_EQ(to_string(dsse_pae("http://example.com/HelloWorld", as_bytes(std::string("hello world")))),
            "DSSEv1 29 http://example.com/HelloWorld 11 hello world");
}

TEST(AgentPackage, PacksReproduciblyVerifiesAndKeepsModelsEncrypted) {
  Folder f;
  with_model(f);
  f.write(".git/config", "skipped");
  PublisherKey key = generate_publisher_key();
  std::vector<std::string> skipped;
  auto p = pack_folder(f.dir(), key, &skipped);
  ASSERT_TRUE(p.ok()) << p.error().to_string();
  EXPECT_EQ(skipped, std::vector<std::string>{".git"});
  EXPECT_EQ(p->manifest.size(), 5u);  // agent.toml, the two schemas, main.lua, model.json
  std::string file = encode_package(*p);
  auto again = pack_folder(f.dir(), key);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(encode_package(*again), file);  // byte for byte
  auto v = verify_package(file, {key.public_key, nullptr});
  ASSERT_TRUE(v.ok()) << v.error().to_string();
  EXPECT_EQ(v->root, p->root);
  EXPECT_EQ(v->config.name, "greeter");
  // The model is stored encrypted: its plaintext is nowhere in the stored files.
  const Bytes& stored = v->files.at("model.json");
  EXPECT_EQ(to_string(stored).find("secret-weights"), std::string::npos);
  EXPECT_EQ(file.find("secret-weights"), std::string::npos);
  crypto::SecureBytes ck = content_key(key, [&] {
    Manifest m;
    for (auto e : v->manifest) {
      e.encrypted = false;
      e.stored_size = e.size;
      e.stored_sha256 = e.sha256;
      m.push_back(e);
    }
    return m;
  }());
  auto plain = open_model(*v, "model.json", ck);
  ASSERT_TRUE(plain.ok()) << plain.error().to_string();
  EXPECT_EQ(to_string(plain->view()), kModelText);
  EXPECT_TRUE(verify_package(file, {std::nullopt, &ck}).ok());
  crypto::SecureBytes wrong(crypto::random_bytes(64));
  EXPECT_EQ(verify_package(file, {std::nullopt, &wrong}).error().code, "package.model");
  EXPECT_FALSE(open_model(*v, "main.lua", ck).ok());
  // Another publisher's key gives another content key and another root (the ciphertext differs).
  auto other = pack_folder(f.dir(), generate_publisher_key());
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other->root, p->root);
}

// The package file with its document changed by `edit`.
std::string edited(const std::string& file, const std::function<void(json&)>& edit) {
  json doc = json::parse(file);
  edit(doc);
  return doc.dump();
}

std::string base64(const std::string& s) {
  std::string out(sodium_base64_ENCODED_LEN(s.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(s.data()), s.size(), sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.size() - 1);
  return out;
}

TEST(AgentPackage, EveryTamperingIsRefusedNamingTheFile) {
  Folder f;
  with_model(f);
  PublisherKey key = generate_publisher_key();
  auto p = pack_folder(f.dir(), key);
  ASSERT_TRUE(p.ok()) << p.error().to_string();
  std::string file = encode_package(*p);
  auto refusal = [&](const std::string& text) {
    auto v = verify_package(text, {key.public_key, nullptr});
    return v.ok() ? std::string("accepted") : v.error().code + ": " + v.error().message;
  };
  auto set_file = [](json& doc, const std::string& path, const std::string& data) {
    for (auto& e : doc["files"]) {
      if (e["path"] == path) e["data"] = base64(data);
    }
  };
  // A changed script.
  std::string changed = refusal(edited(file, [&](json& d) { set_file(d, "main.lua", "function handle(i) return os end\n"); }));
  EXPECT_NE(changed.find("package.file_changed"), std::string::npos) << changed;
  EXPECT_NE(changed.find("main.lua"), std::string::npos) << changed;
  // An extra file, a missing file, a file twice.
  std::string extra = refusal(edited(file, [&](json& d) { d["files"].push_back(json{{"path", "extra.lua"}, {"data", base64("x")}}); }));
  EXPECT_NE(extra.find("package.file_extra"), std::string::npos) << extra;
  EXPECT_NE(extra.find("extra.lua"), std::string::npos) << extra;
  std::string missing = refusal(edited(file, [&](json& d) {
    for (size_t i = 0; i < d["files"].size(); i++) {
      if (d["files"][i]["path"] == "input.schema.json") d["files"].erase(i);
    }
  }));
  EXPECT_NE(missing.find("package.file_missing"), std::string::npos) << missing;
  EXPECT_NE(missing.find("input.schema.json"), std::string::npos) << missing;
  EXPECT_NE(refusal(edited(file, [&](json& d) { d["files"].push_back(d["files"][0]); })).find("appears twice"), std::string::npos);
  // A changed model ciphertext.
  std::string model = refusal(edited(file, [&](json& d) { set_file(d, "model.json", "not the sealed model"); }));
  EXPECT_NE(model.find("model.json"), std::string::npos) << model;
  // The payload changed (a lower price) without a new signature.
  std::string payload = refusal(edited(file, [&](json& d) {
    std::string b64 = d["envelope"]["payload"];
    std::string text(b64.size(), '\0');
    size_t len = 0;
    ASSERT_EQ(sodium_base642bin(reinterpret_cast<unsigned char*>(text.data()), text.size(), b64.data(), b64.size(), nullptr, &len, nullptr,
                                sodium_base64_VARIANT_ORIGINAL),
              0);
    text.resize(len);
    json st = json::parse(text);
    ASSERT_EQ(st["predicate"]["agent"]["price"], 1);
    st["predicate"]["agent"]["price"] = 0;
    d["envelope"]["payload"] = base64(st.dump());
  }));
  EXPECT_NE(payload.find("package.signature"), std::string::npos) << payload;
  // Signed by someone else: refused when the publisher is expected, and the signature cannot be
  // moved onto another statement.
  PublisherKey mallory = generate_publisher_key();
  auto forged = pack_folder(f.dir(), mallory);
  ASSERT_TRUE(forged.ok());
  std::string forged_file = encode_package(*forged);
  std::string who = refusal(forged_file);
  EXPECT_NE(who.find("package.publisher"), std::string::npos) << who;
  std::string swapped = refusal(edited(file, [&](json& d) { d["envelope"]["signatures"] = json::parse(forged_file)["envelope"]["signatures"]; }));
  EXPECT_NE(swapped.find("package.signature"), std::string::npos) << swapped;
  std::string bad_sig = refusal(edited(file, [&](json& d) { d["envelope"]["signatures"][0]["sig"] = base64(std::string(64, 'x')); }));
  EXPECT_NE(bad_sig.find("does not verify"), std::string::npos) << bad_sig;
  // Not a package at all.
  EXPECT_EQ(verify_package("{}").error().code, "package.format");
  EXPECT_EQ(verify_package("[").error().code, "package.format");
  EXPECT_EQ(verify_package(edited(file, [](json& d) { d["version"] = 2; })).error().code, "package.version");
  EXPECT_EQ(verify_package(edited(file, [](json& d) { d["envelope"]["payload"] = "***"; })).error().code, "package.base64");
}

TEST(AgentPackage, PackRefusesWhatPublishWouldRefuse) {
  PublisherKey key = generate_publisher_key();
  {
    Folder f;
    f.write("main.lua", "function handle(input) return {\n");
    auto p = pack_folder(f.dir(), key);
    ASSERT_FALSE(p.ok());
    EXPECT_EQ(p.error().code, "package.script");
    EXPECT_NE(p.error().message.find("main.lua"), std::string::npos) << p.error().message;
  }
  {
    Folder f;
    f.write("input.schema.json", "{\"type\": 12}");
    auto p = pack_folder(f.dir(), key);
    ASSERT_FALSE(p.ok());
    EXPECT_EQ(p.error().code, "package.schema") << p.error().to_string();
  }
  {
    Folder f;
    fs::remove(fs::path(f.dir()) / "main.lua");
    EXPECT_EQ(pack_folder(f.dir(), key).error().code, "package.config");
  }
  {
    Folder f;
    fs::create_symlink("/etc/hostname", fs::path(f.dir()) / "link.txt");
    auto p = pack_folder(f.dir(), key);
    ASSERT_FALSE(p.ok());
    EXPECT_NE(p.error().message.find("symbolic link"), std::string::npos);
  }
  EXPECT_EQ(pack_folder("/nonexistent-folder-for-test", key).error().code, "package.folder");
}

TEST(AgentPackage, SchemasValidateInputsAndNameTheField) {
  std::string schema = template_files("x")["input.schema.json"];
  EXPECT_TRUE(check_schema(schema).ok());
  EXPECT_TRUE(validate_json(schema, "{\"name\": \"ada\"}", "the input").ok());
  auto bad = validate_json(schema, "{\"name\": 5}", "the input");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, "schema.mismatch");
  EXPECT_NE(bad.error().message.find("name"), std::string::npos) << bad.error().message;
  EXPECT_EQ(validate_json(schema, "{\"other\": 1}", "the input").error().code, "schema.mismatch");
  EXPECT_EQ(validate_json(schema, "{", "the input").error().code, "schema.json");
  EXPECT_EQ(check_schema("[]").error().code, "schema.json");
  std::string deep;
  for (int i = 0; i < 200; i++) deep += "{\"items\":";
  deep += "{}";
  for (int i = 0; i < 200; i++) deep += "}";
  EXPECT_EQ(check_schema(deep).error().code, "schema.too_deep");
  EXPECT_EQ(check_schema(R"({"properties": {"a": {"type": "string", "pattern": "^(a+)+$"}}})").error().code, "schema.regex");
  EXPECT_EQ(check_schema(R"({"patternProperties": {"x": {}}})").error().code, "schema.regex");
  EXPECT_TRUE(check_schema(R"({"properties": {"pattern": {"type": "string"}}})").ok());  // a field called pattern is fine
  EXPECT_EQ(validate_json(R"({"pattern": "a"})", "\"a\"", "the input").error().code, "schema.regex");
  EXPECT_EQ(check_schema("{\"$ref\": \"http://example.com/remote.json\"}").ok(), false);  // nothing is fetched
}

TEST(AgentPackage, PublisherKeysRoundTripWithAndWithoutPassphrase) {
  PublisherKey k = generate_publisher_key();
  auto pem = publisher_key_pem(k, "");
  ASSERT_TRUE(pem.ok());
  EXPECT_NE(pem->find("BEGIN PRIVATE KEY"), std::string::npos);
  auto back = parse_publisher_key_pem(*pem, "");
  ASSERT_TRUE(back.ok()) << back.error().to_string();
  EXPECT_EQ(back->public_key, k.public_key);
  auto enc = publisher_key_pem(k, "correct horse");
  ASSERT_TRUE(enc.ok());
  EXPECT_NE(enc->find("ENCRYPTED PRIVATE KEY"), std::string::npos);
  EXPECT_NE(parse_publisher_key_pem(*enc, "").error().message.find("encrypted"), std::string::npos);
  EXPECT_NE(parse_publisher_key_pem(*enc, "wrong").error().message.find("passphrase"), std::string::npos);
  auto opened = parse_publisher_key_pem(*enc, "correct horse");
  ASSERT_TRUE(opened.ok()) << opened.error().to_string();
  EXPECT_EQ(opened->public_key, k.public_key);
  auto pub = parse_publisher_public_pem(publisher_public_pem(k));
  ASSERT_TRUE(pub.ok()) << pub.error().to_string();
  EXPECT_EQ(*pub, k.public_key);
  EXPECT_FALSE(parse_publisher_key_pem("garbage", "").ok());
  EXPECT_FALSE(parse_publisher_public_pem(*pem).ok());
}

}  // namespace
}  // namespace supernet::agents
