// Intel DCAP quote parser (SGX v3, TDX v4/v5) and the verifier's signature, PEM and chain steps.
#include "tee/dcap.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace supernet;
  ByteView in(data, size);
  auto q = tee::parse_dcap_quote(in);
  if (q.ok()) {
    if (q->is_tdx()) (void)tee::parse_td_report_body(q->body);
    else (void)tee::parse_sgx_report_body(q->body);
    (void)tee::parse_sgx_report_body(q->qe_report);
  }
  (void)tee::verify_dcap(in, tee::Collateral{}, 1759305600);
  return 0;
}
