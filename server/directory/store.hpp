// The directory's store: units, labs, instruments, users and cards. Every write is
// all-or-nothing; a bad reference changes nothing.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "labgate/common/result.hpp"
#include "server/core/paging.hpp"
#include "server/directory/model.hpp"
#include "server/directory/rules.hpp"

namespace lg::server::directory {

class Store {
 public:
  virtual ~Store() = default;

  /// Creates a unit; conflict if the id exists, unknown_reference if the parent is unknown.
  virtual Status add_unit(const Unit& u, int64_t now_ms) = 0;
  /// Creates a lab under a unit (unknown_reference when the unit is unknown).
  virtual Status add_lab(const Lab& l, int64_t now_ms) = 0;
  /// Creates an instrument or door in a lab, with its access policy.
  virtual Status add_instrument(const Instrument& i, int64_t now_ms) = 0;
  /// Changes the policy fields (and the status) set in p, atomically against concurrent writers; returns the
  /// instrument as stored afterwards; not_found if the id is unknown.
  virtual Result<Instrument> update_instrument_policy(const std::string& id, const InstrumentPolicyPatch& p,
                                                      int64_t now_ms) = 0;
  /// Creates a user with its status, reason and personal fields (unknown_reference when the unit
  /// is unknown, conflict if the id exists).
  virtual Status add_user(const User& u, int64_t now_ms) = 0;
  /// Assigns a card (canonical uid, optional end date) to an active user; conflict if the uid
  /// has an active owner or the user is not active, checked and written atomically against
  /// concurrent writers.
  virtual Status add_card(const Card& c, int64_t now_ms) = 0;
  /// Changes a user's status with its reason (directory/rules.hpp says which changes are
  /// allowed: conflict otherwise); not_found if the id is unknown. Returns the user as stored.
  virtual Result<User> set_user_status(const std::string& id, UserStatus to, const std::string& reason,
                                       int64_t now_ms) = 0;
  /// Ends the active card with this uid as lost, revoked or replaced (its row stays as history);
  /// not_found if no card with the uid is active. Returns the ended row.
  virtual Result<Card> end_card(const std::string& uid, CardStatus why, int64_t now_ms) = 0;
  /// Sets (or, with nullopt, clears) the end date of the active card with this uid: a temporary
  /// card opens nothing from then on; not_found if no card with the uid is active. Returns the row.
  virtual Result<Card> set_card_valid_until(const std::string& uid, std::optional<int64_t> valid_until_ms) = 0;

  /// Creates a research group with its PI as the first member (unknown_reference for an unknown
  /// PI or unit, conflict if the id exists).
  virtual Status add_group(const Group& g, int64_t now_ms) = 0;
  /// Adds a member (conflict if already one; not_found unknown group; unknown_reference unknown user).
  virtual Status add_member(const std::string& group, const std::string& user, int64_t now_ms) = 0;
  /// Removes a member (not_found if not one; conflict for the group's PI, who stays a member).
  virtual Status remove_member(const std::string& group, const std::string& user) = 0;
  /// A group's members by user id; not_found for an unknown group.
  virtual Result<std::vector<GroupMember>> members(const std::string& group) = 0;
  /// The groups, by id.
  virtual Result<PageOf<Group>> groups(const Page& p) = 0;
  /// Renames a group, gives it another PI and/or unit ("" = none): a new PI becomes a member
  /// (conflict when the group is retired, as for any new member) and the old one stays one;
  /// not_found unknown group, unknown_reference unknown PI or unit. Returns the group as stored.
  virtual Result<Group> update_group(const std::string& id, const GroupPatch& p, int64_t now_ms) = 0;

  /// Renames a unit and/or moves it under another parent (conflict if that would put it under
  /// itself; unknown_reference for an unknown parent; not_found). A move is kept in moves().
  virtual Result<Unit> update_unit(const std::string& id, const PlacePatch& p, int64_t now_ms) = 0;
  /// Renames a lab and/or moves it to another unit (kept in moves()).
  virtual Result<Lab> update_lab(const std::string& id, const PlacePatch& p, int64_t now_ms) = 0;
  /// Changes a user's name, category, unit (kept in moves()) and/or personal fields.
  virtual Result<User> update_user(const std::string& id, const PlacePatch& p, int64_t now_ms) = 0;
  /// Retires a unit, lab or research group (entity "unit" | "lab" | "group"): it stays, with its
  /// history, and takes nothing new (no labs, instruments or members); not_found unknown id,
  /// conflict if retired already, or for a unit or lab that still holds active labs or instruments.
  virtual Status retire(const std::string& entity, const std::string& id, int64_t now_ms) = 0;
  /// The moves of one entity ("unit", "lab", "instrument", "user"), oldest first.
  virtual Result<std::vector<Move>> moves(const std::string& entity, const std::string& id) = 0;
  /// Import: creates the unit or updates its name and parent (directory/rules.hpp compare);
  /// unknown_reference for an unknown parent. Returns what it did.
  virtual Result<Change> upsert_unit(const Unit& u, int64_t now_ms) = 0;
  /// Import: creates the user (active) or updates name, category, unit and the personal fields
  /// (compare() decides); unknown_reference for an unknown unit. Returns what it did.
  virtual Result<Change> upsert_user(const User& u, int64_t now_ms) = 0;
  /// Import: creates the group (its PI the first member) or updates its name, PI and unit (a new
  /// PI becomes a member too); unknown_reference for an unknown PI or unit.
  virtual Result<Change> upsert_group(const Group& g, int64_t now_ms) = 0;
  /// Import: makes user a member of group unless already one.
  virtual Result<Change> upsert_member(const std::string& group, const std::string& user, int64_t now_ms) = 0;

  // Lists by key, ascending: units, labs, instruments and users by (id); cards by (uid, row).
  virtual Result<PageOf<Unit>> units(const Page& p) = 0;
  virtual Result<PageOf<Lab>> labs(const Page& p) = 0;
  virtual Result<PageOf<Instrument>> instruments(const Page& p) = 0;
  virtual Result<PageOf<User>> users(const Page& p) = 0;
  virtual Result<PageOf<Card>> cards(const Page& p) = 0;

  /// One unit, nullopt if unknown.
  virtual Result<std::optional<Unit>> unit(const std::string& id) = 0;
  /// One lab, nullopt if unknown.
  virtual Result<std::optional<Lab>> lab(const std::string& id) = 0;
  /// One research group, nullopt if unknown.
  virtual Result<std::optional<Group>> group(const std::string& id) = 0;
  /// One instrument, nullopt if unknown.
  virtual Result<std::optional<Instrument>> instrument(const std::string& id) = 0;
  /// One user with its personal fields, nullopt if unknown.
  virtual Result<std::optional<User>> user(const std::string& id) = 0;
  /// The newest row of a card uid (active or ended), nullopt if the uid was never issued.
  virtual Result<std::optional<Card>> last_card(const std::string& uid) = 0;
  /// The active owner of a card now, "" when none.
  virtual Result<std::string> card_owner(const std::string& uid) = 0;
};

}  // namespace lg::server::directory
