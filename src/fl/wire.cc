#include "fl/wire.h"

#include <cmath>
#include <bit>
#include <cstring>
#include <random>

#include "crypto/keys.h"
#include "fl/strategy.h"
#include "util/codec.h"
#include "util/names.h"

namespace supernet::fl {

namespace {

constexpr char kFrameMagic[] = "SNFL";
constexpr char kJobMagic[] = "SNFJ";
constexpr char kRoundMagic[] = "SNFR";
constexpr char kFailMagic[] = "SNFX";
constexpr char kClaimMagic[] = "SNFA";
constexpr char kConsentMagic[] = "SNFK";
constexpr char kDataRecordMagic[] = "SNFD";
constexpr char kPolicyMagic[] = "SNFP";
constexpr size_t kFailReasonBytesMax = 512;

bool has_magic(ByteView b, const char* magic) { return b.size() >= 4 && std::memcmp(b.data(), magic, 4) == 0; }

uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
float bits_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

void put_floats(Writer& w, const std::vector<float>& v) {
  w.u32(static_cast<uint32_t>(v.size()));
  for (float f : v) w.u32(float_bits(f));
}
Result<std::vector<float>> get_floats(Reader& r) {
  SN_ASSIGN(uint32_t n, r.count(kWireParamsMax, 4));
  std::vector<float> v(n);
  for (uint32_t i = 0; i < n; i++) {
    SN_ASSIGN(uint32_t u, r.u32());
    v[i] = bits_float(u);
    if (!std::isfinite(v[i])) return make_error("fl.wire", "a non-finite number");
  }
  return v;
}
void put_double(Writer& w, double d) {
  uint64_t u;
  std::memcpy(&u, &d, 8);
  w.u64(u);
}
Result<double> get_double(Reader& r) {
  SN_ASSIGN(uint64_t u, r.u64());
  double d;
  std::memcpy(&d, &u, 8);
  if (!std::isfinite(d)) return make_error("fl.wire", "a non-finite number");
  return d;
}
void put_metrics(Writer& w, const Metrics& m) {
  put_double(w, m.loss);
  put_double(w, m.accuracy);
  w.u64(m.examples);
}
Result<Metrics> get_metrics(Reader& r) {
  Metrics m;
  SN_ASSIGN(m.loss, get_double(r));
  SN_ASSIGN(m.accuracy, get_double(r));
  SN_ASSIGN(m.examples, r.u64());
  return m;
}
Result<Bytes> get_job(Reader& r) {
  SN_ASSIGN(ByteView id, r.fixed(32));
  return to_bytes(id);
}
void put_options(Writer& w, const TrainOptions& o) {
  w.u8(o.optimizer == Optimizer::kAdam ? 1 : 0).u32(static_cast<uint32_t>(o.epochs)).u64(o.batch).u64(o.seed);
  w.u32(float_bits(o.learning_rate)).u32(float_bits(o.l2)).u32(float_bits(o.prox_mu));
}
Result<TrainOptions> get_options(Reader& r) {
  TrainOptions o;
  SN_ASSIGN(uint8_t opt, r.u8());
  if (opt > 1) return make_error("fl.wire", "unknown optimizer");
  o.optimizer = opt == 1 ? Optimizer::kAdam : Optimizer::kSgd;
  SN_ASSIGN(uint32_t epochs, r.u32());
  SN_ASSIGN(o.batch, r.u64());
  SN_ASSIGN(o.seed, r.u64());
  SN_ASSIGN(uint32_t lr_bits, r.u32());
  SN_ASSIGN(uint32_t l2_bits, r.u32());
  SN_ASSIGN(uint32_t mu_bits, r.u32());
  float lr = bits_float(lr_bits), l2 = bits_float(l2_bits), mu = bits_float(mu_bits);
  // (Written so that NaN fails every comparison and is refused.)
  if (epochs < 1 || epochs > 1000 || o.batch < 1 || o.batch > 100000 || !(lr > 0 && lr <= 100) || !(l2 >= 0 && l2 <= 10) ||
      !(mu >= 0 && mu <= 100)) {
    return make_error("fl.wire", "training options out of range");
  }
  o.epochs = static_cast<int>(epochs);
  o.learning_rate = lr;
  o.l2 = l2;
  o.prox_mu = mu;
  return o;
}

}  // namespace

bool is_fl_frame(ByteView frame) { return has_magic(frame, kFrameMagic); }

Bytes encode_wire(const WireMessage& m) {
  Writer w;
  w.fixed(as_bytes(kFrameMagic)).u8(static_cast<uint8_t>(m.index()));
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        w.fixed(x.job);
        if constexpr (std::is_same_v<T, StatsReply>) {
          w.u64(x.rows).u32(x.classes).u32(static_cast<uint32_t>(x.sum.size()));
          for (size_t i = 0; i < x.sum.size(); i++) {
            put_double(w, x.sum[i]);
            put_double(w, x.sumsq[i]);
          }
        } else if constexpr (std::is_same_v<T, FitRequest>) {
          w.u32(static_cast<uint32_t>(x.round)).u32(x.classes);
          put_floats(w, x.model);
          put_floats(w, x.mean);
          put_floats(w, x.stddev);
          put_options(w, x.options);
        } else if constexpr (std::is_same_v<T, FitReply>) {
          w.u32(static_cast<uint32_t>(x.round));
          put_floats(w, x.params);
          w.u64(x.examples);
          put_metrics(w, x.train);
        } else if constexpr (std::is_same_v<T, EvalRequest>) {
          w.u32(static_cast<uint32_t>(x.round)).u32(x.classes);
          put_floats(w, x.model);
          put_floats(w, x.mean);
          put_floats(w, x.stddev);
        } else if constexpr (std::is_same_v<T, EvalReply>) {
          w.u32(static_cast<uint32_t>(x.round));
          put_metrics(w, x.metrics);
        } else if constexpr (std::is_same_v<T, Refusal>) {
          w.u32(static_cast<uint32_t>(x.round)).str(x.reason).u8(x.awaiting_consent ? 1 : 0);
        }
      },
      m);
  return w.take();
}

Result<WireMessage> decode_wire(ByteView frame) {
  if (!is_fl_frame(frame)) return make_error("fl.wire", "not a federated learning message");
  Reader r(frame.subspan(4));
  SN_ASSIGN(uint8_t type, r.u8());
  SN_ASSIGN(Bytes job, get_job(r));
  auto round = [&]() -> Result<int32_t> {
    SN_ASSIGN(uint32_t v, r.u32());
    if (v > 100000) return make_error("fl.wire", "round out of range");
    return static_cast<int32_t>(v);
  };
  WireMessage out;
  switch (type) {
    case 0:
      out = StatsRequest{job};
      break;
    case 1: {
      StatsReply s;
      s.job = job;
      SN_ASSIGN(s.rows, r.u64());
      SN_ASSIGN(s.classes, r.u32());
      if (s.classes > static_cast<uint32_t>(kClassesMax)) return make_error("fl.wire", "classes out of range");
      SN_ASSIGN(uint32_t n, r.count(kFeaturesMax, 16));
      for (uint32_t i = 0; i < n; i++) {
        SN_ASSIGN(double a, get_double(r));
        SN_ASSIGN(double b, get_double(r));
        s.sum.push_back(a);
        s.sumsq.push_back(b);
      }
      out = std::move(s);
      break;
    }
    case 2: {
      FitRequest f;
      f.job = job;
      SN_ASSIGN(f.round, round());
      SN_ASSIGN(f.classes, r.u32());
      if (f.classes < 2 || f.classes > static_cast<uint32_t>(kClassesMax)) return make_error("fl.wire", "classes out of range");
      SN_ASSIGN(f.model, get_floats(r));
      SN_ASSIGN(f.mean, get_floats(r));
      SN_ASSIGN(f.stddev, get_floats(r));
      SN_ASSIGN(f.options, get_options(r));
      out = std::move(f);
      break;
    }
    case 3: {
      FitReply f;
      f.job = job;
      SN_ASSIGN(f.round, round());
      SN_ASSIGN(f.params, get_floats(r));
      SN_ASSIGN(f.examples, r.u64());
      SN_ASSIGN(f.train, get_metrics(r));
      out = std::move(f);
      break;
    }
    case 4: {
      EvalRequest e;
      e.job = job;
      SN_ASSIGN(e.round, round());
      SN_ASSIGN(e.classes, r.u32());
      if (e.classes < 2 || e.classes > static_cast<uint32_t>(kClassesMax)) return make_error("fl.wire", "classes out of range");
      SN_ASSIGN(e.model, get_floats(r));
      SN_ASSIGN(e.mean, get_floats(r));
      SN_ASSIGN(e.stddev, get_floats(r));
      out = std::move(e);
      break;
    }
    case 5: {
      EvalReply e;
      e.job = job;
      SN_ASSIGN(e.round, round());
      SN_ASSIGN(e.metrics, get_metrics(r));
      out = std::move(e);
      break;
    }
    case 6: {
      Refusal x;
      x.job = job;
      SN_ASSIGN(x.round, round());
      SN_ASSIGN(ByteView why, r.bytes(512));
      x.reason = to_string(why);
      SN_ASSIGN(uint8_t waits, r.u8());
      if (waits > 1) return make_error("fl.wire", "the refusal's consent flag is not 0 or 1");
      x.awaiting_consent = waits == 1;
      out = std::move(x);
      break;
    }
    default:
      return make_error("fl.wire", "unknown message type");
  }
  SN_TRY(r.finish());
  return out;
}

// --- ledger transactions ---

bool is_job_tx(ByteView tx) { return has_magic(tx, kJobMagic); }
bool is_round_tx(ByteView tx) { return has_magic(tx, kRoundMagic); }
bool is_fail_tx(ByteView tx) { return has_magic(tx, kFailMagic); }
bool is_claim_tx(ByteView tx) { return has_magic(tx, kClaimMagic); }
bool is_consent_tx(ByteView tx) { return has_magic(tx, kConsentMagic); }

Bytes ConsentTx::signed_bytes() const {
  Writer w;
  w.str("supernet-fl-consent-v1").bytes(job).u64(nonce).bytes(client_spki);
  return w.take();
}

Bytes ConsentTx::encode() const {
  Writer w;
  w.fixed(as_bytes(kConsentMagic)).bytes(job).u64(nonce).bytes(client_spki).bytes(signature);
  return w.take();
}

Result<ConsentTx> ConsentTx::decode(ByteView tx) {
  if (!is_consent_tx(tx)) return make_error("fl.tx", "not a consent transaction");
  Reader r(tx.subspan(4));
  ConsentTx c;
  SN_ASSIGN(ByteView job, r.bytes(32));
  if (job.size() != 32) return make_error("fl.tx", "a consent names a job by its 32-byte id");
  SN_ASSIGN(c.nonce, r.u64());
  SN_ASSIGN(ByteView spki, r.bytes(1024));
  SN_ASSIGN(ByteView sig, r.bytes(256));
  SN_TRY(r.finish());
  c.job = to_bytes(job);
  c.client_spki = to_bytes(spki);
  c.signature = to_bytes(sig);
  return c;
}

Bytes make_consent_tx(const Bytes& job, uint64_t nonce, const crypto::PrivateKey& client_key) {
  ConsentTx c;
  c.job = job;
  c.nonce = nonce;
  c.client_spki = client_key.public_key().spki_der();
  c.signature = client_key.sign_ecdsa_der(crypto::HashAlg::kSha256, c.signed_bytes());
  return c.encode();
}

bool is_data_record_tx(ByteView tx) { return has_magic(tx, kDataRecordMagic); }
bool is_policy_tx(ByteView tx) { return has_magic(tx, kPolicyMagic); }

namespace {

bool simple_name(std::string_view s) { return is_simple_name(s, 64); }

Writer& put_record_body(Writer& w, const DataRecordTx& r) {
  return w.u32(r.node).str(r.name).str(r.owner).bytes(r.data_sha256).u32(r.features).u32(r.classes).u64(r.rows).u8(r.deleted ? 1 : 0).u64(r.nonce)
      .bytes(r.statement.encode());
}

Writer& put_statement_body(Writer& w, const OwnerStatement& s) {
  return w.u32(s.node).str(s.name).bytes(s.csv_sha256).str(s.label_column).u8(s.deleted ? 1 : 0).bytes(s.client_spki);
}

// A non-negative finite double, as its IEEE-754 bits.
Writer& put_f64(Writer& w, double v) { return w.u64(std::bit_cast<uint64_t>(v)); }
Result<double> get_f64(Reader& r, double max) {
  SN_ASSIGN(uint64_t bits, r.u64());
  double v = std::bit_cast<double>(bits);
  if (!std::isfinite(v) || v < 0 || v > max) return make_error("fl.tx", "a policy number is out of range (0 to " + std::to_string(max) + ")");
  return v;
}

Writer& put_names(Writer& w, const std::vector<std::string>& names) {
  w.u32(static_cast<uint32_t>(names.size()));
  for (const auto& n : names) w.str(n);
  return w;
}
Result<std::vector<std::string>> get_names(Reader& r) {
  SN_ASSIGN(uint32_t n, r.count(kPolicyNamesMax, 5));
  std::vector<std::string> out;
  for (uint32_t i = 0; i < n; i++) {
    SN_ASSIGN(ByteView b, r.bytes(64));
    std::string s = to_string(b);
    if (!simple_name(s)) return make_error("fl.tx", "a client name in the policy is not a name");
    out.push_back(std::move(s));
  }
  return out;
}

Writer& put_policy_body(Writer& w, const PolicyTx& t) {
  const DataPolicy& p = t.policy;
  w.u32(t.node).str(t.dataset);
  put_names(w, p.submitters);
  put_names(w, p.readers);
  w.u32(p.min_parties).u32(p.max_epochs).u64(p.max_params);
  put_f64(w, p.max_epsilon);
  put_f64(w, p.epsilon_budget);
  put_f64(w, p.local_clip);
  put_f64(w, p.local_noise);
  return w.u64(t.nonce).bytes(t.client_spki);
}

}  // namespace

Bytes DataRecordTx::signed_bytes() const {
  Writer w;
  w.str("supernet-fl-data-record-v1");
  return put_record_body(w, *this).take();
}

Bytes DataRecordTx::encode() const {
  Writer w;
  w.fixed(as_bytes(kDataRecordMagic));
  put_record_body(w, *this).fixed(signature);
  return w.take();
}

Result<DataRecordTx> DataRecordTx::decode(ByteView tx) {
  if (!is_data_record_tx(tx)) return make_error("fl.tx", "not a data set record");
  Reader r(tx.subspan(4));
  DataRecordTx t;
  SN_ASSIGN(t.node, r.u32());
  SN_ASSIGN(ByteView name, r.bytes(64));
  SN_ASSIGN(ByteView owner, r.bytes(64));
  t.name = to_string(name);
  t.owner = to_string(owner);
  if (!simple_name(t.name) || !simple_name(t.owner)) return make_error("fl.tx", "a data set record needs a data set name and an owner name");
  SN_ASSIGN(ByteView hash, r.bytes(32));
  t.data_sha256 = to_bytes(hash);
  SN_ASSIGN(t.features, r.u32());
  SN_ASSIGN(t.classes, r.u32());
  SN_ASSIGN(t.rows, r.u64());
  SN_ASSIGN(uint8_t deleted, r.u8());
  if (deleted > 1) return make_error("fl.tx", "bad deleted flag");
  t.deleted = deleted == 1;
  if (t.deleted != t.data_sha256.empty() || (!t.deleted && t.data_sha256.size() != 32)) {
    return make_error("fl.tx", "a registration carries the 32-byte data hash, a deletion none");
  }
  if (t.features > kFeaturesMax || t.classes > static_cast<uint32_t>(kClassesMax)) return make_error("fl.tx", "data set dimensions out of range");
  SN_ASSIGN(t.nonce, r.u64());
  SN_ASSIGN(ByteView statement, r.bytes(4096));
  SN_ASSIGN(t.statement, OwnerStatement::decode(statement));
  SN_ASSIGN(ByteView sig, r.fixed(64));
  t.signature = to_bytes(sig);
  SN_TRY(r.finish());
  return t;
}

Bytes OwnerStatement::signed_bytes() const {
  Writer w;
  w.str("supernet-fl-data-owner-v1");
  return put_statement_body(w, *this).take();
}

Bytes OwnerStatement::encode() const {
  Writer w;
  put_statement_body(w, *this).bytes(signature);
  return w.take();
}

Result<OwnerStatement> OwnerStatement::decode(ByteView b) {
  Reader r(b);
  OwnerStatement s;
  SN_ASSIGN(s.node, r.u32());
  SN_ASSIGN(ByteView name, r.bytes(64));
  s.name = to_string(name);
  if (!simple_name(s.name)) return make_error("fl.tx", "an owner statement names a data set");
  SN_ASSIGN(ByteView hash, r.bytes(32));
  if (hash.size() != 32) return make_error("fl.tx", "an owner statement names the CSV's 32-byte SHA-256");
  s.csv_sha256 = to_bytes(hash);
  SN_ASSIGN(ByteView label, r.bytes(256));
  s.label_column = to_string(label);
  SN_ASSIGN(uint8_t deleted, r.u8());
  if (deleted > 1) return make_error("fl.tx", "bad deleted flag");
  s.deleted = deleted == 1;
  SN_ASSIGN(ByteView spki, r.bytes(1024));
  s.client_spki = to_bytes(spki);
  SN_ASSIGN(ByteView sig, r.bytes(256));
  s.signature = to_bytes(sig);
  SN_TRY(r.finish());
  return s;
}

Bytes make_owner_statement(uint32_t node, std::string name, Bytes csv_sha256, std::string label_column, bool deleted,
                           const crypto::PrivateKey& client_key) {
  OwnerStatement s;
  s.node = node;
  s.name = std::move(name);
  s.csv_sha256 = std::move(csv_sha256);
  s.label_column = std::move(label_column);
  s.deleted = deleted;
  s.client_spki = client_key.public_key().spki_der();
  s.signature = client_key.sign_ecdsa_der(crypto::HashAlg::kSha256, s.signed_bytes());
  return s.encode();
}

Bytes make_data_record_tx(DataRecordTx r, const crypto::SecureBytes& identity_secret) {
  r.signature = crypto::ed25519_sign(identity_secret, r.signed_bytes());
  return r.encode();
}

Bytes PolicyTx::signed_bytes() const {
  Writer w;
  w.str("supernet-fl-policy-v1");
  return put_policy_body(w, *this).take();
}

Bytes PolicyTx::encode() const {
  Writer w;
  w.fixed(as_bytes(kPolicyMagic));
  put_policy_body(w, *this).bytes(signature);
  return w.take();
}

Result<PolicyTx> PolicyTx::decode(ByteView tx) {
  if (!is_policy_tx(tx)) return make_error("fl.tx", "not a data policy transaction");
  Reader r(tx.subspan(4));
  PolicyTx t;
  SN_ASSIGN(t.node, r.u32());
  SN_ASSIGN(ByteView name, r.bytes(64));
  t.dataset = to_string(name);
  if (!simple_name(t.dataset)) return make_error("fl.tx", "a policy names a data set");
  DataPolicy& p = t.policy;
  SN_ASSIGN(p.submitters, get_names(r));
  SN_ASSIGN(p.readers, get_names(r));
  SN_ASSIGN(p.min_parties, r.u32());
  if (p.min_parties > 1000) return make_error("fl.tx", "min_parties out of range");
  SN_ASSIGN(p.max_epochs, r.u32());
  SN_ASSIGN(p.max_params, r.u64());
  SN_ASSIGN(p.max_epsilon, get_f64(r, 1e6));
  SN_ASSIGN(p.epsilon_budget, get_f64(r, 1e6));
  SN_ASSIGN(p.local_clip, get_f64(r, 1e6));
  SN_ASSIGN(p.local_noise, get_f64(r, 1e3));
  if ((p.local_clip > 0) != (p.local_noise > 0)) return make_error("fl.tx", "local DP needs both a clip and a noise multiplier");
  SN_ASSIGN(t.nonce, r.u64());
  SN_ASSIGN(ByteView spki, r.bytes(1024));
  SN_ASSIGN(ByteView sig, r.bytes(256));
  SN_TRY(r.finish());
  t.client_spki = to_bytes(spki);
  t.signature = to_bytes(sig);
  return t;
}

Bytes make_policy_tx(uint32_t node, std::string dataset, DataPolicy policy, uint64_t nonce, const crypto::PrivateKey& client_key) {
  PolicyTx t;
  t.node = node;
  t.dataset = std::move(dataset);
  t.policy = std::move(policy);
  t.nonce = nonce;
  t.client_spki = client_key.public_key().spki_der();
  t.signature = client_key.sign_ecdsa_der(crypto::HashAlg::kSha256, t.signed_bytes());
  return t.encode();
}

Bytes JobTx::signed_bytes() const {
  Writer w;
  w.str("supernet-fl-job-v1").str(toml).u64(nonce).bytes(client_spki);
  return w.take();
}

Bytes JobTx::encode() const {
  Writer w;
  w.fixed(as_bytes(kJobMagic)).str(toml).u64(nonce).bytes(client_spki).bytes(signature);
  return w.take();
}

Result<JobTx> JobTx::decode(ByteView tx) {
  if (!is_job_tx(tx)) return make_error("fl.tx", "not a job transaction");
  Reader r(tx.subspan(4));
  JobTx j;
  SN_ASSIGN(ByteView toml, r.bytes(48 * 1024));
  SN_ASSIGN(j.nonce, r.u64());
  SN_ASSIGN(ByteView spki, r.bytes(1024));
  SN_ASSIGN(ByteView sig, r.bytes(256));
  SN_TRY(r.finish());
  j.toml = to_string(toml);
  j.client_spki = to_bytes(spki);
  j.signature = to_bytes(sig);
  return j;
}

Bytes make_job_tx(std::string toml, uint64_t nonce, const crypto::PrivateKey& client_key) {
  JobTx j;
  j.toml = std::move(toml);
  j.nonce = nonce;
  j.client_spki = client_key.public_key().spki_der();
  j.signature = client_key.sign_ecdsa_der(crypto::HashAlg::kSha256, j.signed_bytes());
  return j.encode();
}

static void encode_record(Writer& w, const RoundRecord& rec) {
  w.u32(static_cast<uint32_t>(rec.round)).u32(static_cast<uint32_t>(rec.parties.size()));
  for (size_t i = 0; i < rec.parties.size(); i++) w.str(rec.parties[i]).fixed(rec.update_hashes[i]);
  w.fixed(rec.model_hash);
  put_metrics(w, rec.train);
  put_metrics(w, rec.eval);
  put_double(w, rec.epsilon);
  w.u32(static_cast<uint32_t>(rec.attempts)).u32(static_cast<uint32_t>(rec.dropped.size()));
  for (const auto& d : rec.dropped) w.str(d);
}

Bytes RoundTx::signed_bytes() const {
  Writer w;
  w.str("supernet-fl-round-v1").fixed(job).u32(aggregator);
  encode_record(w, record);
  return w.take();
}

Bytes RoundTx::encode() const {
  Writer w;
  w.fixed(as_bytes(kRoundMagic)).fixed(job).u32(aggregator);
  encode_record(w, record);
  w.fixed(signature);
  return w.take();
}

Result<RoundTx> RoundTx::decode(ByteView tx) {
  if (!is_round_tx(tx)) return make_error("fl.tx", "not a round transaction");
  Reader r(tx.subspan(4));
  RoundTx t;
  SN_ASSIGN(t.job, get_job(r));
  SN_ASSIGN(t.aggregator, r.u32());
  SN_ASSIGN(uint32_t round, r.u32());
  if (round < 1 || round > 10000) return make_error("fl.tx", "round out of range");
  t.record.round = static_cast<int>(round);
  SN_ASSIGN(uint32_t n, r.count(1000, 4 + 32));
  for (uint32_t i = 0; i < n; i++) {
    SN_ASSIGN(ByteView p, r.bytes(64));
    SN_ASSIGN(ByteView h, r.fixed(32));
    t.record.parties.push_back(to_string(p));
    t.record.update_hashes.push_back(to_bytes(h));
  }
  SN_ASSIGN(ByteView mh, r.fixed(32));
  t.record.model_hash = to_bytes(mh);
  SN_ASSIGN(t.record.train, get_metrics(r));
  SN_ASSIGN(t.record.eval, get_metrics(r));
  SN_ASSIGN(t.record.epsilon, get_double(r));
  SN_ASSIGN(uint32_t attempts, r.u32());
  if (attempts < 1 || attempts > 1000) return make_error("fl.tx", "attempts out of range");  // one encoding per record
  t.record.attempts = static_cast<int>(attempts);
  SN_ASSIGN(uint32_t nd, r.count(1000, 4));
  for (uint32_t i = 0; i < nd; i++) {
    SN_ASSIGN(ByteView d, r.bytes(64));
    t.record.dropped.push_back(to_string(d));
  }
  SN_ASSIGN(ByteView sig, r.fixed(64));
  t.signature = to_bytes(sig);
  SN_TRY(r.finish());
  return t;
}

Bytes make_round_tx(const Bytes& job, uint32_t aggregator, const RoundRecord& record, const crypto::SecureBytes& identity_secret) {
  RoundTx t;
  t.job = job;
  t.aggregator = aggregator;
  t.record = record;
  t.signature = crypto::ed25519_sign(identity_secret, t.signed_bytes());
  return t.encode();
}

Bytes FailTx::signed_bytes() const {
  Writer w;
  w.str("supernet-fl-fail-v1").fixed(job).u32(aggregator).u32(static_cast<uint32_t>(round)).str(reason);
  return w.take();
}

Bytes FailTx::encode() const {
  Writer w;
  w.fixed(as_bytes(kFailMagic)).fixed(job).u32(aggregator).u32(static_cast<uint32_t>(round)).str(reason).fixed(signature);
  return w.take();
}

Result<FailTx> FailTx::decode(ByteView tx) {
  if (!is_fail_tx(tx)) return make_error("fl.tx", "not a job failure transaction");
  Reader r(tx.subspan(4));
  FailTx t;
  SN_ASSIGN(t.job, get_job(r));
  SN_ASSIGN(t.aggregator, r.u32());
  SN_ASSIGN(uint32_t round, r.u32());
  if (round < 1 || round > 10000) return make_error("fl.tx", "round out of range");
  t.round = static_cast<int32_t>(round);
  SN_ASSIGN(ByteView reason, r.bytes(kFailReasonBytesMax));
  t.reason = to_string(reason);
  SN_ASSIGN(ByteView sig, r.fixed(64));
  t.signature = to_bytes(sig);
  SN_TRY(r.finish());
  return t;
}

Bytes make_fail_tx(const Bytes& job, uint32_t aggregator, int round, std::string reason, const crypto::SecureBytes& identity_secret) {
  FailTx t;
  t.job = job;
  t.aggregator = aggregator;
  t.round = round;
  if (reason.size() > kFailReasonBytesMax) reason.resize(kFailReasonBytesMax);
  t.reason = std::move(reason);
  t.signature = crypto::ed25519_sign(identity_secret, t.signed_bytes());
  return t.encode();
}

static void encode_claim_body(Writer& w, const ClaimTx& t) {
  w.fixed(t.job).u32(t.aggregator).u32(static_cast<uint32_t>(t.from_round)).u64(t.nonce).u8(t.standardization ? 1 : 0);
  if (t.standardization) {
    w.u32(t.standardization->classes);
    put_floats(w, t.standardization->mean);
    put_floats(w, t.standardization->stddev);
  }
}

Bytes ClaimTx::signed_bytes() const {
  Writer w;
  w.str("supernet-fl-claim-v1");
  encode_claim_body(w, *this);
  return w.take();
}

Bytes ClaimTx::encode() const {
  Writer w;
  w.fixed(as_bytes(kClaimMagic));
  encode_claim_body(w, *this);
  w.fixed(signature);
  return w.take();
}

Result<ClaimTx> ClaimTx::decode(ByteView tx) {
  if (!is_claim_tx(tx)) return make_error("fl.tx", "not an aggregator claim transaction");
  Reader r(tx.subspan(4));
  ClaimTx t;
  SN_ASSIGN(t.job, get_job(r));
  SN_ASSIGN(t.aggregator, r.u32());
  SN_ASSIGN(uint32_t round, r.u32());
  if (round < 1 || round > 10000) return make_error("fl.tx", "round out of range");
  t.from_round = static_cast<int32_t>(round);
  SN_ASSIGN(t.nonce, r.u64());
  SN_ASSIGN(uint8_t has, r.u8());
  if (has > 1) return make_error("fl.tx", "bad standardization flag");
  if (has == 1) {
    Standardization s;
    SN_ASSIGN(s.classes, r.u32());
    if (s.classes < 2 || s.classes > static_cast<uint32_t>(kClassesMax)) return make_error("fl.tx", "classes out of range");
    SN_ASSIGN(s.mean, get_floats(r));
    SN_ASSIGN(s.stddev, get_floats(r));
    if (s.mean.empty() || s.mean.size() > kFeaturesMax || s.stddev.size() != s.mean.size()) {
      return make_error("fl.tx", "the standardization needs 1 to " + std::to_string(kFeaturesMax) + " features, a mean and a deviation each");
    }
    for (float d : s.stddev) {
      if (!(d > 0)) return make_error("fl.tx", "a standard deviation that is not positive");
    }
    t.standardization = std::move(s);
  }
  SN_ASSIGN(ByteView sig, r.fixed(64));
  t.signature = to_bytes(sig);
  SN_TRY(r.finish());
  return t;
}

Bytes make_claim_tx(const Bytes& job, uint32_t aggregator, int from_round, uint64_t nonce, std::optional<Standardization> standardization,
                    const crypto::SecureBytes& identity_secret) {
  ClaimTx t;
  t.job = job;
  t.aggregator = aggregator;
  t.from_round = from_round;
  t.nonce = nonce;
  t.standardization = std::move(standardization);
  t.signature = crypto::ed25519_sign(identity_secret, t.signed_bytes());
  return t.encode();
}

namespace {

void put_spec(Writer& w, const ModelSpec& spec, const std::vector<float>& params) {
  w.u8(spec.kind == ModelSpec::Kind::kMlp ? 1 : 0).u64(spec.inputs).u32(static_cast<uint32_t>(spec.classes));
  w.u32(static_cast<uint32_t>(spec.hidden.size()));
  for (size_t h : spec.hidden) w.u64(h);
  put_floats(w, params);
}

Status get_spec(Reader& r, ModelSpec& spec, std::vector<float>& params) {
  SN_ASSIGN(uint8_t kind, r.u8());
  if (kind > 1) return make_error("fl.wire", "unknown model kind");
  spec.kind = kind == 1 ? ModelSpec::Kind::kMlp : ModelSpec::Kind::kLogistic;
  SN_ASSIGN(spec.inputs, r.u64());
  SN_ASSIGN(uint32_t classes, r.u32());
  if (classes < 2 || classes > 1000) return make_error("fl.wire", "classes out of range");
  spec.classes = static_cast<int>(classes);
  SN_ASSIGN(uint32_t layers, r.count(2, 8));
  for (uint32_t i = 0; i < layers; i++) {
    SN_ASSIGN(uint64_t h, r.u64());
    spec.hidden.push_back(h);
  }
  SN_TRY(spec.validate());
  SN_ASSIGN(params, get_floats(r));
  if (params.size() != spec.parameter_count()) return make_error("fl.wire", "the parameters do not fit the model");
  return ok_status();
}

void put_rows(Writer& w, const Dataset& d) {
  w.u64(d.rows).u64(d.features).u32(static_cast<uint32_t>(d.classes));
  // The rows in one block (big-endian float bits): they are most of a task's bytes.
  w.u32(static_cast<uint32_t>(d.x.size()));
  Bytes rows(d.x.size() * 4);
  for (size_t i = 0; i < d.x.size(); i++) {
    uint32_t u = float_bits(d.x[i]);
    rows[4 * i] = static_cast<uint8_t>(u >> 24);
    rows[4 * i + 1] = static_cast<uint8_t>(u >> 16);
    rows[4 * i + 2] = static_cast<uint8_t>(u >> 8);
    rows[4 * i + 3] = static_cast<uint8_t>(u);
  }
  w.fixed(rows);
  w.u32(static_cast<uint32_t>(d.y.size()));
  for (int32_t y : d.y) w.u32(static_cast<uint32_t>(y));
}

Result<Dataset> get_rows(Reader& r, const ModelSpec& spec, bool may_be_empty) {
  Dataset d;
  SN_ASSIGN(d.rows, r.u64());
  SN_ASSIGN(d.features, r.u64());
  SN_ASSIGN(uint32_t data_classes, r.u32());
  d.classes = static_cast<int>(data_classes);
  SN_ASSIGN(uint32_t nx, r.count(SIZE_MAX, 4));
  if (d.features != spec.inputs || (d.rows == 0 && !may_be_empty) || nx / d.features != d.rows || nx % d.features != 0) {
    return make_error("fl.wire", "the rows do not fit the model's inputs");
  }
  SN_ASSIGN(ByteView rows, r.fixed(size_t{nx} * 4));
  d.x.resize(nx);
  for (uint32_t i = 0; i < nx; i++) {
    const uint8_t* p = rows.data() + 4 * size_t{i};
    d.x[i] = bits_float((uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3]);
    if (!std::isfinite(d.x[i])) return make_error("fl.wire", "a non-finite number");
  }
  SN_ASSIGN(uint32_t ny, r.count(SIZE_MAX, 4));
  if (ny != d.rows) return make_error("fl.wire", "one label per row");
  d.y.resize(ny);
  for (uint32_t i = 0; i < ny; i++) {
    SN_ASSIGN(uint32_t y, r.u32());
    if (y >= static_cast<uint32_t>(spec.classes)) return make_error("fl.wire", "a label out of range");
    d.y[i] = static_cast<int32_t>(y);
  }
  return d;
}

void put_party_data(Writer& w, const std::optional<PartyData>& data) {
  w.u8(data ? 1 : 0);
  if (!data) return;
  put_rows(w, data->train);
  put_rows(w, data->test);
}

Result<std::optional<PartyData>> get_party_data(Reader& r, const ModelSpec& spec) {
  SN_ASSIGN(uint8_t has, r.u8());
  if (has > 1) return make_error("fl.wire", "bad data flag");
  if (has == 0) return std::optional<PartyData>();
  PartyData d;
  SN_ASSIGN(d.train, get_rows(r, spec, false));
  SN_ASSIGN(d.test, get_rows(r, spec, true));
  return std::optional<PartyData>(std::move(d));
}

}  // namespace

Bytes encode_train_task(const TrainTask& t) {
  Writer w;
  put_spec(w, t.spec, t.params);
  put_options(w, t.options);
  put_party_data(w, t.data);
  put_double(w, t.local_clip);
  put_double(w, t.local_noise);
  w.u64(t.noise_seed);
  return w.take();
}

Result<TrainTask> decode_train_task(ByteView b) {
  Reader r(b);
  TrainTask t;
  SN_TRY(get_spec(r, t.spec, t.params));
  SN_ASSIGN(t.options, get_options(r));
  SN_ASSIGN(t.data, get_party_data(r, t.spec));
  SN_ASSIGN(t.local_clip, get_f64(r, 1e6));
  SN_ASSIGN(t.local_noise, get_f64(r, 1e3));
  SN_ASSIGN(t.noise_seed, r.u64());
  SN_TRY(r.finish());
  return t;
}

Bytes encode_eval_task(const EvalTask& t) {
  Writer w;
  put_spec(w, t.spec, t.params);
  put_party_data(w, t.data);
  return w.take();
}

Result<EvalTask> decode_eval_task(ByteView b) {
  Reader r(b);
  EvalTask t;
  SN_TRY(get_spec(r, t.spec, t.params));
  SN_ASSIGN(t.data, get_party_data(r, t.spec));
  SN_TRY(r.finish());
  return t;
}

Bytes encode_metrics(const Metrics& m) {
  Writer w;
  put_metrics(w, m);
  return w.take();
}

Result<Metrics> decode_metrics(ByteView b) {
  Reader r(b);
  SN_ASSIGN(Metrics m, get_metrics(r));
  SN_TRY(r.finish());
  return m;
}

Bytes encode_train_result(const TrainResult& res) {
  Writer w;
  put_floats(w, res.params);
  put_metrics(w, res.metrics);
  return w.take();
}

Result<TrainResult> decode_train_result(ByteView b, size_t expected_params) {
  Reader r(b);
  TrainResult res;
  SN_ASSIGN(res.params, get_floats(r));
  if (res.params.size() != expected_params) return make_error("fl.wire", "the update does not fit the model");
  SN_ASSIGN(res.metrics, get_metrics(r));
  SN_TRY(r.finish());
  return res;
}

Result<TrainResult> run_train_task(const TrainTask& t, const Dataset& rows) {
  if (rows.features != t.spec.inputs || rows.rows == 0) {
    return make_error("fl.train", "the data set does not fit the model");
  }
  SN_ASSIGN(Model model, Model::create(t.spec, 0));
  model.params() = t.params;
  TrainOptions o = t.options;
  o.prox_center = o.prox_mu > 0 ? &t.params : nullptr;
  TrainResult res;
  res.metrics = train(model, rows, o);
  if (t.local_clip > 0) {
    std::mt19937_64 rng(t.noise_seed);
    local_dp(model.params(), t.params, t.local_clip, t.local_noise, rng);
  }
  res.params = std::move(model.params());
  return res;
}

Result<Metrics> run_eval_task(const EvalTask& t, const Dataset& test) {
  if (test.features != t.spec.inputs) return make_error("fl.eval", "the data set does not fit the model");
  SN_ASSIGN(Model model, Model::create(t.spec, 0));
  model.params() = t.params;
  return evaluate(model, test);
}

}  // namespace supernet::fl
