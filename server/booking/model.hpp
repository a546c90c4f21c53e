// Bookings of instrument time. Plain data.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lg::server {

/// A booking's life. One that needs approval (BookingPolicy::approval) starts pending: it holds
/// its slot but opens nothing until approved (active), refused, or its hold runs out (expired).
/// An active or pending booking may be cancelled (DELETE /api/bookings/{id}). Cancelled, refused
/// and expired ones are kept, overlap nothing and open nothing.
enum class BookingStatus { active, cancelled, pending, refused, expired };

/// "active" | "cancelled" | "pending" | "refused" | "expired" (defined in rules.cpp, next to the
/// rules that change it).
const char* to_string(BookingStatus s);
/// Parses a status name; nullopt for anything else.
std::optional<BookingStatus> booking_status_from(std::string_view s);

/// True for the statuses that hold a slot (active, pending): only they overlap.
bool holds_slot(BookingStatus s);

struct Booking {
  std::string id;
  std::string instrument;
  std::string user;
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  BookingStatus status = BookingStatus::active;
  std::optional<int64_t> cancelled_ms{};  ///< set when cancelled, refused or expired
  std::string cancel_reason{};            ///< why, as the canceller or approver said ("" if they did not)
  std::string account{};                  ///< the account it will be charged to ("" = the user's default)
  std::string booked_by{};                ///< who made it ("" = the user, or not known: made before this was kept)
  std::optional<int64_t> hold_until_ms{};  ///< pending only: it expires unless decided by then
  bool late_cancel = false;               ///< cancelled after the policy's free-cancellation deadline
  bool staffed = false;                   ///< an instrument admin marked that staff will be present (supervised use)
};

/// [from_min, to_min) minutes of one local day (0 <= from < to <= 1440).
struct DaySpan {
  int32_t from_min = 0;
  int32_t to_min = 1440;
  bool operator==(const DaySpan&) const = default;
};

/// Spans per ISO weekday (index 0 = Monday .. 6 = Sunday) in the site time zone.
struct WeekHours {
  std::vector<DaySpan> days[7];
  bool operator==(const WeekHours&) const = default;
};

/// Which bookings wait for an instrument admin's approval.
enum class Approval { none, all, external };
/// "none" | "all" | "external".
const char* to_string(Approval a);
std::optional<Approval> approval_from(std::string_view s);

/// An instrument's booking rules (PUT /api/instruments/{id}/booking-policy); an instrument without
/// one books under the defaults below. Durations in seconds; weeks are ISO weeks (Monday 00:00)
/// in the site time zone; 0 for a quota means no limit.
struct BookingPolicy {
  std::string instrument;
  std::optional<WeekHours> opening{};  ///< bookable hours; nullopt = at any hour
  int64_t lead_min_s = 0;              ///< a booking starts at least this long after it is made
  int64_t lead_max_s = 180LL * 86400;  ///< ... and at most this long after
  int64_t min_length_s = 15 * 60;
  int64_t max_length_s = 31LL * 86400;
  int64_t slot_s = 0;                  ///< start and end on this grid from local midnight; 0 = none
  int32_t user_week_bookings = 0;      ///< bookings one user may hold on the instrument per week
  int64_t user_week_s = 0;             ///< hours (in seconds) one user may hold per week
  int32_t group_week_bookings = 0;     ///< the same for all members of any one of the user's groups
  int64_t group_week_s = 0;
  int32_t external_share_pct = 0;      ///< share of the week's bookable time only external users may book
  WeekHours internal_priority{};       ///< spans only internal users may book
  Approval approval = Approval::none;
  int64_t approval_hold_s = 48LL * 3600;  ///< a pending booking expires this long after it is made (or at its start)
  int64_t cancel_free_s = 0;           ///< free cancellation until this long before the start; later ones count as late
  /// When staff are on duty: users qualified below after_hours book and use the instrument only
  /// then. nullopt = the site's default (default_staffed_hours(): Monday to Friday 08:00-18:00).
  std::optional<WeekHours> staffed{};
  /// A qualification on the instrument lapses after this many months without use; 0 = never.
  int32_t lapse_months = 0;
  bool operator==(const BookingPolicy&) const = default;
};

/// Why nobody may book a span: a site holiday, an instrument's blackout, or maintenance (which
/// cancels the bookings it covers when it is set).
enum class ClosureKind { holiday, blackout, maintenance };
/// "holiday" | "blackout" | "maintenance".
const char* to_string(ClosureKind k);
std::optional<ClosureKind> closure_kind_from(std::string_view s);

struct Closure {
  std::string id;
  std::string instrument;  ///< "" = every instrument (a site holiday)
  ClosureKind kind = ClosureKind::blackout;
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  std::string reason;
  bool operator==(const Closure&) const = default;
};

/// A calendar feed's secret: whose bookings (a user's, or an instrument's) the URL holding the
/// token shows. Only the token's SHA-256 is stored.
struct FeedToken {
  std::string hash;     ///< hex SHA-256 of the token
  std::string kind;     ///< "user" | "instrument"
  std::string subject;  ///< the user's or the instrument's id
  int64_t created_ms = 0;
};

/// Result of a booking attempt: a new id, the id of the booking it overlaps, or the booking rule
/// that refuses it (rule names the rule, reason explains it to a person).
struct BookingOutcome {
  std::string id;        ///< set on success
  std::string conflict;  ///< set when the request overlaps an existing booking
  std::string rule{};    ///< set when a booking rule refuses it ("lead_time", "opening_hours", ...)
  std::string reason{};  ///< with rule: why, with the numbers
  BookingStatus status = BookingStatus::active;  ///< with id: active, or pending approval
};

/// A place on the waiting list of a taken interval: when a booking over it frees its slot
/// (cancelled, refused, expired, moved away), the first waiting entry that is then admitted is
/// booked for its user (promoted).
enum class WaitStatus { waiting, promoted, withdrawn, expired };
struct WaitEntry {
  std::string id;
  std::string instrument;
  std::string user;
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  std::string account{};
  std::string booked_by{};
  int64_t created_ms = 0;
  WaitStatus status = WaitStatus::waiting;
  std::string booking{};  ///< the booking it became (promoted)
  std::optional<int64_t> decided_ms{};
};

/// One occurrence of a series that was not booked, and why: the booking it overlaps or the rule.
struct SeriesRefusal {
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  std::string conflict{};  ///< the overlapped booking's id
  std::string rule{};      ///< the booking rule's name ("not_qualified" when the qualification does not cover it)
  std::string reason{};
};

/// Result of a recurring booking: what was booked and what was not.
struct SeriesOutcome {
  std::vector<BookingOutcome> created;  ///< with their ids and statuses, in order
  std::vector<std::pair<int64_t, int64_t>> created_at;  ///< their intervals
  std::vector<SeriesRefusal> refused;   ///< skipped (skip_conflicts) or, when nothing was booked, every refusal
};

/// Result of cancelling or moving a booking: the booking before and after, or (a move only) the
/// id of the active booking the new interval overlaps, in which case nothing changed.
struct BookingChange {
  Booking before;
  Booking after;
  std::string conflict;
  std::string rule{};    ///< a move refused by a booking rule: its name (nothing changed)
  std::string reason{};
  std::vector<WaitEntry> promoted{};  ///< waiting-list entries booked in the slot this change freed
};

/// A waiting-list entry made, or why not.
struct WaitOutcome {
  std::optional<WaitEntry> entry;
  int32_t position = 0;  ///< 1 = first in line for an overlapping interval
  std::string refusal{};
};

}  // namespace lg::server
