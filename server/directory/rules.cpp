#include "server/directory/rules.hpp"

namespace lg::server::directory {

bool is_internal(UserCategory c) {
  switch (c) {
    case UserCategory::internal_student:
    case UserCategory::internal_staff: return true;
    case UserCategory::other_campus:
    case UserCategory::external_academic:
    case UserCategory::enterprise: return false;
  }
  return false;
}

std::string personal_field_problem(std::string_view field, std::string_view value) {
  if (value.empty()) return "";
  auto control = [](unsigned char c) { return c < 0x20 || c == 0x7f; };
  if (field == "email") {
    if (value.size() > 254) return "longer than 254 characters";
    std::size_t at = 0;
    for (unsigned char c : value) {
      if (c == '@') ++at;
      if (c == ' ' || control(c)) return "must not contain spaces or control characters";
    }
    if (at != 1) return "must contain one '@'";
    return "";
  }
  if (field == "phone") {
    if (value.size() > 32) return "longer than 32 characters";
    bool digit = false;
    for (char c : value) {
      if (c >= '0' && c <= '9')
        digit = true;
      else if (c != '+' && c != '-' && c != ' ')
        return "must be digits, '+', '-' and spaces";
    }
    if (!digit) return "must contain a digit";
    return "";
  }
  if (field == "id_number") {
    if (value.size() > 64) return "longer than 64 characters";
    for (unsigned char c : value)
      if (c < 0x20 || c > 0x7e) return "must be printable ASCII characters";
    return "";
  }
  if (field == "organisation") {
    if (value.size() > proto::kMaxField) return "longer than " + std::to_string(proto::kMaxField) + " characters";
    for (unsigned char c : value)
      if (control(c)) return "must not contain control characters";
    return "";
  }
  return "unknown field";
}

bool status_change_allowed(UserStatus from, UserStatus to) {
  switch (from) {
    case UserStatus::pending:
      return to == UserStatus::active || to == UserStatus::left;
    case UserStatus::active:
      return to == UserStatus::suspended || to == UserStatus::left;
    case UserStatus::suspended:
      return to == UserStatus::active || to == UserStatus::left;
    case UserStatus::left:
      return false;
  }
  return false;
}

std::string status_change_refusal(UserStatus from, UserStatus to) {
  if (from == to) return std::string("status: the user is already ") + to_string(to);
  return std::string("status: a user cannot go from ") + to_string(from) + " to " + to_string(to);
}

bool is_end_status(CardStatus s) {
  return s == CardStatus::lost || s == CardStatus::revoked || s == CardStatus::replaced;
}

bool creates_cycle(const std::map<std::string, std::string>& parent_of, const std::string& id,
                   const std::string& new_parent) {
  std::string at = new_parent;
  for (std::size_t steps = 0; !at.empty() && steps <= parent_of.size(); ++steps) {
    if (at == id) return true;
    auto it = parent_of.find(at);
    if (it == parent_of.end()) return false;
    at = it->second;
  }
  return !at.empty();  // a loop already stored: refuse rather than walk for ever
}

std::string_view retirable_table(std::string_view entity) {
  if (entity == "unit") return "units";
  if (entity == "lab") return "labs";
  if (entity == "group") return "research_groups";
  return "";
}

const char* to_string(Change c) {
  switch (c) {
    case Change::created: return "created";
    case Change::updated: return "updated";
    case Change::unchanged: return "unchanged";
  }
  return "unchanged";
}

Change compare(const std::optional<Unit>& stored, const Unit& row) {
  if (!stored) return Change::created;
  return stored->name == row.name && stored->parent == row.parent ? Change::unchanged : Change::updated;
}

Change compare(const std::optional<User>& stored, const User& row) {
  if (!stored) return Change::created;
  const User& s = *stored;
  const bool same = s.name == row.name && s.category == row.category && s.unit == row.unit && s.email == row.email &&
                    s.phone == row.phone && s.id_number == row.id_number && s.organisation == row.organisation;
  return same ? Change::unchanged : Change::updated;
}

Change compare(const std::optional<Group>& stored, const Group& row) {
  if (!stored) return Change::created;
  return stored->name == row.name && stored->pi == row.pi && stored->unit == row.unit ? Change::unchanged
                                                                                         : Change::updated;
}

}  // namespace lg::server::directory
