#include "server/booking/rules.hpp"

#include <algorithm>
#include <array>

#include "labgate/common/time.hpp"
#include "server/directory/rules.hpp"
#include "server/qualification/rules.hpp"

namespace lg::server {

const char* to_string(BookingStatus s) {
  switch (s) {
    case BookingStatus::active:
      return "active";
    case BookingStatus::cancelled:
      return "cancelled";
    case BookingStatus::pending:
      return "pending";
    case BookingStatus::refused:
      return "refused";
    case BookingStatus::expired:
      return "expired";
  }
  return "active";
}

std::optional<BookingStatus> booking_status_from(std::string_view s) {
  for (auto v : {BookingStatus::active, BookingStatus::cancelled, BookingStatus::pending, BookingStatus::refused,
                 BookingStatus::expired})
    if (s == to_string(v)) return v;
  return std::nullopt;
}

bool holds_slot(BookingStatus s) {
  switch (s) {
    case BookingStatus::active:
    case BookingStatus::pending:
      return true;
    case BookingStatus::cancelled:
    case BookingStatus::refused:
    case BookingStatus::expired:
      return false;
  }
  return false;
}

const char* to_string(Approval a) {
  switch (a) {
    case Approval::none:
      return "none";
    case Approval::all:
      return "all";
    case Approval::external:
      return "external";
  }
  return "none";
}

std::optional<Approval> approval_from(std::string_view s) {
  for (auto v : {Approval::none, Approval::all, Approval::external})
    if (s == to_string(v)) return v;
  return std::nullopt;
}

const char* to_string(ClosureKind k) {
  switch (k) {
    case ClosureKind::holiday:
      return "holiday";
    case ClosureKind::blackout:
      return "blackout";
    case ClosureKind::maintenance:
      return "maintenance";
  }
  return "blackout";
}

std::optional<ClosureKind> closure_kind_from(std::string_view s) {
  for (auto v : {ClosureKind::holiday, ClosureKind::blackout, ClosureKind::maintenance})
    if (s == to_string(v)) return v;
  return std::nullopt;
}

}  // namespace lg::server

namespace lg::server::booking {

bool overlaps(int64_t a_start, int64_t a_end, int64_t b_start, int64_t b_end) {
  return a_start < b_end && b_start < a_end;
}

std::optional<std::string> validate(int64_t start_ms, int64_t end_ms) {
  if (end_ms <= start_ms) return std::string("end: must be after start");
  if (end_ms - start_ms > kMaxBookingMs) return std::string("end: booking longer than 31 days");
  return std::nullopt;
}

const Booking* find_conflict(const std::vector<Booking>& existing, const Booking& candidate) {
  for (const auto& b : existing) {
    if (b.instrument != candidate.instrument || b.id == candidate.id) continue;
    if (!holds_slot(b.status)) continue;
    if (overlaps(b.start_ms, b.end_ms, candidate.start_ms, candidate.end_ms)) return &b;
  }
  return nullptr;
}

namespace {
std::string at(int64_t ms, const std::string& tz);
}  // namespace

Admission admit(const Booking& b, const AdmissionFacts& f) {
  if (!f.instrument_known) return {Admit::unknown_instrument, "instrument: unknown instrument '" + b.instrument + "'", ""};
  if (!f.user_known) return {Admit::unknown_user, "user: unknown user '" + b.user + "'", ""};
  if (f.blocked) return {Admit::outside_rules, "blocked: " + b.user + " may not book: " + *f.blocked, "", "blocked"};
  if (!f.user_admin) {
    const std::string who = "user " + b.user + " has no ";
    if (!f.qualification) return {Admit::not_qualified, who + "qualification on instrument " + b.instrument, ""};
    const BookingPolicy& p = f.rules.policy;
    auto lapse = qualification::lapses_at(*f.qualification, f.last_use_ms, p.lapse_months, f.rules.tz);
    if (!lapse) return {Admit::not_qualified, "qualification: " + lapse.error().reason, ""};
    const Qualification q = qualification::with_lapse(*f.qualification, *lapse);
    if (*lapse && *lapse <= b.end_ms && (!f.qualification->valid_until_ms || *lapse < *f.qualification->valid_until_ms)) {
      return {Admit::not_qualified,
              "qualification: " + b.user + "'s on " + b.instrument + " lapses at " + at(**lapse, f.rules.tz) +
                  ", unused for " + std::to_string(p.lapse_months) +
                  " months (since its last use or grant); it must be renewed (training or an admin) to book "
                  "after that",
              ""};
    }
    if (q.level != QualificationLevel::after_hours &&
        !within_staffed(staffed_hours(p), f.rules.closures, b.start_ms, b.end_ms, f.rules.tz)) {
      return {Admit::outside_rules,
              "outside_hours: " + b.user + " is qualified " + qualification::to_string(q.level) + " on " + b.instrument +
                  ", which allows the staffed hours only (" + week_hours_text(staffed_hours(p)) +
                  ", not on holidays); " + at(b.start_ms, f.rules.tz) + " to " + at(b.end_ms, f.rules.tz) +
                  " is not within them: use after hours needs the after_hours level",
              "", "outside_hours"};
    }
    if (!qualification::covers(q, b.start_ms, b.end_ms)) {
      const std::string valid = "valid from " + time::format_utc(q.valid_from_ms) +
                                (q.valid_until_ms ? " until " + time::format_utc(*q.valid_until_ms) : "");
      return {Admit::not_qualified,
              who + "qualification on instrument " + b.instrument + " covering the booking (" +
                  time::format_utc(b.start_ms) + " to " + time::format_utc(b.end_ms) + "; " + valid + ")",
              ""};
    }
  }
  if (auto r = check_policy(b, f.rules)) return {Admit::outside_rules, r->reason, "", r->rule};
  if (const Booking* c = find_conflict(f.overlapping, b)) {
    return {Admit::overlaps, "booking overlaps booking " + c->id, c->id};
  }
  return {};
}

std::optional<std::string> can_staff(const Booking& b, bool staffed) {
  if (!holds_slot(b.status)) return "booking: " + b.id + " is " + to_string(b.status) + "; only an active or pending booking is staffed";
  if (b.staffed == staffed) return "booking: " + b.id + (staffed ? " is marked staffed already" : " is not marked staffed");
  return std::nullopt;
}

std::optional<std::string> can_cancel(const Booking& b) {
  if (!holds_slot(b.status)) return "booking: " + b.id + " is " + to_string(b.status) + " already";
  return std::nullopt;
}

Booking cancelled(const Booking& b, int64_t now_ms, std::string reason, bool late) {
  Booking out = b;
  out.status = BookingStatus::cancelled;
  out.cancelled_ms = now_ms;
  out.cancel_reason = std::move(reason);
  out.hold_until_ms.reset();
  out.late_cancel = late;
  return out;
}

std::optional<std::string> can_move(const Booking& b, int64_t start_ms, int64_t end_ms) {
  if (!holds_slot(b.status))
    return "booking: " + b.id + " is " + to_string(b.status) + "; only an active or pending booking is moved";
  return validate(start_ms, end_ms);
}

Booking moved(const Booking& b, int64_t start_ms, int64_t end_ms) {
  Booking out = b;
  out.start_ms = start_ms;
  out.end_ms = end_ms;
  return out;
}

// ---- the booking policy

namespace {

std::string two(int64_t v) {
  std::string out = std::to_string(v);
  return out.size() < 2 ? "0" + out : out;
}

/// "2 h", "30 min", "90 s": a duration for a reason.
std::string span_of(int64_t s) {
  if (s % 3600 == 0) return std::to_string(s / 3600) + " h";
  if (s % 60 == 0) return std::to_string(s / 60) + " min";
  return std::to_string(s) + " s";
}

/// The time in the site zone for a reason ("2026-03-02 08:00:00 +08:00"); UTC if the zone fails.
std::string at(int64_t ms, const std::string& tz) {
  auto t = time::format_local_offset(ms, tz);
  return t ? *t : time::format_utc(ms);
}

std::optional<int32_t> parse_hhmm(std::string_view t) {
  if (t.size() != 5 || t[2] != ':') return std::nullopt;
  for (int i : {0, 1, 3, 4})
    if (t[i] < '0' || t[i] > '9') return std::nullopt;
  const int32_t h = (t[0] - '0') * 10 + (t[1] - '0');
  const int32_t m = (t[3] - '0') * 10 + (t[4] - '0');
  if (m > 59 || h > 24 || (h == 24 && m != 0)) return std::nullopt;
  return h * 60 + m;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

/// The UTC intervals of w's spans over the local days from the day of from_ms to the day of
/// to_ms, ascending and merged where they touch (a day open to 24:00 and the next from 00:00
/// make one interval).
Result<std::vector<std::pair<int64_t, int64_t>>> spans_over(const WeekHours& w, int64_t from_ms, int64_t to_ms,
                                                            const std::string& tz) {
  std::vector<std::pair<int64_t, int64_t>> out;
  auto first = time::local_time(from_ms, tz);
  if (!first) return first.error();
  uint32_t wd = first->weekday;
  for (int32_t d = 0;; ++d) {
    auto day = time::local_day_start(from_ms, d, tz);
    if (!day) return day.error();
    if (*day >= to_ms) break;
    auto next = time::local_day_start(from_ms, d + 1, tz);
    if (!next) return next.error();
    for (const DaySpan& s : w.days[(wd - 1 + static_cast<uint32_t>(d)) % 7]) {
      // minutes from local midnight; at 24:00 the next local midnight (a 23- or 25-hour day too)
      const int64_t a = *day + int64_t{s.from_min} * 60000;
      const int64_t b = s.to_min == 1440 ? *next : *day + int64_t{s.to_min} * 60000;
      if (!out.empty() && out.back().second >= a) out.back().second = std::max(out.back().second, b);
      else out.emplace_back(a, b);
    }
  }
  return out;
}

}  // namespace

std::string span_text(const DaySpan& s) {
  return two(s.from_min / 60) + ":" + two(s.from_min % 60) + "-" + two(s.to_min / 60) + ":" + two(s.to_min % 60);
}

std::optional<DaySpan> parse_span(std::string_view text) {
  const auto dash = text.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  auto a = parse_hhmm(trim(text.substr(0, dash)));
  auto b = parse_hhmm(trim(text.substr(dash + 1)));
  if (!a || !b || *a >= 1440 || *b <= *a) return std::nullopt;
  return DaySpan{*a, *b};
}

std::string week_hours_text(const WeekHours& w) {
  std::string out;
  for (int d = 0; d < 7; ++d) {
    if (w.days[d].empty()) continue;
    if (!out.empty()) out += "; ";
    out += kDayNames[d];
    for (const DaySpan& s : w.days[d]) out += " " + span_text(s);
  }
  return out;
}

std::optional<std::string> validate_day(const std::vector<DaySpan>& spans) {
  int32_t last_end = -1;
  for (const DaySpan& s : spans) {
    if (s.from_min < 0 || s.to_min > 1440 || s.to_min <= s.from_min)
      return "span " + span_text(s) + " is not within one day, or ends before it starts";
    if (s.from_min < last_end) return "spans must be in order and must not overlap (" + span_text(s) + ")";
    last_end = s.to_min;
  }
  return std::nullopt;
}

std::optional<std::string> parse_week_hours(std::string_view text, WeekHours& out) {
  out = WeekHours{};
  bool seen[7] = {};
  while (!trim(text).empty()) {
    const auto semi = text.find(';');
    std::string_view day = trim(text.substr(0, semi));
    text = semi == std::string_view::npos ? std::string_view() : text.substr(semi + 1);
    const auto sp = day.find(' ');
    const std::string_view name = day.substr(0, sp);
    int d = 0;
    while (d < 7 && name != kDayNames[d]) ++d;
    if (d == 7) return "unknown day '" + std::string(name) + "' (mon .. sun)";
    if (seen[d]) return std::string(name) + " is given twice";
    seen[d] = true;
    std::string_view rest = sp == std::string_view::npos ? std::string_view() : day.substr(sp + 1);
    while (!trim(rest).empty()) {
      rest = trim(rest);
      const auto next = rest.find(' ');
      auto span = parse_span(rest.substr(0, next));
      if (!span) return std::string(name) + ": '" + std::string(rest.substr(0, next)) + "' is not HH:MM-HH:MM";
      out.days[d].push_back(*span);
      rest = next == std::string_view::npos ? std::string_view() : rest.substr(next);
    }
    if (auto why = validate_day(out.days[d])) return std::string(name) + ": " + *why;
  }
  return std::nullopt;
}

BookingPolicy default_policy(const std::string& instrument) {
  BookingPolicy p;
  p.instrument = instrument;
  return p;
}

WeekHours default_staffed_hours() {
  WeekHours w;
  for (int d = 0; d < 5; ++d) w.days[d].push_back(DaySpan{8 * 60, 18 * 60});
  return w;
}

WeekHours staffed_hours(const BookingPolicy& p) { return p.staffed ? *p.staffed : default_staffed_hours(); }

bool within_staffed(const WeekHours& w, const std::vector<Closure>& closures, int64_t from_ms, int64_t to_ms,
                    const std::string& tz) {
  for (const Closure& c : closures)
    if (c.kind != ClosureKind::maintenance && overlaps(c.start_ms, c.end_ms, from_ms, to_ms)) return false;
  auto spans = spans_over(w, from_ms, to_ms, tz);
  if (!spans) return false;
  for (const auto& [a, e] : *spans)
    if (a <= from_ms && to_ms <= e) return true;
  return false;
}

std::optional<std::string> validate_policy(const BookingPolicy& p) {
  constexpr int64_t kYear = 366LL * 86400;
  if (p.lead_min_s < 0 || p.lead_min_s > kYear) return std::string("lead_min_s: must be 0 to 366 days");
  if (p.lead_max_s <= p.lead_min_s || p.lead_max_s > 2 * kYear)
    return std::string("lead_max_s: must be after lead_min_s and at most 732 days");
  if (p.min_length_s < 1) return std::string("min_length_s: must be at least 1");
  if (p.max_length_s < p.min_length_s || p.max_length_s * 1000 > kMaxBookingMs)
    return std::string("max_length_s: must be at least min_length_s and at most 31 days");
  if (p.slot_s < 0 || p.slot_s > 86400 || (p.slot_s > 0 && (p.slot_s % 60 != 0 || 86400 % p.slot_s != 0)))
    return std::string("slot_s: must be 0 (none) or whole minutes dividing a day (300, 900, 1800, 3600, ...)");
  if (p.slot_s > 0 && (p.min_length_s % p.slot_s != 0))
    return std::string("min_length_s: must be a whole number of slots");
  if (p.user_week_bookings < 0) return std::string("user_week_bookings: must be 0 (no limit) or more");
  if (p.group_week_bookings < 0) return std::string("group_week_bookings: must be 0 (no limit) or more");
  if (p.user_week_s < 0 || p.user_week_s > 7 * 86400) return std::string("user_week_s: must be 0 (no limit) to a week");
  if (p.group_week_s < 0 || p.group_week_s > 7 * 86400) return std::string("group_week_s: must be 0 (no limit) to a week");
  if (p.external_share_pct < 0 || p.external_share_pct > 100) return std::string("external_share_pct: must be 0 to 100");
  if (p.approval_hold_s < 3600 || p.approval_hold_s > 30LL * 86400)
    return std::string("approval_hold_s: must be 1 h to 30 days");
  if (p.cancel_free_s < 0 || p.cancel_free_s > 30LL * 86400) return std::string("cancel_free_s: must be 0 to 30 days");
  if (p.lapse_months < 0 || p.lapse_months > 120) return std::string("lapse_months: must be 0 (never) to 120");
  for (int d = 0; d < 7; ++d) {
    if (p.opening)
      if (auto why = validate_day(p.opening->days[d])) return "opening." + std::string(kDayNames[d]) + ": " + *why;
    if (auto why = validate_day(p.internal_priority.days[d]))
      return "internal_priority." + std::string(kDayNames[d]) + ": " + *why;
    if (p.staffed)
      if (auto why = validate_day(p.staffed->days[d])) return "staffed." + std::string(kDayNames[d]) + ": " + *why;
  }
  return std::nullopt;
}

Result<Window> week_of(int64_t at_ms, const std::string& tz) {
  auto from = time::local_week_start(at_ms, tz);
  if (!from) return from.error();
  auto to = time::local_day_start(*from, 7, tz);
  if (!to) return to.error();
  return Window{*from, *to};
}

std::optional<Refusal> check_policy(const Booking& b, const PolicyFacts& f) {
  const BookingPolicy& p = f.policy;
  const std::string& tz = f.tz;
  // lead time
  const int64_t earliest = p.lead_min_s > 0 ? f.now_ms + p.lead_min_s * 1000 : f.now_ms - kWalkUpMs;
  if (b.start_ms < earliest) {
    return Refusal{"lead_time", p.lead_min_s > 0
                                    ? "lead_time: bookings on " + b.instrument + " start at least " + span_of(p.lead_min_s) +
                                          " after they are made (the earliest start now is " + at(earliest, tz) + ")"
                                    : "lead_time: the start " + at(b.start_ms, tz) + " is in the past (a booking may start at most " +
                                          span_of(kWalkUpMs / 1000) + " before it is made)"};
  }
  const int64_t latest = f.now_ms + p.lead_max_s * 1000;
  if (b.start_ms > latest) {
    return Refusal{"lead_time", "lead_time: bookings on " + b.instrument + " start at most " + span_of(p.lead_max_s) +
                                    " ahead (the latest start now is " + at(latest, tz) + ")"};
  }
  // length
  const int64_t len = b.end_ms - b.start_ms;
  if (len < p.min_length_s * 1000 || len > p.max_length_s * 1000) {
    return Refusal{"length", "length: a booking on " + b.instrument + " lasts " + span_of(p.min_length_s) + " to " +
                                 span_of(p.max_length_s) + " (this one " + span_of(len / 1000) + ")"};
  }
  // slot grid from local midnight
  if (p.slot_s > 0) {
    for (int64_t t : {b.start_ms, b.end_ms}) {
      auto lt = time::local_time(t, tz);
      if (!lt) return Refusal{"slot_grid", "slot_grid: " + lt.error().reason};
      if (lt->ms_of_day % (p.slot_s * 1000) != 0) {
        return Refusal{"slot_grid", "slot_grid: bookings on " + b.instrument + " start and end on a " + span_of(p.slot_s) +
                                        " grid from midnight (" + at(t, tz) + " is not on it)"};
      }
    }
  }
  // closures
  for (const Closure& c : f.closures) {
    if (!overlaps(c.start_ms, c.end_ms, b.start_ms, b.end_ms)) continue;
    if (!c.instrument.empty() && c.instrument != b.instrument) continue;
    return Refusal{"closed", "closed: " + std::string(to_string(c.kind)) + " from " + at(c.start_ms, tz) + " to " +
                                 at(c.end_ms, tz) + (c.reason.empty() ? std::string() : " (" + c.reason + ")")};
  }
  // opening hours: the booking lies within the union of the open spans
  if (p.opening) {
    auto open = spans_over(*p.opening, b.start_ms, b.end_ms, tz);
    if (!open) return Refusal{"opening_hours", "opening_hours: " + open.error().reason};
    bool inside = false;
    for (const auto& [a, e] : *open)
      if (a <= b.start_ms && b.end_ms <= e) inside = true;
    if (!inside) {
      return Refusal{"opening_hours", "opening_hours: " + b.instrument + " is booked only within its opening hours (" +
                                          week_hours_text(*p.opening) + "; " + at(b.start_ms, tz) + " to " +
                                          at(b.end_ms, tz) + " is not)"};
    }
  }
  // internal priority windows
  if (f.external) {
    auto prio = spans_over(p.internal_priority, b.start_ms, b.end_ms, tz);
    if (!prio) return Refusal{"priority_window", "priority_window: " + prio.error().reason};
    for (const auto& [a, e] : *prio) {
      if (overlaps(a, e, b.start_ms, b.end_ms)) {
        return Refusal{"priority_window", "priority_window: " + at(a, tz) + " to " + at(e, tz) +
                                              " is kept for campus users (" + week_hours_text(p.internal_priority) + ")"};
      }
    }
  }
  // weekly quotas: the bookings starting in the candidate's week, the candidate counted once
  if (p.user_week_bookings > 0 || p.user_week_s > 0 || p.group_week_bookings > 0 || p.group_week_s > 0 ||
      (p.external_share_pct > 0 && !f.external)) {
    int32_t user_n = 1, group_n = 1;
    int64_t user_ms = len, group_ms = len, internal_ms = f.external ? 0 : len;
    for (const WeekBooking& w : f.week) {
      const Booking& o = w.booking;
      if (o.id == b.id || !holds_slot(o.status)) continue;
      const int64_t l = o.end_ms - o.start_ms;
      if (o.user == b.user) {
        ++user_n;
        user_ms += l;
      }
      if (o.user == b.user || w.shares_group) {
        ++group_n;
        group_ms += l;
      }
      if (directory::is_internal(w.category)) internal_ms += l;
    }
    if (p.user_week_bookings > 0 && user_n > p.user_week_bookings)
      return Refusal{"user_quota", "user_quota: " + b.user + " may hold " + std::to_string(p.user_week_bookings) +
                                       " bookings a week on " + b.instrument + " (this would be " + std::to_string(user_n) + ")"};
    if (p.user_week_s > 0 && user_ms > p.user_week_s * 1000)
      return Refusal{"user_quota", "user_quota: " + b.user + " may hold " + span_of(p.user_week_s) + " a week on " +
                                       b.instrument + " (this would make " + span_of(user_ms / 1000) + ")"};
    if (p.group_week_bookings > 0 && group_n > p.group_week_bookings)
      return Refusal{"group_quota", "group_quota: a research group of " + b.user + " may hold " +
                                        std::to_string(p.group_week_bookings) + " bookings a week on " + b.instrument +
                                        " (this would be " + std::to_string(group_n) + ")"};
    if (p.group_week_s > 0 && group_ms > p.group_week_s * 1000)
      return Refusal{"group_quota", "group_quota: a research group of " + b.user + " may hold " + span_of(p.group_week_s) +
                                        " a week on " + b.instrument + " (this would make " + span_of(group_ms / 1000) + ")"};
    if (p.external_share_pct > 0 && !f.external) {
      auto week = week_of(b.start_ms, tz);
      if (!week) return Refusal{"external_share", "external_share: " + week.error().reason};
      int64_t open_ms = week->to_ms - week->from_ms;
      if (p.opening) {
        auto open = spans_over(*p.opening, week->from_ms, week->to_ms, tz);
        if (!open) return Refusal{"external_share", "external_share: " + open.error().reason};
        open_ms = 0;
        for (const auto& [a, e] : *open) open_ms += std::min(e, week->to_ms) - std::max(a, week->from_ms);
      }
      const int64_t internal_cap = open_ms / 100 * (100 - p.external_share_pct);
      if (internal_ms > internal_cap)
        return Refusal{"external_share", "external_share: " + std::to_string(p.external_share_pct) + "% of the week's " +
                                             span_of(open_ms / 1000) + " on " + b.instrument +
                                             " is kept for external users; campus bookings would hold " +
                                             span_of(internal_ms / 1000) + " of the " + span_of(internal_cap / 1000) + " left"};
    }
  }
  return std::nullopt;
}

bool needs_approval(const BookingPolicy& p, bool external) {
  switch (p.approval) {
    case Approval::none:
      return false;
    case Approval::all:
      return true;
    case Approval::external:
      return external;
  }
  return false;
}

int64_t hold_until(const BookingPolicy& p, const Booking& b, int64_t now_ms) {
  return std::min(now_ms + p.approval_hold_s * 1000, b.start_ms);
}

bool late_cancel(const BookingPolicy& p, const Booking& b, int64_t now_ms) {
  if (b.status != BookingStatus::active) return false;
  return now_ms > b.start_ms - p.cancel_free_s * 1000;
}

std::optional<std::string> can_decide(const Booking& b) {
  if (b.status != BookingStatus::pending)
    return "booking: " + b.id + " is " + to_string(b.status) + "; only a pending booking is approved or refused";
  return std::nullopt;
}

Booking approved(const Booking& b) {
  Booking out = b;
  out.status = BookingStatus::active;
  out.hold_until_ms.reset();
  return out;
}

Booking refused(const Booking& b, int64_t now_ms, std::string reason) {
  Booking out = b;
  out.status = BookingStatus::refused;
  out.cancelled_ms = now_ms;
  out.cancel_reason = std::move(reason);
  out.hold_until_ms.reset();
  return out;
}

Booking expired(const Booking& b, int64_t now_ms) {
  Booking out = b;
  out.status = BookingStatus::expired;
  out.cancelled_ms = now_ms;
  out.cancel_reason = "not approved in time";
  out.hold_until_ms.reset();
  return out;
}

std::optional<std::string> validate_closure(const Closure& c) {
  if (c.end_ms <= c.start_ms) return std::string("end: must be after start");
  if (c.end_ms - c.start_ms > 366LL * 86400 * 1000) return std::string("end: a closure lasts at most 366 days");
  if (c.kind == ClosureKind::holiday && !c.instrument.empty())
    return std::string("instrument: a holiday closes the whole site (give no instrument; a blackout closes one)");
  if (c.kind != ClosureKind::holiday && c.instrument.empty())
    return std::string("instrument: a ") + to_string(c.kind) + " closes one instrument (name it)";
  if (c.reason.size() > 500) return std::string("reason: at most 500 bytes");
  return std::nullopt;
}

int64_t feed_from(int64_t now_ms) { return now_ms - kMaxBookingMs; }

ical::Event calendar_event(const Booking& b, const EventPlace& where, std::string_view site, int64_t stamp_ms) {
  ical::Event e;
  e.uid = b.id + "@" + std::string(site);
  e.stamp_ms = stamp_ms;
  e.start_ms = b.start_ms;
  e.end_ms = b.end_ms;
  e.summary = where.instrument.empty() ? b.instrument : where.instrument;
  e.location = where.lab;
  e.description = "Booking " + b.id + "\nInstrument: " + b.instrument + "\nUser: " + b.user;
  switch (b.status) {
    case BookingStatus::active:
      e.status = ical::EventStatus::confirmed;
      break;
    case BookingStatus::pending:
      e.status = ical::EventStatus::tentative;
      e.description += "\nWaiting for approval";
      break;
    case BookingStatus::cancelled:
    case BookingStatus::refused:
    case BookingStatus::expired:
      e.status = ical::EventStatus::cancelled;
      e.description += std::string("\n") + (b.status == BookingStatus::cancelled ? "Cancelled" : b.status == BookingStatus::refused ? "Refused" : "Expired") +
                       (b.cancel_reason.empty() ? std::string() : ": " + b.cancel_reason);
      break;
  }
  return e;
}

Result<Recurrence> parse_rrule(std::string_view text) {
  Recurrence r;
  bool freq = false;
  auto bad = [](const std::string& why) { return Error::invalid("rrule: " + why); };
  static constexpr std::array<std::string_view, 7> kDays{"MO", "TU", "WE", "TH", "FR", "SA", "SU"};
  auto number = [](std::string_view v, int32_t lo, int32_t hi) -> std::optional<int32_t> {
    if (v.empty() || v.size() > 4) return std::nullopt;
    int32_t n = 0;
    for (char c : v) {
      if (c < '0' || c > '9') return std::nullopt;
      n = n * 10 + (c - '0');
    }
    if (n < lo || n > hi) return std::nullopt;
    return n;
  };
  while (!text.empty()) {
    const auto semi = text.find(';');
    const std::string_view part = text.substr(0, semi);
    text = semi == std::string_view::npos ? std::string_view() : text.substr(semi + 1);
    const auto eq = part.find('=');
    if (eq == std::string_view::npos) return bad("'" + std::string(part) + "' is not NAME=VALUE");
    const std::string_view name = part.substr(0, eq), value = part.substr(eq + 1);
    if (name == "FREQ") {
      if (value == "DAILY") r.freq = Recurrence::Freq::daily;
      else if (value == "WEEKLY") r.freq = Recurrence::Freq::weekly;
      else return bad("FREQ=" + std::string(value) + " is not DAILY or WEEKLY");
      freq = true;
    } else if (name == "INTERVAL") {
      auto n = number(value, 1, 52);
      if (!n) return bad("INTERVAL must be 1 to 52");
      r.interval = *n;
    } else if (name == "COUNT") {
      auto n = number(value, 1, kMaxOccurrences);
      if (!n) return bad("COUNT must be 1 to " + std::to_string(kMaxOccurrences));
      r.count = *n;
    } else if (name == "UNTIL") {
      // YYYYMMDDTHHMMSSZ
      if (value.size() != 16 || value[8] != 'T' || value[15] != 'Z')
        return bad("UNTIL must be a UTC time YYYYMMDDTHHMMSSZ");
      const std::string iso = std::string(value.substr(0, 4)) + "-" + std::string(value.substr(4, 2)) + "-" +
                              std::string(value.substr(6, 2)) + "T" + std::string(value.substr(9, 2)) + ":" +
                              std::string(value.substr(11, 2)) + ":" + std::string(value.substr(13, 2)) + "Z";
      auto t = time::parse_utc(iso);
      if (!t) return bad("UNTIL must be a UTC time YYYYMMDDTHHMMSSZ");
      r.until_ms = *t;
    } else if (name == "BYDAY") {
      r.byday.clear();
      std::string_view list = value;
      while (!list.empty()) {
        const auto comma = list.find(',');
        const std::string_view d = list.substr(0, comma);
        list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
        const auto at = std::find(kDays.begin(), kDays.end(), d);
        if (at == kDays.end()) return bad("BYDAY: '" + std::string(d) + "' is not MO, TU, WE, TH, FR, SA or SU");
        r.byday.push_back(static_cast<int32_t>(at - kDays.begin()) + 1);
      }
      std::sort(r.byday.begin(), r.byday.end());
      r.byday.erase(std::unique(r.byday.begin(), r.byday.end()), r.byday.end());
      if (r.byday.empty()) return bad("BYDAY is empty");
    } else {
      return bad(std::string(name) + " is not supported (FREQ, INTERVAL, COUNT, UNTIL, BYDAY)");
    }
  }
  if (!freq) return bad("FREQ is required");
  if (r.count.has_value() == r.until_ms.has_value()) return bad("exactly one of COUNT and UNTIL");
  if (!r.byday.empty() && r.freq != Recurrence::Freq::weekly) return bad("BYDAY only with FREQ=WEEKLY");
  return r;
}

Result<std::vector<std::pair<int64_t, int64_t>>> expand(const Recurrence& r, int64_t start_ms, int64_t end_ms,
                                                        const std::string& tz) {
  auto first = time::local_time(start_ms, tz);
  if (!first) return first.error();
  const int64_t length = end_ms - start_ms;
  const int64_t time_of_day = first->ms_of_day;
  std::vector<int32_t> days = r.byday;
  if (days.empty()) days.push_back(static_cast<int32_t>(first->weekday));
  std::vector<std::pair<int64_t, int64_t>> out;
  auto add = [&](int32_t day_offset) -> Result<bool> {  // false: the series is complete
    auto day = time::local_day_start(start_ms, day_offset, tz);
    if (!day) return day.error();
    const int64_t at = *day + time_of_day;
    if (r.until_ms && at > *r.until_ms) return false;
    if (r.count && static_cast<int32_t>(out.size()) >= *r.count) return false;
    if (static_cast<int32_t>(out.size()) >= kMaxOccurrences)
      return Error::invalid("rrule: more than " + std::to_string(kMaxOccurrences) + " occurrences");
    out.emplace_back(at, at + length);
    return true;
  };
  if (r.freq == Recurrence::Freq::daily) {
    for (int32_t k = 0;; k += r.interval) {
      auto more = add(k);
      if (!more) return more.error();
      if (!*more) break;
    }
    return out;
  }
  // weekly: the weeks (Monday-based, every interval-th from the start's) and in each the named days
  // from the start's day on
  const int32_t start_wd = static_cast<int32_t>(first->weekday);
  for (int32_t week = 0;; week += r.interval) {
    for (int32_t d : days) {
      const int32_t offset = week * 7 + (d - start_wd);
      if (offset < 0) continue;
      auto more = add(offset);
      if (!more) return more.error();
      if (!*more) return out;
    }
  }
}

const char* to_string(WaitStatus s) {
  switch (s) {
    case WaitStatus::waiting: return "waiting";
    case WaitStatus::promoted: return "promoted";
    case WaitStatus::withdrawn: return "withdrawn";
    case WaitStatus::expired: return "expired";
  }
  return "waiting";
}

std::optional<WaitStatus> wait_status_from(std::string_view s) {
  for (auto w : {WaitStatus::waiting, WaitStatus::promoted, WaitStatus::withdrawn, WaitStatus::expired})
    if (s == to_string(w)) return w;
  return std::nullopt;
}

Booking wanted(const WaitEntry& e) {
  Booking b{"", e.instrument, e.user, e.start_ms, e.end_ms};
  b.account = e.account;
  b.booked_by = e.booked_by;
  return b;
}

std::optional<std::string> join_refusal(const Admission& a) {
  switch (a.verdict) {
    case Admit::overlaps: return std::nullopt;
    case Admit::ok: return std::string("waitlist: the interval is free: book it instead");
    default: return "waitlist: " + a.reason;
  }
}

}  // namespace lg::server::booking
