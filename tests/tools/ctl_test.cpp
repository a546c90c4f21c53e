// Unit tests of labgatectl's pure parts: URL splitting, table rendering and views, import plan,
// CSV, the sign-in views and the token file.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "credentials.hpp"
#include "http_client.hpp"
#include "import_plan.hpp"
#include "table.hpp"

using namespace lg::ctl;
using nlohmann::json;

TEST_CASE("parse_url") {
  auto u = parse_url("http://127.0.0.1:8080");
  REQUIRE(u.has_value());
  CHECK(*u == Url{"127.0.0.1", 8080, "/"});
  CHECK(*parse_url("http://example.org/api/health?x=1") == Url{"example.org", 80, "/api/health?x=1"});
  CHECK(*parse_url("http://[::1]:9000/a") == Url{"::1", 9000, "/a"});
  CHECK(*parse_url("http://h?x") == Url{"h", 80, "/?x"});
  CHECK_FALSE(parse_url("https://h").has_value());
  CHECK(parse_url("https://h").error().reason.find("https") != std::string::npos);
  CHECK_FALSE(parse_url("ftp://h").has_value());
  CHECK_FALSE(parse_url("http://h:0").has_value());
  CHECK_FALSE(parse_url("http://h:99999").has_value());
  CHECK_FALSE(parse_url("http://h:80x").has_value());
  CHECK_FALSE(parse_url("http://:80").has_value());
  CHECK(join_url("http://h:1/", "/api/x") == "http://h:1/api/x");
  CHECK(join_url("http://h:1/base", "api/x") == "http://h:1/base/api/x");
}

TEST_CASE("next_link finds the rel=next target of a Link header") {
  CHECK(next_link(R"(</api/charges?month=2026-11&limit=100&cursor=XYZ>; rel="next")") ==
        "/api/charges?month=2026-11&limit=100&cursor=XYZ");
  CHECK(next_link("</a?x=1>; rel=next") == "/a?x=1");
  CHECK(next_link(R"(</first>; rel="first", </n?c=a,b>; title="x; y"; REL="prev next")") == "/n?c=a,b");
  CHECK(next_link(R"(</p>; rel="prev")").empty());
  CHECK(next_link(R"(</p>; rel="nextpage")").empty());
  CHECK(next_link("").empty());
  CHECK(next_link("garbage <unclosed").empty());
}

TEST_CASE("render aligns columns, pads short rows, draws rules and has no trailing spaces") {
  Table t;
  t.headers = {"id", "n", "note"};
  t.align = {Align::left, Align::right};
  t.rows = {{"a", "1", "x"}, {"bbbb", "22"}};
  t.footer = {{"total", "23", ""}};
  const std::string expected =
      "id      n  note\n"
      "-----  --  ----\n"
      "a       1  x\n"
      "bbbb   22\n"
      "-----  --  ----\n"
      "total  23\n";
  CHECK(render(t) == expected);
}

TEST_CASE("display width counts CJK as two columns") {
  CHECK(display_width("abc") == 3);
  CHECK(display_width("衍射仪") == 6);
  CHECK(display_width("X射线") == 5);
  Table t;
  t.headers = {"name", "v"};
  t.rows = {{"衍射仪", "1"}, {"abc", "2"}};
  CHECK(render(t) == "name    v\n------  -\n衍射仪  1\nabc     2\n");
}

TEST_CASE("format helpers") {
  CHECK(format_hours(0) == "0.00");
  CHECK(format_hours(5400) == "1.50");
  CHECK(format_hours(3599) == "1.00");
  CHECK(format_hours(17) == "0.00");
  CHECK(format_hours(18) == "0.01");
  CHECK(format_hours(-3600) == "-1.00");
  CHECK(format_hours(9'223'372'036'854'775) == "2562047788015.22");
  CHECK(format_hours(9'223'372'036'854'776) == "-");  // beyond int64 milliseconds
  CHECK(cell(json(nullptr)) == "-");
  CHECK(cell(json(true)) == "yes");
  CHECK(cell(json("x")) == "x");
  CHECK(cell(json("x\nERROR forged\x1b[2J")) == "x\\nERROR forged\\x1b[2J");  // shown on one line, inert
  CHECK(cell(json(42)) == "42");
}

TEST_CASE("report_table shows hours and yuan and a totals line") {
  const json report = json::parse(R"({
    "month":"2025-11","by":"instrument","currency":"CNY",
    "rows":[{"key":"inst-xrd","name":"X射线衍射仪","sessions":3,"seconds":5400,"hours":1.5,"amount_fen":30000,"amount":"300.00"},
            {"key":"inst-sem","name":"SEM","sessions":1,"seconds":600,"hours":0.17,"amount_fen":3333,"amount":"33.33"}],
    "totals":{"sessions":4,"seconds":6000,"hours":1.67,"amount_fen":33333,"amount":"333.33"}})");
  const Table t = report_table(report);
  REQUIRE(t.rows.size() == 2);
  CHECK(t.headers[0] == "instrument");
  CHECK(t.rows[0] == std::vector<std::string>{"inst-xrd", "X射线衍射仪", "3", "1.50", "300.00"});
  CHECK(t.rows[1] == std::vector<std::string>{"inst-sem", "SEM", "1", "0.17", "33.33"});
  REQUIRE(t.footer.size() == 1);
  CHECK(t.footer[0] == std::vector<std::string>{"total", "", "4", "1.67", "333.33"});
  // Without "totals" the footer is summed from the rows.
  json no_totals = report;
  no_totals.erase("totals");
  CHECK(report_table(no_totals).footer[0] == std::vector<std::string>{"total", "", "4", "1.67", "333.33"});
  const std::string text = render(t);
  CHECK(text.find("333.33\n") != std::string::npos);
}

TEST_CASE("terminals_table") {
  const json terms = json::parse(R"([{"id":"t1","resource":"inst-xrd","online":true,"boot":3,"acl_version":7,
      "outbox_depth":0,"acked_seq":42,"last_seen":"2025-11-27T08:30:00Z","firmware":"0.1.0"}])");
  const Table t = terminals_table(terms, "Asia/Shanghai");
  REQUIRE(t.rows.size() == 1);
  CHECK(t.rows[0] ==
        std::vector<std::string>{"t1", "inst-xrd", "yes", "3", "7", "0", "42", "2025-11-27 16:30:00 +08:00"});
  CHECK(terminals_table(json::parse(R"([{"id":"t2","last_seen":0}])"), "UTC").rows[0][7] ==
        "1970-01-01 00:00:00 +00:00");
  CHECK(terminals_table(json::parse(R"([{"id":"t3","last_seen":null}])"), "UTC").rows[0][7] == "-");
}

TEST_CASE("objects_table picks preferred columns and formats money, times, durations") {
  const json sessions = json::parse(R"([
    {"id":"s1","user":"u1","instrument":"i1","start_ms":0,"duration_ms":5400000,"amount_fen":12345,"extra":1},
    {"id":"s2","user":"u2","instrument":"i1","charge":{"amount_fen":500}}])");
  const Table t =
      objects_table(sessions, {"id", "instrument", "user", "start_ms", "duration_ms", "amount_fen", "charge"}, "UTC");
  CHECK(t.headers == std::vector<std::string>{"id", "instrument", "user", "start", "hours", "amount", "charge"});
  CHECK(t.rows[0] == std::vector<std::string>{"s1", "i1", "u1", "1970-01-01 00:00:00 +00:00", "1.50", "123.45", "-"});
  CHECK(t.rows[1][6] == "5.00");
  CHECK(t.align[4] == Align::right);
  CHECK(t.align[3] == Align::left);
  // No preferred key present: all keys in first-seen order.
  const Table g = objects_table(json::parse(R"([{"a":1,"b":"x"},{"c":null}])"), {"zzz"}, "UTC");
  CHECK(g.headers == std::vector<std::string>{"a", "b", "c"});
  CHECK(g.rows[1] == std::vector<std::string>{"-", "-", "-"});
}

TEST_CASE("key_value_table flattens nested objects") {
  const Table t = key_value_table(json::parse(R"({"ingest":{"batches":2,"records":10},"rejected":{"bad_sig":1}})"));
  REQUIRE(t.rows.size() == 3);
  CHECK(t.rows[0] == std::vector<std::string>{"ingest.batches", "2"});
  CHECK(t.rows[2] == std::vector<std::string>{"rejected.bad_sig", "1"});
}

TEST_CASE("import plan orders entities by dependency and maps routes") {
  const json doc = json::parse(R"({
    "terminals":[{"id":"t1","resource":"inst-xrd","public_key_file":"keys/t1.pub"}],
    "bookings":[{"instrument":"inst-xrd","user":"u1","start":"2025-11-27T08:00:00Z","end":"2025-11-27T09:00:00Z"}],
    "cards":[{"uid":"04A1","user":"u1"}],
    "users":[{"id":"u1","name":"Li","category":"internal"}],
    "fee_standards":[{"instrument":"inst-xrd","internal_fen_per_hour":10000,"external_fen_per_hour":30000}],
    "instruments":[{"id":"inst-xrd","name":"XRD","lab":"lab1","kind":"instrument"}],
    "labs":[{"id":"lab1","name":"L","unit":"phys"}],
    "units":[{"id":"phys","name":"Physics"},{"id":"chem","name":"Chemistry"}],
    "qualifications":[{"user":"u1","instrument":"inst-xrd"}]})");
  std::map<std::string, std::string> files{{"/data/keys/t1.pub", "-----BEGIN PUBLIC KEY-----\nX\n-----END PUBLIC KEY-----\n"}};
  auto reader = [&](const std::filesystem::path& p) -> lg::Result<std::string> {
    auto it = files.find(p.string());
    if (it == files.end()) return lg::Error::invalid("no such file " + p.string());
    return it->second;
  };
  auto plan = plan_import(doc, "/data", reader);
  REQUIRE(plan.has_value());
  std::vector<std::string> routes;
  for (const auto& s : *plan) routes.push_back(s.route);
  CHECK(routes == std::vector<std::string>{"/api/units", "/api/units", "/api/labs", "/api/instruments",
                                           "/api/fee-standards", "/api/users", "/api/cards", "/api/qualifications",
                                           "/api/bookings", "/api/terminals"});
  CHECK((*plan)[1].label == "units[1] (chem)");
  CHECK((*plan)[6].label == "cards[0] (04A1)");
  CHECK((*plan)[7].label == "qualifications[0] (user=u1 instrument=inst-xrd)");
  const json& term = plan->back().body;
  CHECK_FALSE(term.contains("public_key_file"));
  CHECK(term["public_key"] == files["/data/keys/t1.pub"]);
  CHECK(term["id"] == "t1");
}

TEST_CASE("import plan rejects bad documents, naming the place") {
  auto none = [](const std::filesystem::path& p) -> lg::Result<std::string> {
    return lg::Error::invalid("cannot read " + p.string());
  };
  CHECK_FALSE(plan_import(json::array(), ".", none).has_value());
  auto unknown = plan_import(json::parse(R"({"unit":[]})"), ".", none);
  REQUIRE_FALSE(unknown.has_value());
  CHECK(unknown.error().reason.find("unknown section \"unit\"") != std::string::npos);
  CHECK_FALSE(plan_import(json::parse(R"({"units":{}})"), ".", none).has_value());
  auto not_obj = plan_import(json::parse(R"({"units":[{"id":"a"}, 3]})"), ".", none);
  REQUIRE_FALSE(not_obj.has_value());
  CHECK(not_obj.error().reason.find("units[1]") != std::string::npos);
  auto no_key = plan_import(json::parse(R"({"terminals":[{"id":"t"}]})"), ".", none);
  REQUIRE_FALSE(no_key.has_value());
  CHECK(no_key.error().reason.find("terminals[0]") != std::string::npos);
  auto missing = plan_import(json::parse(R"({"terminals":[{"id":"t","public_key_file":"k.pub"}]})"), "/d", none);
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().reason.find("/d/k.pub") != std::string::npos);
  CHECK_FALSE(plan_import(json::parse(R"({"terminals":[{"id":"t","public_key":"P","public_key_file":"k"}]})"), ".", none)
                  .has_value());
  // Inline keys and an empty document are fine.
  CHECK(plan_import(json::parse(R"({"terminals":[{"id":"t","public_key":"P"}]})"), ".", none)->size() == 1);
  CHECK(plan_import(json::object(), ".", none)->empty());
}

TEST_CASE("times people read: the API's RFC 3339 instants in the site's zone with the offset") {
  CHECK(format_time_ms(1772352000000, "Asia/Shanghai") == "2026-03-01 16:00:00 +08:00");
  CHECK(format_time_ms(0, "UTC") == "1970-01-01 00:00:00 +00:00");
  CHECK(format_time_ms(0, "No/Such_Zone") == "1970-01-01 00:00:00 +00:00");  // shown in UTC, still an instant
  CHECK(time_cell(json("2026-03-01T08:00:00.000Z"), "Asia/Shanghai") == "2026-03-01 16:00:00 +08:00");
  CHECK(time_cell(json("2026-07-01T12:00:00Z"), "America/New_York") == "2026-07-01 08:00:00 -04:00");
  CHECK(time_cell(json(nullptr), "Asia/Shanghai") == "-");
  CHECK(time_cell(json("not a time"), "Asia/Shanghai") == "not a time");
  CHECK(time_key("time"));
  CHECK(time_key("last_seen"));
  CHECK(time_key("start_ms"));
  CHECK_FALSE(time_key("duration_ms"));
  CHECK_FALSE(time_key("user"));
  // access events and charges as the server sends them: every instant column converted, nothing else
  const json events = json::parse(R"([{"time":"2026-03-01T08:00:00.000Z","card":"A1A1A1A1","user":"u-alice",
      "decision":"granted","reason":"2026-03-01T08:00:00.000Z"}])");
  const Table t = objects_table(events, {"time", "card", "user", "decision", "reason"}, "Asia/Shanghai");
  CHECK(t.rows[0] == std::vector<std::string>{"2026-03-01 16:00:00 +08:00", "A1A1A1A1", "u-alice", "granted",
                                              "2026-03-01T08:00:00.000Z"});
  CHECK(t.align[0] == Align::left);
  const json charges = json::parse(R"([{"end":"2026-02-28T16:30:00.000Z","amount_fen":100,"duration_ms":60000}])");
  const Table c = objects_table(charges, {"end", "duration_ms", "amount_fen"}, "Asia/Shanghai");
  CHECK(c.rows[0] == std::vector<std::string>{"2026-03-01 00:30:00 +08:00", "0.02", "1.00"});
}

TEST_CASE("render_csv: RFC 4180 quoting, header row, CJK and empty cells as they are, no totals") {
  Table t;
  t.headers = {"id", "name", "note"};
  t.rows = {{"u1", "李雷", ""}, {"u2", "Smith, John", "said \"hi\""}, {"u3", "two\nlines", "cr\rhere"}, {"u4"}};
  t.footer = {{"total", "", "4"}};
  CHECK(render_csv(t) ==
        "id,name,note\n"
        "u1,李雷,\n"
        "u2,\"Smith, John\",\"said \"\"hi\"\"\"\n"
        "u3,\"two\nlines\",\"cr\rhere\"\n"
        "u4,,\n");
  CHECK(render_csv(Table{}).empty());
  Table only_header;
  only_header.headers = {"a", "b"};
  CHECK(render_csv(only_header) == "a,b\n");
  // the same cells as the table: a view rendered both ways agrees
  const Table v = objects_table(json::parse(R"([{"id":"g1","name":"X射线课题组","pi":"u-alice","unit":null}])"),
                                {"id", "name", "pi", "unit"}, "UTC");
  CHECK(render_csv(v) == "id,name,pi,unit\ng1,X射线课题组,u-alice,-\n");
}

TEST_CASE("output format names round trip") {
  for (const Format f : {Format::table, Format::json, Format::csv}) CHECK(format_from_string(to_string(f)) == f);
  CHECK(to_string(Format::csv) == "csv");
  CHECK_FALSE(format_from_string("xml").has_value());
  CHECK_FALSE(format_from_string("CSV").has_value());
}

TEST_CASE("identity times are instants in the site's zone") {
  for (const char* k :
       {"since", "ended", "retired", "created", "expires", "revoked", "last_used", "granted", "applied", "decided"})
    CHECK(time_key(k));
  CHECK_FALSE(time_key("decision"));
  CHECK_FALSE(time_key("granted_by"));
  CHECK_FALSE(time_key("live"));
}

TEST_CASE("role_text, whoami_table") {
  CHECK(role_text(json::parse(R"({"role":"unit_admin","scope":"unit","scope_id":"chem","implied":false})")) ==
        "unit_admin unit:chem");
  CHECK(role_text(json::parse(R"({"role":"system_admin","scope":"site","scope_id":null})")) == "system_admin site");
  CHECK(role_text(json::parse(R"({"role":"user","scope":"self","scope_id":"u-alice","implied":true})")) ==
        "user self:u-alice (implied)");
  CHECK(role_text(json::parse(R"({"role":"finance","scope":"unit","scope_id":"chem",
                                  "revoked":"2026-03-01T08:00:00Z"})")) == "finance unit:chem (revoked)");
  const json me = json::parse(R"({"actor":"u-alice","user":"u-alice","kind":"session","pending":false,
      "roles":[{"id":"r1","role":"unit_admin","scope":"unit","scope_id":"chem","implied":false},
               {"id":null,"role":"user","scope":"self","scope_id":"u-alice","implied":true}],
      "rights":["catalogue","self","people_read"],"name":"李雷","status":"active"})");
  const Table t = whoami_table(me);
  CHECK(t.headers == std::vector<std::string>{"key", "value"});
  CHECK(t.rows == std::vector<std::vector<std::string>>{{"user", "u-alice"},
                                                        {"name", "李雷"},
                                                        {"status", "active"},
                                                        {"actor", "u-alice"},
                                                        {"kind", "session"},
                                                        {"pending", "no"},
                                                        {"role", "unit_admin unit:chem"},
                                                        {"role", "user self:u-alice (implied)"},
                                                        {"rights", "catalogue self people_read"}});
  // the bootstrap admin token: no user, no name
  const Table b = whoami_table(json::parse(R"({"actor":"admin-token","user":null,"kind":"bootstrap",
      "pending":false,"roles":[],"rights":[]})"));
  CHECK(b.rows == std::vector<std::vector<std::string>>{{"user", "-"},
                                                        {"actor", "admin-token"},
                                                        {"kind", "bootstrap"},
                                                        {"pending", "no"},
                                                        {"role", "-"},
                                                        {"rights", "-"}});
}

TEST_CASE("roles_table, tokens_table, registrations_table") {
  const Table r = roles_table(json::parse(R"([{"id":"g1","user":"u-bob","role":"instrument_admin",
      "scope":"instrument","scope_id":"inst-xrd","granted_by":"admin-token","granted":"2026-03-01T08:00:00.000Z",
      "revoked":null,"implied":false}])"),
                              "Asia/Shanghai");
  CHECK(r.headers ==
        std::vector<std::string>{"id", "user", "role", "scope", "scope id", "granted by", "granted", "revoked"});
  CHECK(r.rows[0] == std::vector<std::string>{"g1", "u-bob", "instrument_admin", "instrument", "inst-xrd",
                                              "admin-token", "2026-03-01 16:00:00 +08:00", "-"});
  const json tokens = json::parse(R"([
      {"id":"t1","kind":"session","name":"local","rights":[],"created":"2026-03-01T00:00:00Z",
       "expires":"2026-03-01T12:00:00Z","revoked":null,"last_used":null,"source":"127.0.0.1","live":true,
       "current":true},
      {"id":"t2","kind":"personal","name":"nightly","rights":["usage_read","money_read"],
       "created":"2026-03-01T00:00:00Z","expires":"2026-04-01T00:00:00Z","revoked":"2026-03-02T00:00:00Z",
       "last_used":"2026-03-01T01:00:00Z","source":"10.0.0.1","live":false,"current":false}])");
  const Table t = tokens_table(tokens, "UTC");
  CHECK(t.headers.size() == 10);
  CHECK(t.rows[0] == std::vector<std::string>{"*", "t1", "local", "all", "2026-03-01 00:00:00 +00:00",
                                              "2026-03-01 12:00:00 +00:00", "-", "-", "yes", "127.0.0.1"});
  CHECK(t.rows[1][0].empty());
  CHECK(t.rows[1][3] == "usage_read money_read");
  CHECK(t.rows[1][7] == "2026-03-02 00:00:00 +00:00");
  CHECK(t.rows[1][8] == "no");
  const Table g = registrations_table(json::parse(R"([
      {"user":"u-ext","unit":"chem","applied":"2026-03-01T08:00:00Z","decision":"pending","decided_by":null,
       "decided":null,"reason":""},
      {"user":"u-x","unit":"chem","applied":"2026-03-01T08:00:00Z","decision":"refused","decided_by":"u-alice",
       "decided":"2026-03-02T08:00:00Z","reason":"不认识, sorry"}])"),
                                      "Asia/Shanghai");
  CHECK(g.rows[0] == std::vector<std::string>{"u-ext", "chem", "2026-03-01 16:00:00 +08:00", "pending", "-", "-", "-"});
  CHECK(g.rows[1][4] == "u-alice");
  CHECK(render_csv(g).find("\"不认识, sorry\"\n") != std::string::npos);
  CHECK(tokens_table(json::object(), "UTC").rows.empty());
}

TEST_CASE("signed_in_text and failure_line") {
  const json login = json::parse(R"({"token":"secret","token_id":"t1","expires":"2026-03-01T12:00:00.000Z",
      "user":"u-alice","pending":false})");
  CHECK(signed_in_text(login, "Asia/Shanghai") == "signed in as u-alice until 2026-03-01 20:00:00 +08:00");
  json pending = login;
  pending["pending"] = true;
  CHECK(signed_in_text(pending, "UTC").find("(pending approval") != std::string::npos);
  CHECK(failure_line("group add g1 u-x", 404, "no such user: u-x", std::nullopt, true) ==
        "labgatectl: group add g1 u-x: HTTP 404: no such user: u-x");
  CHECK(failure_line("login u", 429, "too many failed sign-ins", 60, false) ==
        "labgatectl: login u: HTTP 429: too many failed sign-ins; try again in 60 s");
  // the server's reason already says when: not said twice
  CHECK(failure_line("login u", 429, "too many failed sign-ins: try again in 60 s", 60, false) ==
        "labgatectl: login u: HTTP 429: too many failed sign-ins: try again in 60 s");
  CHECK(failure_line("whoami", 401, "missing token", std::nullopt, false).find("labgatectl login USER") !=
        std::string::npos);
  CHECK(failure_line("whoami", 401, "token expired", std::nullopt, true) ==
        "labgatectl: whoami: HTTP 401: token expired");
  CHECK(failure_line("x", 500, "bad\nline", std::nullopt, true) == "labgatectl: x: HTTP 500: bad\\nline");
}

TEST_CASE("token file: where it is, written 0600 in a 0700 directory, atomically replaced, removed") {
  CHECK(*token_file_path("/t/file", "/x", "/h") == std::filesystem::path("/t/file"));
  CHECK(*token_file_path("", "/x", "/h") == std::filesystem::path("/x/labgate/token"));
  CHECK(*token_file_path("", "", "/h") == std::filesystem::path("/h/.config/labgate/token"));
  CHECK_FALSE(token_file_path("", "", "").has_value());

  std::string tmpl = (std::filesystem::temp_directory_path() / "ctl_test_XXXXXX").string();
  REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
  const std::filesystem::path root = tmpl;
  const std::filesystem::path file = root / "cfg" / "labgate" / "token";
  CHECK(*load_token(file) == "");  // none yet
  REQUIRE(save_token(file, "first-secret").ok());
  struct stat st {};
  REQUIRE(::stat(file.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  REQUIRE(::stat(file.parent_path().c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  CHECK(*load_token(file) == "first-secret");
  REQUIRE(save_token(file, "second-secret").ok());
  CHECK(*load_token(file) == "second-secret");
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(file.parent_path())) ++entries;
  CHECK(entries == 1);  // no temp file left behind
  CHECK(*remove_token(file) == true);
  CHECK(*remove_token(file) == false);
  CHECK(*load_token(file) == "");
  std::ofstream(root / "spaced") << "  tok \n\n";
  CHECK(*load_token(root / "spaced") == "tok");
  std::filesystem::remove_all(root);
}

TEST_CASE("read_line: one line of stdin, CRLF or LF, an error at the end") {
  std::istringstream in("old-pw\r\nnew pw\n");
  CHECK(*read_line(in, "password") == "old-pw");
  CHECK(*read_line(in, "password") == "new pw");
  auto end = read_line(in, "new password");
  REQUIRE_FALSE(end.has_value());
  CHECK(end.error().reason.find("no new password on stdin") != std::string::npos);
}
