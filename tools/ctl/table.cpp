#include "table.hpp"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <utility>

#include <nlohmann/json.hpp>

#include "labgate/common/defaults.hpp"
#include "labgate/common/log.hpp"
#include "labgate/common/money.hpp"
#include "labgate/common/time.hpp"

namespace lg::ctl {
namespace {

using json = nlohmann::json;

bool wide(char32_t c) {
  return (c >= 0x1100 && c <= 0x115F) || (c >= 0x2E80 && c <= 0x303E) || (c >= 0x3041 && c <= 0x33FF) ||
         (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0xA000 && c <= 0xA4CF) ||
         (c >= 0xAC00 && c <= 0xD7A3) || (c >= 0xF900 && c <= 0xFAFF) || (c >= 0xFE30 && c <= 0xFE4F) ||
         (c >= 0xFF00 && c <= 0xFF60) || (c >= 0xFFE0 && c <= 0xFFE6) || (c >= 0x20000 && c <= 0x3FFFD);
}

std::string pad(const std::string& s, std::size_t width, Align a) {
  const std::size_t w = display_width(s);
  if (w >= width) return s;
  const std::string fill(width - w, ' ');
  return a == Align::right ? fill + s : s + fill;
}

void rstrip(std::string& s) {
  while (!s.empty() && s.back() == ' ') s.pop_back();
}

const json* find(const json& obj, std::string_view key) {
  if (!obj.is_object()) return nullptr;
  const auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

std::string str(const json& obj, std::string_view key) {
  const json* v = find(obj, key);
  return v ? cell(*v) : "-";
}

std::optional<int64_t> integer(const json& obj, std::string_view key) {
  const json* v = find(obj, key);
  if (!v || !v->is_number()) return std::nullopt;
  if (v->is_number_float()) return static_cast<int64_t>(v->get<double>());
  return v->get<int64_t>();
}

std::string money_cell(const json& obj, std::string_view fen_key, std::string_view yuan_key) {
  if (auto fen = integer(obj, fen_key)) return lg::money::format(*fen);
  return str(obj, yuan_key);
}

std::string hours_cell(const json& obj) {
  if (auto s = integer(obj, "seconds")) return format_hours(*s);
  const json* h = find(obj, "hours");
  if (h && h->is_number()) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f", h->get<double>());
    return buf;
  }
  return h ? cell(*h) : "-";
}

bool ends_with(std::string_view s, std::string_view suffix) { return s.ends_with(suffix); }

std::string header_for(const std::string& key) {
  if (key == "duration_ms") return "hours";
  if (ends_with(key, "_fen")) return key.substr(0, key.size() - 4);
  if (ends_with(key, "_ms")) return key.substr(0, key.size() - 3);
  std::string h = key;
  std::replace(h.begin(), h.end(), '_', ' ');
  return h;
}

std::string value_for(const std::string& key, const json& v, const std::string& tz) {
  if (time_key(key)) return time_cell(v, tz);
  if (v.is_number_integer()) {
    const auto n = v.get<int64_t>();
    if (key == "duration_ms") return lg::defaults::hours_text(n);
    if (ends_with(key, "_fen")) return lg::money::format(n);
  }
  if (v.is_object()) {  // e.g. "charge": {"amount_fen":..}
    if (auto fen = integer(v, "amount_fen")) return lg::money::format(*fen);
    return v.dump();
  }
  if (v.is_array()) return v.dump();
  return cell(v);
}

bool numeric_key(const std::string& key, const json& array) {
  for (const auto& e : array) {
    const json* v = find(e, key);
    if (!v || v->is_null()) continue;
    if (v->is_object()) return find(*v, "amount_fen") != nullptr;
    return v->is_number() && !time_key(key);
  }
  return false;
}

void flatten(const json& v, const std::string& prefix, std::vector<std::vector<std::string>>& rows) {
  if (v.is_object() && !v.empty()) {
    for (const auto& [k, sub] : v.items()) flatten(sub, prefix.empty() ? k : prefix + "." + k, rows);
  } else {
    rows.push_back({prefix, v.is_structured() ? v.dump() : cell(v)});
  }
}

/// A list of strings as one cell, separated by sep; "-" for an empty or absent list.
std::string words(const json* v, std::string_view sep, std::string_view empty = "-") {
  if (!v || !v->is_array()) return v ? cell(*v) : std::string(empty);
  std::string out;
  for (const auto& x : *v) {
    if (!out.empty()) out += sep;
    out += cell(x);
  }
  return out.empty() ? std::string(empty) : out;
}

std::string time_of(const json& obj, std::string_view key, const std::string& tz) {
  const json* v = find(obj, key);
  return v ? time_cell(*v, tz) : "-";
}

constexpr std::pair<Format, std::string_view> kFormatNames[] = {
    {Format::table, "table"}, {Format::json, "json"}, {Format::csv, "csv"}};

}  // namespace

std::string_view to_string(Format f) {
  for (const auto& [v, name] : kFormatNames) {
    if (v == f) return name;
  }
  return "table";
}

std::optional<Format> format_from_string(std::string_view text) {
  for (const auto& [v, name] : kFormatNames) {
    if (name == text) return v;
  }
  return std::nullopt;
}

std::size_t display_width(std::string_view s) {
  std::size_t w = 0;
  for (std::size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    std::size_t len = 1;
    char32_t c = b;
    if (b >= 0xF0) { len = 4; c = b & 0x07u; }
    else if (b >= 0xE0) { len = 3; c = b & 0x0Fu; }
    else if (b >= 0xC0) { len = 2; c = b & 0x1Fu; }
    for (std::size_t k = 1; k < len && i + k < s.size(); ++k)
      c = (c << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3Fu);
    i += len;
    w += wide(c) ? 2 : 1;
  }
  return w;
}

std::string render(const Table& t) {
  std::size_t ncol = t.headers.size();
  for (const auto& r : t.rows) ncol = std::max(ncol, r.size());
  for (const auto& r : t.footer) ncol = std::max(ncol, r.size());
  std::vector<std::size_t> width(ncol, 0);
  auto measure = [&](const std::vector<std::string>& r) {
    for (std::size_t c = 0; c < r.size(); ++c) width[c] = std::max(width[c], display_width(r[c]));
  };
  measure(t.headers);
  for (const auto& r : t.rows) measure(r);
  for (const auto& r : t.footer) measure(r);

  std::string out;
  auto line = [&](const std::vector<std::string>& r) {
    std::string l;
    for (std::size_t c = 0; c < ncol; ++c) {
      const Align a = c < t.align.size() ? t.align[c] : Align::left;
      if (c > 0) l += "  ";
      l += pad(c < r.size() ? r[c] : std::string(), width[c], a);
    }
    rstrip(l);
    out += l + '\n';
  };
  auto rule = [&] {
    std::string l;
    for (std::size_t c = 0; c < ncol; ++c) {
      if (c > 0) l += "  ";
      l += std::string(width[c], '-');
    }
    out += l + '\n';
  };
  if (!t.headers.empty()) {
    line(t.headers);
    rule();
  }
  for (const auto& r : t.rows) line(r);
  if (!t.footer.empty()) {
    rule();
    for (const auto& r : t.footer) line(r);
  }
  return out;
}

std::string render_csv(const Table& t) {
  std::size_t ncol = t.headers.size();
  for (const auto& r : t.rows) ncol = std::max(ncol, r.size());
  std::string out;
  auto field = [&](const std::string& v) {
    if (v.find_first_of(",\"\r\n") == std::string::npos) {
      out += v;
      return;
    }
    out += '"';
    for (const char c : v) {
      if (c == '"') out += '"';
      out += c;
    }
    out += '"';
  };
  auto line = [&](const std::vector<std::string>& r) {
    for (std::size_t c = 0; c < ncol; ++c) {
      if (c > 0) out += ',';
      if (c < r.size()) field(r[c]);
    }
    out += '\n';
  };
  if (!t.headers.empty()) line(t.headers);
  for (const auto& r : t.rows) line(r);
  return out;
}

std::string format_hours(int64_t seconds) {
  if (seconds > INT64_MAX / 1000 || seconds < INT64_MIN / 1000) return "-";
  return lg::defaults::hours_text(seconds * 1000);
}

std::string format_time_ms(int64_t utc_ms, const std::string& tz) {
  if (auto local = lg::time::format_local_offset(utc_ms, tz)) return *local;
  return *lg::time::format_local_offset(utc_ms, "UTC");
}

std::string time_cell(const json& v, const std::string& tz) {
  if (v.is_number_integer()) return format_time_ms(v.get<int64_t>(), tz);
  if (v.is_string()) {
    if (auto ms = lg::time::parse_utc(v.get<std::string>())) return format_time_ms(*ms, tz);
  }
  return cell(v);
}

bool time_key(std::string_view key) {
  static constexpr std::string_view kInstants[] = {
      "time",    "ts",      "start",   "end",     "last_seen", "valid_from", "valid_until", "since",  "ended",
      "retired", "created", "expires", "revoked", "last_used", "granted",    "applied",     "decided"};
  for (const auto k : kInstants) {
    if (key == k) return true;
  }
  return key.ends_with("_ms") && key != "duration_ms";
}

std::string cell(const json& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return lg::log::escape(v.get<std::string>());  // nothing the server holds moves the cursor
  if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
  if (v.is_number_float()) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%g", v.get<double>());
    return buf;
  }
  return v.dump();
}

Table terminals_table(const json& terminals, const std::string& tz) {
  Table t;
  t.headers = {"id", "resource", "online", "boot", "acl ver", "outbox", "acked seq", "last seen"};
  t.align = {Align::left, Align::left, Align::left, Align::right, Align::right, Align::right, Align::right, Align::left};
  if (!terminals.is_array()) return t;
  for (const auto& e : terminals) {
    const json* seen = find(e, "last_seen");
    const std::string last = seen ? time_cell(*seen, tz) : "-";
    t.rows.push_back({str(e, "id"), str(e, "resource"), str(e, "online"), str(e, "boot"), str(e, "acl_version"),
                      str(e, "outbox_depth"), str(e, "acked_seq"), last});
  }
  return t;
}

Table report_table(const json& report) {
  Table t;
  const std::string by = report.is_object() && report.contains("by") ? cell(report["by"]) : "key";
  t.headers = {by, "name", "sessions", "hours", "amount"};
  t.align = {Align::left, Align::left, Align::right, Align::right, Align::right};
  const json* rows = find(report, "rows");
  int64_t sessions = 0;
  int64_t seconds = 0;
  int64_t fen = 0;
  bool summable = true;
  if (rows && rows->is_array()) {
    for (const auto& r : *rows) {
      t.rows.push_back({str(r, "key"), str(r, "name"), str(r, "sessions"), hours_cell(r),
                        money_cell(r, "amount_fen", "amount")});
      const auto s = integer(r, "sessions");
      const auto sec = integer(r, "seconds");
      const auto f = integer(r, "amount_fen");
      if (s && sec && f) {
        sessions += *s;
        seconds += *sec;
        fen += *f;
      } else {
        summable = false;
      }
    }
  }
  const json* totals = find(report, "totals");
  if (totals && totals->is_object()) {
    t.footer.push_back({"total", "", str(*totals, "sessions"), hours_cell(*totals),
                        money_cell(*totals, "amount_fen", "amount")});
  } else if (summable) {
    t.footer.push_back({"total", "", std::to_string(sessions), format_hours(seconds), lg::money::format(fen)});
  }
  return t;
}

Table objects_table(const json& array, const std::vector<std::string>& preferred, const std::string& tz) {
  Table t;
  if (!array.is_array()) return t;
  std::vector<std::string> keys;
  for (const auto& k : preferred) {
    for (const auto& e : array) {
      if (find(e, k)) {
        keys.push_back(k);
        break;
      }
    }
  }
  if (keys.empty()) {
    for (const auto& e : array) {
      if (!e.is_object()) continue;
      for (const auto& [k, v] : e.items()) {
        if (std::find(keys.begin(), keys.end(), k) == keys.end()) keys.push_back(k);
      }
    }
  }
  for (const auto& k : keys) {
    t.headers.push_back(header_for(k));
    t.align.push_back(numeric_key(k, array) ? Align::right : Align::left);
  }
  for (const auto& e : array) {
    std::vector<std::string> row;
    for (const auto& k : keys) {
      const json* v = find(e, k);
      row.push_back(v ? value_for(k, *v, tz) : "-");
    }
    t.rows.push_back(std::move(row));
  }
  return t;
}

Table key_value_table(const json& object) {
  Table t;
  t.headers = {"key", "value"};
  t.align = {Align::left, Align::right};
  flatten(object, "", t.rows);
  return t;
}

std::string role_text(const json& grant) {
  std::string out = str(grant, "role");
  const std::string scope = str(grant, "scope");
  const json* id = find(grant, "scope_id");
  if (scope != "-") {
    out += " " + scope;
    if (id && !id->is_null()) out += ":" + cell(*id);
  }
  const json* implied = find(grant, "implied");
  if (implied && implied->is_boolean() && implied->get<bool>()) out += " (implied)";
  const json* revoked = find(grant, "revoked");
  if (revoked && !revoked->is_null()) out += " (revoked)";
  return out;
}

Table whoami_table(const json& me) {
  Table t;
  t.headers = {"key", "value"};
  for (const char* k : {"user", "name", "status", "actor", "kind", "pending"}) {
    if (find(me, k)) t.rows.push_back({k, str(me, k)});
  }
  const json* roles = find(me, "roles");
  if (roles && roles->is_array() && !roles->empty()) {
    for (const auto& g : *roles) t.rows.push_back({"role", role_text(g)});
  } else {
    t.rows.push_back({"role", "-"});
  }
  t.rows.push_back({"rights", words(find(me, "rights"), " ")});
  return t;
}

Table roles_table(const json& grants, const std::string& tz) {
  Table t;
  t.headers = {"id", "user", "role", "scope", "scope id", "granted by", "granted", "revoked"};
  if (!grants.is_array()) return t;
  for (const auto& g : grants) {
    t.rows.push_back({str(g, "id"), str(g, "user"), str(g, "role"), str(g, "scope"), str(g, "scope_id"),
                      str(g, "granted_by"), time_of(g, "granted", tz), time_of(g, "revoked", tz)});
  }
  return t;
}

Table tokens_table(const json& tokens, const std::string& tz) {
  Table t;
  t.headers = {"", "id", "name", "rights", "created", "expires", "last used", "revoked", "live", "source"};
  if (!tokens.is_array()) return t;
  for (const auto& e : tokens) {
    const json* cur = find(e, "current");
    const bool current = cur && cur->is_boolean() && cur->get<bool>();
    t.rows.push_back({current ? "*" : "", str(e, "id"), str(e, "name"), words(find(e, "rights"), " ", "all"),
                      time_of(e, "created", tz), time_of(e, "expires", tz), time_of(e, "last_used", tz),
                      time_of(e, "revoked", tz), str(e, "live"), str(e, "source")});
  }
  return t;
}

Table registrations_table(const json& registrations, const std::string& tz) {
  Table t;
  t.headers = {"user", "unit", "applied", "decision", "decided by", "decided", "reason"};
  if (!registrations.is_array()) return t;
  for (const auto& r : registrations) {
    const std::string reason = str(r, "reason");
    t.rows.push_back({str(r, "user"), str(r, "unit"), time_of(r, "applied", tz), str(r, "decision"),
                      str(r, "decided_by"), time_of(r, "decided", tz), reason.empty() ? "-" : reason});
  }
  return t;
}

std::string signed_in_text(const json& login, const std::string& tz) {
  std::string out = "signed in as " + str(login, "user") + " until " + time_of(login, "expires", tz);
  const json* pending = find(login, "pending");
  if (pending && pending->is_boolean() && pending->get<bool>())
    out += " (pending approval: no rights until a unit admin approves)";
  return out;
}

std::string failure_line(std::string_view what, int status, std::string_view error,
                         std::optional<int64_t> retry_after_s, bool had_token) {
  std::string out =
      "labgatectl: " + std::string(what) + ": HTTP " + std::to_string(status) + ": " + lg::log::escape(error);
  if (status == 429 && retry_after_s && error.find("try again") == std::string_view::npos)
    out += "; try again in " + std::to_string(*retry_after_s) + " s";
  if (status == 401 && !had_token) out += " (sign in with `labgatectl login USER`, or give --token / LABGATE_TOKEN)";
  return out;
}

}  // namespace lg::ctl
