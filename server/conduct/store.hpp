// The conduct store: conduct events, blocks, and the facts detection reads (bookings with the
// sessions of their users, from the booking and usage tables). It decides nothing:
// conduct::Service applies the rules in one unit of work.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "labgate/common/result.hpp"
#include "server/conduct/model.hpp"

namespace lg::server::conduct {

class Store {
 public:
  virtual ~Store() = default;
  /// Bookings not yet settled for conduct whose start is in [from_ms, to_ms]: active ones and
  /// late-cancelled ones (pending, refused, expired and freely cancelled ones earn nothing), each
  /// with the sessions of its user on its instrument that start before its end and end after
  /// start - 1 day (or are open); at most `limit`, oldest start first.
  virtual Result<std::vector<BookingFacts>> due(int64_t from_ms, int64_t to_ms, int32_t limit) = 0;
  /// Marks a booking settled: due() no longer offers it.
  virtual Status settle(const std::string& booking, int64_t now_ms) = 0;
  /// Stores a new event; returns false (nothing stored) when the booking has one of that kind.
  virtual Result<bool> insert(const Event& e) = 0;
  /// Stores a changed event (its waiver); not_found for an unknown id.
  virtual Status update(const Event& e) = 0;
  /// One event; nullopt when unknown.
  virtual Result<std::optional<Event>> get(const std::string& id) = 0;
  /// The user's events, newest first.
  virtual Result<std::vector<Event>> of_user(const std::string& user) = 0;
  /// The events of the booking.
  virtual Result<std::vector<Event>> of_booking(const std::string& booking) = 0;
  /// Events with at_ms in [from_ms, to_ms), newest first, at most limit; "" instrument = any.
  virtual Result<std::vector<Event>> recent(const std::string& instrument, int64_t from_ms, int64_t to_ms,
                                            int32_t limit) = 0;
  /// Stores a new block.
  virtual Status add_block(const Block& b) = 0;
  /// The user's latest block (by from_ms), nullopt if never blocked.
  virtual Result<std::optional<Block>> latest_block(const std::string& user) = 0;
  /// Stores a changed block (lifted, end notified), found by (user, from_ms).
  virtual Status update_block(const Block& b) = 0;
  /// Blocks that have ended by now_ms (until passed or lifted) and whose end is not notified yet.
  virtual Result<std::vector<Block>> ended_unnotified(int64_t now_ms, int32_t limit) = 0;
  /// Directory users with the site admin flag (they hear of every block).
  virtual Result<std::vector<std::string>> site_admins() = 0;
};

}  // namespace lg::server::conduct
