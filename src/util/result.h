// Result<T>: the value of a fallible call, or an Error saying what failed and why.
// Errors are values at module edges; no exception crosses a public SuperNet API.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace supernet {

struct Error {
  // A short stable machine-readable code ("snp.signature", "io.read", ...).
  std::string code;
  // A sentence for humans naming the failed check and the values involved.
  std::string message;

  std::string to_string() const { return code + ": " + message; }
};

inline Error make_error(std::string code, std::string message) {
  return Error{std::move(code), std::move(message)};
}

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}          // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}      // NOLINT: implicit by design

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  T value_or(T fallback) const& { return ok() ? std::get<0>(v_) : std::move(fallback); }

  const Error& error() const {
    assert(!ok());
    return std::get<1>(v_);
  }

 private:
  std::variant<T, Error> v_;
};

// Status: a Result that carries no value.
struct Ok {};
using Status = Result<Ok>;
inline Status ok_status() { return Ok{}; }

}  // namespace supernet

// Propagates an error from an expression yielding Result/Status.
#define SN_TRY(expr)                              \
  do {                                            \
    auto&& sn_try_r_ = (expr);                    \
    if (!sn_try_r_.ok()) return sn_try_r_.error(); \
  } while (0)

#define SN_CONCAT_INNER(a, b) a##b
#define SN_CONCAT(a, b) SN_CONCAT_INNER(a, b)
// Declares `lhs` from a Result expression or returns its error.
#define SN_ASSIGN(lhs, expr) SN_ASSIGN_IMPL(SN_CONCAT(sn_res_, __LINE__), lhs, expr)
#define SN_ASSIGN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                   \
  if (!tmp.ok()) return tmp.error();   \
  lhs = std::move(tmp).value()
