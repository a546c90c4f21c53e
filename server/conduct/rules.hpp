// Conduct and credit rules as functions of plain values: what a booking's facts make of its
// user's conduct, the score events leave, when it blocks, and waiving.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/conduct/model.hpp"

namespace lg::server::conduct {

/// "no_show" | "late_arrival" | "overtime" | "late_cancel".
const char* to_string(Kind k);
std::optional<Kind> kind_from(std::string_view s);

/// What an event of kind k costs under p.
int32_t penalty(const Policy& p, Kind k);

/// How long after a booking's end + overtime grace its facts may still change (a terminal that was
/// offline sends its sessions late): detection keeps looking at a booking until then.
inline constexpr int64_t kSettleMs = 2LL * 24 * 3600 * 1000;

/// True when a session belongs to the booking: it started before the booking's end and had not
/// ended by its start.
bool belongs(const BookingFacts::Session& s, const BookingFacts& b);

/// The events booking b has earned by now_ms (id empty, points = the penalty now), in kind order:
/// - a late cancellation: late_cancel at the cancellation (a cancelled booking earns nothing else);
/// - from start + no_show_after_s on: no_show at that instant when no belonging session started by
///   then, else late_arrival at the first start when that is after start + late_after_s;
/// - overtime at the first end beyond end + overtime_grace_s of a belonging session, or at end +
///   grace when one is still open past it.
/// Pure: the same facts at any later time give the same events.
std::vector<Event> detect(const BookingFacts& b, int64_t now_ms, const Policy& p);

/// True once nothing can change b's events any more: now_ms is past end + overtime grace + kSettleMs
/// (or, for a cancelled booking, past its cancellation).
bool settled(const BookingFacts& b, int64_t now_ms, const Policy& p);

/// What an event still costs at now_ms: its points, falling evenly to 0 over recovery_days
/// (rounded up, so a new event costs all its points); 0 once waived.
int32_t remaining_cost(const Event& e, int64_t now_ms, const Policy& p);

/// The score at now_ms: start_score less what the events still cost, never below 0.
int32_t score(const std::vector<Event>& events, int64_t now_ms, const Policy& p);

/// True when b keeps its user from booking at now_ms: from <= now < until and not lifted.
bool in_force(const Block& b, int64_t now_ms);

/// The block a score brings when new events were just recorded for the user: score below
/// block_below and no block in force (`active`) gives one from now for block_days; else nullopt.
/// (Recovery alone never blocks: only a new event can.)
std::optional<Block> block_for(const std::string& user, int32_t score, int64_t now_ms,
                               const std::optional<Block>& active, const Policy& p);

/// True when a block in force should be lifted at once because the score recovered to
/// block_below or above (an event was waived).
bool lift(const Block& b, int32_t score, int64_t now_ms, const Policy& p);

/// Why e may not be waived (waived already), or nullopt.
std::optional<std::string> waive_refusal(const Event& e);
/// e waived at now_ms by `by` for reason.
Event waived(const Event& e, int64_t now_ms, std::string by, std::string reason);

/// Why the policy is refused (a field and why), or nullopt.
std::optional<std::string> validate(const Policy& p);

}  // namespace lg::server::conduct
