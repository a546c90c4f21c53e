// The charge rule: what a finished session costs. Integer fen only, never floating point.
// (Charge-once is usage::close_session: a session is closed, and so charged, by one end record.)
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "labgate/common/defaults.hpp"
#include "server/billing/model.hpp"
#include "server/directory/model.hpp"

namespace lg::server::billing {

inline constexpr int64_t kMsPerHour = defaults::kMsPerHour;

/// amount_fen = round-half-up(duration_ms * rate_fen_per_hour / 3'600'000), computed with
/// integer arithmetic only. nullopt when an input is negative or the result overflows int64.
std::optional<int64_t> amount_fen(int64_t duration_ms, int64_t rate_fen_per_hour);

/// The hourly rate that applies to a user of the given category.
int64_t rate_for(const FeeStandard& fee, UserCategory category);

// ---- Fee standard versions: prices of sessions and order lines, the approval workflow.

/// Most a price, a minimum fee or a cost may be, in fen (100 million yuan).
inline constexpr int64_t kMaxPriceFen = 10'000'000'000;
/// Most basis points a factor or a surcharge may be (x10, +1000 %).
inline constexpr int64_t kMaxBp = 100'000;
/// Most lines one version holds.
inline constexpr std::size_t kMaxLines = 50;

/// The price of a line for a user category: internal_student and internal_staff pay `internal`.
int64_t price_for(const Prices& p, UserCategory c);

/// Why a version's content is unfit, naming the field ("lines[1].code: 'h' twice"); nullopt if fit:
/// codes unique ids, names 1..200 characters, prices and minimum fees 0..kMaxPriceFen, billing
/// units 1..1440 minutes, overtime 0..kMaxBp, night and weekend factors kBpOne..kMaxBp (a factor
/// is a surcharge, never a discount), night windows within the day, weekend days bits 0..6,
/// costs 0..kMaxPriceFen*100, hours_per_year 0..8784, at most kMaxLines lines.
std::optional<std::string> validate(const FeeVersion& v);

/// A session as pricing sees it.
struct SessionFacts {
  UserCategory category = UserCategory::internal_staff;
  std::optional<std::pair<int64_t, int64_t>> booked{};  ///< the booking's [from, to) (UTC ms), if any
  int64_t start_ms = 0;  ///< used [start, end): where the time lies (night, weekend, overtime)
  int64_t end_ms = 0;
  int64_t duration_ms = 0;                ///< how much time was used: the terminal's monotonic clock (authoritative)
  std::string zone{defaults::kTimeZone};  ///< the site zone (night windows and weekends)
};

/// One requested line of an order: a fee line's code and its quantity (samples, items, or
/// minutes of an hour line).
struct OrderLine {
  std::string code;
  int64_t quantity = 0;
};

/// A price: its lines and total, or an error ("overflow", "unknown_line: X", "negative_quantity: X",
/// "zone: ...", "too_long") with no amount.
struct Price {
  std::string version;  ///< the version's id
  std::vector<PricedLine> lines;
  int64_t total_fen = 0;
  std::string error;
  bool ok() const { return error.empty(); }
};

/// The price of a session under a version, over its hour lines (each: billed time, then overtime,
/// night, weekend and minimum lines). docs/MONEY.md "Pricing rules" states every rule:
/// - billable = duration_ms, or max(duration_ms, booked length) under BookedRule::larger with a booking;
/// - units = billable / unit rounded per Rounding; billed = units x unit;
///   base = round_half_up(billed x price / 1 h);
/// - overtime (booking only): the used time past the booking's end (wall clock, at most duration_ms),
///   amount = round_half_up(ms x price x overtime_bp / (1 h x 10000));
/// - night / weekend: the used time in the night window or on a weekend day in the zone (at most
///   duration_ms), amount = round_half_up(ms x price x (factor - 10000) / (1 h x 10000)); a moment
///   both at night and on a weekend takes the larger factor, once;
/// - minimum: when billed > 0 and the line's amounts sum below min_fee_fen, a line tops it up.
/// Overflow of int64 anywhere gives error "overflow", never a wrapped amount.
Price price_session(const FeeVersion& v, const SessionFacts& f);

/// The price of an order's lines: sample and item lines quantity x price; hour lines quantity
/// minutes, billed like a session without booking or time of day; each line's minimum applies
/// when its quantity > 0.
Price price_order(const FeeVersion& v, UserCategory c, std::span<const OrderLine> lines);

/// The version in force at `at_ms` among an instrument's versions: the published one with the
/// latest effective_from <= at_ms (ties: the highest number); none when there is none, or when
/// that one was retired at or before at_ms.
const FeeVersion* in_force(std::span<const FeeVersion> versions, int64_t at_ms);

/// A version's state as people see it at now_ms: its stored state, except that a published
/// version is "retired" once retired, "superseded" once another version is in force after it, and
/// "scheduled" before its effective date.
std::string shown_state(const FeeVersion& v, std::span<const FeeVersion> all, int64_t now_ms);

/// Priced lines as JSON text (what a charge stores): [{code,quantity,unit,unit_price_fen,amount_fen,note}].
std::string lines_text(std::span<const PricedLine> lines);

/// Who is acting on a version, as far as the workflow cares (each: the right over its instrument).
struct FeeActor {
  bool drafter = false;        ///< Right::instrument_write: the instrument admin drafts, submits, withdraws
  bool unit_reviewer = false;  ///< Right::fee_review: the unit's review
  bool finance = false;        ///< Right::money_write: finance's review
  bool committee = false;      ///< Right::fee_approve: the committee's approval
};

/// What a step looks at besides the state and the actor.
struct StepFacts {
  std::string reason;                          ///< the comment given ("" = none)
  std::optional<int64_t> effective_from_ms{};  ///< approve at committee: when it takes effect
  int64_t now_ms = 0;
  std::size_t lines = 0;  ///< the version's line count (submit needs one)
};

/// Why a step is refused: the caller's role (403), the version's state (409), or a fact (422).
enum class Refusal { none, role, state, facts };

/// decide()'s verdict: the new state, or a refusal naming its rule ("approve.unit_reviewer_only").
struct Verdict {
  std::optional<FeeState> to;
  Refusal refusal = Refusal::none;
  std::string rule;
  std::string reason;
  bool ok() const { return to.has_value(); }
};

/// The workflow: draft -submit-> unit_review -approve-> finance_review -approve-> committee
/// -approve-> published; reject at any review -> draft (a reason required); edit keeps a draft a
/// draft; withdraw: draft -> withdrawn. The drafter (instrument_write) edits, submits, withdraws;
/// the review of each state takes its own right (fee_review, money_write, fee_approve). Checked in
/// this order: for the drafter's steps the role, then the state; for reviews the state (it says
/// whose turn it is), then the role; then the facts (submit: at least one line; reject: a reason;
/// committee approve: an effective date not before now). create, imported and retire are not
/// steps of this table (refused: state).
Verdict decide(FeeState from, FeeAction a, const FeeActor& who, const StepFacts& f);

/// What billing knows about a finished session.
struct ChargeInput {
  std::string session;
  std::string instrument;
  int64_t duration_ms = 0;  ///< monotonic duration from the terminal (authoritative)
  int64_t end_ms = 0;
  std::optional<User> user;        ///< empty = unknown user
  std::optional<FeeStandard> fee;  ///< the hourly standard (used only when `version` is empty)
  std::string default_currency{defaults::kCurrency};
  // With fee standard versions:
  bool versioned = false;               ///< price by `version` (empty: no version in force)
  std::optional<FeeVersion> version{};  ///< the version in force at the session's start
  int64_t start_ms = 0;
  std::optional<std::pair<int64_t, int64_t>> booked{};  ///< the session's booking [from, to)
  std::string zone{defaults::kTimeZone};
};

/// Builds the charge for a finished session (id left empty). A session with an unknown user or
/// no fee standard is charged 0 and flagged "unknown_user" / "no_fee_standard", never dropped;
/// a negative duration counts as 0 and is flagged "negative_duration". Versioned: priced by
/// price_session (the charge names the version and keeps its lines; rate_fen_per_hour is the first
/// hour line's price for the category); a price error is flagged ("overflow", or "price_error")
/// with amount 0; a version without hour lines flags "no_hour_line".
Charge make_charge(const ChargeInput& in);

}  // namespace lg::server::billing
