#include "tee/virtual_platform.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "cbor/cbor.h"
#include "crypto/hash.h"
#include "tee/cose.h"
#include "util/file.h"

namespace supernet::tee {

using cbor::Value;

std::string default_virtual_dir() {
  if (const char* d = std::getenv("SUPERNET_VIRTUAL_DIR"); d && *d) return d;
  if (const char* x = std::getenv("XDG_DATA_HOME"); x && *x) return std::string(x) + "/supernet";
  if (const char* h = std::getenv("HOME"); h && *h) return std::string(h) + "/.local/share/supernet";
  return ".supernet";
}

Result<Bytes> measure_executable(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return make_error("virtual.measure", "cannot open '" + path + "': " + std::strerror(errno));
  crypto::Hasher h(crypto::HashAlg::kSha384);
  uint8_t buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      return make_error("virtual.measure", "cannot read '" + path + "'");
    }
    if (n == 0) break;
    h.update(ByteView(buf, static_cast<size_t>(n)));
  }
  ::close(fd);
  return h.finish();
}

static Status create_key_file(const std::string& path) {
  auto key = crypto::PrivateKey::generate_ec(crypto::Curve::kP384);
  crypto::SecureBytes der = key.to_der();
  Bytes secret = crypto::random_bytes(32);
  Bytes file = cbor::encode(Value::map({{Value::text("version"), Value::uint(1)},
                                        {Value::text("key"), Value::bytes(der.view())},
                                        {Value::text("secret"), Value::bytes(secret)}}));
  crypto::zeroize(secret.data(), secret.size());
  Status s = write_file_atomic(path, file, 0600);
  crypto::zeroize(file.data(), file.size());
  return s;
}

Result<std::unique_ptr<VirtualPlatform>> VirtualPlatform::open(const std::string& dir, bool debug) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return make_error("virtual.dir", "cannot create '" + dir + "': " + ec.message());
  std::string path = dir + "/" + kVirtualKeyFile;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    SN_TRY(create_key_file(path));
    if (::stat(path.c_str(), &st) != 0) return make_error("virtual.key", "cannot stat '" + path + "'");
  }
  if ((st.st_mode & 077) != 0) {
    return make_error("virtual.key_mode", "'" + path + "' is readable by group or others; chmod 600 it");
  }
  SN_ASSIGN(Bytes raw, read_file(path, 16 * 1024));
  auto parsed = cbor::decode(raw);
  crypto::zeroize(raw.data(), raw.size());
  if (!parsed.ok()) return make_error("virtual.key", "'" + path + "' is not a virtual platform key file");
  const Value* k = parsed->find("key");
  const Value* s = parsed->find("secret");
  if (k == nullptr || s == nullptr || k->type() != cbor::Type::kBytes || s->type() != cbor::Type::kBytes ||
      s->as_bytes().size() != 32) {
    return make_error("virtual.key", "'" + path + "' lacks the key or the 32-byte secret");
  }
  auto p = std::make_unique<VirtualPlatform>();
  SN_ASSIGN(p->key_, crypto::PrivateKey::from_der(k->as_bytes()));
  if (p->key_.public_key().describe() != "EC P-384") return make_error("virtual.key", "platform key is not P-384");
  p->public_key_ = p->key_.public_key();
  p->secret_ = crypto::SecureBytes(s->as_bytes());
  p->debug_ = debug;
  // The parsed copy of the secret goes away with `parsed`; wipe it first.
  auto& sb = const_cast<Bytes&>(s->as_bytes());
  crypto::zeroize(sb.data(), sb.size());
  auto& kb = const_cast<Bytes&>(k->as_bytes());
  crypto::zeroize(kb.data(), kb.size());
  return p;
}

std::string VirtualPlatform::platform_key_id() const { return to_hex(crypto::sha256(public_key_.spki_der())); }

Result<Bytes> VirtualPlatform::measurement() {
  if (measurement_.empty()) {
    SN_ASSIGN(measurement_, measure_executable());
  }
  return measurement_;
}

Result<Bytes> VirtualPlatform::evidence(ByteView report_data) {
  SN_TRY(check_report_data(report_data));
  SN_ASSIGN(Bytes m, measurement());
  UnixSeconds now = fixed_time_ != 0 ? fixed_time_ : now_unix();
  Value claims = Value::map({{Value::text("platform"), Value::text("virtual")},
                             {Value::text("version"), Value::uint(1)},
                             {Value::text("measurement"), Value::bytes(m)},
                             {Value::text("report_data"), Value::bytes(report_data)},
                             {Value::text("svn"), Value::uint(kVirtualSvn)},
                             {Value::text("debug"), Value::boolean(debug_)},
                             {Value::text("platform_key"), Value::bytes(public_key_.spki_der())},
                             {Value::text("iat"), Value::uint(static_cast<uint64_t>(now))}});
  Bytes kid = crypto::sha256(public_key_.spki_der());
  return make_cose_sign1(key_, {{Value::uint(4), Value::bytes(kid)}}, cbor::encode(claims));
}

Result<crypto::SecureBytes> VirtualPlatform::sealing_key() {
  SN_ASSIGN(Bytes m, measurement());
  return crypto::hkdf_sha256(secret_.view(), m, as_bytes("supernet-virtual-seal-v1"), 32);
}

Result<Claims> verify_virtual(ByteView evidence) {
  SN_ASSIGN(CoseSign1 msg, parse_cose_sign1(evidence));
  SN_ASSIGN(Value claims, cbor::decode(msg.payload));
  auto bytes_of = [&](const char* k, size_t len) -> Result<Bytes> {
    const Value* v = claims.find(k);
    if (v == nullptr || v->type() != cbor::Type::kBytes || (len && v->as_bytes().size() != len)) {
      return make_error("virtual.claims", std::string("claim '") + k + "' missing or malformed");
    }
    return v->as_bytes();
  };
  const Value* platform = claims.find("platform");
  if (platform == nullptr || platform->type() != cbor::Type::kText || platform->as_text() != "virtual") {
    return make_error("virtual.claims", "not virtual platform evidence");
  }
  SN_ASSIGN(Bytes spki, bytes_of("platform_key", 0));
  SN_ASSIGN(auto key, crypto::PublicKey::from_spki(spki));
  if (key.describe() != "EC P-384" || msg.alg != kCoseAlgEs384) {
    return make_error("virtual.key", "virtual platform evidence must be ES384 under a P-384 key");
  }
  SN_TRY(verify_cose_sign1(msg, key));
  Claims c;
  c.platform = Kind::kVirtual;
  SN_ASSIGN(c.measurement, bytes_of("measurement", 48));
  SN_ASSIGN(c.report_data, bytes_of("report_data", 64));
  c.signer = crypto::sha256(spki);
  const Value* svn = claims.find("svn");
  const Value* debug = claims.find("debug");
  const Value* iat = claims.find("iat");
  if (svn == nullptr || !svn->as_int() || debug == nullptr || debug->type() != cbor::Type::kBool ||
      iat == nullptr || !iat->as_int()) {
    return make_error("virtual.claims", "claims 'svn', 'debug' or 'iat' missing or malformed");
  }
  c.tcb["svn"] = static_cast<uint64_t>(*svn->as_int());
  c.debug = debug->as_bool();
  c.issued_at = *iat->as_int();
  c.tcb_status = "virtual";
  c.attributes["platform_key_id"] = to_hex(c.signer);
  c.notes.push_back("virtual platform: signed by a per-machine key, not a hardware TEE; trusted only if a policy names key " +
                    to_hex(c.signer).substr(0, 16) + "...");
  return c;
}

}  // namespace supernet::tee
