// Invariant checks for the paths where a wrong value becomes a lost record or wrong money:
// sequence numbers (outbox, ingest, acks) and amounts (charges, reports). Policy in
// docs/CODING.md, "Assertions".
//
//   LG_INVARIANT(cond, msg)  checked in EVERY build. On failure: one log line
//                            "<utc> ERROR invariant: file:line: cond: msg" on stderr, then
//                            std::abort() (before anything is committed or acked, so the
//                            records stay with the terminal, which sends them again).
//   LG_ASSERT(cond, msg)     checked when LABGATE_ASSERTS is 1: the default preset (which runs
//                            the tests) and Debug builds; compiled to nothing else (`cond` is
//                            still type-checked but not evaluated, so it must have no effects).
//
// Both cost one predictable branch when the condition holds; `msg` is a string literal (or any
// expression convertible to std::string_view) and is only evaluated on failure.
#pragma once

#include <cstdlib>
#include <string>
#include <string_view>

#include "labgate/common/log.hpp"

#ifndef LABGATE_ASSERTS
#define LABGATE_ASSERTS 0
#endif

namespace lg {

/// True when LG_ASSERT checks its condition in this build (LABGATE_ASSERTS=1).
inline constexpr bool kAssertsOn = LABGATE_ASSERTS != 0;

namespace detail {

/// Logs a failed check on one line and aborts. Not for direct use: LG_ASSERT / LG_INVARIANT.
[[noreturn]] inline void check_failed(const char* kind, const char* file, int line, const char* cond,
                                      std::string_view msg) noexcept {
  std::string text = std::string(file) + ":" + std::to_string(line) + ": " + cond;
  if (!msg.empty()) {
    text += ": ";
    text += msg;
  }
  log::write(log::Level::error, kind, text);
  std::abort();
}

}  // namespace detail
}  // namespace lg

/// Checks an invariant of the seq or money paths in every build; logs and aborts when it fails.
#define LG_INVARIANT(cond, msg)                                                   \
  do {                                                                            \
    if (!(cond)) [[unlikely]]                                                     \
      ::lg::detail::check_failed("invariant", __FILE__, __LINE__, #cond, (msg)); \
  } while (false)

/// Checks a condition when LABGATE_ASSERTS is 1 (tests, Debug); nothing otherwise.
#define LG_ASSERT(cond, msg)                                                   \
  do {                                                                         \
    if constexpr (::lg::kAssertsOn) {                                          \
      if (!(cond)) [[unlikely]]                                                \
        ::lg::detail::check_failed("assert", __FILE__, __LINE__, #cond, (msg)); \
    }                                                                          \
  } while (false)
