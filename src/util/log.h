// Minimal structured logging to stderr: "2026-11-24T10:00:00Z level component: message".
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace supernet {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

void set_log_level(LogLevel level);
void log(LogLevel level, std::string_view component, std::string_view message);

// Warnings that someone outside can repeat at will (refused connections, bad frames, timed-out
// handshakes) go through a limiter, so that a flood cannot grow the log without bound: at most
// one line per (kind, source) every window; the next line that passes says how many were
// suppressed. At most keys_max pairs are tracked: past that, new sources share one bucket per
// kind ("*"), so the limiter's own memory is bounded too. Not thread-safe (one per io thread).
inline constexpr int64_t kLogLimitWindowMs = 10000;
inline constexpr size_t kLogLimitKeysMax = 1024;

class LogLimiter {
 public:
  explicit LogLimiter(int64_t window_ms = kLogLimitWindowMs, size_t keys_max = kLogLimitKeysMax)
      : window_ms_(window_ms), keys_max_(keys_max) {}
  // Whether a line of this kind from this source may be written at now_ms; when it may,
  // *suppressed is how many were held back since the last one written.
  bool allow(std::string_view kind, std::string_view source, int64_t now_ms, uint64_t* suppressed);
  // Logs `message` (with the suppressed count appended) if allow() says so.
  void log(LogLevel level, std::string_view component, std::string_view kind, std::string_view source, std::string_view message,
           int64_t now_ms);
  size_t tracked() const { return buckets_.size(); }

 private:
  struct Bucket {
    int64_t last_ms = 0;
    uint64_t suppressed = 0;
  };
  int64_t window_ms_;
  size_t keys_max_;
  std::map<std::string, Bucket, std::less<>> buckets_;
};

// Milliseconds on a steady clock (for LogLimiter's callers without a clock of their own).
int64_t steady_ms();

}  // namespace supernet
