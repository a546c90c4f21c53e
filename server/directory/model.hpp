// The directory: organisation units, labs, instruments and doors with their access policy,
// users and their cards. Plain data: no I/O, no JSON, no SQL.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "labgate/common/protocol.hpp"

namespace lg::server {

/// Who a user is to the site: it drives prices and rules. Campus members are students and staff;
/// the others come from another campus, another academic institution, or an enterprise.
enum class UserCategory { internal_student, internal_staff, other_campus, external_academic, enterprise };
/// A user's lifecycle: pending (registered, not approved) -> active -> suspended -> left.
/// Only an active user's cards open anything.
enum class UserStatus { pending, active, suspended, left };
/// A card row's state: the one active row per uid opens; lost and revoked rows are refused with
/// card_revoked at the terminals; replaced rows are history.
enum class CardStatus { active, lost, revoked, replaced };
/// An instrument's state (正常/维修/停用/待报废) is the protocol's resource status.
using InstrumentStatus = proto::ResourceStatus;
enum class InstrumentKind { instrument, door };

/// "internal_student" | "internal_staff" | "other_campus" | "external_academic" | "enterprise".
const char* to_string(UserCategory c);
/// "instrument" | "door".
const char* to_string(InstrumentKind k);
/// Parses a category's name; the old names are still accepted on input: "internal" is
/// internal_staff, "external" is external_academic. nullopt for anything else.
std::optional<UserCategory> category_from(std::string_view s);
/// The category names for a message: "internal_student, internal_staff, other_campus,
/// external_academic or enterprise".
const char* category_names();
/// Parses "instrument" | "door".
std::optional<InstrumentKind> kind_from(std::string_view s);
/// "pending" | "active" | "suspended" | "left".
const char* to_string(UserStatus s);
std::optional<UserStatus> user_status_from(std::string_view s);
/// "active" | "lost" | "revoked" | "replaced".
const char* to_string(CardStatus s);
std::optional<CardStatus> card_status_from(std::string_view s);

struct Unit {
  std::string id;
  std::string name;
  std::string parent;  ///< "" = root
  std::optional<int64_t> retired_ms{};  ///< retired (DELETE): kept with its history, takes nothing new
};

struct Lab {
  std::string id;
  std::string name;
  std::string unit;
  std::optional<int64_t> retired_ms{};  ///< retired (DELETE): kept with its history, takes nothing new
};

/// Upper bounds of an instrument's access policy (seconds), checked by the API.
inline constexpr int64_t kMaxEarlyStartS = 24LL * 3600;          ///< 1 day
inline constexpr int64_t kMaxGraceAfterEndS = 24LL * 3600;       ///< 1 day
inline constexpr int64_t kMaxOfflineGraceS = 30LL * 24 * 3600;   ///< 30 days
inline constexpr int64_t kMaxSessionS = 31LL * 24 * 3600;        ///< 31 days (the longest booking)

/// An instrument or door with its access policy. The policy defaults are the protocol's
/// (proto::Policy): a terminal decides with exactly these values.
struct Instrument {
  std::string id;
  std::string name;
  std::string lab;
  InstrumentKind kind = InstrumentKind::instrument;
  std::string asset_no;
  bool require_booking = false;
  int64_t early_start_s = 900;       ///< a booked user may start this long before the booking
  int64_t grace_after_end_s = 300;   ///< a booked session is switched off this long after the booking end
  int64_t offline_grace_s = 86400;   ///< cached grants are honoured this long after the last sync, offline
  int64_t max_session_s = 0;         ///< limit of a session not bounded by a booking; 0 = none
  InstrumentStatus status = InstrumentStatus::normal;
};

/// A change of an instrument's access policy, status, name or lab: fields left empty keep their value.
struct InstrumentPolicyPatch {
  std::optional<std::string> name;
  std::optional<std::string> lab;  ///< a move to another lab (kept in the moves history)
  std::optional<bool> require_booking;
  std::optional<int64_t> early_start_s;
  std::optional<int64_t> grace_after_end_s;
  std::optional<int64_t> offline_grace_s;
  std::optional<int64_t> max_session_s;
  std::optional<InstrumentStatus> status;
};

struct User {
  std::string id;
  std::string name;
  UserCategory category = UserCategory::internal_staff;
  std::string unit;  ///< "" = none
  bool admin = false;
  UserStatus status = UserStatus::active;
  std::string status_reason{};  ///< why the last status change was made ("" for none)
  // Personal data, each "" when not given (directory/rules.hpp personal_field_problem says what is valid).
  std::string email{};
  std::string phone{};
  std::string id_number{};     ///< an ID of the person's choice (证件号: ID card, passport, staff or student number)
  std::string organisation{};  ///< where an external user comes from
};

/// A user's personal fields in a change: each absent keeps its value, "" clears it.
struct PersonalPatch {
  std::optional<std::string> email;
  std::optional<std::string> phone;
  std::optional<std::string> id_number;
  std::optional<std::string> organisation;
  /// Whether any field is set.
  bool any() const { return email || phone || id_number || organisation; }
  /// Sets u's fields that are set here.
  void apply(User& u) const {
    if (email) u.email = *email;
    if (phone) u.phone = *phone;
    if (id_number) u.id_number = *id_number;
    if (organisation) u.organisation = *organisation;
  }
};

/// A change of a unit's, lab's or user's name or place: fields left empty keep their value.
struct PlacePatch {
  std::optional<std::string> name;
  std::optional<std::string> place;  ///< unit: parent ("" = root); lab: unit; user: unit ("" = none)
  std::optional<UserCategory> category;  ///< users only
  PersonalPatch personal{};              ///< users only
};

/// A change of a research group: fields left empty keep their value.
struct GroupPatch {
  std::optional<std::string> name;
  std::optional<std::string> pi;    ///< a new PI becomes a member (and stays one)
  std::optional<std::string> unit;  ///< "" = none
};

/// One move in the organisation tree, kept for ever: statistics attribute what happened before
/// the move to where the thing was then.
struct Move {
  std::string entity;  ///< "unit" (parent), "lab" (unit), "instrument" (lab), "user" (unit)
  std::string id;
  std::string from;    ///< "" = none / root
  std::string to;
  int64_t at_ms = 0;
};

/// A research group (课题组): its PI answers for it and its money; a user may belong to several.
struct Group {
  std::string id;
  std::string name;
  std::string pi;    ///< the PI's user id (a member from the start)
  std::string unit;  ///< "" = none
  std::optional<int64_t> retired_ms{};  ///< retired (DELETE): kept, takes no new members
};

/// One membership of a user in a group.
struct GroupMember {
  std::string group;
  std::string user;
  int64_t since_ms = 0;
};

struct Card {
  std::string uid;  ///< canonical (CardUid::str(): validated and upper-cased where it entered)
  std::string user;
  bool active = true;
  CardStatus status = CardStatus::active;
  std::optional<int64_t> valid_until_ms{};  ///< a temporary card opens nothing from then on
  std::optional<int64_t> ended_ms{};        ///< when it was reported lost, revoked or replaced
};

}  // namespace lg::server
