#include "tee/evidence.h"

#include "cbor/cbor.h"
#include "tee/cose.h"
#include "tee/dcap.h"
#include "tee/snp.h"
#include "tee/tpm.h"
#include "tee/virtual_platform.h"

namespace supernet::tee {

Result<Kind> detect_kind(ByteView e) {
  if (e.size() > kEvidenceBytesMax) {
    return make_error("evidence.size", "evidence larger than " + std::to_string(kEvidenceBytesMax) + " bytes");
  }
  if (e.size() == kSnpReportBytes) {
    uint32_t v = load_le32(e.data());
    if (v >= 2 && v <= 5) return Kind::kSevSnp;
  }
  if (e.size() >= kDcapHeaderBytes) {
    uint16_t version = load_le16(e.data());
    uint16_t key_type = load_le16(e.data() + 2);
    uint32_t tee = load_le32(e.data() + 4);
    if (version >= 3 && version <= 5 && key_type == 2) {
      if (version == 5 && e.size() >= kDcapHeaderBytes + 2) {
        uint16_t body = load_le16(e.data() + kDcapHeaderBytes);
        return body == 1 ? Kind::kSgx : Kind::kTdx;
      }
      return tee == kTeeTypeTdx ? Kind::kTdx : Kind::kSgx;
    }
  }
  if (e.size() >= 3 && e[0] == 0xd9 && e[1] == 0x01 && e[2] == 0x8f) return Kind::kCca;
  // A go-tpm-tools Attestation: field 1 (AK TPMT_PUBLIC) comes first.
  if (e.size() >= 4 && e[0] == 0x0a) return Kind::kTpm;
  if (!e.empty() && (e[0] == 0xd2 || e[0] == 0x84)) {
    auto parsed = parse_cose_sign1(e);
    // A first byte that looks like COSE is no promise: what does not parse is not evidence.
    if (!parsed.ok()) return make_error("evidence.format", "unrecognized evidence format (a COSE_Sign1 start that does not parse: " + parsed.error().to_string() + ")");
    CoseSign1 m = std::move(parsed).value();
    auto payload = cbor::decode(m.payload);
    if (payload.ok()) {
      const cbor::Value* p = payload->find("platform");
      if (p != nullptr && p->type() == cbor::Type::kText && p->as_text() == "virtual") return Kind::kVirtual;
    }
    return Kind::kPsa;
  }
  return make_error("evidence.format", "unrecognized evidence format (not an SNP report, DCAP quote, PSA/CCA token, TPM attestation or virtual evidence)");
}

Result<Claims> verify_evidence(ByteView e, const Collateral& col, UnixSeconds at, std::optional<Kind> expected) {
  SN_ASSIGN(Kind kind, detect_kind(e));
  if (expected && *expected != kind) {
    return make_error("evidence.kind", std::string("evidence is ") + kind_name(kind) + ", expected " + kind_name(*expected));
  }
  switch (kind) {
    case Kind::kSevSnp:
      return verify_snp(e, col, at);
    case Kind::kSgx:
    case Kind::kTdx:
      return verify_dcap(e, col, at);
    case Kind::kPsa:
      return verify_psa(e, col);
    case Kind::kCca:
      return verify_cca(e, col);
    case Kind::kVirtual:
      return verify_virtual(e);
    case Kind::kTpm:
      return verify_tpm(e, col, at);
  }
  return make_error("evidence.format", "unreachable");
}

}  // namespace supernet::tee
