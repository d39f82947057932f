// supernet data register / list / delete / consent: a party's data sets, sealed inside its own
// node, and their owners' say over the jobs that use them.
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli/client.h"
#include "cli/commands.h"
#include "crypto/keys.h"
#include "crypto/secure.h"
#include "fl/dataset.h"
#include "fl/wire.h"
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
  std::string path = "/v1/data/" + a.name;
  if (!a.label_column.empty()) path += "?label_column=" + a.label_column;
  Clients c(*net, a.net.node, /*failover=*/false);  // the data belongs at this node and no other
  auto r = c.request(true, path, csv, "text/csv");
  if (!r.ok()) return fail(r.error(), kExitCheckFailed);
  if (r->status != 201) return fail(make_error("data.refused", "node " + std::to_string(a.net.node) + ": " + error_text(*r)));
  json s = json::parse(r->body);
  std::printf("registered %s at node %d for %s, sealed: %zu rows, %zu features, %d classes (csv sha256 %s, data sha256 %s)\n", a.name.c_str(),
              a.net.node, s["owner"].get<std::string>().c_str(), s["rows"].get<size_t>(), s["features"].get<size_t>(), s["classes"].get<int>(),
              s["csv_sha256"].get<std::string>().c_str(), s["data_sha256"].get<std::string>().c_str());
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
  auto r = c.del("/v1/data/" + a.name);
  if (!r.ok()) return fail(r.error(), kExitCheckFailed);
  if (r->status != 200) return fail(make_error("data.refused", "node " + std::to_string(a.net.node) + ": " + error_text(*r)));
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
