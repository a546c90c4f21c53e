#include "server/directory/http.hpp"

#include <functional>
#include <utility>
#include <vector>

#include "labgate/common/card_uid.hpp"
#include "labgate/common/log.hpp"
#include "server/audit/http.hpp"
#include "server/audit/record.hpp"
#include "server/directory/import.hpp"
#include "server/identity/rules.hpp"
#include "server/transport/http/json_api.hpp"

namespace lg::server::directory {

using namespace http;

namespace {

json instrument_json(const Instrument& i) {
  return json{{"id", i.id},
              {"name", i.name},
              {"lab", i.lab},
              {"kind", to_string(i.kind)},
              {"asset_no", i.asset_no},
              {"require_booking", i.require_booking},
              {"early_start_s", i.early_start_s},
              {"grace_after_end_s", i.grace_after_end_s},
              {"offline_grace_s", i.offline_grace_s},
              {"max_session_s", i.max_session_s},
              {"status", proto::to_string(i.status)}};
}
json unit_json(const ApiContext& ctx, const Unit& u) {
  return json{{"id", u.id},
              {"name", u.name},
              {"parent", u.parent.empty() ? json(nullptr) : json(u.parent)},
              {"retired", ctx.time_or_null(u.retired_ms)}};
}
json lab_json(const ApiContext& ctx, const Lab& l) {
  return json{{"id", l.id}, {"name", l.name}, {"unit", l.unit}, {"retired", ctx.time_or_null(l.retired_ms)}};
}
/// A text that may be absent: null for "".
json text_or_null(const std::string& s) { return s.empty() ? json(nullptr) : json(s); }

json user_json(const User& u) {
  return json{{"id", u.id},
              {"name", u.name},
              {"category", to_string(u.category)},
              {"unit", text_or_null(u.unit)},
              {"admin", u.admin},
              {"status", to_string(u.status)},
              {"status_reason", u.status_reason},
              {"email", text_or_null(u.email)},
              {"phone", text_or_null(u.phone)},
              {"id_number", text_or_null(u.id_number)},
              {"organisation", text_or_null(u.organisation)}};
}

/// True when the caller may see a person's personal data (phone, e-mail, ID number, card uids):
/// the person themself and those who may change them (docs/RIGHTS.md "Personal data").
bool personal_visible(const ApiContext& ctx, const Request& req, const std::string& user) {
  if (!user.empty() && req.who().user == user) return true;
  return ctx.may(req, identity::Right::people_write, {{identity::Kind::user, user}});
}

/// A user as the caller may see them: personal fields null unless personal_visible.
json shown_user(const ApiContext& ctx, const Request& req, const User& u) {
  json j = user_json(u);
  if (!personal_visible(ctx, req, u.id)) {
    for (const char* k : {"email", "phone", "id_number"}) j[k] = nullptr;
  }
  return j;
}

/// "****B2C3": the last four characters of a uid, for those who may not see it whole.
std::string masked_uid(const std::string& uid) {
  return "****" + (uid.size() > 4 ? uid.substr(uid.size() - 4) : uid);
}

/// 403 unless the caller also holds right r over the place something moves to (a unit or a lab):
/// a move out of a scope needs the right at both ends. nullopt when allowed or nothing moves.
std::optional<Response> refuse_move(const ApiContext& ctx, const Request& req, identity::Right r, identity::Kind k,
                                    const std::optional<std::string>& to) {
  if (!to || to->empty()) return std::nullopt;
  if (ctx.may(req, r, {{k, *to}})) return std::nullopt;
  return error(403, std::string("forbidden: no right over the ") + identity::to_string(k) + " '" + *to + "' it would move to");
}

json member_json(const ApiContext& ctx, const GroupMember& m) {
  return json{{"group", m.group}, {"user", m.user}, {"since", ctx.time(m.since_ms)}};
}

json group_json(const ApiContext& ctx, const Group& g) {
  return json{{"id", g.id},
              {"name", g.name},
              {"pi", g.pi},
              {"unit", g.unit.empty() ? json(nullptr) : json(g.unit)},
              {"retired", ctx.time_or_null(g.retired_ms)}};
}

/// The card uid of a path, canonical (CardUid), or nullopt.
std::optional<std::string> path_uid(const PathParams& pp) {
  auto uid = CardUid::parse(pp.find("uid")->second);
  if (!uid) return std::nullopt;
  return uid->str();
}

}  // namespace

namespace {

/// The JSON of a card row; times in the site zone.
json card_json_at(const ApiContext& ctx, const Card& c) {
  return json{{"uid", c.uid},
              {"user", c.user},
              {"active", c.active},
              {"status", to_string(c.status)},
              {"valid_until", ctx.time_or_null(c.valid_until_ms)},
              {"ended", ctx.time_or_null(c.ended_ms)}};
}

/// The JSON text of a directory entity as its GET shows it, "" when it does not exist (the audit's
/// before and after): "unit", "lab", "instrument", "user", "group", "card" (the uid's newest row)
/// or "group_member" (id "<group>/<user>").
Result<std::string> snapshot(const ApiContext& ctx, Store& store, std::string_view entity, const std::string& id) {
  auto text = [](const auto& got, auto to_json) -> Result<std::string> {
    if (!got) return got.error();
    if (!*got) return std::string();
    return to_json(**got).dump();
  };
  if (entity == "unit") return text(store.unit(id), [&](const Unit& u) { return unit_json(ctx, u); });
  if (entity == "lab") return text(store.lab(id), [&](const Lab& l) { return lab_json(ctx, l); });
  if (entity == "instrument") return text(store.instrument(id), instrument_json);
  if (entity == "user") return text(store.user(id), user_json);
  if (entity == "group") return text(store.group(id), [&](const Group& g) { return group_json(ctx, g); });
  if (entity == "card") return text(store.last_card(id), [&](const Card& c) { return card_json_at(ctx, c); });
  if (entity == "group_member") {
    const auto slash = id.find('/');
    const std::string group = id.substr(0, slash);
    const std::string user = slash == std::string::npos ? std::string() : id.substr(slash + 1);
    auto known = store.group(group);
    if (!known) return known.error();
    if (!*known) return std::string();
    auto members = store.members(group);
    if (!members) return members.error();
    for (const auto& m : *members)
      if (m.user == user) return member_json(ctx, m).dump();
    return std::string();
  }
  return Error::invalid("no snapshot of '" + std::string(entity) + "'");
}

/// One audit change of entity id: before as given, after read now.
Result<audit::Change> change_of(const ApiContext& ctx, Store& store, std::string action, std::string_view entity,
                                const std::string& id, std::string before) {
  auto after = snapshot(ctx, store, entity, id);
  if (!after) return after.error();
  return audit::Change{std::move(action), std::string(entity), id, std::move(before), std::move(after).value()};
}

/// A write whose changes are audited: returns them in the order made.
using AuditedWrite = std::function<Result<std::vector<audit::Change>>()>;

/// Runs write and appends an audit entry for each change it returns, all in one unit of work
/// (audit::record): both are committed or neither, and a write that fails leaves no entry. No
/// changes, no entries. write may run more than once (PostgreSQL runs a lost race again).
Status record_changes(UnitOfWork& uow, audit::Store& audit, const Request& req, int64_t now_ms,
                      const AuditedWrite& write) {
  const audit::Context who = audit::request_context(req);
  return audit::record(uow, audit, who, now_ms, [&]() -> Result<std::optional<audit::Change>> {
    auto changes = write();
    if (!changes) return changes.error();
    if (changes->empty()) return audit::unchanged();
    // record() appends the last change; those before it go first, in the same unit of work and
    // under the chain's lock, which record() holds while write runs.
    for (std::size_t i = 0; i + 1 < changes->size(); ++i) {
      auto e = audit.append(who, (*changes)[i], now_ms);
      if (!e) return e.error();
    }
    return audit::changed(std::move(changes->back()));
  });
}

/// A write of one entity: before (read), the store call, after (read), as one audited change.
Status record_one(const ApiContext& ctx, UnitOfWork& uow, Store& store, audit::Store& audit, const Request& req,
                  int64_t now_ms, std::string action, std::string_view entity, const std::string& id,
                  const std::function<Status()>& write) {
  return record_changes(uow, audit, req, now_ms, [&]() -> Result<std::vector<audit::Change>> {
    auto before = snapshot(ctx, store, entity, id);
    if (!before) return before.error();
    LG_TRY(write());
    auto c = change_of(ctx, store, action, entity, id, std::move(before).value());
    if (!c) return c.error();
    return std::vector<audit::Change>{std::move(c).value()};
  });
}

/// The personal fields of a POST or PATCH /api/users body: absent keeps, null or "" clears.
PersonalPatch read_personal(const json& body, Fields& f) {
  PersonalPatch p;
  for (auto [key, field] :
       {std::pair{"email", &PersonalPatch::email}, std::pair{"phone", &PersonalPatch::phone},
        std::pair{"id_number", &PersonalPatch::id_number}, std::pair{"organisation", &PersonalPatch::organisation}}) {
    if (!body.contains(key)) continue;
    std::string v = f.opt_text(key);
    if (!f.ok()) continue;
    if (auto why = personal_field_problem(key, v); !why.empty()) f.invalid(key, why);
    p.*field = std::move(v);
  }
  return p;
}

/// The category field of a body: one of the five names, or an old one (internal, external).
std::optional<UserCategory> read_category(Fields& f) {
  const std::string s = f.text("category");
  if (!f.ok()) return std::nullopt;
  auto c = category_from(s);
  if (!c)
    f.invalid("category", std::string("must be ") + category_names() + " (internal and external are still taken)");
  return c;
}

/// The access-policy fields of a POST /api/instruments or PATCH /api/instruments/{id} body.
InstrumentPolicyPatch read_policy(Fields& f) {
  InstrumentPolicyPatch p;
  p.require_booking = f.opt_flag("require_booking");
  p.early_start_s = f.opt_integer("early_start_s", 0, kMaxEarlyStartS);
  p.grace_after_end_s = f.opt_integer("grace_after_end_s", 0, kMaxGraceAfterEndS);
  p.offline_grace_s = f.opt_integer("offline_grace_s", 0, kMaxOfflineGraceS);
  p.max_session_s = f.opt_integer("max_session_s", 0, kMaxSessionS);
  return p;
}

/// An optional place field of a PATCH body: absent = keep, null or "" = none / root, else an id.
std::optional<std::string> opt_place(const json& body, Fields& f, const char* key) {
  if (!body.contains(key)) return std::nullopt;
  if (body[key].is_null()) return std::string();
  const std::string v = f.id(key, false);
  return v;
}

/// An optional name field of a PATCH body: absent = keep.
std::optional<std::string> opt_name(const json& body, Fields& f) {
  if (!body.contains("name")) return std::nullopt;
  return f.text("name");
}

json move_json(const ApiContext& ctx, const Move& m) {
  return json{{"entity", m.entity},
              {"id", m.id},
              {"from", m.from.empty() ? json(nullptr) : json(m.from)},
              {"to", m.to.empty() ? json(nullptr) : json(m.to)},
              {"at", ctx.time(m.at_ms)}};
}

/// Ends the card named by the path as `why` (lost, revoked): 200 with the ended row; audited as
/// action (the card's row before and after).
Response end_card_route(const ApiContext& ctx, UnitOfWork& uow, Store& store, audit::Store& audit, const Request& req,
                        const PathParams& pp, CardStatus why, const char* action) {
  auto uid = path_uid(pp);
  if (!uid) return error(422, "invalid card uid: must be " + std::string(CardUid::kRule));
  const int64_t now = ctx.now();
  std::optional<Card> ended;
  Status s = record_one(ctx, uow, store, audit, req, now, action, "card", *uid, [&]() -> Status {
    auto e = store.end_card(*uid, why, now);
    if (!e) return e.error();
    ended = *e;
    return {};
  });
  if (!s) return failure(s.error());
  ctx.changed_all();  // every terminal whose bundle granted it refuses it from the next bundle
  log::info("directory", "card " + *uid + " of " + ended->user + " " + to_string(why));
  return reply(200, card_json_at(ctx, *ended));
}

/// DELETE of a unit, lab or group: retired, kept with its history; audited as "retire".
Response retire_route(const ApiContext& ctx, UnitOfWork& uow, Store& store, audit::Store& audit, const Request& req,
                      const std::string& entity, const PathParams& pp) {
  const std::string& id = pp.find("id")->second;
  const int64_t now = ctx.now();
  Status s = record_one(ctx, uow, store, audit, req, now, "retire", entity, id,
                        [&]() { return store.retire(entity, id, now); });
  if (!s) return failure(s.error());
  log::info("directory", entity + " " + id + " retired");
  return reply(200, json{{"entity", entity}, {"id", id}, {"retired", ctx.time(now)}});
}

}  // namespace

void add_routes(Router& router, const ApiContext& ctx, UnitOfWork& uow, Store& store, audit::Store& audit) {
  router.add({"POST", "/api/units", Access::body(identity::Right::people_write, identity::Kind::unit, "parent"), [&](const Request& req, const PathParams&) {
                Response bad;
                auto body = parse_body(req, bad);
                if (!body) return bad;
                Fields f(*body, {"id", "name", "parent"});
                Unit u{f.id("id"), f.text("name"), f.id("parent", false)};
                if (!f.ok()) return f.response();
                const int64_t now = ctx.now();
                Status s = record_one(ctx, uow, store, audit, req, now, "create", "unit", u.id,
                                      [&]() { return store.add_unit(u, now); });
                if (!s) return failure(s.error());
                return reply(201, json{{"id", u.id}});
              }});
  router.add(list_route<Unit>("/api/units", "units", ctx, Access::any(identity::Right::catalogue), [&](const Page& p) { return store.units(p); },
                              [&ctx](const Unit& u) { return unit_json(ctx, u); }));
  router.add({"DELETE", "/api/units/{id}", Access::path(identity::Right::people_write, identity::Kind::unit), [&](const Request& req, const PathParams& pp) {
                return retire_route(ctx, uow, store, audit, req, "unit", pp);
              }});
  router.add({"PATCH", "/api/units/{id}", Access::path(identity::Right::people_write, identity::Kind::unit), [&](const Request& req, const PathParams& pp) {
                const std::string& id = pp.find("id")->second;
                Response bad;
                auto body = parse_body(req, bad);
                if (!body) return bad;
                Fields f(*body, {"name", "parent"});
                PlacePatch p;
                p.name = opt_name(*body, f);
                p.place = opt_place(*body, f, "parent");
                if (!f.ok()) return f.response();
                if (auto no = refuse_move(ctx, req, identity::Right::people_write, identity::Kind::unit, p.place)) return *no;
                const int64_t now = ctx.now();
                std::optional<Unit> updated;
                Status s = record_one(ctx, uow, store, audit, req, now, "update", "unit", id, [&]() -> Status {
                  auto u = store.update_unit(id, p, now);
                  if (!u) return u.error();
                  updated = *u;
                  return {};
                });
                if (!s) return failure(s.error());
                return reply(200, unit_json(ctx, *updated));
              }});
  router.add({"GET", "/api/moves", Access::any(identity::Right::self), [&](const Request& req, const PathParams&) {
                const auto e = req.query.find("entity");
                const auto i = req.query.find("id");
                if (e == req.query.end() || i == req.query.end())
                  return error(400, "query: entity (unit|lab|instrument|user) and id are required");
                if (e->second != "unit" && e->second != "lab" && e->second != "instrument" && e->second != "user")
                  return error(422, "invalid query: entity must be unit, lab, instrument or user");
                if (e->second == "user" && !ctx.may(req, identity::Right::people_read, {{identity::Kind::user, i->second}})) {
                  return error(404, "not found");
                }
                auto m = store.moves(e->second, i->second);
                if (!m) return failure(m.error());
                json out = json::array();
                for (const auto& x : *m) out.push_back(move_json(ctx, x));
                return reply(200, out);
              }});

  router.add({"POST", "/api/labs", Access::body(identity::Right::people_write, identity::Kind::unit, "unit"), [&](const Request& req, const PathParams&) {
                Response bad;
                auto body = parse_body(req, bad);
                if (!body) return bad;
                Fields f(*body, {"id", "name", "unit"});
                Lab l{f.id("id"), f.text("name"), f.id("unit")};
                if (!f.ok()) return f.response();
                const int64_t now = ctx.now();
                Status s = record_one(ctx, uow, store, audit, req, now, "create", "lab", l.id,
                                      [&]() { return store.add_lab(l, now); });
                if (!s) return failure(s.error());
                return reply(201, json{{"id", l.id}});
              }});
  router.add(list_route<Lab>("/api/labs", "labs", ctx, Access::any(identity::Right::catalogue), [&](const Page& p) { return store.labs(p); },
                             [&ctx](const Lab& l) { return lab_json(ctx, l); }));
  router.add({"DELETE", "/api/labs/{id}", Access::path(identity::Right::people_write, identity::Kind::lab), [&](const Request& req, const PathParams& pp) {
                return retire_route(ctx, uow, store, audit, req, "lab", pp);
              }});
  router.add({"PATCH", "/api/labs/{id}", Access::path(identity::Right::people_write, identity::Kind::lab), [&](const Request& req, const PathParams& pp) {
                const std::string& id = pp.find("id")->second;
                Response bad;
                auto body = parse_body(req, bad);
                if (!body) return bad;
                Fields f(*body, {"name", "unit"});
                PlacePatch p;
                p.name = opt_name(*body, f);
                if (body->contains("unit")) p.place = f.id("unit");
                if (!f.ok()) return f.response();
                if (auto no = refuse_move(ctx, req, identity::Right::people_write, identity::Kind::unit, p.place)) return *no;
                const int64_t now = ctx.now();
                std::optional<Lab> updated;
                Status s = record_one(ctx, uow, store, audit, req, now, "update", "lab", id, [&]() -> Status {
                  auto l = store.update_lab(id, p, now);
                  if (!l) return l.error();
                  updated = *l;
                  return {};
                });
                if (!s) return failure(s.error());
                return reply(200, lab_json(ctx, *updated));
              }});

  router.add({"POST", "/api/instruments", Access::body(identity::Right::instrument_write, identity::Kind::lab, "lab"), [&](const Request& req, const PathParams&) {
                Response bad;
                auto body = parse_body(req, bad);
                if (!body) return bad;
                Fields f(*body, {"id", "name", "lab", "kind", "asset_no", "require_booking", "early_start_s",
                                 "grace_after_end_s", "offline_grace_s", "max_session_s", "status"});
                Instrument i;
                i.id = f.id("id");
                i.name = f.text("name");
                i.lab = f.id("lab");
                i.kind = kind_from(f.one_of("kind", {"instrument", "door"})).value_or(InstrumentKind::instrument);
                i.asset_no = f.opt_text("asset_no");
                const InstrumentPolicyPatch p = read_policy(f);
                if (body->contains("status"))
                  i.status = proto::resource_status_from(
                                 f.one_of("status", {"normal", "maintenance", "disabled", "pending_scrap"}))
                                 .value_or(InstrumentStatus::normal);
                if (!f.ok()) return f.response();
                i.require_booking = p.require_booking.value_or(i.require_booking);
                i.early_start_s = p.early_start_s.value_or(i.early_start_s);
                i.grace_after_end_s = p.grace_after_end_s.value_or(i.grace_after_end_s);
                i.offline_grace_s = p.offline_grace_s.value_or(i.offline_grace_s);
                i.max_session_s = p.max_session_s.value_or(i.max_session_s);
                const int64_t now = ctx.now();
                Status s = record_one(ctx, uow, store, audit, req, now, "create", "instrument", i.id,
                                      [&]() { return store.add_instrument(i, now); });
                if (!s) return failure(s.error());
                ctx.changed(i.id);
                return reply(201, json{{"id", i.id}});
              }});
  router.add(list_route<Instrument>("/api/instruments", "instruments", ctx, Access::any(identity::Right::catalogue),
                                    [&](const Page& p) { return store.instruments(p); }, instrument_json));
  router.add({"PATCH", "/api/instruments/{id}", Access::path(identity::Right::instrument_write, identity::Kind::instrument), [&](const Request& req, const PathParams& pp) {
                const std::string& id = pp.find("id")->second;
                Response bad;
                auto body = parse_body(req, bad);
                if (!body) return bad;
                Fields f(*body, {"require_booking", "early_start_s", "grace_after_end_s", "offline_grace_s",
                                 "max_session_s", "status", "name", "lab"});
                InstrumentPolicyPatch p = read_policy(f);
                p.name = opt_name(*body, f);
                if (body->contains("lab")) p.lab = f.id("lab");
                if (body->contains("status"))
                  p.status = proto::resource_status_from(
                      f.one_of("status", {"normal", "maintenance", "disabled", "pending_scrap"}));
                if (!f.ok()) return f.response();
                if (auto no = refuse_move(ctx, req, identity::Right::instrument_write, identity::Kind::lab, p.lab)) return *no;
                const int64_t now = ctx.now();
                std::optional<Instrument> updated;
                Status s = record_one(ctx, uow, store, audit, req, now, "update", "instrument", id, [&]() -> Status {
                  auto u = store.update_instrument_policy(id, p, now);
                  if (!u) return u.error();
                  updated = *u;
                  return {};
                });
                if (!s) return failure(s.error());
                ctx.changed(id);
                return reply(200, instrument_json(*updated));
              }});

  router.add({"POST", "/api/users", Access::body(identity::Right::people_write, identity::Kind::unit, "unit"), [&](const Request& req, const PathParams&) {
                Response bad;
                auto body = parse_body(req, bad);
                if (!body) return bad;
                Fields f(*body,
                         {"id", "name", "category", "unit", "admin", "email", "phone", "id_number", "organisation"});
                User u;
                u.id = f.id("id");
                u.name = f.text("name");
                u.category = read_category(f).value_or(u.category);
                u.unit = f.id("unit", false);
                u.admin = f.flag("admin", false);
                read_personal(*body, f).apply(u);
                if (!f.ok()) return f.response();
                const int64_t now = ctx.now();
                Status s = record_one(ctx, uow, store, audit, req, now, "create", "user", u.id,
                                      [&]() { return store.add_user(u, now); });
                if (!s) return failure(s.error());
                if (u.admin) ctx.changed_all();
                return reply(201, json{{"id", u.id}});
              }});
  router.add({"GET", "/api/users", Access::any(identity::Right::people_read), [&](const Request& req, const PathParams&) {
                Response bad;
                auto page = page_param(req, "users", ctx, bad);
                if (!page) return bad;
                return page_reply<User>(req, "users", ctx, page->limit, store.users(*page), [&](const User& u) {
                  if (!ctx.may(req, identity::Right::people_read, {{identity::Kind::user, u.id}})) return json(nullptr);
                  return shown_user(ctx, req, u);
                });
              }});
  router.add({"PATCH", "/api/users/{id}", Access::path(identity::Right::people_write, identity::Kind::user), [&](const Request& req, const PathParams& pp) {
                const std::string& id = pp.find("id")->second;
                Response bad;
                auto body = parse_body(req, bad);
                if (!body) return bad;
                Fields f(*body, {"status", "reason", "name", "category", "unit", "email", "phone", "id_number",
                                 "organisation"});
                std::optional<UserStatus> to;
                if (body->contains("status"))
                  to = user_status_from(f.one_of("status", {"pending", "active", "suspended", "left"}));
                const std::string reason = f.opt_text("reason");
                PlacePatch p;
                p.name = opt_name(*body, f);
                p.place = opt_place(*body, f, "unit");
                if (body->contains("category")) p.category = read_category(f);
                p.personal = read_personal(*body, f);
                if (!f.ok()) return f.response();
                if (auto no = refuse_move(ctx, req, identity::Right::people_write, identity::Kind::unit, p.place)) return *no;
                if (!to && !p.name && !p.place && !p.category && !p.personal.any())
                  return error(400,
                               "nothing to change: give status, name, category, unit, email, phone, id_number or "
                               "organisation");
                const int64_t now = ctx.now();
                std::optional<User> updated;
                Status s = record_one(ctx, uow, store, audit, req, now, "update", "user", id, [&]() -> Status {
                  if (p.name || p.place || p.category || p.personal.any()) {
                    auto u = store.update_user(id, p, now);
                    if (!u) return u.error();
                    updated = *u;
                  }
                  if (to) {
                    auto u = store.set_user_status(id, *to, reason, now);
                    if (!u) return u.error();
                    updated = *u;
                  }
                  return {};
                });
                if (!s) return failure(s.error());
                ctx.changed_all();  // the user's cards are refused (or open again), category, from the next bundle
                if (to)
                  log::info("directory", "user " + id + " is now " + to_string(updated->status) +
                                             (reason.empty() ? "" : " (" + reason + ")"));
                return reply(200, user_json(*updated));
              }});

  // Import from HR and student systems (directory/import.hpp): CSV files in one unit of work,
  // each row it creates or updates audited as "import" in the same unit of work.
  router.add({"POST", "/api/import", Access::site(identity::Right::site), [&](const Request& req, const PathParams&) {
                Response bad;
                auto body = parse_body(req, bad);
                if (!body) return bad;
                Fields f(*body, {"dry_run", "files"});
                const bool dry_run = f.flag("dry_run", false);
                if (!f.ok()) return f.response();
                auto it = body->find("files");
                if (it == body->end() || !it->is_array() || it->empty())
                  return error(400, "files: must be a non-empty array of {kind, name, text}");
                std::vector<ImportFile> files;
                for (const auto& x : *it) {
                  if (!x.is_object() || !x.contains("kind") || !x["kind"].is_string() || !x.contains("text") ||
                      !x["text"].is_string())
                    return error(400, "files: each must be {kind, name?, text} with strings");
                  ImportFile file{x["kind"].get<std::string>(),
                                  x.value("name", x["kind"].get<std::string>() + ".csv"), x["text"].get<std::string>()};
                  files.push_back(std::move(file));
                }
                const int64_t now = ctx.now();
                const Snapshot snap = [&](std::string_view entity, const std::string& id) {
                  return snapshot(ctx, store, entity, id);
                };
                std::optional<ImportSummary> summary;
                Status s = record_changes(uow, audit, req, now, [&]() -> Result<std::vector<audit::Change>> {
                  auto r = import_csv(uow, store, files, dry_run, now, snap);
                  if (!r) return r.error();
                  std::vector<audit::Change> changes;
                  for (auto& row : r->rows)
                    changes.push_back(audit::Change{"import", row.entity, row.id, row.before, row.after});
                  summary = std::move(r).value();
                  return changes;
                });
                if (!s) {
                  if (s.error().code == std::make_error_code(std::errc::invalid_argument))
                    return error(422, s.error().reason);
                  return failure(s.error());
                }
                if (!dry_run && summary->changed()) ctx.changed_all();
                json counts = json::object();
                for (const auto& [kind, by] : summary->counts) counts[kind] = by;
                return reply(200, json{{"dry_run", dry_run}, {"changed", summary->changed()}, {"counts", counts}});
              }});

  router.add({"POST", "/api/groups", Access::body(identity::Right::people_write, identity::Kind::unit, "unit"), [&](const Request& req, const PathParams&) {
                Response bad;
                auto body = parse_body(req, bad);
                if (!body) return bad;
                Fields f(*body, {"id", "name", "pi", "unit"});
                Group g{f.id("id"), f.text("name"), f.id("pi"), f.id("unit", false)};
                if (!f.ok()) return f.response();
                const int64_t now = ctx.now();
                Status s = record_one(ctx, uow, store, audit, req, now, "create", "group", g.id,
                                      [&]() { return store.add_group(g, now); });
                if (!s) return failure(s.error());
                return reply(201, json{{"id", g.id}});
              }});
  router.add({"GET", "/api/groups", Access::any(identity::Right::people_read), [&](const Request& req, const PathParams&) {
                Response bad;
                auto page = page_param(req, "groups", ctx, bad);
                if (!page) return bad;
                return page_reply<Group>(req, "groups", ctx, page->limit, store.groups(*page), [&](const Group& g) {
                  if (!ctx.may(req, identity::Right::people_read, {{identity::Kind::group, g.id}})) return json(nullptr);
                  return group_json(ctx, g);
                });
              }});
  router.add({"PATCH", "/api/groups/{id}", Access::path(identity::Right::people_write, identity::Kind::group), [&](const Request& req, const PathParams& pp) {
                const std::string& id = pp.find("id")->second;
                Response bad;
                auto body = parse_body(req, bad);
                if (!body) return bad;
                Fields f(*body, {"name", "pi", "unit"});
                GroupPatch p;
                p.name = opt_name(*body, f);
                if (body->contains("pi")) p.pi = f.id("pi");
                p.unit = opt_place(*body, f, "unit");
                if (!f.ok()) return f.response();
                if (auto no = refuse_move(ctx, req, identity::Right::people_write, identity::Kind::unit, p.unit)) return *no;
                if (!p.name && !p.pi && !p.unit) return error(400, "nothing to change: give name, pi or unit");
                const int64_t now = ctx.now();
                std::optional<Group> updated;
                Status s = record_changes(uow, audit, req, now, [&]() -> Result<std::vector<audit::Change>> {
                  auto before = snapshot(ctx, store, "group", id);
                  if (!before) return before.error();
                  // A new PI who was not a member becomes one: a second entry.
                  std::string pi_before;
                  if (p.pi) {
                    auto m = snapshot(ctx, store, "group_member", id + "/" + *p.pi);
                    if (!m) return m.error();
                    pi_before = std::move(m).value();
                  }
                  auto g = store.update_group(id, p, now);
                  if (!g) return g.error();
                  updated = *g;
                  std::vector<audit::Change> out;
                  auto c = change_of(ctx, store, "update", "group", id, std::move(before).value());
                  if (!c) return c.error();
                  out.push_back(std::move(c).value());
                  if (p.pi && pi_before.empty()) {
                    auto m = change_of(ctx, store, "add", "group_member", id + "/" + *p.pi, "");
                    if (!m) return m.error();
                    out.push_back(std::move(m).value());
                  }
                  return out;
                });
                if (!s) return failure(s.error());
                ctx.changed_all();
                return reply(200, group_json(ctx, *updated));
              }});
  router.add({"DELETE", "/api/groups/{id}", Access::path(identity::Right::people_write, identity::Kind::group), [&](const Request& req, const PathParams& pp) {
                return retire_route(ctx, uow, store, audit, req, "group", pp);
              }});
  router.add({"GET", "/api/groups/{id}/members", Access::path(identity::Right::people_read, identity::Kind::group), [&](const Request&, const PathParams& pp) {
                auto m = store.members(pp.find("id")->second);
                if (!m) return failure(m.error());
                json out = json::array();
                for (const auto& x : *m) out.push_back({{"user", x.user}, {"since", ctx.time(x.since_ms)}});
                return reply(200, out);
              }});
  router.add({"POST", "/api/groups/{id}/members", Access::path(identity::Right::people_write, identity::Kind::group), [&](const Request& req, const PathParams& pp) {
                const std::string& group = pp.find("id")->second;
                Response bad;
                auto body = parse_body(req, bad);
                if (!body) return bad;
                Fields f(*body, {"user"});
                const std::string user = f.id("user");
                if (!f.ok()) return f.response();
                const int64_t now = ctx.now();
                Status s = record_one(ctx, uow, store, audit, req, now, "add", "group_member", group + "/" + user,
                                      [&]() { return store.add_member(group, user, now); });
                if (!s) return failure(s.error());
                return reply(201, json{{"group", group}, {"user", user}});
              }});
  router.add(
      {"DELETE", "/api/groups/{id}/members/{user}", Access::path(identity::Right::people_write, identity::Kind::group), [&](const Request& req, const PathParams& pp) {
         const std::string& group = pp.find("id")->second;
         const std::string& user = pp.find("user")->second;
         Status s = record_one(ctx, uow, store, audit, req, ctx.now(), "remove", "group_member", group + "/" + user,
                               [&]() { return store.remove_member(group, user); });
         if (!s) return failure(s.error());
         return reply(200, json{{"group", group}, {"removed", user}});
       }});

  router.add({"POST", "/api/cards", Access::body(identity::Right::people_write, identity::Kind::user, "user"), [&](const Request& req, const PathParams&) {
                Response bad;
                auto body = parse_body(req, bad);
                if (!body) return bad;
                Fields f(*body, {"uid", "user", "valid_until"});
                Card c;
                c.uid = f.text("uid");
                if (f.ok()) {
                  if (auto uid = CardUid::parse(c.uid)) c.uid = uid->str();
                  else f.invalid("uid", "must be " + std::string(CardUid::kRule));
                }
                c.user = f.id("user");
                c.valid_until_ms = f.time("valid_until", false);
                if (f.ok() && c.valid_until_ms && *c.valid_until_ms <= ctx.now())
                  f.invalid("valid_until", "must be in the future");
                if (!f.ok()) return f.response();
                const int64_t now = ctx.now();
                Status s = record_changes(uow, audit, req, now, [&]() -> Result<std::vector<audit::Change>> {
                  LG_TRY(store.add_card(c, now));
                  auto made = change_of(ctx, store, "create", "card", c.uid, "");  // a new row: nothing before it
                  if (!made) return made.error();
                  return std::vector<audit::Change>{std::move(made).value()};
                });
                if (!s) return failure(s.error());
                ctx.changed_all();
                return reply(201, json{{"uid", c.uid}, {"user", c.user}, {"valid_until", ctx.time_or_null(c.valid_until_ms)}});
              }});
  router.add({"GET", "/api/cards", Access::any(identity::Right::people_read), [&](const Request& req, const PathParams&) {
                Response bad;
                auto page = page_param(req, "cards", ctx, bad);
                if (!page) return bad;
                return page_reply<Card>(req, "cards", ctx, page->limit, store.cards(*page), [&](const Card& c) {
                  if (!ctx.may(req, identity::Right::people_read, {{identity::Kind::user, c.user}})) return json(nullptr);
                  json j = card_json_at(ctx, c);
                  // A card's uid is the credential at the door: only its holder and those who
                  // may change the holder see it whole.
                  if (!personal_visible(ctx, req, c.user)) j["uid"] = masked_uid(c.uid);
                  return j;
                });
              }});
  // A temporary card's end date set or cleared (null) on the uid's active row.
  router.add({"PATCH", "/api/cards/{uid}", Access::path(identity::Right::people_write, identity::Kind::card, "uid"), [&](const Request& req, const PathParams& pp) {
                auto uid = path_uid(pp);
                if (!uid) return error(422, "invalid card uid: must be " + std::string(CardUid::kRule));
                Response bad;
                auto body = parse_body(req, bad);
                if (!body) return bad;
                Fields f(*body, {"valid_until"});
                if (!f.ok()) return f.response();
                if (!body->contains("valid_until")) return error(400, "missing field: valid_until (a time or null)");
                const std::optional<int64_t> until = f.time("valid_until", false);
                const int64_t now = ctx.now();
                if (f.ok() && until && *until <= now) f.invalid("valid_until", "must be in the future");
                if (!f.ok()) return f.response();
                std::optional<Card> updated;
                Status s = record_one(ctx, uow, store, audit, req, now, "update", "card", *uid, [&]() -> Status {
                  auto c = store.set_card_valid_until(*uid, until);
                  if (!c) return c.error();
                  updated = *c;
                  return {};
                });
                if (!s) return failure(s.error());
                ctx.changed_all();  // the grant's end date travels in the bundles
                return reply(200, card_json_at(ctx, *updated));
              }});
  router.add({"DELETE", "/api/cards/{uid}", Access::path(identity::Right::people_write, identity::Kind::card, "uid"), [&](const Request& req, const PathParams& pp) {
                return end_card_route(ctx, uow, store, audit, req, pp, CardStatus::revoked, "revoke");  // the row stays
              }});
  router.add({"DELETE", "/api/users/{id}", Access::path(identity::Right::people_write, identity::Kind::user), [&](const Request& req, const PathParams& pp) {
                const std::string& id = pp.find("id")->second;
                auto it = req.query.find("reason");
                const std::string reason = it == req.query.end() ? std::string() : it->second;
                const int64_t now = ctx.now();
                std::optional<User> updated;
                Status s = record_one(ctx, uow, store, audit, req, now, "leave", "user", id, [&]() -> Status {
                  auto u = store.set_user_status(id, UserStatus::left, reason, now);
                  if (!u) return u.error();
                  updated = *u;
                  return {};
                });
                if (!s) return failure(s.error());
                ctx.changed_all();
                log::info("directory", "user " + id + " has left" + (reason.empty() ? "" : " (" + reason + ")"));
                return reply(200, user_json(*updated));
              }});
  router.add({"DELETE", "/api/instruments/{id}", Access::path(identity::Right::instrument_write, identity::Kind::instrument), [&](const Request& req, const PathParams& pp) {
                const std::string& id = pp.find("id")->second;
                InstrumentPolicyPatch p;
                p.status = InstrumentStatus::disabled;  // 停用: kept with its usage and money
                const int64_t now = ctx.now();
                std::optional<Instrument> updated;
                Status s = record_one(ctx, uow, store, audit, req, now, "retire", "instrument", id, [&]() -> Status {
                  auto u = store.update_instrument_policy(id, p, now);
                  if (!u) return u.error();
                  updated = *u;
                  return {};
                });
                if (!s) return failure(s.error());
                ctx.changed(id);
                log::info("directory", "instrument " + id + " disabled (retired)");
                return reply(200, instrument_json(*updated));
              }});
  router.add({"POST", "/api/cards/{uid}/lost", Access::path(identity::Right::self, identity::Kind::card, "uid"), [&](const Request& req, const PathParams& pp) {
                return end_card_route(ctx, uow, store, audit, req, pp, CardStatus::lost, "lost");
              }});
  router.add({"POST", "/api/cards/{uid}/revoke", Access::path(identity::Right::people_write, identity::Kind::card, "uid"), [&](const Request& req, const PathParams& pp) {
                return end_card_route(ctx, uow, store, audit, req, pp, CardStatus::revoked, "revoke");
              }});
  // A replacement card for the same holder: the old one ends as replaced (or stays lost when it
  // was reported lost before), the new one is issued, in one unit of work; audited as "replace"
  // of the old card (when it was still active) and "create" of the new one.
  router.add({"POST", "/api/cards/{uid}/replace", Access::path(identity::Right::people_write, identity::Kind::card, "uid"), [&](const Request& req, const PathParams& pp) {
                auto old_uid = path_uid(pp);
                if (!old_uid) return error(422, "invalid card uid: must be " + std::string(CardUid::kRule));
                Response bad;
                auto body = parse_body(req, bad);
                if (!body) return bad;
                Fields f(*body, {"new_uid", "valid_until"});
                Card c;
                c.uid = f.text("new_uid");
                if (f.ok()) {
                  if (auto uid = CardUid::parse(c.uid)) c.uid = uid->str();
                  else f.invalid("new_uid", "must be " + std::string(CardUid::kRule));
                }
                c.valid_until_ms = f.time("valid_until", false);
                if (!f.ok()) return f.response();
                const int64_t now = ctx.now();
                Status s = record_changes(uow, audit, req, now, [&]() -> Result<std::vector<audit::Change>> {
                  std::vector<audit::Change> out;
                  auto last = store.last_card(*old_uid);
                  if (!last) return last.error();
                  if (!*last) return domain_error(Errc::not_found, "no card '" + *old_uid + "'");
                  if ((*last)->active) {
                    const std::string before = card_json_at(ctx, **last).dump();
                    auto ended = store.end_card(*old_uid, CardStatus::replaced, now);
                    if (!ended) return ended.error();
                    out.push_back(audit::Change{"replace", "card", *old_uid, before, card_json_at(ctx, *ended).dump()});
                  } else if ((*last)->status == CardStatus::replaced) {
                    return domain_error(Errc::conflict, "card '" + *old_uid + "' was replaced already");
                  }  // a lost or revoked card stays so: the new card is its replacement
                  c.user = (*last)->user;
                  LG_TRY(store.add_card(c, now));
                  auto made = change_of(ctx, store, "create", "card", c.uid, "");
                  if (!made) return made.error();
                  out.push_back(std::move(made).value());
                  return out;
                });
                if (!s) return failure(s.error());
                ctx.changed_all();
                return reply(201, json{{"uid", c.uid}, {"user", c.user}, {"replaces", *old_uid},
                                       {"valid_until", ctx.time_or_null(c.valid_until_ms)}});
              }});
}

}  // namespace lg::server::directory
