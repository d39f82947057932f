// supernet data register / list / delete / consent / policy: a party's data sets, sealed inside its own
// node, and their owners' say over the jobs that use them.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli/client.h"
#include "cli/commands.h"
#include "crypto/hash.h"
#include "crypto/keys.h"
#include "crypto/secure.h"
#include "fl/dataset.h"
#include "fl/wire.h"
#include "node/datasets.h"
#include "util/file.h"

namespace supernet::cli {

namespace {

using nlohmann::json;

struct RegisterArgs {
  NetFlags net;
  std::string name, file, label_column;
};

int run_register(const RegisterArgs& a) {
  if (a.net.node == 0) return fail(make_error("usage.node", "--node N: the node that keeps this data set (the party's own)"));
  auto net = open_network(a.net);
  if (!net.ok()) return fail(net.error());
  // Checked here first, so that a bad file is reported before anything is sent.
  fl::CsvOptions o;
  if (!a.label_column.empty()) o.label_column = a.label_column;
  std::string csv;
  auto d = fl::load_csv(a.file, o, &csv);
  if (!d.ok()) return fail(d.error());
  // The owner's signed word for it: this CSV, at this node, under this name (every node checks it).
  Bytes statement = fl::make_owner_statement(static_cast<uint32_t>(a.net.node), a.name, crypto::sha256(as_bytes(csv)), a.label_column, false,
                                             net->credentials.key);
  std::string path = "/v1/data/" + a.name + "?owner_statement=" + to_hex(statement);
  if (!a.label_column.empty()) path += "&label_column=" + a.label_column;
  Clients c(*net, a.net.node, /*failover=*/false);  // the data belongs at this node and no other
  auto r = c.request(true, path, csv, "text/csv");
  if (!r.ok()) return fail(r.error(), kExitCheckFailed);
  if (r->status != 201) return fail(make_error("data.refused", "node " + std::to_string(a.net.node) + ": " + error_text(*r)));
  json s = json::parse(r->body);
  std::printf("registered %s at node %d for %s, sealed: %zu rows, %zu features, %d classes (csv sha256 %s, data sha256 %s)\n", a.name.c_str(),
              a.net.node, s["owner"].get<std::string>().c_str(), s["rows"].get<size_t>(), s["features"].get<size_t>(), s["classes"].get<int>(),
              s["csv_sha256"].get<std::string>().c_str(), s["data_sha256"].get<std::string>().c_str());
  // Jobs and policies name it once the node's record of it is on the ledger.
  if (s.contains("registration_tx")) {
    auto done = await_commit(c, s["registration_tx"].get<std::string>(), "", 30, isatty(2));
    if (!done.ok()) return fail(done.error(), kExitCheckFailed);
    std::printf("on the ledger at height %llu\n", static_cast<unsigned long long>(done->value("height", 0ULL)));
  }
  return kExitOk;
}

struct DeleteArgs {
  NetFlags net;
  std::string name;
};

int run_delete(const DeleteArgs& a) {
  if (a.net.node == 0) return fail(make_error("usage.node", "--node N: the node that keeps the data set"));
  auto net = open_network(a.net);
  if (!net.ok()) return fail(net.error());
  Clients c(*net, a.net.node, /*failover=*/false);
  // The owner names the version it deletes (the ledger's, as the node lists it).
  auto listed = c.request(false, "/v1/data");
  if (!listed.ok()) return fail(listed.error(), kExitCheckFailed);
  if (listed->status != 200) return fail(make_error("data.list", error_text(*listed)), kExitCheckFailed);
  Bytes version(32, 0);
  json all = json::parse(listed->body, nullptr, false);
  if (!all.is_object() || !all.contains("datasets")) return fail(make_error("data.list", "node " + std::to_string(a.net.node) + " sent no list"), kExitCheckFailed);
  for (const auto& d : all["datasets"]) {
    if (d.value("name", "") != a.name || d.value("owner", "") != a.net.as) continue;
    std::string hex = d.contains("ledger") && d["ledger"].contains("csv_sha256") ? d["ledger"]["csv_sha256"].get<std::string>() : d.value("csv_sha256", "");
    if (auto v = from_hex(hex); v.ok() && v->size() == 32) version = std::move(v).value();
  }
  Bytes statement = fl::make_owner_statement(static_cast<uint32_t>(a.net.node), a.name, version, "", true, net->credentials.key);
  auto r = c.del("/v1/data/" + a.name + "?owner_statement=" + to_hex(statement));
  if (!r.ok()) return fail(r.error(), kExitCheckFailed);
  if (r->status != 200) return fail(make_error("data.refused", "node " + std::to_string(a.net.node) + ": " + error_text(*r)));
  json d = json::parse(r->body, nullptr, false);
  if (d.is_object() && d.contains("deletion_tx")) {
    auto done = await_commit(c, d["deletion_tx"].get<std::string>(), "", 30, isatty(2));
    if (!done.ok()) return fail(done.error(), kExitCheckFailed);
  }
  std::printf("deleted %s at node %d\n", a.name.c_str(), a.net.node);
  return kExitOk;
}

struct ConsentArgs {
  NetFlags net;
  std::string job;
};

int run_consent(const ConsentArgs& a) {
  auto id = from_hex(a.job);
  if (!id.ok() || id->size() != 32) return fail(make_error("usage.job", "JOB is a job id: 64 hex digits (supernet fl list shows them)"));
  auto net = open_network(a.net);
  if (!net.ok()) return fail(net.error());
  // Signed with this client's key: each party checks it against the owner its sealed schema
  // records, so only the owner's consent opens the owner's data.
  Bytes tx = fl::make_consent_tx(*id, crypto::random_u64(), net->credentials.key);
  Clients c(*net, a.net.node);
  auto r = c.request(true, "/v1/fl/jobs/" + a.job + "/consent", json{{"tx", to_hex(tx)}}.dump());
  if (!r.ok()) return fail(r.error(), kExitCheckFailed);
  if (r->status != 202 && r->status != 200) return fail(make_error("data.consent", error_text(*r)));
  std::printf("consented to job %s: the parties holding your data sets train for it once the consent commits\n", a.job.c_str());
  return kExitOk;
}

struct PolicyArgs {
  NetFlags net;
  std::string name, submitters, readers;
  uint32_t min_parties = 0, max_epochs = 0;
  uint64_t max_params = 0;
  double max_epsilon = 0, budget = 0, local_clip = 0, local_noise = 0;
};

std::vector<std::string> split_names(const std::string& list) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < list.size()) {
    size_t end = list.find(',', pos);
    if (end == std::string::npos) end = list.size();
    if (end > pos) out.push_back(list.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

std::string policy_text(const json& p) {
  auto names = [](const json& a) {
    std::string out;
    for (const auto& n : a) out += (out.empty() ? "" : ",") + n.get<std::string>();
    return out.empty() ? std::string("(owner only)") : out;
  };
  std::string t = "submitters " + names(p["submitters"]) + "; readers " + names(p["readers"]);
  if (p["min_parties"].get<uint32_t>() > 0) t += "; min parties " + std::to_string(p["min_parties"].get<uint32_t>());
  if (p["max_epochs"].get<uint32_t>() > 0) t += "; max epochs " + std::to_string(p["max_epochs"].get<uint32_t>());
  if (p["max_params"].get<uint64_t>() > 0) t += "; max params " + std::to_string(p["max_params"].get<uint64_t>());
  char buf[160];
  if (p["max_epsilon"].get<double>() > 0) {
    std::snprintf(buf, sizeof buf, "; max epsilon %.4g per job", p["max_epsilon"].get<double>());
    t += buf;
  }
  if (p["epsilon_budget"].get<double>() > 0) {
    std::snprintf(buf, sizeof buf, "; DP budget %.4g", p["epsilon_budget"].get<double>());
    t += buf;
  }
  if (p["local_clip"].get<double>() > 0) {
    std::snprintf(buf, sizeof buf, "; local DP clip %.4g noise %.4g", p["local_clip"].get<double>(), p["local_noise"].get<double>());
    t += buf;
  }
  return t;
}

int run_policy(const PolicyArgs& a) {
  if (a.net.node == 0) return fail(make_error("usage.node", "--node N: the node that keeps the data set"));
  if ((a.local_clip > 0) != (a.local_noise > 0)) return fail(make_error("usage.local_dp", "local DP needs both --local-clip and --local-noise"));
  if (a.min_parties == 1) return fail(make_error("usage.min_parties", "--min-parties: at least 2 (one party's update would be the model)"));
  fl::DataPolicy p;
  p.submitters = split_names(a.submitters);
  p.readers = split_names(a.readers);
  p.min_parties = a.min_parties;
  p.max_epochs = a.max_epochs;
  p.max_params = a.max_params;
  p.max_epsilon = a.max_epsilon;
  p.epsilon_budget = a.budget;
  p.local_clip = a.local_clip;
  p.local_noise = a.local_noise;
  auto net = open_network(a.net);
  if (!net.ok()) return fail(net.error());
  // Signed with this client's key: every node applies it only if the ledger names this client
  // as the data set's owner.
  Bytes tx = fl::make_policy_tx(static_cast<uint32_t>(a.net.node), a.name, p, crypto::random_u64(), net->credentials.key);
  if (auto check = fl::PolicyTx::decode(tx); !check.ok()) return fail(make_error("usage.policy", check.error().message));
  Clients c(*net, a.net.node, /*failover=*/false);
  auto r = c.request(true, "/v1/data/" + a.name + "/policy", json{{"tx", to_hex(tx)}}.dump());
  if (!r.ok()) return fail(r.error(), kExitCheckFailed);
  if (r->status != 202 && r->status != 200) return fail(make_error("data.policy", "node " + std::to_string(a.net.node) + ": " + error_text(*r)));
  auto done = await_commit(c, json::parse(r->body)["id"].get<std::string>(), "", 30, isatty(2));
  if (!done.ok()) return fail(done.error(), kExitCheckFailed);
  std::printf("policy of %s at node %d on the ledger: %s\n", a.name.c_str(), a.net.node, policy_text(node::policy_to_json(p)).c_str());
  return kExitOk;
}

int run_list(const NetFlags& f) {
  if (f.node == 0) return fail(make_error("usage.node", "--node N: whose data sets to list"));
  auto net = open_network(f);
  if (!net.ok()) return fail(net.error());
  Clients c(*net, f.node, /*failover=*/false);
  auto r = c.request(false, "/v1/data");
  if (!r.ok()) return fail(r.error(), kExitCheckFailed);
  if (r->status != 200) return fail(make_error("data.list", error_text(*r)), kExitCheckFailed);
  json j = json::parse(r->body);
  std::printf("%-24s %-12s %-12s %8s %9s %8s  %s\n", "data set", "owner", "version", "rows", "features", "classes", "per class");
  for (const auto& s : j["datasets"]) {
    if (s.contains("problem")) {
      std::printf("%-24s NOT TRUSTED: %s\n", s["name"].get<std::string>().c_str(), s["problem"].get<std::string>().c_str());
      continue;
    }
    std::printf("%-24s %-12s %-12s %8zu %9zu %8d  %s\n", s["name"].get<std::string>().c_str(), s["owner"].get<std::string>().c_str(),
                s["data_sha256"].get<std::string>().substr(0, 12).c_str(), s["rows"].get<size_t>(), s["features"].get<size_t>(), s["classes"].get<int>(), s["class_counts"].dump().c_str());
    if (s.contains("ledger") && !s["ledger"]["registered"].get<bool>()) {
      std::printf("%-24s not on the ledger: jobs cannot name it (register it again)\n", "");
    } else if (s.contains("ledger") && !s["ledger"]["same_version"].get<bool>()) {
      std::printf("%-24s NOT TRUSTED: not the version the ledger records (rolled back?)\n", "");
    }
    if (s.contains("policy")) std::printf("%-24s policy: %s\n", "", policy_text(s["policy"]).c_str());
    if (s.contains("epsilon_spent") && s["epsilon_spent"].get<double>() > 0) {
      std::printf("%-24s DP epsilon spent (and reserved by running jobs): %.4g\n", "", s["epsilon_spent"].get<double>());
    }
  }
  if (j["datasets"].empty()) std::printf("(none)\n");
  return kExitOk;
}

struct SplitArgs {
  std::string file, out_dir, label_column;
  int parties = 3;
  double dirichlet = 0;  // 0: IID
  uint64_t seed = 1;
};

// Local: deal a CSV's rows out to N party files (for demonstrations and tests).
int run_split(const SplitArgs& a) {
  fl::CsvOptions o;
  if (!a.label_column.empty()) o.label_column = a.label_column;
  auto d = fl::load_csv(a.file, o);
  if (!d.ok()) return fail(d.error());
  if (a.parties < 1 || a.parties > 1000) return fail(make_error("usage.parties", "--parties must be 1 to 1000"));
  std::vector<std::vector<size_t>> parts;
  if (a.dirichlet > 0) {
    auto p = fl::partition_dirichlet(*d, a.parties, a.dirichlet, a.seed);
    if (!p.ok()) return fail(p.error());
    parts = std::move(p).value();
  } else {
    parts = fl::partition_iid(d->rows, a.parties, a.seed);
  }
  std::error_code ec;
  std::filesystem::create_directories(a.out_dir, ec);
  for (size_t k = 0; k < parts.size(); k++) {
    std::string text = fl::to_csv(*d, parts[k]);
    std::string path = a.out_dir + "/party-" + std::to_string(k + 1) + ".csv";
    if (auto w = write_file_atomic(path, as_bytes(text)); !w.ok()) return fail(w.error());
    std::printf("%s: %zu rows\n", path.c_str(), parts[k].size());
  }
  return kExitOk;
}

}  // namespace

void add_data_commands(CLI::App& app, int* exit_code) {
  CLI::App* data = app.add_subcommand("data", "A party's data sets, sealed in its own node");
  data->require_subcommand(1);
  auto r = std::make_shared<RegisterArgs>();
  CLI::App* reg = data->add_subcommand(
      "register", "Validate a CSV here, then send it over attested TLS to the party's node, which seals it (the plaintext never reaches its disk)");
  r->net.add_to(reg);
  reg->add_option("--name", r->name, "data set name (A-Z a-z 0-9 . _ -)")->required();
  reg->add_option("file", r->file, "CSV: numbers, an optional header row, the label (a class number) in the last column")->required();
  reg->add_option("--label-column", r->label_column, "the label column instead: a header name or a 0-based index");
  reg->callback([r, exit_code] { *exit_code = run_register(*r); });
  auto l = std::make_shared<NetFlags>();
  CLI::App* list = data->add_subcommand("list", "A node's data sets: schema and row counts (never rows)");
  l->add_to(list);
  list->callback([l, exit_code] { *exit_code = run_list(*l); });
  auto del = std::make_shared<DeleteArgs>();
  CLI::App* delc = data->add_subcommand(
      "delete", "Delete your data set at its node (its owner only); jobs using it are refused from then on. To replace it, delete it and register the new version");
  del->net.add_to(delc);
  delc->add_option("--name", del->name, "data set name")->required();
  delc->callback([del, exit_code] { *exit_code = run_delete(*del); });
  auto con = std::make_shared<ConsentArgs>();
  CLI::App* conc = data->add_subcommand(
      "consent", "Consent, as a data owner, to a job another client submitted training on your data sets (signed with your client key, recorded on the ledger)");
  con->net.add_to(conc);
  conc->add_option("job", con->job, "the job id (supernet fl list shows the jobs awaiting your consent)")->required();
  conc->callback([con, exit_code] { *exit_code = run_consent(*con); });
  auto pol = std::make_shared<PolicyArgs>();
  CLI::App* polc = data->add_subcommand(
      "policy",
      "Set what your data set allows (its owner only; on the ledger, checked by every node for every job naming it): who may submit "
      "jobs on it without asking you (others wait for `data consent`), who may read the models, the least parties per round, the most "
      "epochs and model parameters, the DP a job must use and the total DP budget, and local DP at your node. Each call replaces the "
      "whole policy; 0 means no limit");
  pol->net.add_to(polc);
  polc->add_option("name", pol->name, "data set name")->required();
  polc->add_option("--submitters", pol->submitters, "members whose jobs train on it without a consent per job, comma-separated");
  polc->add_option("--readers", pol->readers, "clients a job may name as model readers (you always may), comma-separated; none: only you");
  polc->add_option("--min-parties", pol->min_parties, "least parties in every round (2 or more; 0: the default, 2)");
  polc->add_option("--max-epochs", pol->max_epochs, "most local epochs per round");
  polc->add_option("--max-params", pol->max_params, "most model parameters");
  polc->add_option("--max-epsilon", pol->max_epsilon, "jobs must use DP and spend at most this epsilon each (at the job's delta)");
  polc->add_option("--budget", pol->budget, "jobs must use DP, and are refused once their epsilon would pass this total");
  polc->add_option("--local-clip", pol->local_clip, "local DP: your node clips each update to this L2 norm before it leaves ...");
  polc->add_option("--local-noise", pol->local_noise, "... and adds Gaussian noise of this multiple of the clip to every value");
  polc->callback([pol, exit_code] { *exit_code = run_policy(*pol); });
  auto sp = std::make_shared<SplitArgs>();
  CLI::App* split = data->add_subcommand("split", "Deal a CSV's rows out to party files, IID or non-IID (Dirichlet over labels), seeded (local)");
  split->add_option("file", sp->file, "CSV")->required();
  split->add_option("--parties", sp->parties, "how many parties")->capture_default_str();
  split->add_option("--out-dir", sp->out_dir, "folder for party-1.csv ...")->required();
  split->add_option("--dirichlet", sp->dirichlet, "non-IID: Dirichlet concentration over labels (smaller: more skewed); 0: IID")->capture_default_str();
  split->add_option("--seed", sp->seed, "seed")->capture_default_str();
  split->add_option("--label-column", sp->label_column, "label column (header name or 0-based index; default last)");
  split->callback([sp, exit_code] { *exit_code = run_split(*sp); });
}

}  // namespace supernet::cli
