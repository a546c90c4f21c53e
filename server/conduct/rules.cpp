#include "server/conduct/rules.hpp"

#include <algorithm>

#include "labgate/common/assert.hpp"

namespace lg::server::conduct {

namespace {
constexpr std::pair<Kind, const char*> kKinds[] = {{Kind::no_show, "no_show"},
                                                   {Kind::late_arrival, "late_arrival"},
                                                   {Kind::overtime, "overtime"},
                                                   {Kind::late_cancel, "late_cancel"}};

std::string minutes(int64_t ms) { return std::to_string(ms / 60000) + " min"; }

Event event(const BookingFacts& b, Kind k, int64_t at_ms, const Policy& p, std::string detail) {
  Event e;
  e.user = b.user;
  e.instrument = b.instrument;
  e.booking = b.booking;
  e.kind = k;
  e.at_ms = at_ms;
  e.points = penalty(p, k);
  e.detail = std::move(detail);
  return e;
}
}  // namespace

const char* to_string(Kind k) {
  for (const auto& [kind, name] : kKinds)
    if (kind == k) return name;
  return "no_show";
}

std::optional<Kind> kind_from(std::string_view s) {
  for (const auto& [kind, name] : kKinds)
    if (s == name) return kind;
  return std::nullopt;
}

int32_t penalty(const Policy& p, Kind k) {
  switch (k) {
    case Kind::no_show: return p.no_show_points;
    case Kind::late_arrival: return p.late_arrival_points;
    case Kind::overtime: return p.overtime_points;
    case Kind::late_cancel: return p.late_cancel_points;
  }
  return 0;
}

bool belongs(const BookingFacts::Session& s, const BookingFacts& b) {
  return s.start_ms < b.end_ms && (!s.end_ms || *s.end_ms > b.start_ms);
}

std::vector<Event> detect(const BookingFacts& b, int64_t now_ms, const Policy& p) {
  std::vector<Event> out;
  if (b.cancelled) {
    if (b.late_cancel && b.cancelled_ms)
      out.push_back(event(b, Kind::late_cancel, *b.cancelled_ms, p, "cancelled after the free-cancellation deadline"));
    return out;
  }
  const int64_t no_show_at = b.start_ms + p.no_show_after_s * 1000;
  std::optional<int64_t> first;
  for (const auto& s : b.sessions)
    if (belongs(s, b) && (!first || s.start_ms < *first)) first = s.start_ms;
  if (now_ms >= no_show_at) {
    if (!first || *first > no_show_at) {
      out.push_back(event(b, Kind::no_show, no_show_at, p,
                          "no session started within " + minutes(p.no_show_after_s * 1000) + " of the booking's start"));
    } else if (*first > b.start_ms + p.late_after_s * 1000) {
      out.push_back(event(b, Kind::late_arrival, *first, p,
                          "the session started " + minutes(*first - b.start_ms) + " after the booking's start"));
    }
  }
  const int64_t overtime_at = b.end_ms + p.overtime_grace_s * 1000;
  std::optional<int64_t> over;
  for (const auto& s : b.sessions) {
    if (!belongs(s, b)) continue;
    if (s.end_ms && *s.end_ms > overtime_at && (!over || *s.end_ms < *over)) over = *s.end_ms;
    if (!s.end_ms && now_ms > overtime_at && (!over || overtime_at < *over)) over = overtime_at;
  }
  if (over) {
    out.push_back(event(b, Kind::overtime, *over, p,
                        "used " + minutes(*over - b.end_ms) + " beyond the booking's end (grace " +
                            minutes(p.overtime_grace_s * 1000) + ")"));
  }
  return out;
}

bool settled(const BookingFacts& b, int64_t now_ms, const Policy& p) {
  if (b.cancelled) return true;
  return now_ms > b.end_ms + p.overtime_grace_s * 1000 + kSettleMs;
}

int32_t remaining_cost(const Event& e, int64_t now_ms, const Policy& p) {
  if (e.waived_ms) return 0;
  const int64_t span = p.recovery_days * 86400 * 1000;
  const int64_t age = std::max<int64_t>(0, now_ms - e.at_ms);
  if (span <= 0 || age >= span) return 0;
  const int64_t left = span - age;
  return static_cast<int32_t>((int64_t{e.points} * left + span - 1) / span);
}

int32_t score(const std::vector<Event>& events, int64_t now_ms, const Policy& p) {
  int64_t s = p.start_score;
  for (const auto& e : events) s -= remaining_cost(e, now_ms, p);
  return static_cast<int32_t>(std::max<int64_t>(0, s));
}

bool in_force(const Block& b, int64_t now_ms) { return !b.lifted_ms && b.from_ms <= now_ms && now_ms < b.until_ms; }

std::optional<Block> block_for(const std::string& user, int32_t score, int64_t now_ms,
                               const std::optional<Block>& active, const Policy& p) {
  if (score >= p.block_below) return std::nullopt;
  if (active && in_force(*active, now_ms)) return std::nullopt;
  Block b;
  b.user = user;
  b.from_ms = now_ms;
  b.until_ms = now_ms + p.block_days * 86400 * 1000;
  b.score = score;
  b.reason = "credit score " + std::to_string(score) + " is below " + std::to_string(p.block_below) +
             ": no new bookings for " + std::to_string(p.block_days) + " days";
  LG_ASSERT(b.until_ms > b.from_ms, "a block ends after it begins");
  return b;
}

bool lift(const Block& b, int32_t score, int64_t now_ms, const Policy& p) {
  return in_force(b, now_ms) && score >= p.block_below;
}

std::optional<std::string> waive_refusal(const Event& e) {
  if (e.waived_ms) return "conduct event " + e.id + " was waived already";
  return std::nullopt;
}

Event waived(const Event& e, int64_t now_ms, std::string by, std::string reason) {
  Event out = e;
  out.waived_ms = now_ms;
  out.waived_by = std::move(by);
  out.waive_reason = std::move(reason);
  return out;
}

std::optional<std::string> validate(const Policy& p) {
  if (p.late_after_s < 0 || p.late_after_s >= p.no_show_after_s)
    return std::string("late_after_s: must be 0 or more and below no_show_after_s");
  if (p.no_show_after_s > 24 * 3600) return std::string("no_show_after_s: at most a day");
  if (p.overtime_grace_s < 0 || p.overtime_grace_s > 24 * 3600) return std::string("overtime_grace_s: 0 to a day");
  if (p.start_score < 1 || p.start_score > 10000) return std::string("start_score: 1 to 10000");
  for (int32_t v : {p.no_show_points, p.late_arrival_points, p.overtime_points, p.late_cancel_points})
    if (v < 0 || v > p.start_score) return std::string("*_points: 0 to start_score");
  if (p.recovery_days < 1 || p.recovery_days > 3650) return std::string("recovery_days: 1 to 3650");
  if (p.block_below < 0 || p.block_below > p.start_score) return std::string("block_below: 0 to start_score");
  if (p.block_days < 1 || p.block_days > 3650) return std::string("block_days: 1 to 3650");
  return std::nullopt;
}

}  // namespace lg::server::conduct
