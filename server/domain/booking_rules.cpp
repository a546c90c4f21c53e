#include "server/domain/booking_rules.hpp"

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

}  // namespace lg::server::booking
