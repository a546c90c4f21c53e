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
#include "labgate/common/result.hpp"
#include "server/booking/model.hpp"
#include "server/directory/model.hpp"
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

// ---- an instrument's booking policy (model.hpp BookingPolicy), in the site time zone

/// The walk-up allowance: with no lead time set, a booking may start this long before it is made
/// (booking the slot one is standing at), never earlier.
inline constexpr int64_t kWalkUpMs = 15LL * 60 * 1000;

/// "mon" .. "sun": the weekday names of the policy's JSON (index 0 = Monday).
inline constexpr const char* kDayNames[7] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

/// "08:00-18:00" (an end of 1440 minutes is "24:00").
std::string span_text(const DaySpan& s);
/// Parses "HH:MM-HH:MM" (end after start; "24:00" allowed as the end); nullopt if malformed.
std::optional<DaySpan> parse_span(std::string_view text);
/// The week as one line, days with spans only: "mon 08:00-12:00 13:00-18:00; tue 08:00-18:00"
/// ("" for no spans). How a store keeps it; parse_week_hours reads it back.
std::string week_hours_text(const WeekHours& w);
/// Parses week_hours_text's form; the reason names the bad part, or nullopt on success.
std::optional<std::string> parse_week_hours(std::string_view text, WeekHours& out);
/// Why the spans of one day are not valid (not ascending, overlapping, out of the day), or nullopt.
std::optional<std::string> validate_day(const std::vector<DaySpan>& spans);

/// Why a policy may not be stored, naming the field ("slot_s: ..."), or nullopt.
std::optional<std::string> validate_policy(const BookingPolicy& p);

/// The defaults an instrument without a policy books under.
BookingPolicy default_policy(const std::string& instrument);

/// The site's staffed hours where an instrument sets none: Monday to Friday, 08:00 to 18:00.
WeekHours default_staffed_hours();
/// p's staffed hours: its own, or default_staffed_hours().
WeekHours staffed_hours(const BookingPolicy& p);
/// True when [from_ms, to_ms) lies within the staffed hours w in tz and in no holiday or
/// blackout of `closures` (a site holiday is not staffed). The zone failing counts as not.
bool within_staffed(const WeekHours& w, const std::vector<Closure>& closures, int64_t from_ms, int64_t to_ms,
                    const std::string& tz);

/// The ISO week (local Monday 00:00 to the next) holding at_ms in tz: the quotas' window.
struct Window {
  int64_t from_ms = 0;
  int64_t to_ms = 0;
};
Result<Window> week_of(int64_t at_ms, const std::string& tz);

/// A booking in the candidate's week with what the quota and sharing rules need of its user.
struct WeekBooking {
  Booking booking;
  UserCategory category = UserCategory::internal_staff;  ///< its user's (external: not directory::is_internal)
  bool shares_group = false;  ///< its user shares a research group with the candidate's user
};

/// A refusal by a booking rule: rule is the rule's name ("lead_time", "length", "slot_grid",
/// "closed", "opening_hours", "priority_window", "user_quota", "group_quota", "external_share"),
/// reason says why with the numbers and times in the site zone.
struct Refusal {
  std::string rule;
  std::string reason;
};

/// What the policy rules look at, loaded in the booking's unit of work.
struct PolicyFacts {
  BookingPolicy policy;
  std::string tz;                 ///< the site time zone
  int64_t now_ms = 0;
  bool external = false;          ///< the candidate's user
  std::vector<Closure> closures;  ///< closures overlapping the candidate (site-wide and the instrument's)
  std::vector<WeekBooking> week;  ///< slot-holding bookings on the instrument starting in the candidate's week
};

/// The first booking rule the candidate breaks, or nullopt: lead time, length, slot grid,
/// closures, opening hours, internal priority windows (external users), the user's and the
/// groups' weekly quotas, and the share of the week kept for external users (internal users).
std::optional<Refusal> check_policy(const Booking& candidate, const PolicyFacts& f);

/// True when a booking by a user of this kind waits for approval under p.
bool needs_approval(const BookingPolicy& p, bool external);

/// When a pending booking made at now_ms stops holding its slot: now + approval_hold_s, but not
/// after the booking's start.
int64_t hold_until(const BookingPolicy& p, const Booking& b, int64_t now_ms);

/// True when cancelling b at now_ms is late: after start - cancel_free_s. Pending bookings are
/// never late (they were not granted).
bool late_cancel(const BookingPolicy& p, const Booking& b, int64_t now_ms);

/// Why b may not be approved or refused (it is not pending), or nullopt.
std::optional<std::string> can_decide(const Booking& b);
/// b approved: active, its hold cleared.
Booking approved(const Booking& b);
/// b refused at now_ms with a reason: kept, it holds nothing.
Booking refused(const Booking& b, int64_t now_ms, std::string reason);
/// b expired at now_ms: its hold ran out before anyone decided.
Booking expired(const Booking& b, int64_t now_ms);

/// Why the closure may not be stored (interval, reason), or nullopt.
std::optional<std::string> validate_closure(const Closure& c);

// ---- admission

/// What admission looks at, loaded in the booking's unit of work.
struct AdmissionFacts {
  bool instrument_known = false;
  bool user_known = false;
  bool user_admin = false;
  std::optional<Qualification> qualification;  ///< the user's on the instrument, if any
  std::optional<int64_t> last_use_ms;          ///< start of the user's latest session on the instrument
  std::optional<std::string> blocked{};        ///< why the user is blocked from booking now (credit), if so
  std::vector<Booking> overlapping;            ///< bookings on the instrument overlapping the candidate
  PolicyFacts rules{};                         ///< the instrument's booking policy and what it needs
};

enum class Admit { ok, unknown_instrument, unknown_user, not_qualified, outside_rules, overlaps };

/// The verdict with the reason (for people) and, for an overlap, the booking it overlaps; for a
/// booking rule, its name.
struct Admission {
  Admit verdict = Admit::ok;
  std::string reason;
  std::string conflict;
  std::string rule{};
};

/// A booking is admitted when instrument and user exist, the user is an admin or holds a
/// qualification on the instrument valid for the whole booking (not lapsed for want of use: the
/// policy's lapse_months after last_use_ms), is not blocked from booking (rule "blocked": a low
/// credit score after no-shows; admins too are refused for the users they book for), at a level that allows its hours (below after_hours:
/// within the staffed hours, else refused as rule "outside_hours"), it keeps the instrument's booking
/// policy (check_policy) and it overlaps no other slot-holding booking on the instrument. The
/// interval must already be validated.
Admission admit(const Booking& candidate, const AdmissionFacts& f);

/// Why b's staffed mark may not be set to `staffed`: it holds no slot, or has that mark already.
std::optional<std::string> can_staff(const Booking& b, bool staffed);

/// Why b may not be cancelled (it is cancelled, refused or expired already), or nullopt.
std::optional<std::string> can_cancel(const Booking& b);

/// b cancelled at now_ms, for reason (may be ""); late as late_cancel() said. Call after can_cancel.
Booking cancelled(const Booking& b, int64_t now_ms, std::string reason, bool late = false);

/// Why b may not be moved to [start_ms, end_ms): it holds no slot (cancelled, refused, expired), or the interval is invalid
/// (validate()); nullopt if it may. The move is then admitted like a new booking (admit()).
std::optional<std::string> can_move(const Booking& b, int64_t start_ms, int64_t end_ms);

/// b with its interval changed to [start_ms, end_ms).
Booking moved(const Booking& b, int64_t start_ms, int64_t end_ms);

// ---- waiting lists

/// "waiting" | "promoted" | "withdrawn" | "expired".
const char* to_string(WaitStatus s);
std::optional<WaitStatus> wait_status_from(std::string_view s);

/// The booking a waiting entry asks for (its instrument, user, interval, account, booker).
Booking wanted(const WaitEntry& e);

/// Why a user may not join the waiting list of an interval: the admission of the booking it asks
/// for says anything but "overlaps" (the user may not book it anyway; or it is free: book it), or
/// nullopt when it is taken and the user could otherwise book it.
std::optional<std::string> join_refusal(const Admission& a);

// ---- recurring bookings (RFC 5545 RRULE, a subset)

/// A recurrence rule: FREQ=DAILY|WEEKLY, INTERVAL, COUNT or UNTIL, and with WEEKLY a BYDAY list.
struct Recurrence {
  enum class Freq { daily, weekly };
  Freq freq = Freq::weekly;
  int32_t interval = 1;
  std::optional<int32_t> count;     ///< occurrences in all, the first included
  std::optional<int64_t> until_ms;  ///< the last occurrence starts no later (UTC)
  std::vector<int32_t> byday;       ///< ISO weekdays 1 (MO) .. 7 (SU), ascending; empty = the start's
};

/// Most occurrences a series may have.
inline constexpr int32_t kMaxOccurrences = 100;

/// Parses an RRULE value ("FREQ=WEEKLY;COUNT=8;BYDAY=MO,WE"); the error names the part. Refused:
/// another FREQ, both or neither of COUNT and UNTIL, BYDAY with DAILY or with an ordinal ("1MO"),
/// UNTIL not in the UTC form YYYYMMDDTHHMMSSZ, INTERVAL outside 1..52, COUNT outside 1..100, any
/// other part.
Result<Recurrence> parse_rrule(std::string_view text);

/// The occurrences of [start_ms, end_ms) under r in tz: the same local time of day and length on
/// each day the rule names, from the start's day on, in order; the first is the start itself when
/// its weekday is in BYDAY. Error when there would be more than kMaxOccurrences.
Result<std::vector<std::pair<int64_t, int64_t>>> expand(const Recurrence& r, int64_t start_ms, int64_t end_ms,
                                                        const std::string& tz);

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
