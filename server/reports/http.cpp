#include "server/reports/http.hpp"

#include "labgate/common/money.hpp"
#include "labgate/common/time.hpp"
#include "server/identity/rules.hpp"
#include "server/transport/http/json_api.hpp"

namespace lg::server::reports {

using namespace http;

namespace {

json row_json(const report::Row& r) {
  return json{{"key", r.key},           {"name", r.name},   {"sessions", r.sessions},
              {"seconds", r.seconds},   {"hours", r.hours}, {"amount_fen", r.amount_fen},
              {"amount", money::format(r.amount_fen)}};
}

}  // namespace

Result<std::pair<int64_t, int64_t>> months_window(const std::string& first, const std::string& last,
                                                  const std::string& tz) {
  auto from = time::local_month_start(first, tz);
  if (!from) return from.error();
  auto next = time::next_month(last);
  if (!next) return next.error();
  auto to = time::local_month_start(*next, tz);
  if (!to) return to.error();
  return std::pair{*from, *to};
}

std::optional<report::Period> period_param(const Request& req, const ApiContext& ctx, Response& resp) {
  auto current = time::local_month(ctx.now(), ctx.time_zone);
  if (!current) {
    resp = error(500, "internal error: " + current.error().message());
    return std::nullopt;
  }
  auto p = report::period_from(query(req, "month"), query(req, "from"), query(req, "to"), *current);
  if (!p) {
    resp = error(422, "invalid query: " + p.error().reason);
    return std::nullopt;
  }
  return std::move(p).value();
}

void add_routes(Router& router, const ApiContext& ctx, Store& store) {
  router.add({"GET", "/api/reports/usage", Access::any(identity::Right::usage_read), [&](const Request& req, const PathParams&) {
                Response bad;
                const std::string by_text = query(req, "by").empty() ? std::string("instrument") : query(req, "by");
                auto by = report::group_by_from(by_text);
                if (!by) return error(422, "invalid query: by must be instrument|user|month");
                auto period = period_param(req, ctx, bad);
                if (!period) return bad;
                const std::string& tz = ctx.time_zone;
                // The store sums the charges (one per closed session) per group; nothing here holds
                // more than one entry per group. Months are the site's: each is its own range.
                // A caller without site-wide usage_read sees the instruments and users of their
                // scope only; totals over everything (by month) are the site's.
                const bool site_wide = identity::allows(req.who(), identity::Right::usage_read, identity::Place{});
                if (!site_wide && *by == report::GroupBy::month) {
                  return error(403, "forbidden: monthly totals are site-wide; ask by=instrument or by=user");
                }
                std::vector<report::GroupSum> groups;
                if (*by == report::GroupBy::month) {
                  for (const std::string& m : report::months_of(*period)) {
                    auto w = months_window(m, m, tz);
                    if (!w) return error(422, "invalid query: " + w.error().reason);
                    auto total = store.usage_total(w->first, w->second);
                    if (!total) return failure(total.error());
                    if (total->sessions == 0) continue;
                    total->key = m;
                    total->name = m;
                    groups.push_back(std::move(*total));
                  }
                } else {
                  auto w = months_window(period->from, period->to, tz);
                  if (!w) return error(422, "invalid query: " + w.error().reason);
                  auto sums = store.usage_groups(*by, w->first, w->second);
                  if (!sums) return failure(sums.error());
                  groups = std::move(*sums);
                }
                if (!site_wide) {
                  const identity::Kind kind = *by == report::GroupBy::user ? identity::Kind::user : identity::Kind::instrument;
                  std::erase_if(groups, [&](const report::GroupSum& g) {
                    return !ctx.may(req, identity::Right::usage_read, {{kind, g.key}});
                  });
                }
                const report::Report rep = report::from_groups(std::move(groups), *by);
                json rows = json::array();
                for (const auto& r : rep.rows) rows.push_back(row_json(r));
                const bool one_month = period->from == period->to;
                return reply(200, json{{"month", one_month ? json(period->from) : json(nullptr)},
                                       {"from", period->from},
                                       {"to", period->to},
                                       {"by", report::to_string(*by)},
                                       {"currency", ctx.currency},
                                       {"time_zone", ctx.time_zone},
                                       {"rows", rows},
                                       {"totals", row_json(rep.totals)}});
              }});
}

}  // namespace lg::server::reports
