// HTTP/1.1 requests from outside bytes, sans-IO: bytes in, requests (or a refusal with its
// status) out. Boost.Beast's parser does the HTTP itself (request line, headers, Content-Length
// and chunked bodies); this adds the server's limits and decodes the target. Fuzzed
// (fuzz/http_request_fuzz.cc); the event-driven server (net/http_server.h) drives it.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace supernet::net {

struct HttpRequestLimits {
  size_t header_bytes_max = 16 * 1024;     // request line and headers together
  size_t body_bytes_max = 64 * 1024 * 1024;  // the largest any path takes (set_body_limit lowers it)
};

struct ParsedRequest {
  std::string method;  // as sent ("GET", "POST", ...)
  std::string path;    // percent-decoded, without the query
  std::map<std::string, std::string> query;  // decoded ('+' is a space); a repeated name keeps the first
  std::string body;
  bool keep_alive = true;  // HTTP/1.1 default, Connection: close, HTTP/1.0 rules
};

class HttpRequestReader {
 public:
  enum class State { kNeedMore, kHeaderDone, kDone, kError };
  explicit HttpRequestReader(HttpRequestLimits limits = {});
  ~HttpRequestReader();
  HttpRequestReader(HttpRequestReader&&) noexcept;
  HttpRequestReader& operator=(HttpRequestReader&&) noexcept;

  // Consumes what it can of `data` (the rest stays in it: the next request's bytes, or a
  // partial header that needs more). Returns kHeaderDone once, when the headers are complete
  // (path() and content_length() are then known and the caller may lower the body limit),
  // kDone when the whole request is in, kError with error_status() on bad or oversized input.
  State feed(std::string_view& data);
  // After kHeaderDone: refuse a body over `bytes` (413 at once for a longer Content-Length,
  // while reading for a chunked one).
  void set_body_limit(size_t bytes);
  std::string_view path() const { return path_; }
  std::string_view method() const { return method_; }
  std::optional<uint64_t> content_length() const;
  bool expects_continue() const;  // "Expect: 100-continue"
  // After kDone: the request (the reader is then spent; make a new one for the next request).
  ParsedRequest take();

  int error_status() const { return error_status_; }     // 400, 413, 431
  const std::string& error_code() const { return error_code_; }  // "bad_request", "too_large", ...
  const std::string& error_message() const { return error_message_; }
  State state() const { return state_; }

 private:
  State fail(int status, std::string code, std::string message);
  struct Impl;
  std::unique_ptr<Impl> impl_;
  HttpRequestLimits limits_;
  State state_ = State::kNeedMore;
  std::string method_, path_, query_text_;
  int error_status_ = 0;
  std::string error_code_, error_message_;
};

// Percent-decoding of a path or a query component (plus_is_space for queries). nullopt for a
// malformed escape or a decoded NUL.
std::optional<std::string> percent_decode(std::string_view in, bool plus_is_space);

}  // namespace supernet::net
