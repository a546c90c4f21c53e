#include "server/billing/codec.hpp"

#include <initializer_list>
#include <string_view>

#include <nlohmann/json.hpp>

#include "labgate/common/time.hpp"
#include "server/directory/model.hpp"

namespace lg::server::billing {

using nlohmann::json;

namespace {

Status only(const json& j, const std::string& where, std::initializer_list<std::string_view> allowed) {
  if (!j.is_object()) return Error::invalid(where + ": must be an object");
  for (auto it = j.begin(); it != j.end(); ++it) {
    bool known = false;
    for (auto a : allowed) known = known || it.key() == a;
    if (!known) return Error::invalid("unknown field: " + where + (where.empty() ? "" : ".") + it.key());
  }
  return {};
}

std::string at(const std::string& where, const char* key) { return where.empty() ? key : where + "." + key; }

/// An optional integer field (kept as is when absent); must be an integer.
Status integer(const json& j, const std::string& where, const char* key, int64_t& out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return {};
  if (!it->is_number_integer()) return Error::invalid(at(where, key) + ": must be an integer");
  out = it->get<int64_t>();
  return {};
}

Status text(const json& j, const std::string& where, const char* key, std::string& out, bool required) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (required) return Error::invalid(at(where, key) + ": required");
    return {};
  }
  if (!it->is_string()) return Error::invalid(at(where, key) + ": must be a string");
  out = it->get<std::string>();
  return {};
}

template <typename E, typename F>
Status choice(const json& j, const std::string& where, const char* key, E& out, F from, const char* names) {
  std::string s;
  LG_TRY(text(j, where, key, s, false));
  if (s.empty()) return {};
  auto v = from(s);
  if (!v) return Error::invalid(at(where, key) + ": must be " + names);
  out = *v;
  return {};
}

Result<int32_t> minute_of_day(const json& j, const std::string& where) {
  if (!j.is_string()) return Error::invalid(where + ": must be \"HH:MM\"");
  const auto s = j.get<std::string>();
  if (s.size() != 5 || s[2] != ':' || !isdigit(s[0]) || !isdigit(s[1]) || !isdigit(s[3]) || !isdigit(s[4]))
    return Error::invalid(where + ": must be \"HH:MM\"");
  const int h = (s[0] - '0') * 10 + (s[1] - '0');
  const int m = (s[3] - '0') * 10 + (s[4] - '0');
  if (h > 23 || m > 59) return Error::invalid(where + ": must be a time of day 00:00..23:59");
  return h * 60 + m;
}

Result<NightWindow> window(const json& j, const std::string& where) {
  LG_TRY(only(j, where, {"from", "to"}));
  if (!j.contains("from") || !j.contains("to")) return Error::invalid(where + ": needs from and to");
  auto f = minute_of_day(j["from"], where + ".from");
  if (!f) return f.error();
  auto t = minute_of_day(j["to"], where + ".to");
  if (!t) return t.error();
  return NightWindow{*f, *t};
}

std::string hhmm(int32_t min) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%02d:%02d", min / 60, min % 60);
  return buf;
}

json window_json(const NightWindow& w) { return json{{"from", hhmm(w.from_min)}, {"to", hhmm(w.to_min)}}; }

Result<int64_t> instant(const json& j, const std::string& where, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return Error::invalid(at(where, key) + ": required, RFC 3339");
  auto t = time::parse_utc(it->get<std::string>());
  if (!t) return Error::invalid(at(where, key) + ": not an RFC 3339 time");
  return *t;
}

Result<UserCategory> category(const json& j) {
  auto it = j.find("category");
  if (it == j.end() || !it->is_string()) return Error::invalid(std::string("category: required, ") + category_names());
  auto c = category_from(it->get<std::string>());
  if (!c) return Error::invalid(std::string("category: must be ") + category_names());
  return *c;
}

Result<FeeLine> parse_line(const json& j, const std::string& where) {
  LG_TRY(only(j, where,
              {"code", "name", "kind", "unit", "prices", "min_fee_fen", "unit_minutes", "rounding", "booked",
               "overtime_bp", "night_factor_bp", "weekend_factor_bp", "night"}));
  FeeLine l;
  LG_TRY(text(j, where, "code", l.code, true));
  LG_TRY(text(j, where, "name", l.name, true));
  if (!j.contains("kind")) return Error::invalid(where + ".kind: required, hour|sample|item");
  LG_TRY(choice(j, where, "kind", l.kind, line_kind_from, "hour|sample|item"));
  l.unit = l.kind == LineKind::hour ? "hour" : l.kind == LineKind::sample ? "sample" : "item";
  LG_TRY(text(j, where, "unit", l.unit, false));
  auto p = j.find("prices");
  if (p == j.end()) return Error::invalid(where + ".prices: required");
  const std::string pw = where + ".prices";
  LG_TRY(only(*p, pw, {"internal", "other_campus", "external_academic", "enterprise"}));
  for (const char* k : {"internal", "other_campus", "external_academic", "enterprise"}) {
    if (!p->contains(k)) return Error::invalid(pw + "." + k + ": required");
  }
  LG_TRY(integer(*p, pw, "internal", l.prices.internal));
  LG_TRY(integer(*p, pw, "other_campus", l.prices.other_campus));
  LG_TRY(integer(*p, pw, "external_academic", l.prices.external_academic));
  LG_TRY(integer(*p, pw, "enterprise", l.prices.enterprise));
  LG_TRY(integer(j, where, "min_fee_fen", l.min_fee_fen));
  int64_t unit = l.unit_minutes;
  LG_TRY(integer(j, where, "unit_minutes", unit));
  if (unit < 1 || unit > 1440) return Error::invalid(where + ".unit_minutes: must be 1..1440");
  l.unit_minutes = static_cast<int32_t>(unit);
  LG_TRY(choice(j, where, "rounding", l.rounding, rounding_from, "up|nearest|down|exact"));
  LG_TRY(choice(j, where, "booked", l.booked, booked_rule_from, "larger|used"));
  LG_TRY(integer(j, where, "overtime_bp", l.overtime_bp));
  LG_TRY(integer(j, where, "night_factor_bp", l.night_factor_bp));
  LG_TRY(integer(j, where, "weekend_factor_bp", l.weekend_factor_bp));
  if (auto n = j.find("night"); n != j.end() && !n->is_null()) {
    auto w = window(*n, where + ".night");
    if (!w) return w.error();
    l.night = *w;
  }
  return l;
}

}  // namespace

Result<FeeVersion> parse_version(const json& j, const std::string& currency) {
  LG_TRY(only(j, "", {"currency", "note", "cost", "night", "weekend_days", "lines"}));
  FeeVersion v;
  v.currency = currency;
  LG_TRY(text(j, "", "currency", v.currency, false));
  LG_TRY(text(j, "", "note", v.note, false));
  if (v.note.size() > 4000) return Error::invalid("note: at most 4000 characters");
  if (auto c = j.find("cost"); c != j.end() && !c->is_null()) {
    LG_TRY(
        only(*c, "cost",
             {"energy_fen", "consumables_fen", "maintenance_fen", "depreciation_fen", "labour_fen", "hours_per_year"}));
    LG_TRY(integer(*c, "cost", "energy_fen", v.cost.energy_fen));
    LG_TRY(integer(*c, "cost", "consumables_fen", v.cost.consumables_fen));
    LG_TRY(integer(*c, "cost", "maintenance_fen", v.cost.maintenance_fen));
    LG_TRY(integer(*c, "cost", "depreciation_fen", v.cost.depreciation_fen));
    LG_TRY(integer(*c, "cost", "labour_fen", v.cost.labour_fen));
    LG_TRY(integer(*c, "cost", "hours_per_year", v.cost.hours_per_year));
  }
  if (auto n = j.find("night"); n != j.end() && !n->is_null()) {
    auto w = window(*n, "night");
    if (!w) return w.error();
    v.night = *w;
  }
  if (auto w = j.find("weekend_days"); w != j.end() && !w->is_null()) {
    if (!w->is_array()) return Error::invalid("weekend_days: must be a list of ISO weekdays 1..7");
    v.weekend_days = 0;
    for (const auto& d : *w) {
      if (!d.is_number_integer() || d.get<int64_t>() < 1 || d.get<int64_t>() > 7)
        return Error::invalid("weekend_days: must be a list of ISO weekdays 1..7");
      v.weekend_days |= 1u << (d.get<int>() - 1);
    }
  }
  auto lines = j.find("lines");
  if (lines == j.end() || !lines->is_array()) return Error::invalid("lines: required, a list");
  if (lines->size() > kMaxLines) return Error::invalid("lines: at most " + std::to_string(kMaxLines));
  for (std::size_t i = 0; i < lines->size(); ++i) {
    auto l = parse_line((*lines)[i], "lines[" + std::to_string(i) + "]");
    if (!l) return l.error();
    v.lines.push_back(std::move(*l));
  }
  if (auto e = validate(v)) return Error::invalid(*e);
  return v;
}

json content_json(const FeeVersion& v) {
  json lines = json::array();
  for (const auto& l : v.lines) {
    json o{{"code", l.code},
           {"name", l.name},
           {"kind", to_string(l.kind)},
           {"unit", l.unit},
           {"prices",
            {{"internal", l.prices.internal},
             {"other_campus", l.prices.other_campus},
             {"external_academic", l.prices.external_academic},
             {"enterprise", l.prices.enterprise}}},
           {"min_fee_fen", l.min_fee_fen}};
    if (l.kind == LineKind::hour) {
      o["unit_minutes"] = l.unit_minutes;
      o["rounding"] = to_string(l.rounding);
      o["booked"] = to_string(l.booked);
      o["overtime_bp"] = l.overtime_bp;
      o["night_factor_bp"] = l.night_factor_bp;
      o["weekend_factor_bp"] = l.weekend_factor_bp;
      if (l.night) o["night"] = window_json(*l.night);
    }
    lines.push_back(std::move(o));
  }
  json days = json::array();
  for (int d = 1; d <= 7; ++d)
    if ((v.weekend_days >> (d - 1)) & 1u) days.push_back(d);
  return json{{"currency", v.currency},
              {"note", v.note},
              {"cost",
               {{"energy_fen", v.cost.energy_fen},
                {"consumables_fen", v.cost.consumables_fen},
                {"maintenance_fen", v.cost.maintenance_fen},
                {"depreciation_fen", v.cost.depreciation_fen},
                {"labour_fen", v.cost.labour_fen},
                {"hours_per_year", v.cost.hours_per_year}}},
              {"night", window_json(v.night)},
              {"weekend_days", days},
              {"lines", lines}};
}

Result<SessionFacts> parse_session(const json& j, const std::string& zone) {
  LG_TRY(only(j, "", {"category", "start", "end", "duration_ms", "booked"}));
  SessionFacts f;
  f.zone = zone;
  auto c = category(j);
  if (!c) return c.error();
  f.category = *c;
  auto s = instant(j, "", "start");
  if (!s) return s.error();
  auto e = instant(j, "", "end");
  if (!e) return e.error();
  if (*e < *s) return Error::invalid("end: before start");
  f.start_ms = *s;
  f.end_ms = *e;
  f.duration_ms = *e - *s;
  LG_TRY(integer(j, "", "duration_ms", f.duration_ms));
  if (f.duration_ms < 0) return Error::invalid("duration_ms: must be >= 0");
  if (auto b = j.find("booked"); b != j.end() && !b->is_null()) {
    LG_TRY(only(*b, "booked", {"start", "end"}));
    auto bs = instant(*b, "booked", "start");
    if (!bs) return bs.error();
    auto be = instant(*b, "booked", "end");
    if (!be) return be.error();
    if (*be < *bs) return Error::invalid("booked.end: before booked.start");
    f.booked = std::pair{*bs, *be};
  }
  return f;
}

Result<std::pair<UserCategory, std::vector<OrderLine>>> parse_order(const json& j) {
  LG_TRY(only(j, "", {"category", "lines"}));
  auto c = category(j);
  if (!c) return c.error();
  auto lines = j.find("lines");
  if (lines == j.end() || !lines->is_array()) return Error::invalid("lines: required, a list");
  if (lines->size() > kMaxLines) return Error::invalid("lines: at most " + std::to_string(kMaxLines));
  std::vector<OrderLine> out;
  for (std::size_t i = 0; i < lines->size(); ++i) {
    const std::string w = "lines[" + std::to_string(i) + "]";
    const auto& l = (*lines)[i];
    LG_TRY(only(l, w, {"code", "quantity"}));
    OrderLine o;
    LG_TRY(text(l, w, "code", o.code, true));
    if (!l.contains("quantity")) return Error::invalid(w + ".quantity: required");
    LG_TRY(integer(l, w, "quantity", o.quantity));
    out.push_back(std::move(o));
  }
  return std::pair{*c, std::move(out)};
}

json price_json(const Price& p) {
  if (!p.ok()) return json{{"version", p.version}, {"error", p.error}};
  return json{{"version", p.version}, {"lines", json::parse(lines_text(p.lines))}, {"total_fen", p.total_fen}};
}

}  // namespace lg::server::billing
