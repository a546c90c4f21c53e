#include "server/qualification/http.hpp"

#include "server/qualification/rules.hpp"
#include "server/transport/http/json_api.hpp"

namespace lg::server::qualification {

using namespace http;

void add_routes(Router& router, const ApiContext& ctx, Store& store) {
  router.add({"POST", "/api/qualifications", Permission::admin, [&](const Request& req, const PathParams&) {
                Response bad;
                auto body = parse_body(req, bad);
                if (!body) return bad;
                Fields f(*body, {"user", "instrument", "valid_from", "valid_until"});
                Qualification q;
                q.user = f.id("user");
                q.instrument = f.id("instrument");
                q.valid_from_ms = f.time("valid_from", false).value_or(0);
                q.valid_until_ms = f.time("valid_until", false);
                if (f.ok()) {
                  if (const std::string why = validate(q); !why.empty()) {
                    const auto colon = why.find(':');
                    f.invalid(why.substr(0, colon).c_str(), why.substr(colon + 2));
                  }
                }
                if (!f.ok()) return f.response();
                if (auto s = store.put(q, ctx.now()); !s) return failure(s.error());
                ctx.changed(q.instrument);
                return reply(201, json{{"user", q.user}, {"instrument", q.instrument}});
              }});
  router.add(list_route<Qualification>(
      "/api/qualifications", "qualifications", ctx, [&](const Page& p) { return store.list(p); },
      [&](const Qualification& q) {
        return json{{"user", q.user},
                    {"instrument", q.instrument},
                    {"valid_from", ctx.time(q.valid_from_ms)},
                    {"valid_until", ctx.time_or_null(q.valid_until_ms)}};
      }));
}

}  // namespace lg::server::qualification
