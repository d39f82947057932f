// supernet data register / list: a party's data sets, sealed inside its own node.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/client.h"
#include "cli/commands.h"
#include "fl/dataset.h"
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
  auto csv = read_file(a.file, 64 * 1024 * 1024);
  if (!csv.ok()) return fail(csv.error());
  // Checked here first, so that a bad file is reported before anything is sent.
  fl::CsvOptions o;
  if (!a.label_column.empty()) o.label_column = a.label_column;
  auto d = fl::parse_csv(to_string(*csv), o);
  if (!d.ok()) return fail(make_error(d.error().code, a.file + ": " + d.error().message));
  std::string path = "/v1/data/" + a.name;
  if (!a.label_column.empty()) path += "?label_column=" + a.label_column;
  Clients c(*net, a.net.node, /*failover=*/false);  // the data belongs at this node and no other
  auto r = c.request(true, path, to_string(*csv), "text/csv");
  if (!r.ok()) return fail(r.error(), kExitCheckFailed);
  if (r->status != 201) return fail(make_error("data.refused", "node " + std::to_string(a.net.node) + ": " + error_text(*r)));
  json s = json::parse(r->body);
  std::printf("registered %s at node %d, sealed: %zu rows, %zu features, %d classes (csv sha256 %s)\n", a.name.c_str(), a.net.node,
              s["rows"].get<size_t>(), s["features"].get<size_t>(), s["classes"].get<int>(), s["csv_sha256"].get<std::string>().c_str());
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
  std::printf("%-24s %8s %9s %8s  %s\n", "data set", "rows", "features", "classes", "per class");
  for (const auto& s : j["datasets"]) {
    std::printf("%-24s %8zu %9zu %8d  %s\n", s["name"].get<std::string>().c_str(), s["rows"].get<size_t>(), s["features"].get<size_t>(),
                s["classes"].get<int>(), s["class_counts"].dump().c_str());
  }
  if (j["datasets"].empty()) std::printf("(none)\n");
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
}

}  // namespace supernet::cli
