#include "util/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>

#include "util/time.h"

namespace supernet {

static std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};

void set_log_level(LogLevel level) { g_level = static_cast<int>(level); }

void log(LogLevel level, std::string_view component, std::string_view message) {
  if (static_cast<int>(level) < g_level) return;
  static const char* kNames[] = {"debug", "info", "warn", "error"};
  static std::mutex mu;
  // UTC to the millisecond (the real clock: operators, and the take-over benchmark, line up
  // nodes' logs).
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  std::string line = format_rfc3339(ms / 1000, static_cast<int>(ms % 1000)) + " " + kNames[static_cast<int>(level)] + " " +
                     std::string(component) + ": " + std::string(message) + "\n";
  std::lock_guard<std::mutex> lock(mu);
  std::fputs(line.c_str(), stderr);
}

}  // namespace supernet

namespace supernet {

bool LogLimiter::allow(std::string_view kind, std::string_view source, int64_t now_ms, uint64_t* suppressed) {
  std::string key = std::string(kind) + "\n" + std::string(source);
  auto it = buckets_.find(key);
  if (it == buckets_.end()) {
    if (buckets_.size() >= keys_max_) {
      // Expire quiet buckets first; if every one is recent, this source shares its kind's bucket.
      for (auto b = buckets_.begin(); b != buckets_.end();) {
        b = now_ms - b->second.last_ms >= window_ms_ && b->second.suppressed == 0 ? buckets_.erase(b) : std::next(b);
      }
      if (buckets_.size() >= keys_max_) key = std::string(kind) + "\n*";
    }
    it = buckets_.find(key);
    if (it == buckets_.end()) {  // kinds are the code's own words: the shared buckets are few
      buckets_.emplace(key, Bucket{now_ms, 0});
      *suppressed = 0;
      return true;
    }
  }
  Bucket& b = it->second;
  if (now_ms - b.last_ms < window_ms_) {
    b.suppressed++;
    return false;
  }
  *suppressed = b.suppressed;
  b.suppressed = 0;
  b.last_ms = now_ms;
  return true;
}

void LogLimiter::log(LogLevel level, std::string_view component, std::string_view kind, std::string_view source,
                     std::string_view message, int64_t now_ms) {
  uint64_t suppressed = 0;
  if (!allow(kind, source, now_ms, &suppressed)) return;
  std::string line(message);
  if (suppressed > 0) line += " (" + std::to_string(suppressed) + " more like it suppressed)";
  supernet::log(level, component, line);
}

int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace supernet
