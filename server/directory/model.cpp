#include "server/directory/model.hpp"

namespace lg::server {

namespace {

template <typename E>
struct Names {
  E value;
  const char* name;
};

constexpr Names<UserCategory> kCategories[] = {{UserCategory::internal_student, "internal_student"},
                                               {UserCategory::internal_staff, "internal_staff"},
                                               {UserCategory::other_campus, "other_campus"},
                                               {UserCategory::external_academic, "external_academic"},
                                               {UserCategory::enterprise, "enterprise"}};

}  // namespace

const char* to_string(UserCategory c) {
  for (const auto& n : kCategories)
    if (n.value == c) return n.name;
  return "internal_staff";
}

const char* category_names() {
  return "internal_student, internal_staff, other_campus, external_academic or enterprise";
}

const char* to_string(InstrumentKind k) { return k == InstrumentKind::door ? "door" : "instrument"; }

std::optional<UserCategory> category_from(std::string_view s) {
  for (const auto& n : kCategories)
    if (s == n.name) return n.value;
  // The names of the two categories there were before (docs/INTERFACES.md).
  if (s == "internal") return UserCategory::internal_staff;
  if (s == "external") return UserCategory::external_academic;
  return std::nullopt;
}

std::optional<InstrumentKind> kind_from(std::string_view s) {
  if (s == "instrument") return InstrumentKind::instrument;
  if (s == "door") return InstrumentKind::door;
  return std::nullopt;
}

const char* to_string(UserStatus s) {
  switch (s) {
    case UserStatus::pending: return "pending";
    case UserStatus::active: return "active";
    case UserStatus::suspended: return "suspended";
    case UserStatus::left: return "left";
  }
  return "active";
}

std::optional<UserStatus> user_status_from(std::string_view s) {
  for (auto v : {UserStatus::pending, UserStatus::active, UserStatus::suspended, UserStatus::left})
    if (s == to_string(v)) return v;
  return std::nullopt;
}

const char* to_string(CardStatus s) {
  switch (s) {
    case CardStatus::active: return "active";
    case CardStatus::lost: return "lost";
    case CardStatus::revoked: return "revoked";
    case CardStatus::replaced: return "replaced";
  }
  return "active";
}

std::optional<CardStatus> card_status_from(std::string_view s) {
  for (auto v : {CardStatus::active, CardStatus::lost, CardStatus::revoked, CardStatus::replaced})
    if (s == to_string(v)) return v;
  return std::nullopt;
}

}  // namespace lg::server
