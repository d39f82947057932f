// Test helper: runs an io_context in short slices until a condition holds or time runs out.
#pragma once

#include <asio/io_context.hpp>
#include <chrono>
#include <functional>

namespace supernet::net::testing {

inline bool run_until(asio::io_context& io, const std::function<bool()>& done, int ms_max) {
  auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms_max);
  while (std::chrono::steady_clock::now() < end) {
    io.run_for(std::chrono::milliseconds(20));
    io.restart();
    if (done()) return true;
  }
  return false;
}

}  // namespace supernet::net::testing

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

namespace supernet::net::testing {

// A TCP forwarder on 127.0.0.1 (what a host could put in front of a node's address): every
// connection to port() is relayed, bytes unchanged, to 127.0.0.1:target. One connection at a
// time; for tests.
class TcpForwarder {
 public:
  explicit TcpForwarder(uint16_t target) : target_(target) {
    listen_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listen_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(listen_, 8);
    socklen_t len = sizeof a;
    ::getsockname(listen_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~TcpForwarder() {
    stop_ = true;
    ::shutdown(listen_, SHUT_RDWR);
    ::close(listen_);
    thread_.join();
  }
  uint16_t port() const { return port_; }

 private:
  void serve() {
    while (!stop_) {
      pollfd p{listen_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      int in = ::accept4(listen_, nullptr, nullptr, SOCK_CLOEXEC);
      if (in < 0) continue;
      int out = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in t{};
      t.sin_family = AF_INET;
      t.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      t.sin_port = htons(target_);
      if (::connect(out, reinterpret_cast<sockaddr*>(&t), sizeof t) == 0) relay(in, out);
      ::close(in);
      ::close(out);
    }
  }
  void relay(int a, int b) {
    char buf[16384];
    while (!stop_) {
      pollfd p[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
      if (::poll(p, 2, 100) < 0) return;
      for (int i = 0; i < 2; i++) {
        if ((p[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
        ssize_t n = ::read(p[i].fd, buf, sizeof buf);
        if (n <= 0 || ::write(i == 0 ? b : a, buf, static_cast<size_t>(n)) != n) return;
      }
    }
  }
  uint16_t target_;
  int listen_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace supernet::net::testing
