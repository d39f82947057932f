// Agent packages (docs/agents.md): a folder with agent.toml, a Lua entry script that defines
// handle(input), optional JSON schemas and model files, packed into one signed file.
//
// The package file ("FILE.agent") is a JSON document:
//   {"format": "supernet-agent", "version": 1,
//    "envelope": <DSSE envelope>,                 // signed by the publisher's Ed25519 key
//    "files": [{"path": "...", "data": "<base64 of the stored bytes>"}]}
// The envelope's payload is an in-toto Statement (v1) whose one subject is the package's root
// digest and whose predicate holds the manifest (every file: path, size, SHA-256; for an
// encrypted model file also the stored size and SHA-256), the resource limits, the licence, the
// price and the release policy of the content key, and the publisher's public key. The root
// digest is SHA-256 over the canonical JSON of exactly those four: manifest, resources, licence,
// release (agents::root_digest), so it names the content and its terms, not the publisher.
//
// Model files are stored encrypted with AES-256-SIV under the package's content key, each with
// its path as associated data. The content key is derived from the publisher's key and the
// digest of the plaintext files (HKDF-SHA256): fresh for every content, reproducible by the
// publisher alone (no key file to keep), and a package rebuilt from the same files and key is
// identical byte for byte (Ed25519 and SIV are deterministic).
//
// Verification (verify_package) is of outside bytes: the container, the DSSE signature over the
// PAE of the payload, the Statement, then the whole manifest recomputed from the files and
// compared entry by entry (an extra, missing or changed file is refused, naming the file), then
// agent.toml parsed and compared with the signed terms, the entry script compiled (never run)
// and the schemas compiled. Each refusal names the check.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/secure.h"
#include "util/bytes.h"
#include "util/result.h"

namespace supernet::agents {

inline constexpr const char* kPackageFormat = "supernet-agent";
inline constexpr int kPackageVersion = 1;
inline constexpr const char* kDssePayloadType = "application/vnd.in-toto+json";
inline constexpr const char* kStatementType = "https://in-toto.io/Statement/v1";
inline constexpr const char* kPredicateType = "urn:supernet:agent-package:v1";
inline constexpr size_t kPackageFilesMax = 256;
inline constexpr size_t kPackageFileBytesMax = 64u << 20;   // one file, stored
inline constexpr size_t kPackageBytesMax = 192u << 20;      // the package file (base64 included)
inline constexpr size_t kPackagePathBytesMax = 200;
inline constexpr size_t kAgentTomlBytesMax = 64 * 1024;
inline constexpr size_t kAgentNameBytesMax = 64;
inline constexpr size_t kAgentDescriptionBytesMax = 1024;
inline constexpr size_t kLicenceClientsMax = 256;
inline constexpr uint64_t kPriceMax = 1'000'000'000;        // credits per call
inline constexpr uint64_t kAgentMemoryMbMax = 1024;
inline constexpr size_t kSchemaBytesMax = 256 * 1024;
inline constexpr size_t kSchemaDepthMax = 64;  // a schema's nesting, and a validated document's

// What agent.toml says.
//
//   name = "diagnosis"            # 1-64 of a-z 0-9 -, starting with a letter
//   version = "1.0.0"             # MAJOR.MINOR.PATCH
//   description = "..."
//   entry = "main.lua"            # the script that defines handle(input)
//   models = ["model.json"]       # model files (supernet fl model --out), encrypted in the package
//   price = 1                     # credits per call
//   [schema]                      # optional JSON Schemas (draft 7) of the input and output
//   input = "input.schema.json"
//   output = "output.schema.json"
//   [resources]                   # per call
//   gas = 10000000
//   memory_mb = 32
//   timeout_ms = 1000
//   [licence]
//   kind = "open"                 # or "clients": only the clients listed
//   clients = ["clinic"]
//   calls = 0                     # calls per client, 0: no limit
struct Resources {
  uint64_t gas = 10'000'000;
  uint64_t memory_mb = 32;
  uint32_t timeout_ms = 1000;
  bool operator==(const Resources&) const = default;
};
struct Licence {
  bool open = true;
  std::vector<std::string> clients;  // when not open
  uint64_t calls = 0;                // per client; 0: no limit
  bool operator==(const Licence&) const = default;
};
struct AgentConfig {
  std::string name, version, description, entry;
  std::vector<std::string> models;
  std::string input_schema, output_schema;  // paths in the package, or empty
  uint64_t price = 0;
  Resources resources;
  Licence licence;
  bool operator==(const AgentConfig&) const = default;
};
Result<AgentConfig> parse_agent_toml(std::string_view text);
// Versions compare numerically, part by part.
Result<std::array<uint64_t, 3>> parse_version(std::string_view v);

// Whether `path` may name a file in a package: relative, '/'-separated parts of
// [A-Za-z0-9._-], none "." or ".." or starting with '.', at most kPackagePathBytesMax bytes.
Status check_package_path(std::string_view path);

struct ManifestEntry {
  std::string path;
  uint64_t size = 0;
  Bytes sha256;                 // of the plaintext
  bool encrypted = false;
  uint64_t stored_size = 0;     // what the package holds (the ciphertext when encrypted)
  Bytes stored_sha256;
  bool operator==(const ManifestEntry&) const = default;
};
using Manifest = std::vector<ManifestEntry>;  // sorted by path

// Who may obtain the content key (the key management module's release policy): TAs on
// attested nodes that run the package with this root digest.
struct ContentRelease {
  bool attested_ta = true;  // the only kind today
  bool operator==(const ContentRelease&) const = default;
};

Bytes root_digest(const Manifest& m, const Resources& r, const Licence& l, const ContentRelease& c);

// The Ed25519 publisher key. Files are PEM: PKCS#8 for the secret key (encrypted with the
// passphrase when one is given: PBES2, AES-256-CBC), SubjectPublicKeyInfo for the public key.
struct PublisherKey {
  Bytes public_key;              // 32 bytes
  crypto::SecureBytes secret;    // libsodium's 64-byte form
};
PublisherKey generate_publisher_key();
Result<std::string> publisher_key_pem(const PublisherKey& k, std::string_view passphrase);
std::string publisher_public_pem(const PublisherKey& k);
Result<PublisherKey> parse_publisher_key_pem(std::string_view pem, std::string_view passphrase);
Result<Bytes> parse_publisher_public_pem(std::string_view pem);
std::string key_id(ByteView public_key);  // hex SHA-256 of the raw public key

// DSSE v1: the pre-authentication encoding that is signed.
Bytes dsse_pae(std::string_view payload_type, ByteView payload);

// The package's content key (see above): HKDF-SHA256 of the publisher's seed, salted with the
// digest of the plaintext files.
crypto::SecureBytes content_key(const PublisherKey& k, const Manifest& plaintext_manifest);

struct Package {
  AgentConfig config;
  Manifest manifest;
  ContentRelease release;
  Bytes root;                              // root_digest of the signed terms
  Bytes publisher;                         // 32-byte Ed25519 public key
  std::map<std::string, Bytes> files;      // path -> stored bytes
  std::string envelope_json;               // the DSSE envelope, as signed
};

// Reads a package folder (every regular file; dotfiles and folders are skipped and listed in
// `skipped`; a symbolic link or special file is refused), checks agent.toml, and builds the
// signed package. `encode` gives the package file.
Result<Package> pack_folder(const std::string& dir, const PublisherKey& key, std::vector<std::string>* skipped = nullptr);
std::string encode_package(const Package& p);

// The signed statement of a package, checked on its own (the DSSE signature, the Statement,
// the root digest recomputed from the signed terms), without the files: what every node checks
// of a listing on the ledger, whose files the publishing node checked.
inline constexpr size_t kEnvelopeBytesMax = 256 * 1024;  // 256 files of long paths fit
struct Statement {
  Bytes publisher, root;
  std::string name, version;
  uint64_t price = 0;
  Manifest manifest;
  Resources resources;
  Licence licence;
  std::string agent_json;  // predicate.agent, as signed
};
Result<Statement> verify_envelope(std::string_view envelope_json, const std::optional<Bytes>& expected_publisher = std::nullopt);

// Verifies a package file (see above). With `content_key`, the model files are decrypted and
// their plaintext checked too. `expected_publisher`, when set, must be the signing key.
struct VerifyOptions {
  std::optional<Bytes> expected_publisher;
  const crypto::SecureBytes* content_key = nullptr;
};
Result<Package> verify_package(std::string_view file, const VerifyOptions& o = {});

// A model file's plaintext from a verified package.
Result<crypto::SecureBytes> open_model(const Package& p, const std::string& path, const crypto::SecureBytes& content_key);

// The starting folder `supernet agent init` writes: agent.toml, main.lua, the two schemas.
std::map<std::string, std::string> template_files(const std::string& name);

// JSON Schema (draft 7, valijson): compiles a schema document; validates a JSON text against it.
Status check_schema(std::string_view schema_json);
Status validate_json(std::string_view schema_json, std::string_view document_json, const std::string& what);

}  // namespace supernet::agents
