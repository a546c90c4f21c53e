#include "server/billing/rules.hpp"

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
