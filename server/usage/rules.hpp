// The usage rules: what the server does with each record a terminal sends. Pure functions of
// plain values; usage::Service loads the facts and applies the effects in one unit of work.
//  - dedupe: a record is keyed by (terminal, seq); the same record again is a duplicate, another
//    record at a stored seq or a reused record id is rejected.
//  - refusal: a buggy or compromised terminal holds a valid key, so a good signature is not
//    enough to bill: a record naming another resource, or a session end with an impossible
//    duration, is kept as evidence without effects.
//  - attribution: who a record is charged to.
//  - close once: a session is closed (and charged) by exactly one end record.
//  - the contiguous ack: the highest seq below which everything is stored.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "labgate/common/protocol.hpp"

namespace lg::server::usage {

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
  /// Both ends' wall clocks were NTP-synced (see wall_clock_trusted).
  bool wall_clock_trusted = false;
};

/// Whether a session's wall-clock span (end - start) can be compared with its monotonic
/// duration: only when both ends are known to have been taken with an NTP-synced clock. The end
/// record says so for the end (its clock_synced, no "clock_unsynced" flag); the start is known
/// synced only from the stored start record (start_synced) or when the end record says the start
/// was synced too (no "start_clock_unsynced" flag and start_synced unknown is NOT enough: a
/// start that has not arrived yet may have been unsynced). The verdict therefore never depends on
/// whether the start record arrived first in a way that refuses a legitimate session.
bool wall_clock_trusted(bool end_synced, const std::vector<std::string>& end_flags, std::optional<bool> start_synced);

/// What the store holds at a record's keys, loaded before dedupe decides.
struct StoredKeys {
  std::optional<std::string> id_at_seq;  ///< record id stored at (terminal, seq), if any
  std::optional<std::string> terminal_of_id;  ///< terminal of a stored record with this id, if any
  uint64_t seq_of_id = 0;                     ///< its seq
};

enum class Dedupe {
  fresh,               ///< store it and derive its effects
  duplicate,           ///< the same record again: count, no effect
  seq_conflict,        ///< another record holds this (terminal, seq): reject
  record_id_conflict,  ///< this record id is stored under another key: reject
};

/// The dedupe verdict and, for a conflict, the alarm text.
struct DedupeVerdict {
  Dedupe kind = Dedupe::fresh;
  std::string detail;
};

/// Dedupe by (terminal, seq), then by record id.
DedupeVerdict dedupe(const proto::Record& r, const StoredKeys& stored);

/// Whom a record is attributed to: the user the terminal reported; else (for a session end)
/// the user its stored start named; else the active owner of the card; "" when none.
struct Attribution {
  std::string user;
  bool from_card = false;  ///< the server filled it in from the card
};
Attribution attribute(std::string_view reported, std::string_view session_user, std::string_view card_owner);

/// The reason an access event is stored and shown with: the terminal's, except that a card the
/// terminal did not know (unknown_card) whose holder the server knows is a refusal of a known
/// user who is not qualified there (not_qualified). The terminal's bundle carries only the cards
/// it may open (and the revoked ones), so it cannot tell the two apart itself.
proto::Reason access_reason(proto::Reason terminal_reason, const Attribution& who);

/// The stored state of a session an end record closes.
struct SessionFacts {
  bool exists = false;
  bool closed = false;
  std::string user;        ///< as stored with its start
  std::string end_record;  ///< the record that closed it, when closed
};

enum class Close {
  close_open,      ///< update the open session to closed, then charge
  insert_closed,   ///< the start never arrived: insert it closed, then charge
  already_closed,  ///< another end closed (and charged) it: reject, never charge twice
};

/// Charge-once: a session is closed and charged by exactly one end record.
Close close_session(const SessionFacts& s);

/// The contiguous ack: from `acked`, walks the stored seqs above it (ascending) while they follow
/// without a gap, and returns the last one reached.
uint64_t contiguous_ack(uint64_t acked, const std::vector<uint64_t>& stored_above);

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

}  // namespace lg::server::usage
