// Bookings of instrument time. Plain data.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lg::server {

/// A booking is active until it is cancelled (DELETE /api/bookings/{id}): a cancelled one is kept,
/// overlaps nothing and opens nothing.
enum class BookingStatus { active, cancelled };

/// "active" | "cancelled" (defined in rules.cpp, next to the rules that change it).
const char* to_string(BookingStatus s);
/// Parses "active" | "cancelled"; nullopt for anything else.
std::optional<BookingStatus> booking_status_from(std::string_view s);

struct Booking {
  std::string id;
  std::string instrument;
  std::string user;
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  BookingStatus status = BookingStatus::active;
  std::optional<int64_t> cancelled_ms{};  ///< set when cancelled
  std::string cancel_reason{};            ///< why, as the canceller said ("" if they did not)
};

/// Result of a booking attempt: either a new id or the id of the booking it overlaps.
struct BookingOutcome {
  std::string id;        ///< set on success
  std::string conflict;  ///< set when the request overlaps an existing booking
};

/// Result of cancelling or moving a booking: the booking before and after, or (a move only) the
/// id of the active booking the new interval overlaps, in which case nothing changed.
struct BookingChange {
  Booking before;
  Booking after;
  std::string conflict;
};

}  // namespace lg::server
