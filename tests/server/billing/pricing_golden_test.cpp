// The golden pricing table (golden/pricing_cases.json) through the pure rules: every case priced by
// billing::price_session / price_order must give the table's lines and total, or its error. The
// same table goes through the quote route in http_test.cpp. Also: the workflow (decide), the
// version in force, validation, and make_charge with a version.
#include <doctest/doctest.h>

#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "server/billing/codec.hpp"
#include "server/billing/rules.hpp"

using namespace lg;
using namespace lg::server;
using namespace lg::server::billing;
using nlohmann::json;

namespace {

json golden() {
  std::ifstream in(std::string(LABGATE_SOURCE_DIR) + "/tests/server/billing/golden/pricing_cases.json");
  REQUIRE(in.good());
  std::stringstream ss;
  ss << in.rdbuf();
  return json::parse(ss.str());
}

/// The lines of a price as the table compares them.
json compared(const json& price) {
  if (price.contains("error")) return json{{"error", price["error"]}};
  json lines = json::array();
  for (const auto& l : price["lines"]) {
    lines.push_back({{"code", l["code"]},
                     {"quantity", l["quantity"]},
                     {"unit_price_fen", l["unit_price_fen"]},
                     {"amount_fen", l["amount_fen"]}});
  }
  return json{{"lines", lines}, {"total_fen", price["total_fen"]}};
}

}  // namespace

TEST_CASE("the golden pricing table through the pure rules") {
  const json g = golden();
  std::map<std::string, FeeVersion> versions;
  for (const auto& [name, content] : g["versions"].items()) {
    auto v = parse_version(content, "CNY");
    INFO(name << ": " << (v ? "" : v.error().reason));
    REQUIRE(v);
    v->id = name;
    versions[name] = *v;
  }
  REQUIRE(g["cases"].size() >= 40);
  std::set<std::string> names;
  for (const auto& c : g["cases"]) {
    const std::string name = c["name"];
    INFO(name);
    CHECK(names.insert(name).second);
    const FeeVersion& v = versions.at(c["version"]);
    Price p;
    if (c.contains("session")) {
      auto f = parse_session(c["session"], g["zone"]);
      REQUIRE(f);
      p = price_session(v, *f);
    } else {
      auto o = parse_order(c["order"]);
      REQUIRE(o);
      p = price_order(v, o->first, o->second);
    }
    const json got = price_json(p);
    CHECK(got["version"] == c["version"]);
    CHECK(compared(got).dump() == c["expect"].dump());
    if (p.ok()) {
      int64_t sum = 0;
      for (const auto& l : p.lines) sum += l.amount_fen;
      CHECK(sum == p.total_fen);  // the total is the sum of its lines
      CHECK(p.total_fen >= 0);
    } else {
      CHECK(p.lines.empty());
      CHECK(p.total_fen == 0);
    }
  }
}

TEST_CASE("the golden table covers every rule") {
  const json g = golden();
  std::set<std::string> rounding, booked, kinds, categories;
  bool min_fee = false, overtime = false, night = false, weekend = false, overflow = false, no_booking = false;
  for (const auto& [name, v] : g["versions"].items()) {
    for (const auto& l : v["lines"]) {
      kinds.insert(l["kind"].get<std::string>());
      if (l.contains("rounding")) rounding.insert(l["rounding"].get<std::string>());
      if (l.contains("booked")) booked.insert(l["booked"].get<std::string>());
    }
  }
  for (const auto& c : g["cases"]) {
    const json& in = c.contains("session") ? c["session"] : c["order"];
    categories.insert(in["category"].get<std::string>());
    if (c.contains("session") && !c["session"].contains("booked")) no_booking = true;
    if (c["expect"].contains("error")) overflow = overflow || c["expect"]["error"] == "overflow";
    if (!c["expect"].contains("lines")) continue;
    for (const auto& l : c["expect"]["lines"]) {
      const std::string code = l["code"];
      min_fee = min_fee || code.ends_with(":minimum");
      overtime = overtime || code.ends_with(":overtime");
      night = night || code.ends_with(":night");
      weekend = weekend || code.ends_with(":weekend");
    }
  }
  CHECK(rounding == std::set<std::string>{"up", "nearest", "down", "exact"});
  CHECK(booked == std::set<std::string>{"larger", "used"});
  CHECK(kinds == std::set<std::string>{"hour", "sample", "item"});
  CHECK(categories ==
        std::set<std::string>{"internal_student", "internal_staff", "other_campus", "external_academic", "enterprise"});
  CHECK((min_fee && overtime && night && weekend && overflow && no_booking));
}

namespace {
FeeVersion hourly(const std::string& id, int64_t price, std::optional<int64_t> from, int32_t number = 1) {
  FeeVersion v;
  v.id = id;
  v.number = number;
  v.state = FeeState::published;
  v.effective_from_ms = from;
  FeeLine l;
  l.code = "hour";
  l.name = "Machine time";
  l.prices = Prices{price, price * 2, price * 2, price * 3};
  l.rounding = Rounding::exact;
  v.lines.push_back(l);
  return v;
}
}  // namespace

TEST_CASE("the version in force is the published one with the latest effective date not after the moment") {
  std::vector<FeeVersion> vs{hourly("a", 100, 0), hourly("b", 200, 1000, 2), hourly("c", 300, 5000, 3)};
  vs.push_back(hourly("draft", 999, 0, 4));
  vs.back().state = FeeState::draft;
  CHECK(in_force(vs, 0)->id == "a");
  CHECK(in_force(vs, 999)->id == "a");
  CHECK(in_force(vs, 1000)->id == "b");
  CHECK(in_force(vs, 4999)->id == "b");
  CHECK(in_force(vs, 5000)->id == "c");
  CHECK(in_force(std::span<const FeeVersion>(vs.data() + 1, 1), 999) == nullptr);
  CHECK(shown_state(vs[0], vs, 2000) == "superseded");
  CHECK(shown_state(vs[1], vs, 2000) == "published");
  CHECK(shown_state(vs[2], vs, 2000) == "scheduled");
  CHECK(shown_state(vs[3], vs, 2000) == "draft");
  // Retired: nothing in force from then on.
  vs[2].retired_ms = 6000;
  CHECK(in_force(vs, 5999)->id == "c");
  CHECK(in_force(vs, 6000) == nullptr);
  CHECK(shown_state(vs[2], vs, 6000) == "retired");
}

TEST_CASE("the workflow: draft, three reviews, published, rejections go back to draft with a reason") {
  FeeActor drafter{true, false, false, false};
  FeeActor unit{false, true, false, false};
  FeeActor finance{false, false, true, false};
  FeeActor committee{false, false, false, true};
  StepFacts f;
  f.now_ms = 1000;
  f.lines = 1;
  auto to = [](const Verdict& v) { return v.to ? std::string(to_string(*v.to)) : "refused:" + v.rule; };
  CHECK(to(decide(FeeState::draft, FeeAction::submit, drafter, f)) == "unit_review");
  CHECK(to(decide(FeeState::draft, FeeAction::edit, drafter, f)) == "draft");
  CHECK(to(decide(FeeState::draft, FeeAction::withdraw, drafter, f)) == "withdrawn");
  CHECK(to(decide(FeeState::unit_review, FeeAction::approve, unit, f)) == "finance_review");
  CHECK(to(decide(FeeState::finance_review, FeeAction::approve, finance, f)) == "committee");
  StepFacts eff = f;
  eff.effective_from_ms = 5000;
  CHECK(to(decide(FeeState::committee, FeeAction::approve, committee, eff)) == "published");
  // Refusals: role (403), state (409), facts (422), each naming its rule.
  auto v = decide(FeeState::unit_review, FeeAction::approve, finance, f);
  CHECK(v.refusal == Refusal::role);
  CHECK(v.rule == "approve.unit_reviewer_only");
  v = decide(FeeState::finance_review, FeeAction::approve, unit, f);
  CHECK(v.rule == "approve.finance_only");
  v = decide(FeeState::committee, FeeAction::approve, finance, eff);
  CHECK(v.rule == "approve.committee_only");
  v = decide(FeeState::committee, FeeAction::approve, committee, f);
  CHECK(v.refusal == Refusal::facts);
  CHECK(v.rule == "approve.effective_from");
  eff.effective_from_ms = 999;  // in the past
  CHECK(decide(FeeState::committee, FeeAction::approve, committee, eff).refusal == Refusal::facts);
  v = decide(FeeState::draft, FeeAction::approve, unit, f);
  CHECK(v.refusal == Refusal::state);
  v = decide(FeeState::published, FeeAction::reject, committee, f);
  CHECK(v.refusal == Refusal::state);
  v = decide(FeeState::unit_review, FeeAction::submit, drafter, f);
  CHECK(v.refusal == Refusal::state);
  CHECK(v.rule == "submit.draft_only");
  v = decide(FeeState::draft, FeeAction::submit, unit, f);
  CHECK(v.refusal == Refusal::role);
  StepFacts empty = f;
  empty.lines = 0;
  CHECK(decide(FeeState::draft, FeeAction::submit, drafter, empty).rule == "submit.lines");
  v = decide(FeeState::finance_review, FeeAction::reject, finance, f);
  CHECK(v.refusal == Refusal::facts);
  CHECK(v.rule == "reject.reason");
  StepFacts why = f;
  why.reason = "depreciation counted twice";
  for (auto [state, who] : {std::pair{FeeState::unit_review, unit}, std::pair{FeeState::finance_review, finance},
                            std::pair{FeeState::committee, committee}}) {
    CHECK(to(decide(state, FeeAction::reject, who, why)) == "draft");
  }
  CHECK(decide(FeeState::withdrawn, FeeAction::submit, drafter, f).refusal == Refusal::state);
  CHECK(decide(FeeState::draft, FeeAction::imported, drafter, f).refusal == Refusal::state);
}

TEST_CASE("validate names the field a version breaks") {
  auto bad = [](auto change) {
    FeeVersion v = hourly("x", 100, 0);
    v.lines.push_back(v.lines.front());
    v.lines.back().code = "hour2";
    change(v);
    return validate(v).value_or("");
  };
  CHECK(bad([](FeeVersion&) {}).empty());
  CHECK(bad([](FeeVersion& v) { v.lines[1].code = "hour"; }) == "lines[1].code: 'hour' twice");
  CHECK(bad([](FeeVersion& v) { v.lines[0].prices.enterprise = -1; }).starts_with("lines[0].prices.enterprise"));
  CHECK(bad([](FeeVersion& v) {
          v.lines[0].prices.internal = kMaxPriceFen + 1;
        }).starts_with("lines[0].prices.internal"));
  CHECK(bad([](FeeVersion& v) { v.lines[0].unit_minutes = 0; }).starts_with("lines[0].unit_minutes"));
  CHECK(bad([](FeeVersion& v) { v.lines[1].night_factor_bp = 9999; }).starts_with("lines[1].night_factor_bp"));
  CHECK(bad([](FeeVersion& v) { v.lines[1].overtime_bp = -1; }).starts_with("lines[1].overtime_bp"));
  CHECK(bad([](FeeVersion& v) { v.night.from_min = 1440; }).starts_with("night"));
  CHECK(bad([](FeeVersion& v) { v.weekend_days = 0x80; }).starts_with("weekend_days"));
  CHECK(bad([](FeeVersion& v) { v.cost.labour_fen = -5; }).starts_with("cost.labour_fen"));
  CHECK(bad([](FeeVersion& v) { v.lines[0].code = "a b"; }).starts_with("lines[0].code"));
  CHECK(bad([](FeeVersion& v) { v.currency = "RMBX"; }).starts_with("currency"));
}

TEST_CASE("make_charge with a version names it and keeps the priced lines, without one, no_fee_standard") {
  ChargeInput in;
  in.session = "s1";
  in.instrument = "inst";
  in.versioned = true;
  in.start_ms = 1'767'225'600'000;
  in.duration_ms = 90 * 60'000;
  in.end_ms = in.start_ms + in.duration_ms;
  in.user = User{"alice", "Alice", UserCategory::internal_student, "", false};
  in.version = hourly("fv-1", 12000, 0);
  Charge c = make_charge(in);
  CHECK(c.amount_fen == 18000);
  CHECK(c.rate_fen_per_hour == 12000);
  CHECK(c.fee_version == "fv-1");
  CHECK(c.flags.empty());
  const json lines = json::parse(c.lines);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0]["code"] == "hour");
  CHECK(lines[0]["amount_fen"] == 18000);

  in.version.reset();
  Charge none = make_charge(in);
  CHECK(none.amount_fen == 0);
  CHECK(none.fee_version.empty());
  CHECK(none.flags == std::vector<std::string>{"no_fee_standard"});

  in.version = hourly("fv-1", kMaxPriceFen, 0);
  in.duration_ms = std::numeric_limits<int64_t>::max();
  Charge over = make_charge(in);
  CHECK(over.amount_fen == 0);
  CHECK(over.flags == std::vector<std::string>{"overflow"});

  in.duration_ms = 60'000;
  in.version->lines.front().kind = LineKind::sample;
  Charge no_hour = make_charge(in);
  CHECK(no_hour.amount_fen == 0);
  CHECK(no_hour.flags == std::vector<std::string>{"no_hour_line"});
}
