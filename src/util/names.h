// Names that appear in paths, URLs, ledgers and files (tables, clients, data sets, jobs): 1 to
// `max` characters of A-Z a-z 0-9 . _ -, not starting with a dot.
#pragma once

#include <string_view>

namespace supernet {

inline bool is_simple_name(std::string_view s, size_t max) {
  return !s.empty() && s.size() <= max && s.front() != '.' &&
         s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == std::string_view::npos;
}

}  // namespace supernet
