#include "net/http_request.h"

// Beast's internal assertions are for its own development: one of them is wrong (a request
// whose first chunk is the last one, "0\r\n", with trailers arriving a few bytes at a time
// trips `n >= 5` in parse_chunk_header, whose release code handles that case correctly;
// found by fuzz_http_request). This product keeps assertions on in every build, so a client
// could stop the node with it: Beast is used here as released builds use it, without them.
// Memory errors would still show under the fuzzer's sanitizers.
#define BOOST_DISABLE_ASSERTS 1
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <strings.h>

namespace supernet::net {

namespace http = boost::beast::http;

struct HttpRequestReader::Impl {
  http::request_parser<http::string_body> parser;
  bool header_reported = false;
};

HttpRequestReader::HttpRequestReader(HttpRequestLimits limits) : impl_(std::make_unique<Impl>()), limits_(limits) {
  auto& p = impl_->parser;
  p.header_limit(static_cast<std::uint32_t>(std::min<size_t>(limits_.header_bytes_max, UINT32_MAX)));
  p.body_limit(static_cast<std::uint64_t>(limits_.body_bytes_max));
  p.eager(false);  // stop after the headers, so that the caller can set the path's body limit
}

HttpRequestReader::~HttpRequestReader() = default;
HttpRequestReader::HttpRequestReader(HttpRequestReader&&) noexcept = default;
HttpRequestReader& HttpRequestReader::operator=(HttpRequestReader&&) noexcept = default;

HttpRequestReader::State HttpRequestReader::fail(int status, std::string code, std::string message) {
  error_status_ = status;
  error_code_ = std::move(code);
  error_message_ = std::move(message);
  return state_ = State::kError;
}

std::optional<std::string> percent_decode(std::string_view in, bool plus_is_space) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); i++) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return std::nullopt;
      int h = hex(in[i + 1]), l = hex(in[i + 2]);
      if (h < 0 || l < 0 || (h == 0 && l == 0)) return std::nullopt;
      out += static_cast<char>(h * 16 + l);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

HttpRequestReader::State HttpRequestReader::feed(std::string_view& data) {
  if (state_ == State::kError || state_ == State::kDone) return state_;
  auto& p = impl_->parser;
  for (;;) {
    if (p.is_header_done() && !impl_->header_reported) {
      impl_->header_reported = true;
      const auto& h = p.get();
      method_ = std::string(h.method_string());
      std::string_view target(h.target().data(), h.target().size());
      if (target.empty() || target[0] != '/') return fail(400, "bad_request", "the request target must be a path (origin-form)");
      size_t q = target.find('?');
      auto path = percent_decode(target.substr(0, q), false);
      if (!path) return fail(400, "bad_request", "the request path has a malformed percent-escape");
      path_ = std::move(*path);
      if (q != std::string_view::npos) query_text_ = std::string(target.substr(q + 1));
      return state_ = State::kHeaderDone;
    }
    if (p.is_done()) return state_ = State::kDone;
    if (data.empty()) return state_ = State::kNeedMore;
    boost::beast::error_code ec;
    size_t used = p.put(boost::asio::const_buffer(data.data(), data.size()), ec);
    data.remove_prefix(used);
    // Beast's contract: after need_more, the next call brings the unconsumed bytes and more
    // (calling again with no new byte trips its assertions: fuzz_http_request found it).
    if (ec == http::error::need_more) {
      // What Beast waits to see whole: the headers (it bounds those), a chunk's size line or the
      // trailers (it does not: bound them here, or a client could grow the buffer for as long as
      // the body deadline runs).
      if (p.is_header_done() && data.size() > limits_.header_bytes_max) {
        return fail(431, "headers_too_large", "a chunk header or the trailers are larger than " + std::to_string(limits_.header_bytes_max) + " bytes");
      }
      return state_ = State::kNeedMore;
    }
    if (ec == http::error::header_limit) {
      return fail(431, "headers_too_large", "the request line and headers are larger than " + std::to_string(limits_.header_bytes_max) + " bytes");
    }
    if (ec == http::error::body_limit) return fail(413, "too_large", "the body is larger than this endpoint takes");
    if (ec) return fail(400, "bad_request", "the HTTP request was not understood: " + ec.message());
    if (used == 0 && !p.is_header_done() && !p.is_done()) return state_ = State::kNeedMore;
  }
}

void HttpRequestReader::set_body_limit(size_t bytes) {
  if (state_ == State::kError) return;
  auto& p = impl_->parser;
  if (auto len = p.content_length(); len && *len > bytes) {
    fail(413, "too_large", "the body (" + std::to_string(*len) + " bytes by its Content-Length) is larger than the " + std::to_string(bytes) +
                               " bytes this endpoint takes");
    return;
  }
  if (!p.is_done()) p.body_limit(static_cast<std::uint64_t>(bytes));
}

std::optional<uint64_t> HttpRequestReader::content_length() const {
  auto len = impl_->parser.content_length();
  if (!len) return std::nullopt;
  return static_cast<uint64_t>(*len);
}

bool HttpRequestReader::expects_continue() const {
  const auto& h = impl_->parser.get();
  auto it = h.find(http::field::expect);
  if (it == h.end()) return false;
  auto v = it->value();
  return v.size() == 12 && strncasecmp(v.data(), "100-continue", 12) == 0;
}

ParsedRequest HttpRequestReader::take() {
  ParsedRequest r;
  auto msg = impl_->parser.release();
  r.method = std::move(method_);
  r.path = std::move(path_);
  r.keep_alive = msg.keep_alive();
  r.body = std::move(msg.body());
  std::string_view q = query_text_;
  while (!q.empty()) {
    size_t amp = q.find('&');
    std::string_view part = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
    if (part.empty()) continue;
    size_t eq = part.find('=');
    auto name = percent_decode(part.substr(0, eq), true);
    auto value = percent_decode(eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1), true);
    if (name && value && !name->empty()) r.query.emplace(std::move(*name), std::move(*value));
  }
  return r;
}

}  // namespace supernet::net
