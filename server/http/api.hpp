// The HTTP JSON API (routes in docs/INTERFACES.md) as a function Request -> Response.
// Socket-free: unit tests call handle() directly.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "server/http/request.hpp"
#include "server/store/store.hpp"
#include "server/sync/sync_service.hpp"

namespace lg::server::http {

struct ApiSettings {
  std::string site;
  std::string version;
  std::string admin_token;
  std::string time_zone = "Asia/Shanghai";
  std::string currency = "CNY";
};

class Api {
 public:
  /// sync may be null (no bundle publishing, e.g. in tests); now returns UTC milliseconds.
  Api(Store& store, SyncService* sync, ApiSettings settings, std::function<int64_t()> now);

  /// Answers one request: 2xx with JSON, or 4xx/5xx with {"error":"<reason>"}.
  /// Order of checks: malformed target 400, auth 401 (every /api route but /api/health),
  /// unknown route 404, wrong method 405, then the body/query (400/422) and the store (409/422).
  Response handle(const Request& req);

 private:
  Response route(const Request& req);
  Response post_unit(const Request& req);
  Response post_lab(const Request& req);
  Response post_instrument(const Request& req);
  /// PATCH /api/instruments/{id}: require_booking and policy fields; 200 with the instrument.
  Response patch_instrument(const Request& req, const std::string& id);
  Response post_fee_standard(const Request& req);
  Response post_user(const Request& req);
  Response post_card(const Request& req);
  Response post_qualification(const Request& req);
  Response post_booking(const Request& req);
  Response post_terminal(const Request& req);
  /// GET of a directory list (units, labs, ...), paged by ?limit=&cursor=.
  Response get_list(const Request& req, const std::string& what);
  Response get_terminals(const Request& req);
  Response get_access_events(const Request& req);
  Response get_sessions(const Request& req);
  Response get_charges(const Request& req);
  /// GET /api/reports/usage: sums per instrument, user or month over a bounded period.
  Response get_usage_report(const Request& req);
  /// The period of ?month= or ?from=&to= (default: the current month in the site's zone);
  /// nullopt with resp set (422) when invalid or longer than report::kMaxPeriodMonths.
  std::optional<report::Period> period_param(const Request& req, Response& resp);
  Response get_stats();
  /// 409/422/404/500 from a store error.
  Response store_failure(const Error& e);
  void resync_all();
  void resync_resource(const std::string& resource);

  Store& store_;
  SyncService* sync_;
  ApiSettings settings_;
  std::function<int64_t()> now_;
  std::string cursor_key_;  ///< HMAC key of page cursors
};

}  // namespace lg::server::http
