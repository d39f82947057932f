// supernet fl submit / status / watch / model: federated learning jobs on a running network.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli/client.h"
#include "cli/commands.h"
#include "fl/model_file.h"
#include "fl/job.h"
#include "fl/simulation.h"
#include "fl/wire.h"
#include "crypto/keys.h"
#include "ledger/receipt.h"
#include "ledger/tx.h"
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
  // Signed with this client's key: every node checks who submitted the job, not only this one.
  Bytes tx = fl::make_job_tx(to_string(*text), crypto::random_u64(), net->credentials.key);
  Clients c(*net, a.net.node);
  auto r = c.request(true, "/v1/fl/jobs", json{{"tx", to_hex(tx)}}.dump());
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

int run_list(const NetFlags& f) {
  auto net = open_network(f);
  if (!net.ok()) return fail(net.error());
  Clients c(*net, f.node);
  auto r = c.request(false, "/v1/fl/jobs");
  if (!r.ok()) return fail(r.error(), kExitCheckFailed);
  if (r->status != 200) return fail(make_error("fl.list", error_text(*r)), kExitCheckFailed);
  json j = json::parse(r->body, nullptr, false);
  if (j.is_discarded() || !j.contains("jobs")) return fail(make_error("fl.list", "the node's answer is not a job list"), kExitCheckFailed);
  std::printf("%-64s %-16s %-9s %-10s %7s  %s\n", "job", "name", "status", "submitter", "rounds", "awaiting consent (at this node)");
  for (const auto& x : j["jobs"]) {
    std::string awaiting;
    for (const auto& o : x.value("awaiting_consent", json::array())) awaiting += (awaiting.empty() ? "" : ", ") + o.get<std::string>();
    std::string rounds = std::to_string(x["rounds_done"].get<int>()) + "/" + std::to_string(x["rounds"].get<int>());
    std::printf("%-64s %-16s %-9s %-10s %7s  %s\n", x["id"].get<std::string>().c_str(), x["name"].get<std::string>().c_str(),
                x["status"].get<std::string>().c_str(), x["submitter"].get<std::string>().c_str(), rounds.c_str(), awaiting.c_str());
  }
  if (j["jobs"].empty()) std::printf("(none)\n");
  return kExitOk;
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
  // Checked before it is written: the shape, the standardization, the parameters' hash.
  auto file = fl::ModelFile::parse(r->body);
  if (!file.ok()) return fail(make_error(file.error().code, "the node's answer is not a valid model file: " + file.error().message), kExitCheckFailed);
  if (auto w = write_file_atomic(a.out, as_bytes(file->to_json()), 0600); !w.ok()) return fail(w.error());
  std::printf("model of job %s (%s, %zu inputs, %d classes, %zu parameters, hash %s%s) written to %s\n", a.id.substr(0, 12).c_str(),
              file->spec.kind == fl::ModelSpec::Kind::kMlp ? "mlp" : "logistic", file->spec.inputs, file->spec.classes, file->params.size(),
              to_hex(file->model_sha256).c_str(), file->features.empty() ? "; no feature names: this node keeps none of the job's data sets" : "",
              a.out.c_str());
  return kExitOk;
}

struct CentralArgs {
  std::string job, parts_dir, out;
};

// The reference: the job's model trained centrally on the union of the parties' training rows
// (each party file split as its node splits it), evaluated on the union of their held-out rows.
int run_central(const CentralArgs& a) {
  auto text = read_file(a.job, 48 * 1024);
  if (!text.ok()) return fail(text.error());
  auto job = fl::parse_job(to_string(*text), a.job);
  if (!job.ok()) return fail(job.error());
  std::vector<fl::Party> parties;
  for (const auto& p : job->parties) {
    std::string path = a.parts_dir + "/party-" + std::to_string(p.node) + ".csv";
    auto d = fl::load_csv(path);
    if (!d.ok()) return fail(d.error());
    auto [train, test] = fl::split(*d, 0.2, job->config.seed + p.node);
    parties.push_back({"node-" + std::to_string(p.node), std::move(train), std::move(test), false});
  }
  // The same standardization the federation computes: over every party's training rows.
  fl::Dataset all;
  for (const auto& p : parties) {
    all.features = p.train.features;
    all.x.insert(all.x.end(), p.train.x.begin(), p.train.x.end());
    all.rows += p.train.rows;
  }
  fl::Standardizer s = fl::Standardizer::fit(all);
  int classes = 2;
  for (auto& p : parties) {
    s.apply(p.train);
    s.apply(p.test);
    classes = std::max({classes, p.train.classes, p.test.classes});
  }
  for (auto& p : parties) p.train.classes = p.test.classes = classes;
  fl::ModelSpec spec = job->config.model;
  spec.inputs = all.features;
  spec.classes = classes;
  fl::TrainOptions o = job->config.local;
  o.epochs = job->config.rounds * job->config.local.epochs;
  o.seed = job->config.seed;
  fl::Model model;
  fl::Metrics m = fl::train_central(spec, parties, o, job->config.seed, &model);
  std::printf("central training on the union (%d epochs): held-out accuracy %.4f, loss %.4f (%zu rows)\n", o.epochs, m.accuracy, m.loss,
              m.examples);
  if (!a.out.empty()) {
    // A model file like the federation's (fl/model_file.h), without a job: a reference to
    // compare with, or a model to package for an agent.
    fl::ModelFile f;
    f.spec = spec;
    f.features = parties.front().train.feature_names;
    f.standardization = s;
    f.params = model.params();
    f.model_sha256 = fl::model_hash(f.params);
    if (auto w = write_file_atomic(a.out, as_bytes(f.to_json()), 0600); !w.ok()) return fail(w.error());
    std::printf("model file written to %s (hash %s)\n", a.out.c_str(), to_hex(f.model_sha256).c_str());
  }
  return kExitOk;
}

int run_plot(const JobArgs& a) {
  if (a.out.empty()) return fail(make_error("usage.out", "--out FILE.svg is required"));
  auto net = open_network(a.net);
  if (!net.ok()) return fail(net.error());
  Clients c(*net, a.net.node);
  auto j = fetch(c, a.id);
  if (!j.ok()) return fail(j.error(), kExitCheckFailed);
  const auto& rounds = (*j)["round_records"];
  if (rounds.empty()) return fail(make_error("fl.plot", "no rounds recorded yet"), kExitCheckFailed);
  double max_loss = 0;
  for (const auto& r : rounds) max_loss = std::max(max_loss, r["eval"]["loss"].get<double>());
  const double W = 640, H = 360, L = 60, R = 60, T = 40, B = 50;
  size_t n = rounds.size();
  auto x = [&](size_t i) { return L + (n > 1 ? (W - L - R) * static_cast<double>(i) / static_cast<double>(n - 1) : 0); };
  auto y_acc = [&](double v) { return T + (H - T - B) * (1 - v); };
  auto y_loss = [&](double v) { return T + (H - T - B) * (1 - v / std::max(max_loss, 1e-9)); };
  std::string acc_pts, loss_pts;
  char buf[128];
  for (size_t i = 0; i < n; i++) {
    std::snprintf(buf, sizeof buf, "%.1f,%.1f ", x(i), y_acc(rounds[i]["eval"]["accuracy"].get<double>()));
    acc_pts += buf;
    std::snprintf(buf, sizeof buf, "%.1f,%.1f ", x(i), y_loss(rounds[i]["eval"]["loss"].get<double>()));
    loss_pts += buf;
  }
  std::string svg;
  auto add = [&](const std::string& s2) { svg += s2 + "\n"; };
  std::snprintf(buf, sizeof buf, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" font-family=\"sans-serif\" font-size=\"12\">", W, H);
  add(buf);
  add("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>");
  add("<text x=\"" + std::to_string(static_cast<int>(L)) + "\" y=\"24\" font-size=\"14\">" + (*j)["name"].get<std::string>() +
      ": held-out accuracy and loss per round</text>");
  std::snprintf(buf, sizeof buf, "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"black\"/>", L, H - B, W - R, H - B);
  add(buf);
  std::snprintf(buf, sizeof buf, "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"black\"/>", L, T, L, H - B);
  add(buf);
  for (double v : {0.0, 0.25, 0.5, 0.75, 1.0}) {
    std::snprintf(buf, sizeof buf, "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\" fill=\"#1f77b4\">%.2f</text>", L - 6, y_acc(v) + 4, v);
    add(buf);
    std::snprintf(buf, sizeof buf, "<text x=\"%.0f\" y=\"%.1f\" fill=\"#d62728\">%.2f</text>", W - R + 6, y_acc(v) + 4, v * max_loss);
    add(buf);
  }
  std::snprintf(buf, sizeof buf, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">round (1 to %zu)</text>", (L + W - R) / 2, H - 15, n);
  add(buf);
  add("<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2\" points=\"" + acc_pts + "\"/>");
  add("<polyline fill=\"none\" stroke=\"#d62728\" stroke-width=\"2\" stroke-dasharray=\"5,3\" points=\"" + loss_pts + "\"/>");
  std::snprintf(buf, sizeof buf, "<text x=\"%.0f\" y=\"%.0f\" fill=\"#1f77b4\">accuracy</text><text x=\"%.0f\" y=\"%.0f\" fill=\"#d62728\">loss</text>",
                L + 10, T + 14, L + 80, T + 14);
  add(buf);
  add("</svg>");
  if (auto w = write_file_atomic(a.out, as_bytes(svg)); !w.ok()) return fail(w.error());
  std::printf("plot of %zu rounds written to %s\n", n, a.out.c_str());
  return kExitOk;
}

int run_lineage(const JobArgs& a) {
  auto net = open_network(a.net);
  if (!net.ok()) return fail(net.error());
  Clients c(*net, a.net.node);
  auto j = fetch(c, a.id);
  if (!j.ok()) return fail(j.error(), kExitCheckFailed);
  std::printf("job %s (%s), submitted by %s at height %llu\n", (*j)["name"].get<std::string>().c_str(), (*j)["id"].get<std::string>().c_str(),
              (*j)["submitter"].get<std::string>().c_str(), static_cast<unsigned long long>((*j)["submitted_at_height"].get<uint64_t>()));
  int bad = 0;
  for (const auto& r : (*j)["round_records"]) {
    std::string tx = r["tx"];
    std::string verdict = "receipt NOT verified";
    auto t = c.request(false, "/v1/tx/" + tx);
    if (t.ok() && t->status == 200) {
      auto body = json::parse(t->body, nullptr, false);
      auto proof_bytes = body.is_object() && body.contains("receipt") ? from_hex(body["receipt"].get<std::string>()) : Result<Bytes>(make_error("x", "x"));
      if (proof_bytes.ok()) {
        auto proof = ledger::ReceiptProof::decode(*proof_bytes);
        // The receipt must be for this very transaction, committed under the network's genesis.
        if (proof.ok() && to_hex(ledger::tx_hash(proof->receipt.tx)) == tx &&
            ledger::verify_receipt_proof(*proof, net->genesis.protocol, net->genesis.membership()).ok()) {
          verdict = "receipt verified offline (block " + std::to_string(proof->receipt.header.height) + ")";
        }
      }
    }
    bad += verdict.rfind("receipt verified", 0) != 0;
    std::string hashes;
    for (const auto& h : r["update_hashes"]) hashes += (hashes.empty() ? "" : " ") + h.get<std::string>().substr(0, 10);
    std::printf("  round %3d by node %d: parties %s, updates [%s], model %s, accuracy %.4f; %s\n", r["round"].get<int>(),
                r["aggregator"].get<int>(), r["parties"].dump().c_str(), hashes.c_str(), r["model_hash"].get<std::string>().substr(0, 16).c_str(),
                r["eval"]["accuracy"].get<double>(), verdict.c_str());
  }
  return bad == 0 ? kExitOk : kExitCheckFailed;
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
  auto ls = std::make_shared<NetFlags>();
  CLI::App* list = fl->add_subcommand("list", "Every job on the ledger: status, submitter, rounds, and whose consent it awaits at the node asked (--node)");
  ls->add_to(list);
  list->callback([ls, exit_code] { *exit_code = run_list(*ls); });
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
  auto p = std::make_shared<JobArgs>();
  CLI::App* plot = fl->add_subcommand("plot", "Write an SVG plot of held-out accuracy and loss per round");
  p->net.add_to(plot);
  plot->add_option("id", p->id, "job id")->required();
  plot->add_option("--out", p->out, "SVG file")->required();
  plot->callback([p, exit_code] { *exit_code = run_plot(*p); });
  auto l = std::make_shared<JobArgs>();
  CLI::App* lineage = fl->add_subcommand("lineage", "Every round on the ledger: parties, update hashes, model hash, metrics, each receipt verified offline");
  l->net.add_to(lineage);
  lineage->add_option("id", l->id, "job id")->required();
  lineage->callback([l, exit_code] { *exit_code = run_lineage(*l); });
  auto c = std::make_shared<CentralArgs>();
  CLI::App* central = fl->add_subcommand("central", "Local reference: the job's model trained centrally on the union of the party files");
  central->add_option("job", c->job, "job file")->required();
  central->add_option("--parts-dir", c->parts_dir, "folder with party-<node>.csv for each party (as data split writes)")->required();
  central->add_option("--out", c->out, "also write the centrally trained model as a model file (supernet model predict reads it)");
  central->callback([c, exit_code] { *exit_code = run_central(*c); });
}

}  // namespace supernet::cli
