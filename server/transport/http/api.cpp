#include "server/transport/http/api.hpp"

#include <chrono>

#include "labgate/common/crypto.hpp"
#include "labgate/common/log.hpp"
#include "server/audit/http.hpp"
#include "server/billing/http.hpp"
#include "server/booking/http.hpp"
#include "server/directory/http.hpp"
#include "server/identity/auth.hpp"
#include "server/qualification/http.hpp"
#include "server/reports/http.hpp"
#include "server/terminals/http.hpp"
#include "server/transport/http/json_api.hpp"
#include "server/transport/http/openapi.hpp"
#include "server/usage/http.hpp"

namespace lg::server::http {

namespace {
constexpr std::string_view kLog = "http";
}

Api::Api(Stores stores, booking::Service& booking, DirtySet& dirty, Health& health_state, ApiSettings settings,
         std::function<int64_t()> now, metrics::ServerMetrics* shared_metrics)
    : stores_(stores), health_(health_state), settings_(std::move(settings)) {
  if (!shared_metrics) own_metrics_ = std::make_unique<metrics::ServerMetrics>();
  metrics_ = shared_metrics ? shared_metrics : own_metrics_.get();
  ctx_ = std::make_unique<ApiContext>();
  ctx_->site = settings_.site;
  ctx_->version = settings_.version;
  ctx_->time_zone = settings_.time_zone;
  ctx_->currency = settings_.currency;
  ctx_->now = std::move(now);
  ctx_->dirty = &dirty;
  // Cursors are signed under a key only this server derives: from its bootstrap admin token when
  // one is configured (every node of a site shares it), else a random key of this process.
  const std::string cursor_secret = settings_.admin_token.empty() ? crypto::random_bytes(32) : settings_.admin_token;
  const crypto::Digest d = crypto::hmac_sha256(cursor_secret, "labgate page cursor v1");
  ctx_->cursor_key.assign(reinterpret_cast<const char*>(d.data()), d.size());
  identity::Store& ids = stores_.identity;
  ctx_->places = [&ids](identity::Kind k, const std::string& id) { return ids.place(k, id); };
  router_.set_places(ctx_->places);

  router_.add({"GET", "/api/health", Permission::open, [this](const Request& r, const PathParams&) { return health(r); }});
  // Open like health: Prometheus scrapers carry no token. Counts and durations only (no card,
  // user, session or booking appears in it), see docs/SERVER.md "Metrics".
  router_.add(
      {"GET", "/metrics", Permission::open, [this](const Request& r, const PathParams&) { return metrics(r); }});
  identity::add_routes(router_, *ctx_, identity::RouteStores{stores_.uow, stores_.identity, stores_.directory, stores_.audit},
                       settings_.auth);
  directory::add_routes(router_, *ctx_, stores_.uow, stores_.directory, stores_.audit);
  billing::add_routes(router_, *ctx_, stores_.uow, stores_.billing, stores_.audit);
  qualification::add_routes(router_, *ctx_, stores_.uow, stores_.qualification, stores_.audit);
  booking::add_routes(router_, *ctx_, booking, stores_.uow, stores_.booking, stores_.audit);
  terminals::add_routes(router_, *ctx_, stores_.uow, stores_.terminals, stores_.audit);
  audit::add_routes(router_, *ctx_, stores_.audit);
  usage::add_routes(router_, *ctx_, stores_.usage);
  reports::add_routes(router_, *ctx_, stores_.reports);
  // Last, so that it describes every route above (and itself).
  router_.add({"GET", "/api/openapi.json", Access::open(),
               [this](const Request&, const PathParams&) {
                 Response r(200, openapi_json(router_.routes(), "labgate " + settings_.site, settings_.version));
                 r.headers.emplace_back("Content-Type", "application/json");
                 return r;
               },
               "This document: the API generated from the router table"});
}

Api::~Api() = default;

Response Api::handle(const Request& in) {
  const auto start = std::chrono::steady_clock::now();
  // Every request has an id: kept in the audit entries of what it changed, and answered as
  // X-Request-Id so that a person can find them.
  const Request* reqp = &in;
  Request with_id;
  if (in.request_id.empty()) {
    with_id = in;
    with_id.request_id = crypto::uuid7();
    reqp = &with_id;
  }
  // Who is calling: resolved once, before the router checks the route's access. A browser signs
  // in with the session cookie instead of the Authorization header (which wins when both come);
  // the sign-in routes ignore the cookie, they authenticate by their body.
  Request who = *reqp;
  std::string cookie_session;
  if (who.authorization.empty() && who.path != "/api/login" && who.path != "/api/login/cas") {
    if (auto c = cookie_value(who.cookie, kSessionCookie); c && !c->empty()) {
      cookie_session = std::move(*c);
      who.authorization = "Bearer " + cookie_session;
    }
  }
  auto cred = identity::resolve(stores_.identity, who.authorization, settings_.admin_token, ctx_->now());
  if (cred.unavailable) {
    Response r = error(503, cred.problem);
    r.headers.emplace_back("X-Request-Id", who.request_id);
    return r;
  }
  if (!cookie_session.empty() && !cred.problem.empty()) {
    cred.problem = "the " + std::string(kSessionCookie) + " cookie was refused (" + cred.problem + "): sign in again";
  }
  who.principal = std::move(cred.principal);
  who.credential_problem = std::move(cred.problem);
  const Request& req = who;
  // Double-submit CSRF check: a write signed in by the cookie (which a browser also sends with a
  // request another site makes it send) must repeat the CSRF token, which only this site's own
  // pages can read. Checked before the route runs, so a refused write changes nothing.
  const bool csrf_refused = !cookie_session.empty() && req.principal && !safe_method(req.method) &&
                            !crypto::equal_constant_time(req.csrf_token, csrf_token(cookie_session));
  Response r = csrf_refused ? error(403, "forbidden: CSRF check failed: a " + req.method +
                                             " signed in by the " + std::string(kSessionCookie) +
                                             " cookie needs the header " + std::string(kCsrfHeader) +
                                             " with the value of the " + std::string(kCsrfCookie) +
                                             " cookie (the csrf_token the sign-in answered)")
                            : router_.dispatch(req);
  r.headers.emplace_back("X-Request-Id", req.request_id);
  metrics_->http_seconds.observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  metrics_->http_requests.with({std::to_string(r.status)}).inc();
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
  // A remote CA signer (pki.signer_url) that does not answer stops enrolment and renewal only:
  // shown here, without turning the node unhealthy (it serves everything else).
  if (h.signer_watched)
    body["signer"] = {{"reachable", h.signer_reachable},
                      {"error", h.signer_reachable ? json(nullptr) : json(h.signer_error)}};
  return reply(ok ? 200 : 503, body);
}

Response Api::metrics(const Request&) {
  const int64_t now = ctx_->now();
  const Health::Report h = health_.report(now);
  metrics::ScrapeState s;
  s.version = settings_.version;
  s.broker_connected = h.broker_connected;
  s.ingest_queued = h.ingest_queued;
  s.ingest_lag_ms = h.ingest_lag_ms;
  s.dirty_pending = ctx_->dirty && ctx_->dirty->pending();
  // Two reads on this worker's connection; a failure leaves their series out (database_up 0).
  auto stats = stores_.usage.stats();
  auto terminals = stores_.terminals.all();
  if (stats) s.ingest = std::move(*stats);
  if (terminals) s.terminals = metrics::count_terminals(*terminals, now);
  s.database_ok = stats && terminals;
  if (!s.database_ok) {
    log::warn(kLog, "metrics: database read failed: " +
                        (stats ? terminals.error().message() : stats.error().message()));
  }
  Response r(200, metrics::render(*metrics_, s));
  r.headers.emplace_back("Content-Type", std::string(metrics::kContentType));
  return r;
}

}  // namespace lg::server::http
