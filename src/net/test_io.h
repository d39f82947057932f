// Test helper: runs an io_context in short slices until a condition holds or time runs out.
#pragma once

#include <asio/io_context.hpp>
#include <chrono>
#include <functional>

namespace supernet::net::testing {

inline bool run_until(asio::io_context& io, const std::function<bool()>& done, int ms_max) {
  auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms_max);
  while (std::chrono::steady_clock::now() < end) {
    io.run_for(std::chrono::milliseconds(20));
    io.restart();
    if (done()) return true;
  }
  return false;
}

}  // namespace supernet::net::testing
