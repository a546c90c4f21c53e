#include "server/notify/http.hpp"

#include "server/audit/http.hpp"
#include "server/audit/record.hpp"
#include "server/notify/rules.hpp"
#include "server/transport/http/json_api.hpp"

namespace lg::server::notify {

using namespace http;

namespace {

json notice_json(const Notice& n, const ApiContext& ctx) {
  return json{{"id", n.id},
              {"user", n.recipient},
              {"address", n.address},
              {"kind", to_string(n.kind)},
              {"subject", n.subject},
              {"body", n.body},
              {"state", to_string(n.state)},
              {"attempts", n.attempts},
              {"next_attempt", n.state == State::pending ? json(ctx.time(n.next_attempt_ms)) : json(nullptr)},
              {"last_error", n.last_error},
              {"created", ctx.time(n.created_ms)},
              {"sent", ctx.time_or_null(n.sent_ms)}};
}

/// What the audit log keeps of a notice (no body: it is in the outbox).
json notice_audit(const Notice& n) {
  return json{{"user", n.recipient}, {"address", n.address}, {"kind", to_string(n.kind)},
              {"state", to_string(n.state)}, {"attempts", n.attempts}, {"last_error", n.last_error}};
}

/// The ?state= filter: "" or a state's name (400 otherwise).
bool state_param(const Request& req, std::string& out, Response& bad) {
  out = query(req, "state");
  if (!out.empty() && !state_from_string(out)) {
    bad = error(400, "invalid query: state must be pending|sent|failed|no_address");
    return false;
  }
  return true;
}

}  // namespace

void add_routes(Router& router, const ApiContext& ctx, Outbox& outbox, UnitOfWork& uow, Store& store,
                audit::Store& audit) {
  router.add({"GET", "/api/notices", Access::site(identity::Right::site),
              [&](const Request& req, const PathParams&) {
                Response bad;
                NoticeFilter f;
                if (!state_param(req, f.state, bad)) return bad;
                f.recipient = query(req, "user");
                auto page = page_param(req, "notices", ctx, bad);
                if (!page) return bad;
                return page_reply<Notice>(req, "notices", ctx, page->limit, store.list(f, *page),
                                          [&](const Notice& n) { return notice_json(n, ctx); });
              },
              "The notification outbox, newest first: ?state=pending|sent|failed|no_address, ?user=, paged"});
  router.add({"GET", "/api/me/notices", Access::signed_in(),
              [&](const Request& req, const PathParams&) {
                Response bad;
                NoticeFilter f;
                if (!state_param(req, f.state, bad)) return bad;
                auto page = page_param(req, "my-notices", ctx, bad);
                if (!page) return bad;
                if (req.who().user.empty()) return reply(200, json::array());  // the bootstrap token is nobody
                f.recipient = req.who().user;
                return page_reply<Notice>(req, "my-notices", ctx, page->limit, store.list(f, *page),
                                          [&](const Notice& n) { return notice_json(n, ctx); });
              },
              "The notices sent (or to be sent) to the caller, newest first, paged"});
  router.add({"POST", "/api/notices/{id}/retry", Access::site(identity::Right::site),
              [&](const Request& req, const PathParams& pp) {
                const std::string& id = pp.at("id");
                const int64_t now = ctx.now();
                std::optional<Notice> after;
                auto s = audit::record(uow, audit, audit::request_context(req), now,
                                       [&]() -> Result<std::optional<audit::Change>> {
                                         auto r = outbox.retry(id, now);
                                         if (!r) return r.error();
                                         after = r->second;
                                         return audit::changed(audit::Change{"retry", "notice", id,
                                                                             notice_audit(r->first).dump(),
                                                                             notice_audit(r->second).dump()});
                                       });
                if (!s) return failure(s.error());
                return reply(200, notice_json(*after, ctx));
              },
              "Send a failed notice (or one that had no address) again, to the user's mail address now"});
}

}  // namespace lg::server::notify
