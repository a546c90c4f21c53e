// The outbox through the API (both backends): a booking made through POST /api/bookings enqueues
// its confirmation in the same unit of work; GET /api/notices (site), GET /api/me/notices (the
// caller's own), POST /api/notices/{id}/retry (a failed or address-less notice, audited).
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

struct FakeMailer final : notify::Mailer {
  notify::Outcome answer = notify::Outcome::sent;
  std::vector<notify::Mail> got;
  notify::Delivery send(const notify::Mail& m) override {
    got.push_back(m);
    return notify::Delivery{answer, answer == notify::Outcome::sent ? "" : "smtp test: 550 no such user"};
  }
};

/// Unit chem, instrument inst-c (NMR); alice (with mail) and carol (without), both qualified.
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
    return c;
  }();
  App app{store->stores(), server_key, cfg, pub, [this] { return now; }, "0.1.0"};
  FakeMailer mailer;

  http::Response call(const std::string& method, const std::string& target, const json& body = nullptr,
                      const std::string& bearer = kBoot) {
    return app.handle_http(
        http::make_request(method, target, bearer.empty() ? "" : "Bearer " + bearer, body.is_null() ? "" : body.dump()));
  }
  void ok(const std::string& method, const std::string& target, const json& body) {
    auto r = call(method, target, body);
    INFO(method << " " << target << " " << r.body);
    REQUIRE(r.status / 100 == 2);
  }
  std::string login(const std::string& user) {
    auto r = call("POST", "/api/login", {{"user", user}, {"password", user + " password"}}, "");
    INFO(r.body);
    REQUIRE(r.status == 201);
    return json::parse(r.body)["token"];
  }
  std::string book(const std::string& user, const char* start, const char* end) {
    auto r = call("POST", "/api/bookings", {{"instrument", "inst-c"}, {"user", user}, {"start", start}, {"end", end}});
    INFO(r.body);
    REQUIRE(r.status == 201);
    return json::parse(r.body)["id"];
  }
  json list(const std::string& target, const std::string& bearer = kBoot) {
    auto r = call("GET", target, nullptr, bearer);
    INFO(r.body);
    REQUIRE(r.status == 200);
    return json::parse(r.body);
  }
  Site() {
    app.health().broker(true);
    ok("POST", "/api/units", {{"id", "chem"}, {"name", "化学院"}});
    ok("POST", "/api/labs", {{"id", "lab-c"}, {"name", "Lab C"}, {"unit", "chem"}});
    ok("POST", "/api/instruments", {{"id", "inst-c"}, {"name", "NMR 核磁"}, {"lab", "lab-c"}, {"kind", "instrument"}});
    ok("POST", "/api/users",
       {{"id", "alice"}, {"name", "Alice"}, {"unit", "chem"}, {"category", "internal_staff"}, {"email", "alice@lab.example.edu"}});
    ok("POST", "/api/users", {{"id", "carol"}, {"name", "Carol"}, {"unit", "chem"}, {"category", "internal_staff"}});
    for (const char* id : {"alice", "carol"}) {
      ok("PUT", "/api/users/" + std::string(id) + "/password", {{"password", std::string(id) + " password"}});
      ok("POST", "/api/qualifications", {{"user", id}, {"instrument", "inst-c"}});
    }
    notify::WorkerSettings ws;
    ws.from = "labgate@lab.example.edu";
    app.enable_notices(mailer, ws);
  }
};

}  // namespace

TEST_CASE("a booking is confirmed by a notice in its own unit of work, an overlap enqueues nothing") {
  Site s;
  const std::string b = s.book("alice", "2026-01-16T02:00:00Z", "2026-01-16T03:00:00Z");
  auto r = s.call("POST", "/api/bookings",
                  {{"instrument", "inst-c"}, {"user", "carol"}, {"start", "2026-01-16T02:30:00Z"}, {"end", "2026-01-16T04:00:00Z"}});
  CHECK(r.status == 409);
  json all = s.list("/api/notices");
  REQUIRE(all.size() == 1);
  const json& n = all[0];
  CHECK(n["user"] == "alice");
  CHECK(n["address"] == "alice@lab.example.edu");
  CHECK(n["kind"] == "booking_confirmed");
  CHECK(n["state"] == "pending");
  CHECK(n["attempts"] == 0);
  CHECK(n["subject"] == "预约已确认：NMR 核磁 / Booking confirmed: NMR 核磁");
  const std::string body = n["body"];
  CHECK(body.find("开始：2026-01-16 10:00:00 +08:00") != std::string::npos);
  CHECK(body.find("Start: 2026-01-16 10:00:00 +08:00") != std::string::npos);
  CHECK(body.find("Booking: " + b) != std::string::npos);
  CHECK(body.find("(Lab C)") != std::string::npos);

  CHECK(s.app.send_notices() == 1);
  REQUIRE(s.mailer.got.size() == 1);
  CHECK(s.mailer.got[0].to == "alice@lab.example.edu");
  all = s.list("/api/notices?state=sent");
  REQUIRE(all.size() == 1);
  CHECK(all[0]["sent"] == "2026-01-15T08:00:00.000+08:00");
  CHECK(all[0]["next_attempt"].is_null());
  CHECK(s.list("/api/notices?state=pending").empty());
  CHECK(s.call("GET", "/api/notices?state=done").status == 400);
}

TEST_CASE("GET /api/me/notices: the caller's own notices only") {
  Site s;
  s.book("alice", "2026-01-16T02:00:00Z", "2026-01-16T03:00:00Z");
  s.book("carol", "2026-01-16T04:00:00Z", "2026-01-16T05:00:00Z");
  CHECK(s.list("/api/notices").size() == 2);
  json mine = s.list("/api/me/notices", s.login("alice"));
  REQUIRE(mine.size() == 1);
  CHECK(mine[0]["user"] == "alice");
  mine = s.list("/api/me/notices", s.login("carol"));
  REQUIRE(mine.size() == 1);
  CHECK(mine[0]["user"] == "carol");
  CHECK(mine[0]["state"] == "no_address");
  CHECK(s.list("/api/me/notices").empty());  // the bootstrap token is nobody
  CHECK(s.call("GET", "/api/notices", nullptr, s.login("alice")).status == 403);
  CHECK(s.call("GET", "/api/me/notices", nullptr, "").status == 401);
  // Paged like every list.
  auto page = s.call("GET", "/api/notices?limit=1");
  REQUIRE(page.status == 200);
  CHECK(json::parse(page.body).size() == 1);
  bool linked = false;
  for (const auto& [k, v] : page.headers) linked = linked || k == "Link";
  CHECK(linked);
}

TEST_CASE("POST /api/notices/{id}/retry: a failed notice, or one whose user has mail now, goes again, audited") {
  Site s;
  s.book("alice", "2026-01-16T02:00:00Z", "2026-01-16T03:00:00Z");
  s.book("carol", "2026-01-16T04:00:00Z", "2026-01-16T05:00:00Z");
  s.mailer.answer = notify::Outcome::permanent;
  CHECK(s.app.send_notices() == 0);
  json failed = s.list("/api/notices?state=failed");
  REQUIRE(failed.size() == 1);
  CHECK(failed[0]["last_error"] == "smtp test: 550 no such user");
  const std::string id = failed[0]["id"];
  // Only the site may retry.
  CHECK(s.call("POST", "/api/notices/" + id + "/retry", nullptr, s.login("alice")).status == 403);
  auto r = s.call("POST", "/api/notices/" + id + "/retry");
  INFO(r.body);
  REQUIRE(r.status == 200);
  CHECK(json::parse(r.body)["state"] == "pending");
  CHECK(json::parse(r.body)["attempts"] == 0);
  CHECK(s.call("POST", "/api/notices/" + id + "/retry").status == 409);  // pending now
  CHECK(s.call("POST", "/api/notices/nope/retry").status == 404);
  s.mailer.answer = notify::Outcome::sent;
  CHECK(s.app.send_notices() == 1);

  json carol = s.list("/api/notices?user=carol");
  REQUIRE(carol.size() == 1);
  const std::string cid = carol[0]["id"];
  r = s.call("POST", "/api/notices/" + cid + "/retry");
  CHECK(r.status == 409);
  CHECK(r.body.find("no mail address") != std::string::npos);
  s.ok("PATCH", "/api/users/carol", {{"email", "carol@lab.example.edu"}});
  r = s.call("POST", "/api/notices/" + cid + "/retry");
  REQUIRE(r.status == 200);
  CHECK(json::parse(r.body)["address"] == "carol@lab.example.edu");
  CHECK(s.app.send_notices() == 1);
  CHECK(s.mailer.got.back().to == "carol@lab.example.edu");

  json audit = s.list("/api/audit?entity=notice&limit=100");
  REQUIRE(audit.size() == 2);
  CHECK(audit[0]["action"] == "retry");
}
