// The outbox's rules: pure functions over plain values (names, backoff, what a failure or a
// retry does, which addresses are usable).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "server/notify/model.hpp"

namespace lg::server::notify {

/// The delay before the next attempt after `attempts` failed ones (attempts >= 1):
/// base_ms * 2^(attempts-1), never above max_delay_ms (and never negative or overflowing).
int64_t backoff_ms(int64_t attempts, const RetryPolicy& p);

/// After attempt number `attempts` (counted from 1) failed at now_ms: failed when the failure is
/// permanent or the attempts are used up, else pending again after backoff_ms(attempts).
AfterFailure after_failure(int64_t attempts, Outcome outcome, const RetryPolicy& p, int64_t now_ms);

/// Why this notice cannot be sent again by hand (POST /api/notices/{id}/retry), nullopt when it
/// can: only a failed notice, or one without an address, goes back to pending.
std::optional<std::string> retry_refusal(const Notice& n);

/// Why text is not a mail address the outbox sends to ("" when it is): local@domain, at most
/// 254 characters, no spaces, control characters, quotes, angle brackets or commas (it goes
/// into RCPT TO:<...> and the To: header as it is).
std::string address_problem(std::string_view text);

/// The dedupe key of the notice that confirms a booking.
std::string booking_confirmed_key(const std::string& booking_id);

}  // namespace lg::server::notify
