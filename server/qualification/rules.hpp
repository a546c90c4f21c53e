// Qualification rules as functions of data.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "labgate/common/result.hpp"
#include "server/qualification/model.hpp"

namespace lg::server::qualification {

/// "supervised" | "independent" | "after_hours", as the API and the bundle spell them.
const char* to_string(QualificationLevel l);
/// Parses the spelling of to_string; nullopt for anything else.
std::optional<QualificationLevel> level_from(std::string_view s);
/// True when `have` allows what `need` allows (a level implies every weaker one).
bool at_least(QualificationLevel have, QualificationLevel need);

/// When q lapses for want of use (issue 10: "a qualification lapses after N months without use"):
/// lapse_months calendar months in tz after its last use on the instrument (last_use_ms, the
/// start of the holder's latest session there) or, never used or used before it was granted or
/// renewed, after valid_from. nullopt when lapse_months is 0 (the instrument keeps no such rule).
/// Renewal is a new valid_from (a training passed again, an admin's new grant).
Result<std::optional<int64_t>> lapses_at(const Qualification& q, std::optional<int64_t> last_use_ms,
                                         int32_t lapse_months, const std::string& tz);

/// q as it holds with its lapse: valid_until the earlier of its own end and lapse_ms.
Qualification with_lapse(const Qualification& q, std::optional<int64_t> lapse_ms);

/// How long before a qualification ends (expiry or lapse) its holder is told.
inline constexpr int64_t kEndingNoticeMs = 14LL * 24 * 3600 * 1000;

/// When q ends for good (the earlier of valid_until and lapse_ms), if that is in
/// [now_ms, now_ms + kEndingNoticeMs): the holder should be told; else nullopt.
std::optional<int64_t> ends_soon(const Qualification& q, std::optional<int64_t> lapse_ms, int64_t now_ms);

/// True when q is valid over the whole of [from_ms, to_ms]: it starts no later than from_ms
/// and has no end or ends no earlier than to_ms.
bool covers(const Qualification& q, int64_t from_ms, int64_t to_ms);

/// The reason a qualification is refused ("valid_until: must be after valid_from"), or "".
std::string validate(const Qualification& q);

/// Why q may not be revoked at now_ms ("qualification: ... ended already" when its valid_until
/// is not after now_ms: revoked or expired), or "".
std::string revoke_refusal(const Qualification& q, int64_t now_ms);

/// q revoked at now_ms: it ends now (one that has not begun ends at its start, so it never
/// grants). The row is kept as history; call after revoke_refusal.
Qualification revoked(const Qualification& q, int64_t now_ms);

}  // namespace lg::server::qualification
