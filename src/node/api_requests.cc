// Parsing of REST API request bodies: pure functions of outside bytes (fuzz/fuzz_api_request).
#include <nlohmann/json.hpp>

#include "consensus/membership.h"
#include "crypto/secure.h"
#include "node/api.h"
#include "util/names.h"

namespace supernet::node {

using nlohmann::json;

namespace {

Result<ledger::KvWrite> write_of(const json& j, const std::string& client) {
  if (!j.is_object()) return make_error("bad_json", "a write must be a JSON object");
  ledger::KvWrite w;
  w.client = client;
  if (!j.contains("table") || !j["table"].is_string() || !is_simple_name(j["table"].get<std::string>(), ledger::kTableBytesMax)) {
    return make_error("bad_table", "'table' must be 1 to 64 of A-Z a-z 0-9 . _ -");
  }
  w.table = j["table"].get<std::string>();
  if (!j.contains("key") || !j["key"].is_string() || j["key"].get<std::string>().empty() ||
      j["key"].get<std::string>().size() > ledger::kKeyBytesMax) {
    return make_error("bad_key", "'key' must be a string of 1 to 256 bytes");
  }
  w.key = j["key"].get<std::string>();
  if (j.contains("value") == j.contains("value_hex")) return make_error("bad_value", "give exactly one of 'value' (text) or 'value_hex'");
  if (j.contains("value")) {
    if (!j["value"].is_string()) return make_error("bad_value", "'value' must be a string");
    w.value = to_bytes(as_bytes(j["value"].get<std::string>()));
  } else {
    auto v = j["value_hex"].is_string() ? from_hex(j["value_hex"].get<std::string>()) : Result<Bytes>(make_error("x", "x"));
    if (!v.ok()) return make_error("bad_value", "'value_hex' must be an even-length hex string");
    w.value = std::move(v).value();
  }
  if (w.value.size() > ledger::kValueBytesMax) return make_error("bad_value", "the value is larger than 48 KiB");
  if (j.contains("nonce")) {
    if (!j["nonce"].is_number_unsigned()) return make_error("bad_nonce", "'nonce' must be a non-negative integer");
    w.nonce = j["nonce"].get<uint64_t>();
  } else {
    w.nonce = crypto::random_u64();
  }
  return w;
}

}  // namespace

Result<ledger::KvWrite> parse_write_request(std::string_view body, const std::string& client) {
  json j = json::parse(body, nullptr, false);
  return parse_write_object(j, client);
}

Result<ledger::KvWrite> parse_write_object(const json& j, const std::string& client) {
  if (j.is_discarded() || !j.is_object()) return make_error("bad_json", "the body must be a JSON object");
  return write_of(j, client);
}

Result<std::vector<Result<ledger::KvWrite>>> parse_batch_request(std::string_view body, const std::string& client) {
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("writes") || !j["writes"].is_array()) {
    return make_error("bad_json", "the body must be {\"writes\": [{\"table\", \"key\", \"value\" or \"value_hex\", \"nonce\"}, ...]}");
  }
  const json& writes = j["writes"];
  if (writes.empty() || writes.size() > kTxBatchMax) {
    return make_error("bad_batch", "a batch holds 1 to " + std::to_string(kTxBatchMax) + " writes");
  }
  std::vector<Result<ledger::KvWrite>> out;
  out.reserve(writes.size());
  for (const auto& w : writes) out.push_back(write_of(w, client));
  return out;
}

Result<consensus::GovernanceTx> parse_governance_request(std::string_view body, Bytes* tx_out) {
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("tx") || !j["tx"].is_string()) {
    return make_error("bad_json", "the body must be {\"tx\": \"<hex of a member-signed governance transaction>\"}");
  }
  auto tx = from_hex(j["tx"].get<std::string>());
  if (!tx.ok() || tx->size() > consensus::kTxBytesMax) return make_error("bad_tx", "'tx' must be hex of at most 64 KiB");
  auto g = consensus::GovernanceTx::decode(*tx);
  if (!g.ok()) return make_error("bad_tx", "not a governance transaction: " + g.error().message);
  *tx_out = std::move(tx).value();
  return g;
}

}  // namespace supernet::node
