// The booking and qualification routes that change and retire what was created, through the API
// with people signed in: cancel (the slot is free again, kept as history, not in the bundle),
// move (admitted like a new booking, an overlap changes nothing), who may do either, the audit
// entries they leave, and revoking a qualification; the bookings feed GET /api/bookings.ics
// (RFC 5545, read back with tests/common/ical_reader.hpp).
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <map>

#include <libical/ical.h>

#include <nlohmann/json.hpp>

#include "server/core/app.hpp"
#include "server/transport/http/api.hpp"
#include "tests/common/ical_reader.hpp"
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

/// A response header's value ("" when absent).
std::string header(const http::Response& r, const std::string& name) {
  for (const auto& [k, v] : r.headers)
    if (k == name) return v;
  return "";
}

/// The VEVENTs of a feed, each as property name -> value (TEXT values unescaped); the feed's
/// framing (CRLF, 75 octets, UTF-8, escapes) is checked on the way.
std::vector<std::map<std::string, std::string>> events_of(const http::Response& r) {
  INFO(r.body);
  REQUIRE(r.status == 200);
  CHECK(header(r, "Content-Type") == "text/calendar; charset=utf-8");
  std::string why;
  auto props = ical::test::read(r.body, why);
  REQUIRE_MESSAGE(props, why);
  REQUIRE(props->size() >= 2);
  CHECK(props->front().value == "VCALENDAR");
  CHECK(props->back().value == "VCALENDAR");
  std::vector<std::map<std::string, std::string>> out;
  bool in_event = false;
  for (const auto& p : *props) {
    if (p.name == "BEGIN" && p.value == "VEVENT") {
      in_event = true;
      out.emplace_back();
    } else if (p.name == "END" && p.value == "VEVENT") {
      in_event = false;
    } else if (in_event) {
      const bool text = p.name == "UID" || p.name == "SUMMARY" || p.name == "LOCATION" || p.name == "DESCRIPTION";
      auto v = text ? ical::test::unescape_text(p.value) : std::optional<std::string>(p.value);
      REQUIRE_MESSAGE(v, p.name << " is not an escaped TEXT: " << p.value);
      out.back()[p.name] = *v;
    }
  }
  return out;
}

/// The event with UID "<id>@demo" (FAIL when the feed does not hold it).
std::map<std::string, std::string> event_of(const std::vector<std::map<std::string, std::string>>& events,
                                            const std::string& id) {
  for (const auto& e : events)
    if (e.at("UID") == id + "@demo") return e;
  FAIL("booking " << id << " is not in the feed");
  return {};
}

}  // namespace

TEST_CASE("GET /api/bookings.ics: each booking is an RFC 5545 event in UTC, a cancelled one CANCELLED, names escaped") {
  Site s;
  // A name that needs escaping and, in UTF-8, folding (more than 75 octets on its SUMMARY line).
  const std::string name = "核磁共振波谱仪 NMR 400 MHz; Bruker, 化学院 101 室 (二楼走廊尽头左侧)";
  s.ok("PATCH", "/api/instruments/inst-c", {{"name", name}});
  const std::string a = s.book("alice", "2026-01-15T02:00:00Z", "2026-01-15T04:30:00Z");
  const std::string c = s.book("carol", "2026-01-16T04:00:00Z", "2026-01-16T05:00:00Z");
  s.now = ms("2026-01-15T01:00:00Z");
  REQUIRE(s.call("DELETE", "/api/bookings/" + c, {{"reason", "sample not ready, sorry; later"}}).status == 200);
  s.now = ms("2026-01-15T01:02:03.456Z");

  auto r = s.call("GET", "/api/bookings.ics");
  CHECK(r.body.find("SUMMARY:") != std::string::npos);
  bool folded = false;
  for (std::size_t at = 0; (at = r.body.find("\r\n ", at)) != std::string::npos; at += 3) folded = true;
  CHECK(folded);
  const auto events = events_of(r);
  REQUIRE(events.size() == 2);
  const auto ea = event_of(events, a);
  CHECK(ea.at("SUMMARY") == name);
  CHECK(ea.at("LOCATION") == "Lab C");
  CHECK(ea.at("DTSTART") == "20260115T020000Z");
  CHECK(ea.at("DTEND") == "20260115T043000Z");
  CHECK(ea.at("DTSTAMP") == "20260115T010203Z");
  CHECK(ea.at("STATUS") == "CONFIRMED");
  CHECK(ea.at("DESCRIPTION") == "Booking " + a + "\nInstrument: inst-c\nUser: alice");
  const auto ec = event_of(events, c);
  CHECK(ec.at("STATUS") == "CANCELLED");
  CHECK(ec.at("DTSTART") == "20260116T040000Z");
  CHECK(ec.at("DESCRIPTION") ==
        "Booking " + c + "\nInstrument: inst-c\nUser: carol\nCancelled: sample not ready, sorry; later");
  // The same bookings, in the same order, as the JSON list shows them.
  auto list = json::parse(s.call("GET", "/api/bookings").body);
  REQUIRE(list.size() == 2);
  CHECK(events[0].at("UID") == list[0]["id"].get<std::string>() + "@demo");
  CHECK(events[1].at("UID") == list[1]["id"].get<std::string>() + "@demo");

  // The calendar names itself and its writer.
  CHECK(r.body.rfind("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//labgate//labgate 0.1.0//EN\r\n", 0) == 0);
  CHECK(r.body.find("\r\nX-WR-CALNAME:labgate demo bookings\r\n") != std::string::npos);
}

TEST_CASE("GET /api/bookings.ics shows what the list shows: a user theirs, the instrument admin all, visitor 401") {
  Site s;
  const std::string alice = s.login("alice");
  const std::string carol = s.login("carol");
  const std::string ia = s.login("ia");
  const std::string a = s.book("alice", "2026-01-16T02:00:00Z", "2026-01-16T03:00:00Z", alice);
  const std::string c = s.book("carol", "2026-01-16T04:00:00Z", "2026-01-16T05:00:00Z", carol);

  auto mine = events_of(s.call("GET", "/api/bookings.ics", nullptr, alice));
  REQUIRE(mine.size() == 1);
  CHECK(mine[0].at("UID") == a + "@demo");
  auto theirs = events_of(s.call("GET", "/api/bookings.ics", nullptr, carol));
  REQUIRE(theirs.size() == 1);
  CHECK(theirs[0].at("UID") == c + "@demo");
  CHECK(events_of(s.call("GET", "/api/bookings.ics", nullptr, ia)).size() == 2);
  auto visitor = s.call("GET", "/api/bookings.ics", nullptr, "");
  CHECK(visitor.status == 401);
  CHECK(header(visitor, "Content-Type").empty());  // errors stay JSON
}

TEST_CASE("GET /api/bookings.ics holds bookings from 31 days back, pages by ?limit= and ?cursor= with a Link") {
  Site s;
  const std::string a = s.book("alice", "2026-01-15T02:00:00Z", "2026-01-15T03:00:00Z");
  const std::string b = s.book("alice", "2026-01-25T02:00:00Z", "2026-01-25T03:00:00Z");
  const std::string c = s.book("carol", "2026-02-10T02:00:00Z", "2026-02-10T03:00:00Z");
  CHECK(events_of(s.call("GET", "/api/bookings.ics")).size() == 3);

  // 31 days after a's start plus a minute: a has left the feed (it stays in the list), b has not.
  s.now = ms("2026-02-15T02:01:00Z");
  auto feed = events_of(s.call("GET", "/api/bookings.ics"));
  REQUIRE(feed.size() == 2);
  CHECK(feed[0].at("UID") == b + "@demo");
  CHECK(feed[1].at("UID") == c + "@demo");
  CHECK(json::parse(s.call("GET", "/api/bookings").body).size() == 3);

  // One event a page: the Link leads to the next page of the feed, the last page has none.
  auto first = s.call("GET", "/api/bookings.ics?limit=1");
  auto one = events_of(first);
  REQUIRE(one.size() == 1);
  CHECK(one[0].at("UID") == b + "@demo");
  const std::string link = header(first, "Link");
  REQUIRE(link.rfind("</api/bookings.ics?limit=1&cursor=", 0) == 0);
  auto second = s.call("GET", link.substr(1, link.find('>') - 1));
  auto two = events_of(second);
  REQUIRE(two.size() == 1);
  CHECK(two[0].at("UID") == c + "@demo");
  CHECK(header(second, "Link").empty());
  // A cursor from the JSON list works here too (one list, one order): from its start, a again.
  auto listed = s.call("GET", "/api/bookings?limit=1");
  const std::string list_link = header(listed, "Link");
  REQUIRE(!list_link.empty());
  const std::size_t from = list_link.find("cursor=") + 7;
  const std::string cursor = list_link.substr(from, list_link.find('>') - from);
  auto after_a = events_of(s.call("GET", "/api/bookings.ics?cursor=" + cursor));
  REQUIRE(after_a.size() == 2);
  CHECK(after_a[0].at("UID") == b + "@demo");

  CHECK(s.call("GET", "/api/bookings.ics?limit=0").status == 422);
  CHECK(s.call("GET", "/api/bookings.ics?limit=10001").status == 422);
  CHECK(s.call("GET", "/api/bookings.ics?cursor=forged").status == 422);
  (void)a;
}

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

TEST_CASE("booking policy routes: anyone reads the rules, the instrument admin replaces them, bad fields named, audited") {
  Site s;
  auto visitor = s.call("GET", "/api/instruments/inst-c/booking-policy", nullptr, "");
  INFO(visitor.body);
  REQUIRE(visitor.status == 200);
  const json defaults = json::parse(visitor.body);
  CHECK(defaults["min_length_s"] == 900);
  CHECK(defaults["opening"].is_null());
  CHECK(defaults["approval"] == "none");
  CHECK(s.call("GET", "/api/instruments/nope/booking-policy").status == 404);

  const json rules = {{"opening", {{"mon", {"08:00-12:00", "13:00-18:00"}}, {"thu", {"08:00-18:00"}}}},
                      {"slot_s", 1800}, {"min_length_s", 1800}, {"approval", "external"}, {"user_week_bookings", 2}};
  CHECK(s.call("PUT", "/api/instruments/inst-c/booking-policy", rules, s.login("alice")).status == 403);
  const std::string ia = s.login("ia");
  auto put = s.call("PUT", "/api/instruments/inst-c/booking-policy", rules, ia);
  INFO(put.body);
  REQUIRE(put.status == 200);
  auto got = json::parse(s.call("GET", "/api/instruments/inst-c/booking-policy", nullptr, "").body);
  CHECK(got["opening"]["mon"] == json({"08:00-12:00", "13:00-18:00"}));
  CHECK(got["opening"]["thu"] == json({"08:00-18:00"}));
  CHECK_FALSE(got["opening"].contains("tue"));
  CHECK(got["slot_s"] == 1800);
  CHECK(got["approval"] == "external");
  CHECK(got["user_week_bookings"] == 2);
  CHECK(got["lead_max_s"] == defaults["lead_max_s"]);  // left out: the default

  for (const auto& [body, field] : std::vector<std::pair<json, std::string>>{
           {{{"opening", {{"mon", {"12:00-08:00"}}}}}, "opening.mon"},
           {{{"opening", {{"someday", {"08:00-09:00"}}}}}, "opening"},
           {{{"slot_s", 700}}, "slot_s"},
           {{{"approval", "sometimes"}}, "approval"},
           {{{"colour", "blue"}}, "colour"}}) {
    auto r = s.call("PUT", "/api/instruments/inst-c/booking-policy", body, ia);
    INFO(body.dump() << " -> " << r.body);
    CHECK(r.status / 100 == 4);
    CHECK(error_of(r).find(field) != std::string::npos);
  }
  // refused changes changed nothing
  CHECK(json::parse(s.call("GET", "/api/instruments/inst-c/booking-policy", nullptr, "").body) == got);
  auto entries = s.audit("booking_policy");
  REQUIRE(entries.size() == 1);
  CHECK(entries[0]["entity_id"] == "inst-c");
}

TEST_CASE("a booking a rule refuses is 422 naming the rule and explaining it in the site's time") {
  Site s;
  s.now = ms("2026-01-12T00:00:00Z");  // Monday 08:00 in Shanghai
  s.ok("PUT", "/api/instruments/inst-c/booking-policy",
       {{"opening", {{"mon", {"08:00-18:00"}}, {"tue", {"08:00-18:00"}}}}, {"slot_s", 3600}, {"min_length_s", 3600}});
  auto r = s.call("POST", "/api/bookings",
                  {{"instrument", "inst-c"}, {"user", "alice"}, {"start", "2026-01-12T10:00:00Z"},  // 18:00 local
                   {"end", "2026-01-12T11:00:00Z"}});
  INFO(r.body);
  CHECK(r.status == 422);
  CHECK(json::parse(r.body)["rule"] == "opening_hours");
  CHECK(error_of(r).find("2026-01-12 18:00:00 +08:00") != std::string::npos);
  auto grid = s.call("POST", "/api/bookings",
                     {{"instrument", "inst-c"}, {"user", "alice"}, {"start", "2026-01-12T02:30:00Z"},
                      {"end", "2026-01-12T03:30:00Z"}});
  CHECK(grid.status == 422);
  CHECK(json::parse(grid.body)["rule"] == "slot_grid");
  auto past = s.call("POST", "/api/bookings",
                     {{"instrument", "inst-c"}, {"user", "alice"}, {"start", "2020-01-01T00:00:00Z"},
                      {"end", "2020-01-01T00:00:01Z"}});
  CHECK(past.status == 422);
  CHECK(json::parse(past.body)["rule"] == "lead_time");
  CHECK(json::parse(s.call("GET", "/api/bookings").body).empty());
  CHECK(s.audit("booking").empty());
  // on the grid and in hours: booked, with who booked it and the account
  auto ok = s.call("POST", "/api/bookings",
                   {{"instrument", "inst-c"}, {"user", "alice"}, {"start", "2026-01-12T02:00:00Z"},
                    {"end", "2026-01-12T04:00:00Z"}, {"account", "grant-42"}},
                   s.login("alice"));
  INFO(ok.body);
  REQUIRE(ok.status == 201);
  const json made = s.listed(json::parse(ok.body)["id"]);
  CHECK(made["account"] == "grant-42");
  CHECK(made["booked_by"] == "alice");
}

TEST_CASE("approval: a pending booking holds its slot but opens nothing until the instrument admin approves it") {
  Site s;
  s.ok("PUT", "/api/instruments/inst-c/booking-policy", {{"approval", "all"}});
  const std::string alice = s.login("alice");
  auto r = s.call("POST", "/api/bookings",
                  {{"instrument", "inst-c"}, {"user", "alice"}, {"start", "2026-01-15T02:00:00Z"},
                   {"end", "2026-01-15T04:00:00Z"}},
                  alice);
  INFO(r.body);
  REQUIRE(r.status == 201);
  CHECK(json::parse(r.body)["status"] == "pending");
  const std::string id = json::parse(r.body)["id"];
  const json pending = s.listed(id);
  CHECK(pending["status"] == "pending");
  CHECK(at(pending["hold_until"]) == ms("2026-01-15T02:00:00Z"));  // 48 h would pass the start
  CHECK(s.bundle().bookings.empty());  // opens nothing yet
  auto clash = s.call("POST", "/api/bookings",
                      {{"instrument", "inst-c"}, {"user", "carol"}, {"start", "2026-01-15T03:00:00Z"},
                       {"end", "2026-01-15T05:00:00Z"}});
  CHECK(clash.status == 409);  // but holds its slot
  CHECK(s.call("POST", "/api/bookings/" + id + "/approve", nullptr, alice).status == 403);
  const std::string ia = s.login("ia");
  auto ok = s.call("POST", "/api/bookings/" + id + "/approve", nullptr, ia);
  INFO(ok.body);
  REQUIRE(ok.status == 200);
  CHECK(json::parse(ok.body)["status"] == "active");
  REQUIRE(s.bundle().bookings.size() == 1);
  CHECK(s.call("POST", "/api/bookings/" + id + "/approve", nullptr, ia).status == 409);
  // a refusal needs a reason, frees the slot and is kept
  auto second = s.call("POST", "/api/bookings",
                       {{"instrument", "inst-c"}, {"user", "carol"}, {"start", "2026-01-15T05:00:00Z"},
                        {"end", "2026-01-15T06:00:00Z"}});
  const std::string id2 = json::parse(second.body)["id"];
  CHECK(s.call("POST", "/api/bookings/" + id2 + "/refuse", json::object(), ia).status == 400);
  auto no = s.call("POST", "/api/bookings/" + id2 + "/refuse", {{"reason", "operator away"}}, ia);
  REQUIRE(no.status == 200);
  CHECK(s.listed(id2)["status"] == "refused");
  CHECK(s.listed(id2)["reason"] == "operator away");
  auto actions = s.audit("booking");
  std::vector<std::string> seen;
  for (const auto& e : actions) seen.push_back(e["action"]);
  CHECK(std::count(seen.begin(), seen.end(), "approve") == 1);
  CHECK(std::count(seen.begin(), seen.end(), "refuse") == 1);
  // each person heard of it (no mail address here: kept as no_address, in order)
  auto notices = json::parse(s.call("GET", "/api/notices?limit=100").body);
  std::vector<std::string> alices, carols;
  for (const auto& n : notices) (n["user"] == "alice" ? alices : carols).push_back(n["kind"]);
  std::sort(alices.begin(), alices.end());
  CHECK(alices == std::vector<std::string>{"booking_approved", "booking_pending"});
  std::sort(carols.begin(), carols.end());
  CHECK(carols == std::vector<std::string>{"booking_pending", "booking_refused"});
}

TEST_CASE("closures: maintenance cancels the bookings it covers and says which, a holiday needs the site, listed and removed") {
  Site s;
  const std::string id = s.book("alice", "2026-01-15T02:00:00Z", "2026-01-15T04:00:00Z");
  REQUIRE(s.bundle().bookings.size() == 1);
  const std::string ia = s.login("ia");
  auto hol = s.call("POST", "/api/closures",
                    {{"kind", "holiday"}, {"start", "2026-01-20T00:00:00+08:00"}, {"end", "2026-01-21T00:00:00+08:00"}},
                    ia);
  CHECK(hol.status == 403);  // the instrument admin's scope is the instrument, not the site
  auto m = s.call("POST", "/api/closures",
                  {{"instrument", "inst-c"}, {"kind", "maintenance"}, {"start", "2026-01-15T03:00:00Z"},
                   {"end", "2026-01-15T06:00:00Z"}, {"reason", "probe change"}},
                  ia);
  INFO(m.body);
  REQUIRE(m.status == 201);
  const json made = json::parse(m.body);
  REQUIRE(made["cancelled_bookings"].size() == 1);
  CHECK(made["cancelled_bookings"][0]["id"] == id);
  CHECK(made["cancelled_bookings"][0]["cancel_reason"] == "maintenance: probe change");
  CHECK(s.listed(id)["status"] == "cancelled");
  CHECK(s.bundle().bookings.empty());
  bool told = false;
  for (const auto& n : json::parse(s.call("GET", "/api/notices?limit=100").body))
    told = told || (n["user"] == "alice" && n["kind"] == "booking_cancelled_maintenance");
  CHECK(told);
  auto bad = s.call("POST", "/api/closures",
                    {{"kind", "blackout"}, {"start", "2026-01-15T03:00:00Z"}, {"end", "2026-01-15T06:00:00Z"}});
  CHECK(bad.status == 422);
  CHECK(error_of(bad).find("instrument") != std::string::npos);
  s.ok("POST", "/api/closures",
       {{"kind", "holiday"}, {"start", "2026-01-20T00:00:00+08:00"}, {"end", "2026-01-21T00:00:00+08:00"}});
  auto list = s.call("GET", "/api/closures?instrument=inst-c&from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z",
                     nullptr, "");
  REQUIRE(list.status == 200);
  const json all = json::parse(list.body);
  REQUIRE(all.size() == 2);
  CHECK(all[0]["kind"] == "maintenance");
  CHECK(all[1]["kind"] == "holiday");
  CHECK(all[1]["instrument"].is_null());
  const std::string hol_id = all[1]["id"];
  CHECK(s.call("DELETE", "/api/closures/" + hol_id, nullptr, ia).status == 403);
  CHECK(s.call("DELETE", "/api/closures/" + std::string(all[0]["id"]), nullptr, ia).status == 200);
  CHECK(s.call("DELETE", "/api/closures/" + hol_id).status == 200);
  CHECK(json::parse(s.call("GET", "/api/closures?instrument=inst-c&from=2026-01-01T00:00:00Z", nullptr, "").body).empty());
}

namespace {

/// The VEVENTs of an RFC 5545 text as libical (Debian's libical, not our reader) parses them:
/// uid -> {summary, description, status}; fails the test when libical finds an error.
std::map<std::string, std::array<std::string, 3>> libical_events(const std::string& text) {
  icalcomponent* cal = icalparser_parse_string(text.c_str());
  REQUIRE(cal != nullptr);
  REQUIRE(icalcomponent_isa(cal) == ICAL_VCALENDAR_COMPONENT);
  std::map<std::string, std::array<std::string, 3>> out;
  for (icalcomponent* e = icalcomponent_get_first_component(cal, ICAL_VEVENT_COMPONENT); e != nullptr;
       e = icalcomponent_get_next_component(cal, ICAL_VEVENT_COMPONENT)) {
    // libical marks what it could not parse with X-LIC-ERROR properties
    CHECK(icalcomponent_get_first_property(e, ICAL_XLICERROR_PROPERTY) == nullptr);
    const char* uid = icalcomponent_get_uid(e);
    REQUIRE(uid != nullptr);
    const char* summary = icalcomponent_get_summary(e);
    const char* description = icalcomponent_get_description(e);
    const char* status = icalproperty_status_to_string(icalcomponent_get_status(e));
    out[uid] = {summary ? summary : "", description ? description : "", status ? status : ""};
    CHECK(icaltime_as_timet(icalcomponent_get_dtend(e)) > icaltime_as_timet(icalcomponent_get_dtstart(e)));
  }
  icalcomponent_free(cal);
  return out;
}

}  // namespace

TEST_CASE("calendar feeds behind a secret URL: a user's bookings and an instrument's busy times, read by libical") {
  Site s;
  const std::string alice = s.login("alice");
  const std::string mine = s.book("alice", "2026-01-20T02:00:00Z", "2026-01-20T03:00:00Z");
  const std::string gone = s.book("alice", "2026-01-21T02:00:00Z", "2026-01-21T03:00:00Z");
  const std::string carols = s.book("carol", "2026-01-22T02:00:00Z", "2026-01-22T03:00:00Z");
  REQUIRE(s.call("DELETE", "/api/bookings/" + gone, nullptr, alice).status == 200);

  // the bootstrap token is nobody: no feed of its own; a visitor cannot ask for one
  CHECK(s.call("POST", "/api/me/calendar-feed").status == 404);
  CHECK(s.call("POST", "/api/me/calendar-feed", nullptr, "").status == 401);
  auto issued = s.call("POST", "/api/me/calendar-feed", nullptr, alice);
  REQUIRE(issued.status == 201);
  const std::string url = json::parse(issued.body)["url"];
  CHECK(url.rfind("/api/feeds/", 0) == 0);

  // the URL needs no sign-in; libical reads Alice's bookings, the cancelled one as CANCELLED
  auto feed = s.call("GET", url, nullptr, "");
  REQUIRE(feed.status == 200);
  CHECK(std::find(feed.headers.begin(), feed.headers.end(),
                  std::pair<std::string, std::string>{"Content-Type", "text/calendar; charset=utf-8"}) != feed.headers.end());
  auto events = libical_events(feed.body);
  REQUIRE(events.size() == 2);
  CHECK(events.at(mine + "@demo")[0] == "NMR");
  CHECK(events.at(mine + "@demo")[1].find("User: alice") != std::string::npos);
  CHECK(events.at(mine + "@demo")[2] == "CONFIRMED");
  CHECK(events.at(gone + "@demo")[2] == "CANCELLED");
  CHECK_FALSE(events.count(carols + "@demo"));

  // a new URL replaces the old one, which then answers 404 like any unknown token
  auto again = s.call("POST", "/api/me/calendar-feed", nullptr, alice);
  REQUIRE(again.status == 201);
  CHECK(s.call("GET", url, nullptr, "").status == 404);
  CHECK(s.call("GET", "/api/feeds/not-a-token/bookings.ics", nullptr, "").status == 404);
  CHECK(s.call("GET", std::string(json::parse(again.body)["url"]), nullptr, "").status == 200);

  // the instrument's feed: its admin issues it; every booking, nobody's name in it
  CHECK(s.call("POST", "/api/instruments/inst-c/calendar-feed", nullptr, alice).status == 403);
  auto inst = s.call("POST", "/api/instruments/inst-c/calendar-feed", nullptr, s.login("ia"));
  REQUIRE(inst.status == 201);
  auto busy = s.call("GET", std::string(json::parse(inst.body)["url"]), nullptr, "");
  REQUIRE(busy.status == 200);
  auto all = libical_events(busy.body);
  CHECK(all.size() == 3);
  for (const auto& [uid, e] : all) {
    CHECK(e[1].find("alice") == std::string::npos);
    CHECK(e[1].find("carol") == std::string::npos);
  }
  // issuing is audited, the secret is not
  auto entries = s.audit("calendar_feed");
  REQUIRE(entries.size() == 3);
  for (const auto& a : entries) CHECK(a.dump().find(json::parse(again.body)["token"].get<std::string>()) == std::string::npos);
}

TEST_CASE("recurring bookings: all or nothing naming the refused occurrences, or skipping them when asked") {
  Site s;
  // carol holds the third Tuesday
  const std::string taken = s.book("carol", "2026-02-03T02:00:00Z", "2026-02-03T03:00:00Z");
  const json series{{"instrument", "inst-c"}, {"user", "alice"}, {"start", "2026-01-20T02:00:00Z"},
                    {"end", "2026-01-20T03:00:00Z"}, {"rrule", "FREQ=WEEKLY;COUNT=4"}};
  auto none = s.call("POST", "/api/bookings/series", series);
  REQUIRE(none.status == 409);
  auto j = json::parse(none.body);
  CHECK(j["error"].get<std::string>().find("1 of 4") == 0);
  REQUIRE(j["refused"].size() == 1);
  CHECK(j["refused"][0]["conflict"] == taken);
  CHECK(j["refused"][0]["start"] == "2026-02-03T10:00:00.000+08:00");
  // nothing was booked
  auto all = json::parse(s.call("GET", "/api/bookings?limit=100").body);
  CHECK(std::count_if(all.begin(), all.end(), [](const json& b) { return b["user"] == "alice"; }) == 0);

  json skip = series;
  skip["skip_conflicts"] = true;
  auto some = s.call("POST", "/api/bookings/series", skip);
  REQUIRE(some.status == 201);
  j = json::parse(some.body);
  CHECK(j["created"].size() == 3);
  CHECK(j["refused"].size() == 1);
  CHECK(j["created"][2]["start"] == "2026-02-10T10:00:00.000+08:00");
  for (const auto& c : j["created"]) CHECK(s.listed(c["id"])["status"] == "active");
  // the same series again: every occurrence overlaps now
  auto again = s.call("POST", "/api/bookings/series", skip);
  CHECK(again.status == 409);
  CHECK(json::parse(again.body)["refused"].size() == 4);
  // a bad rule changes nothing
  json bad = series;
  bad["rrule"] = "FREQ=HOURLY;COUNT=2";
  auto refused = s.call("POST", "/api/bookings/series", bad);
  CHECK(refused.status == 422);
  CHECK(refused.body.find("rrule") != std::string::npos);
  // audited as one entry naming the bookings
  auto entries = s.audit("booking");
  CHECK(std::count_if(entries.begin(), entries.end(), [](const json& a) { return a["action"] == "create_series"; }) == 1);
}

TEST_CASE("waiting lists: join a taken slot, first in line booked when it frees up and told, leave the list") {
  Site s;
  const std::string carols = s.book("carol", "2026-01-20T02:00:00Z", "2026-01-20T04:00:00Z");
  const json want{{"instrument", "inst-c"}, {"user", "alice"}, {"start", "2026-01-20T02:00:00Z"},
                  {"end", "2026-01-20T03:00:00Z"}};
  // a free interval: book it instead
  json free = want;
  free["start"] = "2026-01-21T02:00:00Z";
  free["end"] = "2026-01-21T03:00:00Z";
  auto r = s.call("POST", "/api/waitlist", free);
  CHECK(r.status == 422);
  CHECK(r.body.find("free") != std::string::npos);
  r = s.call("POST", "/api/waitlist", want);
  REQUIRE(r.status == 201);
  auto first = json::parse(r.body);
  CHECK(first["position"] == 1);
  CHECK(first["status"] == "waiting");
  CHECK(s.call("POST", "/api/waitlist", want).status == 422);  // once per interval
  // ia waits too, for part of it, and then leaves; carol (qualified) second in line
  s.ok("POST", "/api/qualifications", {{"user", "ia"}, {"instrument", "inst-c"}});
  json ias = want;
  ias["user"] = "ia";
  r = s.call("POST", "/api/waitlist", ias);
  REQUIRE(r.status == 201);
  CHECK(json::parse(r.body)["position"] == 2);
  const std::string ia_entry = json::parse(r.body)["id"];
  CHECK(s.call("DELETE", "/api/waitlist/" + ia_entry, nullptr, s.login("alice")).status == 403);  // not hers
  REQUIRE(s.call("DELETE", "/api/waitlist/" + ia_entry).status == 200);
  CHECK(s.call("DELETE", "/api/waitlist/" + ia_entry).status == 409);

  // carol cancels: alice is booked in the same unit of work and told
  REQUIRE(s.call("DELETE", "/api/bookings/" + carols).status == 200);
  auto entries = json::parse(s.call("GET", "/api/waitlist?instrument=inst-c").body);
  json mine;
  for (const auto& e : entries)
    if (e["id"] == first["id"]) mine = e;
  REQUIRE(mine.is_object());
  CHECK(mine["status"] == "promoted");
  const std::string booked = mine["booking"];
  auto b = s.listed(booked);
  CHECK(b["user"] == "alice");
  CHECK(b["status"] == "active");
  CHECK(b["start"] == "2026-01-20T10:00:00.000+08:00");
  auto notices = json::parse(s.call("GET", "/api/notices?user=alice&limit=100").body);
  CHECK(std::any_of(notices.begin(), notices.end(), [](const json& n) { return n["kind"] == "waitlist_promoted"; }));
  // the bundle carries alice's booking
  bool in_bundle = false;
  for (const auto& slot : s.bundle().bookings) in_bundle = in_bundle || slot.id == booked;
  CHECK(in_bundle);
}

TEST_CASE("a holder is told once, two weeks ahead, that a qualification expires or lapses unused") {
  Site s;
  // carol's expires in 7 days; alice's was granted 20 days ago, unused, and the NMR lets it lapse after a month
  s.ok("POST", "/api/qualifications", {{"user", "carol"}, {"instrument", "inst-c"}, {"valid_until", "2026-01-22T00:00:00Z"}});
  s.ok("POST", "/api/qualifications", {{"user", "alice"}, {"instrument", "inst-c"}, {"valid_from", "2025-12-26T00:00:00Z"}});
  s.ok("PUT", "/api/instruments/inst-c/booking-policy", {{"lapse_months", 1}});
  // ia's is long-lived and used: no notice
  s.ok("POST", "/api/qualifications", {{"user", "ia"}, {"instrument", "inst-c"}});
  s.app.warn_lapsing();
  s.app.warn_lapsing();  // once per end
  auto told = [&](const std::string& user) {
    auto n = json::parse(s.call("GET", "/api/notices?user=" + user + "&limit=100").body);
    std::vector<json> out;
    for (const auto& x : n)
      if (x["kind"] == "qualification_lapsing") out.push_back(x);
    return out;
  };
  auto carol = told("carol");
  REQUIRE(carol.size() == 1);
  CHECK(carol[0]["subject"].get<std::string>().find("NMR") != std::string::npos);
  auto alice = told("alice");
  REQUIRE(alice.size() == 1);
  CHECK(alice[0]["body"].get<std::string>().find("2026-01-26") != std::string::npos);  // 2025-12-26 + 1 month
  CHECK(told("ia").empty());
}
