#include "server/transport/http/api.hpp"

#include "labgate/common/crypto.hpp"
#include "labgate/common/log.hpp"
#include "server/billing/http.hpp"
#include "server/booking/http.hpp"
#include "server/directory/http.hpp"
#include "server/qualification/http.hpp"
#include "server/reports/http.hpp"
#include "server/terminals/http.hpp"
#include "server/transport/http/json_api.hpp"
#include "server/usage/http.hpp"

namespace lg::server::http {

namespace {
constexpr std::string_view kLog = "http";
}

Api::Api(Stores stores, booking::Service& booking, DirtySet& dirty, Health& health_state, ApiSettings settings,
         std::function<int64_t()> now)
    : stores_(stores), health_(health_state), settings_(std::move(settings)), router_(settings_.admin_token) {
  ctx_ = std::make_unique<ApiContext>();
  ctx_->site = settings_.site;
  ctx_->version = settings_.version;
  ctx_->time_zone = settings_.time_zone;
  ctx_->currency = settings_.currency;
  ctx_->now = std::move(now);
  ctx_->dirty = &dirty;
  // Cursors are signed under a key only this server derives (from its admin token).
  const crypto::Digest d = crypto::hmac_sha256(settings_.admin_token, "labgate page cursor v1");
  ctx_->cursor_key.assign(reinterpret_cast<const char*>(d.data()), d.size());

  router_.add({"GET", "/api/health", Permission::open, [this](const Request& r, const PathParams&) { return health(r); }});
  directory::add_routes(router_, *ctx_, stores_.directory);
  billing::add_routes(router_, *ctx_, stores_.billing);
  qualification::add_routes(router_, *ctx_, stores_.qualification);
  booking::add_routes(router_, *ctx_, booking, stores_.booking);
  terminals::add_routes(router_, *ctx_, stores_.terminals);
  usage::add_routes(router_, *ctx_, stores_.usage);
  reports::add_routes(router_, *ctx_, stores_.reports);
}

Api::~Api() = default;

Response Api::handle(const Request& req) {
  Response r = router_.dispatch(req);
  if (r.status >= 500 && req.path != "/api/health") {
    log::error(kLog, req.method + " " + req.path + " -> " + std::to_string(r.status) + " " + r.body);
  } else if (r.status >= 400 && req.path != "/api/health") {
    log::info(kLog, req.method + " " + req.path + " -> " + std::to_string(r.status) + " " + r.body);
  } else {
    log::debug(kLog, req.method + " " + req.path + " -> " + std::to_string(r.status));
  }
  return r;
}

Response Api::health(const Request&) {
  const int64_t now = ctx_->now();
  const Health::Report h = health_.report(now);
  // The database answers a read on this worker's connection.
  auto stats = stores_.usage.stats();
  const bool db_ok = static_cast<bool>(stats);
  const bool lag_ok = h.ingest_lag_ms <= settings_.max_ingest_lag_ms;
  const bool ok = h.broker_connected && db_ok && lag_ok;
  std::vector<std::string> problems;
  if (!h.broker_connected) problems.push_back("broker: " + h.broker_error);
  if (!db_ok) problems.push_back("database: " + stats.error().message());
  if (!lag_ok) {
    problems.push_back("ingest: oldest message waiting " + std::to_string(h.ingest_lag_ms / 1000) + " s (limit " +
                       std::to_string(settings_.max_ingest_lag_ms / 1000) + " s)");
  }
  json body{{"ok", ok},
            {"site", settings_.site},
            {"version", settings_.version},
            {"time_zone", settings_.time_zone},
            {"time", ctx_->time(now)},
            {"broker", {{"connected", h.broker_connected},
                        {"error", h.broker_connected ? json(nullptr) : json(h.broker_error)}}},
            {"ingest", {{"queued", h.ingest_queued}, {"lag_ms", h.ingest_lag_ms}}},
            {"database", {{"ok", db_ok}, {"error", db_ok ? json(nullptr) : json(stats.error().message())}}},
            {"problems", problems}};
  return reply(ok ? 200 : 503, body);
}

}  // namespace lg::server::http
