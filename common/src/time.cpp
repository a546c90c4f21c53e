#include "labgate/common/time.hpp"

#include <sys/timex.h>
#include <time.h>

#include <chrono>
#include <cstdio>
#include <fstream>

#include <date/date.h>
#include <date/tz.h>

namespace lg::time {
namespace {
using namespace std::chrono;

int64_t clock_ms(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

bool parse_year_month(std::string_view ym, int& y, unsigned& m) {
  if (ym.size() != 7 || ym[4] != '-') return false;
  int yy = 0;
  for (int i = 0; i < 4; ++i) {
    if (ym[i] < '0' || ym[i] > '9') return false;
    yy = yy * 10 + (ym[i] - '0');
  }
  if (ym[5] < '0' || ym[5] > '9' || ym[6] < '0' || ym[6] > '9') return false;
  const unsigned mm = static_cast<unsigned>((ym[5] - '0') * 10 + (ym[6] - '0'));
  if (mm < 1 || mm > 12 || yy < 1970) return false;
  y = yy;
  m = mm;
  return true;
}

Result<const date::time_zone*> zone(const std::string& tz) {
  try {
    return date::locate_zone(tz);
  } catch (const std::exception& e) {
    return Error::invalid("unknown time zone '" + tz + "': " + e.what());
  }
}
}  // namespace

int64_t now_utc_ms() { return clock_ms(CLOCK_REALTIME); }
int64_t steady_ms() { return clock_ms(CLOCK_MONOTONIC); }

std::string format_utc(int64_t utc_ms) {
  const sys_time<milliseconds> tp{milliseconds{utc_ms}};
  return date::format("%FT%TZ", tp);
}

std::optional<int64_t> parse_utc(std::string_view text) {
  // YYYY-MM-DDTHH:MM:SS[.fff](Z|+HH:MM|-HH:MM)
  auto digits = [&](std::size_t pos, std::size_t n, int& out) {
    if (pos + n > text.size()) return false;
    int v = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const char c = text[pos + i];
      if (c < '0' || c > '9') return false;
      v = v * 10 + (c - '0');
    }
    out = v;
    return true;
  };
  int Y, M, D, h, mi, s;
  if (text.size() < 20) return std::nullopt;
  if (!digits(0, 4, Y) || text[4] != '-' || !digits(5, 2, M) || text[7] != '-' || !digits(8, 2, D) ||
      (text[10] != 'T' && text[10] != ' ') || !digits(11, 2, h) || text[13] != ':' || !digits(14, 2, mi) ||
      text[16] != ':' || !digits(17, 2, s))
    return std::nullopt;
  std::size_t pos = 19;
  int ms = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    std::size_t n = 0;
    int frac = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (n < 3) frac = frac * 10 + (text[pos] - '0');
      ++n;
      ++pos;
    }
    if (n == 0) return std::nullopt;
    for (std::size_t k = n; k < 3; ++k) frac *= 10;
    ms = frac;
  }
  int offset_min = 0;
  if (pos >= text.size()) return std::nullopt;
  if (text[pos] == 'Z' || text[pos] == 'z') {
    ++pos;
  } else if (text[pos] == '+' || text[pos] == '-') {
    const int sign = text[pos] == '+' ? 1 : -1;
    int oh, om;
    if (!digits(pos + 1, 2, oh) || pos + 3 >= text.size() || text[pos + 3] != ':' || !digits(pos + 4, 2, om))
      return std::nullopt;
    if (oh > 23 || om > 59) return std::nullopt;
    offset_min = sign * (oh * 60 + om);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != text.size()) return std::nullopt;
  if (M < 1 || M > 12 || h > 23 || mi > 59 || s > 60) return std::nullopt;
  const date::year_month_day ymd{date::year{Y}, date::month{static_cast<unsigned>(M)},
                                 date::day{static_cast<unsigned>(D)}};
  if (!ymd.ok()) return std::nullopt;
  const auto day = date::sys_days{ymd};
  const auto tp = day + hours{h} + minutes{mi} + seconds{s} + milliseconds{ms} - minutes{offset_min};
  return duration_cast<milliseconds>(tp.time_since_epoch()).count();
}

bool clock_synced() {
  timex tx{};
  const int state = adjtimex(&tx);
  return state != TIME_ERROR && (tx.status & STA_UNSYNC) == 0;
}

std::string boot_id() {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string id;
  std::getline(in, id);
  return id;
}

Result<std::string> local_month(int64_t utc_ms, const std::string& tz) {
  auto z = zone(tz);
  if (!z) return z.error();
  const sys_time<milliseconds> tp{milliseconds{utc_ms}};
  const auto local = (*z)->to_local(tp);
  const date::year_month_day ymd{date::floor<date::days>(local)};
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u", static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()));
  return std::string(buf);
}

Result<int64_t> local_month_start(std::string_view year_month, const std::string& tz) {
  int y;
  unsigned m;
  if (!parse_year_month(year_month, y, m)) return Error::invalid("month must be YYYY-MM, got '" + std::string(year_month) + "'");
  auto z = zone(tz);
  if (!z) return z.error();
  const date::local_days ld{date::year{y} / date::month{m} / date::day{1}};
  const auto utc = (*z)->to_sys(ld, date::choose::earliest);
  return duration_cast<milliseconds>(utc.time_since_epoch()).count();
}

Result<std::string> next_month(std::string_view year_month) {
  int y;
  unsigned m;
  if (!parse_year_month(year_month, y, m)) return Error::invalid("month must be YYYY-MM, got '" + std::string(year_month) + "'");
  if (++m > 12) {
    m = 1;
    ++y;
  }
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u", y, m);
  return std::string(buf);
}

Result<std::string> format_local(int64_t utc_ms, const std::string& tz) {
  auto z = zone(tz);
  if (!z) return z.error();
  const sys_time<seconds> tp{duration_cast<seconds>(milliseconds{utc_ms})};
  return date::format("%F %T", (*z)->to_local(tp));
}

Result<std::string> format_site(int64_t utc_ms, const std::string& tz) {
  auto z = zone(tz);
  if (!z) return z.error();
  const sys_time<milliseconds> tp{milliseconds{utc_ms}};
  const auto info = (*z)->get_info(time_point_cast<seconds>(tp));
  const auto local = tp + info.offset;
  const int64_t off_min = duration_cast<minutes>(info.offset).count();
  char off[8];
  std::snprintf(off, sizeof off, "%c%02d:%02d", off_min < 0 ? '-' : '+', static_cast<int>((off_min < 0 ? -off_min : off_min) / 60),
                static_cast<int>((off_min < 0 ? -off_min : off_min) % 60));
  return date::format("%FT%T", date::local_time<milliseconds>{local.time_since_epoch()}) + off;
}

Result<std::string> format_local_offset(int64_t utc_ms, const std::string& tz) {
  auto z = zone(tz);
  if (!z) return z.error();
  const sys_seconds tp = date::floor<seconds>(sys_time<milliseconds>{milliseconds{utc_ms}});
  const auto info = (*z)->get_info(tp);
  const int64_t off = duration_cast<minutes>(info.offset).count();
  const int64_t abs_off = off < 0 ? -off : off;
  char sign_hh_mm[16];
  std::snprintf(sign_hh_mm, sizeof sign_hh_mm, " %c%02d:%02d", off < 0 ? '-' : '+', static_cast<int>(abs_off / 60),
                static_cast<int>(abs_off % 60));
  return date::format("%F %T", date::local_seconds{(tp + info.offset).time_since_epoch()}) + sign_hh_mm;
}

Result<LocalTime> local_time(int64_t utc_ms, const std::string& tz) {
  auto z = zone(tz);
  if (!z) return z.error();
  const sys_time<milliseconds> tp{milliseconds{utc_ms}};
  const auto local = (*z)->to_local(tp);
  const auto ld = date::floor<date::days>(local);
  const date::year_month_day ymd{ld};
  LocalTime out;
  out.year = static_cast<int32_t>(static_cast<int>(ymd.year()));
  out.month = static_cast<unsigned>(ymd.month());
  out.day = static_cast<unsigned>(ymd.day());
  out.weekday = date::weekday{ld}.iso_encoding();
  out.ms_of_day = duration_cast<milliseconds>(local - ld).count();
  out.day_start_ms = duration_cast<milliseconds>((*z)->to_sys(ld, date::choose::earliest).time_since_epoch()).count();
  return out;
}

Result<int64_t> local_day_start(int64_t utc_ms, int32_t days, const std::string& tz) {
  auto z = zone(tz);
  if (!z) return z.error();
  const sys_time<milliseconds> tp{milliseconds{utc_ms}};
  const auto ld = date::floor<date::days>((*z)->to_local(tp)) + date::days{days};
  try {
    return duration_cast<milliseconds>((*z)->to_sys(ld, date::choose::earliest).time_since_epoch()).count();
  } catch (const std::exception&) {
    // midnight falls in a gap: the first instant after it
    const auto info = (*z)->get_info(ld);
    return duration_cast<milliseconds>(info.second.begin.time_since_epoch()).count();
  }
}

Result<int64_t> local_week_start(int64_t utc_ms, const std::string& tz) {
  auto lt = local_time(utc_ms, tz);
  if (!lt) return lt.error();
  return local_day_start(utc_ms, -static_cast<int32_t>(lt->weekday - 1), tz);
}

Result<int64_t> add_months(int64_t utc_ms, int32_t months, const std::string& tz) {
  auto z = zone(tz);
  if (!z) return z.error();
  const sys_time<milliseconds> tp{milliseconds{utc_ms}};
  const auto local = (*z)->to_local(tp);
  const auto ld = date::floor<date::days>(local);
  const auto time_of_day = local - ld;
  const date::year_month_day ymd{ld};
  const date::year_month ym = date::year_month{ymd.year(), ymd.month()} + date::months{months};
  if (!ym.ok() || ym.year() < date::year{1} || ym.year() > date::year{9999}) return Error::invalid("add_months: out of range");
  const date::year_month_day_last last{ym.year(), date::month_day_last{ym.month()}};
  const date::day d = ymd.day() <= last.day() ? ymd.day() : last.day();
  const date::local_days target{date::year_month_day{ym.year(), ym.month(), d}};
  const auto lt = target + time_of_day;
  try {
    return duration_cast<milliseconds>((*z)->to_sys(lt, date::choose::earliest).time_since_epoch()).count();
  } catch (const std::exception&) {
    const auto info = (*z)->get_info(lt);
    return duration_cast<milliseconds>(info.second.begin.time_since_epoch()).count();
  }
}

}  // namespace lg::time
