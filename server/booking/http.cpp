#include "server/booking/http.hpp"

#include <functional>
#include <map>

#include "labgate/common/crypto.hpp"
#include "labgate/common/ical.hpp"
#include "labgate/common/log.hpp"
#include "labgate/common/time.hpp"
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
         {"end", ctx.time(b.end_ms)}, {"status", to_string(b.status)}, {"account", b.account}, {"booked_by", b.booked_by},
         {"staffed", b.staffed}};
  switch (b.status) {
    case BookingStatus::active:
      break;
    case BookingStatus::pending:
      j["hold_until"] = ctx.time_or_null(b.hold_until_ms);
      break;
    case BookingStatus::cancelled:
      j["cancelled"] = ctx.time_or_null(b.cancelled_ms);
      j["cancel_reason"] = b.cancel_reason;
      j["late_cancel"] = b.late_cancel;
      break;
    case BookingStatus::refused:
    case BookingStatus::expired:
      j["decided"] = ctx.time_or_null(b.cancelled_ms);
      j["reason"] = b.cancel_reason;
      break;
  }
  return j;
}

/// {"mon": ["08:00-18:00"], ...}: the days with spans.
json week_json(const WeekHours& w) {
  json j = json::object();
  for (int d = 0; d < 7; ++d) {
    if (w.days[d].empty()) continue;
    json spans = json::array();
    for (const DaySpan& s : w.days[d]) spans.push_back(span_text(s));
    j[kDayNames[d]] = spans;
  }
  return j;
}

/// Reads week_json's form; the reason names the field, or nullopt.
std::optional<std::string> week_from(const json& j, const char* field, WeekHours& out) {
  out = WeekHours{};
  if (!j.is_object()) return std::string(field) + ": must be an object of days (mon .. sun) to lists of \"HH:MM-HH:MM\"";
  for (auto it = j.begin(); it != j.end(); ++it) {
    int d = 0;
    while (d < 7 && it.key() != kDayNames[d]) ++d;
    if (d == 7) return std::string(field) + ": unknown day '" + it.key() + "' (mon .. sun)";
    if (!it->is_array()) return std::string(field) + "." + it.key() + ": must be a list of \"HH:MM-HH:MM\"";
    for (const json& s : *it) {
      auto span = s.is_string() ? parse_span(s.get<std::string>()) : std::nullopt;
      if (!span) return std::string(field) + "." + it.key() + ": " + s.dump() + " is not \"HH:MM-HH:MM\"";
      out.days[d].push_back(*span);
    }
    if (auto why = validate_day(out.days[d])) return std::string(field) + "." + it.key() + ": " + *why;
  }
  return std::nullopt;
}

json policy_json(const BookingPolicy& p) {
  return json{{"instrument", p.instrument},
              {"opening", p.opening ? week_json(*p.opening) : json(nullptr)},
              {"lead_min_s", p.lead_min_s},
              {"lead_max_s", p.lead_max_s},
              {"min_length_s", p.min_length_s},
              {"max_length_s", p.max_length_s},
              {"slot_s", p.slot_s},
              {"user_week_bookings", p.user_week_bookings},
              {"user_week_s", p.user_week_s},
              {"group_week_bookings", p.group_week_bookings},
              {"group_week_s", p.group_week_s},
              {"external_share_pct", p.external_share_pct},
              {"internal_priority", week_json(p.internal_priority)},
              {"approval", to_string(p.approval)},
              {"approval_hold_s", p.approval_hold_s},
              {"cancel_free_s", p.cancel_free_s},
              {"staffed", week_json(staffed_hours(p))},
              {"lapse_months", p.lapse_months}};
}

/// The booking a request body asks for (instrument, user, account, start, end; the caller books it).
Booking requested(Fields& f, const Request& req) {
  Booking b;
  b.instrument = f.id("instrument");
  b.user = f.id("user");
  b.account = f.id("account", false);
  b.booked_by = req.who().user;
  b.start_ms = f.time("start", true).value_or(0);
  b.end_ms = f.time("end", true).value_or(0);
  return b;
}

json wait_json(const WaitEntry& e, const ApiContext& ctx) {
  return json{{"id", e.id},
              {"instrument", e.instrument},
              {"user", e.user},
              {"start", ctx.time(e.start_ms)},
              {"end", ctx.time(e.end_ms)},
              {"account", e.account},
              {"created", ctx.time(e.created_ms)},
              {"status", to_string(e.status)},
              {"booking", e.booking.empty() ? json(nullptr) : json(e.booking)},
              {"decided", ctx.time_or_null(e.decided_ms)}};
}

json closure_json(const Closure& c, const ApiContext& ctx) {
  return json{{"id", c.id},
              {"instrument", c.instrument.empty() ? json(nullptr) : json(c.instrument)},
              {"kind", to_string(c.kind)},
              {"start", ctx.time(c.start_ms)},
              {"end", ctx.time(c.end_ms)},
              {"reason", c.reason}};
}

/// 422 naming the booking rule that refused: {"error": reason, "rule": name}.
Response rule_refusal(const std::string& rule, const std::string& reason) {
  return reply(422, json{{"error", reason}, {"rule", rule}});
}

/// Audits and answers a decision on a pending booking (approve or refuse).
Response decide(const Request& req, const ApiContext& ctx, UnitOfWork& uow, audit::Store& audit, const char* action,
                const std::string& id, const std::function<Result<BookingChange>(int64_t)>& run) {
  const int64_t now = ctx.now();
  std::optional<BookingChange> change;
  auto s = audit::record(uow, audit, audit::request_context(req), now, [&]() -> Result<std::optional<audit::Change>> {
    auto c = run(now);
    if (!c) return c.error();
    change = *c;
    return audit::changed(audit::Change{action, "booking", id, booking_json(c->before, ctx).dump(),
                                        booking_json(c->after, ctx).dump()});
  });
  if (!s) return failure(s.error());
  ctx.changed(change->after.instrument);
  return reply(200, booking_json(change->after, ctx));
}
/// Most events a calendar feed holds (an app reads one document; it follows no Link).
constexpr int32_t kFeedRows = 10000;

/// Issues a new secret feed URL for a subject (the previous one stops working), audited without
/// the secret: 201 {"url","token"}.
Response issue_feed(const Request& req, const ApiContext& ctx, UnitOfWork& uow, Store& store, audit::Store& audit,
                    const std::string& kind, const std::string& subject) {
  const std::string token = crypto::to_hex(crypto::random_bytes(24));
  const int64_t now = ctx.now();
  auto s = audit::record(uow, audit, audit::request_context(req), now, [&]() -> Result<std::optional<audit::Change>> {
    LG_TRY(store.put_feed_token(FeedToken{crypto::sha256_hex(token), kind, subject, now}));
    return audit::changed(audit::Change{"issue", "calendar_feed", kind + "/" + subject, "",
                                        json{{"kind", kind}, {"subject", subject}}.dump()});
  });
  if (!s) return failure(s.error());
  return reply(201, json{{"url", "/api/feeds/" + token + "/bookings.ics"}, {"token", token}, {"kind", kind},
                         {"subject", subject}});
}

}  // namespace

void add_routes(Router& router, const ApiContext& ctx, Service& service, UnitOfWork& uow, Store& store,
                audit::Store& audit) {
  router.add({"POST", "/api/bookings", Access::body2(identity::Right::booking_write, identity::Kind::instrument, "instrument", identity::Kind::user, "user"), [&](const Request& req, const PathParams&) {
                Response bad;
                auto body = parse_body(req, bad);
                if (!body) return bad;
                Fields f(*body, {"instrument", "user", "start", "end", "account"});
                Booking b = requested(f, req);
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
                                         if (!(*out)->rule.empty()) return audit::unchanged();  // refused by a rule
                                         Booking made = b;
                                         made.id = (*out)->id;
                                         made.status = (*out)->status;
                                         return audit::changed(audit::Change{"create", "booking", made.id, "",
                                                              booking_json(made, ctx).dump()});
                                       });
                if (!s) return failure(s.error());
                const BookingOutcome& o = **out;
                if (!o.conflict.empty()) {
                  return reply(409, json{{"error", "booking overlaps booking " + o.conflict}, {"conflict", o.conflict}});
                }
                if (!o.rule.empty()) return rule_refusal(o.rule, o.reason);
                ctx.changed(b.instrument);
                return reply(201, json{{"id", o.id}, {"status", to_string(o.status)}});
              }});
  // A recurring booking (RFC 5545 RRULE subset): every occurrence admitted like a single booking,
  // all of them or none (the refused ones named), or skipping the refused ones when asked.
  router.add({"POST", "/api/bookings/series",
              Access::body2(identity::Right::booking_write, identity::Kind::instrument, "instrument", identity::Kind::user, "user"),
              [&](const Request& req, const PathParams&) {
                Response bad;
                auto body = parse_body(req, bad);
                if (!body) return bad;
                Fields f(*body, {"instrument", "user", "start", "end", "account", "rrule", "skip_conflicts"});
                Booking b = requested(f, req);
                const std::string rrule = f.text("rrule");
                const bool skip = f.flag("skip_conflicts", false);
                if (!f.ok()) return f.response();
                if (auto why = validate(b.start_ms, b.end_ms)) return error(422, "invalid field: " + *why);
                auto rule = parse_rrule(rrule);
                if (!rule) return error(422, "invalid field: " + rule.error().reason);
                auto intervals = expand(*rule, b.start_ms, b.end_ms, ctx.time_zone);
                if (!intervals) return error(422, "invalid field: " + intervals.error().reason);
                const int64_t now = ctx.now();
                std::optional<SeriesOutcome> out;
                auto s = audit::record(uow, audit, audit::request_context(req), now,
                                       [&]() -> Result<std::optional<audit::Change>> {
                                         auto r = service.create_series(b, *intervals, skip, now);
                                         if (!r) return r.error();
                                         out = *r;
                                         if (out->created.empty()) return audit::unchanged();
                                         json ids = json::array();
                                         for (const auto& c : out->created) ids.push_back(c.id);
                                         return audit::changed(audit::Change{
                                             "create_series", "booking", out->created.front().id, "",
                                             json{{"instrument", b.instrument}, {"user", b.user}, {"rrule", rrule},
                                                  {"bookings", ids}}.dump()});
                                       });
                if (!s) return failure(s.error());
                json refused = json::array();
                for (const auto& x : out->refused) {
                  json j{{"start", ctx.time(x.start_ms)}, {"end", ctx.time(x.end_ms)}, {"reason", x.reason}};
                  if (!x.conflict.empty()) j["conflict"] = x.conflict;
                  if (!x.rule.empty()) j["rule"] = x.rule;
                  refused.push_back(std::move(j));
                }
                if (out->created.empty() && !out->refused.empty()) {
                  return reply(409, json{{"error", std::to_string(out->refused.size()) + " of " +
                                                       std::to_string(intervals->size()) +
                                                       " occurrences cannot be booked: nothing was booked"},
                                         {"refused", refused}});
                }
                json created = json::array();
                for (std::size_t i = 0; i < out->created.size(); ++i)
                  created.push_back(json{{"id", out->created[i].id},
                                         {"start", ctx.time(out->created_at[i].first)},
                                         {"end", ctx.time(out->created_at[i].second)},
                                         {"status", to_string(out->created[i].status)}});
                ctx.changed(b.instrument);
                return reply(201, json{{"created", created}, {"refused", refused}});
              },
              "Book a series (rrule: FREQ=DAILY|WEEKLY, INTERVAL, COUNT or UNTIL, BYDAY; at most 100): all or "
              "nothing (409 naming every refused occurrence), or skip_conflicts to book the rest"});
  // Waiting lists: a taken interval's queue; a booking that frees it books the first in line who
  // may have it (in the same unit of work), who is told by mail.
  router.add({"POST", "/api/waitlist",
              Access::body2(identity::Right::booking_write, identity::Kind::instrument, "instrument", identity::Kind::user, "user"),
              [&](const Request& req, const PathParams&) {
                Response bad;
                auto body = parse_body(req, bad);
                if (!body) return bad;
                Fields f(*body, {"instrument", "user", "start", "end", "account"});
                WaitEntry e;
                e.instrument = f.id("instrument");
                e.user = f.id("user");
                e.account = f.id("account", false);
                e.booked_by = req.who().user;
                e.start_ms = f.time("start", true).value_or(0);
                e.end_ms = f.time("end", true).value_or(0);
                if (!f.ok()) return f.response();
                if (auto why = validate(e.start_ms, e.end_ms)) return error(422, "invalid field: " + *why);
                const int64_t now = ctx.now();
                std::optional<WaitOutcome> out;
                auto s = audit::record(uow, audit, audit::request_context(req), now,
                                       [&]() -> Result<std::optional<audit::Change>> {
                                         auto r = service.join_waitlist(e, now);
                                         if (!r) return r.error();
                                         out = *r;
                                         if (!out->entry) return audit::unchanged();
                                         return audit::changed(audit::Change{"join", "waitlist", out->entry->id, "",
                                                                             wait_json(*out->entry, ctx).dump()});
                                       });
                if (!s) return failure(s.error());
                if (!out->entry) return error(422, out->refusal);
                json j = wait_json(*out->entry, ctx);
                j["position"] = out->position;
                return reply(201, j);
              },
              "Wait for a taken interval (422 when it is free or the user may not book it)"});
  router.add({"GET", "/api/waitlist", Access::any(identity::Right::usage_read),
              [&](const Request& req, const PathParams&) {
                auto rows = store.wait_entries(query(req, "instrument"), query(req, "user"), 1000);
                if (!rows) return failure(rows.error());
                json out = json::array();
                for (const WaitEntry& e : *rows) {
                  using identity::Kind;
                  if (!ctx.may(req, identity::Right::usage_read, {{Kind::instrument, e.instrument}, {Kind::user, e.user}}))
                    continue;
                  out.push_back(wait_json(e, ctx));
                }
                return reply(200, out);
              },
              "Waiting-list entries (?instrument=, ?user=), newest first, at most 1000, those the caller may see"});
  router.add({"DELETE", "/api/waitlist/{id}", Access::any(identity::Right::booking_write),
              [&](const Request& req, const PathParams& pp) {
                const std::string& id = pp.at("id");
                auto e = store.wait_entry(id);
                if (!e) return failure(e.error());
                if (!*e) return error(404, "waitlist: no entry '" + id + "'");
                using identity::Kind;
                if (!ctx.may(req, identity::Right::booking_write, {{Kind::instrument, (*e)->instrument}, {Kind::user, (*e)->user}}))
                  return error(403, "forbidden: the entry is not in your scope");
                const int64_t now = ctx.now();
                std::optional<WaitEntry> after;
                auto s = audit::record(uow, audit, audit::request_context(req), now,
                                       [&]() -> Result<std::optional<audit::Change>> {
                                         auto r = service.withdraw_wait(id, now);
                                         if (!r) return r.error();
                                         after = r->second;
                                         return audit::changed(audit::Change{"withdraw", "waitlist", id,
                                                                             wait_json(r->first, ctx).dump(),
                                                                             wait_json(r->second, ctx).dump()});
                                       });
                if (!s) return failure(s.error());
                return reply(200, wait_json(*after, ctx));
              },
              "Leave the waiting list (the user, or the instrument's admins)"});
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
                                         if (!(*out)->conflict.empty() || !(*out)->rule.empty())
                                           return audit::unchanged();  // nothing written
                                         return audit::changed(audit::Change{"move", "booking", id,
                                                                             booking_json((*out)->before, ctx).dump(),
                                                                             booking_json((*out)->after, ctx).dump()});
                                       });
                if (!s) return failure(s.error());
                const BookingChange& c = **out;
                if (!c.conflict.empty()) {
                  return reply(409, json{{"error", "booking overlaps booking " + c.conflict}, {"conflict", c.conflict}});
                }
                if (!c.rule.empty()) return rule_refusal(c.rule, c.reason);
                ctx.changed(c.after.instrument);
                return reply(200, booking_json(c.after, ctx));
              },
              "Move an active booking to a new interval, admitted like a new one (qualification, no overlap)"});
  router.add({"POST", "/api/bookings/{id}/approve",
              Access::path(identity::Right::instrument_write, identity::Kind::booking),
              [&](const Request& req, const PathParams& pp) {
                const std::string& id = pp.at("id");
                return decide(req, ctx, uow, audit, "approve", id, [&](int64_t now) { return service.approve(id, now); });
              },
              "Approve a pending booking (instrument admins): it becomes active and opens the instrument"});
  router.add({"PUT", "/api/bookings/{id}/staffed",
              Access::path(identity::Right::instrument_write, identity::Kind::booking),
              [&](const Request& req, const PathParams& pp) {
                const std::string& id = pp.at("id");
                Response bad;
                auto body = parse_body(req, bad);
                if (!body) return bad;
                Fields f(*body, {"staffed"});
                const std::optional<bool> staffed_field = f.opt_flag("staffed");
                if (!f.ok()) return f.response();
                if (!staffed_field) return error(400, "missing field: staffed");
                const bool staffed = *staffed_field;
                return decide(req, ctx, uow, audit, staffed ? "staff" : "unstaff", id,
                              [&](int64_t now) { return service.set_staffed(id, staffed, now); });
              },
              "Mark whether staff will be present (instrument admins): a user qualified supervised may use the "
              "instrument only in a staffed booking; the terminal's next bundle carries the mark"});
  router.add({"POST", "/api/bookings/{id}/refuse",
              Access::path(identity::Right::instrument_write, identity::Kind::booking),
              [&](const Request& req, const PathParams& pp) {
                const std::string& id = pp.at("id");
                Response bad;
                auto body = parse_body(req, bad);
                if (!body) return bad;
                Fields f(*body, {"reason"});
                const std::string reason = f.text("reason");
                if (!f.ok()) return f.response();
                return decide(req, ctx, uow, audit, "refuse", id,
                              [&](int64_t now) { return service.refuse(id, reason, now); });
              },
              "Refuse a pending booking with a reason (instrument admins): kept, it frees its slot"});
  // The rules are public: a visitor planning a booking reads them on the instrument's page.
  router.add({"GET", "/api/instruments/{id}/booking-policy",
              Access::path(identity::Right::catalogue, identity::Kind::instrument),
              [&](const Request&, const PathParams& pp) {
                auto p = service.policy(pp.at("id"));
                if (!p) return failure(p.error());
                return reply(200, policy_json(*p));
              },
              "The instrument's booking rules (the defaults when it has none of its own)"});
  router.add({"PUT", "/api/instruments/{id}/booking-policy",
              Access::path(identity::Right::instrument_write, identity::Kind::instrument),
              [&](const Request& req, const PathParams& pp) {
                Response bad;
                auto body = parse_body(req, bad);
                if (!body) return bad;
                Fields f(*body, {"opening", "lead_min_s", "lead_max_s", "min_length_s", "max_length_s", "slot_s",
                                 "user_week_bookings", "user_week_s", "group_week_bookings", "group_week_s",
                                 "external_share_pct", "internal_priority", "approval", "approval_hold_s",
                                 "cancel_free_s", "staffed", "lapse_months"});
                BookingPolicy p = default_policy(pp.at("id"));
                constexpr int64_t kBig = 10LL * 366 * 86400;
                p.lead_min_s = f.opt_integer("lead_min_s", 0, kBig).value_or(p.lead_min_s);
                p.lead_max_s = f.opt_integer("lead_max_s", 0, kBig).value_or(p.lead_max_s);
                p.min_length_s = f.opt_integer("min_length_s", 0, kBig).value_or(p.min_length_s);
                p.max_length_s = f.opt_integer("max_length_s", 0, kBig).value_or(p.max_length_s);
                p.slot_s = f.opt_integer("slot_s", 0, kBig).value_or(p.slot_s);
                p.user_week_bookings =
                    static_cast<int32_t>(f.opt_integer("user_week_bookings", 0, 10000).value_or(p.user_week_bookings));
                p.user_week_s = f.opt_integer("user_week_s", 0, kBig).value_or(p.user_week_s);
                p.group_week_bookings =
                    static_cast<int32_t>(f.opt_integer("group_week_bookings", 0, 10000).value_or(p.group_week_bookings));
                p.group_week_s = f.opt_integer("group_week_s", 0, kBig).value_or(p.group_week_s);
                p.external_share_pct =
                    static_cast<int32_t>(f.opt_integer("external_share_pct", 0, 100).value_or(p.external_share_pct));
                p.approval_hold_s = f.opt_integer("approval_hold_s", 0, kBig).value_or(p.approval_hold_s);
                p.cancel_free_s = f.opt_integer("cancel_free_s", 0, kBig).value_or(p.cancel_free_s);
                p.lapse_months = static_cast<int32_t>(f.opt_integer("lapse_months", 0, 120).value_or(p.lapse_months));
                if (body->contains("approval") && !(*body)["approval"].is_null()) {
                  const std::string a = f.one_of("approval", {"none", "all", "external"});
                  if (auto v = approval_from(a)) p.approval = *v;
                }
                if (!f.ok()) return f.response();
                if (body->contains("opening") && !(*body)["opening"].is_null()) {
                  WeekHours w;
                  if (auto why = week_from((*body)["opening"], "opening", w)) return error(422, "invalid field: " + *why);
                  p.opening = w;
                }
                if (body->contains("internal_priority") && !(*body)["internal_priority"].is_null()) {
                  if (auto why = week_from((*body)["internal_priority"], "internal_priority", p.internal_priority))
                    return error(422, "invalid field: " + *why);
                }
                if (body->contains("staffed") && !(*body)["staffed"].is_null()) {
                  WeekHours w;
                  if (auto why = week_from((*body)["staffed"], "staffed", w)) return error(422, "invalid field: " + *why);
                  p.staffed = w;
                }
                if (auto why = validate_policy(p)) return error(422, "invalid field: " + *why);
                const int64_t now = ctx.now();
                auto s = audit::record(uow, audit, audit::request_context(req), now,
                                       [&]() -> Result<std::optional<audit::Change>> {
                                         auto before = service.put_policy(p, now);
                                         if (!before) return before.error();
                                         return audit::changed(audit::Change{"update", "booking_policy", p.instrument,
                                                                             policy_json(*before).dump(),
                                                                             policy_json(p).dump()});
                                       });
                if (!s) return failure(s.error());
                ctx.changed(p.instrument);  // staffed hours and lapse go into the bundle
                return reply(200, policy_json(p));
              },
              "Replace the instrument's booking rules (fields left out take the defaults); they apply to bookings "
              "made or moved from now on"});
  router.add({"GET", "/api/closures", Access::any(identity::Right::catalogue), [&](const Request& req, const PathParams&) {
                const std::string instrument = query(req, "instrument");
                const int64_t now = ctx.now();
                int64_t from = now, to = now + 366LL * 86400 * 1000;
                for (auto [key, into] : {std::pair<const char*, int64_t*>{"from", &from}, {"to", &to}}) {
                  const std::string v = query(req, key);
                  if (v.empty()) continue;
                  auto ms = time::parse_utc(v);
                  if (!ms) return error(422, std::string("invalid query: ") + key + ": must be an RFC 3339 time");
                  *into = *ms;
                }
                if (to <= from) return error(422, "invalid query: to: must be after from");
                auto rows = store.closures(instrument, from, to);
                if (!rows) return failure(rows.error());
                json out = json::array();
                for (const Closure& c : *rows) out.push_back(closure_json(c, ctx));
                return reply(200, out);
              },
              "Holidays, blackouts and maintenance windows overlapping ?from= .. ?to= (default: the coming year), "
              "?instrument= for one instrument's (with the site's holidays)"});
  router.add({"POST", "/api/closures", Access::body(identity::Right::instrument_write, identity::Kind::instrument, "instrument"),
              [&](const Request& req, const PathParams&) {
                Response bad;
                auto body = parse_body(req, bad);
                if (!body) return bad;
                Fields f(*body, {"instrument", "kind", "start", "end", "reason"});
                Closure c;
                c.instrument = f.id("instrument", false);
                const std::string kind = f.one_of("kind", {"holiday", "blackout", "maintenance"});
                c.start_ms = f.time("start", true).value_or(0);
                c.end_ms = f.time("end", true).value_or(0);
                c.reason = f.opt_text("reason", 500);
                if (!f.ok()) return f.response();
                c.kind = closure_kind_from(kind).value_or(ClosureKind::blackout);
                if (auto why = validate_closure(c)) return error(422, "invalid field: " + *why);
                const int64_t now = ctx.now();
                std::vector<BookingChange> cancelled_now;
                auto s = audit::record(uow, audit, audit::request_context(req), now,
                                       [&]() -> Result<std::optional<audit::Change>> {
                                         auto r = service.add_closure(c, now);
                                         if (!r) return r.error();
                                         cancelled_now = std::move(*r);
                                         json after = closure_json(c, ctx);
                                         json ids = json::array();
                                         for (const auto& ch : cancelled_now) ids.push_back(ch.after.id);
                                         after["cancelled_bookings"] = ids;
                                         return audit::changed(audit::Change{"create", "closure", c.id, "", after.dump()});
                                       });
                if (!s) return failure(s.error());
                json out = closure_json(c, ctx);
                json cancelled = json::array();
                for (const auto& ch : cancelled_now) cancelled.push_back(booking_json(ch.after, ctx));
                out["cancelled_bookings"] = cancelled;
                // The bundles list holidays and blackouts as not staffed (levels), and lose the
                // bookings maintenance cancelled: every terminal for a site holiday.
                if (c.instrument.empty()) ctx.changed_all();
                else ctx.changed(c.instrument);
                return reply(201, out);
              },
              "Close a span to bookings: a site holiday (site instrument admins), an instrument's blackout, or its "
              "maintenance, which cancels the bookings it covers (listed in the answer)"});
  router.add({"DELETE", "/api/closures/{id}", Access::any(identity::Right::instrument_write),
              [&](const Request& req, const PathParams& pp) {
                const std::string& id = pp.at("id");
                auto c = store.closure(id);
                if (!c) return failure(c.error());
                if (!*c) return error(404, "closure: no closure '" + id + "'");
                using identity::Kind;
                const bool allowed = (*c)->instrument.empty()
                                         ? ctx.may(req, identity::Right::instrument_write, {})
                                         : ctx.may(req, identity::Right::instrument_write, {{Kind::instrument, (*c)->instrument}});
                if (!allowed) return error(403, "forbidden: the closure is not in your scope");
                const int64_t now = ctx.now();
                auto s = audit::record(uow, audit, audit::request_context(req), now,
                                       [&]() -> Result<std::optional<audit::Change>> {
                                         LG_TRY(store.remove_closure(id));
                                         return audit::changed(audit::Change{"delete", "closure", id,
                                                                             closure_json(**c, ctx).dump(), ""});
                                       });
                if (!s) return failure(s.error());
                if ((*c)->instrument.empty()) ctx.changed_all();
                else ctx.changed((*c)->instrument);
                return reply(200, closure_json(**c, ctx));
              },
              "Reopen a closed span (cancelled bookings stay cancelled)"});
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
  // Calendar feeds behind a secret URL, for calendar apps that cannot sign in: a user's own
  // bookings, or an instrument's (busy times, without who booked them).
  router.add({"POST", "/api/me/calendar-feed", Access::signed_in(),
              [&](const Request& req, const PathParams&) {
                if (req.who().user.empty()) return error(404, "calendar feed: the bootstrap token is no user");
                return issue_feed(req, ctx, uow, store, audit, "user", req.who().user);
              },
              "A new secret URL of the caller's bookings as a calendar (the previous one stops working)"});
  router.add({"POST", "/api/instruments/{id}/calendar-feed",
              Access::path(identity::Right::instrument_write, identity::Kind::instrument),
              [&](const Request& req, const PathParams& pp) {
                return issue_feed(req, ctx, uow, store, audit, "instrument", pp.at("id"));
              },
              "A new secret URL of the instrument's bookings (busy times, no names) as a calendar"});
  router.add({"GET", "/api/feeds/{token}/bookings.ics", Access::open(),
              [&](const Request&, const PathParams& pp) {
                const std::string& token = pp.at("token");
                auto feed = store.feed_token(crypto::sha256_hex(token));
                if (!feed) return failure(feed.error());
                if (!*feed) return error(404, "not found");  // an unknown or replaced token: nothing to tell
                const int64_t now = ctx.now();
                const bool by_user = (*feed)->kind == "user";
                auto rows = by_user ? store.of_user((*feed)->subject, feed_from(now), kFeedRows)
                                    : store.of_instrument((*feed)->subject, feed_from(now), kFeedRows);
                if (!rows) return failure(rows.error());
                ical::Calendar cal{"-//labgate//labgate " + ctx.version + "//EN",
                                   "labgate " + ctx.site + " " + (by_user ? "" : "instrument ") + (*feed)->subject};
                std::map<std::string, EventPlace, std::less<>> places;
                for (const Booking& b : *rows) {
                  auto at = places.find(b.instrument);
                  if (at == places.end()) {
                    auto where = service.place(b.instrument);
                    if (!where) return failure(where.error());
                    at = places.emplace(b.instrument, std::move(*where)).first;
                  }
                  ical::Event e = calendar_event(b, at->second, ctx.site, now);
                  if (!by_user) e.description = "Booked (" + b.id + ")";  // busy time: nobody's name or id
                  cal.events.push_back(std::move(e));
                }
                auto text = ical::write(cal);
                if (!text) return error(500, "internal error: the calendar cannot be written: " + text.error().reason);
                Response r(200, std::move(*text));
                r.headers.emplace_back("Content-Type", "text/calendar; charset=utf-8");
                r.headers.emplace_back("Cache-Control", "private, max-age=300");
                return r;
              },
              "A calendar feed by its secret URL (no sign-in): the bookings from 31 days back, at most 10000"});
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
