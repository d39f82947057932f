#include "tee/policy.h"

#include <algorithm>
#include <sstream>
#include <toml++/toml.h>

#include "crypto/secure.h"
#include "util/file.h"

namespace supernet::tee {

namespace {

Result<std::vector<Bytes>> hex_list(const toml::node* node, const std::string& where) {
  std::vector<Bytes> out;
  if (node == nullptr) return out;
  const toml::array* arr = node->as_array();
  if (arr == nullptr) return make_error("policy.type", where + " must be an array of hex strings");
  for (const auto& item : *arr) {
    auto s = item.value<std::string>();
    if (!s) return make_error("policy.type", where + " must hold only hex strings");
    auto b = from_hex(*s);
    if (!b.ok()) return make_error("policy.hex", where + ": '" + *s + "' is not hex");
    out.push_back(*b);
  }
  return out;
}

Result<std::vector<std::string>> string_list(const toml::node* node, const std::string& where) {
  std::vector<std::string> out;
  if (node == nullptr) return out;
  const toml::array* arr = node->as_array();
  if (arr == nullptr) return make_error("policy.type", where + " must be an array of strings");
  for (const auto& item : *arr) {
    auto s = item.value<std::string>();
    if (!s) return make_error("policy.type", where + " must hold only strings");
    out.push_back(*s);
  }
  return out;
}

Result<PlatformPolicy> parse_platform(const toml::table& t, const std::string& where) {
  static const std::set<std::string> kKnown{"measurements", "min_tcb", "attributes", "allowed_tcb_status", "tcb_status_reasons"};
  for (const auto& [k, v] : t) {
    if (!kKnown.count(std::string(k.str()))) return make_error("policy.key", where + ": unknown key '" + std::string(k.str()) + "'");
  }
  PlatformPolicy p;
  SN_ASSIGN(p.measurements, hex_list(t.get("measurements"), where + ".measurements"));
  if (const toml::node* n = t.get("min_tcb")) {
    const toml::table* mt = n->as_table();
    if (mt == nullptr) return make_error("policy.type", where + ".min_tcb must be a table");
    for (const auto& [k, v] : *mt) {
      auto i = v.value<int64_t>();
      if (!i || *i < 0) return make_error("policy.type", where + ".min_tcb." + std::string(k.str()) + " must be a non-negative integer");
      p.min_tcb[std::string(k.str())] = static_cast<uint64_t>(*i);
    }
  }
  if (const toml::node* n = t.get("attributes")) {
    const toml::table* at = n->as_table();
    if (at == nullptr) return make_error("policy.type", where + ".attributes must be a table");
    for (const auto& [k, v] : *at) {
      auto s = v.value<std::string>();
      if (!s) return make_error("policy.type", where + ".attributes." + std::string(k.str()) + " must be a string");
      p.attributes[std::string(k.str())] = *s;
    }
  }
  if (t.get("allowed_tcb_status")) {
    SN_ASSIGN(p.allowed_tcb_status, string_list(t.get("allowed_tcb_status"), where + ".allowed_tcb_status"));
  }
  if (const toml::node* n = t.get("tcb_status_reasons")) {
    const toml::table* rt = n->as_table();
    if (rt == nullptr) return make_error("policy.type", where + ".tcb_status_reasons must be a table of strings");
    for (const auto& [k, v] : *rt) {
      auto r = v.value<std::string>();
      if (!r || r->empty()) return make_error("policy.type", where + ".tcb_status_reasons." + std::string(k.str()) + " must be a non-empty string");
      p.tcb_status_reasons[std::string(k.str())] = *r;
    }
  }
  return p;
}

}  // namespace

Result<Policy> parse_policy(std::string_view text, const std::string& source) {
  // Debian's toml++ is built with exceptions: a syntax error arrives as toml::parse_error.
  toml::table t;
  try {
    t = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    std::ostringstream msg;
    msg << source << ":" << e.source().begin.line << ": " << e.description();
    return make_error("policy.syntax", msg.str());
  }
  static const std::set<std::string> kKnown{"profile", "allowed_platforms", "debug_allowed", "max_evidence_age_seconds",
                                            "trusted_virtual_platform_keys", "platform"};
  for (const auto& [k, v] : t) {
    if (!kKnown.count(std::string(k.str()))) return make_error("policy.key", source + ": unknown key '" + std::string(k.str()) + "'");
  }
  Policy p;
  std::string profile = t["profile"].value_or<std::string>("production");
  if (profile != "production" && profile != "development") {
    return make_error("policy.profile", source + ": profile must be \"production\" or \"development\"");
  }
  p.production = profile == "production";
  SN_ASSIGN(auto platforms, string_list(t.get("allowed_platforms"), "allowed_platforms"));
  for (const auto& name : platforms) {
    SN_ASSIGN(Kind k, parse_kind(name));
    p.allowed_platforms.insert(k);
  }
  if (t.get("debug_allowed") && !t["debug_allowed"].is_boolean()) return make_error("policy.type", "debug_allowed must be true or false");
  p.debug_allowed = t["debug_allowed"].value_or(false);
  if (t.get("max_evidence_age_seconds")) {
    auto age = t["max_evidence_age_seconds"].value<int64_t>();
    if (!age || *age <= 0) return make_error("policy.type", "max_evidence_age_seconds must be a positive integer");
    p.max_evidence_age_seconds = *age;
  }
  SN_ASSIGN(p.trusted_virtual_platform_keys, hex_list(t.get("trusted_virtual_platform_keys"), "trusted_virtual_platform_keys"));
  if (const toml::node* n = t.get("platform")) {
    const toml::table* pt = n->as_table();
    if (pt == nullptr) return make_error("policy.type", "[platform] must be a table of tables");
    for (const auto& [k, v] : *pt) {
      SN_ASSIGN(Kind kind, parse_kind(k.str()));
      if (!v.is_table()) return make_error("policy.type", "[platform." + std::string(k.str()) + "] must be a table");
      SN_ASSIGN(p.platforms[kind], parse_platform(*v.as_table(), "platform." + std::string(k.str())));
    }
  }
  if (p.production && (p.allowed_platforms.count(Kind::kVirtual) || !p.trusted_virtual_platform_keys.empty())) {
    return make_error("policy.production_virtual", source + ": a production policy cannot allow the virtual platform");
  }
  if (p.production && p.debug_allowed) {
    return make_error("policy.production_debug", source + ": a production policy cannot allow debug TEEs");
  }
  if (p.production) {
    for (const auto& [kind, pp] : p.platforms) {
      for (const auto& status : pp.allowed_tcb_status) {
        if (is_weak_tcb_status(status) && !pp.tcb_status_reasons.count(status)) {
          return make_error("policy.production_tcb", source + ": [platform." + kind_name(kind) + "] allows TCB status '" + status +
                                                         "' without a reason: a production policy names one in tcb_status_reasons");
        }
      }
      if (kind == Kind::kSevSnp && pp.min_tcb.empty()) {
        return make_error("policy.production_tcb", source + ": [platform.sev-snp] needs a min_tcb in a production policy");
      }
    }
  }
  return p;
}

Result<Policy> load_policy(const std::string& path) {
  SN_ASSIGN(Bytes text, read_file(path, 1024 * 1024));
  return parse_policy(to_string(text), path);
}

namespace {

// Keys and strings written so that the policy file reads back as the same policy.
std::string toml_string(const std::string& v) {
  std::ostringstream o;
  o << toml::value<std::string>(v);
  return o.str();
}

std::string toml_key(const std::string& k) {
  bool bare = !k.empty() && k.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") == std::string::npos;
  return bare ? k : toml_string(k);
}

}  // namespace

std::string policy_to_toml(const Policy& p) {
  std::ostringstream o;
  o << "profile = \"" << (p.production ? "production" : "development") << "\"\n";
  o << "allowed_platforms = [";
  bool first = true;
  for (Kind k : p.allowed_platforms) {
    o << (first ? "" : ", ") << "\"" << kind_name(k) << "\"";
    first = false;
  }
  o << "]\ndebug_allowed = " << (p.debug_allowed ? "true" : "false") << "\n";
  o << "max_evidence_age_seconds = " << p.max_evidence_age_seconds << "\n";
  o << "trusted_virtual_platform_keys = [";
  for (size_t i = 0; i < p.trusted_virtual_platform_keys.size(); i++) {
    o << (i ? ", " : "") << "\"" << to_hex(p.trusted_virtual_platform_keys[i]) << "\"";
  }
  o << "]\n";
  for (const auto& [kind, pp] : p.platforms) {
    o << "\n[platform." << kind_name(kind) << "]\nmeasurements = [";
    for (size_t i = 0; i < pp.measurements.size(); i++) o << (i ? ", " : "") << "\"" << to_hex(pp.measurements[i]) << "\"";
    o << "]\n";
    if (!pp.min_tcb.empty()) {
      o << "min_tcb = { ";
      first = true;
      for (const auto& [k, v] : pp.min_tcb) {
        o << (first ? "" : ", ") << toml_key(k) << " = " << v;
        first = false;
      }
      o << " }\n";
    }
    if (!pp.attributes.empty()) {
      o << "attributes = { ";
      first = true;
      for (const auto& [k, v] : pp.attributes) {
        o << (first ? "" : ", ") << toml_key(k) << " = " << toml_string(v);
        first = false;
      }
      o << " }\n";
    }
    o << "allowed_tcb_status = [";
    for (size_t i = 0; i < pp.allowed_tcb_status.size(); i++) o << (i ? ", " : "") << toml_string(pp.allowed_tcb_status[i]);
    o << "]\n";
    if (!pp.tcb_status_reasons.empty()) {
      o << "tcb_status_reasons = { ";
      first = true;
      for (const auto& [k, v] : pp.tcb_status_reasons) {
        o << (first ? "" : ", ") << toml_key(k) << " = " << toml_string(v);
        first = false;
      }
      o << " }\n";
    }
  }
  return o.str();
}

bool is_weak_tcb_status(const std::string& status) {
  return status == "OutOfDate" || status == "OutOfDateConfigurationNeeded" || status == "Revoked" || status == "not evaluated";
}

Status policy_meets_floor(const Policy& local, const Policy& floor, const std::vector<Bytes>& extra_measurements,
                          const std::vector<Bytes>& extra_virtual_keys) {
  std::vector<std::string> weaker;
  auto contains = [](const std::vector<Bytes>& list, const Bytes& x) {
    for (const auto& y : list) {
      if (crypto::ct_equal(x, y)) return true;
    }
    return false;
  };
  if (floor.production && !local.production) weaker.push_back("the network's profile is production, this policy's development");
  for (Kind k : local.allowed_platforms) {
    if (!floor.allowed_platforms.count(k)) weaker.push_back(std::string("allows platform ") + kind_name(k) + ", which the network does not");
  }
  if (local.debug_allowed && !floor.debug_allowed) weaker.push_back("allows debug TEEs, which the network does not");
  if (local.max_evidence_age_seconds > floor.max_evidence_age_seconds) {
    weaker.push_back("max_evidence_age_seconds " + std::to_string(local.max_evidence_age_seconds) + " is above the network's " +
                     std::to_string(floor.max_evidence_age_seconds));
  }
  for (const auto& key : local.trusted_virtual_platform_keys) {
    if (!contains(floor.trusted_virtual_platform_keys, key) && !contains(extra_virtual_keys, key)) {
      weaker.push_back("trusts virtual platform key " + to_hex(key).substr(0, 16) + "..., which the network does not");
    }
  }
  for (const auto& [kind, pp] : local.platforms) {
    auto f = floor.platforms.find(kind);
    std::string where = std::string("[platform.") + kind_name(kind) + "]";
    if (f == floor.platforms.end()) {
      if (!pp.measurements.empty()) weaker.push_back(where + " allows measurements on a platform the network has no section for");
      continue;
    }
    for (const auto& m : pp.measurements) {
      if (!contains(f->second.measurements, m) && !contains(extra_measurements, m)) {
        weaker.push_back(where + " allows measurement " + to_hex(m).substr(0, 16) + "..., which the network does not");
      }
    }
    for (const auto& [comp, min] : f->second.min_tcb) {
      auto it = pp.min_tcb.find(comp);
      if (it == pp.min_tcb.end() || it->second < min) {
        weaker.push_back(where + " min_tcb." + comp + " is below the network's " + std::to_string(min));
      }
    }
    for (const auto& status : pp.allowed_tcb_status) {
      if (std::find(f->second.allowed_tcb_status.begin(), f->second.allowed_tcb_status.end(), status) == f->second.allowed_tcb_status.end()) {
        weaker.push_back(where + " allows TCB status '" + status + "', which the network does not");
      }
    }
    for (const auto& [name, want] : f->second.attributes) {
      auto it = pp.attributes.find(name);
      if (it == pp.attributes.end() || it->second != want) weaker.push_back(where + " does not require attribute " + name + " = " + want);
    }
  }
  if (weaker.empty()) return ok_status();
  std::string why;
  for (const auto& w : weaker) why += (why.empty() ? "" : "; ") + w;
  return make_error("policy.below_floor", "the policy is weaker than the network's (the genesis' [policy]): " + why);
}

Appraisal appraise(const Policy& p, const Claims& c, UnixSeconds now, std::optional<ByteView> expected_report_data) {
  Appraisal a;
  auto fail = [&](std::string why) { a.failures.push_back(std::move(why)); };
  std::string kind = kind_name(c.platform);
  if (c.platform == Kind::kVirtual && p.production) {
    fail("virtual platform evidence is never accepted by a production policy");
  }
  if (!p.allowed_platforms.count(c.platform)) fail("platform '" + kind + "' is not in allowed_platforms");
  for (const auto& denied : p.denied_chip_ids) {
    if (!c.chip_id.empty() && crypto::ct_equal(denied, c.chip_id)) {
      fail("chip id " + to_hex(c.chip_id).substr(0, 16) + "... was revoked by the members (revoke-platform-key --chip-id)");
    }
  }
  if (c.platform == Kind::kVirtual) {
    bool trusted = false;
    for (const auto& k : p.trusted_virtual_platform_keys) trusted = trusted || crypto::ct_equal(k, c.signer);
    if (!trusted) fail("virtual platform key " + to_hex(c.signer) + " is not in trusted_virtual_platform_keys");
  }
  auto it = p.platforms.find(c.platform);
  if (it == p.platforms.end()) {
    fail("policy has no [platform." + kind + "] section: no measurement is allowed");
  } else {
    const PlatformPolicy& pp = it->second;
    bool known = false;
    for (const auto& m : pp.measurements) known = known || crypto::ct_equal(m, c.measurement);
    if (!known) fail("measurement " + to_hex(c.measurement) + " is not allowed for " + kind);
    for (const auto& [comp, min] : pp.min_tcb) {
      auto t = c.tcb.find(comp);
      if (t == c.tcb.end()) {
        fail("TCB component '" + comp + "' required by the policy is absent from the evidence");
      } else if (t->second < min) {
        fail("TCB component '" + comp + "' is " + std::to_string(t->second) + ", policy minimum is " + std::to_string(min));
      }
    }
    for (const auto& [name, want] : pp.attributes) {
      auto v = c.attributes.find(name);
      if (v == c.attributes.end() || v->second != want) {
        fail("attribute '" + name + "' is '" + (v == c.attributes.end() ? "absent" : v->second) + "', policy requires '" + want + "'");
      }
    }
    if (c.platform == Kind::kSgx || c.platform == Kind::kTdx) {
      bool ok = false;
      for (const auto& s : pp.allowed_tcb_status) ok = ok || s == c.tcb_status;
      if (!ok) fail("TCB status '" + c.tcb_status + "' is not in allowed_tcb_status");
    }
  }
  if (c.debug && !p.debug_allowed) fail("evidence comes from a debug TEE and debug_allowed is false");
  if (c.issued_at) {
    if (*c.issued_at > now + 300) fail("evidence is issued in the future (" + format_rfc3339(*c.issued_at) + ")");
    if (now - *c.issued_at > p.max_evidence_age_seconds) {
      fail("evidence is " + std::to_string(now - *c.issued_at) + " s old, more than max_evidence_age_seconds " +
           std::to_string(p.max_evidence_age_seconds));
    }
  }
  if (expected_report_data && !crypto::ct_equal(*expected_report_data, c.report_data)) {
    fail("report data does not bind the expected value (key or nonce mismatch)");
  }
  return a;
}

}  // namespace supernet::tee
