// Fee standard versions, sessions to price and prices as JSON: the one shape the routes take and
// give and the golden pricing table (tests/server/billing/golden/pricing_cases.json) is written in.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "labgate/common/result.hpp"
#include "server/billing/rules.hpp"

namespace lg::server::billing {

/// A version's content from JSON (what a draft holds; id, instrument, number, state and dates are
/// not read): {"currency"?, "note"?, "cost"?: {energy_fen, consumables_fen, maintenance_fen,
/// depreciation_fen, labour_fen, hours_per_year}, "night"?: {"from": "HH:MM", "to": "HH:MM"},
/// "weekend_days"?: [ISO weekdays], "lines": [{code, name, kind, unit?, prices: {internal,
/// other_campus, external_academic, enterprise}, min_fee_fen?, unit_minutes?, rounding?, booked?,
/// overtime_bp?, night_factor_bp?, weekend_factor_bp?, night?}]}. Unknown fields, wrong types and
/// what validate() refuses are errors naming the field. currency defaults to `currency`.
Result<FeeVersion> parse_version(const nlohmann::json& j, const std::string& currency);

/// The content of a version as parse_version reads it (the fields a draft holds).
nlohmann::json content_json(const FeeVersion& v);

/// A session to price: {"category", "start", "end", "duration_ms"? (default end - start),
/// "booked"?: {"start", "end"}}; times RFC 3339. zone: the site zone.
Result<SessionFacts> parse_session(const nlohmann::json& j, const std::string& zone);

/// An order to price: {"category", "lines": [{"code", "quantity"}]}.
Result<std::pair<UserCategory, std::vector<OrderLine>>> parse_order(const nlohmann::json& j);

/// A price: {"version", "lines": [{code, quantity, unit, unit_price_fen, amount_fen, note}],
/// "total_fen"}, or {"version", "error"}.
nlohmann::json price_json(const Price& p);

}  // namespace lg::server::billing
