// supernet up / status / down: a local network of node processes on 127.0.0.1.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <optional>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli/commands.h"
#include "crypto/secure.h"
#include "node/api_client.h"
#include "node/config.h"
#include "tee/policy.h"
#include "tee/virtual_platform.h"
#include "util/file.h"

namespace supernet::cli {

namespace fs = std::filesystem;

std::string node_dir(const std::string& dir, int i) { return dir + "/node-" + std::to_string(i); }

int count_nodes(const std::string& dir) {
  int n = 0;
  while (fs::exists(node_dir(dir, n + 1))) n++;
  return n;
}

// Starts the node program for node i, detached, output to its node.log.
Result<pid_t> spawn_node(const std::string& dir, int i) {
  std::string config = fs::absolute(node_dir(dir, i) + "/node.toml").string();
  std::string logfile = node_dir(dir, i) + "/node.log";
  pid_t pid = ::fork();
  if (pid < 0) return make_error("up.spawn", "fork failed");
  if (pid == 0) {
    ::setsid();
    int fd = ::open(logfile.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    std::string program = node_program();
    const char* argv[] = {"supernet-node", "--config", config.c_str(), nullptr};
    ::execv(program.c_str(), const_cast<char* const*>(argv));
    ::_exit(127);
  }
  SN_TRY(write_file_atomic(node_dir(dir, i) + "/node.pid", as_bytes(std::to_string(pid))));
  return pid;
}

Result<node::NodeConfig> make_local_node(const std::string& dir, int i, int base_port, consensus::Protocol protocol,
                                         tee::Policy& policy, bool phi_accrual) {
  std::string nd = node_dir(dir, i);
  std::error_code ec;
  fs::create_directories(nd, ec);
  if (ec) return make_error("io.dir", "cannot create " + nd + ": " + ec.message());
  SN_ASSIGN(auto platform, tee::VirtualPlatform::open(nd + "/platform"));
  SN_ASSIGN(Bytes key_id, from_hex(platform->platform_key_id()));
  policy.trusted_virtual_platform_keys.push_back(std::move(key_id));
  node::NodeConfig c;
  c.id = static_cast<uint32_t>(i);
  c.data_dir = ".";
  c.virtual_dir = "platform";
  c.policy = "../network-policy.toml";
  c.genesis = "../genesis.toml";
  c.peer_listen = {"127.0.0.1", static_cast<uint16_t>(base_port + i)};
  c.api_listen = {"127.0.0.1", static_cast<uint16_t>(base_port + 100 + i)};
  c.consensus = protocol;
  c.phi_accrual = phi_accrual;
  SN_TRY(write_file_atomic(nd + "/node.toml", as_bytes(node::node_config_toml(c))));
  return c;
}

Status write_local_policy(const std::string& dir, const tee::Policy& policy) {
  std::string text = "# Development policy for this local network: its nodes' virtual platform keys and this build.\n" +
                     tee::policy_to_toml(policy);
  return write_file_atomic(dir + "/network-policy.toml", as_bytes(text));
}

namespace {

using Clock = std::chrono::steady_clock;


std::optional<nlohmann::json> read_status(const std::string& dir, int i) {
  auto b = read_file(node_dir(dir, i) + "/status.json", 64 * 1024);
  if (!b.ok()) return std::nullopt;
  auto j = nlohmann::json::parse(to_string(*b), nullptr, false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

// Running, and not a zombie that nobody has reaped yet.
bool alive(pid_t pid) {
  if (pid <= 0 || ::kill(pid, 0) != 0) return false;
  auto stat = read_file("/proc/" + std::to_string(pid) + "/stat", 4096);
  if (!stat.ok()) return true;
  std::string text = to_string(*stat);
  auto close = text.rfind(')');
  return close == std::string::npos || close + 2 >= text.size() || text[close + 2] != 'Z';
}

pid_t read_pid(const std::string& dir, int i) {
  auto b = read_file(node_dir(dir, i) + "/node.pid", 64);
  return b.ok() ? static_cast<pid_t>(std::atol(to_string(*b).c_str())) : 0;
}



// The last line of a node's log (why it stopped, usually).
std::string last_log_line(const std::string& dir, int i) {
  auto log = read_file(node_dir(dir, i) + "/node.log", 1024 * 1024);
  if (!log.ok()) return "";
  std::string text = to_string(*log);
  while (!text.empty() && text.back() == '\n') text.pop_back();
  auto nl = text.rfind('\n');
  return nl == std::string::npos ? text : text.substr(nl + 1);
}

// The first of nodes 1..n whose process has exited, if any.
std::optional<int> exited_node(const std::string& dir, int n) {
  for (int i = 1; i <= n; i++) {
    if (!alive(read_pid(dir, i))) return i;
  }
  return std::nullopt;
}

template <typename Pred>
bool wait_for(int seconds, const char* what, Pred done, const std::function<bool()>& give_up = nullptr) {
  auto deadline = Clock::now() + std::chrono::seconds(seconds);
  int dots = 0;
  while (Clock::now() < deadline) {
    if (give_up && give_up()) {
      if (dots >= 10) std::printf("\n");
      return false;
    }
    if (done()) {
      if (dots >= 10) std::printf("\n");
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (++dots % 10 == 0) {
      std::printf("\r  waiting for %s ... %d s", what, dots / 10);
      std::fflush(stdout);
    }
  }
  if (dots >= 10) std::printf("\n");
  return false;
}

struct UpArgs {
  int nodes = 3;
  std::string dir = "supernet-net";
  std::string consensus = "tee-bft";
  int base_port = 17100;
  int members = 1;
  int users = 1;
  std::string fault_detection = "phi-accrual";
};

int run_up(const UpArgs& a) {
  if (a.nodes < 1 || a.nodes > 16) return fail(make_error("usage.nodes", "--nodes must be 1 to 16"));
  if (a.members < 1 || a.members > 16) return fail(make_error("usage.members", "--members must be 1 to 16"));
  if (a.users < 1 || a.users > 16) return fail(make_error("usage.users", "--users must be 1 to 16"));
  if (fs::exists(a.dir + "/genesis.toml")) {
    return fail(make_error("up.exists", "a network already exists in " + a.dir + " (supernet down --dir " + a.dir +
                                            ", then remove it, or choose another --dir)"));
  }
  std::error_code ec;
  fs::create_directories(a.dir, ec);
  if (ec) return fail(make_error("io.dir", "cannot create " + a.dir + ": " + ec.message()));
  // The network measures the node program, not this command-line tool.
  auto measurement = tee::measure_executable(node_program());
  if (!measurement.ok()) return fail(measurement.error());

  // Each node is its own "machine": its own virtual platform key. The network policy trusts
  // exactly these keys and this build's node program.
  tee::Policy policy;
  policy.production = false;
  policy.allowed_platforms = {tee::Kind::kVirtual};
  policy.platforms[tee::Kind::kVirtual].measurements = {*measurement};
  auto protocol = a.consensus == "bft" ? consensus::Protocol::kBft : consensus::Protocol::kTeeBft;
  for (int i = 1; i <= a.nodes; i++) {
    if (auto c = make_local_node(a.dir, i, a.base_port, protocol, policy, a.fault_detection == "phi-accrual"); !c.ok()) return fail(c.error());
  }
  if (auto w = write_local_policy(a.dir, policy); !w.ok()) return fail(w.error());

  std::printf("starting %d %s nodes in %s\n", a.nodes, a.consensus.c_str(), a.dir.c_str());
  for (int i = 1; i <= a.nodes; i++) {
    auto pid = spawn_node(a.dir, i);
    if (!pid.ok()) return fail(pid.error());
  }
  auto died = [&] { return exited_node(a.dir, a.nodes).has_value(); };
  auto why = [&]() -> Error {
    if (auto i = exited_node(a.dir, a.nodes)) {
      return make_error("up.node", "node " + std::to_string(*i) + " stopped: " + last_log_line(a.dir, *i) + " (log: " +
                                       node_dir(a.dir, *i) + "/node.log; `supernet down --dir " + a.dir + "` stops the others)");
    }
    return make_error("up.timeout", "the nodes did not get ready in time; see " + a.dir + "/node-*/node.log");
  };
  if (!wait_for(60, "nodes to publish their keys", [&] {
        for (int i = 1; i <= a.nodes; i++) {
          if (!fs::exists(node_dir(a.dir, i) + "/public.toml")) return false;
        }
        return true;
      }, died)) {
    return fail(why(), kExitCheckFailed);
  }
  node::Genesis g;
  g.chain_id = "supernet-local-" + to_hex(crypto::random_bytes(6));
  g.protocol = a.consensus == "bft" ? consensus::Protocol::kBft : consensus::Protocol::kTeeBft;
  for (int i = 1; i <= a.nodes; i++) {
    auto v = node::load_published(node_dir(a.dir, i) + "/public.toml");
    if (!v.ok()) return fail(v.error());
    g.validators.push_back(*v);
  }
  // Client credentials: members (governance and writes) and users (writes). Their keys
  // stay with their owner (0600 files here); the genesis lists only their public key hashes.
  fs::create_directories(a.dir + "/client", ec);
  std::vector<std::pair<std::string, std::string>> clients;  // name, role
  for (int m = 1; m <= a.members; m++) clients.push_back({m == 1 ? "member" : "member" + std::to_string(m), "member"});
  for (int u = 1; u <= a.users; u++) clients.push_back({u == 1 ? "user" : "user" + std::to_string(u), "user"});
  for (const auto& [name, role] : clients) {
    auto c = node::create_credentials(a.dir + "/client/" + name, name);
    if (!c.ok()) return fail(c.error());
    g.clients.push_back({name, role, c->cert.spki_sha256()});
  }
  g.policy = policy;  // the network's policy floor, and what admits later vote keys
  if (auto w = write_file_atomic(a.dir + "/genesis.toml", as_bytes(node::genesis_toml(g))); !w.ok()) return fail(w.error());
  bool ready = wait_for(60, "nodes to attest each other", [&] {
    for (int i = 1; i <= a.nodes; i++) {
      auto s = read_status(a.dir, i);
      if (!s || s->value("chain_id", "") != g.chain_id || !s->value("can_sign", false) ||
          (*s)["connected"].size() != static_cast<size_t>(a.nodes - 1)) {
        return false;
      }
    }
    return true;
  }, died);
  if (!ready) return fail(why(), kExitCheckFailed);
  std::printf("network %s is up: %d nodes, every pair attested over RA-TLS\n", g.chain_id.c_str(), a.nodes);
  for (const auto& v : g.validators) {
    std::printf("  node %u  API https://%s  peer %s  log %s/node.log\n", v.id, v.api.text().c_str(), v.peer.text().c_str(),
                node_dir(a.dir, static_cast<int>(v.id)).c_str());
  }
  std::printf("client credentials in %s/client/: ", a.dir.c_str());
  for (const auto& c : g.clients) std::printf("%s.{crt,key}.pem (%s) ", c.name.c_str(), c.role.c_str());
  std::printf("\ngovernance: a proposal needs %u member approval(s)\n", g.governance().approvals);
  std::printf("network identity (for offline receipt checks): %s/genesis.toml; node policy: %s/network-policy.toml\n", a.dir.c_str(), a.dir.c_str());
  std::printf("try: supernet tx submit --dir %s --table demo --key hello --value world\n", a.dir.c_str());
  std::printf("status: supernet status --dir %s    stop: supernet down --dir %s\n", a.dir.c_str(), a.dir.c_str());
  return kExitOk;
}

int run_status(const std::string& dir) {
  int n = count_nodes(dir);
  if (n == 0) return fail(make_error("status.none", "no network in " + dir));
  int down = 0;
  std::printf("%-6s %-8s %-8s %-8s %-9s %-12s %s\n", "node", "process", "height", "round", "signing", "connected", "suspects");
  for (int i = 1; i <= n; i++) {
    pid_t pid = read_pid(dir, i);
    bool up = alive(pid);
    auto s = up ? read_status(dir, i) : std::nullopt;  // a stopped node's last status is stale
    // So is one written by an earlier process of a node just restarted, until the new one writes.
    if (s && s->value("pid", 0) != pid) s = std::nullopt;
    down += !up;
    std::string peers, suspects;
    if (s) {
      for (const auto& p : (*s)["connected"]) peers += (peers.empty() ? "" : ",") + std::to_string(p.get<int>());
      // What its failure detector suspects (status files of older builds have no such field).
      if (s->contains("suspected") && (*s)["suspected"].is_array()) {
        for (const auto& p : (*s)["suspected"]) {
          if (p.is_number_unsigned()) suspects += (suspects.empty() ? "" : ",") + std::to_string(p.get<unsigned>());
        }
      }
    }
    std::printf("%-6d %-8s %-8s %-8s %-9s %-12s %s\n", i, up ? "up" : "down", s ? std::to_string((*s)["height"].get<uint64_t>()).c_str() : "-",
                s ? std::to_string((*s)["round"].get<uint64_t>()).c_str() : "-", s && (*s)["can_sign"].get<bool>() ? "yes" : "no",
                peers.empty() ? "-" : peers.c_str(), suspects.empty() ? "-" : suspects.c_str());
  }
  return down == 0 ? kExitOk : kExitCheckFailed;
}

int run_down(const std::string& dir) {
  int n = count_nodes(dir);
  if (n == 0) return fail(make_error("down.none", "no network in " + dir));
  for (int i = 1; i <= n; i++) {
    pid_t pid = read_pid(dir, i);
    if (alive(pid)) ::kill(pid, SIGTERM);
  }
  bool stopped = wait_for(15, "nodes to stop", [&] {
    for (int i = 1; i <= n; i++) {
      if (alive(read_pid(dir, i))) return false;
    }
    return true;
  });
  for (int i = 1; i <= n; i++) {
    pid_t pid = read_pid(dir, i);
    if (alive(pid)) ::kill(pid, SIGKILL);
    fs::remove(node_dir(dir, i) + "/node.pid");
  }
  std::printf("%d nodes stopped%s\n", n, stopped ? "" : " (some had to be killed)");
  return kExitOk;
}

}  // namespace

void add_network_commands(CLI::App& app, int* exit_code) {
  auto u = std::make_shared<UpArgs>();
  CLI::App* up = app.add_subcommand("up", "Start a local network of attested nodes on 127.0.0.1 (development: virtual platform)");
  up->add_option("--nodes", u->nodes, "number of nodes")->capture_default_str();
  up->add_option("--dir", u->dir, "folder for the network's files")->capture_default_str();
  up->add_option("--consensus", u->consensus, "tee-bft (n = 2f+1) or bft (n = 3f+1)")
      ->check(CLI::IsMember({"tee-bft", "bft"}))
      ->capture_default_str();
  up->add_option("--base-port", u->base_port, "node i listens for peers on base+i and for API clients on base+100+i")->capture_default_str();
  up->add_option("--members", u->members, "members (governance) in the genesis: member, member2, ...; a majority approves a change")
      ->capture_default_str();
  up->add_option("--users", u->users, "users (clients without a vote) in the genesis: user, user2, ...")->capture_default_str();
  up->add_option("--fault-detection", u->fault_detection,
                 "phi-accrual (suspect a silent peer within about 1.5 s and move its tasks), or timeout (tasks move only "
                 "after 10 s without progress: the fixed timeout of before, to compare against)")
      ->check(CLI::IsMember({"phi-accrual", "timeout"}))
      ->capture_default_str();
  up->callback([u, exit_code] { *exit_code = run_up(*u); });

  auto sdir = std::make_shared<std::string>("supernet-net");
  CLI::App* status = app.add_subcommand("status", "Show the local network's nodes: process, height, round, signing, connections, and whom each node's failure detector suspects");
  status->add_option("--dir", *sdir, "network folder")->capture_default_str();
  status->callback([sdir, exit_code] { *exit_code = run_status(*sdir); });

  auto ddir = std::make_shared<std::string>("supernet-net");
  CLI::App* down = app.add_subcommand("down", "Stop the local network's nodes (SIGTERM, then SIGKILL after 15 s)");
  down->add_option("--dir", *ddir, "network folder")->capture_default_str();
  down->callback([ddir, exit_code] { *exit_code = run_down(*ddir); });
}

}  // namespace supernet::cli
