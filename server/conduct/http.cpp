#include "server/conduct/http.hpp"

#include "labgate/common/time.hpp"
#include "server/audit/http.hpp"
#include "server/audit/record.hpp"
#include "server/identity/rules.hpp"
#include "server/transport/http/json_api.hpp"

namespace lg::server::conduct {

using namespace http;

namespace {

json event_json(const Event& e, const ApiContext& ctx) {
  return json{{"id", e.id},
              {"user", e.user},
              {"instrument", e.instrument},
              {"booking", e.booking},
              {"kind", to_string(e.kind)},
              {"at", ctx.time(e.at_ms)},
              {"points", e.points},
              {"detail", e.detail},
              {"waived", ctx.time_or_null(e.waived_ms)},
              {"waived_by", e.waived_by},
              {"waive_reason", e.waive_reason}};
}

json block_json(const std::optional<Block>& b, const ApiContext& ctx) {
  if (!b) return json(nullptr);
  return json{{"from", ctx.time(b->from_ms)}, {"until", ctx.time(b->until_ms)}, {"score", b->score}, {"reason", b->reason}};
}

json credit_json(const Credit& c, const ApiContext& ctx, const Policy& p, int64_t now) {
  json events = json::array();
  for (const Event& e : c.events) {
    json j = event_json(e, ctx);
    j["costs_now"] = remaining_cost(e, now, p);
    events.push_back(std::move(j));
  }
  return json{{"user", c.user},
              {"score", c.score},
              {"start_score", p.start_score},
              {"block_below", p.block_below},
              {"blocked", block_json(c.block, ctx)},
              {"events", std::move(events)}};
}

Response credit_reply(Service& service, const ApiContext& ctx, const std::string& user) {
  const int64_t now = ctx.now();
  auto c = service.credit(user, now);
  if (!c) return failure(c.error());
  return reply(200, credit_json(*c, ctx, service.policy(), now));
}

}  // namespace

void add_routes(Router& router, const ApiContext& ctx, Service& service, UnitOfWork& uow, audit::Store& audit) {
  router.add({"GET", "/api/conduct-events", Access::any(identity::Right::usage_read),
              [&](const Request& req, const PathParams&) {
                const int64_t now = ctx.now();
                int64_t from = now - 30LL * 86400 * 1000, to = now + 1;
                for (auto [key, into] : {std::pair<const char*, int64_t*>{"from", &from}, {"to", &to}}) {
                  const std::string v = query(req, key);
                  if (v.empty()) continue;
                  auto ms = time::parse_utc(v);
                  if (!ms) return error(422, std::string("invalid query: ") + key + ": must be an RFC 3339 time");
                  *into = *ms;
                }
                if (to <= from) return error(422, "invalid query: to: must be after from");
                auto rows = service.recent(query(req, "instrument"), from, to, 1000);
                if (!rows) return failure(rows.error());
                json out = json::array();
                for (const Event& e : *rows) {
                  using identity::Kind;
                  if (!ctx.may(req, identity::Right::usage_read, {{Kind::instrument, e.instrument}, {Kind::user, e.user}}))
                    continue;
                  out.push_back(event_json(e, ctx));
                }
                return reply(200, out);
              },
              "No-shows, late arrivals, overtime and late cancellations in ?from= .. ?to= (default the last 30 "
              "days), ?instrument=, newest first (at most 1000), those the caller may see"});
  router.add({"POST", "/api/conduct-events/{id}/waive", Access::any(identity::Right::instrument_write),
              [&](const Request& req, const PathParams& pp) {
                const std::string& id = pp.at("id");
                Response bad;
                auto body = parse_body(req, bad);
                if (!body) return bad;
                Fields f(*body, {"reason"});
                const std::string reason = f.text("reason");
                if (!f.ok()) return f.response();
                auto e = service.event(id);
                if (!e) return failure(e.error());
                using identity::Kind;
                if (!ctx.may(req, identity::Right::instrument_write, {{Kind::instrument, e->instrument}}))
                  return error(403, "forbidden: the event's instrument is not in your scope");
                const int64_t now = ctx.now();
                std::optional<Waiver> w;
                const std::string by = req.who().user.empty() ? std::string("admin-token") : req.who().user;
                auto s = audit::record(uow, audit, audit::request_context(req), now,
                                       [&]() -> Result<std::optional<audit::Change>> {
                                         auto r = service.waive(id, by, reason, now);
                                         if (!r) return r.error();
                                         w = *r;
                                         return audit::changed(audit::Change{"waive", "conduct_event", id,
                                                                             event_json(r->before, ctx).dump(),
                                                                             event_json(r->after, ctx).dump()});
                                       });
                if (!s) return failure(s.error());
                json out = event_json(w->after, ctx);
                out["score"] = w->score;
                out["block_lifted"] = w->lifted.has_value();
                return reply(200, out);
              },
              "Waive a conduct event with a reason (instrument admins of its instrument): it costs nothing from "
              "now on, and a block the score no longer justifies is lifted"});
  router.add({"GET", "/api/users/{id}/credit", Access::path(identity::Right::usage_read, identity::Kind::user),
              [&](const Request&, const PathParams& pp) { return credit_reply(service, ctx, pp.at("id")); },
              "A user's credit: the score, what each conduct event still costs, and the block in force"});
  router.add({"GET", "/api/me/credit", Access::signed_in(),
              [&](const Request& req, const PathParams&) {
                if (req.who().user.empty()) return error(404, "credit: the bootstrap token is no user");
                return credit_reply(service, ctx, req.who().user);
              },
              "The caller's credit (as /api/users/{id}/credit)"});
}

}  // namespace lg::server::conduct
