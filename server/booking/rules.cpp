#include "server/booking/rules.hpp"

#include "labgate/common/time.hpp"
#include "server/qualification/rules.hpp"

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
    if (overlaps(b.start_ms, b.end_ms, candidate.start_ms, candidate.end_ms)) return &b;
  }
  return nullptr;
}

Admission admit(const Booking& b, const AdmissionFacts& f) {
  if (!f.instrument_known) return {Admit::unknown_instrument, "instrument: unknown instrument '" + b.instrument + "'", ""};
  if (!f.user_known) return {Admit::unknown_user, "user: unknown user '" + b.user + "'", ""};
  if (!f.user_admin) {
    const std::string who = "user " + b.user + " has no ";
    if (!f.qualification) return {Admit::not_qualified, who + "qualification on instrument " + b.instrument, ""};
    const Qualification& q = *f.qualification;
    if (!qualification::covers(q, b.start_ms, b.end_ms)) {
      const std::string valid = "valid from " + time::format_utc(q.valid_from_ms) +
                                (q.valid_until_ms ? " until " + time::format_utc(*q.valid_until_ms) : "");
      return {Admit::not_qualified,
              who + "qualification on instrument " + b.instrument + " covering the booking (" +
                  time::format_utc(b.start_ms) + " to " + time::format_utc(b.end_ms) + "; " + valid + ")",
              ""};
    }
  }
  if (const Booking* c = find_conflict(f.overlapping, b)) {
    return {Admit::overlaps, "booking overlaps booking " + c->id, c->id};
  }
  return {};
}

}  // namespace lg::server::booking
