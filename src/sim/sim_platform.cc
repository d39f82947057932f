#include "sim/sim_platform.h"

namespace supernet::sim {

namespace {

constexpr char kSimMeasurement[] = "supernet-node (simulated)";

class SimAppraiser : public consensus::EvidenceAppraiser {
 public:
  explicit SimAppraiser(Bytes platform_key) : platform_key_(std::move(platform_key)) {}
  Status appraise(ByteView evidence, ByteView report_data, int64_t, const std::string& policy,
                  const consensus::PolicyAdjustments&) const override {
    if (policy.empty()) return make_error("sim.policy", "the genesis names no policy");
    if (evidence.size() != consensus::kSignatureBytes) return make_error("sim.evidence", "not simulated platform evidence");
    if (!crypto::ed25519_verify(platform_key_, concat({as_bytes(kSimMeasurement), report_data}), evidence)) {
      return make_error("sim.evidence", "evidence does not bind the expected report data under the platform key");
    }
    return ok_status();
  }

 private:
  Bytes platform_key_;
};

}  // namespace

Bytes SimPlatform::evidence(ByteView report_data) const {
  return crypto::ed25519_sign(key_.secret_key, concat({as_bytes(kSimMeasurement), report_data}));
}

std::shared_ptr<const consensus::EvidenceAppraiser> sim_appraiser(Bytes platform_key) {
  return std::make_shared<SimAppraiser>(std::move(platform_key));
}

}  // namespace supernet::sim
