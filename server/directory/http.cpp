#include "server/directory/http.hpp"

#include "labgate/common/card_uid.hpp"
#include "labgate/common/log.hpp"
#include "server/directory/import.hpp"
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
json user_json(const User& u) {
  return json{{"id", u.id},
              {"name", u.name},
              {"category", to_string(u.category)},
              {"unit", u.unit.empty() ? json(nullptr) : json(u.unit)},
              {"admin", u.admin},
              {"status", to_string(u.status)},
              {"status_reason", u.status_reason}};
}

json group_json(const ApiContext& ctx, const Group& g) {
  return json{{"id", g.id},
              {"name", g.name},
              {"pi", g.pi},
              {"unit", g.unit.empty() ? json(nullptr) : json(g.unit)},
              {"retired", ctx.time_or_null(g.retired_ms)}};
}

/// DELETE of a unit, lab or group: retired, kept with its history.
Response retire_route(const ApiContext& ctx, Store& store, const std::string& entity, const PathParams& pp) {
  const std::string& id = pp.find("id")->second;
  if (auto s = store.retire(entity, id, ctx.now()); !s) return failure(s.error());
  log::info("directory", entity + " " + id + " retired");
  return reply(200, json{{"entity", entity}, {"id", id}, {"retired", ctx.time(ctx.now())}});
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

/// Ends the card named by the path as `why` (lost, revoked): 200 with the ended row.
Response end_card_route(const ApiContext& ctx, Store& store, const PathParams& pp, CardStatus why) {
  auto uid = path_uid(pp);
  if (!uid) return error(422, "invalid card uid: must be " + std::string(CardUid::kRule));
  auto ended = store.end_card(*uid, why, ctx.now());
  if (!ended) return failure(ended.error());
  ctx.changed_all();  // every terminal whose bundle granted it refuses it from the next bundle
  log::info("directory", "card " + *uid + " of " + ended->user + " " + to_string(why));
  return reply(200, card_json_at(ctx, *ended));
}

}  // namespace

void add_routes(Router& router, const ApiContext& ctx, UnitOfWork& uow, Store& store) {
  router.add({"POST", "/api/units", Permission::admin, [&](const Request& req, const PathParams&) {
                Response bad;
                auto body = parse_body(req, bad);
                if (!body) return bad;
                Fields f(*body, {"id", "name", "parent"});
                Unit u{f.id("id"), f.text("name"), f.id("parent", false)};
                if (!f.ok()) return f.response();
                if (auto s = store.add_unit(u, ctx.now()); !s) return failure(s.error());
                return reply(201, json{{"id", u.id}});
              }});
  router.add(list_route<Unit>("/api/units", "units", ctx, [&](const Page& p) { return store.units(p); },
                              [&ctx](const Unit& u) { return unit_json(ctx, u); }));
  router.add({"DELETE", "/api/units/{id}", Permission::admin,
              [&](const Request&, const PathParams& pp) { return retire_route(ctx, store, "unit", pp); }});
  router.add({"PATCH", "/api/units/{id}", Permission::admin, [&](const Request& req, const PathParams& pp) {
                Response bad;
                auto body = parse_body(req, bad);
                if (!body) return bad;
                Fields f(*body, {"name", "parent"});
                PlacePatch p;
                p.name = opt_name(*body, f);
                p.place = opt_place(*body, f, "parent");
                if (!f.ok()) return f.response();
                auto u = store.update_unit(pp.find("id")->second, p, ctx.now());
                if (!u) return failure(u.error());
                return reply(200, unit_json(ctx, *u));
              }});
  router.add({"GET", "/api/moves", Permission::admin, [&](const Request& req, const PathParams&) {
                const auto e = req.query.find("entity");
                const auto i = req.query.find("id");
                if (e == req.query.end() || i == req.query.end())
                  return error(400, "query: entity (unit|lab|instrument|user) and id are required");
                if (e->second != "unit" && e->second != "lab" && e->second != "instrument" && e->second != "user")
                  return error(422, "invalid query: entity must be unit, lab, instrument or user");
                auto m = store.moves(e->second, i->second);
                if (!m) return failure(m.error());
                json out = json::array();
                for (const auto& x : *m) out.push_back(move_json(ctx, x));
                return reply(200, out);
              }});

  router.add({"POST", "/api/labs", Permission::admin, [&](const Request& req, const PathParams&) {
                Response bad;
                auto body = parse_body(req, bad);
                if (!body) return bad;
                Fields f(*body, {"id", "name", "unit"});
                Lab l{f.id("id"), f.text("name"), f.id("unit")};
                if (!f.ok()) return f.response();
                if (auto s = store.add_lab(l, ctx.now()); !s) return failure(s.error());
                return reply(201, json{{"id", l.id}});
              }});
  router.add(list_route<Lab>("/api/labs", "labs", ctx, [&](const Page& p) { return store.labs(p); },
                             [&ctx](const Lab& l) { return lab_json(ctx, l); }));
  router.add({"DELETE", "/api/labs/{id}", Permission::admin,
              [&](const Request&, const PathParams& pp) { return retire_route(ctx, store, "lab", pp); }});
  router.add({"PATCH", "/api/labs/{id}", Permission::admin, [&](const Request& req, const PathParams& pp) {
                Response bad;
                auto body = parse_body(req, bad);
                if (!body) return bad;
                Fields f(*body, {"name", "unit"});
                PlacePatch p;
                p.name = opt_name(*body, f);
                if (body->contains("unit")) p.place = f.id("unit");
                if (!f.ok()) return f.response();
                auto l = store.update_lab(pp.find("id")->second, p, ctx.now());
                if (!l) return failure(l.error());
                return reply(200, lab_json(ctx, *l));
              }});

  router.add({"POST", "/api/instruments", Permission::admin, [&](const Request& req, const PathParams&) {
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
                if (auto s = store.add_instrument(i, ctx.now()); !s) return failure(s.error());
                ctx.changed(i.id);
                return reply(201, json{{"id", i.id}});
              }});
  router.add(list_route<Instrument>("/api/instruments", "instruments", ctx,
                                    [&](const Page& p) { return store.instruments(p); }, instrument_json));
  router.add({"PATCH", "/api/instruments/{id}", Permission::admin, [&](const Request& req, const PathParams& pp) {
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
                auto updated = store.update_instrument_policy(id, p, ctx.now());
                if (!updated) return failure(updated.error());
                ctx.changed(id);
                return reply(200, instrument_json(*updated));
              }});

  router.add({"POST", "/api/users", Permission::admin, [&](const Request& req, const PathParams&) {
                Response bad;
                auto body = parse_body(req, bad);
                if (!body) return bad;
                Fields f(*body, {"id", "name", "category", "unit", "admin"});
                User u;
                u.id = f.id("id");
                u.name = f.text("name");
                u.category =
                    category_from(f.one_of("category", {"internal", "external"})).value_or(UserCategory::internal);
                u.unit = f.id("unit", false);
                u.admin = f.flag("admin", false);
                if (!f.ok()) return f.response();
                if (auto s = store.add_user(u, ctx.now()); !s) return failure(s.error());
                if (u.admin) ctx.changed_all();
                return reply(201, json{{"id", u.id}});
              }});
  router.add(list_route<User>("/api/users", "users", ctx, [&](const Page& p) { return store.users(p); }, user_json));
  router.add({"PATCH", "/api/users/{id}", Permission::admin, [&](const Request& req, const PathParams& pp) {
                const std::string& id = pp.find("id")->second;
                Response bad;
                auto body = parse_body(req, bad);
                if (!body) return bad;
                Fields f(*body, {"status", "reason", "name", "category", "unit"});
                std::optional<UserStatus> to;
                if (body->contains("status"))
                  to = user_status_from(f.one_of("status", {"pending", "active", "suspended", "left"}));
                const std::string reason = f.opt_text("reason");
                PlacePatch p;
                p.name = opt_name(*body, f);
                p.place = opt_place(*body, f, "unit");
                if (body->contains("category"))
                  p.category = category_from(f.one_of("category", {"internal", "external"}));
                if (!f.ok()) return f.response();
                if (!to && !p.name && !p.place && !p.category)
                  return error(400, "nothing to change: give status, name, category or unit");
                std::optional<User> updated;
                Status s = uow.run([&]() -> Status {
                  if (p.name || p.place || p.category) {
                    auto u = store.update_user(id, p, ctx.now());
                    if (!u) return u.error();
                    updated = *u;
                  }
                  if (to) {
                    auto u = store.set_user_status(id, *to, reason, ctx.now());
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

  // Import from HR and student systems (directory/import.hpp): CSV files in one unit of work.
  router.add({"POST", "/api/import", Permission::admin, [&](const Request& req, const PathParams&) {
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
                auto r = import_csv(uow, store, files, dry_run, ctx.now());
                if (!r) {
                  if (r.error().code == std::make_error_code(std::errc::invalid_argument))
                    return error(422, r.error().reason);
                  return failure(r.error());
                }
                if (!dry_run && r->changed()) ctx.changed_all();
                json counts = json::object();
                for (const auto& [kind, by] : r->counts) counts[kind] = by;
                return reply(200, json{{"dry_run", dry_run}, {"changed", r->changed()}, {"counts", counts}});
              }});

  router.add({"POST", "/api/groups", Permission::admin, [&](const Request& req, const PathParams&) {
                Response bad;
                auto body = parse_body(req, bad);
                if (!body) return bad;
                Fields f(*body, {"id", "name", "pi", "unit"});
                Group g{f.id("id"), f.text("name"), f.id("pi"), f.id("unit", false)};
                if (!f.ok()) return f.response();
                if (auto s = store.add_group(g, ctx.now()); !s) return failure(s.error());
                return reply(201, json{{"id", g.id}});
              }});
  router.add(list_route<Group>("/api/groups", "groups", ctx, [&](const Page& p) { return store.groups(p); },
                               [&ctx](const Group& g) { return group_json(ctx, g); }));
  router.add({"DELETE", "/api/groups/{id}", Permission::admin,
              [&](const Request&, const PathParams& pp) { return retire_route(ctx, store, "group", pp); }});
  router.add({"GET", "/api/groups/{id}/members", Permission::admin, [&](const Request&, const PathParams& pp) {
                auto m = store.members(pp.find("id")->second);
                if (!m) return failure(m.error());
                json out = json::array();
                for (const auto& x : *m) out.push_back({{"user", x.user}, {"since", ctx.time(x.since_ms)}});
                return reply(200, out);
              }});
  router.add({"POST", "/api/groups/{id}/members", Permission::admin, [&](const Request& req, const PathParams& pp) {
                Response bad;
                auto body = parse_body(req, bad);
                if (!body) return bad;
                Fields f(*body, {"user"});
                const std::string user = f.id("user");
                if (!f.ok()) return f.response();
                if (auto s = store.add_member(pp.find("id")->second, user, ctx.now()); !s) return failure(s.error());
                return reply(201, json{{"group", pp.find("id")->second}, {"user", user}});
              }});
  router.add({"DELETE", "/api/groups/{id}/members/{user}", Permission::admin,
              [&](const Request&, const PathParams& pp) {
                if (auto s = store.remove_member(pp.find("id")->second, pp.find("user")->second); !s)
                  return failure(s.error());
                return reply(200, json{{"group", pp.find("id")->second}, {"removed", pp.find("user")->second}});
              }});

  router.add({"POST", "/api/cards", Permission::admin, [&](const Request& req, const PathParams&) {
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
                if (auto s = store.add_card(c, ctx.now()); !s) return failure(s.error());
                ctx.changed_all();
                return reply(201, json{{"uid", c.uid}, {"user", c.user}, {"valid_until", ctx.time_or_null(c.valid_until_ms)}});
              }});
  router.add(list_route<Card>("/api/cards", "cards", ctx, [&](const Page& p) { return store.cards(p); },
                              [&ctx](const Card& c) { return card_json_at(ctx, c); }));
  router.add({"DELETE", "/api/cards/{uid}", Permission::admin, [&](const Request&, const PathParams& pp) {
                return end_card_route(ctx, store, pp, CardStatus::revoked);  // the row stays as history
              }});
  router.add({"DELETE", "/api/users/{id}", Permission::admin, [&](const Request& req, const PathParams& pp) {
                const std::string& id = pp.find("id")->second;
                auto it = req.query.find("reason");
                const std::string reason = it == req.query.end() ? std::string() : it->second;
                auto u = store.set_user_status(id, UserStatus::left, reason, ctx.now());
                if (!u) return failure(u.error());
                ctx.changed_all();
                log::info("directory", "user " + id + " has left" + (reason.empty() ? "" : " (" + reason + ")"));
                return reply(200, user_json(*u));
              }});
  router.add({"DELETE", "/api/instruments/{id}", Permission::admin, [&](const Request&, const PathParams& pp) {
                const std::string& id = pp.find("id")->second;
                InstrumentPolicyPatch p;
                p.status = InstrumentStatus::disabled;  // 停用: kept with its usage and money
                auto u = store.update_instrument_policy(id, p, ctx.now());
                if (!u) return failure(u.error());
                ctx.changed(id);
                log::info("directory", "instrument " + id + " disabled (retired)");
                return reply(200, instrument_json(*u));
              }});
  router.add({"POST", "/api/cards/{uid}/lost", Permission::admin, [&](const Request&, const PathParams& pp) {
                return end_card_route(ctx, store, pp, CardStatus::lost);
              }});
  router.add({"POST", "/api/cards/{uid}/revoke", Permission::admin, [&](const Request&, const PathParams& pp) {
                return end_card_route(ctx, store, pp, CardStatus::revoked);
              }});
  // A replacement card for the same holder: the old one ends as replaced (or stays lost when it
  // was reported lost before), the new one is issued, in one unit of work.
  router.add({"POST", "/api/cards/{uid}/replace", Permission::admin, [&](const Request& req, const PathParams& pp) {
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
                Status s = uow.run([&]() -> Status {
                  auto last = store.last_card(*old_uid);
                  if (!last) return last.error();
                  if (!*last) return domain_error(Errc::not_found, "no card '" + *old_uid + "'");
                  if ((*last)->active) {
                    auto ended = store.end_card(*old_uid, CardStatus::replaced, now);
                    if (!ended) return ended.error();
                  } else if ((*last)->status == CardStatus::replaced) {
                    return domain_error(Errc::conflict, "card '" + *old_uid + "' was replaced already");
                  }  // a lost or revoked card stays so: the new card is its replacement
                  c.user = (*last)->user;
                  return store.add_card(c, now);
                });
                if (!s) return failure(s.error());
                ctx.changed_all();
                return reply(201, json{{"uid", c.uid}, {"user", c.user}, {"replaces", *old_uid},
                                       {"valid_until", ctx.time_or_null(c.valid_until_ms)}});
              }});
}

}  // namespace lg::server::directory
