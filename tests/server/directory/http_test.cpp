// The directory's routes through the app (both backends): every write leaves its audit entry in
// the same unit of work (a refused one leaves none, an import one per changed row), the five user
// categories (and the two old names) on the wire, personal data checked, stored and shown, and
// PATCH of a group and of a temporary card's end date.
#include <doctest/doctest.h>

#include <map>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/core/app.hpp"
#include "tests/server/test_support.hpp"

using namespace lg;
using namespace lg::server;
using namespace lg::server::test;
using nlohmann::json;

namespace {

struct DirectoryFixture {
  TempDir dir;
  std::unique_ptr<TestStore> store = open_store(dir);
  crypto::PrivateKey server_key = new_key();
  RecordingPublisher pub;
  int64_t now = ms("2026-01-15T00:00:00Z");
  ServerConfig cfg = [] {
    ServerConfig c;
    c.site = "demo";
    c.admin_token = "sekret";
    return c;
  }();
  App app{store->stores(), server_key, cfg, pub, [this] { return now; }, "0.1.0"};

  DirectoryFixture() { app.health().broker(true); }

  http::Response call(const std::string& method, const std::string& target, const std::string& body = "") {
    auto req = http::make_request(method, target, "Bearer sekret", body);
    req.remote = "192.0.2.9";
    auto r = app.handle_http(req);
    app.flush_dirty();
    return r;
  }
  http::Response call(const std::string& method, const std::string& target, const json& body) {
    return call(method, target, body.dump());
  }
  json get(const std::string& target) {
    auto r = call("GET", target);
    INFO(target << " " << r.body);
    REQUIRE(r.status == 200);
    return json::parse(r.body);
  }
  std::string error_of(const http::Response& r) { return json::parse(r.body).at("error").get<std::string>(); }
  void ok(const std::string& method, const std::string& target, const json& body, int status = 201) {
    auto r = call(method, target, body.dump());
    INFO(method << " " << target << " " << r.body);
    REQUIRE(r.status == status);
  }
  /// The audit entries, oldest first.
  json audit(const std::string& query = "") {
    json newest_first = get("/api/audit?limit=1000" + query);
    json out = json::array();
    for (auto it = newest_first.rbegin(); it != newest_first.rend(); ++it) out.push_back(*it);
    return out;
  }
  /// (action, entity, entity_id) of every entry, oldest first.
  std::vector<std::tuple<std::string, std::string, std::string>> trail() {
    std::vector<std::tuple<std::string, std::string, std::string>> out;
    for (const auto& e : audit()) out.emplace_back(e["action"], e["entity"], e["entity_id"]);
    return out;
  }
  /// A unit u, a lab l and an instrument inst-xrd through the API.
  void place() {
    ok("POST", "/api/units", {{"id", "u"}, {"name", "Chemistry"}});
    ok("POST", "/api/labs", {{"id", "l"}, {"name", "XRD lab"}, {"unit", "u"}});
    ok("POST", "/api/instruments", {{"id", "inst-xrd"}, {"name", "XRD"}, {"lab", "l"}, {"kind", "instrument"}});
  }
  /// The audit chain's length (GET /api/audit/verify, which must hold).
  int64_t entries() {
    json v = get("/api/audit/verify");
    CHECK(v["ok"] == true);
    return v["entries"].get<int64_t>();
  }
};

using Trail = std::vector<std::tuple<std::string, std::string, std::string>>;

}  // namespace

TEST_CASE("directory http: a user's create, change and suspension are audited with before and after") {
  DirectoryFixture f;
  f.place();
  auto made = f.call("POST", "/api/users",
                     json{{"id", "zhang"},
                          {"name", "张伟"},
                          {"category", "internal_student"},
                          {"unit", "u"},
                          {"email", "zhang.wei@example.edu.cn"}});
  REQUIRE(made.status == 201);
  REQUIRE(f.call("PATCH", "/api/users/zhang", json{{"name", "张伟 (PhD)"}, {"category", "internal_staff"}}).status ==
          200);
  REQUIRE(f.call("PATCH", "/api/users/zhang", json{{"status", "suspended"}, {"reason", "unpaid fees"}}).status == 200);

  const json e = f.audit("&entity=user");
  REQUIRE(e.size() == 3);
  CHECK(e[0]["action"] == "create");
  CHECK(e[0]["entity_id"] == "zhang");
  CHECK(e[0]["before"].is_null());
  CHECK(e[0]["after"]["name"] == "张伟");
  CHECK(e[0]["after"]["category"] == "internal_student");
  CHECK(e[0]["after"]["email"] == "zhang.wei@example.edu.cn");
  CHECK(e[0]["after"]["status"] == "active");
  CHECK(e[0]["actor"] == "admin-token");
  CHECK(e[0]["source"] == "192.0.2.9");
  CHECK(e[0]["request_id"].get<std::string>().size() == 36);
  CHECK(e[1]["action"] == "update");
  CHECK(e[1]["before"] == e[0]["after"]);
  CHECK(e[1]["after"]["name"] == "张伟 (PhD)");
  CHECK(e[1]["after"]["category"] == "internal_staff");
  CHECK(e[1]["after"]["email"] == "zhang.wei@example.edu.cn");
  CHECK(e[2]["before"]["status"] == "active");
  CHECK(e[2]["after"]["status"] == "suspended");
  CHECK(e[2]["after"]["status_reason"] == "unpaid fees");
  // What an entry holds is what the GET shows.
  const json users = f.get("/api/users");
  REQUIRE(users.size() == 1);
  CHECK(users[0] == e[2]["after"]);
  CHECK(f.entries() == 6);  // unit, lab, instrument and the three above
}

TEST_CASE("directory http: every write route leaves its entry, in order, with the entity as its GET shows it") {
  DirectoryFixture f;
  f.place();
  f.ok("PATCH", "/api/units/u", {{"name", "College of Chemistry"}}, 200);
  f.ok("POST", "/api/units", {{"id", "old"}, {"name", "Old dept"}});
  f.ok("DELETE", "/api/units/old", json(nullptr), 200);
  f.ok("POST", "/api/labs", {{"id", "l2"}, {"name", "Spare lab"}, {"unit", "u"}});
  f.ok("PATCH", "/api/labs/l2", {{"name", "Spare lab 2"}}, 200);
  f.ok("DELETE", "/api/labs/l2", json(nullptr), 200);
  f.ok("PATCH", "/api/instruments/inst-xrd", {{"status", "maintenance"}}, 200);
  f.ok("POST", "/api/instruments", {{"id", "door-1"}, {"name", "Door"}, {"lab", "l"}, {"kind", "door"}});
  f.ok("DELETE", "/api/instruments/door-1", json(nullptr), 200);
  f.ok("POST", "/api/users", {{"id", "li"}, {"name", "Li Wei"}, {"category", "internal_staff"}, {"unit", "u"}});
  f.ok("POST", "/api/users", {{"id", "wang"}, {"name", "Wang Fang"}, {"category", "internal_student"}});
  f.ok("POST", "/api/users", {{"id", "gone"}, {"name", "Gone"}, {"category", "enterprise"}});
  f.ok("DELETE", "/api/users/gone?reason=contract%20ended", json(nullptr), 200);
  f.ok("POST", "/api/cards", {{"uid", "04aa"}, {"user", "li"}});
  f.ok("POST", "/api/cards", {{"uid", "04bb"}, {"user", "wang"}});
  f.ok("POST", "/api/cards", {{"uid", "04cc"}, {"user", "wang"}});
  f.ok("POST", "/api/cards", {{"uid", "04dd"}, {"user", "wang"}});
  f.ok("POST", "/api/cards/04AA/lost", json(nullptr), 200);
  f.ok("POST", "/api/cards/04BB/revoke", json(nullptr), 200);
  f.ok("DELETE", "/api/cards/04CC", json(nullptr), 200);
  f.ok("POST", "/api/cards/04DD/replace", {{"new_uid", "04ee"}});
  f.ok("POST", "/api/cards/04AA/replace", {{"new_uid", "04ff"}});  // lost before: only the new card
  f.ok("PATCH", "/api/cards/04EE", {{"valid_until", "2026-06-30T16:00:00Z"}}, 200);
  f.ok("POST", "/api/groups", {{"id", "g-li"}, {"name", "李伟课题组"}, {"pi", "li"}, {"unit", "u"}});
  f.ok("POST", "/api/groups/g-li/members", {{"user", "wang"}});
  f.ok("DELETE", "/api/groups/g-li/members/wang", json(nullptr), 200);
  f.ok("PATCH", "/api/groups/g-li", {{"pi", "wang"}}, 200);  // wang is no member now: joins
  f.ok("DELETE", "/api/groups/g-li", json(nullptr), 200);

  const Trail want{{"create", "unit", "u"},
                   {"create", "lab", "l"},
                   {"create", "instrument", "inst-xrd"},
                   {"update", "unit", "u"},
                   {"create", "unit", "old"},
                   {"retire", "unit", "old"},
                   {"create", "lab", "l2"},
                   {"update", "lab", "l2"},
                   {"retire", "lab", "l2"},
                   {"update", "instrument", "inst-xrd"},
                   {"create", "instrument", "door-1"},
                   {"retire", "instrument", "door-1"},
                   {"create", "user", "li"},
                   {"create", "user", "wang"},
                   {"create", "user", "gone"},
                   {"leave", "user", "gone"},
                   {"create", "card", "04AA"},
                   {"create", "card", "04BB"},
                   {"create", "card", "04CC"},
                   {"create", "card", "04DD"},
                   {"lost", "card", "04AA"},
                   {"revoke", "card", "04BB"},
                   {"revoke", "card", "04CC"},
                   {"replace", "card", "04DD"},
                   {"create", "card", "04EE"},
                   {"create", "card", "04FF"},
                   {"update", "card", "04EE"},
                   {"create", "group", "g-li"},
                   {"add", "group_member", "g-li/wang"},
                   {"remove", "group_member", "g-li/wang"},
                   {"update", "group", "g-li"},
                   {"add", "group_member", "g-li/wang"},
                   {"retire", "group", "g-li"}};
  CHECK(f.trail() == want);

  const json e = f.audit();
  REQUIRE(e.size() == want.size());
  CHECK(e[3]["before"]["name"] == "Chemistry");
  CHECK(e[3]["after"]["name"] == "College of Chemistry");
  CHECK(e[5]["before"]["retired"].is_null());
  CHECK(e[5]["after"]["retired"] == "2026-01-15T08:00:00.000+08:00");
  CHECK(e[9]["before"]["status"] == "normal");
  CHECK(e[9]["after"]["status"] == "maintenance");
  CHECK(e[11]["after"]["status"] == "disabled");
  CHECK(e[15]["after"]["status"] == "left");
  CHECK(e[15]["after"]["status_reason"] == "contract ended");
  // card lost: the active row before, the ended row after
  CHECK(e[20]["before"]["status"] == "active");
  CHECK(e[20]["before"]["user"] == "li");
  CHECK(e[20]["after"]["status"] == "lost");
  CHECK(e[20]["after"]["active"] == false);
  CHECK(e[20]["after"]["ended"] == "2026-01-15T08:00:00.000+08:00");
  CHECK(e[23]["after"]["status"] == "replaced");
  CHECK(e[24]["before"].is_null());
  CHECK(e[24]["after"]["user"] == "wang");
  CHECK(e[25]["after"]["user"] == "li");
  CHECK(e[26]["before"]["valid_until"].is_null());
  CHECK(e[26]["after"]["valid_until"] == "2026-07-01T00:00:00.000+08:00");
  // group member add: nothing before, the membership after
  CHECK(e[28]["before"].is_null());
  CHECK(e[28]["after"] == json{{"group", "g-li"}, {"user", "wang"}, {"since", "2026-01-15T08:00:00.000+08:00"}});
  CHECK(e[29]["before"]["user"] == "wang");
  CHECK(e[29]["after"].is_null());
  CHECK(e[30]["before"]["pi"] == "li");
  CHECK(e[30]["after"]["pi"] == "wang");
  CHECK(e[32]["after"]["retired"] == "2026-01-15T08:00:00.000+08:00");
  CHECK(f.entries() == static_cast<int64_t>(want.size()));
}

TEST_CASE("directory http: a refused or failed write leaves no entry") {
  DirectoryFixture f;
  f.place();
  f.ok("POST", "/api/users", {{"id", "li"}, {"name", "Li Wei"}, {"category", "internal_staff"}});
  f.ok("POST", "/api/cards", {{"uid", "04aa"}, {"user", "li"}});
  f.ok("POST", "/api/groups", {{"id", "g"}, {"name", "G"}, {"pi", "li"}});
  const int64_t before = f.entries();
  CHECK(f.call("POST", "/api/users",
               json{{"id", "x"}, {"name", "X"}, {"category", "internal_staff"}, {"unit", "nowhere"}})
            .status == 422);
  CHECK(f.call("POST", "/api/users", json{{"id", "li"}, {"name", "Again"}, {"category", "internal_staff"}}).status ==
        409);
  CHECK(f.call("PATCH", "/api/users/nobody", json{{"name", "N"}}).status == 404);
  CHECK(f.call("PATCH", "/api/users/li", json{{"status", "active"}}).status == 409);  // already active
  // one half of a PATCH succeeds, the other fails: neither the change nor its entry stays
  CHECK(f.call("PATCH", "/api/users/li", json{{"name", "Renamed"}, {"status", "pending"}}).status == 409);
  CHECK(f.get("/api/users")[0]["name"] == "Li Wei");
  CHECK(f.call("POST", "/api/cards/0BAD/lost").status == 404);
  CHECK(f.call("POST", "/api/cards", json{{"uid", "04aa"}, {"user", "li"}}).status == 409);
  CHECK(f.call("POST", "/api/groups/g/members", json{{"user", "li"}}).status == 409);
  CHECK(f.call("DELETE", "/api/groups/g/members/li").status == 409);  // the PI stays
  CHECK(f.call("DELETE", "/api/units/u").status == 409);              // still holds a lab
  CHECK(f.call("PATCH", "/api/groups/g", json{{"pi", "nobody"}}).status == 422);
  CHECK(f.call("PATCH", "/api/cards/0BAD", json{{"valid_until", nullptr}}).status == 404);
  CHECK(f.entries() == before);
  CHECK(f.audit("&entity=card").size() == 1);
}

TEST_CASE("directory http: an import audits one entry per changed row, in its one transaction") {
  DirectoryFixture f;
  auto import = [&](const std::string& users, const std::string& cards, bool dry_run = false) {
    json files = json::array();
    files.push_back({{"kind", "units"}, {"name", "units.csv"}, {"text", "id,name\nchem,化学学院\n"}});
    files.push_back({{"kind", "users"}, {"name", "users.csv"}, {"text", users}});
    if (!cards.empty()) files.push_back({{"kind", "cards"}, {"name", "cards.csv"}, {"text", cards}});
    files.push_back({{"kind", "groups"}, {"name", "groups.csv"}, {"text", "id,name,pi,unit\ng-1,张组,s001,chem\n"}});
    files.push_back({{"kind", "members"}, {"name", "members.csv"}, {"text", "group,user\ng-1,s002\n"}});
    return f.call("POST", "/api/import", json{{"dry_run", dry_run}, {"files", files}});
  };
  const std::string users =
      "id,name,category,unit,email,phone\n"
      "s001,张伟,internal_staff,chem,zhang@example.edu.cn,\n"
      "s002,\"Wang, Fang\",internal,,,+86 10 6275 0000\n";
  // A dry run counts and records nothing.
  auto dry = import(users, "uid,user\n0A01,s001\n", true);
  REQUIRE(dry.status == 200);
  CHECK(f.entries() == 0);

  auto r = import(users, "uid,user\n0A01,s001\n");
  REQUIRE(r.status == 200);
  const Trail want{{"import", "unit", "chem"},
                   {"import", "user", "s001"},
                   {"import", "user", "s002"},
                   {"import", "group", "g-1"},
                   {"import", "group_member", "g-1/s002"},
                   {"import", "card", "0A01"}};
  CHECK(f.trail() == want);
  const json e = f.audit();
  REQUIRE(e.size() == 6);
  CHECK(e[1]["before"].is_null());
  CHECK(e[1]["after"]["category"] == "internal_staff");
  CHECK(e[1]["after"]["email"] == "zhang@example.edu.cn");
  CHECK(e[1]["after"]["phone"].is_null());
  CHECK(e[2]["after"]["category"] == "internal_staff");  // the old name "internal"
  CHECK(e[2]["after"]["phone"] == "+86 10 6275 0000");
  CHECK(e[5]["after"]["user"] == "s001");
  // The same request id on every entry: one request, one unit of work.
  for (const auto& x : e) CHECK(x["request_id"] == e[0]["request_id"]);

  // Again: nothing changes, nothing is recorded.
  REQUIRE(import(users, "uid,user\n0A01,s001\n").status == 200);
  CHECK(f.entries() == 6);

  // One row changes (s002's category; the file has no phone column, so the phone stays).
  auto changed =
      import("id,name,category,unit\ns001,张伟,internal_staff,chem\ns002,\"Wang, Fang\",external_academic,\n", "");
  REQUIRE(changed.status == 200);
  const json after = f.audit();
  REQUIRE(after.size() == 7);  // s001's email column is gone too: kept, so s001 is unchanged
  CHECK(after[6]["action"] == "import");
  CHECK(after[6]["entity_id"] == "s002");
  CHECK(after[6]["before"]["category"] == "internal_staff");
  CHECK(after[6]["after"]["category"] == "external_academic");
  CHECK(after[6]["before"]["phone"] == "+86 10 6275 0000");
  CHECK(after[6]["after"]["phone"] == "+86 10 6275 0000");
  CHECK(f.get("/api/users")[0]["email"] == "zhang@example.edu.cn");
}

TEST_CASE("directory http: an import's bad row changes nothing and records nothing") {
  DirectoryFixture f;
  json files = json::array();
  files.push_back({{"kind", "users"},
                   {"name", "users.csv"},
                   {"text", "id,name,category,email\ns001,A,internal_student,a@example.cn\ns002,B,enterprise,bad\n"}});
  auto r = f.call("POST", "/api/import", json{{"files", files}});
  CHECK(r.status == 422);
  CHECK(f.error_of(r) == "users.csv line 3: email must contain one '@'");
  files[0]["text"] = "id,name,category\ns001,A,internal_student\ns002,B,teacher\n";
  r = f.call("POST", "/api/import", json{{"files", files}});
  CHECK(r.status == 422);
  CHECK(f.error_of(r) ==
        "users.csv line 3: category must be internal_student, internal_staff, other_campus, "
        "external_academic or enterprise");
  files[0]["text"] = "id,name,category,id_number\ns001,A,internal_student,身份证\n";
  r = f.call("POST", "/api/import", json{{"files", files}});
  CHECK(r.status == 422);
  CHECK(f.error_of(r) == "users.csv line 2: id_number must be printable ASCII characters");
  CHECK(f.get("/api/users").empty());
  CHECK(f.entries() == 0);
}

TEST_CASE("directory http: five categories round trip, the old names are taken, others refused") {
  DirectoryFixture f;
  for (const char* c : {"internal_student", "internal_staff", "other_campus", "external_academic", "enterprise"}) {
    f.ok("POST", "/api/users", {{"id", std::string("u-") + c}, {"name", "X"}, {"category", c}});
  }
  f.ok("POST", "/api/users", {{"id", "old-in"}, {"name", "X"}, {"category", "internal"}});
  f.ok("POST", "/api/users", {{"id", "old-out"}, {"name", "X"}, {"category", "external"}});
  std::map<std::string, std::string> got;
  for (const auto& u : f.get("/api/users")) got[u["id"]] = u["category"];
  CHECK(got["u-internal_student"] == "internal_student");
  CHECK(got["u-internal_staff"] == "internal_staff");
  CHECK(got["u-other_campus"] == "other_campus");
  CHECK(got["u-external_academic"] == "external_academic");
  CHECK(got["u-enterprise"] == "enterprise");
  CHECK(got["old-in"] == "internal_staff");
  CHECK(got["old-out"] == "external_academic");

  auto bad = f.call("POST", "/api/users", json{{"id", "x"}, {"name", "X"}, {"category", "teacher"}});
  CHECK(bad.status == 422);
  CHECK(f.error_of(bad) ==
        "invalid field: category: must be internal_student, internal_staff, other_campus, external_academic or "
        "enterprise (internal and external are still taken)");
  CHECK(f.call("PATCH", "/api/users/old-in", json{{"category", "visitor"}}).status == 422);
  auto moved = f.call("PATCH", "/api/users/old-in", json{{"category", "external"}});
  REQUIRE(moved.status == 200);
  CHECK(json::parse(moved.body)["category"] == "external_academic");
  moved = f.call("PATCH", "/api/users/old-in", json{{"category", "enterprise"}});
  CHECK(json::parse(moved.body)["category"] == "enterprise");
}

TEST_CASE("directory http: personal fields are checked, stored, shown, changed and cleared") {
  DirectoryFixture f;
  f.place();
  auto made = f.call("POST", "/api/users",
                     json{{"id", "ext-zhou"},
                          {"name", "周敏"},
                          {"category", "enterprise"},
                          {"unit", "u"},
                          {"email", "zhou.min@example.com"},
                          {"phone", "+86 138 0000 0000"},
                          {"id_number", "E12345678"},
                          {"organisation", "中国石化北京化工研究院"}});
  REQUIRE(made.status == 201);
  json u = f.get("/api/users")[0];
  CHECK(u["email"] == "zhou.min@example.com");
  CHECK(u["phone"] == "+86 138 0000 0000");
  CHECK(u["id_number"] == "E12345678");
  CHECK(u["organisation"] == "中国石化北京化工研究院");

  struct Bad {
    const char* field;
    json value;
    std::string error;
  };
  const Bad bad[] = {
      {"email", "zhou.min.example.com", "invalid field: email: must contain one '@'"},
      {"email", "zhou min@example.com", "invalid field: email: must not contain spaces or control characters"},
      {"phone", "138-0000-0000 (office)", "invalid field: phone: must be digits, '+', '-' and spaces"},
      {"phone", std::string(33, '1'), "invalid field: phone: longer than 32 characters"},
      {"id_number", std::string(65, 'A'), "invalid field: id_number: longer than 64 characters"},
      {"id_number", "护照E123", "invalid field: id_number: must be printable ASCII characters"},
      {"organisation", "ACME\nERROR forged", "invalid field: organisation: must not contain control characters"},
      {"email", 42, "invalid field: email: must be a string"},
  };
  for (const auto& b : bad) {
    INFO(b.field << " " << b.value.dump());
    json body{{"id", "x"}, {"name", "X"}, {"category", "enterprise"}};
    body[b.field] = b.value;
    auto r = f.call("POST", "/api/users", body);
    CHECK(r.status == 422);
    CHECK(f.error_of(r) == b.error);
    auto p = f.call("PATCH", "/api/users/ext-zhou", json{{b.field, b.value}});
    CHECK(p.status == 422);
    CHECK(f.error_of(p) == b.error);
  }
  CHECK(f.get("/api/users").size() == 1);
  CHECK(f.get("/api/users")[0] == u);  // the refused changes changed nothing

  // A PATCH of one field keeps the others; null or "" clears.
  auto p = f.call("PATCH", "/api/users/ext-zhou", json{{"phone", nullptr}, {"email", "zm@example.cn"}});
  REQUIRE(p.status == 200);
  json now = json::parse(p.body);
  CHECK(now["phone"].is_null());
  CHECK(now["email"] == "zm@example.cn");
  CHECK(now["id_number"] == "E12345678");
  CHECK(now["organisation"] == "中国石化北京化工研究院");
  p = f.call("PATCH", "/api/users/ext-zhou", json{{"organisation", ""}});
  REQUIRE(p.status == 200);
  CHECK(json::parse(p.body)["organisation"].is_null());
  CHECK(f.get("/api/users")[0] == json::parse(p.body));
  const json e = f.audit("&entity=user");
  REQUIRE(e.size() == 3);
  CHECK(e[1]["before"]["phone"] == "+86 138 0000 0000");
  CHECK(e[1]["after"]["phone"].is_null());
}

TEST_CASE("directory http: PATCH /api/groups/{id} renames, moves and changes the PI, who becomes a member") {
  DirectoryFixture f;
  f.place();
  f.ok("POST", "/api/units", {{"id", "u2"}, {"name", "Physics"}});
  f.ok("POST", "/api/users", {{"id", "li"}, {"name", "Li"}, {"category", "internal_staff"}});
  f.ok("POST", "/api/users", {{"id", "wang"}, {"name", "Wang"}, {"category", "internal_staff"}});
  f.ok("POST", "/api/groups", {{"id", "g"}, {"name", "Li group"}, {"pi", "li"}, {"unit", "u"}});
  auto r = f.call("PATCH", "/api/groups/g", json{{"name", "Wang group"}, {"pi", "wang"}, {"unit", "u2"}});
  REQUIRE(r.status == 200);
  const json g = json::parse(r.body);
  CHECK(g["name"] == "Wang group");
  CHECK(g["pi"] == "wang");
  CHECK(g["unit"] == "u2");
  CHECK(g["retired"].is_null());
  CHECK(f.get("/api/groups")[0] == g);
  const json members = f.get("/api/groups/g/members");
  REQUIRE(members.size() == 2);
  CHECK(members[0]["user"] == "li");  // the old PI stays a member
  CHECK(members[1]["user"] == "wang");
  r = f.call("PATCH", "/api/groups/g", json{{"unit", nullptr}});
  REQUIRE(r.status == 200);
  CHECK(json::parse(r.body)["unit"].is_null());

  CHECK(f.call("PATCH", "/api/groups/g", json::object()).status == 400);
  CHECK(f.call("PATCH", "/api/groups/g", json{{"colour", "red"}}).status == 400);
  CHECK(f.call("PATCH", "/api/groups/g", json{{"pi", "no body"}}).status == 422);
  CHECK(f.call("PATCH", "/api/groups/g", json{{"unit", "nowhere"}}).status == 422);
  CHECK(f.call("PATCH", "/api/groups/nope", json{{"name", "N"}}).status == 404);
  f.ok("DELETE", "/api/groups/g", json(nullptr), 200);
  f.ok("POST", "/api/users", {{"id", "zhao"}, {"name", "Zhao"}, {"category", "internal_staff"}});
  CHECK(f.call("PATCH", "/api/groups/g", json{{"pi", "zhao"}}).status == 409);  // retired: no new member
  CHECK(f.get("/api/groups/g/members").size() == 2);
}

TEST_CASE("directory http: PATCH /api/cards/{uid} sets and clears a temporary card's end date on its active row") {
  DirectoryFixture f;
  f.ok("POST", "/api/users", {{"id", "li"}, {"name", "Li"}, {"category", "other_campus"}});
  f.ok("POST", "/api/cards", {{"uid", "04aa"}, {"user", "li"}, {"valid_until", "2026-02-01T00:00:00Z"}});
  auto r = f.call("PATCH", "/api/cards/04aa", json{{"valid_until", "2026-03-01T00:00:00Z"}});
  REQUIRE(r.status == 200);
  json c = json::parse(r.body);
  CHECK(c["uid"] == "04AA");
  CHECK(c["user"] == "li");
  CHECK(c["active"] == true);
  CHECK(c["valid_until"] == "2026-03-01T08:00:00.000+08:00");
  CHECK(f.get("/api/cards")[0] == c);
  r = f.call("PATCH", "/api/cards/04AA", json{{"valid_until", nullptr}});  // a permanent card now
  REQUIRE(r.status == 200);
  CHECK(json::parse(r.body)["valid_until"].is_null());
  CHECK(f.get("/api/cards")[0]["valid_until"].is_null());

  CHECK(f.call("PATCH", "/api/cards/04AA", json::object()).status == 400);
  CHECK(f.call("PATCH", "/api/cards/04AA", json{{"valid_until", "soon"}}).status == 422);
  CHECK(f.call("PATCH", "/api/cards/04AA", json{{"valid_until", "2025-01-01T00:00:00Z"}}).status == 422);  // past
  CHECK(f.call("PATCH", "/api/cards/04AA", json{{"user", "x"}}).status == 400);
  CHECK(f.call("PATCH", "/api/cards/not-a-uid", json{{"valid_until", nullptr}}).status == 422);
  f.ok("POST", "/api/cards/04AA/lost", json(nullptr), 200);
  auto none = f.call("PATCH", "/api/cards/04AA", json{{"valid_until", nullptr}});
  CHECK(none.status == 404);  // no active row: the lost one is history
  const json e = f.audit("&entity=card");
  REQUIRE(e.size() == 4);  // create, two updates, lost
  CHECK(e[1]["before"]["valid_until"] == "2026-02-01T08:00:00.000+08:00");
  CHECK(e[1]["after"]["valid_until"] == "2026-03-01T08:00:00.000+08:00");
}
