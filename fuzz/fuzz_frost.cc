// FROST round messages from other signers (commitments, signature shares) as a coordinator
// receives them: any bytes give a result or an error, never a crash; a share that verifies
// against a made-up public share would be a forgery.
#include <cstdlib>

#include "keys/frost.h"
#include "util/codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace supernet;
  using namespace supernet::keys;
  static const frost::Element group = frost::base_times(frost::identifier_scalar(7)).value();
  static const frost::Element public_share = frost::base_times(frost::identifier_scalar(9)).value();
  Reader r(ByteView(data, size));
  std::vector<frost::Commitment> commitments;
  for (int i = 0; i < 4; i++) {
    auto id = r.u32();
    auto h = id.ok() ? r.fixed(32) : Result<ByteView>(id.error());
    auto b = h.ok() ? r.fixed(32) : Result<ByteView>(h.error());
    if (!b.ok()) break;
    frost::Commitment c;
    c.identifier = static_cast<uint16_t>(*id);
    std::copy(h->begin(), h->end(), c.hiding.begin());
    std::copy(b->begin(), b->end(), c.binding.begin());
    commitments.push_back(c);
  }
  auto share = r.fixed(32);
  (void)frost::parse_scalar(ByteView(data, std::min<size_t>(size, 32)));
  (void)frost::parse_element(ByteView(data, std::min<size_t>(size, 32)));
  (void)frost::binding_factors(group, commitments, ByteView(data, size));
  if (share.ok() && !commitments.empty()) {
    if (frost::verify_share(commitments[0].identifier, public_share, *share, commitments, group, to_bytes("m")).ok()) std::abort();
  }
  return 0;
}
