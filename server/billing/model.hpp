// Fee standards and charges: money in integer fen, never floating point. Plain data.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "labgate/common/defaults.hpp"

namespace lg::server {

/// One hourly fee standard per instrument; rates in integer fen per hour.
struct FeeStandard {
  std::string instrument;
  int64_t internal_fen_per_hour = 0;
  int64_t external_fen_per_hour = 0;
  std::string currency{defaults::kCurrency};
  std::optional<int64_t> retired_ms{};  ///< retired (DELETE): kept, charges nothing from then on
  /// When an import takes effect (POST /api/fee-standards "effective_from"); nullopt: now, or from
  /// the beginning for an instrument's first standard (it prices every session, as before versions).
  std::optional<int64_t> effective_from_ms{};
};

struct Charge {
  std::string id;
  std::string session;
  std::string instrument;
  std::string user;      ///< "" = unknown user
  std::string category;  ///< "" when the user is unknown
  int64_t rate_fen_per_hour = 0;
  int64_t duration_ms = 0;
  int64_t amount_fen = 0;
  std::string currency;
  std::vector<std::string> flags;  ///< "unknown_user", "no_fee_standard", "overflow"
  int64_t end_ms = 0;
  std::string fee_version;  ///< the fee standard version that priced it ("" = none)
  std::string
      lines;  ///< its priced lines as JSON text ("" = none): [{code,quantity,unit,unit_price_fen,amount_fen,note}]
};

}  // namespace lg::server

// ---- Fee standard versions (issue 11): drafted, reviewed, approved, published; each charge names
// the version it used. Money in int64 fen, factors in integer basis points (10000 = x1).

namespace lg::server::billing {

/// A version's place in the approval workflow. A rejection at a review sends it back to draft
/// (the reason kept in its steps); a published version is shown as superseded once a later one
/// is in force (computed, never stored: effective dates may lie in the future).
enum class FeeState { draft, unit_review, finance_review, committee, published, withdrawn };
/// What a person does to a version (a step of its history). imported: the hourly import of an
/// already-approved standard by a system admin (POST /api/fee-standards).
enum class FeeAction { create, edit, submit, approve, reject, withdraw, imported, retire };
/// What a line counts: machine time, samples, or items (consumables, liquid helium/nitrogen, reports).
enum class LineKind { hour, sample, item };
/// How a duration becomes whole billing units: per started unit, to the nearest (halves up),
/// whole units only, or none: the exact milliseconds (imported hourly standards bill so).
enum class Rounding { up, nearest, down, exact };
/// Which time an hour line bills: the larger of the booked and the used time, or the used time only.
enum class BookedRule { larger, used };

const char* to_string(FeeState s);
const char* to_string(FeeAction a);
const char* to_string(LineKind k);
const char* to_string(Rounding r);
const char* to_string(BookedRule b);
std::optional<FeeState> fee_state_from(std::string_view s);
std::optional<FeeAction> fee_action_from(std::string_view s);
std::optional<LineKind> line_kind_from(std::string_view s);
std::optional<Rounding> rounding_from(std::string_view s);
std::optional<BookedRule> booked_rule_from(std::string_view s);

/// Basis points meaning "x1".
inline constexpr int64_t kBpOne = 10'000;

/// A line's prices per user category group, in fen per line unit (per hour for hour lines).
struct Prices {
  int64_t internal = 0;  ///< internal_student and internal_staff
  int64_t other_campus = 0;
  int64_t external_academic = 0;
  int64_t enterprise = 0;
};

/// A night window as minutes of the local day in the site zone: [from, to); from > to crosses
/// midnight (22:00-08:00 is {1320, 480}); from == to is no window.
struct NightWindow {
  int32_t from_min = 22 * 60;
  int32_t to_min = 8 * 60;
};

/// One priced line of a version.
struct FeeLine {
  std::string code;  ///< unique within the version: what orders' fee_lines and priced lines name
  std::string name;
  LineKind kind = LineKind::hour;
  std::string unit;  ///< label shown to people ("hour", "sample", "L")
  Prices prices;
  int64_t min_fee_fen = 0;  ///< least this line costs per use (a session or an order line), when used at all
  // Hour lines only:
  int32_t unit_minutes = 60;  ///< the billing unit
  Rounding rounding = Rounding::up;
  BookedRule booked = BookedRule::used;
  int64_t overtime_bp = 0;             ///< surcharge on the time past the booking's end (5000 = +50 %)
  int64_t night_factor_bp = kBpOne;    ///< price factor in the night window (15000 = x1.5; 10000 = none)
  int64_t weekend_factor_bp = kBpOne;  ///< price factor on weekend days
  std::optional<NightWindow> night{};  ///< this line's window; else the version's
};

/// The cost basis a proposal is argued from: yearly costs in fen and the machine hours a year
/// they are spread over (docs/MONEY.md). Shown to the reviewers; prices are set by people.
struct CostBasis {
  int64_t energy_fen = 0;
  int64_t consumables_fen = 0;
  int64_t maintenance_fen = 0;
  int64_t depreciation_fen = 0;
  int64_t labour_fen = 0;
  int64_t hours_per_year = 0;
};

/// One version of an instrument's fee standard.
struct FeeVersion {
  std::string id;
  std::string instrument;
  int32_t number = 0;  ///< 1, 2, ... per instrument
  FeeState state = FeeState::draft;
  std::string currency{defaults::kCurrency};
  std::optional<int64_t> effective_from_ms{};  ///< set at committee approval (or import)
  std::optional<int64_t> retired_ms{};         ///< retired (DELETE /api/fee-standards): prices nothing from then on
  CostBasis cost;
  NightWindow night;             ///< the version's night window (lines may have their own)
  uint32_t weekend_days = 0x60;  ///< bit (d-1) for ISO weekday d: 0x60 = Saturday and Sunday
  std::string note;              ///< the proposal's justification
  std::string created_by;
  int64_t created_ms = 0;
  int64_t updated_ms = 0;
  std::vector<FeeLine> lines;
};

/// One step of a version's history: who did what, when, with which comment.
struct FeeStep {
  std::string version;
  int32_t seq = 0;  ///< 1, 2, ... within the version
  std::string who;
  int64_t at_ms = 0;
  FeeAction action = FeeAction::create;
  FeeState from = FeeState::draft;
  FeeState to = FeeState::draft;
  std::string comment;
};

/// One line of a price: what was counted, at what unit price, for how much.
struct PricedLine {
  std::string code;            ///< the fee line's code, or "<code>:overtime" / ":night" / ":weekend" / ":minimum"
  int64_t quantity = 0;        ///< minutes for time, else the count
  std::string unit;            ///< "min" for time, else the line's unit label
  int64_t unit_price_fen = 0;  ///< fen per hour for time, else per unit
  int64_t amount_fen = 0;
  std::string note;
};

}  // namespace lg::server::billing
