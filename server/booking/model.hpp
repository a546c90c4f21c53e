// Bookings of instrument time. Plain data.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lg::server {

struct Booking {
  std::string id;
  std::string instrument;
  std::string user;
  int64_t start_ms = 0;
  int64_t end_ms = 0;
};

/// Result of a booking attempt: either a new id or the id of the booking it overlaps.
struct BookingOutcome {
  std::string id;        ///< set on success
  std::string conflict;  ///< set when the request overlaps an existing booking
};

}  // namespace lg::server
