// supernet fl submit / status / watch / model: federated learning jobs on a running network.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli/client.h"
#include "cli/commands.h"
#include "util/file.h"

namespace supernet::cli {

namespace {

using nlohmann::json;

struct SubmitArgs {
  NetFlags net;
  std::string file;
};

int run_submit(const SubmitArgs& a) {
  auto net = open_network(a.net);
  if (!net.ok()) return fail(net.error());
  auto text = read_file(a.file, 48 * 1024);
  if (!text.ok()) return fail(text.error());
  Clients c(*net, a.net.node);
  auto r = c.request(true, "/v1/fl/jobs", to_string(*text), "application/toml");
  if (!r.ok()) return fail(r.error(), kExitCheckFailed);
  if (r->status != 202 && r->status != 200) return fail(make_error("fl.refused", error_text(*r)));
  std::string id = json::parse(r->body)["id"];
  std::printf("job %s submitted\nfollow it: supernet fl watch %s --dir %s\n", id.c_str(), id.c_str(), a.net.dir.c_str());
  return kExitOk;
}

struct JobArgs {
  NetFlags net;
  std::string id;
  std::string out;
  int timeout_s = 600;
};

Result<json> fetch(Clients& c, const std::string& id) {
  SN_ASSIGN(node::HttpReply r, c.request(false, "/v1/fl/jobs/" + id));
  if (r.status != 200) return make_error("fl.status", error_text(r));
  return json::parse(r.body);
}

void print_status(const json& j) {
  std::printf("job %s (%s): %s, round %d of %d, strategy %s, model %s, aggregator node %d\n", j["name"].get<std::string>().c_str(),
              j["id"].get<std::string>().substr(0, 12).c_str(), j["status"].get<std::string>().c_str(), j["rounds_done"].get<int>(),
              j["rounds"].get<int>(), j["strategy"].get<std::string>().c_str(), j["model"].get<std::string>().c_str(), j["aggregator"].get<int>());
  for (const auto& r : j["round_records"]) {
    std::printf("  round %3d  parties %zu%s  eval accuracy %.4f  loss %.4f%s\n", r["round"].get<int>(), r["parties"].size(),
                r["dropped"].empty() ? "" : (" (dropped " + r["dropped"].dump() + ")").c_str(), r["eval"]["accuracy"].get<double>(),
                r["eval"]["loss"].get<double>(), r["epsilon"].get<double>() > 0 ? ("  epsilon " + std::to_string(r["epsilon"].get<double>())).c_str() : "");
  }
  if (j.contains("failure")) std::printf("  failed: %s\n", j["failure"].get<std::string>().c_str());
}

int run_status(const JobArgs& a) {
  auto net = open_network(a.net);
  if (!net.ok()) return fail(net.error());
  Clients c(*net, a.net.node);
  auto j = fetch(c, a.id);
  if (!j.ok()) return fail(j.error(), kExitCheckFailed);
  print_status(*j);
  return kExitOk;
}

int run_watch(const JobArgs& a) {
  auto net = open_network(a.net);
  if (!net.ok()) return fail(net.error());
  Clients c(*net, a.net.node);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(a.timeout_s);
  bool tty = isatty(1);
  int shown = -1;
  while (std::chrono::steady_clock::now() < deadline) {
    auto j = fetch(c, a.id);
    if (!j.ok()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      continue;
    }
    int done = (*j)["rounds_done"].get<int>(), total = (*j)["rounds"].get<int>();
    if (done != shown) {
      shown = done;
      double acc = j->contains("accuracy") ? (*j)["accuracy"].get<double>() : 0;
      double loss = done > 0 ? (*j)["round_records"].back()["eval"]["loss"].get<double>() : 0;
      size_t parties = done > 0 ? (*j)["round_records"].back()["parties"].size() : 0;
      int width = 30, filled = total > 0 ? done * width / total : 0;
      std::printf("%s[%s%s] round %d/%d  accuracy %.4f  loss %.4f  parties %zu%s", tty ? "\r" : "", std::string(static_cast<size_t>(filled), '#').c_str(),
                  std::string(static_cast<size_t>(width - filled), '.').c_str(), done, total, acc, loss, parties, tty ? "" : "\n");
      std::fflush(stdout);
    }
    std::string status = (*j)["status"];
    if (status == "finished" || status == "failed") {
      if (tty) std::printf("\n");
      print_status(*j);
      return status == "finished" ? kExitOk : kExitCheckFailed;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return fail(make_error("fl.timeout", "the job did not finish within " + std::to_string(a.timeout_s) + " s"), kExitCheckFailed);
}

int run_model(const JobArgs& a) {
  if (a.out.empty()) return fail(make_error("usage.out", "--out FILE is required"));
  auto net = open_network(a.net);
  if (!net.ok()) return fail(net.error());
  Clients c(*net, a.net.node);
  auto r = c.request(false, "/v1/fl/jobs/" + a.id + "/model");
  if (!r.ok()) return fail(r.error(), kExitCheckFailed);
  if (r->status != 200) return fail(make_error("fl.model", error_text(*r)), kExitCheckFailed);
  if (auto w = write_file_atomic(a.out, as_bytes(r->body), 0600); !w.ok()) return fail(w.error());
  json j = json::parse(r->body);
  std::printf("model of job %s (%zu parameters, hash %s) written to %s\n", a.id.substr(0, 12).c_str(), j["params"].size(),
              j["model_hash"].get<std::string>().c_str(), a.out.c_str());
  return kExitOk;
}

}  // namespace

void add_fl_commands(CLI::App& app, int* exit_code) {
  CLI::App* fl = app.add_subcommand("fl", "Federated learning jobs: the data stays sealed in each party's node");
  fl->require_subcommand(1);
  auto s = std::make_shared<SubmitArgs>();
  CLI::App* submit = fl->add_subcommand("submit", "Submit a job file (TOML; see docs/federated-learning.md)");
  s->net.add_to(submit);
  submit->add_option("job", s->file, "job file")->required();
  submit->callback([s, exit_code] { *exit_code = run_submit(*s); });
  auto st = std::make_shared<JobArgs>();
  CLI::App* status = fl->add_subcommand("status", "A job's state and its rounds, from the ledger");
  st->net.add_to(status);
  status->add_option("id", st->id, "job id")->required();
  status->callback([st, exit_code] { *exit_code = run_status(*st); });
  auto w = std::make_shared<JobArgs>();
  CLI::App* watch = fl->add_subcommand("watch", "Follow a job with a progress bar (round, accuracy, loss, parties) until it ends");
  w->net.add_to(watch);
  watch->add_option("id", w->id, "job id")->required();
  watch->add_option("--timeout", w->timeout_s, "seconds")->capture_default_str();
  watch->callback([w, exit_code] { *exit_code = run_watch(*w); });
  auto m = std::make_shared<JobArgs>();
  CLI::App* model = fl->add_subcommand("model", "Download the final model (only for clients the job names as model_readers)");
  m->net.add_to(model);
  model->add_option("id", m->id, "job id")->required();
  model->add_option("--out", m->out, "file to write (JSON)")->required();
  model->callback([m, exit_code] { *exit_code = run_model(*m); });
}

}  // namespace supernet::cli
