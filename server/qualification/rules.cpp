#include "server/qualification/rules.hpp"

namespace lg::server::qualification {

bool covers(const Qualification& q, int64_t from_ms, int64_t to_ms) {
  return q.valid_from_ms <= from_ms && (!q.valid_until_ms || *q.valid_until_ms >= to_ms);
}

std::string validate(const Qualification& q) {
  if (q.valid_until_ms && *q.valid_until_ms <= q.valid_from_ms) return "valid_until: must be after valid_from";
  return "";
}

}  // namespace lg::server::qualification
