// supernet agent publish / versions / delist, supernet market listings / mint / transfer /
// balance: the marketplace on a running network (docs/marketplace.md).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "agents/package.h"
#include "cli/client.h"
#include "cli/commands.h"
#include "crypto/secure.h"
#include "market/market.h"
#include "util/file.h"

namespace supernet::cli {

namespace {

using json = nlohmann::json;

// Posts, then waits for the commit; prints nothing. The committed status document, or the error.
Result<json> order(Clients& c, const std::string& path, const std::string& body, const std::string& what) {
  auto r = c.request(true, path, body);
  if (!r.ok()) return r.error();
  json j = json::parse(r->body, nullptr, false);
  if (r->status != 202 && r->status != 200) {
    // The node's own code names the check (market.balance, package.file_changed, ...).
    std::string code = j.is_object() && j.contains("error") && j["error"].is_string() ? j["error"].get<std::string>() : what;
    return make_error(code, error_text(*r));
  }
  if (j.is_discarded() || !j.contains("id")) return make_error(what, "the node's answer has no transaction id");
  SN_ASSIGN(json done, await_commit(c, j["id"].get<std::string>(), "", 30, isatty(2)));
  if (done.value("status", "") != "committed") return make_error(what, "the transaction was not applied: " + done.dump());
  done["answer"] = j;
  return done;
}

struct PublishArgs {
  NetFlags net;
  std::string file, key;
};

// Hands the package's content key to the key management module: the key of "agent:<root>"
// (released to this client, which listed it), wraps the content key, and orders it on the
// ledger signed by the publisher. No node ever holds the content key.
Status hand_over_content_key(Clients& c, const Network& net, int node, const agents::Package& p, const agents::PublisherKey& key) {
  crypto::SecureBytes ck = agents::content_key(key, p.manifest);
  // The right key: it opens every model of the package to its signed digest.
  for (const auto& e : p.manifest) {
    if (e.encrypted) SN_TRY(agents::open_model(p, e.path, ck));
  }
  SN_ASSIGN(crypto::SecureBytes resource_key, obtain_resource_key(net, node, market::content_key_resource(p.root)));
  SN_ASSIGN(Bytes wrapped, market::wrap_content_key(resource_key, ck, p.root));
  Bytes tx = market::make_content_key_tx(p.root, std::move(wrapped), key);
  SN_TRY(order(c, "/v1/market/tx", json{{"tx", to_hex(tx)}}.dump(), "agent.content_key"));
  return ok_status();
}

int run_publish(const PublishArgs& a) {
  auto text = read_file(a.file, agents::kPackageBytesMax);
  if (!text.ok()) return fail(text.error());
  // The same checks the node makes, here first: a broken package is named before it travels.
  auto p = agents::verify_package(to_string(*text));
  if (!p.ok()) return fail(make_error(p.error().code, a.file + ": " + p.error().message), kExitCheckFailed);
  bool models = false;
  for (const auto& e : p->manifest) models |= e.encrypted;
  std::optional<agents::PublisherKey> key;
  if (models) {
    if (a.key.empty()) return fail(make_error("usage.key", "the package holds encrypted models: --key KEY (its publisher key) hands their key over"));
    auto pem = read_file(a.key, 16 * 1024);
    if (!pem.ok()) return fail(pem.error());
    const char* pass = std::getenv("SUPERNET_KEY_PASSPHRASE");
    auto k = agents::parse_publisher_key_pem(to_string(*pem), pass ? pass : "");
    if (!k.ok()) return fail(make_error(k.error().code, a.key + ": " + k.error().message));
    if (k->public_key != p->publisher) return fail(make_error("usage.key", a.key + " is not the key that signed " + a.file));
    key = std::move(*k);
  }
  auto net = open_network(a.net);
  if (!net.ok()) return fail(net.error());
  Clients c(*net, a.net.node, false);
  // The listing of this root, if the ledger has it: {} otherwise.
  auto listing = [&]() -> json {
    auto v = c.request(false, "/v1/agents/" + p->config.name);
    json versions = v.ok() && v->status == 200 ? json::parse(v->body, nullptr, false) : json();
    if (versions.is_object()) {
      for (const auto& l : versions["versions"]) {
        if (l["root"] == to_hex(p->root) && l["publisher"] == to_hex(p->publisher)) return l;
      }
    }
    return json::object();
  };
  json existing = listing();
  uint64_t height = 0;
  if (existing.empty()) {
    auto done = order(c, "/v1/agents", to_string(*text), "agent.publish");
    if (!done.ok()) return fail(done.error(), kExitCheckFailed);
    height = done->value("height", 0ull);
    // Applied means checked by every node; the listing shows whether it took.
    if (listing().empty()) return fail(make_error("agent.publish", "the listing committed but no node applied it (see the nodes' logs)"), kExitCheckFailed);
  } else if (!key || existing.value("content_key", "") != "not handed over") {
    return fail(make_error("market.duplicate", p->config.name + "@" + p->config.version + " is listed already with this root digest"), kExitCheckFailed);
  } else {
    height = existing.value("height", 0ull);
    std::fprintf(stderr, "%s@%s is listed already; handing its content key over\n", p->config.name.c_str(), p->config.version.c_str());
  }
  std::printf("agent %s@%s listed at height %llu: root %s, publisher %s, price %llu\n", p->config.name.c_str(), p->config.version.c_str(),
              static_cast<unsigned long long>(height), to_hex(p->root).c_str(), agents::key_id(p->publisher).substr(0, 16).c_str(),
              static_cast<unsigned long long>(p->config.price));
  if (key) {
    if (auto s = hand_over_content_key(c, *net, a.net.node, *p, *key); !s.ok()) {
      return fail(make_error(s.error().code, "listed, but the content key was not handed over (publish again to retry): " + s.error().message),
                  kExitCheckFailed);
    }
    std::printf("content key of %s@%s handed to the key management module (released only to attested TAs running this root)\n",
                p->config.name.c_str(), p->config.version.c_str());
  }
  return kExitOk;
}

void print_listing(const json& l) {
  std::printf("%-20s %-10s root %s  publisher %s  price %llu  licence %s%s  height %llu%s\n", l["name"].get<std::string>().c_str(),
              l["version"].get<std::string>().c_str(), l["root"].get<std::string>().substr(0, 16).c_str(), l["publisher_id"].get<std::string>().c_str(),
              static_cast<unsigned long long>(l["price"].get<uint64_t>()), l["licence"]["kind"].get<std::string>().c_str(),
              l["licence"]["kind"] == "clients" ? (" (" + l["licence"]["clients"].dump() + ")").c_str() : "",
              static_cast<unsigned long long>(l["height"].get<uint64_t>()), l["delisted"].get<bool>() ? "  DELISTED" : "");
}

struct NameArgs {
  NetFlags net;
  std::string name, key;
  bool json_out = false;
};

int run_versions(const NameArgs& a) {
  auto net = open_network(a.net);
  if (!net.ok()) return fail(net.error());
  Clients c(*net, a.net.node);
  auto r = c.request(false, "/v1/agents/" + a.name);
  if (!r.ok()) return fail(r.error(), kExitCheckFailed);
  if (r->status != 200) return fail(make_error("agent.versions", error_text(*r)), kExitCheckFailed);
  json j = json::parse(r->body);
  if (a.json_out) {
    std::printf("%s\n", j.dump(2).c_str());
    return kExitOk;
  }
  for (const auto& l : j["versions"]) print_listing(l);
  std::printf("latest: %s\n", j["latest"].is_null() ? "none (every version is delisted)" : j["latest"].get<std::string>().c_str());
  return kExitOk;
}

int run_delist(const NameArgs& a) {
  size_t at = a.name.find('@');
  if (at == std::string::npos) return fail(make_error("usage.name", "give NAME@VERSION (supernet agent versions NAME lists them)"));
  auto pem = read_file(a.key, 16 * 1024);
  if (!pem.ok()) return fail(pem.error());
  const char* pass = std::getenv("SUPERNET_KEY_PASSPHRASE");
  auto key = agents::parse_publisher_key_pem(to_string(*pem), pass ? pass : "");
  if (!key.ok()) return fail(make_error(key.error().code, a.key + ": " + key.error().message));
  Bytes tx = market::make_delist_tx(a.name.substr(0, at), a.name.substr(at + 1), crypto::random_u64(), *key);
  auto net = open_network(a.net);
  if (!net.ok()) return fail(net.error());
  Clients c(*net, a.net.node);
  auto done = order(c, "/v1/market/tx", json{{"tx", to_hex(tx)}}.dump(), "agent.delist");
  if (!done.ok()) return fail(done.error(), kExitCheckFailed);
  std::printf("%s delisted at height %llu\n", a.name.c_str(), static_cast<unsigned long long>(done->value("height", 0ull)));
  return kExitOk;
}

int run_listings(const NameArgs& a) {
  auto net = open_network(a.net);
  if (!net.ok()) return fail(net.error());
  Clients c(*net, a.net.node);
  // Page by page (at most 1,000 names each), in name order.
  json j{{"agents", json::array()}};
  std::string after;
  for (int page = 0; page < 1000; page++) {
    auto r = c.request(false, "/v1/agents" + (after.empty() ? std::string() : "?after=" + after));
    if (!r.ok()) return fail(r.error(), kExitCheckFailed);
    if (r->status != 200) return fail(make_error("market.listings", error_text(*r)), kExitCheckFailed);
    json part = json::parse(r->body);
    for (auto& l : part["agents"]) j["agents"].push_back(std::move(l));
    if (!part.contains("next")) break;
    after = part["next"].get<std::string>();
  }
  if (a.json_out) {
    std::printf("%s\n", j.dump(2).c_str());
    return kExitOk;
  }
  for (const auto& l : j["agents"]) print_listing(l);
  std::printf("%zu agents listed\n", j["agents"].size());
  return kExitOk;
}

struct CreditArgs {
  NetFlags net;
  std::string client;
  uint64_t amount = 0;
};

int run_credit(const CreditArgs& a, market::Kind kind) {
  if (a.amount == 0 || a.amount > market::kAmountMax) return fail(make_error("usage.amount", "AMOUNT is 1 to " + std::to_string(market::kAmountMax)));
  auto net = open_network(a.net);
  if (!net.ok()) return fail(net.error());
  Bytes tx = market::make_credit_tx(kind, a.client, a.amount, crypto::random_u64(), net->credentials.key);
  Clients c(*net, a.net.node);
  auto done = order(c, "/v1/market/tx", json{{"tx", to_hex(tx)}}.dump(), kind == market::Kind::kMint ? "market.mint" : "market.transfer");
  if (!done.ok()) return fail(done.error(), kExitCheckFailed);
  auto b = c.request(false, "/v1/market/balance");
  json bj = b.ok() && b->status == 200 ? json::parse(b->body, nullptr, false) : json();
  std::printf("%s %llu credits to %s at height %llu; your balance %s\n", kind == market::Kind::kMint ? "minted" : "transferred",
              static_cast<unsigned long long>(a.amount), a.client.c_str(), static_cast<unsigned long long>(done->value("height", 0ull)),
              bj.is_object() ? std::to_string(bj["balance"].get<uint64_t>()).c_str() : "?");
  return kExitOk;
}

int run_balance(const CreditArgs& a) {
  auto net = open_network(a.net);
  if (!net.ok()) return fail(net.error());
  Clients c(*net, a.net.node);
  auto r = c.request(false, "/v1/market/balance" + (a.client.empty() ? std::string() : "?client=" + a.client));
  if (!r.ok()) return fail(r.error(), kExitCheckFailed);
  if (r->status != 200) return fail(make_error("market.balance", error_text(*r)), kExitCheckFailed);
  json j = json::parse(r->body);
  std::printf("%s: %llu credits\n", j["client"].get<std::string>().c_str(), static_cast<unsigned long long>(j["balance"].get<uint64_t>()));
  return kExitOk;
}

}  // namespace

void add_market_commands(CLI::App& app, int* exit_code) {
  CLI::App* agent = app.get_subcommand("agent");
  auto p = std::make_shared<PublishArgs>();
  CLI::App* publish = agent->add_subcommand(
      "publish", "Publish a package to the network: the node verifies it whole inside its TEE and orders a listing (name, version, root "
                 "digest, price, licence) that every node checks; waits for the commit. Exit 1 naming the check that failed");
  p->net.add_to(publish);
  publish->add_option("file", p->file, "the package (supernet agent pack)")->required();
  publish->add_option("--key", p->key, "the publisher key: needed when the package holds models, to hand their content key to key management");
  publish->callback([=] { *exit_code = run_publish(*p); });

  auto v = std::make_shared<NameArgs>();
  CLI::App* versions = agent->add_subcommand("versions", "Every listed version of an agent (delisted ones marked), and the latest");
  v->net.add_to(versions);
  versions->add_option("name", v->name, "the agent's name")->required();
  versions->add_flag("--json", v->json_out, "the API's JSON");
  versions->callback([=] { *exit_code = run_versions(*v); });

  auto d = std::make_shared<NameArgs>();
  CLI::App* delist = agent->add_subcommand("delist", "Withdraw one version (the publisher only, signed with the package key); the others stay");
  d->net.add_to(delist);
  delist->add_option("name", d->name, "NAME@VERSION")->required();
  delist->add_option("--key", d->key, "the publisher key (SUPERNET_KEY_PASSPHRASE opens it)")->required();
  delist->callback([=] { *exit_code = run_delist(*d); });

  CLI::App* market = app.add_subcommand("market", "The marketplace: listings and credits (docs/marketplace.md)");
  market->require_subcommand(1);
  auto l = std::make_shared<NameArgs>();
  CLI::App* listings = market->add_subcommand("listings", "Every listed agent, its latest version");
  l->net.add_to(listings);
  listings->add_flag("--json", l->json_out, "the API's JSON");
  listings->callback([=] { *exit_code = run_listings(*l); });
  auto m = std::make_shared<CreditArgs>();
  CLI::App* mint = market->add_subcommand(
      "mint", "Create credits for a client (members only: the development seam where real payment plugs in)");
  m->net.add_to(mint);
  mint->add_option("client", m->client, "the client credited")->required();
  mint->add_option("amount", m->amount, "credits")->required();
  mint->callback([=] { *exit_code = run_credit(*m, market::Kind::kMint); });
  auto t = std::make_shared<CreditArgs>();
  CLI::App* transfer = market->add_subcommand("transfer", "Give some of your credits to another client");
  t->net.add_to(transfer);
  transfer->add_option("client", t->client, "the client credited")->required();
  transfer->add_option("amount", t->amount, "credits")->required();
  transfer->callback([=] { *exit_code = run_credit(*t, market::Kind::kTransfer); });
  auto b = std::make_shared<CreditArgs>();
  CLI::App* balance = market->add_subcommand("balance", "Your credits (members: --client NAME for anyone's)");
  b->net.add_to(balance);
  balance->add_option("--client", b->client, "whose balance (members only)");
  balance->callback([=] { *exit_code = run_balance(*b); });
}

}  // namespace supernet::cli
