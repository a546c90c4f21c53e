#include "server/booking/http.hpp"

#include <map>

#include "labgate/common/ical.hpp"
#include "labgate/common/log.hpp"
#include "server/audit/http.hpp"
#include "server/audit/record.hpp"
#include "server/booking/rules.hpp"
#include "server/identity/rules.hpp"
#include "server/transport/http/json_api.hpp"

namespace lg::server::booking {

using namespace http;

namespace {
json booking_json(const Booking& b, const ApiContext& ctx) {
  json j{{"id", b.id},          {"instrument", b.instrument}, {"user", b.user}, {"start", ctx.time(b.start_ms)},
         {"end", ctx.time(b.end_ms)}, {"status", to_string(b.status)}};
  if (b.status == BookingStatus::cancelled) {
    j["cancelled"] = ctx.time_or_null(b.cancelled_ms);
    j["cancel_reason"] = b.cancel_reason;
  }
  return j;
}
}  // namespace

void add_routes(Router& router, const ApiContext& ctx, Service& service, UnitOfWork& uow, Store& store,
                audit::Store& audit) {
  router.add({"POST", "/api/bookings", Access::body2(identity::Right::booking_write, identity::Kind::instrument, "instrument", identity::Kind::user, "user"), [&](const Request& req, const PathParams&) {
                Response bad;
                auto body = parse_body(req, bad);
                if (!body) return bad;
                Fields f(*body, {"instrument", "user", "start", "end"});
                Booking b;
                b.instrument = f.id("instrument");
                b.user = f.id("user");
                b.start_ms = f.time("start", true).value_or(0);
                b.end_ms = f.time("end", true).value_or(0);
                if (f.ok()) {
                  if (auto why = validate(b.start_ms, b.end_ms)) return error(422, "invalid field: " + *why);
                }
                if (!f.ok()) return f.response();
                const int64_t now = ctx.now();
                std::optional<Result<BookingOutcome>> out;
                auto s = audit::record(uow, audit, audit::request_context(req), now,
                                       [&]() -> Result<std::optional<audit::Change>> {
                                         out.emplace(service.create(b, now));
                                         if (!*out) return (*out).error();
                                         if ((*out)->id.empty()) return audit::unchanged();  // an overlap: nothing written
                                         Booking made = b;
                                         made.id = (*out)->id;
                                         return audit::changed(audit::Change{"create", "booking", made.id, "",
                                                              booking_json(made, ctx).dump()});
                                       });
                if (!s) return failure(s.error());
                const BookingOutcome& o = **out;
                if (!o.conflict.empty()) {
                  return reply(409, json{{"error", "booking overlaps booking " + o.conflict}, {"conflict", o.conflict}});
                }
                ctx.changed(b.instrument);
                return reply(201, json{{"id", o.id}});
              }});
  // Cancelled, not deleted: kept with when and why; it overlaps nothing and opens nothing from the
  // instrument's next bundle.
  router.add({"DELETE", "/api/bookings/{id}", Access::path(identity::Right::booking_write, identity::Kind::booking),
              [&](const Request& req, const PathParams& pp) {
                const std::string& id = pp.at("id");
                std::string reason;
                if (!req.body.empty()) {
                  Response bad;
                  auto body = parse_body(req, bad);
                  if (!body) return bad;
                  Fields f(*body, {"reason"});
                  reason = f.opt_text("reason");
                  if (!f.ok()) return f.response();
                }
                const int64_t now = ctx.now();
                std::optional<BookingChange> change;
                auto s = audit::record(uow, audit, audit::request_context(req), now,
                                       [&]() -> Result<std::optional<audit::Change>> {
                                         auto c = service.cancel(id, reason, now);
                                         if (!c) return c.error();
                                         change = *c;
                                         return audit::changed(audit::Change{"cancel", "booking", id,
                                                                             booking_json(c->before, ctx).dump(),
                                                                             booking_json(c->after, ctx).dump()});
                                       });
                if (!s) return failure(s.error());
                ctx.changed(change->after.instrument);
                return reply(200, booking_json(change->after, ctx));
              },
              "Cancel a booking: kept with when and why; it no longer holds the slot or opens the instrument"});
  router.add({"PATCH", "/api/bookings/{id}", Access::path(identity::Right::booking_write, identity::Kind::booking),
              [&](const Request& req, const PathParams& pp) {
                const std::string& id = pp.at("id");
                Response bad;
                auto body = parse_body(req, bad);
                if (!body) return bad;
                Fields f(*body, {"start", "end"});
                const int64_t start = f.time("start", true).value_or(0);
                const int64_t end = f.time("end", true).value_or(0);
                if (f.ok()) {
                  if (auto why = validate(start, end)) return error(422, "invalid field: " + *why);
                }
                if (!f.ok()) return f.response();
                const int64_t now = ctx.now();
                std::optional<Result<BookingChange>> out;
                auto s = audit::record(uow, audit, audit::request_context(req), now,
                                       [&]() -> Result<std::optional<audit::Change>> {
                                         out.emplace(service.move(id, start, end, now));
                                         if (!*out) return (*out).error();
                                         if (!(*out)->conflict.empty()) return audit::unchanged();  // nothing written
                                         return audit::changed(audit::Change{"move", "booking", id,
                                                                             booking_json((*out)->before, ctx).dump(),
                                                                             booking_json((*out)->after, ctx).dump()});
                                       });
                if (!s) return failure(s.error());
                const BookingChange& c = **out;
                if (!c.conflict.empty()) {
                  return reply(409, json{{"error", "booking overlaps booking " + c.conflict}, {"conflict", c.conflict}});
                }
                ctx.changed(c.after.instrument);
                return reply(200, booking_json(c.after, ctx));
              },
              "Move an active booking to a new interval, admitted like a new one (qualification, no overlap)"});
  router.add({"GET", "/api/bookings", Access::any(identity::Right::usage_read), [&](const Request& req, const PathParams&) {
                Response bad;
                auto page = page_param(req, "bookings", ctx, bad);
                if (!page) return bad;
                return page_reply<Booking>(req, "bookings", ctx, page->limit, store.list(*page), [&](const Booking& b) {
                  using identity::Kind;
                  if (!ctx.may(req, identity::Right::usage_read, {{Kind::instrument, b.instrument}, {Kind::user, b.user}}))
                    return json(nullptr);
                  return booking_json(b, ctx);
                });
              }});
  // The same bookings as a calendar an app subscribes to (issue 13's "iCal link"): the rows the
  // caller may see, as GET /api/bookings shows them, from feed_from(now) on (every booking still
  // running, a month back) unless ?cursor= says where; ?limit= up to the most rows a page holds
  // (also the default: a calendar app follows no Link). Times in UTC; the app shows its own zone.
  router.add({"GET", "/api/bookings.ics", Access::any(identity::Right::usage_read),
              [&](const Request& req, const PathParams&) {
                Response bad;
                auto page = page_param(req, "bookings", ctx, bad);
                if (!page) return bad;
                if (query(req, "limit").empty()) page->limit = defaults::kMaxPageSize;
                const int64_t now = ctx.now();
                if (page->after.empty()) page->after = PageKey{feed_from(now), std::string()};
                auto rows = store.list(*page);
                if (!rows) {
                  if (is(rows.error(), Errc::bad_position)) return error(422, "invalid query: " + rows.error().reason);
                  return failure(rows.error());
                }
                ical::Calendar cal{"-//labgate//labgate " + ctx.version + "//EN", "labgate " + ctx.site + " bookings"};
                std::map<std::string, EventPlace, std::less<>> places;  // instrument -> names, read once
                for (const Booking& b : *rows) {
                  using identity::Kind;
                  if (!ctx.may(req, identity::Right::usage_read, {{Kind::instrument, b.instrument}, {Kind::user, b.user}}))
                    continue;
                  auto at = places.find(b.instrument);
                  if (at == places.end()) {
                    auto where = service.place(b.instrument);
                    if (!where) return failure(where.error());
                    at = places.emplace(b.instrument, std::move(*where)).first;
                  }
                  cal.events.push_back(calendar_event(b, at->second, ctx.site, now));
                }
                auto text = ical::write(cal);
                if (!text) {
                  log::error("http", "bookings feed: " + text.error().reason);
                  return error(500, "internal error: the calendar cannot be written: " + text.error().reason);
                }
                Response r(200, std::move(*text));
                r.headers.emplace_back("Content-Type", "text/calendar; charset=utf-8");
                if (rows->more())
                  r.headers.emplace_back("Link", next_link(req, page->limit, make_cursor(ctx.cursor_key, "bookings", rows->next)));
                return r;
              },
              "The bookings the caller may see as an RFC 5545 calendar (text/calendar): from 31 days back, "
              "?limit= (default and at most 10000) and ?cursor= as GET /api/bookings"});
}

}  // namespace lg::server::booking
