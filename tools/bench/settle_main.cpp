// labgate-bench-settle: a month of confirmed charges in a server database (the real schema and
// migrations), then the monthly settlement (settlement::Service::settle: one aggregate, a ledger
// transfer per payer and lab, a statement per account, the month closed, in one transaction)
// against a hand-written SQL aggregate of the same totals, measured in the same run.
//
//   labgate-bench-settle                         1,000,000 charges in a temp database; prints the
//                                                table on stderr and one JSON object on stdout
//   labgate-bench-settle --charges 100000 --db F --fill-only
//                                                fills F and prints the month's expected totals
//                                                (tests/integration/money_settlement_kill9_test.py)
//
// The charges: October 2026 (Asia/Shanghai), spread over --accounts grant accounts (each with a
// member, a project code and a budget that covers about 60 % of what it is charged, so part of
// the month goes to arrears) and --labs labs, amounts 1..500 yuan; the same data every run.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "labgate/common/defaults.hpp"
#include "labgate/common/time.hpp"
#include "server/core/sqlite_backend.hpp"
#include "server/ledger/service.hpp"
#include "server/settlement/service.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;
const std::string kZone{lg::defaults::kTimeZone};
constexpr const char* kMonth = "2026-10";

struct Settings {
  std::string db;
  int64_t charges = 1'000'000;
  int accounts = 200;
  int labs = 10;
  int rounds = 3;
  bool fill_only = false;
  bool keep = false;
};

[[noreturn]] void die(const std::string& why) {
  std::cerr << "labgate-bench-settle: " << why << "\n";
  std::exit(1);
}
template <typename T>
T must(lg::Result<T> r, const std::string& what) {
  if (!r) die(what + ": " + r.error().message());
  return std::move(r).value();
}
void must(const lg::Status& s, const std::string& what) {
  if (!s) die(what + ": " + s.error().message());
}
double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

/// Fills the database; returns the month's expected totals {charges, total_fen}.
json fill(const Settings& s) {
  auto backend = must(lg::server::SqliteBackend::open(s.db), "open " + s.db);
  auto stores = backend->stores();
  auto& d = backend->db().conn();
  const int64_t from = must(lg::time::local_month_start(kMonth, kZone), "month");
  const int64_t to = must(lg::time::local_month_start(*lg::time::next_month(kMonth), kZone), "month");
  lg::server::ledger::Service ledger(stores.uow, stores.ledger, "CNY");
  must(d.exec("INSERT OR IGNORE INTO units(id, name, created_ms) VALUES ('u', 'Bench unit', 0)"), "unit");
  for (int l = 0; l < s.labs; ++l) {
    const std::string lab = "l" + std::to_string(l);
    auto st = must(d.prepare("INSERT OR IGNORE INTO labs(id, name, unit, created_ms) VALUES (?, ?, 'u', 0)"), "lab");
    st.bind(1, lab).bind(2, "Lab " + lab);
    must(st.run(), "lab");
    auto in = must(d.prepare("INSERT OR IGNORE INTO instruments(id, name, lab, kind, created_ms) VALUES (?, ?, ?, "
                             "'instrument', 0)"),
                   "instrument");
    in.bind(1, "inst-" + lab).bind(2, "Instrument of " + lab).bind(3, lab);
    must(in.run(), "instrument");
    lg::server::ledger::Account rev;
    rev.id = "rev-" + lab;
    rev.kind = lg::server::ledger::AccountKind::lab_revenue;
    rev.name = "Revenue of " + lab;
    rev.lab = lab;
    rev.unit = "u";
    must(ledger.open_account(rev, from), "revenue account");
  }
  // The charges first (budgets follow from what each account is charged).
  uint64_t x = 88172645463325252ULL;  // xorshift64: the same data every run
  auto next = [&x] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  std::vector<int64_t> charged(static_cast<std::size_t>(s.accounts), 0);
  auto ses = must(d.prepare("INSERT INTO usage_sessions(id, terminal, resource, user, card, start_ms, end_ms, "
                            "duration_ms, energy_wh, end_reason, status) "
                            "VALUES (?, 't', ?, ?, '', ?, ?, 3600000, 0, 'swipe_out', 'closed')"),
                  "prepare");
  auto chg = must(d.prepare("INSERT INTO charges(id, session, instrument, user, category, rate_fen_per_hour, "
                            "duration_ms, amount_fen, currency, flags, end_ms, created_ms) "
                            "VALUES (?, ?, ?, ?, 'internal_student', 0, 3600000, ?, 'CNY', '', ?, ?)"),
                  "prepare");
  auto pst = must(d.prepare("INSERT INTO charge_postings(charge, user, instrument, category, currency, charged_fen, "
                            "amount_fen, account, revenue, state, end_ms, month, review_until_ms, confirmed_ms) "
                            "VALUES (?, ?, ?, 'internal_student', 'CNY', ?, ?, ?, ?, 'confirmed', ?, ?, ?, ?)"),
                  "prepare");
  int64_t total = 0;
  const int64_t step = std::max<int64_t>(1, (to - from) / std::max<int64_t>(1, s.charges));
  constexpr int64_t kPerTx = 100'000;
  for (int64_t n = 0; n < s.charges; ++n) {
    if (n % kPerTx == 0) must(d.exec("BEGIN"), "begin");
    const int a = static_cast<int>(next() % static_cast<uint64_t>(s.accounts));
    const int l = static_cast<int>(next() % static_cast<uint64_t>(s.labs));
    const int64_t amount = 100 + static_cast<int64_t>(next() % 50'000);
    const int64_t end = std::min(to - 1, from + n * step);
    const std::string id = "c" + std::to_string(n), sid = "s" + std::to_string(n);
    const std::string user = "user-" + std::to_string(a), inst = "inst-l" + std::to_string(l);
    ses.bind(1, sid).bind(2, inst).bind(3, user).bind(4, end - 3'600'000).bind(5, end);
    must(ses.run(), "session");
    ses.reset();
    chg.bind(1, id).bind(2, sid).bind(3, inst).bind(4, user).bind(5, amount).bind(6, end).bind(7, end);
    must(chg.run(), "charge");
    chg.reset();
    pst.bind(1, id).bind(2, user).bind(3, inst).bind(4, amount).bind(5, amount).bind(6, "grant-" + std::to_string(a));
    pst.bind(7, "rev-l" + std::to_string(l)).bind(8, end).bind(9, kMonth).bind(10, end).bind(11, end);
    must(pst.run(), "posting");
    pst.reset();
    charged[static_cast<std::size_t>(a)] += amount;
    total += amount;
    if (n % kPerTx == kPerTx - 1 || n == s.charges - 1) must(d.exec("COMMIT"), "commit");
  }
  for (int a = 0; a < s.accounts; ++a) {
    lg::server::ledger::Account g;
    g.id = "grant-" + std::to_string(a);
    g.kind = lg::server::ledger::AccountKind::grant;
    g.name = "Grant " + std::to_string(a);
    g.group = "g" + std::to_string(a);
    g.owner = "pi-" + std::to_string(a);
    g.unit = "u";
    g.project_code = "P-" + std::to_string(10000 + a);
    must(ledger.open_account(g, from), "grant account");
    const int64_t budget = charged[static_cast<std::size_t>(a)] * 6 / 10 + 1;
    must(ledger.raise_budget(g.id, "B-" + std::to_string(a), budget, "bench", from), "budget");
    must(ledger.approve_member(g.id, "user-" + std::to_string(a), g.owner, from), "member");
  }
  return json{{"month", kMonth}, {"charges", s.charges}, {"total_fen", total}, {"accounts", s.accounts}};
}

}  // namespace

int main(int argc, char** argv) {
  Settings s;
  CLI::App app{"labgate-bench-settle: monthly settlement against a SQL aggregate (docs/BENCHMARKS.md)"};
  app.add_option("--db", s.db, "The database file (default: a temp file, removed after)");
  app.add_option("--charges", s.charges, "Confirmed charges in the month")->check(CLI::Range(int64_t{1}, int64_t{50'000'000}))->capture_default_str();
  app.add_option("--accounts", s.accounts, "Grant accounts")->check(CLI::Range(1, 100000))->capture_default_str();
  app.add_option("--labs", s.labs, "Labs (revenue accounts)")->check(CLI::Range(1, 1000))->capture_default_str();
  app.add_option("--rounds", s.rounds, "Rounds (a fresh copy of the filled database each)")->check(CLI::Range(1, 20))->capture_default_str();
  app.add_flag("--fill-only", s.fill_only, "Fill --db and print the month's expected totals");
  app.add_flag("--keep", s.keep, "Keep the temp database");
  CLI11_PARSE(app, argc, argv);

  const bool temp = s.db.empty();
  const auto dir = std::filesystem::temp_directory_path() / ("labgate-bench-settle-" + std::to_string(::getpid()));
  if (temp) {
    std::filesystem::create_directories(dir);
    s.db = (dir / "filled.db").string();
  }
  const auto t_fill = Clock::now();
  const json expected = fill(s);
  const double fill_ms = ms_since(t_fill);
  if (s.fill_only) {
    std::cout << expected.dump() << "\n";
    return 0;
  }
  std::vector<double> settle, aggregate;
  for (int r = 0; r < s.rounds; ++r) {
    const std::string copy = (std::filesystem::path(s.db).parent_path() / ("round-" + std::to_string(r) + ".db")).string();
    std::filesystem::copy_file(s.db, copy, std::filesystem::copy_options::overwrite_existing);
    auto backend = must(lg::server::SqliteBackend::open(copy), "open copy");
    auto stores = backend->stores();
    // The baseline: the same totals by hand, one GROUP BY over the month (cache warmed by it).
    int64_t agg_total = 0, agg_rows = 0;
    auto t0 = Clock::now();
    auto q = must(backend->db().conn().prepare(
                      "SELECT account, revenue, currency, count(*), SUM(amount_fen) FROM charge_postings "
                      "WHERE month = ? AND state = 'confirmed' GROUP BY account, revenue, currency"),
                  "aggregate");
    q.bind(1, kMonth);
    while (must(q.step(), "aggregate")) {
      agg_total += q.column_int64(4);
      ++agg_rows;
    }
    aggregate.push_back(ms_since(t0));
    lg::server::ledger::Service ledger(stores.uow, stores.ledger, "CNY");
    lg::server::settlement::Service svc(stores.uow, stores.settlement, ledger, stores.ledger, {}, kZone);
    const int64_t now = must(lg::time::local_month_start("2026-11", kZone), "now") + 3 * 86'400'000;
    t0 = Clock::now();
    auto done = must(svc.settle(kMonth, "bench", now), "settle");
    settle.push_back(ms_since(t0));
    if (done.close.total_fen != expected["total_fen"].get<int64_t>() || agg_total != done.close.total_fen)
      die("totals differ: settlement " + std::to_string(done.close.total_fen) + ", aggregate " +
          std::to_string(agg_total) + ", expected " + expected["total_fen"].dump());
    auto check = must(ledger.check(), "ledger check");
    if (!check.violations.empty()) die("ledger check: " + check.violations.front());
    (void)agg_rows;
    backend.reset();
    std::filesystem::remove(copy);
    std::filesystem::remove(copy + "-wal");
    std::filesystem::remove(copy + "-shm");
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  const double sm = median(settle), am = median(aggregate);
  std::cerr << "settle " << s.charges << " charges (" << s.accounts << " accounts, " << s.labs << " labs): "
            << sm << " ms; SQL aggregate of the same totals: " << am << " ms; ratio " << sm / am << "\n";
  std::cout << json{{"charges", s.charges},          {"accounts", s.accounts}, {"labs", s.labs},
                    {"fill_ms", fill_ms},            {"settle_ms", sm},        {"aggregate_ms", am},
                    {"ratio", sm / am},              {"rounds", s.rounds},     {"total_fen", expected["total_fen"]}}
                   .dump()
            << "\n";
  if (temp && !s.keep) std::filesystem::remove_all(dir);
  return 0;
}
