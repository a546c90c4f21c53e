// The HTTP JSON API (routes in docs/INTERFACES.md) as a function Request -> Response: the one
// router table, filled by every area's add_routes, plus /api/health and the Prometheus text
// endpoint /metrics. Socket-free: unit tests call handle() directly. Thread-safe: HTTP workers
// call handle() concurrently.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "labgate/common/defaults.hpp"
#include "server/booking/service.hpp"
#include "server/core/dirty.hpp"
#include "server/core/health.hpp"
#include "server/core/metrics.hpp"
#include "server/core/stores.hpp"
#include "server/identity/http.hpp"
#include "server/transport/http/request.hpp"
#include "server/transport/http/router.hpp"

namespace lg::server::http {

struct ApiContext;

struct ApiSettings {
  std::string site;
  std::string version;
  std::string admin_token;
  std::string time_zone{defaults::kTimeZone};
  std::string currency{defaults::kCurrency};
  /// /api/health answers 503 when the oldest message waiting for ingest is older than this.
  int64_t max_ingest_lag_ms = 30'000;
  identity::AuthSettings auth{};  ///< sessions, passwords, LDAP and CAS
};

class Api {
 public:
  /// Everything referenced must outlive the Api. now returns UTC milliseconds. shared_metrics:
  /// what GET /metrics renders and where requests are counted (null: the Api keeps its own).
  Api(Stores stores, booking::Service& booking, DirtySet& dirty, Health& health, ApiSettings settings,
      std::function<int64_t()> now, metrics::ServerMetrics* shared_metrics = nullptr);
  ~Api();

  /// Answers one request: 2xx with JSON, or 4xx/5xx with {"error":"<reason>"}; GET /metrics
  /// answers the Prometheus text format (Content-Type metrics::kContentType).
  /// Order of checks: malformed target 400, auth 401 (every /api route but /api/health),
  /// unknown route 404, wrong method 405, then the body/query (400/422) and the store (409/422).
  /// Every answer is counted in labgate_http_requests_total{code} and timed, and carries the
  /// request's id as X-Request-Id (req.request_id, or a fresh uuid7 when it has none).
  Response handle(const Request& req);

  /// The route table (for docs and tests).
  const Router& router() const { return router_; }
  /// Adds routes of an area the App wires after the Api is built (provisioning); before serving.
  void extend(const std::function<void(Router&, const ApiContext&)>& add) { add(router_, *ctx_); }

 private:
  Response health(const Request& req);
  /// GET /metrics: open (no token), counts and durations only (docs/SERVER.md, "Metrics").
  Response metrics(const Request& req);

  Stores stores_;
  Health& health_;
  std::unique_ptr<metrics::ServerMetrics> own_metrics_;  // when the caller gave none
  metrics::ServerMetrics* metrics_ = nullptr;
  ApiSettings settings_;
  std::unique_ptr<ApiContext> ctx_;
  Router router_;
};

}  // namespace lg::server::http
