// An event-driven HTTPS server on an Asio io_context: every connection is a coroutine on the
// io thread, so a silent or slow client costs a few kilobytes and a timer, never a thread.
// TLS 1.3 (the caller's SSL_CTX); requests parsed by net/http_request.h (Boost.Beast); one
// request at a time per connection (HTTP/1.1 keep-alive; pipelined requests wait in the
// socket). The handler runs on the io thread and answers through its Respond callback, at
// once or later (a request that waits for a commit).
//
// Bounds (HttpLimits, docs/api.md "Limits and floods"): deadlines for the TLS handshake, for
// a request's headers, for its body, for writing the answer and for an idle keep-alive
// connection; at most connections_max connections, connections_per_source_max from one
// address: past either, the oldest connection that is not a trusted client's (still
// handshaking, reading, idle) is closed to make room, then the oldest idle trusted one; if
// every one is busy with a trusted client's request the new one is closed. The accept loop
// never waits for any of this. Header and body limits apply before the bytes are kept; past
// in_flight_max requests being handled, the answer is 503 with Retry-After.
#pragma once

#include <openssl/ssl.h>

#include <asio/io_context.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "net/http_request.h"
#include "util/bytes.h"
#include "util/result.h"

namespace supernet::net {

struct HttpLimits {
  int64_t handshake_ms = 5000;  // TCP accept to the end of the TLS handshake
  int64_t header_ms = 5000;     // a request's first byte (or the handshake's end) to its last header
  int64_t body_ms = 60000;      // the end of the headers to the body's last byte
  int64_t write_ms = 10000;     // writing one answer
  int64_t idle_ms = 30000;      // a keep-alive connection between requests
  size_t connections_max = 1024;
  size_t connections_per_source_max = 256;
  size_t header_bytes_max = 16 * 1024;
  size_t in_flight_max = 512;  // requests handed to the handler and not yet answered, node-wide
  int retry_after_s = 1;
};

struct HttpRequest {
  ParsedRequest http;
  std::optional<Bytes> client_spki_sha256;  // the TLS client certificate's key, if one was sent
  Bytes tls_exporter;                       // api_exporter of the connection's TLS session
  std::string source;                       // the peer's address
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra ones (no CR or LF in them)
};

struct HttpStats {
  uint64_t connections = 0;   // open now
  uint64_t accepted = 0;
  uint64_t evicted = 0;       // closed to make room for a new connection
  uint64_t refused = 0;       // closed at accept: every slot busy with trusted clients' requests
  uint64_t timed_out_handshake = 0, timed_out_headers = 0, timed_out_body = 0, timed_out_write = 0, timed_out_idle = 0;
  uint64_t busy = 0;          // 503: in_flight_max reached
  uint64_t bad_requests = 0;  // refused by the parser (400, 413, 431)
  uint64_t requests = 0;      // handed to the handler
  uint64_t in_flight = 0;
};

class HttpServer {
 public:
  using Respond = std::function<void(HttpResponse)>;
  struct Hooks {
    // Called on the io thread; must call respond exactly once (later calls are ignored).
    std::function<void(HttpRequest, Respond)> handler;
    // The largest body a request for this path takes (at most the reader's 64 MiB).
    std::function<size_t(std::string_view method, std::string_view path)> body_limit;
    // A registered client's key (its connections are closed last to make room).
    std::function<bool(const Bytes& spki_sha256)> trusted;
    // Called when a request's headers are in, before its body is read: an answer here refuses
    // the request at once (an unauthenticated client's upload is never read). Optional.
    std::function<std::optional<HttpResponse>(std::string_view method, std::string_view path, const std::optional<Bytes>& client_spki_sha256)>
        before_body;
    // The answer for a request refused before the handler (status, code, message).
    std::function<HttpResponse(int status, const std::string& code, const std::string& message)> error;
  };
  // Takes ownership of `tls` (TLS 1.3, the server's certificate, the client-certificate rule).
  HttpServer(asio::io_context& io, SSL_CTX* tls, HttpLimits limits, Hooks hooks);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;
  // Binds host:port (0 picks one) and accepts on the io_context.
  Status start(const std::string& host, uint16_t port);
  // Closes the listener and every connection. From any thread.
  void stop();
  uint16_t port() const { return port_; }
  // On the io thread.
  HttpStats stats() const;
  const HttpLimits& limits() const { return limits_; }

 private:
  struct Impl;
  asio::io_context& io_;
  HttpLimits limits_;
  std::shared_ptr<Impl> impl_;
  uint16_t port_ = 0;
};

}  // namespace supernet::net
