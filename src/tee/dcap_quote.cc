#include "tee/dcap_quote.h"

#include <cassert>

namespace supernet::tee {

static constexpr size_t kQuoteBytesMax = 64 * 1024;

Result<SgxReportBody> parse_sgx_report_body(ByteView b) {
  if (b.size() != kSgxReportBytes) return make_error("dcap.body", "SGX report body must be 384 bytes");
  SgxReportBody r;
  r.cpu_svn = b.subspan(0, 16);
  r.miscselect = load_le32(b.data() + 16);
  r.isv_ext_prod_id = b.subspan(32, 16);
  r.attributes = b.subspan(48, 16);
  r.mr_enclave = b.subspan(64, 32);
  r.mr_signer = b.subspan(128, 32);
  r.config_id = b.subspan(192, 64);
  r.isv_prod_id = load_le16(b.data() + 256);
  r.isv_svn = load_le16(b.data() + 258);
  r.config_svn = load_le16(b.data() + 260);
  r.isv_family_id = b.subspan(304, 16);
  r.report_data = b.subspan(320, 64);
  return r;
}

Result<TdReportBody> parse_td_report_body(ByteView b) {
  if (b.size() != kTdReport10Bytes && b.size() != kTdReport15Bytes) {
    return make_error("dcap.body", "TD report body must be 584 or 648 bytes");
  }
  TdReportBody r;
  size_t o = 0;
  auto take = [&](size_t n) {
    ByteView v = b.subspan(o, n);
    o += n;
    return v;
  };
  r.tee_tcb_svn = take(16);
  r.mr_seam = take(48);
  r.mr_signer_seam = take(48);
  r.seam_attributes = take(8);
  r.td_attributes = take(8);
  r.xfam = take(8);
  r.mr_td = take(48);
  r.mr_config_id = take(48);
  r.mr_owner = take(48);
  r.mr_owner_config = take(48);
  for (auto& rt : r.rtmr) rt = take(48);
  r.report_data = take(64);
  assert(o == kTdReport10Bytes);
  if (b.size() == kTdReport15Bytes) {
    r.tee_tcb_svn_2 = take(16);
    r.mr_servicetd = take(48);
  }
  return r;
}

Result<DcapQuote> parse_dcap_quote(ByteView data) {
  if (data.size() > kQuoteBytesMax) {
    return make_error("dcap.size", "quote larger than " + std::to_string(kQuoteBytesMax) + " bytes");
  }
  ByteReader rd(data);
  DcapQuote q;
  SN_ASSIGN(q.version, rd.le16("version"));
  SN_ASSIGN(q.att_key_type, rd.le16("att_key_type"));
  SN_ASSIGN(q.tee_type, rd.le32("tee_type"));
  SN_ASSIGN(q.qe_svn, rd.le16("qe_svn"));
  SN_ASSIGN(q.pce_svn, rd.le16("pce_svn"));
  SN_ASSIGN(q.qe_vendor_id, rd.take(16, "qe_vendor_id"));
  SN_ASSIGN(q.user_data, rd.take(20, "user_data"));
  if (q.version != 3 && q.version != 4 && q.version != 5) {
    return make_error("dcap.version", "unsupported quote version " + std::to_string(q.version));
  }
  if (q.att_key_type != 2) {
    return make_error("dcap.key_type", "attestation key type " + std::to_string(q.att_key_type) +
                                           " is not ECDSA-256-with-P-256 (2)");
  }
  size_t body_size = 0;
  if (q.version == 3) {
    q.body_type = 1;
    body_size = kSgxReportBytes;
  } else if (q.version == 4) {
    if (q.tee_type == kTeeTypeTdx) {
      q.body_type = 2;
      body_size = kTdReport10Bytes;
    } else if (q.tee_type == kTeeTypeSgx) {
      q.body_type = 1;
      body_size = kSgxReportBytes;
    } else {
      return make_error("dcap.tee_type", "unknown TEE type " + std::to_string(q.tee_type));
    }
  } else {
    SN_ASSIGN(q.body_type, rd.le16("body descriptor type"));
    SN_ASSIGN(uint32_t size, rd.le32("body descriptor size"));
    size_t expect = q.body_type == 1 ? kSgxReportBytes : q.body_type == 2 ? kTdReport10Bytes
                                   : q.body_type == 3 ? kTdReport15Bytes : 0;
    if (expect == 0 || size != expect) {
      return make_error("dcap.body", "body descriptor type " + std::to_string(q.body_type) + " with size " +
                                         std::to_string(size) + " is not a known report body");
    }
    body_size = size;
  }
  SN_ASSIGN(q.body, rd.take(body_size, "report body"));
  q.signed_bytes = data.subspan(0, rd.offset());
  SN_ASSIGN(uint32_t sig_len, rd.le32("signature data length"));
  if (sig_len > rd.remaining()) {
    return make_error("dcap.truncated", "signature data length " + std::to_string(sig_len) +
                                            " exceeds the remaining " + std::to_string(rd.remaining()) + " bytes");
  }
  SN_ASSIGN(ByteView sig_data, rd.take(sig_len, "signature data"));
  q.trailing_bytes = rd.remaining();

  ByteReader s(sig_data);
  SN_ASSIGN(q.signature, s.take(64, "quote signature"));
  SN_ASSIGN(q.attestation_key, s.take(64, "attestation key"));
  ByteReader* cert_reader = &s;
  ByteReader inner(ByteView{});
  if (q.version >= 4) {
    SN_ASSIGN(uint16_t outer_type, s.le16("certification data type"));
    SN_ASSIGN(uint32_t outer_size, s.le32("certification data size"));
    if (outer_type != 6) {
      return make_error("dcap.cert_type", "v4/v5 certification data type " + std::to_string(outer_type) +
                                              " is not QE report certification data (6)");
    }
    SN_ASSIGN(ByteView outer, s.take(outer_size, "QE report certification data"));
    inner = ByteReader(outer);
    cert_reader = &inner;
  }
  SN_ASSIGN(q.qe_report, cert_reader->take(kSgxReportBytes, "QE report"));
  SN_ASSIGN(q.qe_report_signature, cert_reader->take(64, "QE report signature"));
  SN_ASSIGN(uint16_t auth_len, cert_reader->le16("QE auth data size"));
  SN_ASSIGN(q.qe_auth_data, cert_reader->take(auth_len, "QE auth data"));
  SN_ASSIGN(q.cert_type, cert_reader->le16("PCK certification data type"));
  SN_ASSIGN(uint32_t cert_size, cert_reader->le32("PCK certification data size"));
  SN_ASSIGN(q.cert_data, cert_reader->take(cert_size, "PCK certification data"));
  return q;
}

}  // namespace supernet::tee
