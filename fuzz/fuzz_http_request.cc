// The API server's request path (net/http_request: Boost.Beast's parser with the server's
// limits and target decoding) over arbitrary bytes, delivered in pieces as a socket would:
// every request it yields respects the limits, and it always either progresses or asks for
// more bytes (no loop without progress).
#include <cstdlib>

#include "net/http_request.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace supernet::net;
  if (size < 1) return 0;
  size_t piece = 1 + data[0] % 64;  // bytes per read
  std::string all(reinterpret_cast<const char*>(data + 1), size - 1);
  HttpRequestLimits limits{512, 2048};
  std::string pending;
  size_t offset = 0;
  HttpRequestReader reader(limits);
  for (int requests = 0; requests < 64;) {
    std::string_view view(pending);
    size_t before = view.size();
    auto st = reader.feed(view);
    if (view.size() > before) std::abort();
    pending.erase(0, before - view.size());
    if (st == HttpRequestReader::State::kHeaderDone) {
      if (reader.path().empty() || reader.path()[0] != '/') std::abort();
      reader.set_body_limit(reader.path().size() % 2 ? 1024 : 64);
      continue;
    }
    if (st == HttpRequestReader::State::kError) {
      int s = reader.error_status();
      if (s != 400 && s != 413 && s != 431) std::abort();
      return 0;
    }
    if (st == HttpRequestReader::State::kDone) {
      ParsedRequest r = reader.take();
      if (r.body.size() > 1024 || r.path.empty()) std::abort();
      reader = HttpRequestReader(limits);
      requests++;
      continue;
    }
    // Needs more: the server would read; its buffer stays bounded by the header limit plus a read.
    if (pending.size() > limits.header_bytes_max + 64 + piece) std::abort();
    if (offset >= all.size()) return 0;
    size_t n = std::min(piece, all.size() - offset);
    pending.append(all, offset, n);
    offset += n;
  }
  return 0;
}
