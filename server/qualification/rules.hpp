// Qualification rules as functions of data.
#pragma once

#include <cstdint>
#include <string>

#include "server/qualification/model.hpp"

namespace lg::server::qualification {

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
