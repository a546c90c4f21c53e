#include "server/billing/http.hpp"

#include "labgate/common/money.hpp"
#include "server/audit/http.hpp"
#include "server/audit/record.hpp"
#include "server/reports/http.hpp"
#include "server/identity/rules.hpp"
#include "server/transport/http/json_api.hpp"

namespace lg::server::billing {

using namespace http;

namespace {
constexpr int64_t kMaxRate = 1'000'000'000;  // fen per hour (10 million yuan)

json fee_json(const ApiContext& ctx, const FeeStandard& fs) {
  return json{{"instrument", fs.instrument},
              {"internal_fen_per_hour", fs.internal_fen_per_hour},
              {"external_fen_per_hour", fs.external_fen_per_hour},
              {"currency", fs.currency},
              {"retired", ctx.time_or_null(fs.retired_ms)}};
}
}  // namespace

json charge_json(const Charge& c, const ApiContext& ctx) {
  return json{{"id", c.id},
              {"session", c.session},
              {"instrument", c.instrument},
              {"user", c.user},
              {"category", c.category},
              {"rate_fen_per_hour", c.rate_fen_per_hour},
              {"duration_ms", c.duration_ms},
              {"amount_fen", c.amount_fen},
              {"amount", money::format(c.amount_fen)},
              {"currency", c.currency},
              {"flags", c.flags},
              {"end", ctx.time(c.end_ms)}};
}

void add_routes(Router& router, const ApiContext& ctx, UnitOfWork& uow, Store& store, audit::Store& audit) {
  router.add({"POST", "/api/fee-standards", Access::body(identity::Right::money_write, identity::Kind::instrument, "instrument"), [&](const Request& req, const PathParams&) {
                Response bad;
                auto body = parse_body(req, bad);
                if (!body) return bad;
                Fields f(*body, {"instrument", "internal_fen_per_hour", "external_fen_per_hour", "currency"});
                FeeStandard fee;
                fee.instrument = f.id("instrument");
                fee.internal_fen_per_hour = f.integer("internal_fen_per_hour", 0, kMaxRate);
                fee.external_fen_per_hour = f.integer("external_fen_per_hour", 0, kMaxRate);
                fee.currency = f.opt_text("currency");
                if (fee.currency.empty()) fee.currency = ctx.currency;
                if (f.ok() && fee.currency.size() != 3) f.invalid("currency", "must be a 3-letter code");
                if (!f.ok()) return f.response();
                const int64_t now = ctx.now();
                auto s = audit::record(uow, audit, audit::request_context(req), now,
                                       [&]() -> Result<std::optional<audit::Change>> {
                                         const std::string asked[] = {fee.instrument};
                                         auto old = store.fees(asked);
                                         if (!old) return old.error();
                                         LG_TRY(store.put_fee_standard(fee, now));
                                         const auto& before = (*old)[fee.instrument];
                                         return audit::changed(audit::Change{before ? "update" : "create", "fee_standard",
                                                              fee.instrument, before ? fee_json(ctx, *before).dump() : "",
                                                              fee_json(ctx, fee).dump()});
                                       });
                if (!s) return failure(s.error());
                return reply(201, json{{"instrument", fee.instrument}});
              }});
  // Retired with history: the standard stays listed, and sessions ending from now on charge nothing
  // (flagged no_fee_standard) until a new one is set.
  router.add({"DELETE", "/api/fee-standards/{instrument}",
              Access::path(identity::Right::money_write, identity::Kind::instrument, "instrument"),
              [&](const Request& req, const PathParams& pp) {
                const std::string& instrument = pp.at("instrument");
                const int64_t now = ctx.now();
                std::optional<FeeStandard> retired;
                auto s = audit::record(uow, audit, audit::request_context(req), now,
                                       [&]() -> Result<std::optional<audit::Change>> {
                                         auto before = store.retire_fee_standard(instrument, now);
                                         if (!before) return before.error();
                                         retired = *before;
                                         retired->retired_ms = now;
                                         return audit::changed(audit::Change{"retire", "fee_standard", instrument,
                                                                             fee_json(ctx, *before).dump(),
                                                                             fee_json(ctx, *retired).dump()});
                                       });
                if (!s) return failure(s.error());
                return reply(200, fee_json(ctx, *retired));
              },
              "Retire an instrument's fee standard (kept; charges nothing until a new one is set)"});
  // Fee standards are public, like the catalogue they price.
  router.add(list_route<FeeStandard>("/api/fee-standards", "fee-standards", ctx, Access::any(identity::Right::catalogue),
                                     [&](const Page& p) { return store.fee_standards(p); },
                                     [&ctx](const FeeStandard& fs) { return fee_json(ctx, fs); }));
  router.add({"GET", "/api/charges", Access::any(identity::Right::money_read), [&](const Request& req, const PathParams&) {
                Response bad;
                auto period = reports::period_param(req, ctx, bad);
                if (!period) return bad;
                auto page = page_param(req, "charges", ctx, bad);
                if (!page) return bad;
                auto w = reports::months_window(period->from, period->to, ctx.time_zone);
                if (!w) return error(422, "invalid query: " + w.error().reason);
                return page_reply<Charge>(req, "charges", ctx, page->limit, store.charges(w->first, w->second, *page),
                                          [&](const Charge& c) {
                                            using identity::Kind;
                                            if (!ctx.may(req, identity::Right::money_read,
                                                         {{Kind::instrument, c.instrument}, {Kind::user, c.user}}))
                                              return json(nullptr);
                                            return charge_json(c, ctx);
                                          });
              }});
}

}  // namespace lg::server::billing
