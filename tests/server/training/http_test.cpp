// The training routes through the API with people signed in, on both backends: who may create
// courses and schedule sessions (a plain user may not; an instrument admin only for their
// instruments; a safety course takes a unit admin), enrolment and its refusals (422 naming the
// rule), the waitlist and its promotion with its notice, attendance and the result, the
// qualifications a pass gives (level, source, never lowered) with the terminals' bundles marked,
// the caller's own trainings, the reminder pass (once per enrolment) and the audit entries.
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

/// Unit chem with instruments inst-c and inst-d; alice, bob, carol (plain users), ia the
/// instrument admin of inst-c, ua the unit admin of chem.
struct Site {
  TempDir dir;
  std::unique_ptr<TestStore> store = open_store(dir);
  crypto::PrivateKey server_key = new_key();
  RecordingPublisher pub;
  int64_t now = ms("2026-01-15T00:00:00Z");
  ServerConfig cfg = [this] {
    ServerConfig c;
    c.site = "demo";
    c.data_dir = dir.path / "data";
    c.admin_token = kBoot;
    c.auth.password_t_cost = 1;
    c.auth.password_m_cost_kib = 64;
    return c;
  }();
  App app{store->stores(), server_key, cfg, pub, [this] { return now; }, "0.1.0"};
  std::map<std::string, std::string> tokens;

  http::Response call(const std::string& method, const std::string& target, const json& body = nullptr,
                      const std::string& bearer = kBoot) {
    return app.handle_http(http::make_request(method, target, bearer.empty() ? "" : "Bearer " + bearer,
                                              body.is_null() ? "" : body.dump()));
  }
  void ok(const std::string& method, const std::string& target, const json& body) {
    auto r = call(method, target, body);
    INFO(method << " " << target << " " << r.body);
    REQUIRE(r.status / 100 == 2);
  }
  const std::string& as(const std::string& user) {
    if (!tokens.count(user)) {
      auto r = call("POST", "/api/login", {{"user", user}, {"password", user + " password"}}, "");
      INFO(r.body);
      REQUIRE(r.status == 201);
      tokens[user] = json::parse(r.body)["token"];
    }
    return tokens[user];
  }
  /// method target as user (or the bootstrap token: "boot"), expecting status; the body parsed.
  json expect(const std::string& method, const std::string& target, const std::string& user, int status,
              const json& body = nullptr) {
    auto r = call(method, target, body, user == "boot" ? std::string(kBoot) : as(user));
    INFO(user << " " << method << " " << target << " -> " << r.status << " " << r.body);
    CHECK(r.status == status);
    return r.body.empty() ? json(nullptr) : json::parse(r.body);
  }
  Site() {
    app.health().broker(true);
    ok("POST", "/api/units", {{"id", "chem"}, {"name", "化学院"}});
    ok("POST", "/api/labs", {{"id", "lab-c"}, {"name", "Lab C"}, {"unit", "chem"}});
    ok("POST", "/api/instruments", {{"id", "inst-c"}, {"name", "XRD"}, {"lab", "lab-c"}, {"kind", "instrument"}});
    ok("POST", "/api/instruments", {{"id", "inst-d"}, {"name", "NMR"}, {"lab", "lab-c"}, {"kind", "instrument"}});
    for (const char* id : {"alice", "bob", "carol", "ia", "ua"}) {
      ok("POST", "/api/users", {{"id", id}, {"name", id}, {"unit", "chem"}, {"category", "internal_staff"}});
      ok("PUT", "/api/users/" + std::string(id) + "/password", {{"password", std::string(id) + " password"}});
    }
    ok("POST", "/api/roles", {{"user", "ia"}, {"role", "instrument_admin"}, {"scope_id", "inst-c"}});
    ok("POST", "/api/roles", {{"user", "ua"}, {"role", "unit_admin"}, {"scope_id", "chem"}});
  }
  static json safety() {
    return json{{"id", "safety"}, {"title", "实验室安全"}, {"kind", "safety"},
                {"unit", "chem"}, {"validity_months", 12}, {"assessment", "sign_off"}};
  }
  static json xrd(const json& instruments = json::array({"inst-c"})) {
    return json{{"id", "xrd"},
                {"title", "XRD training"},
                {"kind", "instrument"},
                {"instruments", instruments},
                {"prerequisites", {"safety"}},
                {"level", "independent"},
                {"validity_months", 24},
                {"assessment", "exam"},
                {"pass_mark", 60}};
  }
  static json session(const std::string& id, const char* start, int64_t capacity) {
    const int64_t s = ms(start);
    return json{{"id", id},
                {"start", time::format_utc(s)},
                {"end", time::format_utc(s + 7'200'000)},
                {"location", "Room 101"},
                {"trainer", "Dr. Wang"},
                {"capacity", capacity}};
  }
  /// user passes the safety course (a session of its own, signed off).
  void pass_safety(const std::string& user) {
    const std::string sid = "safety-" + user;
    expect("POST", "/api/courses/safety/sessions", "ua", 201, session(sid, "2026-01-16T01:00:00Z", 5));
    expect("POST", "/api/training-sessions/" + sid + "/enrolments", user, 201);
    expect("POST", "/api/training-sessions/" + sid + "/attendance", "ua", 200,
           {{"user", user}, {"attendance", "attended"}});
    auto r =
        expect("POST", "/api/training-sessions/" + sid + "/result", "ua", 200, {{"user", user}, {"signed_off", true}});
    CHECK(r["passed"] == true);
    CHECK(r["qualifications"].empty());
  }
  /// The kinds of the notices to user.
  std::vector<std::string> notices(const std::string& user) {
    auto r = call("GET", "/api/notices?user=" + user + "&limit=100");
    REQUIRE(r.status == 200);
    std::vector<std::string> out;
    for (const auto& n : json::parse(r.body)) out.push_back(n["kind"]);
    return out;
  }
  static bool has(const std::vector<std::string>& v, const std::string& x) {
    return std::find(v.begin(), v.end(), x) != v.end();
  }
};

}  // namespace

TEST_CASE("training http: who may create courses and schedule their sessions") {
  Site s;
  // A plain user creates no course; an instrument admin no safety course (a unit's).
  auto r = s.expect("POST", "/api/courses", "alice", 403, Site::safety());
  s.expect("POST", "/api/courses", "alice", 403, Site::xrd());
  r = s.expect("POST", "/api/courses", "ia", 403, Site::safety());
  CHECK(r["error"].get<std::string>().find("unit chem") != std::string::npos);
  auto c = s.expect("POST", "/api/courses", "ua", 201, Site::safety());
  CHECK(c["kind"] == "safety");
  CHECK(c["pass_mark"].is_null());
  // An instrument admin: courses of their instrument only (a class of instruments needs them all).
  s.expect("POST", "/api/courses", "ia", 403, Site::xrd({"inst-d"}));
  s.expect("POST", "/api/courses", "ia", 403, Site::xrd({"inst-c", "inst-d"}));
  c = s.expect("POST", "/api/courses", "ia", 201, Site::xrd());
  CHECK(c["instruments"] == json({"inst-c"}));
  CHECK(c["prerequisites"] == json({"safety"}));
  CHECK(c["level"] == "independent");
  CHECK(c["pass_mark"] == 60);
  s.expect("POST", "/api/courses", "ia", 409, Site::xrd());
  // Bad courses: 422 naming the field.
  json bad = Site::xrd();
  bad["id"] = "xrd2";
  bad["level"] = "expert";
  CHECK(s.expect("POST", "/api/courses", "boot", 422, bad)["error"].get<std::string>().find("level") !=
        std::string::npos);
  bad = Site::xrd();
  bad["id"] = "xrd3";
  bad["instruments"] = json::array();
  CHECK(s.expect("POST", "/api/courses", "boot", 422, bad)["error"].get<std::string>().find("instruments") !=
        std::string::npos);
  bad = Site::xrd();
  bad["id"] = "xrd4";
  bad["prerequisites"] = {"no-such-course"};
  s.expect("POST", "/api/courses", "boot", 422, bad);
  // Everyone signed in reads them.
  auto list = s.expect("GET", "/api/courses", "alice", 200);
  REQUIRE(list.size() == 2);
  s.expect("GET", "/api/courses/xrd", "alice", 200);
  s.expect("GET", "/api/courses/nope", "alice", 404);
  CHECK(s.call("GET", "/api/courses", nullptr, "").status == 401);

  // Sessions: by the course's managers.
  s.expect("POST", "/api/courses/xrd/sessions", "alice", 403, Site::session("x1", "2026-01-20T02:00:00Z", 1));
  s.expect("POST", "/api/courses/safety/sessions", "ia", 403, Site::session("x1", "2026-01-20T02:00:00Z", 1));
  json late = Site::session("x1", "2026-01-20T02:00:00Z", 1);
  late["end"] = late["start"];
  s.expect("POST", "/api/courses/xrd/sessions", "ia", 422, late);
  s.expect("POST", "/api/courses/xrd/sessions", "ia", 422, Site::session("x1", "2026-01-20T02:00:00Z", 0));
  auto made = s.expect("POST", "/api/courses/xrd/sessions", "ia", 201, Site::session("x1", "2026-01-20T02:00:00Z", 1));
  CHECK(made["capacity"] == 1);
  CHECK(made["seats_free"] == 1);
  auto sessions = s.expect("GET", "/api/courses/xrd/sessions", "bob", 200);
  REQUIRE(sessions.size() == 1);
  CHECK(sessions[0]["location"] == "Room 101");
  // The roster, attendance and results: the course's managers only.
  s.expect("GET", "/api/training-sessions/x1/roster", "alice", 403);
  s.expect("GET", "/api/training-sessions/x1/roster", "ua", 200);
  s.expect("GET", "/api/training-sessions/nope/roster", "ia", 404);
  s.expect("POST", "/api/training-sessions/x1/attendance", "alice", 403,
           {{"user", "alice"}, {"attendance", "attended"}});
  s.expect("POST", "/api/training-sessions/x1/result", "alice", 403, {{"user", "alice"}, {"score", 100}});
  // A session called off: by its managers, once, before it starts; nobody enrols in it any more.
  s.expect("POST", "/api/courses/xrd/sessions", "ia", 201, Site::session("x2", "2026-01-21T02:00:00Z", 3));
  s.expect("POST", "/api/training-sessions/x2/cancel", "alice", 403);
  CHECK(s.expect("POST", "/api/training-sessions/x2/cancel", "ia", 200)["cancelled"] == true);
  CHECK(s.expect("POST", "/api/training-sessions/x2/cancel", "ia", 422)["rule"] == "session.cancelled");
  CHECK(s.expect("POST", "/api/training-sessions/x2/enrolments", "boot", 422, {{"user", "alice"}})["rule"] ==
        "enrol.session_cancelled");
  // Every change is audited.
  auto audit = s.call("GET", "/api/audit?entity=training_course&limit=100");
  REQUIRE(audit.status == 200);
  CHECK(json::parse(audit.body).size() == 2);
}

TEST_CASE("training http: enrol, the waitlist, promotion with its notice, attendance, result, qualification") {
  Site s;
  s.expect("POST", "/api/courses", "ua", 201, Site::safety());
  s.expect("POST", "/api/courses", "ia", 201, Site::xrd());
  s.expect("POST", "/api/courses/xrd/sessions", "ia", 201, Site::session("x1", "2026-01-20T02:00:00Z", 1));

  // Without the safety record: refused, naming the rule.
  auto r = s.expect("POST", "/api/training-sessions/x1/enrolments", "alice", 422);
  CHECK(r["rule"] == "enrol.prerequisite");
  CHECK(r["error"].get<std::string>().find("safety") != std::string::npos);
  s.pass_safety("alice");
  s.pass_safety("bob");

  // alice takes the seat, bob is waitlisted; neither twice; carol may not enrol bob.
  auto a = s.expect("POST", "/api/training-sessions/x1/enrolments", "alice", 201);
  CHECK(a["state"] == "enrolled");
  CHECK(a["waitlist_position"].is_null());
  s.expect("POST", "/api/training-sessions/x1/enrolments", "carol", 403, {{"user", "bob"}});
  auto b = s.expect("POST", "/api/training-sessions/x1/enrolments", "bob", 201);
  CHECK(b["state"] == "waitlisted");
  CHECK(b["waitlist_position"] == 1);
  CHECK(s.expect("POST", "/api/training-sessions/x1/enrolments", "alice", 422)["rule"] == "enrol.already_enrolled");
  CHECK(s.expect("POST", "/api/training-sessions/x1/enrolments", "bob", 422)["rule"] == "enrol.already_enrolled");
  CHECK(Site::has(s.notices("alice"), "training_enrolled"));
  // The instrument admin enrols carol on her behalf (she has no safety record: refused).
  CHECK(s.expect("POST", "/api/training-sessions/x1/enrolments", "ia", 422, {{"user", "carol"}})["rule"] ==
        "enrol.prerequisite");

  auto roster = s.expect("GET", "/api/training-sessions/x1/roster", "ia", 200);
  REQUIRE(roster["enrolments"].size() == 1);
  CHECK(roster["enrolments"][0]["user"] == "alice");
  REQUIRE(roster["waitlist"].size() == 1);
  CHECK(roster["waitlist"][0]["user"] == "bob");
  CHECK(roster["waitlist"][0]["waitlist_position"] == 1);
  auto me = s.expect("GET", "/api/me/trainings", "bob", 200);
  bool waiting = false;
  for (const auto& e : me["enrolments"])
    if (e["session"] == "x1") waiting = e["state"] == "waitlisted" && e["waitlist_position"] == 1;
  CHECK(waiting);
  CHECK(me["records"].size() == 1);
  CHECK(me["records"][0]["course"] == "safety");
  CHECK(me["records"][0]["valid"] == true);

  // Attendance of a waitlisted user is refused; carol may not cancel alice's seat.
  CHECK(s.expect("POST", "/api/training-sessions/x1/attendance", "ia", 422,
                 {{"user", "bob"}, {"attendance", "attended"}})["rule"] == "attendance.not_enrolled");
  s.expect("DELETE", "/api/training-sessions/x1/enrolments/alice", "carol", 403);
  // alice cancels: bob takes the seat, and hears of it.
  auto gone = s.expect("DELETE", "/api/training-sessions/x1/enrolments/alice", "alice", 200);
  CHECK(gone["state"] == "cancelled");
  CHECK(gone["promoted"] == json({"bob"}));
  CHECK(s.expect("DELETE", "/api/training-sessions/x1/enrolments/alice", "alice", 422)["rule"] ==
        "cancel.not_enrolled");
  CHECK(Site::has(s.notices("bob"), "training_waitlist_promoted"));
  roster = s.expect("GET", "/api/training-sessions/x1/roster", "ia", 200);
  REQUIRE(roster["enrolments"].size() == 1);
  CHECK(roster["enrolments"][0]["user"] == "bob");
  CHECK(roster["waitlist"].empty());

  // The result needs attendance; then a score at the pass mark passes.
  CHECK(s.expect("POST", "/api/training-sessions/x1/result", "ia", 422, {{"user", "bob"}, {"score", 90}})["rule"] ==
        "result.not_attended");
  s.expect("POST", "/api/training-sessions/x1/attendance", "ia", 200, {{"user", "bob"}, {"attendance", "attended"}});
  CHECK(s.expect("POST", "/api/training-sessions/x1/result", "ia", 422,
                 {{"user", "bob"}, {"signed_off", true}})["rule"] == "result.assessment");
  (void)s.app.dirty().take();
  auto res = s.expect("POST", "/api/training-sessions/x1/result", "ia", 200, {{"user", "bob"}, {"score", 60}});
  CHECK(res["passed"] == true);
  CHECK(res["score"] == 60);
  REQUIRE(res["qualifications"].size() == 1);
  CHECK(res["qualifications"][0]["level"] == "independent");
  CHECK(res["qualifications"][0]["source"] == "training:xrd");
  CHECK(res["qualifications"][0]["kept"] == false);
  auto batch = s.app.dirty().take();
  CHECK(batch.resources.count("inst-c") == 1);  // the instrument's terminals get a new bundle
  CHECK(s.expect("POST", "/api/training-sessions/x1/result", "ia", 422, {{"user", "bob"}, {"score", 99}})["rule"] ==
        "result.recorded");
  CHECK(Site::has(s.notices("bob"), "training_passed"));

  auto quals = s.expect("GET", "/api/qualifications?limit=100", "boot", 200);
  bool found = false;
  for (const auto& q : quals)
    if (q["user"] == "bob" && q["instrument"] == "inst-c")
      found = q["level"] == "independent" && q["source"] == "training:xrd" && !q["valid_until"].is_null();
  CHECK(found);
  me = s.expect("GET", "/api/me/trainings", "bob", 200);
  CHECK(me["records"].size() == 2);
  auto audit = s.call("GET", "/api/audit?entity=qualification&limit=100");
  REQUIRE(audit.status == 200);
  bool audited = false;
  for (const auto& e : json::parse(audit.body)) audited = audited || e["entity_id"] == "bob/inst-c";
  CHECK(audited);
}

TEST_CASE("training http: a pass never lowers a higher qualification, a failed exam leaves none") {
  Site s;
  s.expect("POST", "/api/courses", "ua", 201, Site::safety());
  s.expect("POST", "/api/courses", "ia", 201, Site::xrd());
  s.expect("POST", "/api/courses/xrd/sessions", "ia", 201, Site::session("x1", "2026-01-20T02:00:00Z", 5));
  s.pass_safety("alice");
  s.pass_safety("bob");
  s.ok("POST", "/api/qualifications", {{"user", "alice"}, {"instrument", "inst-c"}, {"level", "after_hours"}});
  for (const char* u : {"alice", "bob"}) {
    s.expect("POST", "/api/training-sessions/x1/enrolments", u, 201);
    s.expect("POST", "/api/training-sessions/x1/attendance", "ia", 200, {{"user", u}, {"attendance", "attended"}});
  }
  auto res = s.expect("POST", "/api/training-sessions/x1/result", "ia", 200, {{"user", "alice"}, {"score", 95}});
  REQUIRE(res["qualifications"].size() == 1);
  CHECK(res["qualifications"][0]["kept"] == true);
  CHECK(res["qualifications"][0]["level"] == "after_hours");
  auto audit = s.call("GET", "/api/audit?entity=qualification&limit=100");
  REQUIRE(audit.status == 200);
  bool kept = false;
  for (const auto& e : json::parse(audit.body))
    kept = kept || (e["entity_id"] == "alice/inst-c" && e["action"] == "keep");
  CHECK(kept);
  res = s.expect("POST", "/api/training-sessions/x1/result", "ia", 200, {{"user", "bob"}, {"score", 59}});
  CHECK(res["passed"] == false);
  CHECK(res["record"].is_null());
  CHECK(res["qualifications"].empty());
  auto kinds = s.notices("bob");
  CHECK(std::count(kinds.begin(), kinds.end(), std::string("training_passed")) == 1);  // the safety course's only
}

TEST_CASE("training http: a reminder a day before the session, once per enrolment") {
  Site s;
  s.expect("POST", "/api/courses", "ua", 201, Site::safety());
  s.expect("POST", "/api/courses/safety/sessions", "ua", 201, Site::session("soon", "2026-01-17T02:00:00Z", 2));
  s.expect("POST", "/api/training-sessions/soon/enrolments", "alice", 201);
  s.expect("POST", "/api/training-sessions/soon/enrolments", "bob", 201);
  s.expect("POST", "/api/training-sessions/soon/enrolments", "carol", 201);  // waitlisted: no reminder
  s.app.send_training_reminders();                                           // two days ahead: not yet
  CHECK_FALSE(Site::has(s.notices("alice"), "training_reminder"));
  s.now = ms("2026-01-16T03:00:00Z");
  s.tokens.clear();  // a day later: sign in again (sessions last 12 h)
  s.app.send_training_reminders();
  s.app.send_training_reminders();  // again: nothing more
  auto count = [&](const std::string& user) {
    auto kinds = s.notices(user);
    return std::count(kinds.begin(), kinds.end(), std::string("training_reminder"));
  };
  CHECK(count("alice") == 1);
  CHECK(count("bob") == 1);
  CHECK(count("carol") == 0);
  // Called off: everyone enrolled or waiting hears of it, once.
  s.expect("POST", "/api/training-sessions/soon/cancel", "ua", 200);
  for (const char* u : {"alice", "bob", "carol"}) CHECK(Site::has(s.notices(u), "training_cancelled"));
  auto me = s.expect("GET", "/api/me/trainings", "carol", 200);
  REQUIRE(me["enrolments"].size() == 1);
  CHECK(me["enrolments"][0]["session_cancelled"] == true);
}
