// The remote-command routes (server/sync/http.cpp): POST /api/terminals/{id}/commands sends a
// signed command (audited, as revoking a terminal is: instrument_write on the terminal's
// instrument), GET /api/terminals/{id}/commands/last shows the terminal's last answer.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "server/core/app.hpp"
#include "server/identity/auth.hpp"
#include "tests/server/test_support.hpp"

using namespace lg;
using namespace lg::server;
using namespace lg::server::test;
using nlohmann::json;

namespace {

constexpr const char* kAdmin = "bootstrap-token-0123";

/// Two instruments in two units with a terminal each (t-c on inst-c, t-p on inst-p); ia is the
/// instrument admin of inst-c, stu a user without a role.
struct Site {
  TempDir dir;
  std::unique_ptr<TestStore> store = open_store(dir);
  crypto::PrivateKey server_key = new_key();
  crypto::PrivateKey term_key = new_key();
  RecordingPublisher pub;
  int64_t now = ms("2026-01-15T00:00:00Z");
  ServerConfig cfg = [] {
    ServerConfig c;
    c.site = "demo";
    c.admin_token = kAdmin;
    c.auth.password_t_cost = 1;
    c.auth.password_m_cost_kib = 64;
    return c;
  }();
  App app{store->stores(), server_key, cfg, pub, [this] { return now; }, "0.1.0"};
  std::map<std::string, std::string> token;  ///< user -> session secret

  http::Response call(const std::string& method, const std::string& target, const std::string& body = "",
                      const std::string& bearer = kAdmin) {
    return app.handle_http(http::make_request(method, target, bearer.empty() ? "" : "Bearer " + bearer, body));
  }
  void boot(const std::string& target, const json& body) {
    auto r = call("POST", target, body.dump());
    INFO(target << " " << r.body);
    REQUIRE(r.status / 100 == 2);
  }
  std::string error_of(const http::Response& r) { return json::parse(r.body).at("error").get<std::string>(); }
  std::vector<RecordingPublisher::Msg> commands_sent() {
    std::vector<RecordingPublisher::Msg> out;
    for (const auto& m : pub.sent)
      if (m.topic.size() > 4 && m.topic.substr(m.topic.size() - 4) == "/cmd") out.push_back(m);
    return out;
  }
  /// Audit entries about terminals whose action is "command".
  json command_audit() {
    auto r = call("GET", "/api/audit?entity=terminal&limit=1000");
    REQUIRE(r.status == 200);
    json out = json::array();
    for (auto& e : json::parse(r.body))
      if (e["action"] == "command") out.push_back(e);
    return out;
  }

  Site() {
    app.health().broker(true);
    boot("/api/units", {{"id", "chem"}, {"name", "Chemistry"}});
    boot("/api/units", {{"id", "phys"}, {"name", "Physics"}});
    boot("/api/labs", {{"id", "lab-c"}, {"name", "Lab C"}, {"unit", "chem"}});
    boot("/api/labs", {{"id", "lab-p"}, {"name", "Lab P"}, {"unit", "phys"}});
    boot("/api/instruments", {{"id", "inst-c"}, {"name", "C"}, {"lab", "lab-c"}, {"kind", "instrument"}});
    boot("/api/instruments", {{"id", "inst-p"}, {"name", "P"}, {"lab", "lab-p"}, {"kind", "instrument"}});
    boot("/api/terminals", {{"id", "t-c"}, {"resource", "inst-c"}, {"public_key", term_key.public_pem()}});
    boot("/api/terminals", {{"id", "t-p"}, {"resource", "inst-p"}, {"public_key", term_key.public_pem()}});
    for (const char* u : {"ia", "stu"})
      boot("/api/users", {{"id", u}, {"name", u}, {"unit", "chem"}, {"category", "internal_staff"}});
    boot("/api/roles", {{"user", "ia"}, {"role", "instrument_admin"}, {"scope_id", "inst-c"}});
    for (const char* u : {"ia", "stu"}) {
      auto t = identity::issue(identity::TokenKind::session, u, "test", {}, now, 3600'000, "");
      REQUIRE(store->stores().identity.add_token(t.token));
      token[u] = t.secret;
    }
    app.flush_dirty();
    pub.sent.clear();
  }
};

}  // namespace

TEST_CASE("POST /api/terminals/{id}/commands sends a signed resync (202), audited, and GET .../last shows the answer") {
  Site s;
  auto none = s.call("GET", "/api/terminals/t-c/commands/last");
  CHECK(none.status == 404);
  CHECK(s.error_of(none).find("t-c") != std::string::npos);

  auto r = s.call("POST", "/api/terminals/t-c/commands", R"({"kind":"resync","ttl_s":120,"args":{"why":"test"}})");
  INFO(r.body);
  REQUIRE(r.status == 202);
  const json c = json::parse(r.body);
  CHECK(c["kind"] == "resync");
  CHECK(c["terminal"] == "t-c");
  CHECK(c["expires"] == "2026-01-15T08:02:00.000+08:00");  // issued now + 120 s, in the site zone
  CHECK(c["args"]["why"] == "test");
  auto sent = s.commands_sent();
  REQUIRE(sent.size() == 1);
  CHECK(sent[0].topic == "lg/v1/demo/t-c/cmd");
  auto cmd = proto::decode_command(proto::open(sent[0].payload)->body);
  REQUIRE(cmd);
  CHECK(cmd->id == c["id"]);
  // Audited: who sent which command to which terminal.
  auto audit = s.command_audit();
  REQUIRE(audit.size() == 1);
  CHECK(audit[0]["entity_id"] == "t-c");
  CHECK(audit[0]["actor"] == "admin-token");
  CHECK(audit[0]["after"]["id"] == c["id"]);
  CHECK(audit[0]["after"]["kind"] == "resync");
  // The sync strand publishes the terminal's bundle again after the command.
  CHECK(s.app.flush_dirty() == 1);
  CHECK(s.pub.on("lg/v1/demo/t-c/sync").size() == 1);

  // The terminal's answer arrives on cmdres.
  auto link = proto::link_keys(s.term_key, s.server_key.public_key(), "demo", "t-c");
  REQUIRE(link);
  proto::CommandResult done{"t-c", cmd->id, proto::CommandOutcome::done, "", s.now + 1000};
  s.app.on_mqtt_message("lg/v1/demo/t-c/cmdres", proto::seal_mac(proto::encode(done), "t-c", link->up));
  auto last = s.call("GET", "/api/terminals/t-c/commands/last");
  INFO(last.body);
  REQUIRE(last.status == 200);
  const json a = json::parse(last.body);
  CHECK(a["id"] == c["id"]);
  CHECK(a["kind"] == "resync");
  CHECK(a["outcome"] == "done");
  CHECK(a["ts"] == "2026-01-15T08:00:01.000+08:00");
  CHECK(s.call("GET", "/api/terminals/t-p/commands/last").status == 404);  // answers are per terminal
  // The default lifetime is 5 minutes.
  auto d = s.call("POST", "/api/terminals/t-c/commands", R"({"kind":"unlock"})");
  REQUIRE(d.status == 202);
  CHECK(json::parse(d.body)["expires"] == "2026-01-15T08:05:00.000+08:00");
}

TEST_CASE("bad kind, ttl or args, and unknown or revoked terminals get a clear 4xx, and nothing is sent or audited") {
  Site s;
  REQUIRE(s.store->stores().terminals.revoke("t-p", "stolen", s.now));
  struct Case {
    std::string target, body;
    int status;
    std::string says;
  };
  const std::vector<Case> cases{
      {"/api/terminals/t-c/commands", R"({})", 400, "missing field: kind"},
      {"/api/terminals/t-c/commands", R"({"kind":"reboot"})", 422, "kind: must be unlock|lock|resync|video"},
      {"/api/terminals/t-c/commands", R"({"kind":7})", 422, "kind"},
      {"/api/terminals/t-c/commands", R"({"kind":"resync","ttl_s":0})", 422, "ttl_s: must be in 1..86400"},
      {"/api/terminals/t-c/commands", R"({"kind":"resync","ttl_s":86401})", 422, "ttl_s: must be in 1..86400"},
      {"/api/terminals/t-c/commands", R"({"kind":"resync","ttl_s":1.5})", 422, "ttl_s: must be an integer"},
      {"/api/terminals/t-c/commands", R"({"kind":"resync","args":[1]})", 422, "args: must be an object"},
      {"/api/terminals/t-c/commands", R"({"kind":"resync","args":{"a":1}})", 422, "args: every value must be a string"},
      {"/api/terminals/t-c/commands", R"({"kind":"resync","args":{"a":"x\u0001"}})", 422, "args.a"},
      {"/api/terminals/t-c/commands", R"({"kind":"resync","later":true})", 400, "unknown field: later"},
      {"/api/terminals/t-c/commands", "not json", 400, ""},
      {"/api/terminals/t-nobody/commands", R"({"kind":"resync"})", 404, "no terminal 't-nobody'"},
      {"/api/terminals/t-p/commands", R"({"kind":"resync"})", 409, "revoked"},
  };
  for (const auto& c : cases) {
    auto r = s.call("POST", c.target, c.body);
    INFO(c.target << " " << c.body << " -> " << r.status << " " << r.body);
    CHECK(r.status == c.status);
    CHECK(s.error_of(r).find(c.says) != std::string::npos);
  }
  std::string many = R"({"kind":"resync","args":{)";
  for (int i = 0; i <= static_cast<int>(proto::kMaxCommandArgs); ++i)
    many += (i ? "," : "") + std::string("\"k") + std::to_string(i) + "\":\"v\"";
  many += "}}";
  auto r = s.call("POST", "/api/terminals/t-c/commands", many);
  CHECK(r.status == 422);
  CHECK(s.error_of(r).find("at most 16 entries") != std::string::npos);
  CHECK(s.commands_sent().empty());
  CHECK(s.command_audit().empty());
  CHECK_FALSE(s.app.dirty().pending());
}

TEST_CASE("commands need instrument_write on the terminal's instrument, as revoking it does") {
  Site s;
  // The instrument admin of inst-c may command t-c ...
  auto ok = s.call("POST", "/api/terminals/t-c/commands", R"({"kind":"resync"})", s.token.at("ia"));
  INFO(ok.body);
  CHECK(ok.status == 202);
  auto audit = s.command_audit();
  REQUIRE(audit.size() == 1);
  CHECK(audit[0]["actor"].get<std::string>().find("ia") != std::string::npos);
  CHECK(s.call("GET", "/api/terminals/t-c/commands/last", "", s.token.at("ia")).status == 404);  // no answer yet
  // ... but not t-p, of another unit's instrument; a user without a role neither; a visitor is asked to sign in.
  for (const auto& [who, target] :
       std::vector<std::pair<std::string, std::string>>{{"ia", "/api/terminals/t-p/commands"},
                                                        {"stu", "/api/terminals/t-c/commands"},
                                                        {"stu", "/api/terminals/t-p/commands"}}) {
    auto r = s.call("POST", target, R"({"kind":"resync"})", s.token.at(who));
    INFO(who << " " << target << " " << r.status << " " << r.body);
    CHECK((r.status == 403 || r.status == 404));
    auto last = s.call("GET", target + "/last", "", s.token.at(who));
    CHECK((last.status == 403 || last.status == 404));
  }
  CHECK(s.call("POST", "/api/terminals/t-c/commands", R"({"kind":"resync"})", "").status == 401);
  CHECK(s.call("GET", "/api/terminals/t-c/commands/last", "", "").status == 401);
  CHECK(s.commands_sent().size() == 1);  // only the allowed one
  CHECK(s.command_audit().size() == 1);
}

TEST_CASE("a command the broker does not take answers 503 and says it was not sent") {
  Site s;
  s.pub.fail = true;
  auto r = s.call("POST", "/api/terminals/t-c/commands", R"({"kind":"resync"})");
  CHECK(r.status == 503);
  CHECK(s.error_of(r).find("not sent") != std::string::npos);
  CHECK_FALSE(s.app.dirty().pending());  // no bundle republished for a command that did not go
}
