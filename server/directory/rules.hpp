// The directory's rules: which user status changes are allowed, and what a card's end means.
// Pure: plain values in, a decision out.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "server/directory/model.hpp"

namespace lg::server::directory {

/// Whether a category is a campus member's (internal_student, internal_staff): they pay the
/// internal rate; everyone else the external one.
bool is_internal(UserCategory c);

/// Why a personal field's value is refused, "" when it is fine ("" itself, none, always is):
///   email: one '@', no spaces or control characters, at most 254 characters;
///   phone: digits, '+', '-' and spaces, at least one digit, at most 32 characters;
///   id_number: printable ASCII (space to '~'), at most 64 characters;
///   organisation: at most proto::kMaxField (256) bytes, no control characters.
/// field is one of those four names; any other field gets "unknown field".
std::string personal_field_problem(std::string_view field, std::string_view value);

/// Whether a user may go from one status to another:
///   pending   -> active (approved) | left (refused)
///   active    -> suspended | left
///   suspended -> active | left
///   left      -> nothing (a departed user's history stays; a returning person is re-activated
///                by an admin as active only through a new account)
/// Staying in the same status is not a change (false).
bool status_change_allowed(UserStatus from, UserStatus to);

/// The error text for a refused change, naming both statuses.
std::string status_change_refusal(UserStatus from, UserStatus to);

/// Whether a card may be ended with this status (lost, revoked or replaced; not active).
bool is_end_status(CardStatus s);

/// Whether making new_parent the parent of unit id would put id under itself (parent_of maps
/// every unit to its parent, "" for a root).
bool creates_cycle(const std::map<std::string, std::string>& parent_of, const std::string& id,
                   const std::string& new_parent);

/// The table of a retirable entity ("unit" -> units, "lab" -> labs, "group" -> research_groups),
/// "" for anything else.
std::string_view retirable_table(std::string_view entity);

/// What an import row does to what is stored under its key.
enum class Change { created, updated, unchanged };
/// "created" | "updated" | "unchanged".
const char* to_string(Change c);
/// An imported unit against the stored one (by id): name and parent are the imported fields.
Change compare(const std::optional<Unit>& stored, const Unit& row);
/// An imported user against the stored one (by id): name, category, unit and the personal fields
/// (email, phone, id_number, organisation) are the imported fields; status and admin are not set
/// by an import.
Change compare(const std::optional<User>& stored, const User& row);
/// An imported group against the stored one (by id): name, PI and unit are the imported fields.
Change compare(const std::optional<Group>& stored, const Group& row);

}  // namespace lg::server::directory
