#include "server/reports/rules.hpp"

#include "labgate/common/assert.hpp"
#include "labgate/common/defaults.hpp"

#include <cstdio>
#include <map>

namespace lg::server::report {

std::optional<GroupBy> group_by_from(std::string_view s) {
  if (s == "instrument") return GroupBy::instrument;
  if (s == "user") return GroupBy::user;
  if (s == "month") return GroupBy::month;
  return std::nullopt;
}

const char* to_string(GroupBy g) {
  switch (g) {
    case GroupBy::instrument: return "instrument";
    case GroupBy::user: return "user";
    case GroupBy::month: return "month";
  }
  return "instrument";
}

std::string hours_string(int64_t duration_ms) { return defaults::hours_text(duration_ms); }

namespace {
void finish(Row& r) {
  r.seconds = r.duration_ms / 1000;
  r.hours = hours_string(r.duration_ms);
}

std::string display_name(const GroupSum& g, GroupBy by) {
  switch (by) {
    case GroupBy::instrument: return g.name.empty() ? g.key : g.name;
    case GroupBy::user: return g.key.empty() ? "unknown user" : (g.name.empty() ? g.key : g.name);
    case GroupBy::month: return g.key;
  }
  return g.key;
}

/// Month index (year * 12 + month - 1) of "YYYY-MM" (year 1970..9999), nullopt if malformed.
std::optional<int> month_index(std::string_view ym) {
  if (ym.size() != 7 || ym[4] != '-') return std::nullopt;
  int y = 0;
  for (int i = 0; i < 4; ++i) {
    if (ym[i] < '0' || ym[i] > '9') return std::nullopt;
    y = y * 10 + (ym[i] - '0');
  }
  if (ym[5] < '0' || ym[5] > '9' || ym[6] < '0' || ym[6] > '9') return std::nullopt;
  const int m = (ym[5] - '0') * 10 + (ym[6] - '0');
  if (m < 1 || m > 12 || y < 1970) return std::nullopt;
  return y * 12 + m - 1;
}

std::string month_text(int index) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02d", index / 12, index % 12 + 1);
  return buf;
}
}  // namespace

Report from_groups(std::vector<GroupSum> groups, GroupBy by) {
  std::map<std::string, Row> rows;
  Report out;
  out.totals.key = "total";
  out.totals.name = "total";
  for (auto& g : groups) {
    Row& r = rows[g.key];
    if (r.key.empty()) r.key = g.key;
    if (r.name.empty()) r.name = display_name(g, by);
    r.sessions += g.sessions;
    r.duration_ms += g.duration_ms;
    r.amount_fen += g.amount_fen;
    out.totals.sessions += g.sessions;
    out.totals.duration_ms += g.duration_ms;
    out.totals.amount_fen += g.amount_fen;
  }
  out.rows.reserve(rows.size());
  int64_t fen = 0;
  for (auto& [k, r] : rows) {
    finish(r);
    fen += r.amount_fen;
    out.rows.push_back(std::move(r));
  }
  finish(out.totals);
  LG_ASSERT(fen == out.totals.amount_fen, "a report's total is the sum of its rows");
  return out;
}

Report aggregate(const std::vector<UsageItem>& items, GroupBy by,
                 const std::function<std::string(int64_t)>& month_of) {
  std::map<std::string, GroupSum> groups;
  for (const auto& it : items) {
    std::string key;
    const std::string* name = nullptr;
    switch (by) {
      case GroupBy::instrument:
        key = it.instrument;
        name = &it.instrument_name;
        break;
      case GroupBy::user:
        key = it.user;
        name = &it.user_name;
        break;
      case GroupBy::month:
        key = month_of(it.end_ms);
        break;
    }
    GroupSum& g = groups[key];
    g.key = key;
    if (g.name.empty() && name) g.name = *name;
    g.sessions += 1;
    g.duration_ms += it.duration_ms;
    g.amount_fen += it.amount_fen;
  }
  std::vector<GroupSum> sums;
  sums.reserve(groups.size());
  for (auto& [k, g] : groups) sums.push_back(std::move(g));
  return from_groups(std::move(sums), by);
}

Result<Period> period_from(std::string_view month, std::string_view from, std::string_view to,
                           std::string_view current) {
  const auto bad = [](std::string_view key) {
    return Error::invalid(std::string(key) + " must be YYYY-MM");
  };
  if (!month.empty()) {
    if (!from.empty() || !to.empty()) return Error::invalid("month: give either month or from and to, not both");
    if (!month_index(month)) return bad("month");
    return Period{std::string(month), std::string(month)};
  }
  if (from.empty() != to.empty()) {
    return Error::invalid(from.empty() ? "from: missing (to needs from)" : "to: missing (from needs to)");
  }
  if (from.empty()) {
    if (!month_index(current)) return bad("current month");
    return Period{std::string(current), std::string(current)};
  }
  const auto f = month_index(from);
  if (!f) return bad("from");
  const auto t = month_index(to);
  if (!t) return bad("to");
  if (*t < *f) return Error::invalid("to: must not be before from");
  const int months = *t - *f + 1;
  if (months > kMaxPeriodMonths) {
    return Error::invalid("to: the period covers " + std::to_string(months) + " months, at most " +
                          std::to_string(kMaxPeriodMonths) + " may be asked for at once");
  }
  return Period{std::string(from), std::string(to)};
}

std::vector<std::string> months_of(const Period& p) {
  std::vector<std::string> out;
  const auto f = month_index(p.from);
  const auto t = month_index(p.to);
  if (!f || !t) return out;
  for (int i = *f; i <= *t; ++i) out.push_back(month_text(i));
  return out;
}

}  // namespace lg::server::report
