// Minimal structured logging to stderr: "2026-11-24T10:00:00Z level component: message".
#pragma once

#include <string_view>

namespace supernet {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

void set_log_level(LogLevel level);
void log(LogLevel level, std::string_view component, std::string_view message);

}  // namespace supernet
