#include "net/http_server.h"

#include <openssl/x509.h>

#include <array>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/redirect_error.hpp>
#include <asio/ssl.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <boost/beast/http/status.hpp>
#include <chrono>
#include <future>
#include <map>

#include "crypto/x509.h"
#include "net/ratls.h"
#include "util/log.h"

namespace supernet::net {

using asio::awaitable;
using asio::use_awaitable;
using tcp = asio::ip::tcp;

namespace {

enum class Phase { kHandshake, kHeaders, kBody, kHandling, kWriting, kIdle, kDraining };

// After refusing a request whose body is still coming (413 from its length), what the client
// sends is read and thrown away for a moment, so that it sees the answer instead of a reset.
constexpr int64_t kDrainMs = 2000;
constexpr size_t kDrainBytesMax = 8 * 1024 * 1024;

std::string serialize(const HttpResponse& r, bool head, bool keep_alive) {
  auto reason = boost::beast::http::obsolete_reason(boost::beast::http::int_to_status(static_cast<unsigned>(r.status)));
  std::string out;
  out.reserve(160 + (head ? 0 : r.body.size()));
  out += "HTTP/1.1 " + std::to_string(r.status) + " " + std::string(reason.data(), reason.size()) + "\r\n";
  out += "Content-Type: " + r.content_type + "\r\nContent-Length: " + std::to_string(r.body.size()) + "\r\n";
  for (const auto& [k, v] : r.headers) out += k + ": " + v + "\r\n";
  if (!keep_alive) out += "Connection: close\r\n";
  out += "\r\n";
  if (!head) out += r.body;
  return out;
}

}  // namespace

struct HttpServer::Impl : std::enable_shared_from_this<HttpServer::Impl> {
  struct Conn {
    Conn(asio::io_context& io, tcp::socket s, asio::ssl::context& ctx) : stream(std::move(s), ctx), deadline(io), wake(io) {}
    uint64_t id = 0;
    std::string source;
    asio::ssl::stream<tcp::socket> stream;
    asio::steady_timer deadline, wake;
    uint64_t deadline_gen = 0;
    Phase phase = Phase::kHandshake;
    bool trusted = false;
    bool closed = false;
    uint64_t request_gen = 0;
    std::optional<HttpResponse> response;
    std::array<char, 16 * 1024> rbuf;
  };
  using ConnPtr = std::shared_ptr<Conn>;

  Impl(asio::io_context& i, SSL_CTX* tls, HttpLimits l, Hooks h) : io(i), ctx(tls), limits(l), hooks(std::move(h)), acceptor(i), retry(i) {}

  asio::io_context& io;
  asio::ssl::context ctx;
  HttpLimits limits;
  Hooks hooks;
  tcp::acceptor acceptor;
  asio::steady_timer retry;  // accept errors (no file descriptors left): wait, never spin
  std::map<uint64_t, ConnPtr> conns;  // by accept order: the first is the oldest
  std::map<std::string, size_t> per_source;
  uint64_t next_id = 0;
  HttpStats stats;
  bool stopped = false;
  LogLimiter log_limit;

  void drop(const ConnPtr& c) {
    if (c->closed) return;
    c->closed = true;
    conns.erase(c->id);
    if (auto it = per_source.find(c->source); it != per_source.end() && --it->second == 0) per_source.erase(it);
    asio::error_code ignored;
    c->stream.lowest_layer().shutdown(tcp::socket::shutdown_both, ignored);
    c->stream.lowest_layer().close(ignored);
    c->deadline.cancel();
    c->wake.cancel();
  }

  void arm(const ConnPtr& c, Phase phase, int64_t ms) {
    c->phase = phase;
    uint64_t gen = ++c->deadline_gen;
    c->deadline.expires_after(std::chrono::milliseconds(ms));
    c->deadline.async_wait([self = shared_from_this(), c, gen](asio::error_code ec) {
      if (ec || c->closed || gen != c->deadline_gen) return;
      switch (c->phase) {
        case Phase::kHandshake: self->stats.timed_out_handshake++; break;
        case Phase::kHeaders: self->stats.timed_out_headers++; break;
        case Phase::kBody: self->stats.timed_out_body++; break;
        case Phase::kWriting: self->stats.timed_out_write++; break;
        case Phase::kIdle: self->stats.timed_out_idle++; break;
        case Phase::kDraining: break;
        case Phase::kHandling: return;  // the handler bounds its own waits
      }
      self->drop(c);
    });
  }

  void disarm(const ConnPtr& c) {
    ++c->deadline_gen;
    c->deadline.cancel();
  }

  // The connection to close to make room: the oldest not a trusted client's (restricted to
  // `source` when that address is over its cap), then the oldest idle trusted one.
  ConnPtr victim(const std::string* source) {
    for (const auto& [id, c] : conns) {
      if (source && c->source != *source) continue;
      if ((!c->trusted && c->phase != Phase::kHandling && c->phase != Phase::kWriting) || c->phase == Phase::kDraining) return c;
    }
    for (const auto& [id, c] : conns) {
      if (source && c->source != *source) continue;
      if (c->phase == Phase::kIdle) return c;
    }
    return nullptr;
  }

  bool make_room(const std::string& source) {
    for (;;) {
      auto it = per_source.find(source);
      bool source_full = it != per_source.end() && it->second >= std::max<size_t>(limits.connections_per_source_max, 1);
      bool total_full = conns.size() >= std::max<size_t>(limits.connections_max, 1);
      if (!source_full && !total_full) return true;
      ConnPtr v = victim(source_full ? &source : nullptr);
      if (!v) return false;
      stats.evicted++;
      drop(v);
    }
  }

  void warn(std::string_view kind, const std::string& source, const std::string& message) {
    log_limit.log(LogLevel::kWarn, "api", kind, source, message, steady_ms());
  }

  static awaitable<void> accept_loop(std::shared_ptr<Impl> self) {
    while (!self->stopped) {
      asio::error_code ec;
      tcp::socket socket = co_await self->acceptor.async_accept(asio::redirect_error(use_awaitable, ec));
      if (self->stopped) break;
      if (ec) {
        self->warn("accept", "", "cannot accept an API connection: " + ec.message());
        self->retry.expires_after(std::chrono::milliseconds(100));
        co_await self->retry.async_wait(asio::redirect_error(use_awaitable, ec));
        continue;
      }
      self->admit(std::move(socket));
    }
  }

  void admit(tcp::socket socket) {
    asio::error_code ec;
    auto remote = socket.remote_endpoint(ec);
    std::string source = ec ? std::string("?") : remote.address().to_string();
    stats.accepted++;
    if (!make_room(source)) {
      stats.refused++;
      warn("refused", source, "refused an API connection from " + source + ": every connection slot is busy with registered clients' requests");
      socket.close(ec);
      return;
    }
    socket.set_option(tcp::no_delay(true), ec);
    auto c = std::make_shared<Conn>(io, std::move(socket), ctx);
    c->id = ++next_id;
    c->source = source;
    conns.emplace(c->id, c);
    per_source[source]++;
    asio::co_spawn(io, session(shared_from_this(), c), asio::detached);
  }

  static awaitable<void> write(std::shared_ptr<Impl> self, ConnPtr c, const std::string& bytes) {
    self->arm(c, Phase::kWriting, self->limits.write_ms);
    asio::error_code ec;
    co_await asio::async_write(c->stream, asio::buffer(bytes), asio::redirect_error(use_awaitable, ec));
    if (ec) self->drop(c);
  }

  // Answers and closes a connection whose request is refused before its body was read: what the
  // client still sends is read and dropped for a moment, so that it sees the answer.
  static awaitable<void> refuse(std::shared_ptr<Impl> self, ConnPtr c, HttpResponse r) {
    co_await write(self, c, serialize(r, false, false));
    self->arm(c, Phase::kDraining, kDrainMs);
    asio::error_code ec;
    for (size_t drained = 0; !c->closed && drained < kDrainBytesMax;) {
      drained += co_await c->stream.async_read_some(asio::buffer(c->rbuf), asio::redirect_error(use_awaitable, ec));
      if (ec) break;
    }
    self->drop(c);
  }

  static awaitable<void> session(std::shared_ptr<Impl> self, ConnPtr c) {
    asio::error_code ec;
    self->arm(c, Phase::kHandshake, self->limits.handshake_ms);
    co_await c->stream.async_handshake(asio::ssl::stream_base::server, asio::redirect_error(use_awaitable, ec));
    if (ec || c->closed) {
      self->drop(c);
      co_return;
    }
    std::optional<Bytes> spki;
    Bytes exporter;
    SSL* ssl = c->stream.native_handle();
    if (X509* peer = SSL_get0_peer_certificate(ssl)) {
      X509_up_ref(peer);
      if (auto cert = crypto::Certificate::adopt(peer); cert.ok()) spki = cert->spki_sha256();
    }
    if (auto e = api_exporter(ssl); e.ok()) exporter = std::move(e).value();
    c->trusted = spki && self->hooks.trusted && self->hooks.trusted(*spki);

    std::string pending;  // bytes read and not yet parsed (a partial header, the next request)
    bool first = true;
    while (!c->closed && !self->stopped) {
      HttpRequestReader reader(HttpRequestLimits{self->limits.header_bytes_max, 64 * 1024 * 1024});
      if (first || !pending.empty()) {
        self->arm(c, Phase::kHeaders, self->limits.header_ms);
      } else {
        self->arm(c, Phase::kIdle, self->limits.idle_ms);
      }
      HttpRequestReader::State st;
      for (;;) {
        std::string_view view(pending);
        st = reader.feed(view);
        pending.erase(0, pending.size() - view.size());
        if (st == HttpRequestReader::State::kHeaderDone) {
          if (self->hooks.before_body) {
            if (auto refusal = self->hooks.before_body(reader.method(), reader.path(), spki)) {
              co_await refuse(self, c, std::move(*refusal));
              co_return;
            }
          }
          size_t limit = self->hooks.body_limit ? self->hooks.body_limit(reader.method(), reader.path()) : 0;
          reader.set_body_limit(limit);
          if (reader.state() == HttpRequestReader::State::kError) {
            st = reader.state();
            break;
          }
          self->arm(c, Phase::kBody, self->limits.body_ms);
          if (reader.expects_continue() && pending.empty()) {
            co_await write(self, c, "HTTP/1.1 100 Continue\r\n\r\n");
            if (c->closed) co_return;
            self->arm(c, Phase::kBody, self->limits.body_ms);
          }
          continue;
        }
        if (st != HttpRequestReader::State::kNeedMore) break;
        size_t n = co_await c->stream.async_read_some(asio::buffer(c->rbuf), asio::redirect_error(use_awaitable, ec));
        if (ec || c->closed) {
          self->drop(c);
          co_return;
        }
        if (c->phase == Phase::kIdle) self->arm(c, Phase::kHeaders, self->limits.header_ms);
        pending.append(c->rbuf.data(), n);
      }
      if (st == HttpRequestReader::State::kError) {
        // The rest of the stream cannot be framed: answer and close.
        self->stats.bad_requests++;
        co_await refuse(self, c, self->hooks.error(reader.error_status(), reader.error_code(), reader.error_message()));
        co_return;
      }
      HttpRequest req;
      req.http = reader.take();
      req.client_spki_sha256 = spki;
      req.tls_exporter = exporter;
      req.source = c->source;
      bool head = req.http.method == "HEAD";
      bool keep_alive = req.http.keep_alive;
      HttpResponse resp;
      if (self->stats.in_flight >= std::max<size_t>(self->limits.in_flight_max, 1)) {
        self->stats.busy++;
        resp = self->hooks.error(503, "busy", "the node is answering " + std::to_string(self->stats.in_flight) + " requests; retry shortly");
        resp.headers.emplace_back("Retry-After", std::to_string(self->limits.retry_after_s));
      } else {
        self->disarm(c);
        c->phase = Phase::kHandling;
        c->response.reset();
        uint64_t gen = ++c->request_gen;
        self->stats.requests++;
        self->stats.in_flight++;
        std::weak_ptr<Conn> weak = c;
        self->hooks.handler(std::move(req), [weak, gen](HttpResponse r) {
          auto conn = weak.lock();
          if (!conn || conn->closed || conn->request_gen != gen || conn->response) return;
          conn->response = std::move(r);
          conn->wake.cancel();
        });
        while (!c->response && !c->closed) {
          c->wake.expires_at(asio::steady_timer::time_point::max());
          co_await c->wake.async_wait(asio::redirect_error(use_awaitable, ec));
        }
        self->stats.in_flight--;
        ++c->request_gen;  // a late second answer finds nothing to fill
        if (c->closed) co_return;
        resp = std::move(*c->response);
        c->response.reset();
      }
      co_await write(self, c, serialize(resp, head, keep_alive));
      if (c->closed) co_return;
      if (!keep_alive) {
        self->drop(c);
        co_return;
      }
      first = false;
    }
    self->drop(c);
  }

  void shutdown() {
    if (stopped) return;
    stopped = true;
    asio::error_code ignored;
    acceptor.close(ignored);
    retry.cancel();
    while (!conns.empty()) drop(conns.begin()->second);
  }
};

HttpServer::HttpServer(asio::io_context& io, SSL_CTX* tls, HttpLimits limits, Hooks hooks)
    : io_(io), limits_(limits), impl_(std::make_shared<Impl>(io, tls, limits, std::move(hooks))) {}

HttpServer::~HttpServer() { stop(); }

Status HttpServer::start(const std::string& host, uint16_t port) {
  ignore_sigpipe();  // a client that hangs up mid-answer must not kill the process
  asio::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec) return make_error("api.listen", "not an IP address to listen on: " + host);
  tcp::endpoint ep(addr, port);
  auto& a = impl_->acceptor;
  a.open(ep.protocol(), ec);
  if (!ec) a.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) a.bind(ep, ec);
  if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return make_error("api.listen", "cannot listen for the API on " + host + ":" + std::to_string(port) + ": " + ec.message());
  port_ = a.local_endpoint().port();
  asio::co_spawn(io_, Impl::accept_loop(impl_), asio::detached);
  return ok_status();
}

void HttpServer::stop() {
  if (!impl_) return;
  auto impl = impl_;
  if (io_.get_executor().running_in_this_thread() || io_.stopped()) {
    impl->shutdown();
    return;
  }
  auto done = std::make_shared<std::promise<void>>();
  auto f = done->get_future();
  asio::post(io_, [impl, done] {
    impl->shutdown();
    done->set_value();
  });
  // The io_context may not be running at all (a server started and stopped before run()).
  if (f.wait_for(std::chrono::seconds(2)) != std::future_status::ready) impl->shutdown();
}

HttpStats HttpServer::stats() const {
  HttpStats s = impl_->stats;
  s.connections = impl_->conns.size();
  return s;
}

}  // namespace supernet::net
