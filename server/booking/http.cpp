#include "server/booking/http.hpp"

#include "server/audit/http.hpp"
#include "server/audit/record.hpp"
#include "server/booking/rules.hpp"
#include "server/identity/rules.hpp"
#include "server/transport/http/json_api.hpp"

namespace lg::server::booking {

using namespace http;

namespace {
json booking_json(const Booking& b, const ApiContext& ctx) {
  return json{{"id", b.id}, {"instrument", b.instrument}, {"user", b.user}, {"start", ctx.time(b.start_ms)},
              {"end", ctx.time(b.end_ms)}};
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
}

}  // namespace lg::server::booking
