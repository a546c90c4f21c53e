// Booking rules as functions of data. The store applies them inside one BEGIN IMMEDIATE
// transaction so two concurrent requests cannot both pass the overlap check.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "server/domain/model.hpp"

namespace lg::server::booking {

/// Longest booking accepted (31 days).
inline constexpr int64_t kMaxBookingMs = 31LL * 24 * 3600 * 1000;

/// True when the half-open intervals [a_start, a_end) and [b_start, b_end) share an instant.
/// Back-to-back bookings (a_end == b_start) do not overlap.
bool overlaps(int64_t a_start, int64_t a_end, int64_t b_start, int64_t b_end);

/// Checks a requested interval; returns the reason naming the field, or nullopt if valid.
std::optional<std::string> validate(int64_t start_ms, int64_t end_ms);

/// The first existing booking on the same instrument that overlaps the candidate, or nullptr.
const Booking* find_conflict(const std::vector<Booking>& existing, const Booking& candidate);

}  // namespace lg::server::booking
