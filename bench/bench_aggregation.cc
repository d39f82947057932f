// bench_aggregation: one federated round's aggregation of K = 10 updates of d float32 values
// (d = 10^4, 10^5, 10^6), three ways, in one run:
//  - plaintext: the example-weighted sum alone (FedAvg's arithmetic, no protection);
//  - TEE path: what the aggregator in the enclave really does: each update arrives over its
//    party's attested channel as 16 KiB AES-256-GCM records (TLS 1.3's record size); each record
//    is authenticated and decrypted into a small buffer and added into the running weighted sum;
//  - CKKS (Microsoft SEAL via node-seal, bench/he/ckks.js): each party encrypts, the aggregator
//    adds ciphertexts, the key holder decrypts the sum.
// A full round is the parties' encryption plus the aggregation plus getting the plaintext
// result, for both the TEE path and CKKS. The report prints each row's time and its ratio to
// the TEE path, and the TEE path's aggregation throughput as a fraction of single-core
// AES-256-GCM decryption throughput measured in the same process.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "crypto/aead.h"
#include "crypto/secure.h"
#include "fl/strategy.h"
#include "util/codec.h"

using namespace supernet;
using Clock = std::chrono::steady_clock;

namespace {

constexpr size_t kRecordBytes = 16 * 1024;
constexpr int kParties = 10;

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Party {
  Bytes key;
  std::vector<float> update;
  float weight = 1;
  std::vector<Bytes> records;  // ciphertext || tag, one per 16 KiB of the update
};

Bytes nonce_for(uint64_t seq) {
  Bytes n(12, 0);
  for (int i = 0; i < 8; i++) n[4 + static_cast<size_t>(i)] = static_cast<uint8_t>(seq >> (8 * (7 - i)));
  return n;
}

// The parties' side: their update as AEAD records.
void encrypt(Party& p) {
  p.records.clear();
  const uint8_t* bytes = reinterpret_cast<const uint8_t*>(p.update.data());
  size_t total = p.update.size() * 4;
  for (size_t off = 0, seq = 0; off < total; off += kRecordBytes, seq++) {
    size_t n = std::min(kRecordBytes, total - off);
    p.records.push_back(crypto::aes256gcm_seal(p.key, nonce_for(seq), {}, ByteView(bytes + off, n)));
  }
}

// The aggregator: authenticate and decrypt each record, add it into the weighted sum. Record
// by record across the parties, so that the slice of the sum being built stays in the cache
// while every party's record for it is added (records arrive interleaved from K streams).
bool aggregate_tee(std::vector<Party>& parties, std::vector<float>& acc) {
  std::fill(acc.begin(), acc.end(), 0.0f);
  alignas(64) static float buf[kRecordBytes / 4];
  float total_weight = 0;
  for (auto& p : parties) total_weight += p.weight;
  std::vector<std::unique_ptr<crypto::AesGcmOpener>> openers;
  for (auto& p : parties) openers.push_back(std::make_unique<crypto::AesGcmOpener>(p.key));
  size_t records = parties[0].records.size();
  for (size_t seq = 0, base = 0; seq < records; seq++) {
    size_t n = 0;
    for (size_t k = 0; k < parties.size(); k++) {
      const Bytes& r = parties[k].records[seq];
      if (!openers[k]->open_into(nonce_for(seq), {}, r, reinterpret_cast<uint8_t*>(buf)).ok()) return false;
      n = (r.size() - crypto::kAesGcmTagBytes) / 4;
      float w = parties[k].weight / total_weight;
      fl::add_scaled(acc.data() + base, buf, w, n);
    }
    base += n;
  }
  return true;
}

void aggregate_plain(const std::vector<Party>& parties, std::vector<float>& acc) {
  std::fill(acc.begin(), acc.end(), 0.0f);
  float total_weight = 0;
  for (const auto& p : parties) total_weight += p.weight;
  for (const auto& p : parties) {
    float w = p.weight / total_weight;
    fl::add_scaled(acc.data(), p.update.data(), w, acc.size());
  }
}

// Single-core AES-256-GCM decryption of each party's whole update as one message.
double aes_gcm_decrypt_ms(std::vector<Party>& parties, std::vector<Bytes>& whole, std::vector<uint8_t>& out) {
  auto t = Clock::now();
  for (size_t k = 0; k < parties.size(); k++) {
    crypto::AesGcmOpener opener(parties[k].key);
    if (!opener.open_into(nonce_for(0), {}, whole[k], out.data()).ok()) std::abort();
  }
  return ms_since(t);
}

// The same decryption at the channel's record size (16 KiB records), without the sum.
double aes_gcm_records_ms(std::vector<Party>& parties) {
  alignas(64) static uint8_t buf[kRecordBytes];
  auto t = Clock::now();
  std::vector<std::unique_ptr<crypto::AesGcmOpener>> openers;
  for (auto& p : parties) openers.push_back(std::make_unique<crypto::AesGcmOpener>(p.key));
  for (size_t seq = 0; seq < parties[0].records.size(); seq++) {
    for (size_t k = 0; k < parties.size(); k++) {
      if (!openers[k]->open_into(nonce_for(seq), {}, parties[k].records[seq], buf).ok()) std::abort();
    }
  }
  return ms_since(t);
}

struct Ckks {
  bool ok = false;
  std::string why;
  double encrypt_ms = 0, add_ms = 0, decrypt_ms = 0, round_ms = 0, max_error = 0;
};

Ckks run_ckks(const std::string& script, size_t d) {
  Ckks c;
  std::string cmd = "node '" + script + "' " + std::to_string(d) + " " + std::to_string(kParties) + " 2>&1";
  FILE* f = ::popen(cmd.c_str(), "r");
  if (f == nullptr) {
    c.why = "cannot run node";
    return c;
  }
  std::string out;
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof buf, f)) out.append(buf, n);
  int status = ::pclose(f);
  auto j = nlohmann::json::parse(out, nullptr, false);
  if (status != 0 || j.is_discarded()) {
    c.why = out.substr(0, 200);
    return c;
  }
  c.ok = true;
  c.encrypt_ms = j["encrypt_ms"];
  c.add_ms = j["add_ms"];
  c.decrypt_ms = j["decrypt_ms"];
  c.round_ms = j["round_ms"];
  c.max_error = j["max_error"];
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Aggregation benchmark: plaintext, the TEE path (AEAD records + weighted sum), and CKKS (node-seal)", "bench_aggregation"};
  int reps = 7;
  bool ckks = true;
  std::vector<size_t> sizes{10000, 100000, 1000000};
  app.add_option("--reps", reps, "repetitions of the TEE and plaintext rows (medians are reported)")->capture_default_str();
  app.add_flag("!--no-ckks", ckks, "skip the CKKS row");
  app.add_option("--sizes", sizes, "update sizes d")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  std::string script = std::string(SUPERNET_SOURCE_DIR) + "/bench/he/ckks.js";
  bool have_seal = std::system(("test -d '" + std::string(SUPERNET_SOURCE_DIR) + "/bench/he/node_modules/node-seal' && command -v node >/dev/null").c_str()) == 0;

  std::printf("bench_aggregation: K = %d updates per round, float32, medians of %d runs (CKKS: one run)\n", kParties, reps);
  for (size_t d : sizes) {
    std::mt19937_64 rng(d);
    std::uniform_real_distribution<float> u(-1, 1);
    std::vector<Party> parties(kParties);
    for (int k = 0; k < kParties; k++) {
      parties[static_cast<size_t>(k)].key = crypto::random_bytes(32);
      parties[static_cast<size_t>(k)].weight = static_cast<float>(100 + k);
      auto& up = parties[static_cast<size_t>(k)].update;
      up.resize(d);
      for (auto& v : up) v = u(rng);
    }
    std::vector<float> acc(d), reference(d);
    std::vector<double> plain_ms, tee_ms, enc_ms, aes_ms, rec_ms;
    std::vector<Bytes> whole(kParties);
    for (int k = 0; k < kParties; k++) {
      whole[static_cast<size_t>(k)] = crypto::aes256gcm_seal(parties[static_cast<size_t>(k)].key, nonce_for(0), {},
                                                             ByteView(reinterpret_cast<const uint8_t*>(parties[static_cast<size_t>(k)].update.data()), d * 4));
    }
    std::vector<uint8_t> scratch(d * 4);
    for (int r = 0; r < reps; r++) {  // interleaved, so that noise hits every row alike
      auto t = Clock::now();
      for (auto& p : parties) encrypt(p);
      enc_ms.push_back(ms_since(t));
      t = Clock::now();
      aggregate_plain(parties, reference);
      plain_ms.push_back(ms_since(t));
      t = Clock::now();
      if (!aggregate_tee(parties, acc)) std::abort();
      tee_ms.push_back(ms_since(t));
      aes_ms.push_back(aes_gcm_decrypt_ms(parties, whole, scratch));
      rec_ms.push_back(aes_gcm_records_ms(parties));
    }
    for (size_t i = 0; i < d; i++) {
      if (acc[i] != reference[i]) {
        std::fprintf(stderr, "TEE path and plaintext sums differ at %zu\n", i);
        return 1;
      }
    }
    double plain = median(plain_ms), tee = median(tee_ms), enc = median(enc_ms), aes = median(aes_ms), rec = median(rec_ms);
    double tee_round = enc + tee;
    double bytes = static_cast<double>(d) * 4 * kParties;
    std::printf("\nd = %zu (%.1f MB of updates)\n", d, bytes / 1e6);
    std::printf("  %-44s %12.3f ms  %8.3fx\n", "plaintext weighted sum", plain, plain / tee);
    std::printf("  %-44s %12.3f ms  %8.3fx\n", "TEE path: decrypt records + weighted sum", tee, 1.0);
    std::printf("  %-44s %12.3f ms\n", "TEE full round: parties encrypt + aggregate", tee_round);
    if (ckks && have_seal) {
      Ckks c = run_ckks(script, d);
      if (c.ok) {
        std::printf("  %-44s %12.3f ms  %8.1fx the TEE full round  (encrypt %.0f, add %.0f, decrypt %.0f ms; max error %.1e)\n",
                    "CKKS full round (SEAL, node-seal)", c.round_ms, c.round_ms / tee_round, c.encrypt_ms, c.add_ms, c.decrypt_ms,
                    c.max_error);
        std::printf("  %-44s %12.3f ms  %8.1fx the TEE path\n", "CKKS aggregation alone (ciphertext adds)", c.add_ms, c.add_ms / tee);
      } else {
        std::printf("  CKKS: failed: %s\n", c.why.c_str());
      }
    } else if (ckks) {
      std::printf("  CKKS: skipped (run bench/he/setup.sh to install node-seal; make bench does)\n");
    }
    double tee_tput = bytes / (tee / 1e3), aes_tput = bytes / (aes / 1e3), rec_tput = bytes / (rec / 1e3);
    std::printf("  TEE aggregation %.2f GB/s = %.0f%% of single-core AES-256-GCM decryption in 16 KiB records (%.2f GB/s; goal >= 80%%),\n"
                "    %.0f%% of it over whole %zu-byte messages (%.2f GB/s)\n",
                tee_tput / 1e9, 100 * tee_tput / rec_tput, rec_tput / 1e9, 100 * tee_tput / aes_tput, d * 4, aes_tput / 1e9);
  }
  return 0;
}
