// bench_fl_round: one demo-sized federated round (breast cancer split over 3 parties, logistic
// regression, FedAvg, 2 local epochs) with the protections a round really pays, against the same
// round with them switched off. This switch exists only in this benchmark: the product has no
// unprotected mode.
//
// Protected, per round: every model transfer (global model to each party for training and for
// evaluation, each party's update back) is sealed with AES-256-GCM as the attested channel's TLS
// records are, and opened on the other side; each party's data set is unsealed from its node's
// sealed store (the node does this once per job; the cost is shown per job and per round of a
// 20-round job). Unprotected: the same buffers are copied instead, and the data is already in
// memory. RA-TLS handshakes are not part of a round (peer sessions persist), so they are not
// counted. Interleaved repetitions, medians; the report prints the overhead.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "crypto/aead.h"
#include "crypto/secure.h"
#include "fl/simulation.h"
#include "node/datasets.h"
#include "tee/virtual_platform.h"
#include "util/file.h"

using namespace supernet;
using Clock = std::chrono::steady_clock;

namespace {

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// One party's attested session: cipher contexts set up once, as an SSL session keeps them.
struct Channel {
  explicit Channel(const Bytes& key) : sealer(key), opener(key) {}
  crypto::AesGcmSealer sealer;
  crypto::AesGcmOpener opener;
  uint64_t seq = 0;
  Bytes record = Bytes(16384 + crypto::kAesGcmTagBytes);
};

// One transfer of a model: through AEAD records (protected) or a plain copy.
std::vector<float> transfer(const std::vector<float>& model, Channel* ch) {
  std::vector<float> out(model.size());
  if (ch == nullptr) {
    std::memcpy(out.data(), model.data(), model.size() * 4);
    return out;
  }
  const uint8_t* bytes = reinterpret_cast<const uint8_t*>(model.data());
  uint8_t* dst = reinterpret_cast<uint8_t*>(out.data());
  size_t total = model.size() * 4;
  for (size_t off = 0; off < total; off += 16384) {
    size_t n = std::min<size_t>(16384, total - off);
    uint8_t nonce[12] = {0};
    uint64_t s = ch->seq++;
    for (int i = 0; i < 8; i++) nonce[4 + i] = static_cast<uint8_t>(s >> (8 * i));
    ch->sealer.seal_into(ByteView(nonce, 12), {}, ByteView(bytes + off, n), ch->record.data());
    if (!ch->opener.open_into(ByteView(nonce, 12), {}, ByteView(ch->record.data(), n + crypto::kAesGcmTagBytes), dst + off).ok()) std::abort();
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"One federated round with and without its TEE protections (benchmark-only switch)", "bench_fl_round"};
  int reps = 31;
  app.add_option("--reps", reps, "interleaved repetitions")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  std::string path = std::string(SUPERNET_SOURCE_DIR) + "/data/breast_cancer.csv";
  auto loaded = fl::load_csv(path);
  if (!loaded.ok()) {
    std::fprintf(stderr, "%s (scripts/fetch-datasets.sh fetches it; make deps runs it)\n", loaded.error().to_string().c_str());
    return 1;
  }
  fl::Dataset all = std::move(loaded).value();
  auto parties = fl::make_parties(all, fl::partition_iid(all.rows, 3, 11), 0.2, 11);
  // Each party's data sealed in its own node's store.
  std::string dir = (std::filesystem::temp_directory_path() / ("supernet-bench-fl-" + std::to_string(::getpid()))).string();
  std::filesystem::remove_all(dir);
  std::vector<std::unique_ptr<tee::VirtualPlatform>> platforms;
  std::vector<std::unique_ptr<node::DatasetStore>> stores;
  for (size_t k = 0; k < parties.size(); k++) {
    platforms.push_back(tee::VirtualPlatform::open(dir + "/platform-" + std::to_string(k)).value());
    stores.push_back(std::make_unique<node::DatasetStore>(*platforms.back(), dir + "/data-" + std::to_string(k)));
    std::string csv = "";
    const fl::Dataset& d = parties[k].train;
    for (size_t i = 0; i < d.rows; i++) {
      for (size_t f = 0; f < d.features; f++) csv += std::to_string(d.row(i)[f]) + ",";
      csv += std::to_string(d.y[i]) + "\n";
    }
    if (!stores.back()->add("hospital", csv, {}).ok()) std::abort();
  }
  fl::ModelSpec spec{fl::ModelSpec::Kind::kLogistic, 30, 2, {}};
  fl::TrainOptions opts{fl::Optimizer::kSgd, 0.05f, 2, 16, 1, 1e-4f};
  auto strategy = fl::make_strategy({}).value();
  std::vector<float> global = fl::Model::create(spec, 1).value().params();
  std::vector<std::unique_ptr<Channel>> channels;
  for (size_t k = 0; k < parties.size(); k++) channels.push_back(std::make_unique<Channel>(crypto::random_bytes(32)));

  auto round = [&](bool protect) {
    std::vector<fl::FitResult> results;
    for (size_t k = 0; k < parties.size(); k++) {
      Channel* ch = protect ? channels[k].get() : nullptr;
      fl::Model m = fl::Model::create(spec, 0).value();
      m.params() = transfer(global, ch);
      fl::Metrics tm = fl::train(m, parties[k].train, opts);
      results.push_back({parties[k].name, transfer(m.params(), ch), parties[k].train.rows, tm});
    }
    auto next = strategy->aggregate_fit(1, global, results).value();
    for (size_t k = 0; k < parties.size(); k++) {
      fl::Model m = fl::Model::create(spec, 0).value();
      m.params() = transfer(next, protect ? channels[k].get() : nullptr);
      (void)fl::evaluate(m, parties[k].test);
    }
    return next;
  };
  std::vector<double> on, off, unseal;
  for (int r = 0; r < reps; r++) {
    auto t = Clock::now();
    round(true);
    on.push_back(ms_since(t));
    t = Clock::now();
    round(false);
    off.push_back(ms_since(t));
    t = Clock::now();
    for (auto& s : stores) {
      if (!s->load("hospital").ok()) std::abort();
    }
    unseal.push_back(ms_since(t));
  }
  std::filesystem::remove_all(dir);
  double p = median(on), u = median(off), s = median(unseal);
  std::printf("bench_fl_round: breast cancer, 3 parties, logistic regression, FedAvg, 2 local epochs; medians of %d interleaved rounds\n", reps);
  std::printf("  round without protections          %8.3f ms\n", u);
  std::printf("  round with AEAD on every transfer  %8.3f ms   overhead %+.1f%%\n", p, 100 * (p / u - 1));
  std::printf("  unsealing the 3 data sets (once per job) %.3f ms; over a 20-round job %.3f ms per round\n", s, s / 20);
  std::printf("  round with protections, unsealing amortized over 20 rounds: overhead %+.1f%% (goal: at most 5%%)\n", 100 * ((p + s / 20) / u - 1));
  return 0;
}
