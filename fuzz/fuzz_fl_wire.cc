// Federated learning messages from peers (SNFL frames) and the job and round transactions on
// the ledger (job, aggregator claim, round record, job failure, data owner's consent, data set record and the owner's statement in it, data policy).
#include <cstdlib>

#include "fl/wire.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace supernet;
  ByteView in(data, size);
  if (auto m = fl::decode_wire(in); m.ok() && fl::encode_wire(*m) != to_bytes(in)) std::abort();
  if (auto j = fl::JobTx::decode(in); j.ok() && j->encode() != to_bytes(in)) std::abort();
  if (auto r = fl::RoundTx::decode(in); r.ok() && r->encode() != to_bytes(in)) std::abort();
  if (auto f = fl::FailTx::decode(in); f.ok() && f->encode() != to_bytes(in)) std::abort();
  if (auto c = fl::ClaimTx::decode(in); c.ok() && c->encode() != to_bytes(in)) std::abort();
  if (auto k = fl::ConsentTx::decode(in); k.ok() && k->encode() != to_bytes(in)) std::abort();
  if (auto d = fl::DataRecordTx::decode(in); d.ok() && d->encode() != to_bytes(in)) std::abort();
  if (auto p = fl::PolicyTx::decode(in); p.ok() && p->encode() != to_bytes(in)) std::abort();
  if (auto o = fl::OwnerStatement::decode(in); o.ok() && o->encode() != to_bytes(in)) std::abort();
  return 0;
}
