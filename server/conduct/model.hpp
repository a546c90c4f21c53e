// Conduct and credit (issue 10, "Conduct and credit"): what a user did against their bookings,
// the credit score it costs, and the block from booking that a low score brings. Plain data.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace lg::server::conduct {

/// What a user did against a booking.
enum class Kind {
  no_show,       ///< no session started within no_show_after_s of the booking's start
  late_arrival,  ///< the first session started more than late_after_s after the start
  overtime,      ///< a session ran beyond the booking's end + overtime_grace_s
  late_cancel,   ///< cancelled after the free-cancellation deadline
};

/// One conduct event, found by the scheduler (at most one of each kind per booking).
struct Event {
  std::string id;
  std::string user;
  std::string instrument;
  std::string booking;
  Kind kind = Kind::no_show;
  int64_t at_ms = 0;        ///< when it happened (the booking's start + the threshold, the session's end, the cancellation)
  int32_t points = 0;       ///< what it cost when recorded (the policy's penalty then)
  std::string detail;       ///< for people: the numbers that made it
  std::optional<int64_t> waived_ms{};  ///< set when an admin waived it
  std::string waived_by{};
  std::string waive_reason{};
  bool operator==(const Event&) const = default;
};

/// The site's credit rules ([conduct] in the server configuration).
struct Policy {
  bool enabled = true;
  int64_t no_show_after_s = 15 * 60;      ///< no session by start + this: a no-show
  int64_t late_after_s = 5 * 60;          ///< the first session after start + this: late
  int64_t overtime_grace_s = 15 * 60;     ///< a session past end + this: overtime
  int32_t start_score = 100;              ///< everyone's score with no events
  int32_t no_show_points = 20;
  int32_t late_arrival_points = 5;
  int32_t overtime_points = 5;
  int32_t late_cancel_points = 10;
  int64_t recovery_days = 90;             ///< an event's cost falls to nothing over this, evenly
  int32_t block_below = 60;               ///< a score below this blocks booking ...
  int64_t block_days = 14;                ///< ... for this long
  bool operator==(const Policy&) const = default;
};

/// A user blocked from booking (the blacklist), from a low score.
struct Block {
  std::string user;
  int64_t from_ms = 0;
  int64_t until_ms = 0;
  int32_t score = 0;          ///< the score that caused it
  std::string reason;         ///< for people
  std::optional<int64_t> lifted_ms{};  ///< set when lifted early (an event waived raised the score)
  bool end_notified = false;  ///< the user was told that it ended
  bool operator==(const Block&) const = default;
};

/// A user's standing: the score now, its events, and the block in force, if any.
struct Credit {
  std::string user;
  int32_t score = 0;
  std::vector<Event> events;
  std::optional<Block> block;
};

/// A booking as conduct detection sees it, with the sessions of its user on its instrument
/// that could belong to it.
struct BookingFacts {
  std::string booking;
  std::string user;
  std::string instrument;
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  bool cancelled = false;
  bool late_cancel = false;
  std::optional<int64_t> cancelled_ms;
  struct Session {
    int64_t start_ms = 0;
    std::optional<int64_t> end_ms;  ///< empty while open
  };
  std::vector<Session> sessions;    ///< starting from start - 1 day to end
};

}  // namespace lg::server::conduct
