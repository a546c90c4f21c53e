#include "server/qualification/rules.hpp"

namespace lg::server::qualification {

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
