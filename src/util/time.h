// Wall-clock time as whole seconds since the Unix epoch (UTC), and RFC 3339 text.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "util/result.h"

namespace supernet {

using UnixSeconds = int64_t;

// Parses "2025-10-01T08:00:00Z", with optional fractional seconds and a numeric offset.
Result<UnixSeconds> parse_rfc3339(std::string_view text);
// With `millis` (0..999): "...T12:34:56.789Z".
std::string format_rfc3339(UnixSeconds t, int millis = -1);
// The wall clock. A test may move it (set_clock_offset_for_testing) to drive certificate
// expiry and renewal over simulated days; the product never calls that.
UnixSeconds now_unix();
void set_clock_offset_for_testing(int64_t seconds);

}  // namespace supernet
