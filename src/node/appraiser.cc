#include "node/appraiser.h"

#include <algorithm>
#include <mutex>

#include "tee/evidence.h"
#include "tee/policy.h"

namespace supernet::node {

namespace {

class PolicyAppraiser : public consensus::EvidenceAppraiser {
 public:
  explicit PolicyAppraiser(tee::Collateral collateral) : collateral_(std::move(collateral)) {}

  Status appraise(ByteView evidence, ByteView report_data, int64_t at, const std::string& policy_text,
                  const consensus::PolicyAdjustments& adjustments) const override {
    if (policy_text.empty()) return make_error("appraise.policy", "the genesis names no policy, so no evidence can pass it");
    SN_ASSIGN(tee::Policy policy, parsed(policy_text));
    apply_adjustments(policy, adjustments);
    auto claims = tee::verify_evidence(evidence, collateral_, at);
    if (!claims.ok()) return make_error("appraise.evidence", "evidence does not verify: " + claims.error().message);
    tee::Appraisal a = tee::appraise(policy, *claims, at, report_data);
    if (!a.pass()) {
      std::string why;
      for (const auto& f : a.failures) why += (why.empty() ? "" : "; ") + f;
      return make_error("appraise.policy", why);
    }
    return ok_status();
  }

 private:
  // Policies change rarely (the genesis' one, mostly): keep the last one parsed.
  Result<tee::Policy> parsed(const std::string& text) const {
    std::lock_guard<std::mutex> lock(mu_);
    if (text != last_text_) {
      auto p = tee::parse_policy(text, "genesis [policy]");
      if (!p.ok()) return p.error();
      last_text_ = text;
      last_ = std::move(p).value();
    }
    return last_;
  }

  tee::Collateral collateral_;
  mutable std::mutex mu_;
  mutable std::string last_text_;
  mutable tee::Policy last_;
};

}  // namespace

void apply_adjustments(tee::Policy& policy, const consensus::PolicyAdjustments& adjustments) {
  if (!adjustments.measurements.empty()) {
    std::vector<Bytes> allowed;
    for (const auto& hex : adjustments.measurements) {
      if (auto b = from_hex(hex); b.ok()) allowed.push_back(std::move(b).value());
    }
    for (auto& [kind, platform] : policy.platforms) platform.measurements = allowed;
  }
  for (const auto& hex : adjustments.virtual_platform_keys) {
    auto b = from_hex(hex);
    if (!b.ok()) continue;
    bool known = false;
    for (const auto& k : policy.trusted_virtual_platform_keys) known = known || k == *b;
    if (!known) policy.trusted_virtual_platform_keys.push_back(std::move(b).value());
  }
  // Revocations: a revoked key is distrusted whatever the local policy lists; a minimum TCB
  // the members set raises the policy's (a local policy stricter than the vote stays so).
  for (const auto& hex : adjustments.revoked_platform_keys) {
    if (auto b = from_hex(hex); b.ok()) std::erase(policy.trusted_virtual_platform_keys, *b);
  }
  for (const auto& hex : adjustments.revoked_chip_ids) {
    auto b = from_hex(hex);
    if (b.ok() && std::find(policy.denied_chip_ids.begin(), policy.denied_chip_ids.end(), *b) == policy.denied_chip_ids.end()) {
      policy.denied_chip_ids.push_back(std::move(b).value());
    }
  }
  for (const auto& [kind_name, components] : adjustments.min_tcb) {
    auto kind = tee::parse_kind(kind_name);
    if (!kind.ok()) continue;
    auto it = policy.platforms.find(*kind);
    if (it == policy.platforms.end()) continue;  // the policy does not admit that platform at all
    for (const auto& [component, min] : components) {
      uint64_t& local = it->second.min_tcb[component];
      local = std::max(local, min);
    }
  }
}

std::shared_ptr<const consensus::EvidenceAppraiser> make_evidence_appraiser(tee::Collateral collateral) {
  return std::make_shared<PolicyAppraiser>(std::move(collateral));
}

std::shared_ptr<const consensus::EvidenceAppraiser> evidence_appraiser() {
  static const auto shared = make_evidence_appraiser({});
  return shared;
}

}  // namespace supernet::node
