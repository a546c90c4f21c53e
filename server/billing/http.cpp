#include "server/billing/http.hpp"

#include "labgate/common/crypto.hpp"
#include "labgate/common/money.hpp"
#include "server/audit/http.hpp"
#include "server/audit/record.hpp"
#include "server/billing/codec.hpp"
#include "server/billing/rules.hpp"
#include "server/identity/rules.hpp"
#include "server/reports/http.hpp"
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
              {"end", ctx.time(c.end_ms)},
              {"fee_version", c.fee_version.empty() ? json(nullptr) : json(c.fee_version)},
              {"lines", c.lines.empty() ? json::array() : json::parse(c.lines, nullptr, false)}};
}

namespace {

using identity::Kind;
using identity::Right;

/// True when the caller may see a version: a published one anyone; one in the workflow (or
/// withdrawn) those who take part in it on its instrument (instrument_write, fee_review,
/// money_read, fee_approve).
bool sees(const ApiContext& ctx, const Request& req, const FeeVersion& v) {
  if (v.state == FeeState::published) return true;
  for (Right r : {Right::instrument_write, Right::fee_review, Right::money_read, Right::fee_approve}) {
    if (ctx.may(req, r, {{Kind::instrument, v.instrument}})) return true;
  }
  return false;
}

json steps_json(const ApiContext& ctx, const std::vector<FeeStep>& steps) {
  json a = json::array();
  for (const auto& st : steps) {
    a.push_back({{"seq", st.seq},
                 {"who", st.who},
                 {"at", ctx.time(st.at_ms)},
                 {"action", to_string(st.action)},
                 {"from", to_string(st.from)},
                 {"to", to_string(st.to)},
                 {"comment", st.comment}});
  }
  return a;
}

/// A version as the API shows it: its content, its place in the workflow (state as people see it
/// now, stored_state), its dates.
json version_json(const ApiContext& ctx, const FeeVersion& v, std::span<const FeeVersion> all) {
  json j = content_json(v);
  j["id"] = v.id;
  j["instrument"] = v.instrument;
  j["number"] = v.number;
  j["state"] = shown_state(v, all.empty() ? std::span<const FeeVersion>(&v, 1) : all, ctx.now());
  j["stored_state"] = to_string(v.state);
  j["effective_from"] = ctx.time_or_null(v.effective_from_ms);
  j["retired"] = ctx.time_or_null(v.retired_ms);
  j["created_by"] = v.created_by;
  j["created"] = ctx.time(v.created_ms);
  j["updated"] = ctx.time(v.updated_ms);
  return j;
}

/// The body as JSON, an empty object when there is none.
std::optional<json> body_or_empty(const Request& req, Response& bad) {
  if (req.body.empty()) return json::object();
  return parse_body(req, bad);
}

/// The version of {id} the caller may see, or the answer (404 for unknown and unseen alike).
std::optional<FeeVersion> seen_version(const ApiContext& ctx, Store& store, const Request& req, const std::string& id,
                                       Response& out) {
  auto v = store.version(id);
  if (!v) {
    out = failure(v.error());
    return std::nullopt;
  }
  if (!*v || !sees(ctx, req, **v)) {
    out = error(404, "fee standard version '" + id + "' not found");
    return std::nullopt;
  }
  return std::move(**v);
}

Response refusal(const Verdict& v) {
  const int status = v.refusal == Refusal::role ? 403 : v.refusal == Refusal::state ? 409 : 422;
  return reply(status, json{{"error", v.reason}, {"rule", v.rule}});
}

/// A step of the workflow on /api/fee-versions/{id}/<action>: loads the version, asks decide()
/// with the caller's rights over its instrument, moves it (only if nobody moved it first) with
/// its step, audited.
Route step_route(const char* path, FeeAction action, Access access, const ApiContext& ctx, UnitOfWork& uow,
                 Store& store, audit::Store& audit, const char* summary) {
  return Route{"POST", path, std::move(access),
               [&ctx, &uow, &store, &audit, action](const Request& req, const PathParams& pp) {
                 Response bad;
                 auto body = body_or_empty(req, bad);
                 if (!body) return bad;
                 const bool approve = action == FeeAction::approve;
                 Fields f(*body, approve ? std::initializer_list<std::string_view>{"comment", "effective_from"}
                                 : action == FeeAction::reject ? std::initializer_list<std::string_view>{"reason"}
                                                               : std::initializer_list<std::string_view>{"comment"});
                 StepFacts facts;
                 facts.reason = action == FeeAction::reject ? f.opt_text("reason", 4000) : f.opt_text("comment", 4000);
                 if (approve) facts.effective_from_ms = f.time("effective_from", false);
                 if (!f.ok()) return f.response();
                 auto v = seen_version(ctx, store, req, pp.at("id"), bad);
                 if (!v) return bad;
                 const FeeActor who{ctx.may(req, Right::instrument_write, {{Kind::instrument, v->instrument}}),
                                    ctx.may(req, Right::fee_review, {{Kind::instrument, v->instrument}}),
                                    ctx.may(req, Right::money_write, {{Kind::instrument, v->instrument}}),
                                    ctx.may(req, Right::fee_approve, {{Kind::instrument, v->instrument}})};
                 const int64_t now = ctx.now();
                 facts.now_ms = now;
                 // The committee's approval takes effect now unless it names a later date.
                 if (approve && v->state == FeeState::committee && !facts.effective_from_ms)
                   facts.effective_from_ms = now;
                 facts.lines = v->lines.size();
                 const Verdict verdict = decide(v->state, action, who, facts);
                 if (!verdict.ok()) return refusal(verdict);
                 const FeeState to = *verdict.to;
                 FeeStep step{v->id, 0, req.who().actor(), now, action, v->state, to, facts.reason};
                 const std::optional<int64_t> eff = to == FeeState::published ? facts.effective_from_ms : std::nullopt;
                 FeeVersion after = *v;
                 after.state = to;
                 if (eff) after.effective_from_ms = eff;
                 after.updated_ms = now;
                 auto s = audit::record(
                     uow, audit, audit::request_context(req), now, [&]() -> Result<std::optional<audit::Change>> {
                       LG_TRY(store.move(v->id, v->state, to, eff, step));
                       return audit::changed(
                           audit::Change{to_string(action), "fee_version", v->instrument + "/" + v->id,
                                         version_json(ctx, *v, {}).dump(), version_json(ctx, after, {}).dump()});
                     });
                 if (!s) return failure(s.error());
                 json out = version_json(ctx, after, {});
                 out["rule"] = verdict.rule;
                 return reply(200, out);
               },
               summary};
}

void add_version_routes(Router& router, const ApiContext& ctx, UnitOfWork& uow, Store& store, audit::Store& audit) {
  router.add(
      {"POST", "/api/instruments/{id}/fee-versions", Access::path(Right::instrument_write, Kind::instrument, "id"),
       [&](const Request& req, const PathParams& pp) {
         Response bad;
         auto body = parse_body(req, bad);
         if (!body) return bad;
         auto content = parse_version(*body, ctx.currency);
         if (!content) return error(422, "invalid field: " + content.error().reason);
         const int64_t now = ctx.now();
         FeeVersion v = std::move(*content);
         v.id = crypto::uuid7();
         v.instrument = pp.at("id");
         v.state = FeeState::draft;
         v.created_by = req.who().actor();
         v.created_ms = now;
         v.updated_ms = now;
         FeeStep step{v.id, 0, v.created_by, now, FeeAction::create, FeeState::draft, FeeState::draft, ""};
         FeeVersion stored;
         auto s =
             audit::record(uow, audit, audit::request_context(req), now, [&]() -> Result<std::optional<audit::Change>> {
               auto r = store.create_version(v, step);
               if (!r) return r.error();
               stored = std::move(*r);
               return audit::changed(audit::Change{"create", "fee_version", stored.instrument + "/" + stored.id, "",
                                                   version_json(ctx, stored, {}).dump()});
             });
         if (!s) return failure(s.error());
         return reply(201, version_json(ctx, stored, {}));
       },
       "Draft a new fee standard version of an instrument (its admin: instrument_write)"});
  router.add({"GET", "/api/instruments/{id}/fee-versions", Access::signed_in(),
              [&](const Request& req, const PathParams& pp) {
                auto all = store.versions(pp.at("id"));
                if (!all) return failure(all.error());
                json out = json::array();
                for (const auto& v : *all) {
                  if (!sees(ctx, req, v)) continue;
                  auto steps = store.steps(v.id);
                  if (!steps) return failure(steps.error());
                  json j = version_json(ctx, v, *all);
                  j["steps"] = steps_json(ctx, *steps);
                  out.push_back(std::move(j));
                }
                return reply(200, out);
              },
              "An instrument's fee standard versions with their history (drafts and reviews to those taking part)"});
  router.add({"GET", "/api/instruments/{id}/fee-standard", Access::any(Right::catalogue),
              [&](const Request& req, const PathParams& pp) {
                int64_t at = ctx.now();
                if (auto q = query(req, "at"); !q.empty()) {
                  auto t = time::parse_utc(q);
                  if (!t) return error(422, "invalid query: at: must be an RFC 3339 time");
                  at = *t;
                }
                auto all = store.versions(pp.at("id"));
                if (!all) return failure(all.error());
                const FeeVersion* v = in_force(*all, at);
                if (!v) return error(404, "no fee standard in force for '" + pp.at("id") + "' at " + ctx.time(at));
                return reply(200, version_json(ctx, *v, *all));
              },
              "The fee standard version in force (now, or ?at=): public like the catalogue"});
  router.add({"GET", "/api/fee-versions/{id}", Access::signed_in(),
              [&](const Request& req, const PathParams& pp) {
                Response bad;
                auto v = seen_version(ctx, store, req, pp.at("id"), bad);
                if (!v) return bad;
                auto all = store.versions(v->instrument);
                if (!all) return failure(all.error());
                auto steps = store.steps(v->id);
                if (!steps) return failure(steps.error());
                json j = version_json(ctx, *v, *all);
                j["steps"] = steps_json(ctx, *steps);
                return reply(200, j);
              },
              "One fee standard version with its steps"});
  router.add({"PUT", "/api/fee-versions/{id}", Access::any(Right::instrument_write),
              [&](const Request& req, const PathParams& pp) {
                Response bad;
                auto body = parse_body(req, bad);
                if (!body) return bad;
                auto v = seen_version(ctx, store, req, pp.at("id"), bad);
                if (!v) return bad;
                const FeeActor who{ctx.may(req, Right::instrument_write, {{Kind::instrument, v->instrument}}), false,
                                   false, false};
                const int64_t now = ctx.now();
                const Verdict verdict =
                    decide(v->state, FeeAction::edit, who, StepFacts{"", std::nullopt, now, v->lines.size()});
                if (!verdict.ok()) return refusal(verdict);
                auto content = parse_version(*body, ctx.currency);
                if (!content) return error(422, "invalid field: " + content.error().reason);
                FeeVersion after = std::move(*content);
                after.id = v->id;
                after.instrument = v->instrument;
                after.number = v->number;
                after.state = v->state;
                after.created_by = v->created_by;
                after.created_ms = v->created_ms;
                after.updated_ms = now;
                FeeStep step{v->id, 0, req.who().actor(), now, FeeAction::edit, v->state, v->state, ""};
                auto s = audit::record(
                    uow, audit, audit::request_context(req), now, [&]() -> Result<std::optional<audit::Change>> {
                      LG_TRY(store.update_draft(after, step));
                      return audit::changed(audit::Change{"edit", "fee_version", v->instrument + "/" + v->id,
                                                          version_json(ctx, *v, {}).dump(),
                                                          version_json(ctx, after, {}).dump()});
                    });
                if (!s) return failure(s.error());
                return reply(200, version_json(ctx, after, {}));
              },
              "Edit a draft (its instrument's admin)"});
  router.add(step_route("/api/fee-versions/{id}/submit", FeeAction::submit, Access::any(Right::instrument_write), ctx,
                        uow, store, audit, "Submit a draft for the unit's review (its instrument's admin)"));
  router.add(step_route("/api/fee-versions/{id}/withdraw", FeeAction::withdraw, Access::any(Right::instrument_write),
                        ctx, uow, store, audit, "Withdraw a draft (its instrument's admin)"));
  // A review takes the right of its stage over the instrument (fee_review, money_write, fee_approve);
  // every reviewer reads money (money_read), which the route asks first.
  router.add(step_route("/api/fee-versions/{id}/approve", FeeAction::approve, Access::any(Right::money_read), ctx, uow,
                        store, audit,
                        "Approve a version at its review: the unit (fee_review), finance (money_write), the committee "
                        "(fee_approve, with effective_from: published)"));
  router.add(step_route("/api/fee-versions/{id}/reject", FeeAction::reject, Access::any(Right::money_read), ctx, uow,
                        store, audit, "Reject a version at its review with a reason: back to draft"));
  router.add({"POST", "/api/fee-versions/{id}/quote", Access::signed_in(),
              [&](const Request& req, const PathParams& pp) {
                Response bad;
                auto body = parse_body(req, bad);
                if (!body) return bad;
                auto v = seen_version(ctx, store, req, pp.at("id"), bad);
                if (!v) return bad;
                Price p;
                if (body->contains("lines")) {
                  auto o = parse_order(*body);
                  if (!o) return error(422, "invalid field: " + o.error().reason);
                  p = price_order(*v, o->first, o->second);
                } else {
                  auto f = parse_session(*body, ctx.time_zone);
                  if (!f) return error(422, "invalid field: " + f.error().reason);
                  p = price_session(*v, *f);
                }
                return reply(p.ok() ? 200 : 422, price_json(p));
              },
              "Price a session {category, start, end, duration_ms?, booked?} or order lines {category, lines} "
              "under a version"});
}

}  // namespace

void add_routes(Router& router, const ApiContext& ctx, UnitOfWork& uow, Store& store, audit::Store& audit) {
  add_version_routes(router, ctx, uow, store, audit);
  // The import of an already-approved hourly standard (a system admin's: tools/ctl import plans,
  // the demo): stored as a published version with an "imported" step (Store::put_fee_standard).
  // New standards go through the approval workflow (add_version_routes).
  router.add({"POST", "/api/fee-standards", Access::site(identity::Right::site),
              [&](const Request& req, const PathParams&) {
                Response bad;
                auto body = parse_body(req, bad);
                if (!body) return bad;
                Fields f(*body, {"instrument", "internal_fen_per_hour", "external_fen_per_hour", "currency",
                                 "effective_from"});
                FeeStandard fee;
                fee.instrument = f.id("instrument");
                fee.internal_fen_per_hour = f.integer("internal_fen_per_hour", 0, kMaxRate);
                fee.external_fen_per_hour = f.integer("external_fen_per_hour", 0, kMaxRate);
                fee.currency = f.opt_text("currency");
                fee.effective_from_ms = f.time("effective_from", false);
                if (fee.currency.empty()) fee.currency = ctx.currency;
                if (f.ok() && fee.currency.size() != 3) f.invalid("currency", "must be a 3-letter code");
                if (!f.ok()) return f.response();
                const int64_t now = ctx.now();
                auto s = audit::record(uow, audit, audit::request_context(req), now,
                                       [&]() -> Result<std::optional<audit::Change>> {
                                         const std::string asked[] = {fee.instrument};
                                         auto old = store.fees(asked);
                                         if (!old) return old.error();
                                         LG_TRY(store.put_fee_standard(fee, now, req.who().actor()));
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
