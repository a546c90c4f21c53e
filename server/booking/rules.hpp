// The booking rules as functions of data: interval validation, overlap, and admission (who
// may book). booking::Service loads the facts and inserts the booking in one unit of work, so
// two concurrent requests cannot both pass the overlap check.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "labgate/common/ical.hpp"
#include "server/booking/model.hpp"
#include "server/qualification/model.hpp"

namespace lg::server::booking {

/// Longest booking accepted (31 days).
inline constexpr int64_t kMaxBookingMs = 31LL * 24 * 3600 * 1000;

/// True when the half-open intervals [a_start, a_end) and [b_start, b_end) share an instant.
/// Back-to-back bookings (a_end == b_start) do not overlap.
bool overlaps(int64_t a_start, int64_t a_end, int64_t b_start, int64_t b_end);

/// Checks a requested interval; returns the reason naming the field, or nullopt if valid.
std::optional<std::string> validate(int64_t start_ms, int64_t end_ms);

/// The first other active booking on the same instrument that overlaps the candidate, or nullptr
/// (cancelled bookings and the candidate itself, by id, are skipped).
const Booking* find_conflict(const std::vector<Booking>& existing, const Booking& candidate);

/// What admission looks at, loaded in the booking's unit of work.
struct AdmissionFacts {
  bool instrument_known = false;
  bool user_known = false;
  bool user_admin = false;
  std::optional<Qualification> qualification;  ///< the user's on the instrument, if any
  std::vector<Booking> overlapping;            ///< bookings on the instrument overlapping the candidate
};

enum class Admit { ok, unknown_instrument, unknown_user, not_qualified, overlaps };

/// The verdict with the reason (for people) and, for an overlap, the booking it overlaps.
struct Admission {
  Admit verdict = Admit::ok;
  std::string reason;
  std::string conflict;
};

/// A booking is admitted when instrument and user exist, the user is an admin or holds a
/// qualification on the instrument valid for the whole booking, and it overlaps no other
/// booking on the instrument. The interval must already be validated.
Admission admit(const Booking& candidate, const AdmissionFacts& f);

/// Why b may not be cancelled ("booking: ... is cancelled already"), or nullopt.
std::optional<std::string> can_cancel(const Booking& b);

/// b cancelled at now_ms, for reason (may be ""). Call after can_cancel.
Booking cancelled(const Booking& b, int64_t now_ms, std::string reason);

/// Why b may not be moved to [start_ms, end_ms): it is cancelled, or the interval is invalid
/// (validate()); nullopt if it may. The move is then admitted like a new booking (admit()).
std::optional<std::string> can_move(const Booking& b, int64_t start_ms, int64_t end_ms);

/// b with its interval changed to [start_ms, end_ms).
Booking moved(const Booking& b, int64_t start_ms, int64_t end_ms);

// ---- the bookings feed (GET /api/bookings.ics): bookings as calendar events

/// Where a booking is, as people name it: its instrument's name and its lab's (Service::place
/// loads them; the instrument's id and "" when the directory no longer knows them).
struct EventPlace {
  std::string instrument;
  std::string lab;
};

/// The first start a feed read at now_ms holds: kMaxBookingMs back, so every booking still
/// running is in it, and about a month of the past.
int64_t feed_from(int64_t now_ms);

/// Booking b as a calendar event: UID "<id>@<site>" (stable, so an app updates the event when the
/// booking moves or is cancelled), SUMMARY the instrument's name, LOCATION the lab's, DESCRIPTION
/// the instrument's and the user's ids (and the cancel reason), STATUS CONFIRMED while active and
/// CANCELLED once cancelled, DTSTAMP stamp_ms (when the feed is written: it is METHOD:PUBLISH).
ical::Event calendar_event(const Booking& b, const EventPlace& where, std::string_view site, int64_t stamp_ms);

}  // namespace lg::server::booking
