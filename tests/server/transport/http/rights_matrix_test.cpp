// The route x role x scope matrix: every route of the router table is called by a person of each
// role (and a visitor) on an object in their scope (化学院's) and one outside it (物理系's), and the
// status is checked against the expectations written below, by hand, from the rights table in
// docs/RIGHTS.md. A route without a line here fails the test: adding a route means deciding who
// may call it. Lists are checked for what they show: the in-scope marker only to those whose
// scope holds it, the out-of-scope marker to the system admin only.
#include <doctest/doctest.h>

#include <map>
#include <set>
#include <tuple>

#include <nlohmann/json.hpp>

#include "labgate/common/pki.hpp"
#include "server/core/app.hpp"
#include "server/identity/auth.hpp"
#include "server/terminals/provisioning.hpp"
#include "server/terminals/site_ca.hpp"
#include "server/transport/http/api.hpp"
#include "tests/server/test_support.hpp"

using namespace lg;
using namespace lg::server;
using namespace lg::server::test;
using nlohmann::json;

namespace {

/// Every signed-in persona is also an active user, so lists that show a person's own records answer
// them all (with what is theirs). The personas: S system admin, A unit admin of 化学院 (chem), I instrument admin of inst-c,
/// F finance of chem, P the PI of group g-c, U the user stu-c (a member of g-c), V a visitor.
constexpr std::string_view kRoles = "SAIFPUV";

/// What one route must answer.
struct Expect {
  std::string in;   ///< the roles allowed on the in-scope object
  std::string out;  ///< the roles allowed on the out-of-scope object
  /// Bodies or query strings with {X} placeholders replaced by the in-scope or out-of-scope ids.
  std::string body{};
  std::string query{};
  /// Lists: who sees the in-scope marker (the out-of-scope one only S sees).
  std::string sees_in{};
  std::string marker_in{};
  std::string marker_out{};
  bool allowed_may_404 = false;  ///< an allowed call may answer 404 (the caller has none)
};

/// In- and out-of-scope ids by placeholder.
const std::map<std::string, std::pair<std::string, std::string>> kIds{
    {"unit", {"chem-dept", "phys"}},      {"lab", {"lab-c", "lab-p"}},    {"instrument", {"inst-c", "inst-p"}},
    {"user", {"stu-c", "stu-p"}},         {"card", {"0A0C", "0A0F"}},     {"group", {"g-c", "g-p"}},
    {"terminal", {"t-c", "t-p"}},         {"registration", {"ext-c", "ext-p"}},
};

const std::map<std::string, Expect>& expectations() {
  static const std::map<std::string, Expect> kTable{
      {"GET /api/health", {"SAIFPUV", "SAIFPUV"}},
      {"GET /metrics", {"SAIFPUV", "SAIFPUV"}},
      {"GET /api/openapi.json", {"SAIFPUV", "SAIFPUV"}},
      // The catalogue is public.
      {"GET /api/units", {"SAIFPUV", "SAIFPUV"}},
      {"GET /api/labs", {"SAIFPUV", "SAIFPUV"}},
      {"GET /api/instruments", {"SAIFPUV", "SAIFPUV"}},
      {"GET /api/fee-standards", {"SAIFPUV", "SAIFPUV"}},
      {"POST /api/units", {"SA", "S", R"({"id":"new-unit","name":"New","parent":"{unit}"})"}},
      {"PATCH /api/units/{id}", {"SA", "S", R"({"name":"Renamed"})"}},
      {"DELETE /api/units/{id}", {"SA", "S"}},
      {"POST /api/labs", {"SA", "S", R"({"id":"new-lab","name":"New","unit":"{unit}"})"}},
      {"PATCH /api/labs/{id}", {"SA", "S", R"({"name":"Renamed"})"}},
      {"DELETE /api/labs/{id}", {"SA", "S"}},
      {"POST /api/instruments", {"SA", "S", R"({"id":"new-inst","name":"New","lab":"{lab}","kind":"instrument"})"}},
      {"PATCH /api/instruments/{id}", {"SAI", "S", R"({"status":"maintenance"})"}},
      {"DELETE /api/instruments/{id}", {"SAI", "S"}},
      {"GET /api/moves", {"SAPU", "S", "", "entity=user&id={user}", "SAPU", "", ""}},
      {"POST /api/users", {"SA", "S", R"({"id":"new-user","name":"New","unit":"{unit}","category":"internal_student"})"}},
      {"PATCH /api/users/{id}", {"SA", "S", R"({"name":"Renamed"})"}},
      {"DELETE /api/users/{id}", {"SA", "S"}},
      {"GET /api/users", {"SAIFPU", "SAIFPU", "", "", "SAPU", "\"stu-c\"", "\"stu-p\""}},
      {"PUT /api/users/{id}/password", {"SA", "S", R"({"password":"a long secret 1"})"}},
      {"POST /api/cards", {"SA", "S", R"({"uid":"0B0B","user":"{user}"})"}},
      {"PATCH /api/cards/{uid}", {"SA", "S", R"({"valid_until":null})"}},
      {"DELETE /api/cards/{uid}", {"SA", "S"}},
      {"POST /api/cards/{uid}/lost", {"SAPU", "S"}},
      {"POST /api/cards/{uid}/revoke", {"SA", "S"}},
      {"POST /api/cards/{uid}/replace", {"SA", "S", R"({"uid":"0C0C"})"}},
      {"GET /api/cards", {"SAIFPU", "SAIFPU", "", "", "SAPU", "\"stu-c\"", "\"stu-p\""}},
      {"POST /api/groups", {"SA", "S", R"({"id":"new-group","name":"New","pi":"{user}","unit":"{unit}"})"}},
      {"GET /api/groups", {"SAIFPU", "SAIFPU", "", "", "SAP", "\"g-c\"", "\"g-p\""}},
      {"PATCH /api/groups/{id}", {"SA", "S", R"({"name":"Renamed"})"}},
      {"DELETE /api/groups/{id}", {"SA", "S"}},
      {"GET /api/groups/{id}/members", {"SAP", "S"}},
      {"POST /api/groups/{id}/members", {"SA", "S", R"({"user":"new-member-{scope}"})"}},
      {"DELETE /api/groups/{id}/members/{user}", {"SA", "S"}},
      {"POST /api/import", {"S", "S", R"({"dry_run":true,"files":[{"kind":"units","name":"u.csv","text":"id,name\nz,Z\n"}]})"}},
      // The hourly import of an already-approved standard: a system admin's (Right::site).
      {"POST /api/fee-standards",
       {"S", "S", R"({"instrument":"{instrument}","internal_fen_per_hour":100,"external_fen_per_hour":200})"}},
      {"DELETE /api/fee-standards/{instrument}", {"SF", "S"}},
      // Fee standard versions (server/billing/http.cpp): fee_in is a version of inst-c under the unit's
      // review (submitted), fee_out one of inst-p. The instrument's admins draft, edit, submit and
      // withdraw (instrument_write; on a version under review an allowed caller gets 409); the unit's
      // review takes fee_review (unit admin), then money_write (finance), then fee_approve (the
      // committee, docs/RIGHTS.md); a version under review is seen by those taking part, a published
      // one by everyone.
      {"POST /api/instruments/{id}/fee-versions",
       {"SAI", "S",
        R"({"lines":[{"code":"h","name":"H","kind":"hour","prices":{"internal":1,"other_campus":1,"external_academic":1,"enterprise":1}}]})"}},
      {"GET /api/instruments/{id}/fee-versions", {"SAIFPU", "SAIFPU"}},
      {"GET /api/instruments/{id}/fee-standard", {"SAIFPUV", "SAIFPUV"}},
      {"GET /api/fee-versions/{id}", {"SAIF", "S"}},
      {"PUT /api/fee-versions/{id}",
       {"SAI", "S",
        R"({"lines":[{"code":"h","name":"H","kind":"hour","prices":{"internal":2,"other_campus":2,"external_academic":2,"enterprise":2}}]})"}},
      {"POST /api/fee-versions/{id}/submit", {"SAI", "S"}},
      {"POST /api/fee-versions/{id}/withdraw", {"SAI", "S"}},
      {"POST /api/fee-versions/{id}/approve", {"SA", "S"}},
      {"POST /api/fee-versions/{id}/reject", {"SA", "S", R"({"reason":"labour counted twice"})"}},
      {"POST /api/fee-versions/{id}/quote",
       {"SAIF", "S", R"({"category":"internal_staff","start":"2026-01-16T02:00:00Z","end":"2026-01-16T03:00:00Z"})"}},
      {"GET /api/charges", {"SAIFPU", "SAIFPU", "", "from=2026-01&to=2026-01"}},
      {"POST /api/qualifications", {"SAI", "S", R"({"user":"{user}","instrument":"{instrument}"})"}},
      {"DELETE /api/qualifications/{user}/{instrument}", {"SAI", "S"}},
      {"GET /api/qualifications", {"SAIFPU", "SAIFPU", "", "", "SAIFPU", "\"inst-c\"", "\"inst-p\""}},
      {"POST /api/bookings",
       {"SAIPU", "S",
        R"({"instrument":"{instrument}","user":"{user}","start":"2026-01-20T02:00:00Z","end":"2026-01-20T03:00:00Z"})"}},
      {"POST /api/bookings/series",
       {"SAIPU", "S",
        R"({"instrument":"{instrument}","user":"{user}","start":"2026-01-27T02:00:00Z","end":"2026-01-27T03:00:00Z","rrule":"FREQ=WEEKLY;COUNT=2"})"}},
      // The in-scope booking is stu-c's on inst-c, the out-of-scope one stu-p's on inst-p.
      {"PATCH /api/bookings/{id}", {"SAIPU", "S", R"({"start":"2026-01-21T02:00:00Z","end":"2026-01-21T03:00:00Z"})"}},
      {"DELETE /api/bookings/{id}", {"SAIPU", "S"}},
      {"GET /api/bookings", {"SAIFPU", "SAIFPU", "", "", "SAIFPU", "\"inst-c\"", "\"inst-p\""}},
      // Approving and refusing a pending booking is the instrument's admins' (the fixture's are
      // active: 409, which is past the rights check).
      {"POST /api/bookings/{id}/approve", {"SAI", "S"}},
      {"POST /api/bookings/{id}/refuse", {"SAI", "S", R"({"reason":"no operator"})"}},
      // The booking rules and closures are public; the instrument's admins set them.
      {"GET /api/instruments/{id}/booking-policy", {"SAIFPUV", "SAIFPUV"}},
      {"PUT /api/instruments/{id}/booking-policy", {"SAI", "S", R"({"slot_s":1800,"min_length_s":1800})"}},
      {"GET /api/closures", {"SAIFPUV", "SAIFPUV"}},
      {"POST /api/closures",
       {"SAI", "S",
        R"({"instrument":"{instrument}","kind":"maintenance","start":"2026-02-03T00:00:00Z","end":"2026-02-03T04:00:00Z"})"}},
      {"DELETE /api/closures/{id}", {"SAI", "S"}},
      // The same rows as an iCalendar feed: the instrument's name (here its id) is the SUMMARY.
      {"GET /api/bookings.ics", {"SAIFPU", "SAIFPU", "", "", "SAIFPU", "SUMMARY:inst-c\r\n", "SUMMARY:inst-p\r\n"}},
      {"POST /api/terminals", {"SAI", "S", R"({"id":"new-term","resource":"{instrument}","public_key":"{pem}"})"}},
      {"DELETE /api/terminals/{id}", {"SAI", "S"}},
      {"GET /api/terminals", {"SAI", "SAI", "", "", "SAI", "\"t-c\"", "\"t-p\""}},
      // Provisioning (App::enable_provisioning): tokens and revocation as adding and retiring a
      // terminal; enrolment and renewal are open, the token or the enrolled key is the credential.
      {"POST /api/terminals/enrolments", {"SAI", "S", R"({"id":"new-term","resource":"{instrument}"})"}},
      {"POST /api/terminals/{id}/revoke", {"SAI", "S", R"({"reason":"lost"})"}},
      {"GET /api/terminals/{id}/certificates", {"SAI", "S"}},
      // Remote commands (server/sync/http.cpp): as revoking the terminal. No answer yet: 404.
      {"POST /api/terminals/{id}/commands", {"SAI", "S", R"({"kind":"resync"})"}},
      {"GET /api/terminals/{id}/commands/last", {"SAI", "S", "", "", "", "", "", true}},
      {"POST /api/enrol", {"SAIFPUV", "SAIFPUV", R"({"token":"{enrol_token}","csr":"{csr_new}"})"}},
      {"POST /api/enrol/renew", {"SAIFPUV", "SAIFPUV", R"({"csr":"{csr_renew}"})"}},
      {"GET /api/audit", {"SAIF", "SAIF", "", "entity=fee_standard", "SAIF", "\"inst-c\"", "\"inst-p\""}},
      {"GET /api/audit/verify", {"S", "S"}},
      {"GET /api/access-events", {"SAIFPU", "SAIFPU"}},
      {"GET /api/sessions", {"SAIFPU", "SAIFPU"}},
      {"GET /api/stats", {"S", "S"}},
      {"GET /api/reports/usage", {"SAIFPU", "SAIFPU", "", "by=instrument&from=2026-01&to=2026-01"}},
      // Sign-in and the caller's own account.
      {"POST /api/login", {"SAIFPUV", "SAIFPUV", R"({"user":"stu-c","password":"stu-c password"})"}},
      {"POST /api/login/cas", {"SAIFPUV", "SAIFPUV", R"({"ticket":"ST-1","service":"http://x/"})"}},
      {"POST /api/logout", {"SAIFPU", "SAIFPU"}},
      {"GET /api/me", {"SAIFPU", "SAIFPU"}},
      {"GET /api/me/sessions", {"SAIFPU", "SAIFPU"}},
      {"GET /api/me/tokens", {"SAIFPU", "SAIFPU"}},
      {"POST /api/me/tokens", {"SAIFPU", "SAIFPU", R"({"name":"script","days":30})"}},
      {"POST /api/me/password", {"SAIFPU", "SAIFPU", R"({"old":"stu-c password","new":"a long secret 2"})"}},
      {"GET /api/me/registration", {"SAIFPU", "SAIFPU", "", "", "", "", "", true}},
      // The notification outbox: the site reads and retries every notice (addresses and texts are
      // personal data); each signed-in person reads their own. No notice has a unit's id: 404.
      {"GET /api/notices", {"S", "S"}},
      {"GET /api/me/notices", {"SAIFPU", "SAIFPU"}},
      {"POST /api/notices/{id}/retry", {"S", "S", "", "", "", "", "", true}},
      // {own} is the caller's own session, {other} someone else's: nobody revokes another's.
      {"DELETE /api/me/sessions/{id}", {"SAIFPU", ""}},
      {"DELETE /api/me/tokens/{id}", {"SAIFPU", ""}},
      {"GET /api/roles", {"SAIFPU", "SAIFPU", "", "", "SA", "\"ua\"", "\"pa\""}},
      {"POST /api/roles", {"SA", "S", R"({"user":"{user}","role":"unit_admin","scope_id":"{unit}"})"}},
      {"DELETE /api/roles/{id}", {"SA", "S"}},
      {"POST /api/registrations",
       {"SAIFPUV", "SAIFPUV",
        R"({"id":"ext-new","name":"Ext","unit":"{unit}","category":"enterprise","organisation":"ACME","email":"e@acme.cn","password":"a long secret 3"})"}},
      {"GET /api/registrations", {"SAIFPU", "SAIFPU", "", "", "SA", "\"ext-c\"", "\"ext-p\""}},
      {"GET /api/registrations/{id}", {"SA", "S"}},
      {"POST /api/registrations/{id}/approve", {"SA", "S"}},
      {"POST /api/registrations/{id}/refuse", {"SA", "S", R"({"reason":"unknown organisation"})"}},
      // Sample orders (server/orders/http.cpp): the in-scope order is stu-c's on inst-c, the
      // out-of-scope one stu-p's on inst-p, both submitted, each with one attachment. Submitting,
      // confirming and cancelling are the user's (Right::self over the order's user), the steps of
      // the service the instrument admin's (Right::instrument_write over its instrument); a step
      // from the wrong state answers 409 to those allowed. Reading: Right::usage_read.
      {"POST /api/orders",
       {"SAPU", "S",
        R"({"instrument":"{instrument}","user":"{user}","samples":{"count":1,"form":"solid"},"tests":"XRD","delivery":"courier","account":"acct-1"})"}},
      {"GET /api/orders", {"SAIFPU", "SAIFPU", "", "", "SAIFPU", "\"inst-c\"", "\"inst-p\""}},
      {"GET /api/orders/{id}", {"SAIFPU", "S"}},
      {"POST /api/orders/{id}/accept", {"SAI", "S"}},
      {"POST /api/orders/{id}/refuse", {"SAI", "S", R"({"reason":"not our service"})"}},
      {"POST /api/orders/{id}/receive", {"SAI", "S"}},
      {"POST /api/orders/{id}/session", {"SAI", "S", R"({"session":"no-such-session"})"}},
      {"POST /api/orders/{id}/complete", {"SAI", "S"}},
      {"POST /api/orders/{id}/confirm", {"SAPU", "S"}},
      {"POST /api/orders/{id}/cancel", {"SAIPU", "S", R"({"reason":"instrument down"})"}},
      // A raw body without a Content-Type: 415 for those who may add a file.
      {"POST /api/orders/{id}/attachments", {"SAIPU", "S", "abc", "name=a.txt"}},
      {"GET /api/orders/{id}/attachments/{attachment}", {"SAIFPU", "S"}},
      // Training (server/training/http.cpp): the in-scope course is on inst-c, the out-of-scope one
      // on inst-p, each with one session in which stu-c / stu-p is enrolled. Courses and their
      // sessions are managed with Right::instrument_write over the course's instruments and read by
      // every signed-in user; enrolment is the trainee's (Right::self over them) or a manager's; the
      // roster, attendance and results are the managers'. A rule's refusal (already enrolled, not
      // attended) answers 422 to those allowed.
      {"POST /api/courses",
       {"SAI", "S",
        R"({"id":"new-course-{scope}","title":"T","kind":"instrument","instruments":["{instrument}"],"assessment":"exam"})"}},
      {"GET /api/courses", {"SAIFPU", "SAIFPU"}},
      {"GET /api/courses/{id}", {"SAIFPU", "SAIFPU"}},
      {"POST /api/courses/{id}/sessions",
       {"SAI", "S", R"({"id":"new-session-{scope}","start":"2026-03-02T02:00:00Z","end":"2026-03-02T04:00:00Z","capacity":2})"}},
      {"GET /api/courses/{id}/sessions", {"SAIFPU", "SAIFPU"}},
      {"POST /api/training-sessions/{id}/enrolments", {"SAIPU", "S", R"({"user":"{user}"})"}},
      {"DELETE /api/training-sessions/{id}/enrolments/{user}", {"SAIPU", "S"}},
      {"POST /api/training-sessions/{id}/cancel", {"SAI", "S"}},
      {"GET /api/training-sessions/{id}/roster", {"SAI", "S"}},
      {"POST /api/training-sessions/{id}/attendance", {"SAI", "S", R"({"user":"{user}","attendance":"attended"})"}},
      {"POST /api/training-sessions/{id}/result", {"SAI", "S", R"({"user":"{user}","score":90})"}},
      {"GET /api/me/trainings", {"SAIFPU", "SAIFPU"}},
      // Conduct and credit (server/conduct/http.cpp): the in-scope event is stu-c's no-show on inst-c.
      // The instrument's admins waive (a second waiver is 409, past the rights check); a user's
      // credit is read like their other records; everyone signed in reads their own.
      {"PUT /api/bookings/{id}/staffed", {"SAI", "S", R"({"staffed":true})"}},
      {"GET /api/conduct-events", {"SAIFPU", "SAIFPU", "", "", "SAIFPU", "\"ce-inst-c\"", "\"ce-inst-p\""}},
      {"POST /api/conduct-events/{id}/waive", {"SAI", "S", R"({"reason":"the door was jammed"})"}},
      {"GET /api/users/{id}/credit", {"SAFPU", "S"}},
      {"GET /api/me/credit", {"SAIFPU", "SAIFPU"}},
      // Calendar feeds: everyone signed in gets a URL of their own bookings; an instrument's admins
      // one of its bookings; the URL itself is the secret (no sign-in).
      {"POST /api/me/calendar-feed", {"SAIFPU", "SAIFPU"}},
      // Waiting lists: joined like a booking is made (the slot is taken: 201, or 422 for a second
      // entry, past the rights check); left by the user or the instrument's admins.
      {"POST /api/waitlist",
       {"SAIPU", "S", R"({"instrument":"{instrument}","user":"{user}","start":"2026-01-16T02:00:00Z","end":"2026-01-16T03:00:00Z"})"}},
      {"GET /api/waitlist", {"SAIFPU", "SAIFPU", "", "", "SAIFPU", "\"inst-c\"", "\"inst-p\""}},
      {"DELETE /api/waitlist/{id}", {"SAIPU", "S"}},
      {"POST /api/instruments/{id}/calendar-feed", {"SAI", "S"}},
      {"GET /api/feeds/{token}/bookings.ics", {"SAIFPUV", "SAIFPUV"}},
      // The ledger (server/ledger/http.cpp): acct-in is g-c's grant in chem-dept (stu-c a member),
      // acct-out g-p's in phys; rev-in / rev-out their labs' revenue; a hold on each grant. Finance
      // opens, changes and moves; the PI approves members; unit admins and PIs read.
      {"POST /api/accounts",
       {"SF", "S", R"({"id":"new-acct-{scope}","kind":"grant","name":"N","unit":"{unit}","group":"{group}","owner":"pi-c"})"}},
      {"GET /api/accounts", {"SAIFPU", "SAIFPU", "", "", "SAFP", "\"acct-in\"", "\"acct-out\""}},
      {"GET /api/accounts/{id}", {"SAFP", "S"}},
      {"PATCH /api/accounts/{id}", {"SF", "S", R"({"name":"Renamed"})"}},
      {"POST /api/accounts/{id}/members", {"SFP", "S", R"({"user":"{user}"})"}},
      {"DELETE /api/accounts/{id}/members/{user}", {"SFP", "S"}},
      {"POST /api/accounts/{id}/top-ups", {"SF", "S", R"({"receipt":"R-{scope}","amount_fen":100})"}},
      {"POST /api/accounts/{id}/budget", {"SF", "S", R"({"ref":"B-{scope}","amount_fen":100})"}},
      {"GET /api/accounts/{id}/transfers", {"SAFP", "S"}},
      {"POST /api/transfers",
       {"SF", "S", R"({"key":"k-{scope}","debit":"acct-{scope}","credit":"rev-{scope}","amount_fen":1,"kind":"correction","memo":"m"})"}},
      {"POST /api/holds",
       {"SF", "S", R"({"key":"h-{scope}","account":"acct-{scope}","revenue":"rev-{scope}","amount_fen":1,"until":"2026-01-16T00:00:00Z"})"}},
      {"POST /api/holds/{id}/post", {"SF", "S", R"({"amount_fen":1,"charge":"c-1"})"}},
      {"POST /api/holds/{id}/release", {"SF", "S"}},
      {"GET /api/holds", {"SAIFPU", "SAIFPU", "", "", "SAFP", "\"acct-in\"", "\"acct-out\""}},
      {"GET /api/me/accounts", {"SAIFPU", "SAIFPU"}},
      {"GET /api/ledger/check", {"S", "S"}},
      {"PUT /api/me/default-account", {"SAIFPU", "SAIFPU", R"({"account":"acct-{scope}"})", "", "", "", "", true}},
      // Settlement (server/settlement/http.cpp): the in-scope posting is stu-c's charge on inst-c,
      // the out-of-scope one stu-p's on inst-p. The instrument's admins review; settling a month,
      // reconciling and allocating are site-wide (a system admin); statements and vouchers list
      // what the caller may see.
      {"GET /api/postings", {"SAIFPU", "SAIFPU", "", "", "SAFPU", "\"inst-c\"", "\"inst-p\""}},
      {"PUT /api/postings/{charge}/adjustment", {"SAI", "S", R"({"amount_fen":1,"reason":"tube failed"})"}},
      {"PUT /api/postings/{charge}/account", {"SAI", "S", R"({"account":"acct-{scope}"})"}},
      {"POST /api/postings/{charge}/confirm", {"SAI", "S"}},
      {"POST /api/settlements", {"S", "S", R"({"month":"2025-12"})"}},
      {"GET /api/settlements", {"SAIFPU", "SAIFPU"}},
      {"GET /api/statements", {"SAIFPU", "SAIFPU"}},
      {"GET /api/settlements/{month}/vouchers", {"SAIFPU", "SAIFPU"}},
      {"POST /api/reconciliations", {"S", "S", "ref,statement,amount\nV1,acct-in:2025-12,1.00\n"}},
      {"GET /api/reconciliations/{id}", {"S", "S", "", "", "", "", "", true}},
      {"POST /api/allocations", {"S", "S", R"({"ref":"2025-12"})"}},
  };
  return kTable;
}

/// A site with two branches of the tree and a person in each role.
struct Site {
  TempDir dir;
  std::unique_ptr<TestStore> store = open_store(dir);
  crypto::PrivateKey server_key = new_key();
  RecordingPublisher pub;
  int64_t now = ms("2026-01-15T00:00:00Z");
  ServerConfig cfg = [this] {
    ServerConfig c;
    c.site = "demo";
    c.data_dir = dir.path / "data";  // order attachments
    c.admin_token = "bootstrap-token-0123";
    c.auth.password_t_cost = 1;
    c.auth.password_m_cost_kib = 64;
    return c;
  }();
  /// The site CA in the temp dir, so that the provisioning routes exist (no broker files).
  terminals::Provisioning provisioning = [this] {
    terminals::Provisioning p;
    auto ca = terminals::SiteCa::open(dir.path / "pki", "demo", now);
    REQUIRE_MESSAGE(ca, (ca ? "" : ca.error().message()));
    p.ca = std::move(*ca);
    p.settings.site = "demo";
    return p;
  }();
  App app{store->stores(), server_key, cfg, pub, [this] { return now; }, "0.1.0"};
  std::map<char, std::string> token;       ///< persona -> bearer secret
  std::map<char, std::string> session_id;  ///< persona -> its session's id
  crypto::PrivateKey terminal_key = new_key();  ///< t-c's and t-p's key (renewal requests)
  std::string pem = terminal_key.public_pem();
  std::string enrol_token;          ///< a fresh token for new-enrolled on inst-c
  std::string csr_new, csr_renew;   ///< requests of a new device and of t-c's enrolled key
  std::string grant_in, grant_out;  ///< unit_admin grants in chem-dept and in phys (to revoke)
  std::string booking_in, booking_out;  ///< stu-c's booking on inst-c, stu-p's on inst-p
  std::string order_in, order_out;      ///< stu-c's sample order on inst-c, stu-p's on inst-p
  std::string attachment_in, attachment_out;  ///< a file of each
  std::string closure_in, closure_out;  ///< a blackout of inst-c, one of inst-p
  std::string conduct_in, conduct_out;  ///< a no-show of stu-c on inst-c, one of stu-p on inst-p
  std::string feed_token;               ///< the secret of inst-c's calendar feed
  std::string wait_in, wait_out;        ///< stu-c waiting on inst-c (for its own booking's slot), stu-p on inst-p
  std::string fee_in, fee_out;          ///< a fee standard version of inst-c, one of inst-p, both under the unit's review
  std::string hold_in, hold_out;        ///< a hold on acct-in, one on acct-out
  // Training: course-c on inst-c with session ts-c (stu-c enrolled), course-p on inst-p with ts-p (stu-p).

  http::Response call(const std::string& method, const std::string& target, const std::string& body,
                      const std::string& bearer) {
    return app.handle_http(http::make_request(method, target, bearer.empty() ? "" : "Bearer " + bearer, body));
  }
  void boot(const std::string& method, const std::string& target, const json& body) {
    auto r = call(method, target, body.dump(), "bootstrap-token-0123");
    INFO(method << " " << target << " " << r.body);
    REQUIRE(r.status / 100 == 2);
  }
  std::string grant(const std::string& user, const std::string& role, const std::string& scope) {
    json b{{"user", user}, {"role", role}};
    if (!scope.empty()) b["scope_id"] = scope;
    auto r = call("POST", "/api/roles", b.dump(), "bootstrap-token-0123");
    INFO(r.body);
    REQUIRE(r.status == 201);
    return json::parse(r.body)["id"];
  }

  Site() {
    app.health().broker(true);
    REQUIRE(app.enable_provisioning(provisioning));
    boot("POST", "/api/units", {{"id", "chem"}, {"name", "化学院"}});
    boot("POST", "/api/units", {{"id", "chem-dept"}, {"name", "化学系"}, {"parent", "chem"}});
    boot("POST", "/api/units", {{"id", "phys"}, {"name", "物理系"}});
    boot("POST", "/api/labs", {{"id", "lab-c"}, {"name", "Lab C"}, {"unit", "chem-dept"}});
    boot("POST", "/api/labs", {{"id", "lab-p"}, {"name", "Lab P"}, {"unit", "phys"}});
    for (auto [id, lab] : {std::pair{"inst-c", "lab-c"}, {"inst-p", "lab-p"}}) {
      boot("POST", "/api/instruments", {{"id", id}, {"name", id}, {"lab", lab}, {"kind", "instrument"}});
      boot("POST", "/api/fee-standards", {{"instrument", id}, {"internal_fen_per_hour", 100}, {"external_fen_per_hour", 200}});
      auto r = call("POST", "/api/instruments/" + std::string(id) + "/fee-versions",
                    R"({"lines":[{"code":"h","name":"H","kind":"hour","prices":{"internal":1,"other_campus":1,"external_academic":1,"enterprise":1}}]})",
                    "bootstrap-token-0123");
      INFO(r.body);
      REQUIRE(r.status == 201);
      std::string& version = std::string(id) == "inst-c" ? fee_in : fee_out;
      version = json::parse(r.body)["id"].get<std::string>();
      boot("POST", "/api/fee-versions/" + version + "/submit", json::object());
    }
    for (auto [id, unit] : {std::pair{"sys", "chem"}, {"ua", "chem"}, {"ia", "chem-dept"}, {"fin", "chem"}, {"pi-c", "chem-dept"},
                            {"stu-c", "chem-dept"}, {"pi-p", "phys"}, {"stu-p", "phys"}, {"pa", "phys"}}) {
      boot("POST", "/api/users", {{"id", id}, {"name", id}, {"unit", unit}, {"category", "internal_staff"}});
    }
    for (auto scope : {"in", "out"}) {
      const std::string unit = std::string(scope) == "in" ? "chem-dept" : "phys";
      boot("POST", "/api/users", {{"id", "new-member-" + std::string(scope)}, {"name", "N"}, {"unit", unit}, {"category", "internal_student"}});
    }
    boot("POST", "/api/groups", {{"id", "g-c"}, {"name", "Group C"}, {"pi", "pi-c"}, {"unit", "chem-dept"}});
    boot("POST", "/api/groups", {{"id", "g-p"}, {"name", "Group P"}, {"pi", "pi-p"}, {"unit", "phys"}});
    boot("POST", "/api/groups/g-c/members", {{"user", "stu-c"}});
    boot("POST", "/api/groups/g-p/members", {{"user", "stu-p"}});
    boot("POST", "/api/cards", {{"uid", "0A0C"}, {"user", "stu-c"}});
    boot("POST", "/api/cards", {{"uid", "0A0F"}, {"user", "stu-p"}});
    boot("POST", "/api/qualifications", {{"user", "stu-c"}, {"instrument", "inst-c"}});
    boot("POST", "/api/qualifications", {{"user", "stu-p"}, {"instrument", "inst-p"}});
    auto book = [&](const std::string& inst, const std::string& user) {
      auto r = call("POST", "/api/bookings",
                    json{{"instrument", inst}, {"user", user}, {"start", "2026-01-16T02:00:00Z"},
                         {"end", "2026-01-16T03:00:00Z"}}
                        .dump(),
                    "bootstrap-token-0123");
      INFO(r.body);
      REQUIRE(r.status == 201);
      return json::parse(r.body)["id"].get<std::string>();
    };
    booking_in = book("inst-c", "stu-c");
    booking_out = book("inst-p", "stu-p");
    auto order = [&](const std::string& inst, const std::string& user, std::string& file) {
      auto r = call("POST", "/api/orders",
                    json{{"instrument", inst}, {"user", user}, {"samples", {{"count", 1}, {"form", "liquid"}}},
                         {"tests", "NMR"}, {"delivery", "in_person"}, {"account", "acct-" + user}}
                        .dump(),
                    "bootstrap-token-0123");
      INFO(r.body);
      REQUIRE(r.status == 201);
      const std::string id = json::parse(r.body)["id"];
      auto up = http::make_request("POST", "/api/orders/" + id + "/attachments?name=sheet.txt",
                                   "Bearer bootstrap-token-0123", "sample sheet");
      up.content_type = "text/plain";
      auto a = app.handle_http(up);
      INFO(a.body);
      REQUIRE(a.status == 201);
      file = json::parse(a.body)["id"].get<std::string>();
      return id;
    };
    order_in = order("inst-c", "stu-c", attachment_in);
    order_out = order("inst-p", "stu-p", attachment_out);
    auto blackout = [&](const std::string& inst) {
      auto r = call("POST", "/api/closures",
                    json{{"instrument", inst}, {"kind", "blackout"}, {"start", "2026-02-01T00:00:00Z"},
                         {"end", "2026-02-02T00:00:00Z"}}
                        .dump(),
                    "bootstrap-token-0123");
      INFO(r.body);
      REQUIRE(r.status == 201);
      return json::parse(r.body)["id"].get<std::string>();
    };
    closure_in = blackout("inst-c");
    closure_out = blackout("inst-p");
    for (auto [course, inst, sess, user] : {std::tuple{"course-c", "inst-c", "ts-c", "stu-c"},
                                            std::tuple{"course-p", "inst-p", "ts-p", "stu-p"}}) {
      boot("POST", "/api/courses",
           {{"id", course}, {"title", course}, {"kind", "instrument"}, {"instruments", {inst}}, {"assessment", "exam"}});
      boot("POST", "/api/courses/" + std::string(course) + "/sessions",
           {{"id", sess}, {"start", "2026-03-01T02:00:00Z"}, {"end", "2026-03-01T04:00:00Z"}, {"capacity", 5}});
      boot("POST", "/api/training-sessions/" + std::string(sess) + "/enrolments", {{"user", user}});
    }
    for (auto [into, inst, user] : {std::tuple{&conduct_in, "inst-c", "stu-c"}, std::tuple{&conduct_out, "inst-p", "stu-p"}}) {
      conduct::Event e;
      e.id = std::string("ce-") + inst;
      e.user = user;
      e.instrument = inst;
      e.booking = std::string("b-") + inst;
      e.at_ms = now;
      e.points = 20;
      REQUIRE(store->stores().conduct.insert(e));
      *into = e.id;
    }
    for (auto [into, inst, user] : {std::tuple{&wait_in, "inst-c", "stu-c"}, std::tuple{&wait_out, "inst-p", "stu-p"}}) {
      auto r = call("POST", "/api/waitlist",
                    json{{"instrument", inst}, {"user", user}, {"start", "2026-01-16T02:00:00Z"},
                         {"end", "2026-01-16T02:30:00Z"}}.dump(),
                    "bootstrap-token-0123");
      INFO(r.body);
      REQUIRE(r.status == 201);
      *into = json::parse(r.body)["id"].get<std::string>();
    }
    {
      auto r = call("POST", "/api/instruments/inst-c/calendar-feed", "", "bootstrap-token-0123");
      REQUIRE(r.status == 201);
      feed_token = json::parse(r.body)["token"];
    }
    boot("POST", "/api/terminals", {{"id", "t-c"}, {"resource", "inst-c"}, {"public_key", pem}});
    boot("POST", "/api/terminals", {{"id", "t-p"}, {"resource", "inst-p"}, {"public_key", pem}});
    boot("PUT", "/api/users/stu-c/password", {{"password", "stu-c password"}});
    for (auto [id, unit] : {std::pair{"ext-c", "chem-dept"}, {"ext-p", "phys"}}) {
      auto r = call("POST", "/api/registrations",
                    json{{"id", id}, {"name", id}, {"unit", unit}, {"category", "external_academic"},
                         {"organisation", "Other U"}, {"email", std::string(id) + "@other.edu.cn"},
                         {"password", "a long secret 0"}}
                        .dump(),
                    "");
      INFO(r.body);
      REQUIRE(r.status == 201);
    }
    for (auto [scope, unit, group, pi, lab, user, into] :
         {std::tuple{"in", "chem-dept", "g-c", "pi-c", "lab-c", "stu-c", &hold_in},
          std::tuple{"out", "phys", "g-p", "pi-p", "lab-p", "stu-p", &hold_out}}) {
      const std::string acct = std::string("acct-") + scope, rev = std::string("rev-") + scope;
      boot("POST", "/api/accounts",
           {{"id", acct}, {"kind", "grant"}, {"name", acct}, {"unit", unit}, {"group", group}, {"owner", pi}});
      boot("POST", "/api/accounts", {{"id", rev}, {"kind", "lab_revenue"}, {"name", rev}, {"unit", unit}, {"lab", lab}});
      boot("POST", "/api/accounts/" + acct + "/budget", {{"ref", std::string("B0-") + scope}, {"amount_fen", 100000}});
      boot("POST", "/api/accounts/" + acct + "/members", {{"user", user}});
      auto r = call("POST", "/api/holds",
                    json{{"key", std::string("h0-") + scope}, {"account", acct}, {"revenue", rev}, {"amount_fen", 100},
                         {"until", "2026-01-16T00:00:00Z"}}
                        .dump(),
                    "bootstrap-token-0123");
      INFO(r.body);
      REQUIRE(r.status == 201);
      *into = json::parse(r.body)["transfers"][0]["id"].get<std::string>();
      // A charge of the user on the instrument of this side, taken in for review.
      const std::string inst = std::string(scope) == "in" ? "inst-c" : "inst-p";
      UsageEffects e;
      e.now_ms = now;
      SessionRow row;
      row.session.id = std::string("sess-") + scope;
      row.session.terminal = std::string("t-") + (std::string(scope) == "in" ? "c" : "p");
      row.session.resource = inst;
      row.session.user = user;
      row.session.start_ms = now - 3'600'000;
      row.session.end_ms = now;
      row.session.duration_ms = 3'600'000;
      row.session.closed = true;
      e.new_sessions.push_back(row);
      REQUIRE(store->stores().usage.write(e));
      Charge c;
      c.id = std::string("charge-") + scope;
      c.session = row.session.id;
      c.instrument = inst;
      c.user = user;
      c.category = "internal_staff";
      c.amount_fen = 100;
      c.currency = "CNY";
      c.end_ms = now;
      const Charge cs[] = {c};
      REQUIRE(store->stores().billing.insert_charges(cs, now));
    }
    REQUIRE(app.settlement().intake(now));
    auto issued = app.enrolment()->issue_token("new-enrolled", "inst-c", 0, audit::Context{"test", "local", ""}, now);
    REQUIRE(issued);
    enrol_token = issued->token;
    csr_new = *pki::make_csr(new_key(), "new-enrolled");
    csr_renew = *pki::make_csr(terminal_key, "t-c");
    grant("sys", "system_admin", "");
    grant("ua", "unit_admin", "chem");
    grant("ia", "instrument_admin", "inst-c");
    grant("fin", "finance", "chem");
    grant("pa", "unit_admin", "phys");
    grant_in = grant("new-member-in", "unit_admin", "chem-dept");
    grant_out = grant("new-member-out", "unit_admin", "phys");
    auto& ids = store->stores().identity;
    for (auto [role, user] : {std::pair{'S', "sys"}, {'A', "ua"}, {'I', "ia"}, {'F', "fin"}, {'P', "pi-c"}, {'U', "stu-c"}}) {
      auto t = identity::issue(identity::TokenKind::session, user, "test", {}, now, 3600'000, "");
      REQUIRE(ids.add_token(t.token));
      token[role] = t.secret;
      session_id[role] = t.token.id;
    }
  }
};

/// text with every {name} replaced by the in- or out-of-scope id.
std::string fill(std::string text, bool in, const Site& s, char role) {
  auto put = [&](const std::string& key, const std::string& value) {
    for (std::size_t at; (at = text.find("{" + key + "}")) != std::string::npos;) text.replace(at, key.size() + 2, value);
  };
  for (const auto& [key, ids] : kIds) put(key, in ? ids.first : ids.second);
  put("scope", in ? "in" : "out");
  auto put_text = [&](const std::string& key, const std::string& value) {
    const std::string quoted = json(value).dump();
    put(key, quoted.substr(1, quoted.size() - 2));
  };
  put_text("pem", s.pem);
  put_text("enrol_token", s.enrol_token);
  put_text("csr_new", s.csr_new);
  put_text("csr_renew", s.csr_renew);
  (void)role;
  return text;
}

/// The target of route r for role on the in- or out-of-scope object.
std::string target_of(const http::Route& r, const Expect& e, bool in, const Site& s, char role) {
  std::string path = r.pattern;
  if (r.pattern == "/api/me/sessions/{id}" || r.pattern == "/api/me/tokens/{id}") {
    // In scope: the caller's own session; out: another person's.
    const std::string own = s.session_id.count(role) ? s.session_id.at(role) : "none";
    const std::string other = s.session_id.at(role == 'U' ? 'P' : 'U');
    path.replace(path.find("{id}"), 4, in ? own : other);
  } else if (r.pattern.rfind("/api/fee-versions/{id}", 0) == 0) {
    path.replace(path.find("{id}"), 4, in ? s.fee_in : s.fee_out);
  } else if (r.pattern == "/api/instruments/{id}/fee-versions" || r.pattern == "/api/instruments/{id}/fee-standard") {
    path.replace(path.find("{id}"), 4, in ? "inst-c" : "inst-p");
  } else if (r.pattern == "/api/roles/{id}") {
    path.replace(path.find("{id}"), 4, in ? s.grant_in : s.grant_out);
  } else if (r.pattern == "/api/groups/{id}/members/{user}") {
    path.replace(path.find("{id}"), 4, in ? "g-c" : "g-p");
    path.replace(path.find("{user}"), 6, in ? "stu-c" : "stu-p");
  } else if (r.pattern == "/api/closures/{id}") {
    path.replace(path.find("{id}"), 4, in ? s.closure_in : s.closure_out);
  } else if (r.pattern.rfind("/api/orders/{id}", 0) == 0) {
    path.replace(path.find("{id}"), 4, in ? s.order_in : s.order_out);
    if (auto at = path.find("{attachment}"); at != std::string::npos)
      path.replace(at, 12, in ? s.attachment_in : s.attachment_out);
  } else if (r.pattern.rfind("/api/accounts/{id}", 0) == 0) {
    path.replace(path.find("{id}"), 4, in ? "acct-in" : "acct-out");
    if (auto at = path.find("{user}"); at != std::string::npos) path.replace(at, 6, in ? "stu-c" : "stu-p");
  } else if (r.pattern == "/api/settlements/{month}/vouchers") {
    path.replace(path.find("{month}"), 7, "2025-12");
  } else if (r.pattern.rfind("/api/postings/{charge}", 0) == 0) {
    path.replace(path.find("{charge}"), 8, in ? "charge-in" : "charge-out");
  } else if (r.pattern.rfind("/api/holds/{id}", 0) == 0) {
    path.replace(path.find("{id}"), 4, in ? s.hold_in : s.hold_out);
  } else if (r.pattern == "/api/waitlist/{id}") {
    path.replace(path.find("{id}"), 4, in ? s.wait_in : s.wait_out);
  } else if (r.pattern == "/api/feeds/{token}/bookings.ics") {
    path.replace(path.find("{token}"), 7, s.feed_token);
  } else if (r.pattern.rfind("/api/conduct-events/{id}", 0) == 0) {
    path.replace(path.find("{id}"), 4, in ? s.conduct_in : s.conduct_out);
  } else if (r.pattern.rfind("/api/courses/{id}", 0) == 0) {
    path.replace(path.find("{id}"), 4, in ? "course-c" : "course-p");
  } else if (r.pattern.rfind("/api/training-sessions/{id}", 0) == 0) {
    path.replace(path.find("{id}"), 4, in ? "ts-c" : "ts-p");
    if (auto at = path.find("{user}"); at != std::string::npos) path.replace(at, 6, in ? "stu-c" : "stu-p");
  } else if (r.access.kind == identity::Kind::booking) {
    path.replace(path.find("{id}"), 4, in ? s.booking_in : s.booking_out);
  } else {
    const std::string kind = identity::to_string(r.access.kind);
    // A second key of the path (the user of /api/qualifications/{user}/{instrument}).
    if (r.access.key != "user" && path.find("{user}") != std::string::npos)
      path.replace(path.find("{user}"), 6, in ? kIds.at("user").first : kIds.at("user").second);
    for (const std::string& p : {std::string("{id}"), std::string("{uid}"), "{" + r.access.key + "}"}) {
      auto at = path.find(p);
      if (at == std::string::npos) continue;
      REQUIRE_MESSAGE(kIds.count(kind), r.method << " " << r.pattern << ": no fixture of kind " << kind);
      path.replace(at, p.size(), in ? kIds.at(kind).first : kIds.at(kind).second);
    }
  }
  if (!e.query.empty()) path += "?" + fill(e.query, in, s, role);
  return path;
}

}  // namespace

TEST_CASE("every route x every role x an object in and out of scope answers as the rights table says") {
  if (on_postgres()) return;  // the router and the rules, not a store contract: SQLite is enough
  const auto& table = expectations();
  // Which routes the router has: every one must have an expectation, and every expectation a route.
  std::set<std::string> routes;
  {
    Site s;
    for (const auto& r : s.app.api().router().routes()) {
      const std::string key = r.method + " " + r.pattern;
      routes.insert(key);
      CHECK_MESSAGE(table.count(key), key << " has no line in the rights matrix: decide who may call it");
    }
  }
  for (const auto& [key, e] : table) CHECK_MESSAGE(routes.count(key), key << " is in the matrix but not a route");

  int calls = 0;
  std::unique_ptr<Site> shared = std::make_unique<Site>();
  for (const auto& key : routes) {
    if (!table.count(key)) continue;
    const Expect& e = table.at(key);
    const bool reads = key.rfind("GET ", 0) == 0;
    for (bool in : {true, false}) {
      for (char role : kRoles) {
        // A write changes the site: each gets a fresh one.
        std::unique_ptr<Site> fresh;
        if (!reads) fresh = std::make_unique<Site>();
        Site& s = reads ? *shared : *fresh;
        const http::Route* route = nullptr;
        for (const auto& r : s.app.api().router().routes())
          if (r.method + " " + r.pattern == key) route = &r;
        REQUIRE(route);
        const std::string target = target_of(*route, e, in, s, role);
        const std::string body = fill(e.body, in, s, role);
        const std::string bearer = role == 'V' ? "" : s.token.at(role);
        auto r = s.call(route->method, target, body, bearer);
        ++calls;
        const bool allowed = (in ? e.in : e.out).find(role) != std::string::npos;
        const std::string where = in ? "in" : "out";
        INFO(std::string(1, role) << " " << route->method << " " << target << " (" << where << " of scope) -> "
                                  << r.status << " " << r.body.substr(0, 300));
        if (allowed) {
          CHECK(r.status != 401);
          CHECK(r.status != 403);
          if (!e.allowed_may_404) CHECK(r.status != 404);
          CHECK(r.status < 500);
        } else if (role == 'V') {
          CHECK(r.status == 401);
        } else {
          CHECK((r.status == 403 || r.status == 404));
        }
        if (allowed && reads && r.status == 200 && !e.marker_in.empty()) {
          const bool sees_in = e.sees_in.find(role) != std::string::npos;
          CHECK((r.body.find(e.marker_in) != std::string::npos) == sees_in);
          CHECK((r.body.find(e.marker_out) != std::string::npos) == (role == 'S'));
        }
      }
    }
  }
  MESSAGE(calls << " calls over " << routes.size() << " routes");
}

TEST_CASE("out of scope, what a caller may not know of is 404, what they may know of is 403") {
  if (on_postgres()) return;
  Site s;
  // A unit admin of chem: a 物理系 user does not exist for them; a 物理系 instrument is public.
  auto r = s.call("PATCH", "/api/users/stu-p", R"({"name":"x"})", s.token.at('A'));
  CHECK(r.status == 404);
  r = s.call("PATCH", "/api/instruments/inst-p", R"({"status":"maintenance"})", s.token.at('A'));
  CHECK(r.status == 403);
  // The user knows themselves but may not change their own record.
  r = s.call("PATCH", "/api/users/stu-c", R"({"name":"x"})", s.token.at('U'));
  CHECK(r.status == 403);
  // And a refused write changed nothing.
  auto users = s.call("GET", "/api/users?limit=100", "", s.token.at('S'));
  REQUIRE(users.status == 200);
  for (const auto& u : json::parse(users.body)) CHECK(u["name"] != "x");
}

TEST_CASE("with provisioning on, the OpenAPI document describes its routes and their access") {
  if (on_postgres()) return;
  Site s;
  auto r = s.call("GET", "/api/openapi.json", "", "");
  REQUIRE(r.status == 200);
  const json doc = json::parse(r.body);
  for (const auto& route : s.app.api().router().routes()) {
    if (route.pattern.find("enrol") == std::string::npos && route.pattern.find("revoke") == std::string::npos) continue;
    std::string method = route.method;
    for (auto& c : method) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    INFO(route.method << " " << route.pattern);
    REQUIRE(doc["paths"].contains(route.pattern));
    REQUIRE(doc["paths"][route.pattern].contains(method));
    CHECK(doc["paths"][route.pattern][method]["x-labgate-access"] == http::to_string(route.access));
  }
  for (const char* p : {"/api/enrol", "/api/enrol/renew", "/api/terminals/enrolments", "/api/terminals/{id}/revoke"})
    CHECK_MESSAGE(doc["paths"].contains(p), p);
}
