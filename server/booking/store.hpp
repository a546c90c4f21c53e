// The bookings' store.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "labgate/common/result.hpp"
#include "server/booking/model.hpp"
#include "server/core/paging.hpp"

namespace lg::server::booking {

class Store {
 public:
  virtual ~Store() = default;
  /// Stores an admitted booking (booking::Service decides admission in the same unit of work);
  /// conflict if the id exists.
  virtual Status insert(const Booking& b, int64_t now_ms) = 0;
  /// All bookings by (start_ms, id), ascending.
  virtual Result<PageOf<Booking>> list(const Page& p) = 0;
  /// Bookings on the instrument overlapping [from_ms, to_ms), by start then id.
  virtual Result<std::vector<Booking>> overlapping(const std::string& instrument, int64_t from_ms, int64_t to_ms) = 0;
};

}  // namespace lg::server::booking
