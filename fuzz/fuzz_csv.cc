// Data set files parties register (CSV).
#include <cstdlib>

#include "fl/dataset.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace supernet;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto d = fl::parse_csv(text);
  if (d.ok()) {
    if (d->x.size() != d->rows * d->features || d->y.size() != d->rows || d->classes < 2) std::abort();
    for (int32_t label : d->y) {
      if (label < 0 || label >= d->classes) std::abort();
    }
  }
  (void)fl::parse_csv(text, fl::CsvOptions{"0"});
  return 0;
}
