#include "server/audit/http.hpp"

#include <charconv>

#include "server/audit/rules.hpp"
#include "server/identity/rules.hpp"
#include "server/transport/http/json_api.hpp"

namespace lg::server::audit {

using namespace http;

namespace {

constexpr int64_t kVerifyPage = 1000;  // entries read per query while verifying

/// A stored before/after as JSON: the object it holds, null for "", the text if it is not JSON.
json state_json(const std::string& text) {
  if (text.empty()) return nullptr;
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) return text;
  return j;
}

/// ?key= as UTC ms: RFC 3339 or integer milliseconds; nullopt when absent; false in ok when bad.
std::optional<int64_t> time_query(const Request& req, const char* key, bool& ok) {
  const std::string v = query(req, key);
  if (v.empty()) return std::nullopt;
  int64_t ms = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), ms);
  if (ec == std::errc() && end == v.data() + v.size()) return ms;
  if (auto t = time::parse_utc(v)) return t;
  ok = false;
  return std::nullopt;
}

}  // namespace

Context request_context(const http::Request& req) {
  return Context{req.who().actor(), req.remote.empty() ? std::string("local") : req.remote, req.request_id};
}

void add_routes(Router& router, const ApiContext& ctx, Store& store) {
  router.add({"GET", "/api/audit", Access::any(identity::Right::audit_read), [&](const Request& req, const PathParams&) {
                Response bad;
                auto page = page_param(req, "audit", ctx, bad);
                if (!page) return bad;
                Filter f;
                f.entity = query(req, "entity");
                f.entity_id = query(req, "entity_id");
                f.actor = query(req, "actor");
                bool ok = true;
                f.from_ms = time_query(req, "from", ok);
                if (!ok) return error(422, "invalid query: from must be an RFC 3339 time or UTC milliseconds");
                f.to_ms = time_query(req, "to", ok);
                if (!ok) return error(422, "invalid query: to must be an RFC 3339 time or UTC milliseconds");
                f.page = *page;
                const bool site_wide = identity::allows(req.who(), identity::Right::audit_read, identity::Place{});
                return page_reply<Entry>(req, "audit", ctx, page->limit, store.list(f), [&](const Entry& e) {
                  if (!site_wide) {
                    // Within the caller's scope: the entry's objects must be theirs to read.
                    const auto objects = scope_objects(e.entity, e.entity_id);
                    if (objects.empty()) return json(nullptr);
                    bool any = false;
                    for (const auto& [kind, id] : objects) any = any || ctx.may(req, identity::Right::audit_read, {{kind, id}});
                    if (!any) return json(nullptr);
                  }
                  return json{{"seq", e.seq},
                              {"time", ctx.time(e.at_ms)},
                              {"actor", e.actor},
                              {"source", e.source},
                              {"request_id", e.request_id},
                              {"action", e.action},
                              {"entity", e.entity},
                              {"entity_id", e.entity_id},
                              {"before", state_json(e.before)},
                              {"after", state_json(e.after)},
                              {"prev_hash", e.prev_hash},
                              {"hash", e.hash}};
                });
              }});
  router.add({"GET", "/api/audit/verify", Permission::admin, [&](const Request&, const PathParams&) {
                ChainState state;
                for (;;) {
                  auto piece = store.chain(state.next_seq - 1, kVerifyPage);
                  if (!piece) return failure(piece.error());
                  if (auto broken = verify(*piece, state)) {
                    return reply(200, json{{"ok", false},
                                           {"entries", state.checked},
                                           {"first_broken", broken->seq},
                                           {"reason", broken->reason}});
                  }
                  if (static_cast<int64_t>(piece->size()) < kVerifyPage) break;
                }
                return reply(200, json{{"ok", true}, {"entries", state.checked}});
              }});
}

}  // namespace lg::server::audit
