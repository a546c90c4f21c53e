// The booking and qualification routes that change and retire what was created, through the API
// with people signed in: cancel (the slot is free again, kept as history, not in the bundle),
// move (admitted like a new booking, an overlap changes nothing), who may do either, the audit
// entries they leave, and revoking a qualification.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "server/core/app.hpp"
#include "server/transport/http/api.hpp"
#include "tests/server/sync/reveal.hpp"
#include "tests/server/test_support.hpp"

using namespace lg;
using namespace lg::server;
using namespace lg::server::test;
using nlohmann::json;

namespace {

constexpr const char* kBoot = "bootstrap-token-0123";

/// Unit chem with instrument inst-c; alice and carol (plain users, qualified on inst-c), ia the
/// instrument admin of inst-c; terminal t1 on inst-c.
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

  /// One request, then what the sync thread does after it: rebuild the bundles it marked.
  http::Response call(const std::string& method, const std::string& target, const json& body = nullptr,
                      const std::string& bearer = kBoot) {
    auto r = app.handle_http(http::make_request(method, target, bearer.empty() ? "" : "Bearer " + bearer,
                                                body.is_null() ? "" : body.dump()));
    app.flush_dirty();
    return r;
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
  /// Books [start, end) for user on inst-c; the id.
  std::string book(const std::string& user, const char* start, const char* end, const std::string& bearer = kBoot) {
    auto r = call("POST", "/api/bookings", {{"instrument", "inst-c"}, {"user", user}, {"start", start}, {"end", end}},
                  bearer);
    INFO(r.body);
    REQUIRE(r.status == 201);
    return json::parse(r.body)["id"];
  }
  /// The booking with this id as GET /api/bookings lists it.
  json listed(const std::string& id) {
    auto r = call("GET", "/api/bookings?limit=1000");
    REQUIRE(r.status == 200);
    for (const auto& b : json::parse(r.body))
      if (b["id"] == id) return b;
    FAIL("booking " << id << " is not listed");
    return nullptr;
  }
  /// The latest bundle published for t1.
  proto::SyncBundle bundle() {
    auto msgs = pub.on("lg/v1/demo/t1/sync");
    REQUIRE(!msgs.empty());
    auto b = proto::decode_sync(proto::open(msgs.back().payload)->body);
    REQUIRE(b);
    return reveal(*store, server_key, "demo", *b);
  }
  /// The audit entries of entity, as GET /api/audit lists them.
  json audit(const std::string& entity) {
    auto r = call("GET", "/api/audit?entity=" + entity + "&limit=1000");
    INFO(r.body);
    REQUIRE(r.status == 200);
    return json::parse(r.body);
  }
  Site() {
    app.health().broker(true);
    ok("POST", "/api/units", {{"id", "chem"}, {"name", "化学院"}});
    ok("POST", "/api/labs", {{"id", "lab-c"}, {"name", "Lab C"}, {"unit", "chem"}});
    ok("POST", "/api/instruments", {{"id", "inst-c"}, {"name", "NMR"}, {"lab", "lab-c"}, {"kind", "instrument"}});
    for (const char* id : {"alice", "carol", "ia"}) {
      ok("POST", "/api/users", {{"id", id}, {"name", id}, {"unit", "chem"}, {"category", "internal_staff"}});
      ok("PUT", "/api/users/" + std::string(id) + "/password", {{"password", std::string(id) + " password"}});
    }
    ok("POST", "/api/qualifications", {{"user", "alice"}, {"instrument", "inst-c"}});
    ok("POST", "/api/qualifications", {{"user", "carol"}, {"instrument", "inst-c"}});
    ok("POST", "/api/roles", {{"user", "ia"}, {"role", "instrument_admin"}, {"scope_id", "inst-c"}});
    ok("POST", "/api/terminals", {{"id", "t1"}, {"resource", "inst-c"}, {"public_key", new_key().public_pem()}});
  }
};

std::string error_of(const http::Response& r) { return json::parse(r.body).value("error", ""); }

/// The instant a time on the wire names (shown in the site's zone).
int64_t at(const json& t) { return *time::parse_utc(t.get<std::string>()); }

}  // namespace

TEST_CASE("a cancelled booking is kept, frees its slot and leaves the bundle, cancelling it again is 409") {
  Site s;
  const std::string alice = s.login("alice");
  const std::string id = s.book("alice", "2026-01-15T02:00:00Z", "2026-01-15T04:00:00Z", alice);
  CHECK(s.listed(id)["status"] == "active");
  REQUIRE(s.bundle().bookings.size() == 1);
  // carol cannot have the slot while alice holds it
  auto clash = s.call("POST", "/api/bookings",
                      {{"instrument", "inst-c"}, {"user", "carol"}, {"start", "2026-01-15T03:00:00Z"},
                       {"end", "2026-01-15T05:00:00Z"}});
  CHECK(clash.status == 409);

  s.now = ms("2026-01-15T01:00:00Z");
  auto r = s.call("DELETE", "/api/bookings/" + id, {{"reason", "sample not ready"}}, alice);
  INFO(r.body);
  REQUIRE(r.status == 200);
  const json j = json::parse(r.body);
  CHECK(j["status"] == "cancelled");
  CHECK(j["cancel_reason"] == "sample not ready");
  CHECK(at(j["cancelled"]) == ms("2026-01-15T01:00:00Z"));
  const json kept = s.listed(id);  // kept as history
  CHECK(kept["status"] == "cancelled");
  CHECK(at(kept["start"]) == ms("2026-01-15T02:00:00Z"));
  CHECK(s.bundle().bookings.empty());  // it no longer opens the instrument

  auto again = s.call("DELETE", "/api/bookings/" + id, nullptr, alice);
  CHECK(again.status == 409);
  CHECK(error_of(again).find("cancelled already") != std::string::npos);
  CHECK(s.call("DELETE", "/api/bookings/no-such-booking").status == 404);

  // the slot is free for another booking
  const std::string carol = s.book("carol", "2026-01-15T03:00:00Z", "2026-01-15T05:00:00Z");
  REQUIRE(s.bundle().bookings.size() == 1);
  CHECK(s.bundle().bookings[0].id == carol);

  // the cancellation is audited with before and after
  bool seen = false;
  for (const auto& e : s.audit("booking")) {
    if (e["action"] != "cancel") continue;
    seen = true;
    CHECK(e["entity_id"] == id);
    CHECK(e["before"]["status"] == "active");
    CHECK(e["after"]["status"] == "cancelled");
  }
  CHECK(seen);
}

TEST_CASE("a move is admitted like a new booking: into an overlap it is 409 naming the conflict and nothing changes") {
  Site s;
  const std::string a = s.book("alice", "2026-01-16T02:00:00Z", "2026-01-16T03:00:00Z");
  const std::string c = s.book("carol", "2026-01-16T04:00:00Z", "2026-01-16T05:00:00Z");

  auto clash = s.call("PATCH", "/api/bookings/" + a, {{"start", "2026-01-16T03:30:00Z"}, {"end", "2026-01-16T04:30:00Z"}});
  INFO(clash.body);
  CHECK(clash.status == 409);
  CHECK(json::parse(clash.body)["conflict"] == c);
  CHECK(at(s.listed(a)["start"]) == ms("2026-01-16T02:00:00Z"));
  CHECK(at(s.listed(a)["end"]) == ms("2026-01-16T03:00:00Z"));

  // an invalid interval is 422
  CHECK(s.call("PATCH", "/api/bookings/" + a, {{"start", "2026-01-16T05:00:00Z"}, {"end", "2026-01-16T04:00:00Z"}})
            .status == 422);
  // overlapping only itself is fine (a longer booking over its own slot), back to back with carol's too
  auto moved = s.call("PATCH", "/api/bookings/" + a, {{"start", "2026-01-16T01:30:00Z"}, {"end", "2026-01-16T04:00:00Z"}});
  INFO(moved.body);
  REQUIRE(moved.status == 200);
  CHECK(at(json::parse(moved.body)["start"]) == ms("2026-01-16T01:30:00Z"));
  CHECK(at(s.listed(a)["end"]) == ms("2026-01-16T04:00:00Z"));
  bool seen = false;
  for (const auto& e : s.audit("booking")) {
    if (e["action"] != "move") continue;
    seen = true;
    CHECK(e["entity_id"] == a);
    CHECK(at(e["before"]["start"]) == ms("2026-01-16T02:00:00Z"));
    CHECK(at(e["after"]["start"]) == ms("2026-01-16T01:30:00Z"));
  }
  CHECK(seen);

  // a cancelled booking frees its slot for a move, and is not moved itself
  REQUIRE(s.call("DELETE", "/api/bookings/" + c).status == 200);
  CHECK(s.call("PATCH", "/api/bookings/" + a, {{"start", "2026-01-16T04:00:00Z"}, {"end", "2026-01-16T05:00:00Z"}})
            .status == 200);
  CHECK(s.call("PATCH", "/api/bookings/" + c, {{"start", "2026-01-17T04:00:00Z"}, {"end", "2026-01-17T05:00:00Z"}})
            .status == 409);
  // a move needs the qualification over the new interval: revoked, alice may not move it
  REQUIRE(s.call("DELETE", "/api/qualifications/alice/inst-c").status == 200);
  CHECK(s.call("PATCH", "/api/bookings/" + a, {{"start", "2026-01-18T04:00:00Z"}, {"end", "2026-01-18T05:00:00Z"}})
            .status == 422);
}

TEST_CASE("a user cancels and moves their own booking, not another's, the instrument admin may") {
  Site s;
  const std::string alice = s.login("alice");
  const std::string carol = s.login("carol");
  const std::string ia = s.login("ia");
  const std::string a = s.book("alice", "2026-01-16T02:00:00Z", "2026-01-16T03:00:00Z", alice);
  const std::string c = s.book("carol", "2026-01-16T04:00:00Z", "2026-01-16T05:00:00Z", carol);

  auto other = s.call("DELETE", "/api/bookings/" + c, nullptr, alice);
  CHECK((other.status == 403 || other.status == 404));
  auto other_move =
      s.call("PATCH", "/api/bookings/" + c, {{"start", "2026-01-17T04:00:00Z"}, {"end", "2026-01-17T05:00:00Z"}}, alice);
  CHECK((other_move.status == 403 || other_move.status == 404));
  CHECK(s.listed(c)["status"] == "active");
  CHECK(at(s.listed(c)["start"]) == ms("2026-01-16T04:00:00Z"));
  CHECK(s.call("DELETE", "/api/bookings/" + a, nullptr, "").status == 401);

  CHECK(s.call("PATCH", "/api/bookings/" + a, {{"start", "2026-01-17T02:00:00Z"}, {"end", "2026-01-17T03:00:00Z"}}, alice)
            .status == 200);
  CHECK(s.call("DELETE", "/api/bookings/" + a, nullptr, alice).status == 200);
  CHECK(s.call("DELETE", "/api/bookings/" + c, nullptr, ia).status == 200);
  // who did it is in the audit trail
  int cancels = 0;
  for (const auto& e : s.audit("booking"))
    if (e["action"] == "cancel") ++cancels;
  CHECK(cancels == 2);
}

TEST_CASE("a revoked qualification is kept, ending now, the terminal's next bundle no longer grants, again is 409") {
  Site s;
  s.ok("POST", "/api/cards", {{"uid", "04AA"}, {"user", "alice"}});
  const auto before = s.bundle();
  bool granted = false;
  for (const auto& g : before.grants) granted = granted || (g.user == "alice" && !g.valid_until_ms);
  CHECK(granted);

  s.now = ms("2026-01-20T00:00:00Z");
  // a plain user may not revoke; the instrument admin may
  CHECK(s.call("DELETE", "/api/qualifications/alice/inst-c", nullptr, s.login("carol")).status == 403);
  auto r = s.call("DELETE", "/api/qualifications/alice/inst-c", nullptr, s.login("ia"));
  INFO(r.body);
  REQUIRE(r.status == 200);
  CHECK(at(json::parse(r.body)["valid_until"]) == ms("2026-01-20T00:00:00Z"));

  auto list = s.call("GET", "/api/qualifications");
  REQUIRE(list.status == 200);
  bool kept = false;
  for (const auto& q : json::parse(list.body)) {
    if (q["user"] != "alice") continue;
    kept = true;
    CHECK(at(q["valid_until"]) == ms("2026-01-20T00:00:00Z"));
  }
  CHECK(kept);
  // the bundle's grant of alice (if still listed, as recently ended) ends now: it grants nothing later
  const auto after = s.bundle();
  CHECK(after.version > before.version);
  for (const auto& g : after.grants) {
    if (g.user != "alice") continue;
    REQUIRE(g.valid_until_ms);
    CHECK(*g.valid_until_ms <= s.now);
  }

  auto again = s.call("DELETE", "/api/qualifications/alice/inst-c");
  CHECK(again.status == 409);
  CHECK(s.call("DELETE", "/api/qualifications/ia/inst-c").status == 404);
  bool audited = false;
  for (const auto& e : s.audit("qualification")) {
    if (e["action"] != "revoke") continue;
    audited = true;
    CHECK(e["entity_id"] == "alice/inst-c");
    CHECK(e["before"]["valid_until"].is_null());
    CHECK(at(e["after"]["valid_until"]) == ms("2026-01-20T00:00:00Z"));
  }
  CHECK(audited);
}
