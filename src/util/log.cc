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
