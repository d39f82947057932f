// TPM attestation protobuf, TPMT_PUBLIC, TPMS_ATTEST and TPMT_SIGNATURE parsing and checks.
#include "tee/tpm.h"
#include "util/protowire.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace supernet;
  ByteView in(data, size);
  (void)tee::verify_tpm(in, tee::Collateral{}, 1759305600);
  (void)tee::parse_tpms_attest(in);
  protowire::Reader r(in);
  for (int i = 0; i < 256 && !r.done(); i++) {
    if (!r.next().ok()) break;
  }
  return 0;
}
