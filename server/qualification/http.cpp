#include "server/qualification/http.hpp"

#include "server/audit/http.hpp"
#include "server/audit/record.hpp"
#include "server/qualification/rules.hpp"
#include "server/identity/rules.hpp"
#include "server/transport/http/json_api.hpp"

namespace lg::server::qualification {

using namespace http;

namespace {
json qualification_json(const Qualification& q, const ApiContext& ctx) {
  return json{{"user", q.user},
              {"instrument", q.instrument},
              {"valid_from", ctx.time(q.valid_from_ms)},
              {"valid_until", ctx.time_or_null(q.valid_until_ms)},
              {"level", to_string(q.level)},
              {"source", q.source}};
}
}  // namespace

void add_routes(Router& router, const ApiContext& ctx, UnitOfWork& uow, Store& store, audit::Store& audit) {
  router.add({"POST", "/api/qualifications", Access::body(identity::Right::instrument_write, identity::Kind::instrument, "instrument"), [&](const Request& req, const PathParams&) {
                Response bad;
                auto body = parse_body(req, bad);
                if (!body) return bad;
                Fields f(*body, {"user", "instrument", "valid_from", "valid_until", "level"});
                Qualification q;
                q.user = f.id("user");
                q.instrument = f.id("instrument");
                q.valid_from_ms = f.time("valid_from", false).value_or(0);
                q.valid_until_ms = f.time("valid_until", false);
                if (const std::string level = f.text("level", false); !level.empty()) {
                  if (auto l = level_from(level)) q.level = *l;
                  else f.invalid("level", "must be supervised, independent or after_hours");
                }
                if (f.ok()) {
                  if (const std::string why = validate(q); !why.empty()) {
                    const auto colon = why.find(':');
                    f.invalid(why.substr(0, colon).c_str(), why.substr(colon + 2));
                  }
                }
                if (!f.ok()) return f.response();
                const int64_t now = ctx.now();
                auto s = audit::record(uow, audit, audit::request_context(req), now,
                                       [&]() -> Result<std::optional<audit::Change>> {
                                         auto old = store.get(q.user, q.instrument);
                                         if (!old) return old.error();
                                         LG_TRY(store.put(q, now));
                                         return audit::changed(audit::Change{*old ? "update" : "create", "qualification",
                                                              q.user + "/" + q.instrument,
                                                              *old ? qualification_json(**old, ctx).dump() : "",
                                                              qualification_json(q, ctx).dump()});
                                       });
                if (!s) return failure(s.error());
                ctx.changed(q.instrument);
                return reply(201, json{{"user", q.user}, {"instrument", q.instrument}});
              }});
  // Revoked, not deleted: the row stays with valid_until = now as history, and the terminal's next
  // bundle carries the ended grant, so the card no longer opens the instrument.
  router.add({"DELETE", "/api/qualifications/{user}/{instrument}",
              Access::path(identity::Right::instrument_write, identity::Kind::instrument, "instrument"),
              [&](const Request& req, const PathParams& pp) {
                const std::string& user = pp.at("user");
                const std::string& instrument = pp.at("instrument");
                const int64_t now = ctx.now();
                std::optional<Qualification> after;
                auto s = audit::record(
                    uow, audit, audit::request_context(req), now, [&]() -> Result<std::optional<audit::Change>> {
                      auto old = store.get(user, instrument);
                      if (!old) return old.error();
                      if (!*old) {
                        return domain_error(Errc::not_found,
                                            "qualification: " + user + " holds none on " + instrument);
                      }
                      if (std::string why = revoke_refusal(**old, now); !why.empty())
                        return domain_error(Errc::conflict, why);
                      after = revoked(**old, now);
                      LG_TRY(store.put(*after, now));
                      return audit::changed(audit::Change{"revoke", "qualification", user + "/" + instrument,
                                                          qualification_json(**old, ctx).dump(),
                                                          qualification_json(*after, ctx).dump()});
                    });
                if (!s) return failure(s.error());
                ctx.changed(instrument);
                return reply(200, qualification_json(*after, ctx));
              },
              "Revoke a qualification: kept as history, ending now; the terminal's next bundle no longer grants it"});
  router.add({"GET", "/api/qualifications", Access::any(identity::Right::usage_read),
              [&](const Request& req, const PathParams&) {
                Response bad;
                auto page = page_param(req, "qualifications", ctx, bad);
                if (!page) return bad;
                return page_reply<Qualification>(req, "qualifications", ctx, page->limit, store.list(*page),
                                                 [&](const Qualification& q) {
                                                   using identity::Kind;
                                                   if (!ctx.may(req, identity::Right::usage_read,
                                                                {{Kind::instrument, q.instrument}, {Kind::user, q.user}}))
                                                     return json(nullptr);
                                                   return qualification_json(q, ctx);
                                                 });
              }});
}

}  // namespace lg::server::qualification
