// Intel DCAP ECDSA quotes: SGX quote v3, TDX quote v4 and v5 (Intel SGX ECDSA Quote Library
// API, appendix "Quote Format"; Intel TDX DCAP Quoting Library API). Parsing only.
#pragma once

#include <array>

#include "util/bytes.h"
#include "util/result.h"

namespace supernet::tee {

inline constexpr size_t kDcapHeaderBytes = 48;
inline constexpr size_t kSgxReportBytes = 384;
inline constexpr size_t kTdReport10Bytes = 584;
inline constexpr size_t kTdReport15Bytes = 648;
inline constexpr uint32_t kTeeTypeSgx = 0x00;
inline constexpr uint32_t kTeeTypeTdx = 0x81;

struct SgxReportBody {
  ByteView cpu_svn, attributes, mr_enclave, mr_signer, config_id, isv_family_id, isv_ext_prod_id,
      report_data;
  uint32_t miscselect = 0;
  uint16_t isv_prod_id = 0, isv_svn = 0, config_svn = 0;
  bool debug() const { return (attributes[0] & 0x02) != 0; }
};

struct TdReportBody {
  ByteView tee_tcb_svn, mr_seam, mr_signer_seam, seam_attributes, td_attributes, xfam, mr_td,
      mr_config_id, mr_owner, mr_owner_config, report_data, tee_tcb_svn_2, mr_servicetd;
  std::array<ByteView, 4> rtmr;
  bool debug() const { return (td_attributes[0] & 0x01) != 0; }
};

struct DcapQuote {
  uint16_t version = 0, att_key_type = 0, qe_svn = 0, pce_svn = 0;
  uint32_t tee_type = 0;
  ByteView qe_vendor_id, user_data;
  uint16_t body_type = 0;  // 1 SGX, 2 TD 1.0, 3 TD 1.5
  ByteView body;
  ByteView signed_bytes;
  ByteView signature, attestation_key;
  ByteView qe_report, qe_report_signature, qe_auth_data;
  uint16_t cert_type = 0;
  ByteView cert_data;
  size_t trailing_bytes = 0;

  bool is_tdx() const { return body_type == 2 || body_type == 3; }
};

// Parses by the length fields; the result refers into `data`. Trailing bytes after the
// signature data are counted, not rejected (real quotes carry them).
Result<DcapQuote> parse_dcap_quote(ByteView data);
Result<SgxReportBody> parse_sgx_report_body(ByteView body);
Result<TdReportBody> parse_td_report_body(ByteView body);

}  // namespace supernet::tee
