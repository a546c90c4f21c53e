#include "server/usage/http.hpp"

#include "server/billing/http.hpp"
#include "server/identity/rules.hpp"
#include "server/transport/http/json_api.hpp"

namespace lg::server::usage {

using namespace http;

void add_routes(Router& router, const ApiContext& ctx, Store& store) {
  router.add({"GET", "/api/access-events", Access::any(identity::Right::usage_read), [&](const Request& req, const PathParams&) {
                Response bad;
                auto page = page_param(req, "access-events", ctx, bad);
                if (!page) return bad;
                AccessFilter f{query(req, "terminal"), query(req, "decision"), *page};
                if (!f.decision.empty() && f.decision != "granted" && f.decision != "denied") {
                  return error(422, "invalid query: decision must be granted|denied");
                }
                return page_reply<AccessEvent>(
                    req, "access-events", ctx, page->limit, store.access_events(f), [&](const AccessEvent& e) {
                      if (!ctx.may(req, identity::Right::usage_read,
                                   {{identity::Kind::instrument, e.resource}, {identity::Kind::user, e.user}}))
                        return json(nullptr);
                      return json{{"id", e.record_id},
                                  {"terminal", e.terminal},
                                  {"seq", e.seq},
                                  {"time", ctx.time(e.ts_ms)},
                                  {"card", e.card},
                                  {"user", e.user.empty() ? json(nullptr) : json(e.user)},
                                  {"user_resolved", e.user_resolved},
                                  {"resource", e.resource},
                                  {"output", e.output},
                                  {"decision", e.decision},
                                  {"reason", e.reason},
                                  {"mode", e.mode},
                                  {"acl_version", e.acl_version},
                                  {"booking", e.booking.empty() ? json(nullptr) : json(e.booking)},
                                  {"clock_synced", e.clock_synced}};
                    });
              }});
  router.add({"GET", "/api/sessions", Access::any(identity::Right::usage_read), [&](const Request& req, const PathParams&) {
                Response bad;
                auto page = page_param(req, "sessions", ctx, bad);
                if (!page) return bad;
                SessionFilter f{query(req, "instrument"), query(req, "user"), *page};
                return page_reply<UsageSession>(
                    req, "sessions", ctx, page->limit, store.sessions(f), [&](const UsageSession& s) {
                      if (!ctx.may(req, identity::Right::usage_read,
                                   {{identity::Kind::instrument, s.resource}, {identity::Kind::user, s.user}}))
                        return json(nullptr);
                      return json{{"id", s.id},
                                  {"terminal", s.terminal},
                                  {"instrument", s.resource},
                                  {"user", s.user.empty() ? json(nullptr) : json(s.user)},
                                  {"card", s.card},
                                  {"booking", s.booking.empty() ? json(nullptr) : json(s.booking)},
                                  {"status", s.closed ? "closed" : "open"},
                                  {"start", ctx.time(s.start_ms)},
                                  {"end", ctx.time_or_null(s.end_ms)},
                                  {"duration_ms", int_or_null(s.duration_ms)},
                                  {"seconds", s.duration_ms ? json(*s.duration_ms / 1000) : json(nullptr)},
                                  {"energy_wh", int_or_null(s.energy_wh)},
                                  {"end_reason", s.end_reason.empty() ? json(nullptr) : json(s.end_reason)},
                                  {"flags", s.flags},
                                  {"charge", s.charge ? billing::charge_json(*s.charge, ctx) : json(nullptr)}};
                    });
              }});
  router.add({"GET", "/api/stats", Permission::admin, [&](const Request&, const PathParams&) {
                auto s = store.stats();
                if (!s) return failure(s.error());
                json rejected = json::object();
                for (const auto& [reason, n] : s->rejected) rejected[reason] = n;
                return reply(200, json{{"ingest",
                                        {{"batches", s->batches},
                                         {"records", s->records},
                                         {"duplicates", s->duplicates},
                                         {"acks", s->acks}}},
                                       {"rejected", rejected}});
              }});
}

}  // namespace lg::server::usage
