// Settlement on both backends (pg.* runs it on PostgreSQL): charges taken in and reviewed,
// adjusted with a reason, confirmed (a prepaid payer charged at once), a month settled into
// statements and ledger transfers and locked, a late charge moved to the next month, the
// finance system's records reconciled, revenue allocated; the ledger balances throughout.
#include <doctest/doctest.h>

#include "labgate/common/time.hpp"
#include "server/settlement/service.hpp"
#include "tests/server/test_support.hpp"

using namespace lg;
using namespace lg::server;
using namespace lg::server::test;
using lg::server::settlement::PostingState;

namespace {

constexpr int64_t H = 3'600'000;

struct Fixture {
  TempDir dir;
  std::unique_ptr<TestStore> store = open_store(dir);
  Stores s = store->stores();
  ledger::Service ledger{s.uow, s.ledger, "CNY"};
  settlement::Policy policy = [] {
    settlement::Policy p;
    p.review_hours = 72;
    return p;
  }();
  settlement::Service svc{s.uow, s.settlement, ledger, s.ledger, policy, "Asia/Shanghai"};
  int64_t oct = ms("2026-10-10T02:00:00Z");
  int counter = 0;

  Fixture() {
    seed(*store);
    ledger::Account g;
    g.id = "grant-1";
    g.kind = ledger::AccountKind::grant;
    g.name = "NSFC 123";
    g.group = "g";
    g.owner = "root";
    g.unit = "u";
    g.project_code = "P-123";
    REQUIRE(ledger.open_account(g, oct - 100 * H));
    REQUIRE(ledger.raise_budget("grant-1", "B1", 100000, "fin", oct - 100 * H));
    REQUIRE(ledger.approve_member("grant-1", "alice", "root", oct - 100 * H));
    ledger::Account d;
    d.id = "dep-acme";
    d.kind = ledger::AccountKind::deposit;
    d.name = "ACME deposit";
    d.organisation = "ACME";
    d.unit = "u";
    REQUIRE(ledger.open_account(d, oct - 100 * H));
    REQUIRE(ledger.top_up("dep-acme", "R1", 5000, "fin", "", oct - 100 * H));
    REQUIRE(ledger.approve_member("dep-acme", "bob", "fin", oct - 100 * H));
  }
  /// A closed session of user on the XRD ending at end, charged amount, reaching the server at
  /// ingested_ms (default: when it ended).
  std::string charge(const std::string& user, int64_t amount, int64_t end, std::optional<int64_t> ingested_ms = {}) {
    const std::string n = std::to_string(++counter);
    UsageEffects e;
    e.now_ms = end;
    SessionRow row;
    row.session.id = "s" + n;
    row.session.terminal = "t1";
    row.session.resource = "inst-xrd";
    row.session.user = user;
    row.session.start_ms = end - H;
    row.session.end_ms = end;
    row.session.duration_ms = H;
    row.session.closed = true;
    e.new_sessions.push_back(row);
    REQUIRE(s.usage.write(e));
    Charge c;
    c.id = "c" + n;
    c.session = row.session.id;
    c.instrument = "inst-xrd";
    c.user = user;
    c.category = user == "bob" ? "external_academic" : "internal_student";
    c.amount_fen = amount;
    c.currency = "CNY";
    c.end_ms = end;
    const Charge cs[] = {c};
    REQUIRE(s.billing.insert_charges(cs, ingested_ms.value_or(end)));
    return c.id;
  }
  settlement::Posting posting(const std::string& id) {
    auto p = s.settlement.posting(id);
    REQUIRE(p);
    REQUIRE(*p);
    return **p;
  }
  int64_t balance(const std::string& id) {
    auto a = s.ledger.account(id);
    REQUIRE(a);
    REQUIRE(*a);
    return ledger::balance_of((*a)->balance);
  }
  void balanced() {
    auto c = ledger.check();
    REQUIRE(c);
    for (const auto& v : c->violations) FAIL_CHECK(v);
  }
};

}  // namespace

TEST_CASE("charges are taken in once, reviewed, confirmed after the window, a prepaid one is charged at once") {
  Fixture f;
  const std::string a = f.charge("alice", 12000, f.oct);
  const std::string b = f.charge("bob", 3000, f.oct);
  CHECK(f.svc.intake(f.oct).value() == 2);
  CHECK(f.svc.intake(f.oct).value() == 0);
  auto pa = f.posting(a);
  CHECK(pa.state == PostingState::review);
  CHECK(pa.account == "grant-1");
  CHECK(pa.revenue == "rev-l");
  CHECK(f.posting(b).account == "dep-acme");
  CHECK(f.svc.confirm_due(f.oct + 71 * H).value() == 0);
  CHECK(f.svc.confirm_due(f.oct + 72 * H).value() == 2);
  pa = f.posting(a);
  CHECK(pa.state == PostingState::confirmed);
  CHECK(pa.month == "2026-10");
  CHECK(f.balance("grant-1") == 100000);  // internal: charged by the month's settlement
  CHECK(f.posting(b).state == PostingState::posted);
  CHECK(f.balance("dep-acme") == 2000);  // external prepaid: at once
  CHECK(f.balance("rev-l") == 3000);
  f.balanced();
}

TEST_CASE("an admin adjusts a charge in review with a reason, after confirmation it is fixed") {
  Fixture f;
  const std::string a = f.charge("alice", 12000, f.oct);
  REQUIRE(f.svc.intake(f.oct));
  auto no_reason = f.svc.adjust(a, 6000, "", "inst-admin", f.oct);
  REQUIRE_FALSE(no_reason);
  auto ok = f.svc.adjust(a, 6000, "the X-ray tube failed after 30 min", "inst-admin", f.oct);
  REQUIRE(ok);
  CHECK(ok->amount_fen == 6000);
  CHECK(ok->charged_fen == 12000);
  REQUIRE(f.svc.confirm(a, "inst-admin", f.oct + H));
  auto late = f.svc.adjust(a, 1, "again", "inst-admin", f.oct + 2 * H);
  REQUIRE_FALSE(late);
  CHECK(is(late.error(), Errc::conflict));
  CHECK(f.posting(a).amount_fen == 6000);
}

TEST_CASE("a charge without an account waits, naming one the user may charge lets it through") {
  Fixture f;
  const std::string c = f.charge("carol", 500, f.oct);  // carol has no account
  REQUIRE(f.svc.intake(f.oct));
  CHECK(f.posting(c).account.empty());
  CHECK(f.svc.confirm_due(f.oct + 100 * H).value() == 0);
  CHECK_FALSE(f.svc.set_account(c, "grant-1", "admin", f.oct));  // carol is no member
  REQUIRE(f.ledger.approve_member("grant-1", "carol", "root", f.oct));
  REQUIRE(f.svc.set_account(c, "grant-1", "admin", f.oct));
  CHECK(f.svc.confirm_due(f.oct + 100 * H).value() == 1);
}

TEST_CASE("a month settles once into statements and ledger transfers, a late charge goes to the next month") {
  Fixture f;
  f.charge("alice", 12000, f.oct);
  f.charge("alice", 8000, f.oct + 24 * H);
  f.charge("bob", 1000, f.oct);
  REQUIRE(f.svc.intake(f.oct + 48 * H));
  REQUIRE(f.svc.confirm_due(f.oct + 200 * H));
  const int64_t nov2 = ms("2026-11-02T00:00:00Z");
  auto early = f.svc.settle("2026-11", "fin", nov2);
  REQUIRE_FALSE(early);  // November has not ended
  auto done = f.svc.settle("2026-10", "fin", nov2);
  REQUIRE(done);
  CHECK(done->close.charges == 2);  // bob's prepaid charge was posted at once
  CHECK(done->close.total_fen == 20000);
  REQUIRE(done->plan.statements.size() == 1);
  CHECK(done->plan.statements[0].id == "grant-1:2026-10");
  CHECK(done->plan.statements[0].project_code == "P-123");
  CHECK(f.balance("grant-1") == 80000);
  CHECK(f.balance("rev-l") == 21000);
  auto again = f.svc.settle("2026-10", "fin", nov2 + 1);
  REQUIRE_FALSE(again);
  CHECK(is(again.error(), Errc::conflict));
  CHECK(f.balance("grant-1") == 80000);
  // a session of 31 October reaching the server after the close belongs to November
  const std::string late = f.charge("alice", 700, ms("2026-10-31T10:00:00Z"), nov2);
  REQUIRE(f.svc.intake(nov2));
  REQUIRE(f.svc.confirm(late, "inst-admin", nov2));
  CHECK(f.posting(late).month == "2026-11");
  // the month's boundary is the site's: 2026-10-31T16:30Z is already 1 November in Shanghai
  const std::string boundary = f.charge("alice", 1, ms("2026-10-31T16:30:00Z"), nov2);
  REQUIRE(f.svc.intake(nov2));
  REQUIRE(f.svc.confirm(boundary, "inst-admin", nov2));
  CHECK(f.posting(boundary).month == "2026-11");
  f.balanced();
}

TEST_CASE("reconciliation marks the matched statement paid and lists the mismatches, allocation moves revenue once") {
  Fixture f;
  f.charge("alice", 12000, f.oct);
  REQUIRE(f.svc.intake(f.oct));
  REQUIRE(f.svc.confirm_due(f.oct + 100 * H));
  REQUIRE(f.svc.settle("2026-10", "fin", ms("2026-11-03T00:00:00Z")));
  std::vector<settlement::FinanceRow> rows{{2, "V-1", "grant-1:2026-10", 12000}, {3, "V-2", "grant-9:2026-10", 5}};
  auto r = f.svc.reconcile(rows, "fin", ms("2026-11-05T00:00:00Z"));
  REQUIRE(r);
  CHECK(r->second[0].outcome == settlement::MatchOutcome::matched);
  CHECK(r->second[1].outcome == settlement::MatchOutcome::unknown_statement);
  auto st = f.s.settlement.statements("2026-10", "grant-1", 10);
  REQUIRE(st);
  REQUIRE(st->size() == 1);
  CHECK((*st)[0].paid_ref == "V-1");
  auto kept = f.s.settlement.reconciliation(r->first);
  REQUIRE(kept);
  CHECK(kept->size() == 2);
  auto again = f.svc.reconcile({{2, "V-1b", "grant-1:2026-10", 12000}}, "fin", ms("2026-11-06T00:00:00Z"));
  REQUIRE(again);
  CHECK(again->second[0].outcome == settlement::MatchOutcome::already_paid);

  auto alloc = f.svc.allocate("2026-10", "fin", ms("2026-11-07T00:00:00Z"));
  REQUIRE(alloc);
  REQUIRE(alloc->size() == 1);
  CHECK((*alloc)[0].collected_fen == 12000);
  CHECK(f.balance("unit-u") == 3600);
  CHECK(f.balance("platform") == 1200);
  CHECK(f.balance("rev-l") == 7200);
  auto replay = f.svc.allocate("2026-10", "fin", ms("2026-11-08T00:00:00Z"));
  REQUIRE(replay);
  CHECK((*replay)[0].replayed);
  CHECK(f.balance("rev-l") == 7200);
  f.balanced();
}
