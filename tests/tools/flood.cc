// supernet_flood: a connection flood against one TCP port, for the flood tests (tests/flood.sh).
// Opens connections of three kinds and leaves them stalled: idle (TCP only, no byte sent),
// mid-handshake (the first bytes of a TLS ClientHello, then nothing), mid-headers (a finished
// TLS 1.3 handshake, then half a request's headers). Then it watches when the server closes
// each one and prints, per kind, how many it opened, how many the server closed and the
// latest close after opening, one line each:
//   flood <kind>: opened N, closed C (within S s of opening), open O
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Conn {
  int fd = -1;
  int kind = 0;
  Clock::time_point opened;
  double closed_after = -1;  // seconds after opening, once the server closed it
  SSL* ssl = nullptr;
};

int dial(const char* host, int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, host, &a.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3 || std::string(argv[1]) == "--help") {
    std::fprintf(stderr,
                 "usage: supernet_flood HOST PORT [--idle N] [--mid-handshake N] [--mid-headers N] [--watch-ms MS]\n"
                 "Opens stalled connections to HOST:PORT and reports when the server closes them.\n");
    return 2;
  }
  const char* host = argv[1];
  int port = std::atoi(argv[2]);
  int counts[3] = {0, 0, 0};
  long watch_ms = 10000;
  for (int i = 3; i + 1 < argc; i += 2) {
    std::string f = argv[i];
    long v = std::atol(argv[i + 1]);
    if (f == "--idle") counts[0] = static_cast<int>(v);
    else if (f == "--mid-handshake") counts[1] = static_cast<int>(v);
    else if (f == "--mid-headers") counts[2] = static_cast<int>(v);
    else if (f == "--watch-ms") watch_ms = v;
    else {
      std::fprintf(stderr, "supernet_flood: unknown option %s\n", f.c_str());
      return 2;
    }
  }
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  signal(SIGPIPE, SIG_IGN);
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  static const unsigned char kPartialHello[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 0x11, 0x22};
  const char* kPartialHeaders = "GET /v1/health HTTP/1.1\r\nHost: flood\r\nX-Slow: ";
  std::vector<Conn> conns;
  int failed[3] = {0, 0, 0};
  for (int kind = 0; kind < 3; kind++) {
    for (int i = 0; i < counts[kind]; i++) {
      Conn c;
      c.kind = kind;
      c.fd = dial(host, port);
      if (c.fd < 0) {
        failed[kind]++;
        continue;
      }
      c.opened = Clock::now();
      if (kind == 1) {
        if (send(c.fd, kPartialHello, sizeof kPartialHello, 0) < 0) c.closed_after = 0;
      } else if (kind == 2) {
        timeval tv{2, 0};
        setsockopt(c.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        c.ssl = SSL_new(ctx);
        SSL_set_fd(c.ssl, c.fd);
        if (SSL_connect(c.ssl) != 1 || SSL_write(c.ssl, kPartialHeaders, static_cast<int>(std::strlen(kPartialHeaders))) <= 0) {
          c.closed_after = std::chrono::duration<double>(Clock::now() - c.opened).count();
        }
      }
      conns.push_back(c);
    }
  }
  // Watch: a connection is closed when a read sees EOF or an error (data, such as a TLS
  // alert or an HTTP 408, is read and ignored).
  auto until = Clock::now() + std::chrono::milliseconds(watch_ms);
  std::vector<pollfd> fds;
  std::vector<size_t> which;
  while (Clock::now() < until) {
    fds.clear();
    which.clear();
    for (size_t i = 0; i < conns.size(); i++) {
      if (conns[i].closed_after >= 0) continue;
      fds.push_back({conns[i].fd, POLLIN, 0});
      which.push_back(i);
    }
    if (fds.empty()) break;
    int n = poll(fds.data(), fds.size(), 100);
    if (n <= 0) continue;
    for (size_t k = 0; k < fds.size(); k++) {
      if (fds[k].revents == 0) continue;
      Conn& c = conns[which[k]];
      char buf[4096];
      ssize_t r = recv(c.fd, buf, sizeof buf, MSG_DONTWAIT);
      if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
        c.closed_after = std::chrono::duration<double>(Clock::now() - c.opened).count();
      }
    }
  }
  const char* names[3] = {"idle", "mid-handshake", "mid-headers"};
  for (int kind = 0; kind < 3; kind++) {
    if (counts[kind] == 0) continue;
    int opened = 0, closed = 0;
    double latest = 0;
    for (const auto& c : conns) {
      if (c.kind != kind) continue;
      opened++;
      if (c.closed_after >= 0) {
        closed++;
        latest = std::max(latest, c.closed_after);
      }
    }
    std::printf("flood %s: opened %d, closed %d (within %.1f s of opening), open %d, failed to connect %d\n", names[kind], opened, closed,
                latest, opened - closed, failed[kind]);
  }
  for (auto& c : conns) {
    if (c.ssl) SSL_free(c.ssl);
    close(c.fd);
  }
  SSL_CTX_free(ctx);
  return 0;
}
