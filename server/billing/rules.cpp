#include "server/billing/rules.hpp"

#include <algorithm>
#include <cstdio>
#include <limits>

#include <nlohmann/json.hpp>

#include "labgate/common/time.hpp"
#include "server/directory/rules.hpp"

namespace lg::server::billing {

std::optional<int64_t> amount_fen(int64_t duration_ms, int64_t rate_fen_per_hour) {
  if (duration_ms < 0 || rate_fen_per_hour < 0) return std::nullopt;
  // duration = q hours + r ms; amount = q * rate + round_half_up(r * rate / ms_per_hour).
  const int64_t q = duration_ms / kMsPerHour;
  const int64_t r = duration_ms % kMsPerHour;
  int64_t whole = 0;
  if (__builtin_mul_overflow(q, rate_fen_per_hour, &whole)) return std::nullopt;
  int64_t part_num = 0;  // r < 3.6e6, so r * rate only overflows for absurd rates
  if (__builtin_mul_overflow(r, rate_fen_per_hour, &part_num)) return std::nullopt;
  if (__builtin_add_overflow(part_num, kMsPerHour / 2, &part_num)) return std::nullopt;
  const int64_t part = part_num / kMsPerHour;
  int64_t total = 0;
  if (__builtin_add_overflow(whole, part, &total)) return std::nullopt;
  return total;
}

int64_t rate_for(const FeeStandard& fee, UserCategory category) {
  return directory::is_internal(category) ? fee.internal_fen_per_hour : fee.external_fen_per_hour;
}

Charge make_charge(const ChargeInput& in) {
  Charge c;
  c.session = in.session;
  c.instrument = in.instrument;
  c.end_ms = in.end_ms;
  c.duration_ms = in.duration_ms;
  if (c.duration_ms < 0) {
    c.duration_ms = 0;
    c.flags.emplace_back("negative_duration");
  }
  c.currency = in.fee ? in.fee->currency : in.default_currency;
  if (in.user) {
    c.user = in.user->id;
    c.category = to_string(in.user->category);
  } else {
    c.flags.emplace_back("unknown_user");
  }
  if (in.versioned) {
    if (in.version) {
      c.currency = in.version->currency;
      c.fee_version = in.version->id;
    }
    if (!in.version) c.flags.emplace_back("no_fee_standard");
    if (!in.user || !in.version) return c;
    c.category = to_string(in.user->category);
    const FeeLine* hour = nullptr;
    for (const auto& l : in.version->lines)
      if (!hour && l.kind == LineKind::hour) hour = &l;
    if (!hour) {
      c.flags.emplace_back("no_hour_line");
      return c;
    }
    c.rate_fen_per_hour = price_for(hour->prices, in.user->category);
    SessionFacts f;
    f.category = in.user->category;
    f.booked = in.booked;
    f.start_ms = in.start_ms;
    f.end_ms = in.end_ms;
    f.duration_ms = c.duration_ms;
    f.zone = in.zone;
    Price p = price_session(*in.version, f);
    if (!p.ok()) {
      c.flags.emplace_back(p.error == "overflow" ? "overflow" : "price_error");
      return c;
    }
    c.amount_fen = p.total_fen;
    c.lines = lines_text(p.lines);
    return c;
  }
  if (!in.fee) c.flags.emplace_back("no_fee_standard");
  if (!in.user || !in.fee) {
    c.rate_fen_per_hour = (in.user && in.fee) ? rate_for(*in.fee, in.user->category) : 0;
    c.amount_fen = 0;
    return c;
  }
  c.rate_fen_per_hour = rate_for(*in.fee, in.user->category);
  if (auto amount = amount_fen(c.duration_ms, c.rate_fen_per_hour)) {
    c.amount_fen = *amount;
  } else {
    c.amount_fen = 0;
    c.flags.emplace_back("overflow");
  }
  return c;
}

}  // namespace lg::server::billing

// ---- Fee standard versions

namespace lg::server::billing {

namespace {

template <typename E>
struct Names {
  E value;
  const char* name;
};

constexpr Names<FeeState> kStates[] = {{FeeState::draft, "draft"},
                                       {FeeState::unit_review, "unit_review"},
                                       {FeeState::finance_review, "finance_review"},
                                       {FeeState::committee, "committee"},
                                       {FeeState::published, "published"},
                                       {FeeState::withdrawn, "withdrawn"}};
constexpr Names<FeeAction> kActions[] = {{FeeAction::create, "create"},     {FeeAction::edit, "edit"},
                                         {FeeAction::submit, "submit"},     {FeeAction::approve, "approve"},
                                         {FeeAction::reject, "reject"},     {FeeAction::withdraw, "withdraw"},
                                         {FeeAction::imported, "imported"}, {FeeAction::retire, "retire"}};
constexpr Names<LineKind> kKinds[] = {{LineKind::hour, "hour"}, {LineKind::sample, "sample"}, {LineKind::item, "item"}};
constexpr Names<Rounding> kRoundings[] = {
    {Rounding::up, "up"}, {Rounding::nearest, "nearest"}, {Rounding::down, "down"}, {Rounding::exact, "exact"}};
constexpr Names<BookedRule> kBooked[] = {{BookedRule::larger, "larger"}, {BookedRule::used, "used"}};

template <typename E, std::size_t N>
const char* name_of(const Names<E> (&table)[N], E v) {
  for (const auto& n : table)
    if (n.value == v) return n.name;
  return "?";
}
template <typename E, std::size_t N>
std::optional<E> value_of(const Names<E> (&table)[N], std::string_view s) {
  for (const auto& n : table)
    if (s == n.name) return n.value;
  return std::nullopt;
}

__extension__ typedef __int128 i128;
constexpr i128 kI64Max = std::numeric_limits<int64_t>::max();
constexpr int64_t kMsPerMinute = 60'000;

/// round_half_up(num / den) for num >= 0, den > 0; nullopt when it does not fit int64.
std::optional<int64_t> div_round(i128 num, i128 den) {
  const i128 q = (num + den / 2) / den;
  if (q > kI64Max) return std::nullopt;
  return static_cast<int64_t>(q);
}

/// time x price x bp / (1 h x 10000), rounded half up; time >= 0, price >= 0, bp >= 0 (bounded by
/// validate: the product stays far inside 128 bits).
std::optional<int64_t> time_amount(int64_t ms, int64_t price, int64_t bp) {
  return div_round(static_cast<i128>(ms) * price * bp, static_cast<i128>(kMsPerHour) * kBpOne);
}

int64_t minutes_shown(int64_t ms) { return (ms + kMsPerMinute / 2) / kMsPerMinute; }

std::string hhmm(int32_t min) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%02d:%02d", min / 60, min % 60);
  return buf;
}

std::string factor_text(int64_t bp) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "x%lld.%04lld", static_cast<long long>(bp / kBpOne),
                static_cast<long long>(bp % kBpOne));
  std::string s = buf;
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s;
}

/// Billed time of a billable duration: whole units per the rounding (in 128 bits: a unit times a
/// huge count may leave int64).
i128 billed_ms(int64_t billable_ms, const FeeLine& l) {
  const int64_t unit = static_cast<int64_t>(l.unit_minutes) * kMsPerMinute;
  int64_t units = billable_ms / unit;
  const int64_t rest = billable_ms % unit;
  switch (l.rounding) {
    case Rounding::up:
      if (rest > 0) ++units;
      break;
    case Rounding::nearest:
      if (rest * 2 >= unit) ++units;
      break;
    case Rounding::down: break;
    case Rounding::exact: return billable_ms;
  }
  return static_cast<i128>(units) * unit;
}

/// Milliseconds of [a, b) inside [c, d).
int64_t overlap(int64_t a, int64_t b, int64_t c, int64_t d) {
  const int64_t from = std::max(a, c);
  const int64_t to = std::min(b, d);
  return to > from ? to - from : 0;
}

/// The used time at night only (not a weekend day, or one where the night factor is the larger) and
/// on weekend days (the rest of them), over [start, end) in the zone.
struct TimeOfDay {
  int64_t night_ms = 0;
  int64_t weekend_ms = 0;
};

constexpr int64_t kMaxPlacedDays = 400;

Result<TimeOfDay> time_of_day(int64_t start, int64_t end, const NightWindow& w, uint32_t weekend_days, int64_t nf,
                              int64_t wf, const std::string& zone) {
  TimeOfDay out;
  if (end <= start) return out;
  auto day = time::local_day_start(start, 0, zone);
  if (!day) return day.error();
  int64_t d0 = *day;
  for (int64_t n = 0; d0 < end; ++n) {
    if (n > kMaxPlacedDays) return Error::invalid("too_long");
    auto next = time::local_day_start(d0, 1, zone);
    if (!next) return next.error();
    const int64_t d1 = *next;
    auto lt = time::local_time(d0, zone);
    if (!lt) return lt.error();
    const bool weekend = (weekend_days >> (lt->weekday - 1)) & 1u;
    // The night parts of this local day.
    int64_t night = 0;
    if (w.from_min != w.to_min) {
      const int64_t f = d0 + static_cast<int64_t>(w.from_min) * kMsPerMinute;
      const int64_t t = d0 + static_cast<int64_t>(w.to_min) * kMsPerMinute;
      if (w.from_min > w.to_min) {
        night = overlap(start, end, d0, std::min(t, d1)) + overlap(start, end, f, d1);
      } else {
        night = overlap(start, end, f, std::min(t, d1));
      }
    }
    const int64_t all = overlap(start, end, d0, d1);
    if (weekend && wf > kBpOne) {
      if (nf > wf) {
        out.night_ms += night;
        out.weekend_ms += all - night;
      } else {
        out.weekend_ms += all;
      }
    } else if (nf > kBpOne) {
      out.night_ms += night;
    }
    d0 = d1;
  }
  return out;
}

/// Adds a line's amounts; false on overflow.
bool add(int64_t& total, int64_t amount) { return !__builtin_add_overflow(total, amount, &total); }

/// Prices one hour line for billable time; placement (overtime, night, weekend) when given.
struct Placement {
  const SessionFacts* f = nullptr;
  const FeeVersion* v = nullptr;
};

std::string price_hour(const FeeLine& l, int64_t price, int64_t billable_ms, int64_t used_ms, const std::string& why,
                       const Placement& at, std::vector<PricedLine>& out, int64_t& total) {
  const i128 billed = billed_ms(billable_ms, l);
  if (billed > kI64Max) return "overflow";
  const auto billed64 = static_cast<int64_t>(billed);
  auto base = time_amount(billed64, price, kBpOne);
  if (!base) return "overflow";
  int64_t line_total = *base;
  const int64_t unit = static_cast<int64_t>(l.unit_minutes) * kMsPerMinute;
  const std::string billed_text = l.rounding == Rounding::exact
                                      ? ", billed exactly"
                                      : ", billed " + std::to_string(billed64 / unit) + " x " +
                                            std::to_string(l.unit_minutes) + " min (" + to_string(l.rounding) + ")";
  out.push_back(PricedLine{l.code, minutes_shown(billed64), "min", price, *base, why + billed_text});
  if (at.f) {
    const SessionFacts& f = *at.f;
    if (f.booked && l.overtime_bp > 0) {
      const int64_t past = std::max(f.booked->second, f.start_ms);
      const int64_t over = std::min(overlap(f.start_ms, f.end_ms, past, std::numeric_limits<int64_t>::max()), used_ms);
      if (over > 0) {
        auto a = time_amount(over, price, l.overtime_bp);
        if (!a) return "overflow";
        auto rate = time_amount(kMsPerHour, price, l.overtime_bp);
        if (!rate) return "overflow";
        out.push_back(PricedLine{l.code + ":overtime", minutes_shown(over), "min", *rate, *a,
                                 "past the booking's end, +" + std::to_string(l.overtime_bp / 100) + "." +
                                     std::to_string(l.overtime_bp % 100 / 10) + std::to_string(l.overtime_bp % 10) +
                                     " %"});
        if (!add(line_total, *a)) return "overflow";
      }
    }
    if (l.night_factor_bp > kBpOne || l.weekend_factor_bp > kBpOne) {
      const NightWindow w = l.night.value_or(at.v->night);
      auto tod =
          time_of_day(f.start_ms, f.end_ms, w, at.v->weekend_days, l.night_factor_bp, l.weekend_factor_bp, f.zone);
      if (!tod) return tod.error().reason == "too_long" ? "too_long" : "zone: " + tod.error().reason;
      auto extra = [&](const char* what, int64_t ms, int64_t factor, const std::string& note) -> std::string {
        ms = std::min(ms, used_ms);
        if (ms <= 0) return "";
        auto a = time_amount(ms, price, factor - kBpOne);
        if (!a) return "overflow";
        auto rate = time_amount(kMsPerHour, price, factor - kBpOne);
        if (!rate) return "overflow";
        out.push_back(PricedLine{l.code + ":" + what, minutes_shown(ms), "min", *rate, *a, note});
        if (!add(line_total, *a)) return "overflow";
        return "";
      };
      if (auto e = extra("night", tod->night_ms, l.night_factor_bp,
                         "night " + hhmm(w.from_min) + "-" + hhmm(w.to_min) + " " + f.zone + ", " +
                             factor_text(l.night_factor_bp));
          !e.empty())
        return e;
      if (auto e =
              extra("weekend", tod->weekend_ms, l.weekend_factor_bp, "weekend, " + factor_text(l.weekend_factor_bp));
          !e.empty())
        return e;
    }
  }
  if (billed64 > 0 && line_total < l.min_fee_fen) {
    const int64_t top = l.min_fee_fen - line_total;
    out.push_back(PricedLine{l.code + ":minimum", 1, "use", l.min_fee_fen, top,
                             "minimum fee per use " + std::to_string(l.min_fee_fen) + " fen"});
    line_total = l.min_fee_fen;
  }
  if (!add(total, line_total)) return "overflow";
  return "";
}

Price failed(Price p, std::string error) {
  p.lines.clear();
  p.total_fen = 0;
  p.error = std::move(error);
  return p;
}

bool valid_code(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    const bool ok =
        (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::optional<std::string> check_window(const std::string& where, const NightWindow& w) {
  if (w.from_min < 0 || w.from_min >= 1440 || w.to_min < 0 || w.to_min >= 1440)
    return where + ": minutes of the day must be 0..1439";
  return std::nullopt;
}

Verdict refuse(Refusal r, std::string rule, std::string why) {
  Verdict v;
  v.refusal = r;
  v.reason = "fee standard rule " + rule + ": " + why;
  v.rule = std::move(rule);
  return v;
}

Verdict allow(FeeState to, std::string rule) {
  Verdict v;
  v.to = to;
  v.rule = std::move(rule);
  return v;
}

}  // namespace

const char* to_string(FeeState s) { return name_of(kStates, s); }
const char* to_string(FeeAction a) { return name_of(kActions, a); }
const char* to_string(LineKind k) { return name_of(kKinds, k); }
const char* to_string(Rounding r) { return name_of(kRoundings, r); }
const char* to_string(BookedRule b) { return name_of(kBooked, b); }
std::optional<FeeState> fee_state_from(std::string_view s) { return value_of(kStates, s); }
std::optional<FeeAction> fee_action_from(std::string_view s) { return value_of(kActions, s); }
std::optional<LineKind> line_kind_from(std::string_view s) { return value_of(kKinds, s); }
std::optional<Rounding> rounding_from(std::string_view s) { return value_of(kRoundings, s); }
std::optional<BookedRule> booked_rule_from(std::string_view s) { return value_of(kBooked, s); }

int64_t price_for(const Prices& p, UserCategory c) {
  switch (c) {
    case UserCategory::internal_student:
    case UserCategory::internal_staff: return p.internal;
    case UserCategory::other_campus: return p.other_campus;
    case UserCategory::external_academic: return p.external_academic;
    case UserCategory::enterprise: return p.enterprise;
  }
  return p.enterprise;
}

std::optional<std::string> validate(const FeeVersion& v) {
  if (v.lines.size() > kMaxLines) return "lines: at most " + std::to_string(kMaxLines);
  if (v.currency.size() != 3) return std::string("currency: must be a 3-letter code");
  const std::pair<const char*, int64_t> costs[] = {{"energy_fen", v.cost.energy_fen},
                                                   {"consumables_fen", v.cost.consumables_fen},
                                                   {"maintenance_fen", v.cost.maintenance_fen},
                                                   {"depreciation_fen", v.cost.depreciation_fen},
                                                   {"labour_fen", v.cost.labour_fen}};
  for (const auto& [name, value] : costs) {
    if (value < 0 || value > kMaxPriceFen * 100) return "cost." + std::string(name) + ": must be 0..1000000000000";
  }
  if (v.cost.hours_per_year < 0 || v.cost.hours_per_year > 8784)
    return std::string("cost.hours_per_year: must be 0..8784");
  if (auto e = check_window("night", v.night)) return e;
  if (v.weekend_days > 0x7f) return std::string("weekend_days: bits 0..6 (Monday..Sunday) only");
  for (std::size_t i = 0; i < v.lines.size(); ++i) {
    const FeeLine& l = v.lines[i];
    const std::string at = "lines[" + std::to_string(i) + "].";
    if (!valid_code(l.code)) return at + "code: must be 1..64 of [A-Za-z0-9_.-]";
    for (std::size_t j = 0; j < i; ++j) {
      if (v.lines[j].code == l.code) return at + "code: '" + l.code + "' twice";
    }
    if (l.name.empty() || l.name.size() > 200) return at + "name: must be 1..200 characters";
    if (l.unit.size() > 32) return at + "unit: at most 32 characters";
    for (auto [name, p] : {std::pair{"internal", l.prices.internal}, std::pair{"other_campus", l.prices.other_campus},
                           std::pair{"external_academic", l.prices.external_academic},
                           std::pair{"enterprise", l.prices.enterprise}, std::pair{"min_fee_fen", l.min_fee_fen}}) {
      if (p < 0 || p > kMaxPriceFen)
        return at + (std::string(name) == "min_fee_fen" ? "" : "prices.") + name + ": must be 0..10000000000";
    }
    if (l.unit_minutes < 1 || l.unit_minutes > 1440) return at + "unit_minutes: must be 1..1440";
    if (l.overtime_bp < 0 || l.overtime_bp > kMaxBp) return at + "overtime_bp: must be 0..100000";
    if (l.night_factor_bp < kBpOne || l.night_factor_bp > kMaxBp) return at + "night_factor_bp: must be 10000..100000";
    if (l.weekend_factor_bp < kBpOne || l.weekend_factor_bp > kMaxBp)
      return at + "weekend_factor_bp: must be 10000..100000";
    if (l.night) {
      if (auto e = check_window(at + "night", *l.night)) return e;
    }
  }
  return std::nullopt;
}

Price price_session(const FeeVersion& v, const SessionFacts& f) {
  Price p;
  p.version = v.id;
  const int64_t used = std::max<int64_t>(f.duration_ms, 0);
  for (const auto& l : v.lines) {
    if (l.kind != LineKind::hour) continue;
    const int64_t price = price_for(l.prices, f.category);
    int64_t billable = used;
    std::string why = "used " + std::to_string(minutes_shown(used)) + " min";
    if (f.booked) {
      const int64_t booked = std::max<int64_t>(f.booked->second - f.booked->first, 0);
      why += ", booked " + std::to_string(minutes_shown(booked)) + " min";
      if (l.booked == BookedRule::larger && booked > billable) {
        billable = booked;
        why += " (the larger)";
      }
    }
    auto e = price_hour(l, price, billable, used, why, Placement{&f, &v}, p.lines, p.total_fen);
    if (!e.empty()) return failed(std::move(p), e);
  }
  return p;
}

Price price_order(const FeeVersion& v, UserCategory c, std::span<const OrderLine> lines) {
  Price p;
  p.version = v.id;
  for (const auto& want : lines) {
    const FeeLine* l = nullptr;
    for (const auto& x : v.lines)
      if (x.code == want.code) l = &x;
    if (!l) return failed(std::move(p), "unknown_line: " + want.code);
    if (want.quantity < 0) return failed(std::move(p), "negative_quantity: " + want.code);
    const int64_t price = price_for(l->prices, c);
    switch (l->kind) {
      case LineKind::hour: {
        int64_t ms = 0;
        if (__builtin_mul_overflow(want.quantity, kMsPerMinute, &ms)) return failed(std::move(p), "overflow");
        auto e =
            price_hour(*l, price, ms, ms, std::to_string(want.quantity) + " min", Placement{}, p.lines, p.total_fen);
        if (!e.empty()) return failed(std::move(p), e);
        break;
      }
      case LineKind::sample:
      case LineKind::item: {
        int64_t amount = 0;
        if (__builtin_mul_overflow(want.quantity, price, &amount)) return failed(std::move(p), "overflow");
        p.lines.push_back(
            PricedLine{l->code, want.quantity, l->unit, price, amount, std::to_string(want.quantity) + " " + l->unit});
        int64_t line_total = amount;
        if (want.quantity > 0 && amount < l->min_fee_fen) {
          p.lines.push_back(PricedLine{l->code + ":minimum", 1, "use", l->min_fee_fen, l->min_fee_fen - amount,
                                       "minimum fee per use " + std::to_string(l->min_fee_fen) + " fen"});
          line_total = l->min_fee_fen;
        }
        if (!add(p.total_fen, line_total)) return failed(std::move(p), "overflow");
        break;
      }
    }
  }
  return p;
}

const FeeVersion* in_force(std::span<const FeeVersion> versions, int64_t at_ms) {
  const FeeVersion* best = nullptr;
  for (const auto& v : versions) {
    if (v.state != FeeState::published || !v.effective_from_ms || *v.effective_from_ms > at_ms) continue;
    if (!best || *v.effective_from_ms > *best->effective_from_ms ||
        (*v.effective_from_ms == *best->effective_from_ms && v.number > best->number))
      best = &v;
  }
  if (best && best->retired_ms && *best->retired_ms <= at_ms) return nullptr;
  return best;
}

std::string shown_state(const FeeVersion& v, std::span<const FeeVersion> all, int64_t now_ms) {
  if (v.state != FeeState::published) return to_string(v.state);
  if (v.retired_ms && *v.retired_ms <= now_ms) return "retired";
  if (!v.effective_from_ms || *v.effective_from_ms > now_ms) return "scheduled";
  const FeeVersion* now = in_force(all, now_ms);
  if (now && now->id != v.id) return "superseded";
  return "published";
}

std::string lines_text(std::span<const PricedLine> lines) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& l : lines) {
    a.push_back({{"code", l.code},
                 {"quantity", l.quantity},
                 {"unit", l.unit},
                 {"unit_price_fen", l.unit_price_fen},
                 {"amount_fen", l.amount_fen},
                 {"note", l.note}});
  }
  return a.dump();
}

Verdict decide(FeeState from, FeeAction a, const FeeActor& who, const StepFacts& f) {
  const std::string act = to_string(a);
  switch (a) {
    case FeeAction::edit:
    case FeeAction::submit:
    case FeeAction::withdraw: {
      if (!who.drafter)
        return refuse(Refusal::role, act + ".drafter_only",
                      "only the instrument's admin (instrument_write) drafts, submits or withdraws");
      if (from != FeeState::draft)
        return refuse(Refusal::state, act + ".draft_only",
                      "only a draft may be " +
                          (a == FeeAction::edit     ? std::string("edited")
                           : a == FeeAction::submit ? std::string("submitted")
                                                    : std::string("withdrawn")) +
                          "; this version is " + to_string(from));
      if (a == FeeAction::submit && f.lines == 0)
        return refuse(Refusal::facts, "submit.lines", "a version needs at least one line");
      return allow(a == FeeAction::edit     ? FeeState::draft
                   : a == FeeAction::submit ? FeeState::unit_review
                                            : FeeState::withdrawn,
                   act + ".drafter");
    }
    case FeeAction::approve:
    case FeeAction::reject: {
      bool may = false;
      std::string whose;
      FeeState next = FeeState::draft;
      switch (from) {
        case FeeState::unit_review:
          may = who.unit_reviewer;
          whose = "unit_reviewer";
          next = FeeState::finance_review;
          break;
        case FeeState::finance_review:
          may = who.finance;
          whose = "finance";
          next = FeeState::committee;
          break;
        case FeeState::committee:
          may = who.committee;
          whose = "committee";
          next = FeeState::published;
          break;
        case FeeState::draft:
        case FeeState::published:
        case FeeState::withdrawn:
          return refuse(Refusal::state, act + ".in_review_only",
                        std::string("only a version under review is ") +
                            (a == FeeAction::approve ? "approved" : "rejected") + "; this version is " +
                            to_string(from));
      }
      if (!may) {
        const char* right = from == FeeState::unit_review      ? "fee_review"
                            : from == FeeState::finance_review ? "money_write"
                                                               : "fee_approve";
        return refuse(
            Refusal::role, act + "." + whose + "_only",
            std::string("this review (") + to_string(from) + ") is taken with " + right + " over the instrument");
      }
      if (a == FeeAction::reject) {
        if (f.reason.empty()) return refuse(Refusal::facts, "reject.reason", "a rejection gives its reason");
        return allow(FeeState::draft, "reject." + whose);
      }
      if (from == FeeState::committee) {
        if (!f.effective_from_ms)
          return refuse(Refusal::facts, "approve.effective_from", "the committee's approval sets the effective date");
        if (*f.effective_from_ms < f.now_ms)
          return refuse(Refusal::facts, "approve.effective_from", "the effective date may not lie in the past");
      }
      return allow(next, "approve." + whose);
    }
    case FeeAction::create:
    case FeeAction::imported:
    case FeeAction::retire: break;
  }
  return refuse(Refusal::state, act + ".not_a_step", act + " is not a step of the workflow");
}

}  // namespace lg::server::billing
