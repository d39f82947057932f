#include "util/time.h"

#include <atomic>

#include <ctime>
#include <cstdio>

namespace supernet {

static bool digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

Result<UnixSeconds> parse_rfc3339(std::string_view s) {
  auto bad = [&]() {
    return make_error("time.format",
                      "'" + std::string(s) + "' is not an RFC 3339 time like 2025-10-01T08:00:00Z");
  };
  int year, mon, day, hour, min, sec;
  if (!digits(s, 0, 4, &year) || s.size() < 19 || s[4] != '-' || !digits(s, 5, 2, &mon) ||
      s[7] != '-' || !digits(s, 8, 2, &day) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      !digits(s, 11, 2, &hour) || s[13] != ':' || !digits(s, 14, 2, &min) || s[16] != ':' ||
      !digits(s, 17, 2, &sec)) {
    return bad();
  }
  if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60) return bad();
  size_t pos = 19;
  if (pos < s.size() && s[pos] == '.') {
    pos++;
    size_t start = pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') pos++;
    if (pos == start) return bad();
  }
  int offset_seconds = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    pos++;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh, om;
    if (!digits(s, pos + 1, 2, &oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !digits(s, pos + 4, 2, &om)) {
      return bad();
    }
    offset_seconds = (oh * 3600 + om * 60) * (s[pos] == '+' ? 1 : -1);
    pos += 6;
  } else {
    return bad();
  }
  if (pos != s.size()) return bad();
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = mon - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = min;
  tm.tm_sec = sec;
  return static_cast<UnixSeconds>(timegm(&tm)) - offset_seconds;
}

std::string format_rfc3339(UnixSeconds t, int millis) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  std::string out = buf;
  if (millis >= 0 && millis < 1000) {
    std::snprintf(buf, sizeof buf, ".%03d", millis);
    out += buf;
  }
  return out + "Z";
}

namespace {
std::atomic<int64_t> clock_offset_s{0};
}

UnixSeconds now_unix() { return static_cast<UnixSeconds>(std::time(nullptr)) + clock_offset_s.load(std::memory_order_relaxed); }

void set_clock_offset_for_testing(int64_t seconds) { clock_offset_s.store(seconds, std::memory_order_relaxed); }

}  // namespace supernet
