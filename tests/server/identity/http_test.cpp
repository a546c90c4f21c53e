// The identity routes through the API with a clock the test moves: local sign-in, the throttle,
// expiry, sign-out, personal tokens with fewer rights, registration and its approval, role grants
// within scope, and the audit entries they leave.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "server/core/app.hpp"
#include "server/transport/http/api.hpp"
#include "tests/server/test_support.hpp"

using namespace lg;
using namespace lg::server;
using namespace lg::server::test;
using nlohmann::json;

namespace {

constexpr const char* kBoot = "bootstrap-token-0123";

struct Site {
  TempDir dir;
  std::unique_ptr<TestStore> store = open_store(dir);
  crypto::PrivateKey server_key = new_key();
  RecordingPublisher pub;
  int64_t now = ms("2026-01-15T00:00:00Z");
  ServerConfig cfg = [] {
    ServerConfig c;
    c.site = "demo";
    c.admin_token = kBoot;
    c.auth.password_t_cost = 1;
    c.auth.password_m_cost_kib = 64;
    c.auth.session_hours = 2;
    return c;
  }();
  App app{store->stores(), server_key, cfg, pub, [this] { return now; }, "0.1.0"};

  http::Response call(const std::string& method, const std::string& target, const json& body = nullptr,
                      const std::string& bearer = kBoot, const std::string& remote = "10.0.0.9") {
    auto req = http::make_request(method, target, bearer.empty() ? "" : "Bearer " + bearer,
                                  body.is_null() ? "" : body.dump());
    req.remote = remote;
    return app.handle_http(req);
  }
  void ok(const std::string& method, const std::string& target, const json& body) {
    auto r = call(method, target, body);
    INFO(method << " " << target << " " << r.body);
    REQUIRE(r.status / 100 == 2);
  }
  /// Signs in; the session token.
  std::string login(const std::string& user, const std::string& password) {
    auto r = call("POST", "/api/login", {{"user", user}, {"password", password}}, "");
    INFO(r.body);
    REQUIRE(r.status == 201);
    return json::parse(r.body)["token"];
  }
  Site() {
    app.health().broker(true);
    ok("POST", "/api/units", {{"id", "chem"}, {"name", "化学院"}});
    ok("POST", "/api/units", {{"id", "phys"}, {"name", "物理系"}});
    ok("POST", "/api/users", {{"id", "alice"}, {"name", "Alice"}, {"unit", "chem"}, {"category", "internal_staff"}});
    ok("POST", "/api/users", {{"id", "carol"}, {"name", "Carol"}, {"unit", "chem"}, {"category", "internal_staff"}});
    ok("PUT", "/api/users/alice/password", {{"password", "alice password"}});
    ok("PUT", "/api/users/carol/password", {{"password", "carol password"}});
  }
};

std::string error_of(const http::Response& r) { return json::parse(r.body).value("error", ""); }

}  // namespace

TEST_CASE("a local sign-in gives a session token that expires, and sign-out ends it") {
  Site s;
  const std::string t = s.login("alice", "alice password");
  auto me = s.call("GET", "/api/me", nullptr, t);
  REQUIRE(me.status == 200);
  const json j = json::parse(me.body);
  CHECK(j["user"] == "alice");
  CHECK(j["actor"] == "user:alice");
  CHECK(j["pending"] == false);
  CHECK(j["name"] == "Alice");
  // A plain user may not list people beyond themself, nor change anything in the tree.
  CHECK(s.call("POST", "/api/units", {{"id", "x"}, {"name", "X"}}, t).status == 403);
  auto users = s.call("GET", "/api/users", nullptr, t);
  REQUIRE(users.status == 200);
  CHECK(json::parse(users.body).size() == 1);
  // Two hours later the session is over.
  s.now += 2 * 3600 * 1000;
  auto late = s.call("GET", "/api/me", nullptr, t);
  CHECK(late.status == 401);
  CHECK(error_of(late) == "token expired");
  const std::string t2 = s.login("alice", "alice password");
  auto sessions = s.call("GET", "/api/me/sessions", nullptr, t2);
  REQUIRE(sessions.status == 200);
  CHECK(json::parse(sessions.body).size() == 2);
  CHECK(s.call("POST", "/api/logout", nullptr, t2).status == 200);
  auto after = s.call("GET", "/api/me", nullptr, t2);
  CHECK(after.status == 401);
  CHECK(error_of(after) == "token revoked");
}

TEST_CASE("wrong passwords are throttled per account, with Retry-After, and the lock passes") {
  Site s;
  for (int i = 0; i < 5; ++i) {
    auto r = s.call("POST", "/api/login", {{"user", "alice"}, {"password", "wrong"}}, "");
    CHECK(r.status == 401);
    CHECK(error_of(r) == "wrong user or password");
  }
  // Locked: even the right password waits.
  auto locked = s.call("POST", "/api/login", {{"user", "alice"}, {"password", "alice password"}}, "");
  CHECK(locked.status == 429);
  bool retry_after = false;
  for (const auto& [k, v] : locked.headers) retry_after = retry_after || (k == "Retry-After" && v == "60");
  CHECK(retry_after);
  // Another account from another address is not affected.
  CHECK(s.call("POST", "/api/login", {{"user", "carol"}, {"password", "carol password"}}, "", "10.0.0.7").status == 201);
  // An unknown user is told the same as a wrong password.
  auto unknown = s.call("POST", "/api/login", {{"user", "nobody"}, {"password", "whatever1"}}, "", "10.0.0.8");
  CHECK(unknown.status == 401);
  CHECK(error_of(unknown) == "wrong user or password");
  s.now += 61 * 1000;
  CHECK(s.call("POST", "/api/login", {{"user", "alice"}, {"password", "alice password"}}, "").status == 201);
}

TEST_CASE("a personal token holds only the rights it lists, setting a password ends the user's tokens") {
  Site s;
  auto grant = s.call("POST", "/api/roles", {{"user", "alice"}, {"role", "unit_admin"}, {"scope_id", "chem"}});
  REQUIRE(grant.status == 201);
  const std::string t = s.login("alice", "alice password");
  CHECK(s.call("GET", "/api/users", nullptr, t).status == 200);
  auto made = s.call("POST", "/api/me/tokens", {{"name", "report script"}, {"days", 30}, {"rights", {"usage_read"}}}, t);
  REQUIRE(made.status == 201);
  const std::string pt = json::parse(made.body)["token"];
  CHECK(pt.rfind("lgp_", 0) == 0);
  CHECK(s.call("GET", "/api/sessions", nullptr, pt).status == 200);
  CHECK(s.call("GET", "/api/users", nullptr, pt).status == 403);
  CHECK(s.call("POST", "/api/me/tokens", {{"name", "x"}, {"days", 1}}, pt).status == 403);
  auto bad = s.call("POST", "/api/me/tokens", {{"name", "x"}, {"days", 1}, {"rights", {"site"}}}, t);
  CHECK(bad.status == 422);
  // A token's owner sees it listed; an admin setting the password ends every token.
  auto tokens = s.call("GET", "/api/me/tokens", nullptr, t);
  REQUIRE(tokens.status == 200);
  CHECK(json::parse(tokens.body).size() == 1);
  auto set = s.call("PUT", "/api/users/alice/password", {{"password", "a new password"}});
  REQUIRE(set.status == 200);
  CHECK(json::parse(set.body)["sessions_revoked"] == 2);
  CHECK(s.call("GET", "/api/sessions", nullptr, pt).status == 401);
  CHECK(s.call("GET", "/api/me", nullptr, t).status == 401);
  // The audit log says who set what, never the hash.
  auto audit = s.call("GET", "/api/audit?entity=account");
  REQUIRE(audit.status == 200);
  CHECK(audit.body.find("argon2") == std::string::npos);
  CHECK(json::parse(audit.body).size() >= 3);
}

TEST_CASE("an external user registers, waits pending with nothing but their application, and is approved") {
  Site s;
  const json app{{"id", "ext-wang"},   {"name", "王工"},        {"unit", "chem"},
                 {"category", "enterprise"}, {"organisation", "某某科技有限公司"}, {"phone", "+86 138 0000 0000"},
                 {"password", "wang password"}};
  auto r = s.call("POST", "/api/registrations", app, "");
  REQUIRE(r.status == 201);
  CHECK(s.call("POST", "/api/registrations", app, "").status == 409);
  auto internal = app;
  internal["id"] = "ext-2";
  internal["category"] = "internal_student";
  CHECK(s.call("POST", "/api/registrations", internal, "").status == 422);
  auto weak = app;
  weak["id"] = "ext-3";
  weak["password"] = "short";
  CHECK(s.call("POST", "/api/registrations", weak, "").status == 422);

  const std::string t = s.login("ext-wang", "wang password");
  auto me = s.call("GET", "/api/me", nullptr, t);
  REQUIRE(me.status == 200);
  CHECK(json::parse(me.body)["pending"] == true);
  CHECK(json::parse(me.body)["rights"] == json::array({"catalogue"}));
  CHECK(s.call("GET", "/api/instruments", nullptr, t).status == 200);
  CHECK(s.call("GET", "/api/sessions", nullptr, t).status == 403);
  auto mine = s.call("GET", "/api/me/registration", nullptr, t);
  REQUIRE(mine.status == 200);
  CHECK(json::parse(mine.body)["decision"] == "pending");

  // Approved by an admin of the unit applied to; not by one of another unit.
  REQUIRE(s.call("POST", "/api/roles", {{"user", "carol"}, {"role", "unit_admin"}, {"scope_id", "phys"}}).status == 201);
  REQUIRE(s.call("POST", "/api/roles", {{"user", "alice"}, {"role", "unit_admin"}, {"scope_id", "chem"}}).status == 201);
  const std::string phys_admin = s.login("carol", "carol password");
  const std::string chem_admin = s.login("alice", "alice password");
  CHECK(s.call("POST", "/api/registrations/ext-wang/approve", nullptr, phys_admin).status == 404);
  auto pending = s.call("GET", "/api/registrations?decision=pending", nullptr, chem_admin);
  REQUIRE(pending.status == 200);
  CHECK(json::parse(pending.body).size() == 1);
  CHECK(s.call("GET", "/api/registrations?decision=pending", nullptr, phys_admin).body == "[]");
  CHECK(s.call("POST", "/api/registrations/ext-wang/refuse", nullptr, chem_admin).status == 400);  // needs a reason
  auto ok = s.call("POST", "/api/registrations/ext-wang/approve", nullptr, chem_admin);
  REQUIRE(ok.status == 200);
  CHECK(json::parse(ok.body)["decided_by"] == "user:alice");
  CHECK(s.call("POST", "/api/registrations/ext-wang/approve", nullptr, chem_admin).status == 409);
  me = s.call("GET", "/api/me", nullptr, t);
  CHECK(json::parse(me.body)["pending"] == false);
  CHECK(s.call("GET", "/api/sessions", nullptr, t).status == 200);
}

TEST_CASE("roles are granted within the granter's scope only, and revoked with history") {
  Site s;
  REQUIRE(s.call("POST", "/api/units", {{"id", "chem-dept"}, {"name", "化学系"}, {"parent", "chem"}}).status == 201);
  REQUIRE(s.call("POST", "/api/roles", {{"user", "alice"}, {"role", "unit_admin"}, {"scope_id", "chem"}}).status == 201);
  const std::string t = s.login("alice", "alice password");
  auto in = s.call("POST", "/api/roles", {{"user", "carol"}, {"role", "finance"}, {"scope_id", "chem-dept"}}, t);
  REQUIRE(in.status == 201);
  auto out = s.call("POST", "/api/roles", {{"user", "carol"}, {"role", "unit_admin"}, {"scope_id", "phys"}}, t);
  CHECK(out.status == 403);
  auto up = s.call("POST", "/api/roles", {{"user", "carol"}, {"role", "system_admin"}}, t);
  CHECK(up.status == 403);
  auto wrong = s.call("POST", "/api/roles", {{"user", "carol"}, {"role", "pi"}, {"scope_id", "chem"}}, t);
  CHECK(wrong.status == 422);
  const std::string id = json::parse(in.body)["id"];
  auto rev = s.call("DELETE", "/api/roles/" + id, nullptr, t);
  REQUIRE(rev.status == 200);
  CHECK(!json::parse(rev.body)["revoked"].is_null());
  CHECK(s.call("DELETE", "/api/roles/" + id, nullptr, t).status == 409);
  auto audit = s.call("GET", "/api/audit?entity=role");
  REQUIRE(audit.status == 200);
  const json entries = json::parse(audit.body);
  REQUIRE(entries.size() == 3);
  CHECK(entries[0]["action"] == "revoke");
  CHECK(entries[0]["actor"] == "user:alice");
}

TEST_CASE("a move out of the caller's scope needs the right at both ends") {
  Site s;
  REQUIRE(s.call("POST", "/api/roles", {{"user", "alice"}, {"role", "unit_admin"}, {"scope_id", "chem"}}).status == 201);
  REQUIRE(s.call("POST", "/api/units", {{"id", "chem-dept"}, {"name", "化学系"}, {"parent", "chem"}}).status == 201);
  const std::string t = s.login("alice", "alice password");
  // Within 化学院: fine. Into 物理系, which is not hers: refused, and nothing moved.
  CHECK(s.call("PATCH", "/api/users/carol", {{"unit", "chem-dept"}}, t).status == 200);
  auto out = s.call("PATCH", "/api/users/carol", {{"unit", "phys"}}, t);
  CHECK(out.status == 403);
  CHECK(s.call("PATCH", "/api/units/chem-dept", {{"parent", "phys"}}, t).status == 403);
  auto users = s.call("GET", "/api/users?limit=100");
  for (const auto& u : json::parse(users.body))
    if (u["id"] == "carol") CHECK(u["unit"] == "chem-dept");
}

namespace {

/// A request as a browser sends it: the cookies it holds, maybe the CSRF header, maybe over TLS.
http::Response browser(Site& s, const std::string& method, const std::string& target, const json& body,
                       const std::string& cookie, const std::string& csrf = "", bool tls = true,
                       const std::string& bearer = "") {
  auto req = http::make_request(method, target, bearer.empty() ? "" : "Bearer " + bearer,
                                body.is_null() ? "" : body.dump());
  req.remote = "10.0.0.9";
  req.cookie = cookie;
  req.csrf_token = csrf;
  req.tls = tls;
  return s.app.handle_http(req);
}

std::vector<std::string> set_cookies(const http::Response& r) {
  std::vector<std::string> out;
  for (const auto& [k, v] : r.headers) {
    if (k == "Set-Cookie") out.push_back(v);
  }
  return out;
}

std::size_t personal_tokens(Site& s, const std::string& bearer) {
  auto r = s.call("GET", "/api/me/tokens", nullptr, bearer);
  REQUIRE(r.status == 200);
  return json::parse(r.body).size();
}

}  // namespace

TEST_CASE("a sign-in sets the session and CSRF cookies - a cookie write needs the CSRF header - sign-out clears them") {
  Site s;
  auto login = browser(s, "POST", "/api/login", {{"user", "alice"}, {"password", "alice password"}}, "");
  REQUIRE(login.status == 201);
  const json j = json::parse(login.body);
  const std::string token = j["token"], csrf = j["csrf_token"];
  CHECK(csrf == http::csrf_token(token));
  CHECK(csrf != token);
  const auto cookies = set_cookies(login);
  REQUIRE(cookies.size() == 2);
  // session_hours = 2: Max-Age 7200; over TLS both are Secure; only the session cookie is HttpOnly.
  CHECK(cookies[0] == "lg_session=" + token + "; Path=/; Max-Age=7200; SameSite=Strict; HttpOnly; Secure");
  CHECK(cookies[1] == "lg_csrf=" + csrf + "; Path=/; Max-Age=7200; SameSite=Strict; Secure");
  const std::string jar = "lg_session=" + token + "; lg_csrf=" + csrf;

  // The cookie signs in for reads.
  auto me = browser(s, "GET", "/api/me", nullptr, jar);
  REQUIRE(me.status == 200);
  CHECK(json::parse(me.body)["user"] == "alice");

  // A write by cookie without the header, or with a wrong one: 403, and nothing made.
  auto none = browser(s, "POST", "/api/me/tokens", {{"name", "ci"}, {"days", 1}}, jar);
  CHECK(none.status == 403);
  CHECK(error_of(none).find("CSRF") != std::string::npos);
  CHECK(error_of(none).find("X-CSRF-Token") != std::string::npos);
  auto wrong = browser(s, "POST", "/api/me/tokens", {{"name", "ci"}, {"days", 1}}, jar, http::csrf_token("other"));
  CHECK(wrong.status == 403);
  CHECK(personal_tokens(s, token) == 0);
  // With the header it goes through.
  CHECK(browser(s, "POST", "/api/me/tokens", {{"name", "ci"}, {"days", 1}}, jar, csrf).status == 201);
  CHECK(personal_tokens(s, token) == 1);
  // A bearer-signed request needs no CSRF header, with or without cookies beside it.
  CHECK(browser(s, "POST", "/api/me/tokens", {{"name", "ci2"}, {"days", 1}}, jar, "", true, token).status == 201);
  CHECK(personal_tokens(s, token) == 2);

  // Sign-out by cookie (with the header) clears both cookies; the cookie no longer signs in.
  auto out = browser(s, "POST", "/api/logout", nullptr, jar, csrf);
  REQUIRE(out.status == 200);
  const auto cleared = set_cookies(out);
  REQUIRE(cleared.size() == 2);
  CHECK(cleared[0] == "lg_session=; Path=/; Max-Age=0; SameSite=Strict; HttpOnly; Secure");
  CHECK(cleared[1] == "lg_csrf=; Path=/; Max-Age=0; SameSite=Strict; Secure");
  auto after = browser(s, "GET", "/api/me", nullptr, jar);
  CHECK(after.status == 401);
  CHECK(error_of(after).find("lg_session cookie") != std::string::npos);
  CHECK(error_of(after).find("token revoked") != std::string::npos);

  // A stale cookie does not stand in the way of signing in again; without TLS no Secure.
  auto again = browser(s, "POST", "/api/login", {{"user", "alice"}, {"password", "alice password"}}, jar, "", false);
  REQUIRE(again.status == 201);
  const auto plain = set_cookies(again);
  REQUIRE(plain.size() == 2);
  CHECK(plain[0].find("; Secure") == std::string::npos);
  CHECK(plain[0].find("; HttpOnly") != std::string::npos);
}

TEST_CASE("a refused cookie is an anonymous caller: open routes answer, others say why") {
  Site s;
  auto health = browser(s, "GET", "/api/health", nullptr, "lg_session=lgs_nonsense");
  CHECK(health.status / 100 != 4);
  auto me = browser(s, "GET", "/api/me", nullptr, "lg_session=lgs_nonsense");
  CHECK(me.status == 401);
  CHECK(error_of(me).find("sign in again") != std::string::npos);
  // A cookie-less write is not a CSRF case (nothing a browser sends on its own signs it in).
  CHECK(browser(s, "POST", "/api/units", {{"id", "x"}, {"name", "X"}}, "").status == 401);
}
