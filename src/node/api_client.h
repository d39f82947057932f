// A client of a node's REST API: HTTPS with TLS 1.3 only, a client certificate, and the node's
// RA-TLS certificate appraised against the network's policy before anything is sent (the
// evidence in it must verify, pass the policy and bind the certificate's key). Blocking; one
// connection, kept alive; not thread-safe.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "crypto/keys.h"
#include "crypto/x509.h"
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

class ApiClient {
 public:
  // `policy` appraises the node's certificate; nullopt skips that (tests of the server's own
  // refusals only).
  ApiClient(const std::string& host, uint16_t port, std::optional<ApiCredentials> credentials,
            std::optional<tee::Policy> policy, int timeout_s = 10);
  ~ApiClient();
  Result<HttpReply> get(const std::string& path);
  Result<HttpReply> post(const std::string& path, const std::string& body, const std::string& content_type = "application/json");

 private:
  struct Appraisal;
  std::unique_ptr<Appraisal> appraisal_;
  std::unique_ptr<httplib::SSLClient> http_;
  std::string target_;
};

}  // namespace supernet::node
