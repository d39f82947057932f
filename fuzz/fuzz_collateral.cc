// Collateral files: PCS JSON, dcap-qvl JSON bundles, PEM, DER certificates, CRLs and keys.
#include "tee/collateral.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace supernet;
  tee::Collateral c;
  (void)c.add_bytes(ByteView(data, size), "fuzz");
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)tee::raw_json_member(text, "tcbInfo");
  return 0;
}
