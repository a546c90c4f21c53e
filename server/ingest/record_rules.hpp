// What the server refuses in a record that arrived signed by its terminal: a buggy or
// compromised terminal holds a valid key, so a good signature is not enough to bill. Pure
// rules over plain values; the store applies the verdict (record kept as evidence, no effect,
// an alarm, a counted reason) in the ingest transaction.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "labgate/common/protocol.hpp"

namespace lg::server::ingest {

/// Longest session the server bills without a person looking at it: 31 days.
inline constexpr int64_t kMaxSessionMs = 31LL * 24 * 3600 * 1000;
/// How far a session's monotonic duration may differ from its wall-clock span (end - start)
/// when both ends were NTP-synced: a fixed allowance for one clock step plus 1% of the span
/// (NTP slews at most 0.05%; the rest covers a restart's checkpoint rounding).
inline constexpr int64_t kClockStepToleranceMs = 120'000;
inline constexpr int64_t kClockDriftPerMille = 10;

/// Why a record is refused; the reason is also the rejection counter's key.
struct Refusal {
  std::string reason;  ///< "resource_mismatch" | "bad_duration"
  std::string detail;  ///< for the alarm and the log
};

/// The facts about a session end that the duration rule needs.
struct DurationFacts {
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  int64_t duration_ms = 0;
  /// Both ends' wall clocks were NTP-synced (end record synced, no "clock_unsynced" flag, and
  /// the session's start record, when the server has it, synced too).
  bool wall_clock_trusted = false;
};

/// The instrument or door a record names, "" for kinds that name none (alarm, video).
std::string_view record_resource(const proto::Record& r);

/// A record naming another resource than the one its terminal is enrolled for is refused.
std::optional<Refusal> check_resource(const proto::Record& r, std::string_view terminal_resource);

/// A session end is refused when its duration is negative or above kMaxSessionMs, or, with
/// trusted wall clocks, when end is before start or the duration differs from end - start by
/// more than kClockStepToleranceMs + kClockDriftPerMille per mille of the span.
std::optional<Refusal> check_duration(const DurationFacts& f);

/// The tolerance check_duration allows for a wall-clock span.
int64_t duration_tolerance_ms(int64_t span_ms);

}  // namespace lg::server::ingest
