#include "server/directory/model.hpp"

namespace lg::server {

const char* to_string(UserCategory c) { return c == UserCategory::external ? "external" : "internal"; }

const char* to_string(InstrumentKind k) { return k == InstrumentKind::door ? "door" : "instrument"; }

std::optional<UserCategory> category_from(std::string_view s) {
  if (s == "internal") return UserCategory::internal;
  if (s == "external") return UserCategory::external;
  return std::nullopt;
}

std::optional<InstrumentKind> kind_from(std::string_view s) {
  if (s == "instrument") return InstrumentKind::instrument;
  if (s == "door") return InstrumentKind::door;
  return std::nullopt;
}

}  // namespace lg::server
