// A client of a node's REST API: HTTPS with TLS 1.3 only, a client certificate, and the node's
// RA-TLS certificate appraised against the network's policy before anything is sent (the
// evidence in it must verify, pass the policy and bind the certificate's key). With a
// NodeExpectation it also proves what it talks to: the certificate must bind the identity key
// the genesis lists for the node asked for and the pinned chain (a TCP forwarder to another
// node is refused), and on every new connection, before any request goes out on it, the node
// answers GET /v1/attestation with fresh evidence bound to this client's own TLS session
// (net::api_fresh_binding), from the same platform and measurement as its certificate.
// Blocking; one connection, kept alive; not thread-safe.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "crypto/keys.h"
#include "crypto/x509.h"
#include "tee/collateral.h"
#include "tee/policy.h"

namespace httplib {
class SSLClient;
}

namespace supernet::node {

struct ApiCredentials {
  crypto::Certificate cert;
  crypto::PrivateKey key;
};
// Loads `<prefix>.crt.pem` and `<prefix>.key.pem` (what `supernet up` writes).
Result<ApiCredentials> load_credentials(const std::string& prefix);
// Makes a client key and self-signed certificate and writes them there (key file 0600).
Result<ApiCredentials> create_credentials(const std::string& prefix, const std::string& name);

struct HttpReply {
  int status = 0;
  std::string body;
};

// The node a client asks for: its id, the identity key the genesis (or the membership) lists for
// it, and the chain the client pinned.
struct NodeExpectation {
  uint32_t id = 0;
  Bytes identity_key;
  Bytes chain;
};

class ApiClient {
 public:
  // `policy` appraises the node's certificate; nullopt skips that (tests of the server's own
  // refusals only). `expect` adds the identity check and the fresh exchange (it needs `policy`
  // and credentials).
  // `collateral` (certificates, CRLs, TCB info) appraises hardware nodes.
  ApiClient(const std::string& host, uint16_t port, std::optional<ApiCredentials> credentials,
            std::optional<tee::Policy> policy, int timeout_s = 10, std::optional<NodeExpectation> expect = std::nullopt,
            std::shared_ptr<const tee::Collateral> collateral = nullptr);
  ~ApiClient();
  Result<HttpReply> get(const std::string& path);
  Result<HttpReply> post(const std::string& path, const std::string& body, const std::string& content_type = "application/json");
  Result<HttpReply> del(const std::string& path);
  // How many connections this client has opened and seen attested afresh.
  uint64_t attested_connections() const;
  struct Appraisal;  // the TLS callbacks' state (api_client.cc)

 private:
  template <typename F>
  Result<HttpReply> request(F&& send);
  Status attest();
  std::unique_ptr<Appraisal> appraisal_;
  std::unique_ptr<httplib::SSLClient> http_;
  std::string target_;
};

}  // namespace supernet::node
