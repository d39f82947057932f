// bench_api: writes acknowledged as committed through the REST API of 3 tee-bft nodes (real
// `supernet-node` processes from `supernet up`, HTTPS with attested TLS 1.3 and client
// certificates), against a 3-member etcd 3.4 cluster from Debian's etcd-server (its HTTP/JSON
// gateway, /v3/kv/txn), both on 127.0.0.1 on this machine, driven with the same load shape:
// the same number of concurrent clients, each sending its writes in requests of the same
// batch size and value size over a kept-alive TLS connection, and counting a write only when
// the answer says it is committed (SuperNet: POST /v1/tx/batch?wait_ms, every write
// "committed"; etcd: a txn of puts, answered after the Raft commit). TLS on both sides: etcd's
// client and peer URLs use a certificate made for the run. Rounds alternate between the two
// systems (the machine is shared and noisy); medians are reported. Last line:
//   api writes/s: supernet N, etcd M, ratio R
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <httplib.h>
#include <mutex>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
  int clients = 8;
  int batch = 100;
  int count = 60000;
  int value_bytes = 100;
  int rounds = 3;
  int base_port = 28100;
  // A second shape, one write per request: this many clients (0: skip it), writes per round.
  int single_clients = 64;
  int single_count = 20000;
};

struct Result {
  double writes_per_s = 0;
  double p50_ms = 0, p99_ms = 0;
};

std::string run(const std::string& cmd) {
  std::string out;
  FILE* f = ::popen(cmd.c_str(), "r");
  if (f == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  ::pclose(f);
  return out;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// A self-signed P-256 certificate for 127.0.0.1 (etcd's client and peer URLs).
bool make_certificate(const std::string& cert_path, const std::string& key_path) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), -60);
  X509_gmtime_adj(X509_getm_notAfter(x), 24 * 3600);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("bench-etcd"), -1, -1, 0);
  X509_set_issuer_name(x, name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, x, x, nullptr, nullptr, 0);
  for (auto [nid, value] : {std::pair<int, const char*>{NID_subject_alt_name, "IP:127.0.0.1"}, {NID_basic_constraints, "critical,CA:TRUE"},
                            {NID_key_usage, "critical,digitalSignature,keyCertSign"}, {NID_ext_key_usage, "serverAuth,clientAuth"}}) {
    X509_EXTENSION* e = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
  }
  X509_sign(x, key, EVP_sha256());
  FILE* c = fopen(cert_path.c_str(), "w");
  FILE* k = fopen(key_path.c_str(), "w");
  bool ok = c && k && PEM_write_X509(c, x) == 1 && PEM_write_PrivateKey(k, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
  if (c) fclose(c);
  if (k) fclose(k);
  X509_free(x);
  EVP_PKEY_free(key);
  return ok;
}

std::string b64(const std::string& in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

class Etcd {
 public:
  Etcd(const std::string& dir, int base_port) : dir_(dir) {
    for (int i = 0; i < 3; i++) {
      client_ports_.push_back(base_port + i);
      peer_ports_.push_back(base_port + 10 + i);
    }
  }
  ~Etcd() { stop(); }
  bool start() {
    std::string cert = dir_ + "/cert.pem", key = dir_ + "/key.pem";
    if (!make_certificate(cert, key)) return false;
    std::string cluster;
    for (int i = 0; i < 3; i++) cluster += (i ? "," : "") + std::string("m") + std::to_string(i) + "=https://127.0.0.1:" + std::to_string(peer_ports_[i]);
    for (int i = 0; i < 3; i++) {
      std::string c = "https://127.0.0.1:" + std::to_string(client_ports_[i]), p = "https://127.0.0.1:" + std::to_string(peer_ports_[i]);
      std::string cmd = "setsid etcd --name m" + std::to_string(i) + " --data-dir " + dir_ + "/m" + std::to_string(i) +
                        " --listen-client-urls " + c + " --advertise-client-urls " + c + " --listen-peer-urls " + p +
                        " --initial-advertise-peer-urls " + p + " --initial-cluster " + cluster +
                        " --initial-cluster-state new --initial-cluster-token bench --max-txn-ops 1000 --log-level error" +
                        " --cert-file " + cert + " --key-file " + key + " --peer-cert-file " + cert + " --peer-key-file " + key +
                        " --peer-trusted-ca-file " + cert + " > " + dir_ + "/m" + std::to_string(i) + ".log 2>&1 & echo $!";
      pids_.push_back(std::atoi(run(cmd).c_str()));
    }
    for (int tries = 0; tries < 200; tries++) {
      bool all = true;
      for (int port : client_ports_) {
        httplib::SSLClient h("127.0.0.1", port);
        h.enable_server_certificate_verification(false);
        h.set_connection_timeout(1, 0);
        auto r = h.Get("/health");
        all = all && r && r->status == 200 && r->body.find("\"true\"") != std::string::npos;
      }
      if (all) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }
  void stop() {
    for (int pid : pids_) {
      if (pid > 0) ::kill(pid, SIGKILL);
    }
    for (int pid : pids_) {
      if (pid > 0) ::waitpid(pid, nullptr, 0);
    }
    pids_.clear();
  }
  const std::vector<int>& client_ports() const { return client_ports_; }

 private:
  std::string dir_;
  std::vector<int> client_ports_, peer_ports_;
  std::vector<int> pids_;
};

// C clients, each sending batches of B puts (one txn each) to a member (client i to member
// i mod 3), counting a write when its txn's answer is 200 with "succeeded".
Result load_etcd(const Etcd& etcd, const Options& o, int round) {
  std::atomic<int> committed{0}, failed{0};
  std::vector<std::vector<double>> lat(static_cast<size_t>(o.clients));
  auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int w = 0; w < o.clients; w++) {
    threads.emplace_back([&, w] {
      httplib::SSLClient h("127.0.0.1", etcd.client_ports()[static_cast<size_t>(w) % 3]);
      h.enable_server_certificate_verification(false);
      h.set_keep_alive(true);
      h.set_read_timeout(30, 0);
      std::vector<int> mine;
      for (int i = w; i < o.count; i += o.clients) mine.push_back(i);
      for (size_t at = 0; at < mine.size(); at += static_cast<size_t>(o.batch)) {
        size_t end = std::min(mine.size(), at + static_cast<size_t>(o.batch));
        std::string body = "{\"success\":[";
        for (size_t k = at; k < end; k++) {
          char key[48];
          std::snprintf(key, sizeof key, "r%d/k%06d", round, mine[k]);
          std::string value = "v" + std::to_string(mine[k]);
          value.resize(static_cast<size_t>(o.value_bytes), 'x');
          body += std::string(k > at ? "," : "") + "{\"requestPut\":{\"key\":\"" + b64(key) + "\",\"value\":\"" + b64(value) + "\"}}";
        }
        body += "]}";
        auto t0 = Clock::now();
        auto r = h.Post("/v3/kv/txn", body, "application/json");
        double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
        int n = static_cast<int>(end - at);
        if (r && r->status == 200 && r->body.find("\"succeeded\":true") != std::string::npos) {
          committed += n;
          for (int k = 0; k < n; k++) lat[static_cast<size_t>(w)].push_back(ms);
        } else {
          failed += n;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<double> all;
  for (auto& l : lat) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  Result r;
  r.writes_per_s = committed / secs;
  if (!all.empty()) {
    r.p50_ms = all[all.size() / 2];
    r.p99_ms = all[std::min(all.size() - 1, static_cast<size_t>(0.99 * static_cast<double>(all.size())))];
  }
  if (failed > 0) std::fprintf(stderr, "bench_api: etcd: %d writes not acknowledged\n", failed.load());
  return r;
}

// `supernet tx load`: the same shape through the network's REST API.
std::optional<Result> load_supernet(const std::string& cli, const std::string& net, const Options& o, int round) {
  std::string out = run(cli + " tx load --dir " + net + " --count " + std::to_string(o.count) + " --clients " + std::to_string(o.clients) +
                        " --batch " + std::to_string(o.batch) + " --value-bytes " + std::to_string(o.value_bytes) + " --table r" +
                        std::to_string(round) + " --timeout 300 2>/dev/null");
  std::smatch m, l;
  std::regex rate(R"((\d+) writes from \d+ clients: \d+ acknowledged, (\d+) committed.*, ([0-9.]+) s \(\d+ tx/s\))");
  std::regex latency(R"(p50 ([0-9.]+) ms, p99 ([0-9.]+) ms)");
  if (!std::regex_search(out, m, rate) || !std::regex_search(out, l, latency) || m[1] != m[2]) {
    std::fprintf(stderr, "bench_api: supernet tx load did not commit every write:\n%s\n", out.c_str());
    return std::nullopt;
  }
  Result r;
  r.writes_per_s = std::stod(m[2]) / std::stod(m[3]);
  r.p50_ms = std::stod(l[1]);
  r.p99_ms = std::stod(l[2]);
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Writes acknowledged as committed through SuperNet's REST API against a 3-member etcd cluster, same load shape"};
  Options o;
  app.add_option("--clients", o.clients, "concurrent clients on each system")->capture_default_str();
  app.add_option("--batch", o.batch, "writes per request (SuperNet: POST /v1/tx/batch; etcd: one txn)")->capture_default_str();
  app.add_option("--count", o.count, "writes per round and system")->capture_default_str();
  app.add_option("--value-bytes", o.value_bytes, "bytes per value")->capture_default_str();
  app.add_option("--rounds", o.rounds, "rounds, alternating between the systems")->capture_default_str();
  app.add_option("--base-port", o.base_port, "first of the ports used on 127.0.0.1")->capture_default_str();
  app.add_option("--single-clients", o.single_clients, "clients for the second shape, one write per request (0: skip it)")->capture_default_str();
  app.add_option("--single-count", o.single_count, "writes per round of the second shape")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  signal(SIGPIPE, SIG_IGN);
  if (std::system("command -v etcd >/dev/null") != 0) {
    std::fprintf(stderr, "bench_api: etcd is missing: run bench/api/setup.sh (make bench does)\n");
    return 2;
  }
  std::string cli = SUPERNET_CLI_PATH;
  char tmpl[] = "/tmp/bench-api-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  std::string net = dir + "/net";
  std::printf("bench_api: %d clients, %d writes per request, %d-byte values, %d writes per round, %d rounds; TLS on both\n", o.clients, o.batch,
              o.value_bytes, o.count, o.rounds);
  std::string up = run(cli + " up --nodes 3 --dir " + net + " --base-port " + std::to_string(o.base_port) + " 2>&1");
  if (!fs::exists(net + "/genesis.toml")) {
    std::fprintf(stderr, "bench_api: supernet up failed:\n%s\n", up.c_str());
    return 1;
  }
  Etcd etcd(dir, o.base_port + 500);
  if (!etcd.start()) {
    std::fprintf(stderr, "bench_api: the etcd cluster did not become healthy (logs in %s)\n", dir.c_str());
    run(cli + " down --dir " + net);
    return 1;
  }
  std::vector<double> sn_rate, sn_p50, sn_p99, et_rate, et_p50, et_p99, single_sn, single_et;
  Options single = o;
  single.clients = o.single_clients;
  single.batch = 1;
  single.count = o.single_count;
  int status = 0;
  for (int round = 0; round < o.rounds; round++) {
    if (o.single_clients > 0) {
      auto s1 = load_supernet(cli, net, single, 100 + round);
      if (!s1) {
        status = 1;
        break;
      }
      Result e1 = load_etcd(etcd, single, 100 + round);
      std::printf("round %d, one write per request, %d clients: supernet %.0f writes/s (p50 %.1f ms, p99 %.1f ms); etcd %.0f writes/s (p50 %.1f ms, p99 %.1f ms)\n",
                  round + 1, single.clients, s1->writes_per_s, s1->p50_ms, s1->p99_ms, e1.writes_per_s, e1.p50_ms, e1.p99_ms);
      single_sn.push_back(s1->writes_per_s);
      single_et.push_back(e1.writes_per_s);
    }
    auto s = load_supernet(cli, net, o, round);
    if (!s) {
      status = 1;
      break;
    }
    Result e = load_etcd(etcd, o, round);
    std::printf("round %d, %d writes per request, %d clients: supernet %.0f writes/s (p50 %.1f ms, p99 %.1f ms); etcd %.0f writes/s (p50 %.1f ms, p99 %.1f ms)\n", round + 1,
                o.batch, o.clients, s->writes_per_s, s->p50_ms, s->p99_ms, e.writes_per_s, e.p50_ms, e.p99_ms);
    std::fflush(stdout);
    sn_rate.push_back(s->writes_per_s);
    sn_p50.push_back(s->p50_ms);
    sn_p99.push_back(s->p99_ms);
    et_rate.push_back(e.writes_per_s);
    et_p50.push_back(e.p50_ms);
    et_p99.push_back(e.p99_ms);
  }
  etcd.stop();
  run(cli + " down --dir " + net + " >/dev/null 2>&1");
  fs::remove_all(dir);
  if (status != 0) return status;
  double s = median(sn_rate), e = median(et_rate);
  std::printf("medians: supernet %.0f writes/s, p50 %.1f ms, p99 %.1f ms; etcd %.0f writes/s, p50 %.1f ms, p99 %.1f ms\n", s, median(sn_p50),
              median(sn_p99), e, median(et_p50), median(et_p99));
  if (!single_sn.empty()) {
    double s1 = median(single_sn), e1 = median(single_et);
    std::printf("one write per request, %d clients: supernet %.0f writes/s, etcd %.0f, ratio %.2f (goal 2x: %s)\n", single.clients, s1, e1,
                e1 > 0 ? s1 / e1 : 0, s1 >= 2 * e1 ? "met" : "NOT met");
  }
  std::printf("%d writes per request, %d clients: goals: at least 10000 writes/s (%s), at least 2x etcd (%s)\n", o.batch, o.clients,
              s >= 10000 ? "met" : "NOT met", s >= 2 * e ? "met" : "NOT met");
  std::printf("api writes/s: supernet %.0f, etcd %.0f, ratio %.2f\n", s, e, e > 0 ? s / e : 0);
  return 0;
}
