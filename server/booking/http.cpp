#include "server/booking/http.hpp"

#include "server/booking/rules.hpp"
#include "server/transport/http/json_api.hpp"

namespace lg::server::booking {

using namespace http;

void add_routes(Router& router, const ApiContext& ctx, Service& service, Store& store) {
  router.add({"POST", "/api/bookings", Permission::admin, [&](const Request& req, const PathParams&) {
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
                auto out = service.create(b, ctx.now());
                if (!out) return failure(out.error());
                if (!out->conflict.empty()) {
                  return reply(409, json{{"error", "booking overlaps booking " + out->conflict},
                                         {"conflict", out->conflict}});
                }
                ctx.changed(b.instrument);
                return reply(201, json{{"id", out->id}});
              }});
  router.add(list_route<Booking>("/api/bookings", "bookings", ctx, [&](const Page& p) { return store.list(p); },
                                 [&](const Booking& b) {
                                   return json{{"id", b.id},
                                               {"instrument", b.instrument},
                                               {"user", b.user},
                                               {"start", ctx.time(b.start_ms)},
                                               {"end", ctx.time(b.end_ms)}};
                                 }));
}

}  // namespace lg::server::booking
