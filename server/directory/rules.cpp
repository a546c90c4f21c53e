#include "server/directory/rules.hpp"

namespace lg::server::directory {

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
  return stored->name == row.name && stored->category == row.category && stored->unit == row.unit ? Change::unchanged
                                                                                                     : Change::updated;
}

Change compare(const std::optional<Group>& stored, const Group& row) {
  if (!stored) return Change::created;
  return stored->name == row.name && stored->pi == row.pi && stored->unit == row.unit ? Change::unchanged
                                                                                         : Change::updated;
}

}  // namespace lg::server::directory
