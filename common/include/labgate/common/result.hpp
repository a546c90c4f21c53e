// Result<T>: a value or an error with a human-readable reason, used at every I/O edge.
#pragma once

#include <string>
#include <system_error>
#include <utility>
#include <variant>

namespace lg {

/// An error: a machine-checkable code plus a reason a person can act on
/// (for config errors the reason names the offending key).
struct Error {
  std::error_code code;
  std::string reason;

  /// Builds an error from a reason alone (code = std::errc::invalid_argument).
  static Error invalid(std::string why) {
    return Error{std::make_error_code(std::errc::invalid_argument), std::move(why)};
  }
  /// Builds an error from a code and a reason.
  static Error from(std::error_code ec, std::string why) { return Error{ec, std::move(why)}; }
  /// "reason (code message)" for logs.
  std::string message() const {
    if (!code) return reason;
    return reason.empty() ? code.message() : reason + " (" + code.message() + ")";
  }
};

/// Either a T or an Error. Intentionally small: has_value/value/error, like std::expected.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T v) : v_(std::move(v)) {}                       // NOLINT(google-explicit-constructor)
  Result(Error e) : v_(std::move(e)) {}                   // NOLINT(google-explicit-constructor)
  bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

/// Result of an operation that yields nothing but may fail.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error e) : err_(std::move(e)), failed_(true) {}  // NOLINT(google-explicit-constructor)
  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return err_; }

 private:
  Error err_{};
  bool failed_ = false;
};

}  // namespace lg

/// Returns the error of a Status or Result expression from the enclosing function.
#define LG_TRY(expr)                   \
  do {                                 \
    if (auto lg_try_ = (expr); !lg_try_) \
      return lg_try_.error();          \
  } while (0)

/// Assigns the value of a Result expression to var, or returns its error.
#define LG_TRY_ASSIGN(var, expr)        \
  do {                                  \
    auto lg_try_ = (expr);              \
    if (!lg_try_) return lg_try_.error(); \
    var = std::move(lg_try_).value();   \
  } while (0)
