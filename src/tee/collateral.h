// Collateral: the certificates, CRLs, signed TCB data and public keys a verifier needs besides
// the evidence itself. Loaded from files; the kind of each file is recognized from its content.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "crypto/keys.h"
#include "crypto/x509.h"
#include "util/bytes.h"
#include "util/result.h"

namespace supernet::tee {

// A JSON object signed by Intel over its exact bytes (TCB info or QE identity). The document
// is parsed once, at load time, from exactly the bytes the signature covers; the two cannot
// diverge because both are set only by make().
class SignedJson {
 public:
  static Result<SignedJson> make(std::string body, Bytes signature, std::vector<crypto::Certificate> issuer_chain,
                                 std::string source);
  const std::string& body() const { return body_; }
  const nlohmann::json& doc() const { return *doc_; }
  const Bytes& signature() const { return signature_; }
  const std::vector<crypto::Certificate>& issuer_chain() const { return issuer_chain_; }
  const std::string& source() const { return source_; }

 private:
  std::string body_;
  std::shared_ptr<const nlohmann::json> doc_;
  Bytes signature_;
  std::vector<crypto::Certificate> issuer_chain_;  // may be empty: then the pool is used
  std::string source_;                             // file it came from, for messages
};

struct Collateral {
  std::vector<crypto::Certificate> certs;
  std::vector<crypto::Crl> crls;
  std::vector<SignedJson> tcb_infos;
  std::vector<SignedJson> qe_identities;
  std::vector<crypto::PublicKey> public_keys;

  // Adds one file. Unrecognized content is an error naming the file.
  Status add_file(const std::string& path);
  // Adds a file, or every file below a directory (unrecognized files there are skipped).
  Status add_path(const std::string& path);
  // Adds from bytes already in memory (tests, fuzzing).
  Status add_bytes(ByteView data, const std::string& source);
};

// Cuts the exact text of the value of top-level `key` out of a JSON document, without
// re-serializing it. Fails when the key is absent or the text is not balanced.
Result<std::string> raw_json_member(std::string_view json, std::string_view key);

}  // namespace supernet::tee
