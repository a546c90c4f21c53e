// The sample-order routes through the API with people signed in, on both backends: an order
// through every state, who may do each step (403 naming the rule, 404 for those who may not
// know of it), refusals and cancellations per state, attachments (size limit 413, allow-list and
// sniffing 415, stored under the data dir with generated names, downloaded with their type and
// Content-Disposition), the history and the audit entries every change leaves.
#include <doctest/doctest.h>

#include <array>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "server/core/app.hpp"
#include "server/transport/http/api.hpp"
#include "tests/server/test_support.hpp"

using namespace lg;
using namespace lg::server;
using namespace lg::server::test;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr const char* kBoot = "bootstrap-token-0123";
constexpr int64_t kLimit = 1000;  // [orders] attachment_limit of these tests

/// Unit chem with instruments inst-c (terminal t1) and inst-d (terminal t2); alice and carol
/// (plain users), ia the instrument admin of inst-c, da the instrument admin of inst-d.
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
    c.orders_attachment_limit = kLimit;
    c.admin_token = kBoot;
    c.auth.password_t_cost = 1;
    c.auth.password_m_cost_kib = 64;
    return c;
  }();
  App app{store->stores(), server_key, cfg, pub, [this] { return now; }, "0.1.0"};
  crypto::PrivateKey terminal_key = new_key();
  std::map<std::string, std::string> tokens;

  http::Response call(const std::string& method, const std::string& target, const json& body = nullptr,
                      const std::string& bearer = kBoot) {
    return app.handle_http(http::make_request(method, target, bearer.empty() ? "" : "Bearer " + bearer,
                                              body.is_null() ? "" : body.dump()));
  }
  http::Response upload(const std::string& order, const std::string& bearer, const std::string& type,
                        const std::string& bytes, const std::string& query) {
    auto req = http::make_request("POST", "/api/orders/" + order + "/attachments?" + query, "Bearer " + bearer, bytes);
    req.content_type = type;
    return app.handle_http(req);
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
  const std::string& as(const std::string& user) {
    if (!tokens.count(user)) tokens[user] = login(user);
    return tokens[user];
  }
  Site() {
    app.health().broker(true);
    ok("POST", "/api/units", {{"id", "chem"}, {"name", "化学院"}});
    ok("POST", "/api/labs", {{"id", "lab-c"}, {"name", "Lab C"}, {"unit", "chem"}});
    ok("POST", "/api/instruments", {{"id", "inst-c"}, {"name", "XRD"}, {"lab", "lab-c"}, {"kind", "instrument"}});
    ok("POST", "/api/instruments", {{"id", "inst-d"}, {"name", "NMR"}, {"lab", "lab-c"}, {"kind", "instrument"}});
    for (const char* id : {"alice", "carol", "ia", "da"}) {
      ok("POST", "/api/users", {{"id", id}, {"name", id}, {"unit", "chem"}, {"category", "internal_staff"}});
      ok("PUT", "/api/users/" + std::string(id) + "/password", {{"password", std::string(id) + " password"}});
    }
    ok("POST", "/api/cards", {{"uid", "04AA"}, {"user", "alice"}});
    ok("POST", "/api/roles", {{"user", "ia"}, {"role", "instrument_admin"}, {"scope_id", "inst-c"}});
    ok("POST", "/api/roles", {{"user", "da"}, {"role", "instrument_admin"}, {"scope_id", "inst-d"}});
    ok("POST", "/api/terminals", {{"id", "t1"}, {"resource", "inst-c"}, {"public_key", terminal_key.public_pem()}});
    ok("POST", "/api/terminals", {{"id", "t2"}, {"resource", "inst-d"}, {"public_key", terminal_key.public_pem()}});
  }
  /// A usage session as the terminal of `resource` reports it (through the ingest unit of work).
  void session(const std::string& terminal, const std::string& id, const std::string& resource, uint64_t seq) {
    auto r = store->commit_batch(
        batch(terminal, {session_start(seq, "rec-" + id, id, "04AA", "ia", now - 60'000, resource)}), now, "CNY");
    REQUIRE_MESSAGE(r, (r ? "" : r.error().message()));
  }
  /// alice's order on instrument; its id.
  std::string submit(const std::string& instrument = "inst-c") {
    auto r = call("POST", "/api/orders", order_body(instrument), as("alice"));
    INFO(r.body);
    REQUIRE(r.status == 201);
    return json::parse(r.body)["id"];
  }
  json get(const std::string& id, const std::string& bearer = kBoot) {
    auto r = call("GET", "/api/orders/" + id, nullptr, bearer);
    INFO(r.body);
    REQUIRE(r.status == 200);
    return json::parse(r.body);
  }
  /// POST /api/orders/{id}/<step> as user, expecting status.
  json step(const std::string& id, const std::string& what, const std::string& user, int status,
            const json& body = nullptr) {
    auto r = call("POST", "/api/orders/" + id + "/" + what, body, user == "boot" ? std::string(kBoot) : as(user));
    INFO(user << " " << what << " -> " << r.status << " " << r.body);
    CHECK(r.status == status);
    return json::parse(r.body);
  }
  /// Files kept under the data dir's attachments.
  int files() {
    int n = 0;
    const fs::path root = cfg.data_dir / "attachments";
    if (!fs::exists(root)) return 0;
    for (const auto& e : fs::recursive_directory_iterator(root)) n += e.is_regular_file() ? 1 : 0;
    return n;
  }
  static json order_body(const std::string& instrument) {
    return json{{"instrument", instrument},
                {"samples", {{"count", 2}, {"names", {"S1", "样品二"}}, {"form", "powder"}, {"hazards", "none known"}}},
                {"tests", "powder XRD 10-80 deg"},
                {"parameters", {{"step", "0.02"}, {"anode", "Cu"}}},
                {"delivery", "internal_mail"},
                {"account", "acct-alice"},
                {"fee_lines", {{{"code", "xrd-sample"}, {"quantity", 2}}}}};
  }
};

std::string header(const http::Response& r, const std::string& name) {
  for (const auto& [k, v] : r.headers)
    if (k == name) return v;
  return "";
}

}  // namespace

TEST_CASE("orders http: an order goes through every state, each step by whom it belongs to") {
  Site s;
  const std::string id = s.submit();
  json o = s.get(id, s.as("alice"));
  CHECK(o["state"] == "submitted");
  CHECK(o["user"] == "alice");
  CHECK(o["samples"]["count"] == 2);
  CHECK(o["samples"]["names"] == json({"S1", "样品二"}));
  CHECK(o["samples"]["form"] == "powder");
  CHECK(o["parameters"]["anode"] == "Cu");
  CHECK(o["delivery"] == "internal_mail");
  CHECK(o["account"] == "acct-alice");
  CHECK(o["fee_lines"] == json::parse(R"([{"code":"xrd-sample","quantity":2}])"));
  CHECK(o["session"].is_null());

  // Who sees it: the owner and the instrument's admin; not another user, not another instrument's admin.
  CHECK(s.call("GET", "/api/orders/" + id, nullptr, s.as("carol")).status == 404);
  CHECK(s.call("GET", "/api/orders/" + id, nullptr, s.as("da")).status == 404);
  CHECK(s.call("GET", "/api/orders/" + id, nullptr, s.as("ia")).status == 200);
  auto carol_list = s.call("GET", "/api/orders", nullptr, s.as("carol"));
  REQUIRE(carol_list.status == 200);
  CHECK(json::parse(carol_list.body).empty());
  auto ia_list = s.call("GET", "/api/orders?instrument=inst-c&state=submitted", nullptr, s.as("ia"));
  REQUIRE(ia_list.status == 200);
  REQUIRE(json::parse(ia_list.body).size() == 1);

  // The owner may not accept; the admin does.
  s.step(id, "accept", "alice", 403);  // the router: alice holds Right::instrument_write nowhere
  auto j = s.step(id, "accept", "ia", 200);
  s.step(id, "accept", "ia", 409);  // once
  // The owner adds a description of the samples.
  auto spec = s.upload(id, s.as("alice"), "application/pdf", "%PDF-1.4 sample sheet", "name=sheet.pdf");
  INFO(spec.body);
  REQUIRE(spec.status == 201);
  CHECK(json::parse(spec.body)["result"] == false);
  CHECK(json::parse(spec.body)["state"] == "accepted");
  s.step(id, "receive", "ia", 200);
  // The session: unknown, on another instrument, then the operator's own on inst-c.
  s.session("t1", "sess-c", "inst-c", 1);
  s.session("t2", "sess-d", "inst-d", 1);
  CHECK(s.step(id, "session", "ia", 422, {{"session", "sess-x"}})["rule"] == "start_testing.session_known");
  CHECK(s.step(id, "session", "ia", 422, {{"session", "sess-d"}})["rule"] == "start_testing.same_instrument");
  CHECK(s.step(id, "session", "ia", 400)["error"] == "missing field: session");
  j = s.step(id, "session", "ia", 200, {{"session", "sess-c"}});
  CHECK(j["state"] == "in_testing");
  CHECK(j["session"] == "sess-c");
  // Results: not by the owner; by the admin, which moves the order.
  auto mine = s.upload(id, s.as("alice"), "text/csv", "peak,2theta\n1,28.4\n", "name=mine.csv&result=true");
  CHECK(mine.status == 403);
  auto res = s.upload(id, s.as("ia"), "text/csv", "peak,2theta\n1,28.4\n", "name=peaks.csv&result=true");
  INFO(res.body);
  REQUIRE(res.status == 201);
  CHECK(json::parse(res.body)["state"] == "results_uploaded");
  const std::string result_id = json::parse(res.body)["id"];
  s.step(id, "confirm", "alice", 409);  // not completed yet
  s.step(id, "complete", "alice", 403);
  s.step(id, "complete", "ia", 200);
  CHECK(s.step(id, "cancel", "alice", 409, {{"reason", "too late"}})["rule"] == "cancel.not_after_testing");
  s.step(id, "confirm", "ia", 403);
  j = s.step(id, "confirm", "alice", 200);
  CHECK(j["state"] == "confirmed");

  // The history: every change, from -> to, by whom.
  o = s.get(id);
  CHECK(o["state"] == "confirmed");
  CHECK(o["session"] == "sess-c");
  const json& ev = o["events"];
  REQUIRE(ev.size() == 7);
  const std::vector<std::array<const char*, 4>> want{{"", "submitted", "submit", "user:alice"},
                                                     {"submitted", "accepted", "accept", "user:ia"},
                                                     {"accepted", "samples_received", "receive", "user:ia"},
                                                     {"samples_received", "in_testing", "start_testing", "user:ia"},
                                                     {"in_testing", "results_uploaded", "upload_result", "user:ia"},
                                                     {"results_uploaded", "completed", "complete", "user:ia"},
                                                     {"completed", "confirmed", "confirm", "user:alice"}};
  for (std::size_t i = 0; i < want.size(); ++i) {
    INFO(ev[i].dump());
    CHECK(ev[i]["seq"] == i + 1);
    if (i == 0) CHECK(ev[i]["from"].is_null());
    else CHECK(ev[i]["from"] == want[i][0]);
    CHECK(ev[i]["to"] == want[i][1]);
    CHECK(ev[i]["action"] == want[i][2]);
    CHECK(ev[i]["actor"].get<std::string>().rfind(want[i][3], 0) == 0);
  }
  REQUIRE(o["attachments"].size() == 2);
  CHECK(o["attachments"][1]["id"] == result_id);
  CHECK(o["attachments"][1]["result"] == true);

  // Every change is in the audit log: 7 order changes and 2 attachments.
  auto audit = s.call("GET", "/api/audit?entity=order&limit=100");
  REQUIRE(audit.status == 200);
  CHECK(json::parse(audit.body).size() == 6);  // submit .. confirm without the result (an attachment entry)
  auto att_audit = s.call("GET", "/api/audit?entity=order_attachment&limit=100");
  REQUIRE(att_audit.status == 200);
  CHECK(json::parse(att_audit.body).size() == 2);

  // The result downloads with its recorded type, as an attachment, to the owner.
  auto dl = s.call("GET", "/api/orders/" + id + "/attachments/" + result_id, nullptr, s.as("alice"));
  REQUIRE(dl.status == 200);
  CHECK(dl.body == "peak,2theta\n1,28.4\n");
  CHECK(header(dl, "Content-Type") == "text/csv");
  CHECK(header(dl, "Content-Disposition") == "attachment; filename=\"peaks.csv\"; filename*=UTF-8''peaks.csv");
  CHECK(s.call("GET", "/api/orders/" + id + "/attachments/" + result_id, nullptr, s.as("carol")).status == 404);
  // The owner heard of each state, in order (one notice per change, in its unit of work).
  auto notices = s.call("GET", "/api/notices?user=alice&limit=100");
  REQUIRE(notices.status == 200);
  std::vector<std::string> states;
  for (const auto& n : json::parse(notices.body))
    if (n["kind"] == "order_state") states.push_back(n["body"].get<std::string>());
  CHECK(states.size() == 7);  // submitted .. confirmed
  bool said_confirmed = false;
  for (const auto& b : states) said_confirmed = said_confirmed || b.find("confirmed") != std::string::npos;
  CHECK(said_confirmed);
}

TEST_CASE("orders http: refusal and cancellation per state") {
  Site s;
  const std::string a = s.submit();
  CHECK(s.step(a, "refuse", "ia", 422)["rule"] == "refuse.reason_required");
  auto j = s.step(a, "refuse", "ia", 200, {{"reason", "we do not measure liquids"}});
  CHECK(j["state"] == "refused");
  CHECK(j["reason"] == "we do not measure liquids");
  s.step(a, "cancel", "alice", 409);
  s.step(a, "accept", "ia", 409);

  // The owner cancels while submitted or accepted.
  const std::string b = s.submit();
  s.step(b, "cancel", "alice", 200);
  const std::string c = s.submit();
  s.step(c, "accept", "ia", 200);
  s.step(c, "cancel", "carol", 404);  // may not know of it
  j = s.step(c, "cancel", "alice", 200, {{"reason", "sent elsewhere"}});
  CHECK(j["state"] == "cancelled");
  CHECK(j["reason"] == "sent elsewhere");
  // Once the samples are in, only the admin, with a reason.
  const std::string d = s.submit();
  s.step(d, "accept", "ia", 200);
  s.step(d, "receive", "ia", 200);
  CHECK(s.step(d, "cancel", "alice", 409)["rule"] == "cancel.owner_until_accepted");
  CHECK(s.step(d, "cancel", "ia", 422)["rule"] == "cancel.admin_reason_required");
  s.step(d, "cancel", "ia", 200, {{"reason", "tube broken"}});
  CHECK(s.get(d)["events"].back()["reason"] == "tube broken");
  // Unknown orders and bodies.
  s.step("no-such", "accept", "ia", 404);
  s.step("..", "cancel", "alice", 404);
  s.step(a, "cancel", "alice", 400, {{"why", "x"}});
}

TEST_CASE("orders http: submitting: fields, the bootstrap token, an unknown instrument") {
  Site s;
  json body = Site::order_body("inst-c");
  auto r = s.call("POST", "/api/orders", body);  // the bootstrap token is nobody: name the user
  CHECK(r.status == 422);
  body["user"] = "carol";
  r = s.call("POST", "/api/orders", body);
  INFO(r.body);
  CHECK(r.status == 201);
  CHECK(json::parse(r.body)["user"] == "carol");
  // A user submits for themself only.
  r = s.call("POST", "/api/orders", body, s.as("alice"));
  CHECK(r.status == 403);
  // Every signed-in person is a user of their own: the instrument admin submits for themself.
  r = s.call("POST", "/api/orders", Site::order_body("inst-d"), s.as("ia"));
  CHECK(r.status == 201);
  CHECK(json::parse(r.body)["user"] == "ia");
  auto bad = [&](const json& b, int status) {
    auto x = s.call("POST", "/api/orders", b, s.as("alice"));
    INFO(x.body);
    CHECK(x.status == status);
  };
  json b = Site::order_body("inst-c");
  b.erase("samples");
  bad(b, 400);
  b = Site::order_body("inst-c");
  b["delivery"] = "drone";
  bad(b, 422);
  b = Site::order_body("inst-c");
  b["samples"]["count"] = 1;  // two names
  bad(b, 422);
  b = Site::order_body("inst-c");
  b["fee_lines"][0]["quantity"] = 0;
  bad(b, 422);
  b = Site::order_body("inst-c");
  b["parameters"]["bad key"] = "x";
  bad(b, 422);
  b = Site::order_body("inst-c");
  b["tests"] = "line\x1b";
  bad(b, 422);
  b = Site::order_body("no-such");
  bad(b, 422);
  b = Site::order_body("inst-c");
  b["colour"] = "red";
  bad(b, 400);
  auto list = s.call("GET", "/api/orders?state=nonsense");
  CHECK(list.status == 422);
}

TEST_CASE("orders http: attachments are checked, kept under the data dir, and a refused one leaves no file") {
  Site s;
  const std::string id = s.submit();
  const std::string& alice = s.as("alice");
  // Too big: 413, nothing kept.
  auto r = s.upload(id, alice, "text/plain", std::string(kLimit + 1, 'a'), "name=big.txt");
  CHECK(r.status == 413);
  CHECK(s.upload(id, alice, "text/plain", std::string(kLimit, 'a'), "name=exact.txt").status == 201);
  // Types: not allowed, none, content that is not what it says.
  CHECK(s.upload(id, alice, "text/html", "<p>x</p>", "name=x.html").status == 415);
  CHECK(s.upload(id, alice, "", "abc", "name=x.txt").status == 415);
  r = s.upload(id, alice, "image/png", std::string("MZ\x90\0\x03", 5), "name=x.png");
  CHECK(r.status == 415);
  CHECK(s.upload(id, alice, "text/plain", "abc", "").status == 422);
  CHECK(s.upload(id, alice, "text/plain", "abc", "name=x.txt&result=maybe").status == 422);
  // Someone who may not know of the order, and an unknown order.
  CHECK(s.upload(id, s.as("carol"), "text/plain", "abc", "name=x.txt").status == 404);
  CHECK(s.upload("no-such", alice, "text/plain", "abc", "name=x.txt").status == 404);
  CHECK(s.upload("..", alice, "text/plain", "abc", "name=x.txt").status == 404);
  CHECK(s.files() == 1);
  // A client's path in the name is not a path: the file gets a generated name, the name is shown only.
  r = s.upload(id, alice, "image/png", std::string("\x89PNG\r\n\x1a\n....", 12), "name=../../etc/passwd.png");
  REQUIRE(r.status == 201);
  const json att = json::parse(r.body);
  CHECK(att["name"] == "passwd.png");
  CHECK(att["content_type"] == "image/png");
  CHECK(att["size"] == 12);
  const fs::path stored = s.cfg.data_dir / "attachments" / id / att["id"].get<std::string>();
  CHECK(fs::is_regular_file(stored));
  CHECK((fs::status(stored).permissions() & (fs::perms::group_all | fs::perms::others_all)) == fs::perms::none);
  CHECK((fs::status(stored.parent_path()).permissions() & (fs::perms::group_all | fs::perms::others_all)) ==
        fs::perms::none);
  CHECK(s.files() == 2);
  auto dl = s.call("GET", "/api/orders/" + id + "/attachments/" + att["id"].get<std::string>(), nullptr, s.as("ia"));
  REQUIRE(dl.status == 200);
  CHECK(dl.body == std::string("\x89PNG\r\n\x1a\n....", 12));
  CHECK(header(dl, "Content-Type") == "image/png");
  CHECK(header(dl, "Content-Disposition").rfind("attachment; ", 0) == 0);
  // Names that are not attachments of this order.
  CHECK(s.call("GET", "/api/orders/" + id + "/attachments/..", nullptr, alice).status == 404);
  CHECK(s.call("GET", "/api/orders/" + id + "/attachments/no-such", nullptr, alice).status == 404);
  const std::string other = s.submit();
  CHECK(s.call("GET", "/api/orders/" + other + "/attachments/" + att["id"].get<std::string>(), nullptr, alice).status ==
        404);
  // A UTF-8 name is kept, with an ASCII fallback in the header.
  r = s.upload(id, alice, "application/pdf", "%PDF-1.4", "name=%E8%B0%B1%E5%9B%BE.pdf");
  REQUIRE(r.status == 201);
  dl = s.call("GET", "/api/orders/" + id + "/attachments/" + json::parse(r.body)["id"].get<std::string>(), nullptr, alice);
  CHECK(header(dl, "Content-Disposition") ==
        "attachment; filename=\"______.pdf\"; filename*=UTF-8''%E8%B0%B1%E5%9B%BE.pdf");
  // A refused upload by state leaves no file: a cancelled order takes none.
  s.step(id, "cancel", "alice", 200);
  const int before = s.files();
  r = s.upload(id, alice, "text/plain", "late", "name=late.txt");
  CHECK(r.status == 409);
  CHECK(json::parse(r.body)["rule"] == "attach.open_orders");
  CHECK(s.files() == before);
  // Nothing outside the attachments folder was written.
  for (const auto& e : fs::recursive_directory_iterator(s.cfg.data_dir))
    if (e.is_regular_file()) CHECK(e.path().string().rfind((s.cfg.data_dir / "attachments").string(), 0) == 0);
}

TEST_CASE("orders http: without a data dir attachments are refused (503), orders still work") {
  Site s;
  ServerConfig c = s.cfg;
  c.data_dir.clear();
  App bare{s.store->stores(), s.server_key, c, s.pub, [&] { return s.now; }, "0.1.0"};
  json body = Site::order_body("inst-c");
  body["user"] = "alice";
  auto r = bare.handle_http(http::make_request("POST", "/api/orders", std::string("Bearer ") + kBoot, body.dump()));
  REQUIRE(r.status == 201);
  const std::string id = json::parse(r.body)["id"];
  auto req = http::make_request("POST", "/api/orders/" + id + "/attachments?name=a.txt", std::string("Bearer ") + kBoot, "abc");
  req.content_type = "text/plain";
  CHECK(bare.handle_http(req).status == 503);
}
