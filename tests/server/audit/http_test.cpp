// The audit routes through the app (both backends): audited writes leave one entry each with the
// request's id and source, a refused write leaves none, GET /api/audit filters, and
// GET /api/audit/verify reports the chain.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "server/core/app.hpp"
#include "tests/server/test_support.hpp"

using namespace lg;
using namespace lg::server;
using namespace lg::server::test;
using nlohmann::json;

namespace {

struct AuditFixture {
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

  http::Response call(const std::string& method, const std::string& target, const std::string& body = "") {
    auto req = http::make_request(method, target, "Bearer sekret", body);
    req.remote = "192.0.2.7";
    return app.handle_http(req);
  }
  json get(const std::string& target) {
    auto r = call("GET", target);
    REQUIRE(r.status == 200);
    return json::parse(r.body);
  }
  static std::string header(const http::Response& r, const std::string& name) {
    for (const auto& [k, v] : r.headers) {
      if (k == name) return v;
    }
    return "";
  }
};

}  // namespace

TEST_CASE("audit routes: audited writes append entries with request id and source, verify holds") {
  AuditFixture f;
  seed(*f.store);  // through the stores: not audited
  CHECK(f.get("/api/audit/verify") == json{{"ok", true}, {"entries", 0}});

  auto fee = f.call("POST", "/api/fee-standards",
                    R"({"instrument":"inst-xrd","internal_fen_per_hour":15000,"external_fen_per_hour":30000})");
  REQUIRE(fee.status == 201);
  const std::string fee_req = AuditFixture::header(fee, "X-Request-Id");
  CHECK(fee_req.size() == 36);
  REQUIRE(f.call("POST", "/api/qualifications", R"({"user":"alice","instrument":"inst-xrd"})").status == 201);
  auto b = f.call("POST", "/api/bookings",
                  R"({"instrument":"inst-xrd","user":"alice","start":"2026-02-01T01:00:00Z","end":"2026-02-01T02:00:00Z"})");
  REQUIRE(b.status == 201);
  // refused writes append nothing: an overlap, an unknown instrument
  CHECK(f.call("POST", "/api/bookings",
               R"({"instrument":"inst-xrd","user":"alice","start":"2026-02-01T01:30:00Z","end":"2026-02-01T03:00:00Z"})")
            .status == 409);
  CHECK(f.call("POST", "/api/fee-standards",
               R"({"instrument":"nope","internal_fen_per_hour":1,"external_fen_per_hour":1})")
            .status == 422);

  const json all = f.get("/api/audit");
  REQUIRE(all.size() == 3);
  CHECK(all[0]["seq"] == 3);
  CHECK(all[0]["entity"] == "booking");
  CHECK(all[0]["entity_id"] == json::parse(b.body)["id"]);
  CHECK(all[0]["after"]["user"] == "alice");
  CHECK(all[1]["entity"] == "qualification");
  CHECK(all[1]["entity_id"] == "alice/inst-xrd");
  CHECK(all[1]["action"] == "create");
  CHECK(all[1]["before"].is_null());
  CHECK(all[2]["entity"] == "fee_standard");
  CHECK(all[2]["action"] == "update");
  CHECK(all[2]["before"]["internal_fen_per_hour"] == 12000);
  CHECK(all[2]["after"]["internal_fen_per_hour"] == 15000);
  CHECK(all[2]["request_id"] == fee_req);
  CHECK(all[2]["source"] == "192.0.2.7");
  CHECK(all[2]["actor"] == "admin-token");

  CHECK(f.get("/api/audit?entity=booking").size() == 1);
  CHECK(f.get("/api/audit?actor=admin-token").size() == 3);
  CHECK(f.get("/api/audit?actor=system:x").empty());
  CHECK(f.get("/api/audit?from=2026-01-15T00:00:00Z&to=2026-01-16T00:00:00Z").size() == 3);
  CHECK(f.get("/api/audit?to=2026-01-15T00:00:00Z").empty());
  CHECK(f.get("/api/audit?from=" + std::to_string(f.now + 1)).empty());
  CHECK(f.call("GET", "/api/audit?from=yesterday").status == 422);
  const json page = f.get("/api/audit?limit=1");
  CHECK(page.size() == 1);

  CHECK(f.get("/api/audit/verify") == json{{"ok", true}, {"entries", 3}});
  CHECK(f.app.handle_http(http::make_request("GET", "/api/audit", "", "")).status == 401);
}
