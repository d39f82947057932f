// SEV-SNP report parser and verifier front half (no VCEK: stops at the key choice).
#include "tee/snp.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace supernet;
  ByteView in(data, size);
  auto r = tee::parse_snp_report(in);
  if (r.ok()) {
    (void)tee::decode_snp_tcb(r->reported_tcb, r->cpuid_family == 0x1A);
  }
  (void)tee::verify_snp(in, tee::Collateral{}, 1759305600);
  return 0;
}
