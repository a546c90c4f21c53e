#include "server/identity/http.hpp"

#include <algorithm>
#include <memory>

#include "labgate/common/crypto.hpp"
#include "labgate/common/log.hpp"
#include "server/audit/http.hpp"
#include "server/audit/record.hpp"
#include "server/directory/rules.hpp"
#include "server/identity/auth.hpp"
#include "server/identity/rules.hpp"
#include "server/transport/http/json_api.hpp"

namespace lg::server::identity {

using namespace http;

namespace {

constexpr std::string_view kLog = "identity";
constexpr int64_t kDayMs = 24LL * 3600 * 1000;

json grant_json(const Grant& g, const ApiContext& ctx) {
  return json{{"id", g.id.empty() ? json(nullptr) : json(g.id)},
              {"user", g.user},
              {"role", to_string(g.role)},
              {"scope", to_string(g.scope)},
              {"scope_id", g.scope_id.empty() ? json(nullptr) : json(g.scope_id)},
              {"granted_by", g.granted_by.empty() ? json(nullptr) : json(g.granted_by)},
              {"granted", g.granted_ms ? json(ctx.time(g.granted_ms)) : json(nullptr)},
              {"revoked", ctx.time_or_null(g.revoked_ms)},
              {"implied", g.id.empty()}};
}

json token_json(const Token& t, const ApiContext& ctx, int64_t now) {
  json rights = json::array();
  for (Right r : t.rights) rights.push_back(to_string(r));
  const std::string why = token_refusal(t, now);
  return json{{"id", t.id},
              {"kind", to_string(t.kind)},
              {"name", t.name},
              {"rights", rights},
              {"created", ctx.time(t.created_ms)},
              {"expires", ctx.time(t.expires_ms)},
              {"revoked", ctx.time_or_null(t.revoked_ms)},
              {"last_used", ctx.time_or_null(t.last_used_ms)},
              {"source", t.source},
              {"live", why.empty()}};
}

json registration_json(const Registration& r, const ApiContext& ctx) {
  return json{{"user", r.user},
              {"unit", r.unit},
              {"applied", ctx.time(r.applied_ms)},
              {"decision", to_string(r.decision)},
              {"decided_by", r.decided_by.empty() ? json(nullptr) : json(r.decided_by)},
              {"decided", ctx.time_or_null(r.decided_ms)},
              {"reason", r.reason}};
}

/// The rights a principal holds anywhere (what GET /api/me lists).
json held_rights(const Principal& who) {
  json out = json::array();
  for (Right r : all_rights())
    if (holds(who, r)) out.push_back(to_string(r));
  return out;
}

/// 429 with Retry-After.
Response throttled(int64_t seconds) {
  Response r = error(429, "too many failed sign-ins: try again in " + std::to_string(seconds) + " s");
  r.headers.emplace_back("Retry-After", std::to_string(seconds));
  return r;
}

class Routes : public std::enable_shared_from_this<Routes> {
 public:
  Routes(const ApiContext& ctx, RouteStores s, const AuthSettings& settings) : ctx_(ctx), s_(s), settings_(settings) {}

  void add(Router& router);

 private:
  Response login(const Request& req);
  Response login_cas(const Request& req);
  /// Checks the throttle of the account and the address; a Response when refused.
  std::optional<Response> check_throttle(const std::string& user, const std::string& address, int64_t now);
  /// Counts a failed sign-in under both keys.
  void count_failure(const std::string& user, const std::string& address, int64_t now);
  /// Makes sure a user first seen through LDAP or CAS exists in the directory (created active).
  Status provision(const ExternalIdentity& who, int64_t now);
  /// Issues a session for user after a successful sign-in (refused for suspended and left users).
  Response start_session(const Request& req, const std::string& user, const std::string& method, int64_t now);
  Response me(const Request& req);
  Response registration_create(const Request& req);
  Response decide(const Request& req, const std::string& user, Decision d);
  Response grant_create(const Request& req);
  Response grant_revoke(const Request& req, const std::string& id);
  /// The place of a grant's scope (site: the empty place).
  Result<std::optional<Place>> scope_place(ScopeKind k, const std::string& id);

  const ApiContext& ctx_;
  RouteStores s_;
  const AuthSettings& settings_;
};

std::optional<Response> Routes::check_throttle(const std::string& user, const std::string& address, int64_t now) {
  for (const std::string& key : {"account:" + user, "address:" + address}) {
    auto t = s_.identity.throttle(key);
    if (!t) return failure(t.error());
    if (auto wait = retry_after_s(*t, now)) return throttled(*wait);
  }
  return std::nullopt;
}

void Routes::count_failure(const std::string& user, const std::string& address, int64_t now) {
  const std::pair<std::string, ThrottleLimits> keys[] = {{"account:" + user, account_limits()},
                                                         {"address:" + address, address_limits()}};
  for (const auto& [key, limits] : keys) {
    auto t = s_.identity.throttle(key);
    if (!t) continue;
    auto s = s_.identity.put_throttle(after_failure(*t, now, limits));
    if (!s) log::warn(kLog, "cannot count a failed sign-in: " + s.error().message());
  }
  log::info(kLog, "failed sign-in for '" + user + "' from " + address);
}

Status Routes::provision(const ExternalIdentity& who, int64_t now) {
  auto known = s_.directory.user(who.login);
  if (!known) return known.error();
  if (*known) return {};
  User u;
  u.id = who.login;
  u.name = who.name.empty() ? who.login : who.name;
  u.category = category_from(campus_category(who.category)).value_or(User{}.category);
  std::string unit = who.unit;
  if (!unit.empty()) {
    auto p = s_.identity.place(Kind::unit, unit);
    if (!p) return p.error();
    if (!*p) unit.clear();
  }
  u.unit = unit.empty() ? settings_.ldap_default_unit : unit;
  u.status = UserStatus::active;
  audit::Context actor{"system:sign-on", "local", ""};
  return audit::record(s_.uow, s_.audit, actor, now, [&]() -> Result<std::optional<audit::Change>> {
    LG_TRY(s_.directory.add_user(u, now));
    return audit::changed(audit::Change{"create", "user", u.id, "",
                                        json{{"id", u.id}, {"name", u.name}, {"unit", u.unit}, {"source", "sign-on"}}.dump()});
  });
}

Response Routes::start_session(const Request& req, const std::string& user, const std::string& method, int64_t now) {
  auto status = s_.identity.user_status(user);
  if (!status) return failure(status.error());
  if (!*status) return error(401, "wrong user or password");
  if (**status == "suspended" || **status == "left") return error(403, "account " + **status);
  Issued t = issue(TokenKind::session, user, method, {}, now, settings_.session_ttl_ms, req.remote);
  if (auto s = s_.identity.add_token(t.token); !s) return failure(s.error());
  (void)s_.identity.clear_throttle("account:" + user);
  log::debug(kLog, "'" + user + "' signed in (" + method + ")");
  // For browsers the session also goes into an HttpOnly cookie, with the CSRF token beside it
  // (docs/SERVER.md, "HTTPS and web hardening"); API clients keep using the token.
  Response r = reply(201, json{{"token", t.secret},
                               {"token_id", t.token.id},
                               {"expires", ctx_.time(t.token.expires_ms)},
                               {"user", user},
                               {"pending", **status == "pending"},
                               {"csrf_token", csrf_token(t.secret)}});
  for (auto& c : session_cookies(t.secret, settings_.session_ttl_ms / 1000, req.tls)) {
    r.headers.emplace_back("Set-Cookie", std::move(c));
  }
  return r;
}

Response Routes::login(const Request& req) {
  Response bad;
  auto body = parse_body(req, bad);
  if (!body) return bad;
  Fields f(*body, {"user", "password", "method"});
  const std::string user = f.id("user");
  const std::string password = f.text("password", true, 256);
  std::string method = "local";
  if (body->contains("method")) method = f.one_of("method", {"local", "ldap"});
  if (!f.ok()) return f.response();
  const int64_t now = ctx_.now();
  const std::string address = req.remote.empty() ? "local" : req.remote;
  if (auto refused = check_throttle(user, address, now)) return *refused;
  if (method == "ldap") {
    if (!settings_.ldap) return error(422, "invalid field: method: LDAP sign-in is not configured");
    auto id = ldap_authenticate(*settings_.ldap, user, password);
    if (!id) {
      if (is(id.error(), Errc::unauthorized)) {
        count_failure(user, address, now);
        return error(401, "wrong user or password");
      }
      return failure(id.error());
    }
    if (auto s = provision(*id, now); !s) return failure(s.error());
    return start_session(req, id->login, "ldap", now);
  }
  auto acct = s_.identity.account(user);
  if (!acct) return failure(acct.error());
  bool ok = false;
  if (*acct) {
    auto v = verify_password(password, (*acct)->password_hash);
    if (!v) return failure(v.error());
    ok = *v;
  } else {
    // Spend the same work as a real check, so that timing does not tell which users exist.
    (void)verify_password(password, "$argon2id$v=19$m=65536,t=3,p=1$c29tZXNhbHRzb21lc2FsdA$"
                                    "RdescudvJCsgt3ub+b+dWRWJTmaaJObG9xE0w3M6Ib4");
  }
  if (!ok) {
    count_failure(user, address, now);
    return error(401, "wrong user or password");
  }
  return start_session(req, user, "local", now);
}

Response Routes::login_cas(const Request& req) {
  Response bad;
  auto body = parse_body(req, bad);
  if (!body) return bad;
  Fields f(*body, {"ticket", "service"});
  const std::string ticket = f.text("ticket", true, 256);
  const std::string service = f.text("service", true, 2048);
  if (!f.ok()) return f.response();
  if (!settings_.cas) return error(422, "CAS sign-in is not configured");
  const bool known = std::any_of(settings_.cas_services.begin(), settings_.cas_services.end(),
                                 [&](const std::string& p) { return service.rfind(p, 0) == 0; });
  if (!known) return error(422, "invalid field: service: not one of this site's CAS services");
  const int64_t now = ctx_.now();
  const std::string address = req.remote.empty() ? "local" : req.remote;
  if (auto refused = check_throttle("cas", address, now)) return *refused;
  auto id = cas_validate(*settings_.cas, service, ticket);
  if (!id) {
    if (is(id.error(), Errc::unauthorized)) {
      count_failure("cas", address, now);
      return error(401, "CAS ticket refused: " + id.error().reason);
    }
    return failure(id.error());
  }
  if (!proto::valid_id(id->login)) return error(422, "CAS user '" + id->login + "' is not a valid user id");
  if (auto s = provision(*id, now); !s) return failure(s.error());
  return start_session(req, id->login, "cas", now);
}

Response Routes::me(const Request& req) {
  const Principal& who = req.who();
  json grants = json::array();
  for (const auto& g : who.grants) grants.push_back(grant_json(g, ctx_));
  json body{{"actor", who.actor()},
            {"user", who.user.empty() ? json(nullptr) : json(who.user)},
            {"kind", who.kind == CallerKind::bootstrap  ? "bootstrap"
                     : who.kind == CallerKind::personal ? "personal"
                                                        : "session"},
            {"pending", who.pending},
            {"roles", grants},
            {"rights", held_rights(who)}};
  if (!who.user.empty()) {
    auto u = s_.directory.user(who.user);
    if (!u) return failure(u.error());
    if (*u) {
      body["name"] = (*u)->name;
      body["status"] = to_string((*u)->status);
    }
  }
  return reply(200, body);
}

Response Routes::registration_create(const Request& req) {
  Response bad;
  auto body = parse_body(req, bad);
  if (!body) return bad;
  Fields f(*body, {"id", "name", "unit", "category", "organisation", "email", "phone", "id_number", "password"});
  User u;
  u.id = f.id("id");
  u.name = f.text("name");
  u.unit = f.id("unit");
  const std::string category = f.text("category");
  u.organisation = f.text("organisation");
  u.email = f.opt_text("email");
  u.phone = f.opt_text("phone", 32);
  u.id_number = f.opt_text("id_number", 64);
  const std::string password = f.text("password", true, 256);
  if (!f.ok()) return f.response();
  auto cat = category_from(category);
  if (!cat || directory::is_internal(*cat)) {
    return error(422, "invalid field: category: must be other_campus, external_academic or enterprise "
                      "(campus members are added by their unit)");
  }
  u.category = *cat;
  if (u.email.empty() && u.phone.empty()) return error(422, "invalid field: email: give an email or a phone to be reached at");
  if (auto why = password_problem(password); !why.empty()) return error(422, "invalid field: password: " + why);
  u.status = UserStatus::pending;
  u.status_reason = "self-registered";
  auto phc = hash_password(password, settings_.password);
  if (!phc) return failure(phc.error());
  const int64_t now = ctx_.now();
  Registration r{u.id, u.unit, now, Decision::pending, "", std::nullopt, ""};
  auto unit = s_.identity.place(Kind::unit, u.unit);
  if (!unit) return failure(unit.error());
  if (!*unit) return error(422, "unknown unit: " + u.unit);
  auto s = audit::record(s_.uow, s_.audit, audit::request_context(req), now, [&]() -> Result<std::optional<audit::Change>> {
    LG_TRY(s_.directory.add_user(u, now));
    LG_TRY(s_.identity.set_password(u.id, *phc, now));
    LG_TRY(s_.identity.add_registration(r));
    return audit::changed(audit::Change{"register", "user", u.id, "",
                                        json{{"id", u.id}, {"name", u.name}, {"unit", u.unit},
                                             {"category", to_string(u.category)}, {"status", "pending"}}.dump()});
  });
  if (!s) return failure(s.error());
  log::info(kLog, "'" + u.id + "' applied to unit " + u.unit);
  return reply(201, json{{"user", u.id}, {"decision", "pending"}});
}

Response Routes::decide(const Request& req, const std::string& user, Decision d) {
  Response bad;
  std::string reason;
  if (!req.body.empty()) {
    auto body = parse_body(req, bad);
    if (!body) return bad;
    Fields f(*body, {"reason"});
    reason = f.opt_text("reason");
    if (!f.ok()) return f.response();
  }
  if (d == Decision::refused && reason.empty()) return error(400, "missing field: reason (say why the application is refused)");
  const int64_t now = ctx_.now();
  std::optional<Registration> out;
  auto s = audit::record(s_.uow, s_.audit, audit::request_context(req), now, [&]() -> Result<std::optional<audit::Change>> {
    auto before = s_.identity.registration(user);
    if (!before) return before.error();
    auto done = s_.identity.decide(user, d, req.who().actor(), reason, now);
    if (!done) return done.error();
    auto u = s_.directory.set_user_status(user, d == Decision::approved ? UserStatus::active : UserStatus::left,
                                          d == Decision::approved ? "registration approved" : "registration refused: " + reason,
                                          now);
    if (!u) return u.error();
    out = *done;
    return audit::changed(audit::Change{d == Decision::approved ? "approve" : "refuse", "registration", user,
                                        *before ? registration_json(**before, ctx_).dump() : "",
                                        registration_json(*done, ctx_).dump()});
  });
  if (!s) return failure(s.error());
  ctx_.changed_all();
  return reply(200, registration_json(*out, ctx_));
}

Result<std::optional<Place>> Routes::scope_place(ScopeKind k, const std::string& id) {
  switch (k) {
    case ScopeKind::site: {
      Place site;
      site.is_public = true;  // everyone knows the site exists: a refusal is 403
      return std::optional<Place>(site);
    }
    case ScopeKind::unit:
      return s_.identity.place(Kind::unit, id);
    case ScopeKind::instrument:
      return s_.identity.place(Kind::instrument, id);
    case ScopeKind::group:
      return s_.identity.place(Kind::group, id);
    case ScopeKind::self:
      return std::optional<Place>(Place{});
  }
  return std::optional<Place>();
}

Response Routes::grant_create(const Request& req) {
  Response bad;
  auto body = parse_body(req, bad);
  if (!body) return bad;
  Fields f(*body, {"user", "role", "scope_id"});
  Grant g;
  g.user = f.id("user");
  const std::string role = f.text("role");
  g.scope_id = f.id("scope_id", false);
  if (!f.ok()) return f.response();
  auto r = role_from(role);
  if (!r || *r == Role::user || *r == Role::pi) {
    return error(422, "invalid field: role: must be system_admin, unit_admin, instrument_admin, finance or fee_committee "
                      "(every active user holds user; a group's PI holds pi)");
  }
  g.role = *r;
  g.scope = scope_of(g.role);
  if (g.scope == ScopeKind::site && !g.scope_id.empty()) return error(422, "invalid field: scope_id: a site-wide role has none");
  if (g.scope != ScopeKind::site && g.scope_id.empty()) return error(400, "missing field: scope_id");
  auto place = scope_place(g.scope, g.scope_id);
  if (!place) return failure(place.error());
  if (!*place) return error(422, std::string("unknown ") + to_string(g.scope) + ": " + g.scope_id);
  if (auto why = grant_refusal(req.who(), g, **place); !why.empty()) {
    const int st = refusal_status(req.who(), Right::roles_write, **place);
    return st == 404 ? error(404, "not found") : error(403, "forbidden: " + why);
  }
  const int64_t now = ctx_.now();
  g.id = crypto::uuid7();
  g.granted_by = req.who().actor();
  g.granted_ms = now;
  auto s = audit::record(s_.uow, s_.audit, audit::request_context(req), now, [&]() -> Result<std::optional<audit::Change>> {
    LG_TRY(s_.identity.add_grant(g));
    return audit::changed(audit::Change{"grant", "role", g.id, "", grant_json(g, ctx_).dump()});
  });
  if (!s) return failure(s.error());
  log::info(kLog, std::string("role ") + to_string(g.role) + " granted to '" + g.user + "' by " + g.granted_by);
  return reply(201, grant_json(g, ctx_));
}

Response Routes::grant_revoke(const Request& req, const std::string& id) {
  auto got = s_.identity.grant(id);
  if (!got) return failure(got.error());
  if (!*got) return error(404, "no such grant: " + id);
  auto place = scope_place((*got)->scope, (*got)->scope_id);
  if (!place) return failure(place.error());
  if (auto why = grant_refusal(req.who(), **got, place->value_or(Place{})); !why.empty()) {
    const int st = refusal_status(req.who(), Right::roles_write, place->value_or(Place{}));
    return st == 404 ? error(404, "no such grant: " + id) : error(403, "forbidden: " + why);
  }
  const int64_t now = ctx_.now();
  std::optional<Grant> out;
  auto s = audit::record(s_.uow, s_.audit, audit::request_context(req), now, [&]() -> Result<std::optional<audit::Change>> {
    auto done = s_.identity.revoke_grant(id, now);
    if (!done) return done.error();
    out = *done;
    return audit::changed(audit::Change{"revoke", "role", id, grant_json(**got, ctx_).dump(), grant_json(*done, ctx_).dump()});
  });
  if (!s) return failure(s.error());
  return reply(200, grant_json(*out, ctx_));
}

void Routes::add(Router& router) {
  // Every handler keeps the routes' state alive as long as the router holds it.
  const std::shared_ptr<Routes> self = shared_from_this();
  router.add({"POST", "/api/login", Access::open(), [this, self](const Request& r, const PathParams&) { return login(r); },
              "Sign in with a local password or LDAP: a session token"});
  router.add({"POST", "/api/login/cas", Access::open(),
              [this, self](const Request& r, const PathParams&) { return login_cas(r); },
              "Sign in with a CAS service ticket: a session token"});
  router.add({"POST", "/api/logout", Access::signed_in(),
              [this, self](const Request& r, const PathParams&) {
                const Principal& who = r.who();
                if (who.token_id.empty()) return error(422, "the bootstrap token cannot be signed out");
                auto t = s_.identity.revoke_token(who.user, who.token_id, ctx_.now());
                if (!t) return failure(t.error());
                Response out = reply(200, json{{"revoked", t->id}});
                for (auto& c : clearing_cookies(r.tls)) out.headers.emplace_back("Set-Cookie", std::move(c));
                return out;
              },
              "End the caller's session (or revoke the personal token used)"});
  router.add({"GET", "/api/me", Access::signed_in(), [this, self](const Request& r, const PathParams&) { return me(r); },
              "Who the caller is: user, roles, rights"});
  for (const auto& [path, kind] : {std::pair{std::string("/api/me/sessions"), TokenKind::session},
                                   std::pair{std::string("/api/me/tokens"), TokenKind::personal}}) {
    const TokenKind k = kind;
    router.add({"GET", path, Access::signed_in(),
                [this, self, k](const Request& r, const PathParams&) {
                  if (r.who().user.empty()) return reply(200, json::array());
                  auto all = s_.identity.tokens_of(r.who().user, k);
                  if (!all) return failure(all.error());
                  const int64_t now = ctx_.now();
                  json out = json::array();
                  for (const auto& t : *all) {
                    json j = token_json(t, ctx_, now);
                    j["current"] = t.id == r.who().token_id;
                    out.push_back(std::move(j));
                  }
                  return reply(200, out);
                },
                k == TokenKind::session ? "The caller's sign-in sessions" : "The caller's personal API tokens"});
    router.add({"DELETE", path + "/{id}", Access::signed_in(),
                [this, self](const Request& r, const PathParams& pp) {
                  if (r.who().user.empty()) return error(404, "no such token");
                  const int64_t now = ctx_.now();
                  std::optional<Token> out;
                  auto s = audit::record(s_.uow, s_.audit, audit::request_context(r), now,
                                         [&]() -> Result<std::optional<audit::Change>> {
                                           auto t = s_.identity.revoke_token(r.who().user, pp.at("id"), now);
                                           if (!t) return t.error();
                                           out = *t;
                                           return audit::changed(audit::Change{"revoke", "token", t->id, "",
                                                                               token_json(*t, ctx_, now).dump()});
                                         });
                  if (!s) return failure(s.error());
                  return reply(200, token_json(*out, ctx_, now));
                },
                "Revoke one of the caller's sessions or tokens"});
  }
  router.add({"POST", "/api/me/tokens", Access::signed_in(),
              [this, self](const Request& r, const PathParams&) {
                const Principal& who = r.who();
                if (who.user.empty() || who.pending) return error(403, "forbidden: only an active user makes personal tokens");
                if (who.kind == CallerKind::personal) return error(403, "forbidden: a personal token cannot make tokens");
                Response bad;
                auto body = parse_body(r, bad);
                if (!body) return bad;
                Fields f(*body, {"name", "rights", "days"});
                const std::string name = f.text("name");
                const int64_t days = f.integer("days", 1, settings_.personal_max_ttl_ms / kDayMs);
                if (!f.ok()) return f.response();
                std::vector<Right> rights;
                auto it = body->find("rights");
                if (it != body->end()) {
                  if (!it->is_array()) return error(422, "invalid field: rights: must be a list of right names");
                  for (const auto& x : *it) {
                    auto right = x.is_string() ? right_from(x.get<std::string>()) : std::nullopt;
                    if (!right) return error(422, "invalid field: rights: unknown right " + x.dump());
                    if (!holds(who, *right)) {
                      return error(422, std::string("invalid field: rights: you do not hold ") + to_string(*right));
                    }
                    rights.push_back(*right);
                  }
                }
                const int64_t now = ctx_.now();
                Issued t = issue(TokenKind::personal, who.user, name, rights, now, days * kDayMs, r.remote);
                auto s = audit::record(s_.uow, s_.audit, audit::request_context(r), now,
                                       [&]() -> Result<std::optional<audit::Change>> {
                                         LG_TRY(s_.identity.add_token(t.token));
                                         return audit::changed(audit::Change{"create", "token", t.token.id, "",
                                                                             token_json(t.token, ctx_, now).dump()});
                                       });
                if (!s) return failure(s.error());
                json out = token_json(t.token, ctx_, now);
                out["token"] = t.secret;
                return reply(201, out);
              },
              "Make a personal API token with a subset of the caller's rights (shown once)"});
  router.add({"POST", "/api/me/password", Access::signed_in(),
              [this, self](const Request& r, const PathParams&) {
                const Principal& who = r.who();
                if (who.user.empty()) return error(422, "the bootstrap token has no password");
                Response bad;
                auto body = parse_body(r, bad);
                if (!body) return bad;
                Fields f(*body, {"old", "new"});
                const std::string old_pw = f.text("old", true, 256);
                const std::string new_pw = f.text("new", true, 256);
                if (!f.ok()) return f.response();
                auto acct = s_.identity.account(who.user);
                if (!acct) return failure(acct.error());
                if (!*acct) return error(422, "no local password (you sign in through LDAP or CAS)");
                auto ok = verify_password(old_pw, (*acct)->password_hash);
                if (!ok) return failure(ok.error());
                if (!*ok) return error(403, "forbidden: the old password is wrong");
                if (auto why = password_problem(new_pw); !why.empty()) return error(422, "invalid field: new: " + why);
                auto phc = hash_password(new_pw, settings_.password);
                if (!phc) return failure(phc.error());
                const int64_t now = ctx_.now();
                auto s = audit::record(s_.uow, s_.audit, audit::request_context(r), now,
                                       [&]() -> Result<std::optional<audit::Change>> {
                                         LG_TRY(s_.identity.set_password(who.user, *phc, now));
                                         return audit::changed(audit::Change{"update", "account", who.user, "",
                                                                             json{{"password", "changed"}}.dump()});
                                       });
                if (!s) return failure(s.error());
                return reply(200, json{{"user", who.user}, {"password", "changed"}});
              },
              "Change the caller's own password"});
  router.add({"GET", "/api/me/registration", Access::signed_in(),
              [this, self](const Request& r, const PathParams&) {
                auto reg = s_.identity.registration(r.who().user);
                if (!reg) return failure(reg.error());
                if (!*reg) return error(404, "you have not applied");
                return reply(200, registration_json(**reg, ctx_));
              },
              "The caller's own registration and its decision"});
  router.add({"PUT", "/api/users/{id}/password", Access::path(Right::people_write, Kind::user),
              [this, self](const Request& r, const PathParams& pp) {
                Response bad;
                auto body = parse_body(r, bad);
                if (!body) return bad;
                Fields f(*body, {"password"});
                const std::string pw = f.text("password", true, 256);
                if (!f.ok()) return f.response();
                if (auto why = password_problem(pw); !why.empty()) return error(422, "invalid field: password: " + why);
                auto phc = hash_password(pw, settings_.password);
                if (!phc) return failure(phc.error());
                const std::string& user = pp.at("id");
                const int64_t now = ctx_.now();
                int64_t revoked = 0;
                auto s = audit::record(s_.uow, s_.audit, audit::request_context(r), now,
                                       [&]() -> Result<std::optional<audit::Change>> {
                                         auto known = s_.directory.user(user);
                                         if (!known) return known.error();
                                         if (!*known) return domain_error(Errc::not_found, "no such user: " + user);
                                         LG_TRY(s_.identity.set_password(user, *phc, now));
                                         auto n = s_.identity.revoke_all(user, now);
                                         if (!n) return n.error();
                                         revoked = *n;
                                         return audit::changed(audit::Change{"update", "account", user, "",
                                                                             json{{"password", "set"}}.dump()});
                                       });
                if (!s) return failure(s.error());
                return reply(200, json{{"user", user}, {"password", "set"}, {"sessions_revoked", revoked}});
              },
              "Set a user's local password (their sessions end)"});
  router.add({"GET", "/api/roles", Access::any(Right::people_read),
              [this, self](const Request& r, const PathParams&) {
                Response bad;
                auto page = page_param(r, "roles", ctx_, bad);
                if (!page) return bad;
                return page_reply<Grant>(r, "roles", ctx_, page->limit, s_.identity.grants(*page), [&](const Grant& g) {
                  if (!ctx_.may(r, Right::people_read, {{Kind::user, g.user}})) return json(nullptr);
                  return grant_json(g, ctx_);
                });
              },
              "Explicit role grants (live and revoked) of the users the caller may see"});
  router.add({"POST", "/api/roles", Access::any(Right::roles_write),
              [this, self](const Request& r, const PathParams&) { return grant_create(r); },
              "Grant a role in a scope (never more than the granter's own scope)"});
  router.add({"DELETE", "/api/roles/{id}", Access::any(Right::roles_write),
              [this, self](const Request& r, const PathParams& pp) { return grant_revoke(r, pp.at("id")); },
              "Revoke a role grant (kept as history)"});
  router.add({"POST", "/api/registrations", Access::open(),
              [this, self](const Request& r, const PathParams&) { return registration_create(r); },
              "An external user applies for an account at a unit"});
  router.add({"GET", "/api/registrations", Access::any(Right::people_read),
              [this, self](const Request& r, const PathParams&) {
                Response bad;
                auto page = page_param(r, "registrations", ctx_, bad);
                if (!page) return bad;
                const bool pending_only = query(r, "decision") == "pending";
                return page_reply<Registration>(r, "registrations", ctx_, page->limit,
                                                s_.identity.registrations(pending_only, *page),
                                                [&](const Registration& x) {
                                                  if (!ctx_.may(r, Right::people_read, {{Kind::registration, x.user}}))
                                                    return json(nullptr);
                                                  return registration_json(x, ctx_);
                                                });
              },
              "Registrations at the units the caller runs (?decision=pending)"});
  router.add({"GET", "/api/registrations/{id}", Access::path(Right::people_read, Kind::registration),
              [this, self](const Request&, const PathParams& pp) {
                auto reg = s_.identity.registration(pp.at("id"));
                if (!reg) return failure(reg.error());
                if (!*reg) return error(404, "no such registration: " + pp.at("id"));
                return reply(200, registration_json(**reg, ctx_));
              },
              "One registration"});
  router.add({"POST", "/api/registrations/{id}/approve", Access::path(Right::people_write, Kind::registration),
              [this, self](const Request& r, const PathParams& pp) { return decide(r, pp.at("id"), Decision::approved); },
              "Approve an application: the user becomes active"});
  router.add({"POST", "/api/registrations/{id}/refuse", Access::path(Right::people_write, Kind::registration),
              [this, self](const Request& r, const PathParams& pp) { return decide(r, pp.at("id"), Decision::refused); },
              "Refuse an application with a reason: the user is closed (left)"});
}

}  // namespace

void add_routes(Router& router, const ApiContext& ctx, RouteStores stores, const AuthSettings& settings) {
  std::make_shared<Routes>(ctx, stores, settings)->add(router);
}

}  // namespace lg::server::identity
