// supernet agent init / keygen / test / pack / verify: agent packages on this machine
// (docs/agents.md). Publishing them is in market_cmd.cc.
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "agents/package.h"
#include "cli/commands.h"
#include "crypto/secure.h"
#include "ta/kv_store.h"
#include "ta/worker.h"
#include "util/file.h"

namespace supernet::cli {

namespace {

namespace fs = std::filesystem;

// The publisher key's passphrase: $SUPERNET_KEY_PASSPHRASE, or none.
std::string passphrase() {
  const char* p = std::getenv("SUPERNET_KEY_PASSPHRASE");
  return p != nullptr ? p : "";
}

Result<agents::PublisherKey> load_key(const std::string& path) {
  SN_ASSIGN(Bytes pem, read_file(path, 16 * 1024));
  auto k = agents::parse_publisher_key_pem(to_string(pem), passphrase());
  if (!k.ok()) return make_error(k.error().code, path + ": " + k.error().message);
  return k;
}

int run_init(const std::string& dir, std::string name) {
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_empty(dir, ec)) return fail(make_error("usage.dir", dir + " exists and is not empty; init writes a new folder"));
  if (name.empty()) name = fs::path(dir).filename().string();
  std::string sanitized;
  for (char c : name) sanitized += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : (c == '_' || c == ' ' || c == '.') ? '-' : c;
  auto files = agents::template_files(sanitized);
  if (auto c = agents::parse_agent_toml(files["agent.toml"]); !c.ok()) {
    return fail(make_error("usage.name", "'" + name + "' cannot name an agent: " + c.error().message + " (use --name)"));
  }
  fs::create_directories(dir, ec);
  if (ec) return fail(make_error("io.mkdir", dir + ": " + ec.message()));
  for (const auto& [path, text] : files) {
    if (auto w = write_file_atomic((fs::path(dir) / path).string(), as_bytes(text)); !w.ok()) return fail(w.error());
  }
  std::printf("agent %s written to %s: agent.toml, main.lua, input.schema.json, output.schema.json\n", sanitized.c_str(), dir.c_str());
  std::printf("next: supernet agent test %s --input IN.json; supernet agent keygen --out KEY; supernet agent pack %s --key KEY --out %s.agent\n",
              dir.c_str(), dir.c_str(), sanitized.c_str());
  return kExitOk;
}

int run_keygen(const std::string& out, bool force, bool no_passphrase) {
  std::error_code ec;
  if (passphrase().empty() && !no_passphrase) {
    return fail(make_error("usage.passphrase", "set SUPERNET_KEY_PASSPHRASE to encrypt the key (or pass --no-passphrase to write it in the clear, "
                                               "for tests and demos)"));
  }
  if (!force && (fs::exists(out, ec) || fs::exists(out + ".pub", ec))) return fail(make_error("usage.out", out + " or " + out + ".pub exists (--force replaces it)"));
  agents::PublisherKey k = agents::generate_publisher_key();
  std::string pass = passphrase();
  auto pem = agents::publisher_key_pem(k, pass);
  if (!pem.ok()) return fail(pem.error(), kExitCheckFailed);
  Status w = write_file_atomic(out, as_bytes(*pem), 0600);
  crypto::zeroize(pem->data(), pem->size());
  if (!w.ok()) return fail(w.error());
  if (auto p = write_file_atomic(out + ".pub", as_bytes(agents::publisher_public_pem(k)), 0644); !p.ok()) return fail(p.error());
  std::printf("publisher key %s written to %s (%s) and %s.pub\n", agents::key_id(k.public_key).substr(0, 16).c_str(), out.c_str(),
              pass.empty() ? "NOT encrypted (--no-passphrase)" : "encrypted with SUPERNET_KEY_PASSPHRASE", out.c_str());
  return kExitOk;
}

void print_package(const agents::Package& p) {
  std::printf("agent %s@%s: root %s\n", p.config.name.c_str(), p.config.version.c_str(), to_hex(p.root).c_str());
  std::printf("publisher %s, price %llu per call, licence %s%s, resources gas %llu, memory %llu MiB, time %u ms\n",
              agents::key_id(p.publisher).substr(0, 16).c_str(), static_cast<unsigned long long>(p.config.price),
              p.config.licence.open ? "open" : "clients", p.config.licence.calls ? (", " + std::to_string(p.config.licence.calls) + " calls each").c_str() : "",
              static_cast<unsigned long long>(p.config.resources.gas), static_cast<unsigned long long>(p.config.resources.memory_mb), p.config.resources.timeout_ms);
  for (const auto& e : p.manifest) {
    std::printf("  %-32s %10llu bytes  sha256 %s%s\n", e.path.c_str(), static_cast<unsigned long long>(e.size), to_hex(e.sha256).substr(0, 16).c_str(),
                e.encrypted ? "  (encrypted)" : "");
  }
}

struct PackArgs {
  std::string dir, key, out;
};

int run_pack(const PackArgs& a) {
  auto key = load_key(a.key);
  if (!key.ok()) return fail(key.error());
  std::vector<std::string> skipped;
  auto p = agents::pack_folder(a.dir, *key, &skipped);
  if (!p.ok()) return fail(p.error());
  if (auto w = write_file_atomic(a.out, as_bytes(agents::encode_package(*p)), 0644); !w.ok()) return fail(w.error());
  for (const auto& s : skipped) std::fprintf(stderr, "skipped %s (hidden)\n", s.c_str());
  print_package(*p);
  std::printf("signed package written to %s\n", a.out.c_str());
  return kExitOk;
}

int run_verify(const std::string& file, const std::string& publisher) {
  agents::VerifyOptions o;
  if (!publisher.empty()) {
    auto pem = read_file(publisher, 16 * 1024);
    if (!pem.ok()) return fail(pem.error());
    auto pk = agents::parse_publisher_public_pem(to_string(*pem));
    if (!pk.ok()) return fail(make_error(pk.error().code, publisher + ": " + pk.error().message));
    o.expected_publisher = *pk;
  }
  auto text = read_file(file, agents::kPackageBytesMax);
  if (!text.ok()) return fail(text.error());
  auto p = agents::verify_package(to_string(*text), o);
  if (!p.ok()) {
    std::fprintf(stderr, "error: %s: %s: %s\n", file.c_str(), p.error().code.c_str(), p.error().message.c_str());
    return kExitCheckFailed;
  }
  print_package(*p);
  std::printf("verified: the signature%s, every file against the signed manifest, agent.toml, the script compiles, the schemas\n",
              (publisher.empty() ? std::string(" (by the key the package names; --publisher checks whose it is)") : " by " + publisher).c_str());
  return kExitOk;
}

struct TestArgs {
  std::string dir, input;
  uint64_t seed = 0;
};

// Runs the folder's agent as a node would: the package's own checks first (packed with a
// throwaway key), the input against its schema, then one call in a real TA worker with the
// limits of agent.toml and its models by name, and the output against its schema.
int run_test(const TestArgs& a) {
  agents::PublisherKey scratch = agents::generate_publisher_key();
  auto p = agents::pack_folder(a.dir, scratch);
  if (!p.ok()) return fail(p.error());
  std::string input = "null";
  if (!a.input.empty()) {
    auto in = read_file(a.input, ta::kTaFrameBytesMax - 4096);
    if (!in.ok()) return fail(in.error());
    input = to_string(*in);
  }
  if (nlohmann::json::parse(input, nullptr, false).is_discarded()) return fail(make_error("usage.input", a.input + " is not valid JSON"));
  const auto& c = p->config;
  if (!c.input_schema.empty()) {
    if (auto s = agents::validate_json(to_string(p->files.at(c.input_schema)), input, "the input"); !s.ok()) {
      return fail(make_error(s.error().code, s.error().message + " (" + c.input_schema + ")"), kExitCheckFailed);
    }
  }
  ta::Task t;
  t.id = 1;
  t.kind = ta::TaskKind::kLua;
  t.limits = {c.resources.gas, c.resources.memory_mb << 20, c.resources.timeout_ms};
  t.seed = a.seed;
  t.code = to_string(p->files.at(c.entry));
  t.input = input;
  // The models as packed (the bytes the signed manifest names), opened with the content key.
  crypto::SecureBytes ck = agents::content_key(scratch, p->manifest);
  for (const auto& m : c.models) {
    auto plain = agents::open_model(*p, m, ck);
    if (!plain.ok()) return fail(plain.error(), kExitCheckFailed);
    t.models.emplace_back(m, to_string(plain->view()));
  }
  ta::WorkerOptions o;
  o.program = node_program();
  o.address_space_bytes = (c.resources.memory_mb << 20) + (1ull << 30);
  auto w = ta::Worker::start(o);
  if (!w.ok()) return fail(w.error(), kExitCheckFailed);
  ta::MemoryKvStore store;
  crypto::SecureBytes root(crypto::random_bytes(32));
  t.key = ta::tenant_key(root.view(), "supernet-agent-test");
  t.nonce_seed = crypto::random_bytes(ta::kTaNonceSeedBytes);
  ta::TaskResult r = (*w)->run(t, &store, "supernet-agent-test");
  for (const auto& line : r.log) std::fprintf(stderr, "log: %s\n", line.c_str());
  std::fprintf(stderr, "gas %llu of %llu, memory %llu bytes at peak, time %.3f ms\n", static_cast<unsigned long long>(r.gas_used),
               static_cast<unsigned long long>(c.resources.gas), static_cast<unsigned long long>(r.peak_memory), r.micros / 1000.0);
  if (r.outcome != ta::Outcome::kOk) {
    std::fprintf(stderr, "error: ta.%s: %s\n", ta::outcome_name(r.outcome), r.message.c_str());
    return kExitCheckFailed;
  }
  if (!c.output_schema.empty()) {
    if (auto s = agents::validate_json(to_string(p->files.at(c.output_schema)), r.output, "the output"); !s.ok()) {
      std::printf("%s\n", r.output.c_str());
      return fail(make_error(s.error().code, s.error().message + " (" + c.output_schema + ")"), kExitCheckFailed);
    }
  }
  std::printf("%s\n", r.output.c_str());
  return kExitOk;
}

}  // namespace

void add_agent_commands(CLI::App& app, int* exit_code) {
  CLI::App* agent = app.add_subcommand("agent", "Agent packages: write, test, sign and verify them on this machine (docs/agents.md)");
  agent->require_subcommand(1);

  auto init_dir = std::make_shared<std::string>();
  auto init_name = std::make_shared<std::string>();
  CLI::App* init = agent->add_subcommand("init", "Write a working agent folder: agent.toml (open licence, price 1), main.lua, input and output schemas");
  init->add_option("dir", *init_dir, "the new folder")->required();
  init->add_option("--name", *init_name, "the agent's name (default: the folder's name)");
  init->callback([=] { *exit_code = run_init(*init_dir, *init_name); });

  auto key_out = std::make_shared<std::string>();
  auto force = std::make_shared<bool>(false);
  CLI::App* keygen = agent->add_subcommand(
      "keygen", "Make a publisher Ed25519 key: KEY (PKCS#8 PEM, mode 0600, encrypted with $SUPERNET_KEY_PASSPHRASE) and KEY.pub");
  keygen->add_option("--out", *key_out, "the secret key file; the public key goes to FILE.pub")->required();
  auto clear = std::make_shared<bool>(false);
  keygen->add_flag("--force", *force, "replace existing files");
  keygen->add_flag("--no-passphrase", *clear, "write the secret key unencrypted (tests and demos; otherwise SUPERNET_KEY_PASSPHRASE is required)");
  keygen->callback([=] { *exit_code = run_keygen(*key_out, *force, *clear); });

  auto t = std::make_shared<TestArgs>();
  CLI::App* test = agent->add_subcommand(
      "test", "Run the folder's agent once in a real trusted application worker with agent.toml's limits: the package checks, the input "
              "and output against their schemas; prints the output, and gas, memory and time to stderr. Exit 1 if the call or a check failed");
  test->add_option("dir", t->dir, "the agent folder")->required();
  test->add_option("--input", t->input, "JSON file handed to handle (default: null)");
  test->add_option("--seed", t->seed, "math.random's seed")->capture_default_str();
  test->callback([=] { *exit_code = run_test(*t); });

  auto p = std::make_shared<PackArgs>();
  CLI::App* pack = agent->add_subcommand(
      "pack", "Sign the folder as a package: manifest of every file, root digest, in-toto statement in a DSSE envelope; model files "
              "encrypted. Refuses what a node would refuse at publish (the script must compile, schemas must compile)");
  pack->add_option("dir", p->dir, "the agent folder")->required();
  pack->add_option("--key", p->key, "the publisher key (supernet agent keygen)")->required();
  pack->add_option("--out", p->out, "the package file to write (NAME.agent)")->required();
  pack->callback([=] { *exit_code = run_pack(*p); });

  auto file = std::make_shared<std::string>();
  auto publisher = std::make_shared<std::string>();
  CLI::App* verify = agent->add_subcommand(
      "verify", "Verify a package file as a node does before publishing it: exit 0 and its description, or 1 naming the check that failed");
  verify->add_option("file", *file, "the package (.agent)")->required();
  verify->add_option("--publisher", *publisher, "the publisher's public key (KEY.pub) it must be signed with");
  verify->callback([=] { *exit_code = run_verify(*file, *publisher); });
}

}  // namespace supernet::cli
