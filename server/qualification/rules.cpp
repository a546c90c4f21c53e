#include "server/qualification/rules.hpp"

#include "labgate/common/time.hpp"

namespace lg::server::qualification {

const char* to_string(QualificationLevel l) {
  switch (l) {
    case QualificationLevel::supervised: return "supervised";
    case QualificationLevel::independent: return "independent";
    case QualificationLevel::after_hours: return "after_hours";
  }
  return "after_hours";
}

std::optional<QualificationLevel> level_from(std::string_view s) {
  for (auto l : {QualificationLevel::supervised, QualificationLevel::independent, QualificationLevel::after_hours})
    if (s == to_string(l)) return l;
  return std::nullopt;
}

bool at_least(QualificationLevel have, QualificationLevel need) {
  return static_cast<int>(have) >= static_cast<int>(need);
}

Result<std::optional<int64_t>> lapses_at(const Qualification& q, std::optional<int64_t> last_use_ms,
                                         int32_t lapse_months, const std::string& tz) {
  if (lapse_months <= 0) return std::optional<int64_t>{};
  const int64_t from = last_use_ms && *last_use_ms > q.valid_from_ms ? *last_use_ms : q.valid_from_ms;
  auto at = time::add_months(from, lapse_months, tz);
  if (!at) return at.error();
  return std::optional<int64_t>{*at};
}

Qualification with_lapse(const Qualification& q, std::optional<int64_t> lapse_ms) {
  Qualification out = q;
  if (lapse_ms && (!out.valid_until_ms || *lapse_ms < *out.valid_until_ms)) out.valid_until_ms = *lapse_ms;
  return out;
}

std::optional<int64_t> ends_soon(const Qualification& q, std::optional<int64_t> lapse_ms, int64_t now_ms) {
  const auto end = with_lapse(q, lapse_ms).valid_until_ms;
  if (!end || *end < now_ms || *end >= now_ms + kEndingNoticeMs) return std::nullopt;
  return end;
}

bool covers(const Qualification& q, int64_t from_ms, int64_t to_ms) {
  return q.valid_from_ms <= from_ms && (!q.valid_until_ms || *q.valid_until_ms >= to_ms);
}

std::string validate(const Qualification& q) {
  if (q.valid_until_ms && *q.valid_until_ms <= q.valid_from_ms) return "valid_until: must be after valid_from";
  return "";
}

std::string revoke_refusal(const Qualification& q, int64_t now_ms) {
  if (q.valid_until_ms && *q.valid_until_ms <= now_ms) {
    return "qualification: " + q.user + " on " + q.instrument + " ended already (revoked or expired)";
  }
  return "";
}

Qualification revoked(const Qualification& q, int64_t now_ms) {
  Qualification out = q;
  out.valid_until_ms = now_ms > q.valid_from_ms ? now_ms : q.valid_from_ms;
  return out;
}

}  // namespace lg::server::qualification
