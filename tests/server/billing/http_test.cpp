// Fee standard versions through the app (both backends): the golden pricing table through the quote
// route (the server's answer checked against the same table as the pure rules), and a version
// through the whole workflow by the people whose rights each step takes, every step audited, the
// version in force and the history.
#include <doctest/doctest.h>

#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "server/core/app.hpp"
#include "server/identity/auth.hpp"
#include "tests/server/test_support.hpp"

using namespace lg;
using namespace lg::server;
using namespace lg::server::test;
using nlohmann::json;

namespace {

struct FeeFixture {
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
  std::map<std::string, std::string> token;  ///< user -> bearer secret ("admin": the bootstrap token)

  FeeFixture() {
    seed(*store, now);
    token["admin"] = "sekret";
    // ia: inst-xrd's admin; ua: unit u's admin; fin: finance of u; com: the fee committee; stranger: a user.
    for (const char* u : {"ia", "ua", "fin", "com", "stranger"})
      REQUIRE(store->add_user(User{u, u, UserCategory::internal_staff, "u", false}, now));
    grant("ia", "instrument_admin", "inst-xrd");
    grant("ua", "unit_admin", "u");
    grant("fin", "finance", "u");
    grant("com", "fee_committee", "");
    for (const char* u : {"ia", "ua", "fin", "com", "stranger"}) {
      auto t = identity::issue(identity::TokenKind::session, u, "test", {}, now, 90LL * 24 * 3600'000, "");
      REQUIRE(store->stores().identity.add_token(t.token));
      token[u] = t.secret;
    }
  }
  void grant(const std::string& user, const std::string& role, const std::string& scope) {
    json b{{"user", user}, {"role", role}};
    if (!scope.empty()) b["scope_id"] = scope;
    auto r = call("admin", "POST", "/api/roles", b.dump());
    INFO(r.body);
    REQUIRE(r.status == 201);
  }
  http::Response call(const std::string& who, const std::string& method, const std::string& target,
                      const std::string& body = "") {
    return app.handle_http(http::make_request(method, target, "Bearer " + token.at(who), body));
  }
  json ok(const std::string& who, const std::string& method, const std::string& target, const json& body = nullptr,
          int status = 200) {
    auto r = call(who, method, target, body.is_null() ? "" : body.dump());
    INFO(who << " " << method << " " << target << " -> " << r.status << " " << r.body);
    REQUIRE(r.status == status);
    return json::parse(r.body);
  }
};

json golden() {
  std::ifstream in(std::string(LABGATE_SOURCE_DIR) + "/tests/server/billing/golden/pricing_cases.json");
  REQUIRE(in.good());
  std::stringstream ss;
  ss << in.rdbuf();
  return json::parse(ss.str());
}

json compared(const json& price) {
  if (price.contains("error")) return json{{"error", price["error"]}};
  json lines = json::array();
  for (const auto& l : price["lines"]) {
    lines.push_back({{"code", l["code"]},
                     {"quantity", l["quantity"]},
                     {"unit_price_fen", l["unit_price_fen"]},
                     {"amount_fen", l["amount_fen"]}});
  }
  return json{{"lines", lines}, {"total_fen", price["total_fen"]}};
}

std::string ids_of(const json& audit, const std::string& entity) {
  std::string out;
  for (const auto& e : audit)
    if (e["entity"] == entity) out += e["action"].get<std::string>() + " ";
  return out;
}

}  // namespace

TEST_CASE("the golden pricing table through POST /api/fee-versions/{id}/quote") {
  FeeFixture f;
  const json g = golden();
  std::map<std::string, std::string> id_of;
  for (const auto& [name, content] : g["versions"].items()) {
    json v = f.ok("ia", "POST", "/api/instruments/inst-xrd/fee-versions", content, 201);
    CHECK(v["state"] == "draft");
    id_of[name] = v["id"];
    // Stored as given: the content read back prices the same (lines compared by their fields).
    json back = f.ok("ia", "GET", "/api/fee-versions/" + v["id"].get<std::string>());
    CHECK(back["lines"].size() == content["lines"].size());
  }
  int n = 0;
  for (const auto& c : g["cases"]) {
    INFO(c["name"].get<std::string>());
    const json body = c.contains("session") ? c["session"] : c["order"];
    auto r = f.call("ia", "POST", "/api/fee-versions/" + id_of.at(c["version"]) + "/quote", body.dump());
    const bool error = c["expect"].contains("error");
    CHECK(r.status == (error ? 422 : 200));
    const json got = json::parse(r.body);
    CHECK(got["version"] == id_of.at(c["version"]));
    CHECK(compared(got).dump() == c["expect"].dump());
    ++n;
  }
  CHECK(n >= 40);
}

TEST_CASE("a fee standard version from draft to published, each step by its right, every step audited") {
  FeeFixture f;
  const json draft{
      {"note", "new detector: depreciation over 6 years"},
      {"cost",
       {{"energy_fen", 1200000},
        {"consumables_fen", 500000},
        {"maintenance_fen", 3000000},
        {"depreciation_fen", 30000000},
        {"labour_fen", 9000000},
        {"hours_per_year", 1800}}},
      {"lines",
       {{{"code", "h"},
         {"name", "Machine time"},
         {"kind", "hour"},
         {"prices",
          {{"internal", 15000}, {"other_campus", 20000}, {"external_academic", 30000}, {"enterprise", 45000}}},
         {"unit_minutes", 15},
         {"rounding", "up"},
         {"booked", "larger"}}}}};
  // Only the instrument's admins draft (the unit admin holds instrument_write too; finance does not).
  CHECK(f.call("fin", "POST", "/api/instruments/inst-xrd/fee-versions", draft.dump()).status == 403);
  CHECK(f.call("stranger", "POST", "/api/instruments/inst-xrd/fee-versions", draft.dump()).status == 403);
  json bad = draft;
  bad["lines"][0]["rounding"] = "sideways";
  auto r = f.call("ia", "POST", "/api/instruments/inst-xrd/fee-versions", bad.dump());
  CHECK(r.status == 422);
  CHECK(r.body.find("lines[0].rounding") != std::string::npos);
  json v = f.ok("ia", "POST", "/api/instruments/inst-xrd/fee-versions", draft, 201);
  const std::string id = v["id"];
  const std::string at = "/api/fee-versions/" + id;
  CHECK(v["number"] == 2);  // the seeded hourly standard was imported as version 1
  // A draft is not public: a user does not know it exists.
  CHECK(f.call("stranger", "GET", at).status == 404);
  CHECK(f.call("fin", "GET", at).status == 200);  // finance reads money in the unit
  // Edit, then submit.
  json edited = draft;
  edited["lines"][0]["prices"]["internal"] = 14000;
  CHECK(f.ok("ia", "PUT", at, edited)["lines"][0]["prices"]["internal"] == 14000);
  CHECK(f.call("ua", "POST", at + "/approve").status == 409);  // not submitted yet
  CHECK(f.ok("ia", "POST", at + "/submit", json{{"comment", "please review"}})["state"] == "unit_review");
  CHECK(f.call("ia", "PUT", at, edited.dump()).status == 409);  // no longer a draft
  // The unit's review: fee_review (the unit admin). Finance may not take it, nor the drafter.
  r = f.call("fin", "POST", at + "/approve");
  CHECK(r.status == 403);
  CHECK(json::parse(r.body)["rule"] == "approve.unit_reviewer_only");
  CHECK(f.call("ia", "POST", at + "/approve").status == 403);  // no money_read at all: the router refuses
  // A rejection needs its reason, and sends the version back to draft.
  CHECK(f.call("ua", "POST", at + "/reject").status == 422);
  CHECK(f.ok("ua", "POST", at + "/reject", json{{"reason", "labour counted twice"}})["state"] == "draft");
  CHECK(f.ok("ia", "POST", at + "/submit")["state"] == "unit_review");
  CHECK(f.ok("ua", "POST", at + "/approve")["state"] == "finance_review");
  // Finance's review: money_write.
  CHECK(f.call("ua", "POST", at + "/approve").status == 403);
  CHECK(f.ok("fin", "POST", at + "/approve")["state"] == "committee");
  // The committee: fee_approve, with an effective date not in the past.
  CHECK(f.call("fin", "POST", at + "/approve").status == 403);
  r = f.call("com", "POST", at + "/approve", json{{"effective_from", "2026-01-01T00:00:00Z"}}.dump());
  CHECK(r.status == 422);
  CHECK(json::parse(r.body)["rule"] == "approve.effective_from");
  json pub = f.ok("com", "POST", at + "/approve", json{{"effective_from", "2026-02-01T00:00:00+08:00"}});
  CHECK(pub["stored_state"] == "published");
  CHECK(pub["state"] == "scheduled");
  CHECK(f.call("com", "POST", at + "/approve").status == 409);  // published: nothing more to approve
  // Public now; in force from its date, the imported version before it.
  CHECK(f.call("stranger", "GET", at).status == 200);
  json before = f.ok("stranger", "GET", "/api/instruments/inst-xrd/fee-standard");
  CHECK(before["number"] == 1);
  json after = f.ok("stranger", "GET", "/api/instruments/inst-xrd/fee-standard?at=2026-02-01T00:00:00%2B08:00");
  CHECK(after["id"] == id);
  f.now = ms("2026-02-10T00:00:00Z");
  json history = f.ok("stranger", "GET", "/api/instruments/inst-xrd/fee-versions");
  REQUIRE(history.size() == 2);
  CHECK(history[0]["state"] == "superseded");
  CHECK(history[1]["state"] == "published");
  std::string actions;
  for (const auto& s : history[1]["steps"])
    actions += s["action"].get<std::string>() + ":" + s["who"].get<std::string>() + " ";
  CHECK(actions ==
        "create:user:ia edit:user:ia submit:user:ia reject:user:ua submit:user:ia approve:user:ua approve:user:fin "
        "approve:user:com ");
  CHECK(history[0]["steps"][0]["action"] == "imported");
  // Every change audited (the seed went through the stores: not audited).
  json audit = f.ok("admin", "GET", "/api/audit?limit=100");
  CHECK(ids_of(audit, "fee_version") == "approve approve approve submit reject submit edit create ");
  // A quote under the published version; a withdrawn draft.
  json q =
      f.ok("stranger", "POST", at + "/quote",
           json{{"category", "internal_staff"}, {"start", "2026-02-10T02:00:00Z"}, {"end", "2026-02-10T02:47:00Z"}});
  CHECK(q["total_fen"] == 14000);  // 47 min -> 60 min at 14000/h
  json w = f.ok("ia", "POST", "/api/instruments/inst-xrd/fee-versions", draft, 201);
  CHECK(f.ok("ia", "POST", "/api/fee-versions/" + w["id"].get<std::string>() + "/withdraw")["state"] == "withdrawn");
  CHECK(f.call("ia", "POST", "/api/fee-versions/" + w["id"].get<std::string>() + "/submit").status == 409);
}

TEST_CASE("the hourly import is a system admin's and publishes a version marked imported") {
  FeeFixture f;
  const json body{{"instrument", "inst-xrd"}, {"internal_fen_per_hour", 20000}, {"external_fen_per_hour", 40000}};
  CHECK(f.call("fin", "POST", "/api/fee-standards", body.dump()).status == 403);
  f.ok("admin", "POST", "/api/fee-standards", body, 201);
  json now = f.ok("stranger", "GET", "/api/instruments/inst-xrd/fee-standard");
  CHECK(now["number"] == 2);
  CHECK(now["lines"][0]["prices"]["internal"] == 20000);
  CHECK(now["lines"][0]["prices"]["enterprise"] == 40000);
  CHECK(now["lines"][0]["rounding"] == "exact");
  json all = f.ok("admin", "GET", "/api/instruments/inst-xrd/fee-versions");
  CHECK(all[1]["steps"][0]["action"] == "imported");
  CHECK(all[1]["steps"][0]["who"] == "admin-token");
  // Retired: nothing in force.
  f.now += 1000;
  f.ok("admin", "DELETE", "/api/fee-standards/inst-xrd");
  CHECK(f.call("stranger", "GET", "/api/instruments/inst-xrd/fee-standard").status == 404);
}
