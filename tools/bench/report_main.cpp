// labgate-bench-report: usage reports and charge lists over a large SQLite store, the server's
// SQL aggregation and paging against the approach they replaced, measured in the same run.
//
//   fill      a fresh server database (the real schema and migrations) with N closed sessions,
//             each with its charge, spread evenly over the 12 site months of 2025
//             (Asia/Shanghai), 50 instruments, 2000 users (1 in 50 sessions by an unknown card).
//   new       GET /api/reports/usage?from=2025-01&to=2025-12&by=instrument|user|month through the
//             server's router (http::Api): GROUP BY over the charges alone, names joined per group.
//   old       the same three reports as the server made them before: every session of the period
//             joined to its charge, instrument and user, loaded into memory, grouped in C++.
//   page      GET /api/charges?month=2025-06&limit=1000 through the router, following Link
//             rel="next" to the last page.
//   page-old  the same month as one unpaged answer (the former GET /api/charges?month=).
//   idle      opening the store only: the floor of the peak RSS figures.
// Each measurement runs in its own process (this program again, with --measure), so its peak RSS
// (getrusage ru_maxrss, and VmHWM) is its own; the rounds alternate new and old, the median time
// and the highest peak count. Output: a table on stderr, one JSON object on stdout.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "labgate/common/money.hpp"
#include "labgate/common/sqlite.hpp"
#include "labgate/common/time.hpp"
#include "labgate/common/defaults.hpp"
#include "server/core/sqlite_backend.hpp"
#include "server/reports/rules.hpp"
#include "server/transport/http/api.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;
namespace report = lg::server::report;

const std::string kZone{lg::defaults::kTimeZone};
constexpr const char* kFirstMonth = "2025-01";
constexpr const char* kLastMonth = "2025-12";
constexpr const char* kPageMonth = "2025-06";
constexpr const char* kToken = "bench";

struct Settings {
  std::string db;
  int64_t sessions = 1'000'000;
  int instruments = 50;
  int users = 2000;
  int rounds = 3;
  int64_t page_limit = 1000;
  bool keep = false;
  bool reuse = false;
  std::string measure;  // set in the child processes
};

[[noreturn]] void die(const std::string& why) {
  std::cerr << "labgate-bench-report: " << why << "\n";
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

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

int64_t month_start(const std::string& m) { return must(lg::time::local_month_start(m, kZone), "month " + m); }

/// A 36-character id like a UUID (the server's session and charge ids are uuid4), from a number.
std::string uuid_like(char kind, int64_t n) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%c0000000-0000-4000-8000-%012llx", kind,
                static_cast<unsigned long long>(n) & 0xFFFF'FFFF'FFFFULL);
  return buf;
}

// ------------------------------------------------------------------ fill

void fill(const Settings& s) {
  std::filesystem::remove(s.db);
  auto backend = must(lg::server::SqliteBackend::open(s.db), "open " + s.db);
  auto& d = backend->db().conn();
  must(d.exec("PRAGMA synchronous = OFF"), "pragma");
  const int64_t now = lg::time::now_utc_ms();
  must(d.exec("BEGIN"), "begin");
  must(d.exec("INSERT INTO units(id, name, created_ms) VALUES ('u', 'Bench unit', 0);"
              "INSERT INTO labs(id, name, unit, created_ms) VALUES ('l', 'Bench lab', 'u', 0);"),
       "directory");
  {
    auto ins = must(d.prepare("INSERT INTO instruments(id, name, lab, kind, created_ms) VALUES (?, ?, 'l', "
                              "'instrument', 0)"),
                    "prepare");
    auto fee = must(d.prepare("INSERT INTO fee_standards(instrument, internal_fen_per_hour, external_fen_per_hour, "
                              "currency, updated_ms) VALUES (?, ?, ?, 'CNY', 0)"),
                    "prepare");
    for (int i = 0; i < s.instruments; ++i) {
      const std::string id = "inst-" + std::to_string(1000 + i);
      ins.bind(1, id).bind(2, "Instrument " + std::to_string(i));
      must(ins.run(), "instrument");
      fee.bind(1, id).bind(2, int64_t{6000 + 100 * i}).bind(3, int64_t{15000 + 250 * i});
      must(fee.run(), "fee");
    }
    auto user = must(d.prepare("INSERT INTO users(id, name, category, created_ms) VALUES (?, ?, ?, 0)"), "prepare");
    for (int i = 0; i < s.users; ++i) {
      user.bind(1, "user-" + std::to_string(10000 + i)).bind(2, "User number " + std::to_string(i));
      user.bind(3, i % 5 == 0 ? "external_academic" : "internal_staff");
      must(user.run(), "user");
    }
  }
  must(d.exec("COMMIT"), "commit");

  const int64_t from = month_start(kFirstMonth);
  const int64_t to = month_start(*lg::time::next_month(kLastMonth));
  const int64_t step = std::max<int64_t>(1, (to - from) / std::max<int64_t>(1, s.sessions));
  auto ses = must(d.prepare("INSERT INTO usage_sessions(id, terminal, resource, user, card, start_ms, end_ms, "
                            "duration_ms, energy_wh, end_reason, status) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'swipe_out', 'closed')"),
                  "prepare");
  auto chg = must(d.prepare("INSERT INTO charges(id, session, instrument, user, category, rate_fen_per_hour, "
                            "duration_ms, amount_fen, currency, flags, end_ms, created_ms) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'CNY', ?, ?, ?)"),
                  "prepare");
  uint64_t x = 88172645463325252ULL;  // xorshift64: the same data every run
  auto next = [&x] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  const auto t0 = Clock::now();
  constexpr int64_t kPerTx = 100'000;
  for (int64_t n = 0; n < s.sessions; ++n) {
    if (n % kPerTx == 0) must(d.exec("BEGIN"), "begin");
    const int inst = static_cast<int>(next() % static_cast<uint64_t>(s.instruments));
    const int u = static_cast<int>(next() % static_cast<uint64_t>(s.users));
    const bool unknown = next() % 50 == 0;
    const int64_t duration = 60'000 + static_cast<int64_t>(next() % (4 * 3'600'000ULL));
    const int64_t end = std::min(to - 1, from + n * step + static_cast<int64_t>(next() % static_cast<uint64_t>(step)));
    const std::string sid = uuid_like('s', n);
    const std::string iid = "inst-" + std::to_string(1000 + inst);
    const std::string uid = unknown ? std::string() : "user-" + std::to_string(10000 + u);
    const bool external = !unknown && u % 5 == 0;
    const int64_t rate = unknown ? 0 : (external ? 15000 + 250 * inst : 6000 + 100 * inst);
    const int64_t amount = (duration * rate + 1'800'000) / 3'600'000;
    ses.bind(1, sid).bind(2, "t-" + std::to_string(inst)).bind(3, iid).bind(4, uid);
    ses.bind(5, "CARD" + std::to_string(u)).bind(6, end - duration).bind(7, end).bind(8, duration);
    ses.bind(9, duration / 1000);
    must(ses.run(), "session");
    chg.bind(1, uuid_like('c', n)).bind(2, sid).bind(3, iid).bind(4, uid);
    chg.bind(5, unknown ? "" : (external ? "external" : "internal")).bind(6, rate).bind(7, duration);
    chg.bind(8, amount).bind(9, unknown ? "unknown_user" : "").bind(10, end).bind(11, now);
    must(chg.run(), "charge");
    if (n % kPerTx == kPerTx - 1 || n == s.sessions - 1) {
      must(d.exec("COMMIT"), "commit");
      if ((n + 1) % 1'000'000 == 0) {
        std::cerr << "  filled " << (n + 1) << " sessions (" << static_cast<int64_t>(ms_since(t0) / 1000) << " s)\n";
      }
    }
  }
  must(d.exec("ANALYZE"), "analyze");
  must(d.exec("PRAGMA wal_checkpoint(TRUNCATE)"), "checkpoint");
}

// ------------------------------------------------------------------ the former approach

/// Closed sessions that ended in [from, to) with their charge amounts: the query the server's
/// report ran before it aggregated in SQL (every row joined and loaded).
std::vector<report::UsageItem> old_usage_items(lg::db::Database& d, int64_t from, int64_t to) {
  auto q = must(d.prepare("SELECT s.resource, COALESCE(i.name, ''), s.user, COALESCE(u.name, ''), s.end_ms, "
                          "COALESCE(c.duration_ms, s.duration_ms, 0), COALESCE(c.amount_fen, 0) "
                          "FROM usage_sessions s LEFT JOIN charges c ON c.session = s.id "
                          "LEFT JOIN instruments i ON i.id = s.resource LEFT JOIN users u ON u.id = s.user "
                          "WHERE s.status = 'closed' AND s.end_ms >= ? AND s.end_ms < ? ORDER BY s.end_ms, s.id"),
                "prepare");
  q.bind(1, from).bind(2, to);
  std::vector<report::UsageItem> out;
  for (;;) {
    auto row = must(q.step(), "step");
    if (!row) break;
    out.push_back(report::UsageItem{q.column_text(0), q.column_text(1), q.column_text(2), q.column_text(3),
                                    q.column_int64(4), q.column_int64(5), q.column_int64(6)});
  }
  q.reset();
  return out;
}

json row_json(const report::Row& r) {
  return json{{"key", r.key},         {"name", r.name},
              {"sessions", r.sessions}, {"seconds", r.seconds},
              {"hours", r.hours},     {"amount_fen", r.amount_fen},
              {"amount", lg::money::format(r.amount_fen)}};
}

/// The former report handler: load, aggregate in memory, answer.
std::string old_report(lg::db::Database& d, report::GroupBy by, int64_t from, int64_t to) {
  const auto items = old_usage_items(d, from, to);
  const auto rep = report::aggregate(items, by, [](int64_t ms) {
    auto m = lg::time::local_month(ms, kZone);
    return m ? *m : std::string("unknown");
  });
  json rows = json::array();
  for (const auto& r : rep.rows) rows.push_back(row_json(r));
  return json{{"by", report::to_string(by)}, {"rows", rows}, {"totals", row_json(rep.totals)}}.dump();
}

/// The former GET /api/charges?month=: every charge of the month in one answer.
std::string old_charges(lg::db::Database& d, int64_t from, int64_t to, int64_t& rows) {
  auto q = must(d.prepare("SELECT c.id, c.session, c.instrument, c.user, c.category, c.rate_fen_per_hour, "
                          "c.duration_ms, c.amount_fen, c.currency, c.flags, c.end_ms FROM charges c "
                          "WHERE c.end_ms >= ? AND c.end_ms < ? ORDER BY c.end_ms, c.id"),
                "prepare");
  q.bind(1, from).bind(2, to);
  std::vector<lg::server::Charge> all;
  for (;;) {
    auto row = must(q.step(), "step");
    if (!row) break;
    lg::server::Charge c;
    c.id = q.column_text(0);
    c.session = q.column_text(1);
    c.instrument = q.column_text(2);
    c.user = q.column_text(3);
    c.category = q.column_text(4);
    c.rate_fen_per_hour = q.column_int64(5);
    c.duration_ms = q.column_int64(6);
    c.amount_fen = q.column_int64(7);
    c.currency = q.column_text(8);
    if (!q.column_text(9).empty()) c.flags.push_back(q.column_text(9));
    c.end_ms = q.column_int64(10);
    all.push_back(std::move(c));
  }
  q.reset();
  json arr = json::array();
  for (const auto& c : all) {
    arr.push_back(json{{"id", c.id},
                       {"session", c.session},
                       {"instrument", c.instrument},
                       {"user", c.user},
                       {"category", c.category},
                       {"rate_fen_per_hour", c.rate_fen_per_hour},
                       {"duration_ms", c.duration_ms},
                       {"amount_fen", c.amount_fen},
                       {"amount", lg::money::format(c.amount_fen)},
                       {"currency", c.currency},
                       {"flags", c.flags},
                       {"end", lg::time::format_utc(c.end_ms)}});
  }
  rows = static_cast<int64_t>(all.size());
  return arr.dump();
}

// ------------------------------------------------------------------ one measurement (child)

int64_t vm_hwm_kb() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6));
  }
  return 0;
}

std::string target_of_link(const lg::server::http::Response& r) {
  for (const auto& [name, value] : r.headers) {
    if (name != "Link") continue;
    const auto open = value.find('<');
    const auto close = value.find('>');
    if (open != std::string::npos && close != std::string::npos) return value.substr(open + 1, close - open - 1);
  }
  return "";
}

int run_measure(const Settings& s) {
  auto store = must(lg::server::SqliteBackend::open(s.db), "open " + s.db);
  lg::server::DirtySet dirty;
  lg::server::Health health;
  const lg::server::Stores st = store->stores();
  lg::server::booking::Service bookings(st.uow, st.booking, st.directory, st.qualification);
  lg::server::http::Api api{st, bookings, dirty, health,
                            lg::server::http::ApiSettings{"bench", "0", kToken, kZone, std::string(lg::defaults::kCurrency)},
                            [] { return lg::time::now_utc_ms(); }};
  auto get = [&api](const std::string& target) {
    auto r = api.handle(lg::server::http::make_request("GET", target, std::string("Bearer ") + kToken, ""));
    if (r.status != 200) die("GET " + target + " -> " + std::to_string(r.status) + " " + r.body);
    return r;
  };
  const int64_t from = month_start(kFirstMonth);
  const int64_t to = month_start(*lg::time::next_month(kLastMonth));
  json out{{"measure", s.measure}};
  json times = json::object();
  int64_t bytes = 0;
  int64_t sessions = -1;
  const auto t0 = Clock::now();
  if (s.measure == "new") {
    for (const char* by : {"instrument", "user", "month"}) {
      const auto t = Clock::now();
      auto r = get(std::string("/api/reports/usage?from=") + kFirstMonth + "&to=" + kLastMonth + "&by=" + by);
      times[by] = ms_since(t);
      bytes += static_cast<int64_t>(r.body.size());
      sessions = json::parse(r.body)["totals"]["sessions"].get<int64_t>();
    }
  } else if (s.measure == "old") {
    for (auto by : {report::GroupBy::instrument, report::GroupBy::user, report::GroupBy::month}) {
      const auto t = Clock::now();
      const std::string body = old_report(store->db().conn(), by, from, to);
      times[report::to_string(by)] = ms_since(t);
      bytes += static_cast<int64_t>(body.size());
      sessions = json::parse(body)["totals"]["sessions"].get<int64_t>();
    }
  } else if (s.measure == "page") {
    std::string next = std::string("/api/charges?month=") + kPageMonth + "&limit=" + std::to_string(s.page_limit);
    int64_t rows = 0;
    int pages = 0;
    while (!next.empty()) {
      auto r = get(next);
      rows += static_cast<int64_t>(json::parse(r.body).size());
      bytes += static_cast<int64_t>(r.body.size());
      ++pages;
      next = target_of_link(r);
    }
    out["rows"] = rows;
    out["pages"] = pages;
  } else if (s.measure == "page-old") {
    int64_t rows = 0;
    const std::string body = old_charges(store->db().conn(), month_start(kPageMonth),
                                         month_start(*lg::time::next_month(kPageMonth)), rows);
    bytes = static_cast<int64_t>(body.size());
    out["rows"] = rows;
    out["pages"] = 1;
  } else if (s.measure != "idle") {
    die("unknown --measure " + s.measure);
  }
  out["ms"] = ms_since(t0);
  out["parts_ms"] = times;
  out["bytes"] = bytes;
  if (sessions >= 0) out["sessions"] = sessions;
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  out["maxrss_kb"] = ru.ru_maxrss;
  out["vmhwm_kb"] = vm_hwm_kb();
  std::cout << out.dump() << "\n";
  return 0;
}

// ------------------------------------------------------------------ driver (parent)

/// Runs this program with args in a child process; its one JSON line. The parent stays small, so
/// the child's peak RSS is the measurement's own.
json child(const std::vector<std::string>& args) {
  int fds[2];
  if (pipe(fds) != 0) die("pipe failed");
  const pid_t pid = fork();
  if (pid < 0) die("fork failed");
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    std::vector<char*> argv;
    std::string self = "/proc/self/exe";
    argv.push_back(self.data());
    std::vector<std::string> copy = args;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv("/proc/self/exe", argv.data());
    _exit(127);
  }
  close(fds[1]);
  std::string text;
  char buf[4096];
  for (;;) {
    const ssize_t n = read(fds[0], buf, sizeof buf);
    if (n <= 0) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) die("child " + args.front() + " " + args.back() + " failed");
  if (text.empty()) return json::object();
  return json::parse(text);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

struct Summary {
  double ms = 0;
  int64_t maxrss_kb = 0;
  int64_t vmhwm_kb = 0;
  json last;
};

Summary summarize(const std::vector<json>& runs) {
  Summary s;
  std::vector<double> t;
  for (const auto& r : runs) {
    t.push_back(r["ms"].get<double>());
    s.maxrss_kb = std::max(s.maxrss_kb, r["maxrss_kb"].get<int64_t>());
    s.vmhwm_kb = std::max(s.vmhwm_kb, r["vmhwm_kb"].get<int64_t>());
  }
  s.ms = median(t);
  s.last = runs.back();
  return s;
}

int run_driver(Settings s) {
  std::filesystem::path tmp;
  if (s.db.empty()) {
    tmp = std::filesystem::temp_directory_path() / ("labgate-bench-report-" + std::to_string(getpid()));
    std::filesystem::create_directories(tmp);
    s.db = (tmp / "labgate.db").string();
  }
  const std::vector<std::string> common{"--db", s.db, "--page-limit", std::to_string(s.page_limit)};
  auto with = [&common](std::vector<std::string> extra) {
    extra.insert(extra.end(), common.begin(), common.end());
    return extra;
  };
  double fill_s = 0;
  if (s.reuse && std::filesystem::exists(s.db)) {
    std::cerr << "labgate-bench-report: reusing " << s.db << " (--sessions etc. are what filled it)\n";
  } else {
    std::cerr << "labgate-bench-report: filling " << s.sessions << " sessions + charges into " << s.db << "\n";
    const auto t_fill = Clock::now();
    child(with({"--fill", "--sessions", std::to_string(s.sessions), "--instruments", std::to_string(s.instruments),
                "--users", std::to_string(s.users)}));
    fill_s = ms_since(t_fill) / 1000;
  }
  const auto db_bytes = static_cast<int64_t>(std::filesystem::file_size(s.db));

  std::map<std::string, std::vector<json>> runs;
  // One untimed pass each first, so every timed round finds the file in the page cache.
  child(with({"--measure", "old"}));
  child(with({"--measure", "new"}));
  for (int round = 0; round < s.rounds; ++round) {
    for (const char* m : {"idle", "new", "old", "page", "page-old"}) {
      std::cerr << "  round " << (round + 1) << "/" << s.rounds << ": " << m << "\n";
      runs[m].push_back(child(with({"--measure", m})));
    }
  }
  const Summary idle = summarize(runs["idle"]);
  const Summary fresh = summarize(runs["new"]);
  const Summary old = summarize(runs["old"]);
  const Summary page = summarize(runs["page"]);
  const Summary page_old = summarize(runs["page-old"]);
  if (fresh.last["sessions"] != old.last["sessions"]) die("the two approaches disagree on the session count");
  if (page.last["rows"] != page_old.last["rows"]) die("paging returned another number of charges");

  auto parts = [&runs](const char* m, const char* by) {
    std::vector<double> t;
    for (const auto& r : runs[m]) t.push_back(r["parts_ms"][by].get<double>());
    return median(t);
  };
  json res{{"sessions", s.sessions},
           {"instruments", s.instruments},
           {"users", s.users},
           {"rounds", s.rounds},
           {"fill_s", fill_s},
           {"db_bytes", db_bytes},
           {"period", std::string(kFirstMonth) + ".." + kLastMonth},
           {"report_sessions", fresh.last["sessions"]},
           {"idle", {{"maxrss_kb", idle.maxrss_kb}, {"vmhwm_kb", idle.vmhwm_kb}}},
           {"report_new", {{"ms", fresh.ms}, {"maxrss_kb", fresh.maxrss_kb}, {"vmhwm_kb", fresh.vmhwm_kb}}},
           {"report_old", {{"ms", old.ms}, {"maxrss_kb", old.maxrss_kb}, {"vmhwm_kb", old.vmhwm_kb}}},
           {"ratio_time_old_over_new", old.ms / fresh.ms},
           {"page", {{"ms", page.ms}, {"maxrss_kb", page.maxrss_kb}, {"rows", page.last["rows"]},
                     {"pages", page.last["pages"]}, {"limit", s.page_limit}, {"month", kPageMonth}}},
           {"page_old", {{"ms", page_old.ms}, {"maxrss_kb", page_old.maxrss_kb}, {"bytes", page_old.last["bytes"]}}},
           {"ratio_time_page_over_unpaged", page.ms / page_old.ms}};
  for (const char* by : {"instrument", "user", "month"}) {
    res["report_new"]["by_" + std::string(by) + "_ms"] = parts("new", by);
    res["report_old"]["by_" + std::string(by) + "_ms"] = parts("old", by);
  }

  char line[256];
  auto mib = [](int64_t kb) { return static_cast<double>(kb) / 1024.0; };
  std::cerr << "\nUsage report, " << s.sessions << " sessions over " << kFirstMonth << ".." << kLastMonth
            << " (by instrument + user + month; median of " << s.rounds << ")\n";
  std::cerr << "                                     time ms   peak RSS MiB\n";
  std::snprintf(line, sizeof line, "  old: join, load, group in C++ %11.1f %14.1f\n", old.ms, mib(old.maxrss_kb));
  std::cerr << line;
  std::snprintf(line, sizeof line, "  new: GROUP BY over charges    %11.1f %14.1f\n", fresh.ms, mib(fresh.maxrss_kb));
  std::cerr << line;
  std::snprintf(line, sizeof line, "  floor: open the store only    %11s %14.1f\n", "", mib(idle.maxrss_kb));
  std::cerr << line;
  std::snprintf(line, sizeof line, "  ratio old / new: time %.1fx, peak RSS above the floor %.1fx\n", old.ms / fresh.ms,
                static_cast<double>(old.maxrss_kb - idle.maxrss_kb) /
                    static_cast<double>(std::max<int64_t>(1, fresh.maxrss_kb - idle.maxrss_kb)));
  std::cerr << line;
  std::snprintf(line, sizeof line,
                "  per report (new / old ms): instrument %.1f / %.1f, user %.1f / %.1f, month %.1f / %.1f\n",
                parts("new", "instrument"), parts("old", "instrument"), parts("new", "user"), parts("old", "user"),
                parts("new", "month"), parts("old", "month"));
  std::cerr << line;
  std::cerr << "\nCharges of " << kPageMonth << ": " << page.last["rows"].get<int64_t>() << " rows\n";
  std::snprintf(line, sizeof line, "  paged, limit %lld, %lld pages     %11.1f %14.1f\n",
                static_cast<long long>(s.page_limit), static_cast<long long>(page.last["pages"].get<int64_t>()),
                page.ms, mib(page.maxrss_kb));
  std::cerr << line;
  std::snprintf(line, sizeof line, "  one unpaged answer (before)  %11.1f %14.1f   (%.1f MB body)\n", page_old.ms,
                mib(page_old.maxrss_kb), static_cast<double>(page_old.last["bytes"].get<int64_t>()) / 1e6);
  std::cerr << line;
  std::snprintf(line, sizeof line, "  ratio paged / unpaged: time %.2fx\n", page.ms / page_old.ms);
  std::cerr << line;
  std::snprintf(line, sizeof line, "\nfill %.0f s, database %.0f MiB\n", fill_s,
                static_cast<double>(db_bytes) / 1048576.0);
  std::cerr << line;
  std::cout << res.dump() << "\n";

  if (!tmp.empty()) {
    if (s.keep) {
      std::cerr << "kept " << tmp << "\n";
    } else {
      std::error_code ec;
      std::filesystem::remove_all(tmp, ec);
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Settings s;
  bool do_fill = false;
  CLI::App app{"labgate-bench-report: usage report and charge paging, SQL aggregation against the former "
               "in-memory approach, measured in the same run"};
  app.add_option("--sessions", s.sessions, "Sessions (each with its charge) to fill; 10000000 for the large run")
      ->check(CLI::Range(int64_t{1000}, int64_t{100'000'000}))
      ->capture_default_str();
  app.add_option("--instruments", s.instruments, "Instruments")->check(CLI::Range(1, 100000))->capture_default_str();
  app.add_option("--users", s.users, "Users")->check(CLI::Range(1, 10'000'000))->capture_default_str();
  app.add_option("--rounds", s.rounds, "Timed rounds of each measurement")->check(CLI::Range(1, 50))->capture_default_str();
  app.add_option("--page-limit", s.page_limit, "Rows per page when paging charges")
      ->check(CLI::Range(int64_t{1}, int64_t{10000}))
      ->capture_default_str();
  app.add_option("--db", s.db, "Database file (default: a temp dir removed afterwards)");
  app.add_flag("--keep", s.keep, "Keep the temp dir with the database");
  app.add_flag("--reuse", s.reuse, "Measure an existing --db filled by an earlier run instead of filling it");
  app.add_flag("--fill", do_fill, "(internal) fill --db and exit");
  app.add_option("--measure", s.measure, "(internal) run one measurement on --db and print it");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (do_fill) {
    fill(s);
    return 0;
  }
  if (!s.measure.empty()) return run_measure(s);
  return run_driver(s);
}
