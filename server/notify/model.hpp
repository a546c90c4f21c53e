// The notification outbox: notices to people (mail), kept in the store until a worker has sent
// them. Plain data.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace lg::server::notify {

/// What a notice is about: picks its template (templates.cpp).
enum class Kind {
  booking_confirmed,
  booking_pending,
  booking_approved,
  booking_refused,
  waitlist_promoted,
  booking_cancelled_maintenance,
  training_reminder,
  training_enrolled,
  training_waitlist_promoted,
  training_passed,
  training_cancelled,
  qualification_lapsing,
  order_state,
  blocked,
  block_ended,   ///< the user's block from booking ended (its time ran out, or it was lifted)
  user_blocked,  ///< to the site admins: a user was blocked from booking
  user_unblocked,  ///< to the site admins: a user's block ended
  other,
};

/// The kind's name as stored and shown ("booking_confirmed", ...).
const char* to_string(Kind k);
/// Parses a kind's name; nullopt for anything else.
std::optional<Kind> kind_from_string(std::string_view s);

/// Where a notice is. pending: the worker sends it at next_attempt_ms (retried with backoff);
/// sent: the mail server took it; failed: given up (last_error says why); no_address: the
/// recipient had no mail address when it was enqueued, so it is kept and never sent.
enum class State { pending, sent, failed, no_address };

/// The state's name as stored and shown ("pending", ...).
const char* to_string(State s);
/// Parses a state's name; nullopt for anything else.
std::optional<State> state_from_string(std::string_view s);

/// A template's fields by name ({name} in the text).
using Fields = std::map<std::string, std::string, std::less<>>;

/// One notice as stored.
struct Notice {
  std::string id;
  std::string recipient;  ///< the user's id
  std::string address;    ///< the user's mail address when it was enqueued ("" for no_address)
  Kind kind = Kind::other;
  std::string subject;  ///< Chinese, then English
  std::string body;     ///< Chinese, then English
  std::string dedupe_key;  ///< unique: a second notice with the same key is not stored
  State state = State::pending;
  int64_t attempts = 0;         ///< sending attempts started (counted when a worker claims it)
  int64_t next_attempt_ms = 0;  ///< pending: not sent before this (UTC ms)
  std::string last_error{};     ///< why the last attempt failed ("" when none has)
  int64_t created_ms = 0;
  std::optional<int64_t> sent_ms{};
};

/// What the caller of Outbox::enqueue asks for.
struct NoticeRequest {
  std::string recipient;   ///< user id
  Kind kind = Kind::other;
  Fields fields;           ///< the template's fields (name and site are filled in by the outbox)
  std::string dedupe_key;  ///< e.g. "booking_confirmed:<booking id>"
};

/// A mail ready for the wire.
struct Mail {
  std::string from;       ///< envelope and From: address
  std::string from_name;  ///< From: display name ("" for none)
  std::string to;         ///< envelope and To: address
  std::string subject;    ///< UTF-8
  std::string body;       ///< UTF-8 text
  std::string message_id;  ///< "<...@...>"
  int64_t date_ms = 0;     ///< UTC ms for the Date: header
};

/// How one attempt to hand a mail to the mail server ended.
enum class Outcome {
  sent,       ///< the server accepted it (250 after DATA)
  transient,  ///< try again later (no connection, timeout, 4xx, a problem of the server's set-up)
  permanent,  ///< the server refused this mail for good (5xx to RCPT TO or to the message)
};

struct Delivery {
  Outcome outcome = Outcome::transient;
  std::string detail{};  ///< what went wrong, for last_error and the log
};

/// How often and how long to retry.
struct RetryPolicy {
  int64_t max_attempts = 8;
  int64_t base_ms = 60'000;        ///< delay after the first failed attempt, doubled after each further one
  int64_t max_delay_ms = 21'600'000;  ///< the delay never grows beyond this
};

/// What happens to a notice after a failed attempt.
struct AfterFailure {
  State state = State::pending;  ///< pending (retried at next_attempt_ms) or failed (given up)
  int64_t next_attempt_ms = 0;
};

}  // namespace lg::server::notify
