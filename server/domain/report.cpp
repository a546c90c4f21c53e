#include "server/domain/report.hpp"

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

std::string hours_string(int64_t duration_ms) {
  const bool negative = duration_ms < 0;
  const uint64_t ms = negative ? 0 - static_cast<uint64_t>(duration_ms) : static_cast<uint64_t>(duration_ms);
  // hundredths of an hour = ms / 36'000, rounded half up.
  const uint64_t centi = (ms + 18'000) / 36'000;
  char buf[48];
  std::snprintf(buf, sizeof buf, "%s%llu.%02llu", negative ? "-" : "",
                static_cast<unsigned long long>(centi / 100), static_cast<unsigned long long>(centi % 100));
  return buf;
}

namespace {
void finish(Row& r) {
  r.seconds = r.duration_ms / 1000;
  r.hours = hours_string(r.duration_ms);
}
}  // namespace

Report aggregate(const std::vector<UsageItem>& items, GroupBy by,
                 const std::function<std::string(int64_t)>& month_of) {
  std::map<std::string, Row> groups;
  Report out;
  out.totals.key = "total";
  out.totals.name = "total";
  for (const auto& it : items) {
    std::string key;
    std::string name;
    switch (by) {
      case GroupBy::instrument:
        key = it.instrument;
        name = it.instrument_name.empty() ? it.instrument : it.instrument_name;
        break;
      case GroupBy::user:
        key = it.user;
        name = it.user.empty() ? "unknown user" : (it.user_name.empty() ? it.user : it.user_name);
        break;
      case GroupBy::month:
        key = month_of(it.end_ms);
        name = key;
        break;
    }
    Row& r = groups[key];
    r.key = key;
    if (r.name.empty()) r.name = name;
    r.sessions += 1;
    r.duration_ms += it.duration_ms;
    r.amount_fen += it.amount_fen;
    out.totals.sessions += 1;
    out.totals.duration_ms += it.duration_ms;
    out.totals.amount_fen += it.amount_fen;
  }
  for (auto& [k, r] : groups) {
    finish(r);
    out.rows.push_back(r);
  }
  finish(out.totals);
  return out;
}

}  // namespace lg::server::report
