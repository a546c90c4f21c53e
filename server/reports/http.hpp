// The reports' routes: /api/reports/usage.
#pragma once

#include <optional>

#include "server/reports/rules.hpp"
#include "server/reports/store.hpp"
#include "server/transport/http/router.hpp"

namespace lg::server::http {
struct ApiContext;
}

namespace lg::server::reports {

/// The period of ?month= or ?from=&to= (default: the current month in the site's zone);
/// nullopt with resp set (422) when invalid or longer than report::kMaxPeriodMonths.
std::optional<report::Period> period_param(const http::Request& req, const http::ApiContext& ctx, http::Response& resp);

/// [from, to) in UTC ms of the whole local months first..last (inclusive) in time zone tz.
Result<std::pair<int64_t, int64_t>> months_window(const std::string& first, const std::string& last,
                                                  const std::string& tz);

/// Adds the area's routes to the table. ctx and the stores must outlive the router.
void add_routes(http::Router& router, const http::ApiContext& ctx, Store& store);

}  // namespace lg::server::reports
