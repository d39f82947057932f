#include "net/transport.h"

#include <asio.hpp>
#include <asio/ssl.hpp>
#include <deque>
#include <set>
#include <openssl/ssl.h>

#include "crypto/keys.h"
#include "crypto/secure.h"
#include "tee/evidence.h"
#include "util/codec.h"
#include "util/log.h"
#include "util/time.h"

namespace supernet::net {

namespace {

using asio::awaitable;
using asio::use_awaitable;
using tcp = asio::ip::tcp;

#if defined(SUPERNET_BENCH_UNPROTECTED)
// A benchmark-only build of this file (bench/CMakeLists.txt compiles it a second time with this
// define, for bench_fl_round_unprotected alone, to measure what the protections cost): plain
// TCP, no TLS, no attestation, an unsigned hello. The product's library and executables are
// never compiled with it; ctest's build.no_unprotected_code checks that this marker is absent
// from them.
constexpr char kUnprotectedMarker[] = "SUPERNET-UNPROTECTED-BENCHMARK-BUILD: peer channels without TLS or attestation";
using Stream = tcp::socket;
#else
using Stream = asio::ssl::stream<tcp::socket>;
#endif

// Raised inside a session's coroutine to end it; the reason is logged.
struct SessionEnd {
  std::string reason;
};

constexpr size_t kWriteBatchBytes = 256 * 1024;
constexpr size_t kInstanceBytes = 16;
constexpr size_t kSupersededInstancesMax = 64;  // remembered per validator

awaitable<void> write_frame(Stream& s, ByteView data) {
  if (data.size() > kFrameBytesMax) throw SessionEnd{"frame over the limit"};
  Bytes buf(4 + data.size());
  store_be32(buf.data(), static_cast<uint32_t>(data.size()));
  std::copy(data.begin(), data.end(), buf.begin() + 4);
  co_await asio::async_write(s, asio::buffer(buf), use_awaitable);
}

awaitable<Bytes> read_frame(Stream& s) {
  uint8_t hdr[4];
  co_await asio::async_read(s, asio::buffer(hdr, 4), use_awaitable);
  uint32_t len = load_be32(hdr);
  if (len > kFrameBytesMax) throw SessionEnd{"peer announced a frame of " + std::to_string(len) + " bytes, over the limit"};
  Bytes out(len);
  co_await asio::async_read(s, asio::buffer(out.data(), len), use_awaitable);
  co_return out;
}

#if !defined(SUPERNET_BENCH_UNPROTECTED)
Bytes hello_bytes(ByteView exporter, uint32_t id, ByteView instance) {
  Writer w;
  w.str("supernet-hello-v2").fixed(exporter).u32(id).fixed(instance);
  return w.take();
}
#endif

}  // namespace

// GCC 12 reports a mismatched new/delete inside Asio's coroutine frames (its own operator new
// and delete, paired correctly); a known false positive of its coroutine lowering.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

struct Transport::Impl : std::enable_shared_from_this<Transport::Impl> {
  struct Link {
    std::shared_ptr<Stream> stream;
    std::deque<Bytes> queue;
    std::unique_ptr<asio::steady_timer> wake;
  };

  Impl(asio::io_context& io, TransportConfig c, OnFrame f)
      : io(io), cfg(std::move(c)), on_frame(std::move(f)), acceptor(io), instance(crypto::random_bytes(kInstanceBytes)) {}

  asio::io_context& io;
  LogLimiter log_limit;
  TransportConfig cfg;
  OnFrame on_frame;
  tcp::acceptor acceptor;
  std::unique_ptr<asio::ssl::context> server_ctx, client_ctx;
  std::map<uint32_t, Link> links;
  std::set<uint32_t> banned;
  std::set<uint32_t> dialing;  // peers with a dial loop running
  bool stopped = false;
  // Sessions still attesting (not yet links): stop() closes them too, or one that completes
  // its handshake after stop() would keep its peer connected to a transport that is gone.
  // Keyed by arrival, so the oldest goes first when there are attesting_max of them.
  std::map<uint64_t, std::shared_ptr<Stream>> attesting_streams;
  uint64_t attesting_seq = 0;
  Bytes instance;  // this process's instance id
  std::map<uint32_t, Bytes> peer_instance;                 // the live instance of each validator
  std::map<uint32_t, std::deque<Bytes>> superseded;        // instances a newer one replaced
  std::map<uint32_t, Appraisal> appraisals;                // the last one of each peer

  // What a session keeps from its handshake to attest the peer again later.
  struct Attested {
    uint32_t peer = 0;
    Bytes exporter;
    std::optional<crypto::Certificate> cert;
    std::optional<tee::Claims> claims;
    Binding binding;
    tee::Claims fresh;  // the handshake's fresh evidence
    Bytes fresh_evidence;  // its bytes
  };
  // One re-attestation in flight per session.
  struct Reattest {
    Bytes nonce;  // empty: none pending
    std::optional<std::chrono::steady_clock::time_point> answered;  // when this side last answered
    std::unique_ptr<asio::steady_timer> timer;  // the requester's; an answer cancels its wait
    // The peer's latest fresh evidence that passed, and when: a policy change re-appraises it
    // at once (reappraise_all), without waiting for the next re-attestation.
    std::optional<tee::Claims> claims;
    Bytes evidence;  // those claims' evidence: new collateral verifies it again
    UnixSeconds checked_at = 0;
    std::weak_ptr<Stream> stream;
  };
  std::map<uint32_t, std::weak_ptr<Reattest>> live;  // peer -> its admitted session's

  // The policy changed: every admitted peer's latest fresh evidence is appraised again under it
  // (as of when it was checked, so that only the new rules decide), and a peer that no longer
  // passes is cut off now. The others are re-attested at their next interval as always.
  // `recheck`: new collateral, so each peer's evidence is verified again too (a CRL that revokes
  // its certificate, TCB info that rates its TCB out of date).
  void reappraise_all(bool recheck = false) {
    for (auto it = live.begin(); it != live.end();) {
      auto r = it->second.lock();
      auto stream = r ? r->stream.lock() : nullptr;
      if (!r || !stream) {
        it = live.erase(it);
        continue;
      }
      uint32_t peer = it->first;
      ++it;
      if (!r->claims || link(peer).stream != stream) continue;
      std::string failure;
      tee::Claims claims = *r->claims;
      if (recheck && !r->evidence.empty()) {
        auto again = tee::verify_evidence(r->evidence, cfg.ratls.collateral, r->checked_at);
        if (again.ok()) {
          claims = std::move(*again);
        } else {
          failure = "its evidence does not verify with the new collateral: " + again.error().to_string();
        }
      }
      if (failure.empty()) {
        tee::Appraisal a = tee::appraise(cfg.ratls.policy, claims, r->checked_at, ByteView(claims.report_data));
        for (const auto& f : a.failures) failure += (failure.empty() ? "" : "; ") + f;
      }
      if (failure.empty()) continue;
      appraised(peer, false, std::string(recheck ? "the collateral" : "the policy") + " changed and the peer's evidence no longer passes: " + failure);
      log(LogLevel::kWarn, "transport", "node " + std::to_string(peer) + " no longer passes the policy: " + failure + " (disconnected)");
      asio::error_code ignored;
      stream->lowest_layer().close(ignored);
    }
  }

  void appraised(uint32_t peer, bool passed, std::string verdict) {
    Appraisal& a = appraisals[peer];
    a.unix_ms = static_cast<int64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                         std::chrono::system_clock::now().time_since_epoch()).count());
    a.passed = passed;
    a.verdict = std::move(verdict);
    a.count++;
  }

  Link& link(uint32_t id) {
    Link& l = links[id];
    if (!l.wake) {
      l.wake = std::make_unique<asio::steady_timer>(io);
      l.wake->expires_at(asio::steady_timer::time_point::max());
    }
    return l;
  }

  Status start() {
#if defined(SUPERNET_BENCH_UNPROTECTED)
    log(LogLevel::kWarn, "transport", kUnprotectedMarker);
#else
    for (bool server : {true, false}) {
      SN_ASSIGN(SSL_CTX * raw, make_tls_context(cfg.ratls, server));
      (server ? server_ctx : client_ctx) = std::make_unique<asio::ssl::context>(raw);  // takes ownership
    }
#endif
    asio::error_code ec;
    tcp::endpoint ep(asio::ip::make_address(cfg.listen_host, ec), cfg.listen_port);
    if (ec) return make_error("net.address", "'" + cfg.listen_host + "' is not an IP address");
    acceptor.open(ep.protocol(), ec);
    if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor.bind(ep, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return make_error("net.listen", "cannot listen on " + cfg.listen_host + ":" + std::to_string(cfg.listen_port) + ": " + ec.message());
    auto self = shared_from_this();
    asio::co_spawn(io, accept_loop(self), asio::detached);
    for (const auto& peer : cfg.dial) {
      dialing.insert(peer.id);
      asio::co_spawn(io, dial_loop(self, peer), asio::detached);
    }
    return ok_status();
  }

  void stop() {
    stopped = true;
    asio::error_code ec;
    acceptor.close(ec);
    for (auto& [id, l] : links) {
      if (l.stream) l.stream->lowest_layer().close(ec);
      l.wake->cancel();
    }
    for (auto& [seq, s] : attesting_streams) s->lowest_layer().close(ec);
    attesting_streams.clear();
  }

  static awaitable<void> accept_loop(std::shared_ptr<Impl> self) {
    while (!self->stopped) {
      asio::error_code ec;
      tcp::socket socket = co_await self->acceptor.async_accept(asio::redirect_error(use_awaitable, ec));
      if (ec) {
        if (self->stopped) co_return;
        continue;
      }
      asio::co_spawn(self->io, session(self, std::move(socket), true, 0), asio::detached);
    }
  }

  static awaitable<void> dial_loop(std::shared_ptr<Impl> self, PeerAddress peer) {
    int64_t backoff = self->cfg.reconnect_ms_min;
    asio::steady_timer timer(self->io);
    while (!self->stopped && self->cfg.identity_keys.count(peer.id)) {  // until the peer is removed
      asio::error_code ec;
      tcp::socket socket(self->io);
      auto addr = asio::ip::make_address(peer.host, ec);
      if (!ec) co_await socket.async_connect(tcp::endpoint(addr, peer.port), asio::redirect_error(use_awaitable, ec));
      if (!ec) {
        bool attested = co_await session(self, std::move(socket), false, peer.id);
        if (attested) backoff = self->cfg.reconnect_ms_min;
      }
      if (self->stopped) co_return;
      timer.expires_after(std::chrono::milliseconds(backoff));
      co_await timer.async_wait(asio::redirect_error(use_awaitable, ec));
      backoff = std::min(backoff * 2, self->cfg.reconnect_ms_max);
    }
  }

  // One connection: attest, identify, then read frames until it ends. Returns whether the
  // peer was admitted.
  static awaitable<bool> session(std::shared_ptr<Impl> self, tcp::socket socket, bool server, uint32_t expected) {
    asio::error_code remote_ec;
    auto remote = socket.remote_endpoint(remote_ec);
    std::string source = remote_ec ? std::string("?") : remote.address().to_string();
    // Frames go out as soon as they are written: consensus and FL messages are small
    // request/response exchanges, which Nagle's algorithm and delayed ACKs stall by ~40 ms.
    asio::error_code nodelay_ec;
    socket.set_option(tcp::no_delay(true), nodelay_ec);
#if defined(SUPERNET_BENCH_UNPROTECTED)
    auto stream = std::make_shared<Stream>(std::move(socket));
#else
    auto stream = std::make_shared<Stream>(std::move(socket), server ? *self->server_ctx : *self->client_ctx);
#endif
    uint32_t peer = 0;
    bool admitted = false;
    std::string reason;
    // A peer that stalls the attestation is cut off. The flag is shared: the handler may run
    // after this coroutine has ended.
    auto attesting = std::make_shared<bool>(true);
    if (self->stopped) co_return false;
    while (!self->attesting_streams.empty() && self->attesting_streams.size() >= std::max<size_t>(self->cfg.attesting_max, 1)) {
      asio::error_code ignored;
      self->attesting_streams.begin()->second->lowest_layer().close(ignored);  // its session ends and logs why
      self->attesting_streams.erase(self->attesting_streams.begin());
    }
    const uint64_t seq = ++self->attesting_seq;
    self->attesting_streams.emplace(seq, stream);
    asio::steady_timer deadline(self->io);
    deadline.expires_after(std::chrono::milliseconds(self->cfg.handshake_timeout_ms));
    deadline.async_wait([stream, attesting](asio::error_code ec) {
      if (!ec && *attesting) {
        asio::error_code ignored;
        stream->lowest_layer().close(ignored);
      }
    });
    // The session's re-attestation state; its end cancels the requester's wait (which holds
    // the stream), so that a peer that reconnects often leaves no closed streams behind.
    auto pending = std::make_shared<Reattest>();
    try {
      Attested attested = co_await self->attest(*stream, server, expected);
      peer = attested.peer;
      self->attesting_streams.erase(seq);
      if (self->stopped) throw SessionEnd{"stopped"};
      admitted = true;
      *attesting = false;
      deadline.cancel();
      self->admit(peer, stream);
#if !defined(SUPERNET_BENCH_UNPROTECTED)
      pending->claims = attested.fresh;
      pending->evidence = attested.fresh_evidence;
      pending->checked_at = now_unix();
      pending->stream = stream;
      self->live[peer] = pending;
      if (self->cfg.reattest_ms > 0) asio::co_spawn(self->io, reattester(self, peer, stream, pending), asio::detached);
#endif
      while (true) {
        Bytes frame = co_await read_frame(*stream);
        // A read that completed just before stop() must not reach an owner that is gone.
        if (self->stopped) break;
#if !defined(SUPERNET_BENCH_UNPROTECTED)
        if (self->reattest_frame(peer, attested, *pending, frame)) continue;
#endif
        self->on_frame(peer, std::move(frame));
      }
    } catch (const SessionEnd& e) {
      reason = e.reason;
    } catch (const std::system_error& e) {
      reason = e.code().message();
    }
    *attesting = false;
    deadline.cancel();
    if (pending->timer) pending->timer->cancel();
    self->attesting_streams.erase(seq);
    if (admitted) {
      Link& l = self->link(peer);
      if (l.stream == stream) l.stream.reset();
      if (!self->stopped) log(LogLevel::kInfo, "transport", "connection to node " + std::to_string(peer) + " ended: " + reason);
    } else if (!self->stopped) {
      // Anyone who reaches the port can cause this line: at most one per source every 10 s.
      self->log_limit.log(LogLevel::kWarn, "transport", server ? "refused incoming" : "refused outgoing", source,
                          std::string("refused ") + (server ? "incoming" : "outgoing") + " peer " + source + ": " + reason, steady_ms());
    }
    asio::error_code ignored;
    stream->lowest_layer().close(ignored);
    co_return admitted;
  }

  // The peer's validator id from its hello, if it may connect here.
  uint32_t admissible(Result<uint32_t> id, bool server, uint32_t expected) const {
    if (!id.ok()) throw SessionEnd{"malformed hello"};
    if (!cfg.identity_keys.count(*id) || *id == cfg.self) throw SessionEnd{"hello from unknown node " + std::to_string(*id)};
    if (server ? *id >= cfg.self : *id != expected) throw SessionEnd{"node " + std::to_string(*id) + " is not the expected peer"};
    if (banned.count(*id)) throw SessionEnd{"node " + std::to_string(*id) + " is isolated for misbehaviour"};
    return *id;
  }

#if defined(SUPERNET_BENCH_UNPROTECTED)
  awaitable<Attested> attest(Stream& stream, bool server, uint32_t expected) {
    Writer hello;
    hello.u32(cfg.self);
    co_await write_frame(stream, hello.data());
    Bytes theirs = co_await read_frame(stream);
    Reader r(theirs);
    auto id = r.u32();
    Attested a;
    a.peer = admissible(r.done() ? id : Result<uint32_t>(make_error("net.hello", "malformed")), server, expected);
    co_return a;
  }
#else
  awaitable<Attested> attest(Stream& stream, bool server, uint32_t expected) {
    PeerVerification pv;
    pv.cfg = &cfg.ratls;
    attach_verification(stream.native_handle(), &pv);
    asio::error_code ec;
    co_await stream.async_handshake(server ? asio::ssl::stream_base::server : asio::ssl::stream_base::client,
                                    asio::redirect_error(use_awaitable, ec));
    attach_verification(stream.native_handle(), nullptr);
    if (ec || !pv.claims || !pv.cert) throw SessionEnd{!pv.failure.empty() ? pv.failure : "TLS handshake failed: " + ec.message()};
    auto exporter = freshness_exporter(stream.native_handle());
    if (!exporter.ok()) throw SessionEnd{exporter.error().to_string()};
    auto mine = make_fresh_evidence(cfg.ratls, *exporter);
    if (!mine.ok()) throw SessionEnd{mine.error().to_string()};
    co_await write_frame(stream, *mine);
    Bytes theirs = co_await read_frame(stream);
    tee::Claims fresh;
    if (auto s = check_fresh_evidence(cfg.ratls, *exporter, *pv.cert, *pv.claims, pv.binding, theirs, &fresh); !s.ok()) {
      if (expected != 0) appraised(expected, false, s.error().to_string());
      throw SessionEnd{s.error().to_string()};
    }
    // Hello: bind the session to validator ids with the identity keys.
    Writer hello;
    hello.u32(cfg.self).fixed(instance).fixed(crypto::ed25519_sign(cfg.identity_secret, hello_bytes(*exporter, cfg.self, instance)));
    co_await write_frame(stream, hello.data());
    Bytes theirs_hello = co_await read_frame(stream);
    Reader r(theirs_hello);
    auto id = r.u32();
    auto their_instance = r.fixed(kInstanceBytes);
    auto sig = r.fixed(64);
    if (!their_instance.ok() || !sig.ok() || !r.done()) throw SessionEnd{"malformed hello"};
    uint32_t peer = admissible(id, server, expected);
    if (!crypto::ed25519_verify(cfg.identity_keys.at(peer), hello_bytes(*exporter, peer, *their_instance), *sig)) {
      throw SessionEnd{"hello of node " + std::to_string(peer) + " is not signed by its identity key"};
    }
    // The attested certificate must bind this validator's identity key: a stolen identity key
    // with a certificate from elsewhere (the developer tools, another node) is refused.
    if (!crypto::ct_equal(pv.binding.identity_key, cfg.identity_keys.at(peer))) {
      throw SessionEnd{"the certificate of node " + std::to_string(peer) + " binds another identity key than the genesis lists for it"};
    }
    check_instance(peer, to_bytes(*their_instance));
    co_await write_frame(stream, as_bytes(kAttestedConfirmation));
    Bytes confirm = co_await read_frame(stream);
    if (to_string(confirm) != kAttestedConfirmation) throw SessionEnd{"peer did not confirm"};
    appraised(peer, true, "passed");
    co_return Attested{peer, to_bytes(*exporter), std::move(pv.cert), std::move(pv.claims), pv.binding, std::move(fresh), std::move(theirs)};
  }
#endif

#if !defined(SUPERNET_BENCH_UNPROTECTED)
  // Re-attestation frames on a live session ("SNRA" nonce: attest again; "SNRB" evidence: the
  // answer). The evidence binds the session's exporter and the nonce; a failure ends the
  // session with the check that failed. True when the frame was one of these.
  static Bytes reattest_binding(ByteView exporter, ByteView nonce) {
    Writer w;
    w.str("supernet-reattest-v1").fixed(exporter).fixed(nonce);
    return crypto::sha256(w.data());
  }

  bool reattest_frame(uint32_t peer, const Attested& a, Reattest& pending, const Bytes& frame) {
    if (frame.size() < 4) return false;
    std::string magic(frame.begin(), frame.begin() + 4);
    if (magic == "SNRA") {
      if (frame.size() != 4 + 32) throw SessionEnd{"malformed re-attestation request"};
      auto now = std::chrono::steady_clock::now();
      if (pending.answered && now - *pending.answered < std::chrono::milliseconds(cfg.reattest_answer_min_ms)) {
        throw SessionEnd{"re-attestation requested more often than every " + std::to_string(cfg.reattest_answer_min_ms) + " ms"};
      }
      pending.answered = now;
      auto evidence = make_fresh_evidence(cfg.ratls, reattest_binding(a.exporter, ByteView(frame).subspan(4)));
      if (!evidence.ok()) throw SessionEnd{"cannot attest again: " + evidence.error().to_string()};
      Bytes answer = to_bytes("SNRB");
      answer.insert(answer.end(), evidence->begin(), evidence->end());
      send(peer, std::move(answer));
      return true;
    }
    if (magic != "SNRB") return false;
    if (pending.nonce.empty()) throw SessionEnd{"an unrequested re-attestation answer"};
    Bytes nonce = std::move(pending.nonce);
    pending.nonce.clear();
    tee::Claims fresh;
    auto s = check_fresh_evidence(cfg.ratls, reattest_binding(a.exporter, nonce), *a.cert, *a.claims, a.binding, ByteView(frame).subspan(4), &fresh);
    if (!s.ok()) {
      appraised(peer, false, "re-attestation failed: " + s.error().to_string());
      log(LogLevel::kWarn, "transport", "node " + std::to_string(peer) + " failed its re-attestation: " + s.error().to_string());
      throw SessionEnd{"re-attestation failed: " + s.error().to_string()};
    }
    appraised(peer, true, "passed");
    pending.claims = std::move(fresh);
    pending.evidence = to_bytes(ByteView(frame).subspan(4));
    pending.checked_at = now_unix();
    if (pending.timer) pending.timer->cancel();  // the next interval starts now
    return true;
  }

  // Every reattest_ms while this session is the peer's link: a fresh nonce; no answer within
  // reattest_timeout_ms closes the session.
  static awaitable<void> reattester(std::shared_ptr<Impl> self, uint32_t peer, std::shared_ptr<Stream> stream, std::shared_ptr<Reattest> pending) {
    pending->timer = std::make_unique<asio::steady_timer>(self->io);
    asio::steady_timer& timer = *pending->timer;
    while (!self->stopped) {
      timer.expires_after(std::chrono::milliseconds(self->cfg.reattest_ms));
      asio::error_code ec;
      co_await timer.async_wait(asio::redirect_error(use_awaitable, ec));
      if (self->stopped || self->link(peer).stream != stream) co_return;
      Bytes nonce = crypto::random_bytes(32);
      pending->nonce = nonce;
      Bytes request = to_bytes("SNRA");
      request.insert(request.end(), nonce.begin(), nonce.end());
      self->send(peer, std::move(request));
      timer.expires_after(std::chrono::milliseconds(self->cfg.reattest_timeout_ms));
      co_await timer.async_wait(asio::redirect_error(use_awaitable, ec));  // ends early on the answer
      if (self->stopped || self->link(peer).stream != stream) co_return;
      if (pending->nonce == nonce) {
        self->appraised(peer, false, "no answer to a re-attestation within " + std::to_string(self->cfg.reattest_timeout_ms) + " ms");
        asio::error_code ignored;
        stream->lowest_layer().close(ignored);
        co_return;
      }
    }
  }
#endif

  // A validator restarts as a new instance; an instance that a newer one replaced never comes
  // back unless two processes hold the validator's identity.
  void check_instance(uint32_t peer, Bytes theirs) {
    auto& old = superseded[peer];
    for (const auto& i : old) {
      if (i == theirs) {
        std::string why = "two processes hold the identity of node " + std::to_string(peer) +
                          ": instance " + to_hex(theirs).substr(0, 8) + " connected again after instance " +
                          to_hex(peer_instance[peer]).substr(0, 8) + " had replaced it (a cloned node)";
        ban(peer);
        if (cfg.on_clone) cfg.on_clone(peer, why);
        throw SessionEnd{why};
      }
    }
    auto live = peer_instance.find(peer);
    if (live != peer_instance.end() && live->second != theirs) {
      old.push_back(live->second);
      if (old.size() > kSupersededInstancesMax) old.pop_front();
    }
    peer_instance[peer] = std::move(theirs);
  }

  void admit(uint32_t peer, std::shared_ptr<Stream> stream) {
    Link& l = link(peer);
    if (l.stream) {
      asio::error_code ignored;
      l.stream->lowest_layer().close(ignored);  // a newer connection replaces an older one
    }
    l.stream = stream;
    log(LogLevel::kInfo, "transport", "node " + std::to_string(cfg.self) + " connected to node " + std::to_string(peer));
    asio::co_spawn(io, writer(shared_from_this(), peer, stream), asio::detached);
  }

  static awaitable<void> writer(std::shared_ptr<Impl> self, uint32_t peer, std::shared_ptr<Stream> stream) {
    Link& l = self->link(peer);
    try {
      while (!self->stopped && l.stream == stream) {
        if (l.queue.empty()) {
          asio::error_code ec;
          l.wake->expires_at(asio::steady_timer::time_point::max());
          co_await l.wake->async_wait(asio::redirect_error(use_awaitable, ec));
          continue;
        }
        // Everything queued goes out in one write (up to a bound): under load, many small
        // frames share TLS records and system calls instead of costing two each.
        Bytes batch;
        while (!l.queue.empty() && (batch.empty() || batch.size() + l.queue.front().size() <= kWriteBatchBytes)) {
          const Bytes& frame = l.queue.front();
          if (frame.size() > kFrameBytesMax) throw SessionEnd{"frame over the limit"};
          uint8_t hdr[4];
          store_be32(hdr, static_cast<uint32_t>(frame.size()));
          batch.insert(batch.end(), hdr, hdr + 4);
          batch.insert(batch.end(), frame.begin(), frame.end());
          l.queue.pop_front();
        }
        co_await asio::async_write(*stream, asio::buffer(batch), use_awaitable);
      }
    } catch (...) {
      // The reader notices the broken connection and logs it.
    }
  }

  void add_peer(uint32_t id, Bytes identity_key, std::optional<PeerAddress> dial) {
    if (id == cfg.self) return;
    cfg.identity_keys[id] = std::move(identity_key);
    if (dial && !stopped && dialing.insert(id).second) asio::co_spawn(io, dial_loop(shared_from_this(), *dial), asio::detached);
  }

  void remove_peer(uint32_t id) {
    cfg.identity_keys.erase(id);
    dialing.erase(id);
    auto it = links.find(id);
    if (it == links.end()) return;
    it->second.queue.clear();
    if (it->second.stream) {
      asio::error_code ignored;
      it->second.stream->lowest_layer().close(ignored);
    }
  }

  void ban(uint32_t peer) {
    if (!banned.insert(peer).second) return;
    Link& l = link(peer);
    l.queue.clear();
    if (l.stream) {
      asio::error_code ignored;
      l.stream->lowest_layer().close(ignored);
    }
    log(LogLevel::kWarn, "transport", "node " + std::to_string(cfg.self) + " closed its connection to isolated node " + std::to_string(peer));
  }

  void send(uint32_t to, Bytes frame) {
    if (to == cfg.self || !cfg.identity_keys.count(to) || banned.count(to)) return;
    // Refused here, not in the writer: one frame over the limit must not end the link.
    if (frame.size() > kFrameBytesMax) {
      log(LogLevel::kError, "transport", "dropped a frame of " + std::to_string(frame.size()) + " bytes to node " + std::to_string(to) +
                                             ": over the " + std::to_string(kFrameBytesMax) + "-byte limit");
      return;
    }
    Link& l = link(to);
    if (l.queue.size() >= cfg.queue_frames_max) l.queue.pop_front();
    l.queue.push_back(std::move(frame));
    l.wake->cancel();
  }
};

Transport::Transport(asio::io_context& io, TransportConfig cfg, OnFrame on_frame)
    : impl_(std::make_shared<Impl>(io, std::move(cfg), std::move(on_frame))) {}
Transport::~Transport() { impl_->stop(); }
Status Transport::start() {
  ignore_sigpipe();
  return impl_->start();
}
void Transport::stop() { impl_->stop(); }
void Transport::send(uint32_t to, Bytes frame) { impl_->send(to, std::move(frame)); }
void Transport::broadcast(const Bytes& frame) {
  for (const auto& [id, key] : impl_->cfg.identity_keys) impl_->send(id, frame);
}
bool Transport::connected(uint32_t peer) const {
  auto it = impl_->links.find(peer);
  return it != impl_->links.end() && it->second.stream != nullptr;
}
std::optional<Appraisal> Transport::appraisal(uint32_t peer) const {
  auto it = impl_->appraisals.find(peer);
  if (it == impl_->appraisals.end()) return std::nullopt;
  return it->second;
}
void Transport::ban(uint32_t peer) { impl_->ban(peer); }
void Transport::add_peer(uint32_t id, Bytes identity_key, std::optional<PeerAddress> dial) {
  impl_->add_peer(id, std::move(identity_key), std::move(dial));
}
void Transport::remove_peer(uint32_t id) { impl_->remove_peer(id); }
void Transport::set_policy(const tee::Policy& policy) {
  impl_->cfg.ratls.policy = policy;
#if !defined(SUPERNET_BENCH_UNPROTECTED)
  asio::post(impl_->io, [self = impl_] {
    if (!self->stopped) self->reappraise_all();
  });
#endif
}
void Transport::set_collateral(tee::Collateral collateral) {
  impl_->cfg.ratls.collateral = std::move(collateral);
#if !defined(SUPERNET_BENCH_UNPROTECTED)
  asio::post(impl_->io, [self = impl_] {
    if (!self->stopped) self->reappraise_all(true);
  });
#endif
}
const tee::Policy& Transport::policy() const { return impl_->cfg.ratls.policy; }
const tee::Collateral& Transport::collateral() const { return impl_->cfg.ratls.collateral; }
void Transport::set_on_clone(std::function<void(uint32_t peer, const std::string& reason)> cb) { impl_->cfg.on_clone = std::move(cb); }
uint16_t Transport::listen_port() const {
  asio::error_code ec;
  auto ep = impl_->acceptor.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

}  // namespace supernet::net
