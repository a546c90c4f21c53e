// The directory's rules (server/directory/rules.hpp): plain values, no database.
#include <doctest/doctest.h>

#include "server/directory/rules.hpp"

using namespace lg::server;
using namespace lg::server::directory;

TEST_CASE("user lifecycle: pending -> active|left, active <-> suspended, anything -> left, left is final") {
  using S = UserStatus;
  const S all[] = {S::pending, S::active, S::suspended, S::left};
  auto allowed = [](S from, S to) { return status_change_allowed(from, to); };
  CHECK(allowed(S::pending, S::active));   // approved
  CHECK(allowed(S::pending, S::left));     // refused
  CHECK_FALSE(allowed(S::pending, S::suspended));
  CHECK(allowed(S::active, S::suspended));
  CHECK(allowed(S::active, S::left));
  CHECK_FALSE(allowed(S::active, S::pending));
  CHECK(allowed(S::suspended, S::active));
  CHECK(allowed(S::suspended, S::left));
  for (S s : all) {
    CHECK_FALSE(allowed(s, s));            // the same status again is not a change
    CHECK_FALSE(allowed(S::left, s));      // nobody comes back from left
  }
  CHECK(status_change_refusal(S::left, S::active) == "status: a user cannot go from left to active");
  CHECK(status_change_refusal(S::active, S::active) == "status: the user is already active");
}

TEST_CASE("a card ends as lost, revoked or replaced, never as active") {
  CHECK(is_end_status(CardStatus::lost));
  CHECK(is_end_status(CardStatus::revoked));
  CHECK(is_end_status(CardStatus::replaced));
  CHECK_FALSE(is_end_status(CardStatus::active));
  for (auto s : {CardStatus::active, CardStatus::lost, CardStatus::revoked, CardStatus::replaced})
    CHECK(card_status_from(to_string(s)) == s);
  for (auto s : {UserStatus::pending, UserStatus::active, UserStatus::suspended, UserStatus::left})
    CHECK(user_status_from(to_string(s)) == s);
  CHECK_FALSE(user_status_from("gone").has_value());
}

TEST_CASE("import compare: absent is created, the imported fields decide updated or unchanged") {
  const Unit unit{"chem", "化学学院", "uni"};
  CHECK(compare(std::optional<Unit>{}, unit) == Change::created);
  CHECK(compare(std::optional<Unit>{unit}, unit) == Change::unchanged);
  CHECK(compare(std::optional<Unit>{Unit{"chem", "Chemistry", "uni"}}, unit) == Change::updated);
  CHECK(compare(std::optional<Unit>{Unit{"chem", "化学学院", ""}}, unit) == Change::updated);  // moved
  User row;
  row.id = "s1";
  row.name = "张伟";
  row.unit = "chem";
  User stored = row;
  stored.status = UserStatus::suspended;  // not an imported field: an import does not reinstate anyone
  stored.admin = true;
  CHECK(compare(std::optional<User>{}, row) == Change::created);
  CHECK(compare(std::optional<User>{stored}, row) == Change::unchanged);
  stored.category = UserCategory::external;
  CHECK(compare(std::optional<User>{stored}, row) == Change::updated);
  CHECK(std::string(to_string(Change::unchanged)) == "unchanged");
  const Group g{"g1", "Li group", "alice", "chem"};
  CHECK(compare(std::optional<Group>{}, g) == Change::created);
  CHECK(compare(std::optional<Group>{g}, g) == Change::unchanged);
  CHECK(compare(std::optional<Group>{Group{"g1", "Li group", "bob", "chem"}}, g) == Change::updated);
}

TEST_CASE("creates_cycle: a unit cannot go under itself or its descendants") {
  const std::map<std::string, std::string> parent_of{{"uni", ""}, {"chem", "uni"}, {"ana", "chem"}, {"phys", "uni"}};
  CHECK(creates_cycle(parent_of, "chem", "chem"));
  CHECK(creates_cycle(parent_of, "chem", "ana"));
  CHECK(creates_cycle(parent_of, "uni", "ana"));
  CHECK_FALSE(creates_cycle(parent_of, "ana", "phys"));
  CHECK_FALSE(creates_cycle(parent_of, "chem", ""));  // to the root
  const std::map<std::string, std::string> looped{{"a", "b"}, {"b", "a"}, {"c", ""}};
  CHECK(creates_cycle(looped, "c", "a"));  // a loop already stored is refused, not walked for ever
}
