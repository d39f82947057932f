// supernet ratls serve / connect: a mutual RA-TLS handshake between two processes.
#include <unistd.h>

#include <cstdio>

#include "cli/commands.h"
#include "net/ratls.h"
#include "tee/policy.h"
#include "util/file.h"

namespace supernet::cli {

namespace {

struct RatlsArgs {
  PlatformFlags platform;
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  std::string policy;
  std::vector<std::string> collateral;
  std::string identity_dir;
  std::string port_file;
  std::string message = "hello from supernet";
  int connections = 1;
};

Result<net::Config> make_config(const RatlsArgs& a, tee::Platform& platform, const std::string& cn) {
  net::Config cfg;
  SN_ASSIGN(cfg.policy, tee::load_policy(a.policy));
  for (const auto& c : a.collateral) SN_TRY(cfg.collateral.add_path(c));
  if (a.identity_dir.empty()) {
    SN_ASSIGN(cfg.identity, net::make_identity(platform, cn));
  } else {
    SN_ASSIGN(cfg.identity, net::load_or_create_identity(platform, a.identity_dir, cn));
  }
  cfg.platform = &platform;
  return cfg;
}

void print_peer(const net::Connection& c) {
  const auto& claims = c.peer_claims();
  std::printf("peer attested: platform %s, measurement %s..., signer %s...\n", tee::kind_name(claims.platform),
              to_hex(claims.measurement).substr(0, 16).c_str(), to_hex(claims.signer).substr(0, 16).c_str());
}

int run_serve(const RatlsArgs& a) {
  auto p = a.platform.open();
  if (!p.ok()) return fail(p.error());
  auto cfg = make_config(a, **p, "supernet-server");
  if (!cfg.ok()) return fail(cfg.error());
  uint16_t bound = 0;
  auto lfd = net::listen_tcp(a.host, a.port, &bound);
  if (!lfd.ok()) return fail(lfd.error());
  if (!a.port_file.empty()) {
    auto w = write_file_atomic(a.port_file, as_bytes(std::to_string(bound)));
    if (!w.ok()) return fail(w.error());
  }
  std::printf("listening on %s:%u\n", a.host.c_str(), bound);
  std::fflush(stdout);
  int failures = 0;
  for (int i = 0; i < a.connections; i++) {
    auto fd = net::accept_tcp(*lfd);
    if (!fd.ok()) return fail(fd.error());
    auto conn = net::handshake(*fd, true, *cfg);
    if (!conn.ok()) {
      std::printf("REFUSED: %s\n", conn.error().to_string().c_str());
      failures++;
      continue;
    }
    print_peer(**conn);
    auto msg = (*conn)->recv_frame();
    if (!msg.ok()) {
      std::printf("connection error: %s\n", msg.error().to_string().c_str());
      failures++;
      continue;
    }
    std::printf("received: %s\n", to_string(*msg).c_str());
    auto s = (*conn)->send_frame(as_bytes("ack: " + to_string(*msg)));
    if (!s.ok()) failures++;
    std::fflush(stdout);
  }
  ::close(*lfd);
  return failures == 0 ? kExitOk : kExitCheckFailed;
}

int run_connect(const RatlsArgs& a) {
  auto p = a.platform.open();
  if (!p.ok()) return fail(p.error());
  auto cfg = make_config(a, **p, "supernet-client");
  if (!cfg.ok()) return fail(cfg.error());
  auto fd = net::connect_tcp(a.host, a.port);
  if (!fd.ok()) return fail(fd.error());
  auto conn = net::handshake(*fd, false, *cfg);
  if (!conn.ok()) {
    std::printf("REFUSED: %s\n", conn.error().to_string().c_str());
    return kExitCheckFailed;
  }
  print_peer(**conn);
  auto s = (*conn)->send_frame(as_bytes(a.message));
  if (!s.ok()) return fail(s.error(), kExitCheckFailed);
  auto reply = (*conn)->recv_frame();
  if (!reply.ok()) return fail(reply.error(), kExitCheckFailed);
  std::printf("reply: %s\n", to_string(*reply).c_str());
  return kExitOk;
}

void common(CLI::App* cmd, RatlsArgs& a) {
  cmd->add_option("--host", a.host, "IPv4 address")->capture_default_str();
  cmd->add_option("--policy", a.policy, "appraisal policy for the peer (TOML)")->required();
  cmd->add_option("--collateral", a.collateral, "collateral for hardware peers' evidence")->expected(1, -1);
  cmd->add_option("--identity-dir", a.identity_dir, "keep the identity key sealed here (default: a new key per run)");
  a.platform.add_to(cmd);
}

}  // namespace

void add_ratls_commands(CLI::App& app, int* exit_code) {
  CLI::App* ratls = app.add_subcommand("ratls", "Mutual RA-TLS between two processes (TLS 1.3, attested both ways)");
  ratls->require_subcommand(1);

  auto s = std::make_shared<RatlsArgs>();
  CLI::App* serve = ratls->add_subcommand("serve", "Accept attested connections and echo one message each");
  common(serve, *s);
  serve->add_option("--port", s->port, "TCP port (0 picks a free one)")->capture_default_str();
  serve->add_option("--port-file", s->port_file, "write the bound port to this file");
  serve->add_option("--connections", s->connections, "serve this many connections, then exit")->capture_default_str();
  serve->callback([s, exit_code] { *exit_code = run_serve(*s); });

  auto c = std::make_shared<RatlsArgs>();
  CLI::App* connect = ratls->add_subcommand("connect", "Connect to an RA-TLS server, send one message, print the reply");
  common(connect, *c);
  connect->add_option("--port", c->port, "TCP port")->required();
  connect->add_option("--message", c->message, "message to send")->capture_default_str();
  connect->callback([c, exit_code] { *exit_code = run_connect(*c); });
}

}  // namespace supernet::cli
