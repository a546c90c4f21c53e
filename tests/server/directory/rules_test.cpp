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
  stored.category = UserCategory::external_academic;
  CHECK(compare(std::optional<User>{stored}, row) == Change::updated);
  stored.category = row.category;
  stored.email = "zhang.wei@example.edu.cn";  // personal fields are imported fields too
  CHECK(compare(std::optional<User>{stored}, row) == Change::updated);
  row.email = stored.email;
  CHECK(compare(std::optional<User>{stored}, row) == Change::unchanged);
  for (auto field : {&User::phone, &User::id_number, &User::organisation}) {
    User other = stored;
    other.*field = "x1";
    CHECK(compare(std::optional<User>{other}, row) == Change::updated);
  }
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

TEST_CASE("five user categories: names round trip, the old two are still read, students and staff are internal") {
  using C = UserCategory;
  const C all[] = {C::internal_student, C::internal_staff, C::other_campus, C::external_academic, C::enterprise};
  const char* names[] = {"internal_student", "internal_staff", "other_campus", "external_academic", "enterprise"};
  for (int i = 0; i < 5; ++i) {
    CHECK(std::string(to_string(all[i])) == names[i]);
    CHECK(category_from(names[i]) == all[i]);
    CHECK(std::string(category_names()).find(names[i]) != std::string::npos);
  }
  CHECK(category_from("internal") == C::internal_staff);
  CHECK(category_from("external") == C::external_academic);
  CHECK_FALSE(category_from("staff").has_value());
  CHECK_FALSE(category_from("").has_value());
  CHECK_FALSE(category_from("Internal").has_value());
  CHECK(is_internal(C::internal_student));
  CHECK(is_internal(C::internal_staff));
  CHECK_FALSE(is_internal(C::other_campus));
  CHECK_FALSE(is_internal(C::external_academic));
  CHECK_FALSE(is_internal(C::enterprise));
}

TEST_CASE("personal fields: email, phone, id_number and organisation are checked, empty is none") {
  for (const char* f : {"email", "phone", "id_number", "organisation"}) CHECK(personal_field_problem(f, "") == "");
  CHECK(personal_field_problem("email", "zhou.min@example.com") == "");
  CHECK(personal_field_problem("email", "李伟@化学.cn") == "");  // internationalised addresses pass
  CHECK(personal_field_problem("email", "no-at-sign") == "must contain one '@'");
  CHECK(personal_field_problem("email", "a@b@c") == "must contain one '@'");
  CHECK(personal_field_problem("email", "a b@c") == "must not contain spaces or control characters");
  CHECK(personal_field_problem("email", "a@b\n") == "must not contain spaces or control characters");
  CHECK(personal_field_problem("email", std::string("a@b\x01", 4)) == "must not contain spaces or control characters");
  CHECK(personal_field_problem("email", std::string(250, 'a') + "@b.cn") == "longer than 254 characters");
  CHECK(personal_field_problem("phone", "+86 138-0000-0000") == "");
  CHECK(personal_field_problem("phone", "010 6275 1234") == "");
  CHECK(personal_field_problem("phone", "138 0000 0000 ext 5") == "must be digits, '+', '-' and spaces");
  CHECK(personal_field_problem("phone", "+-") == "must contain a digit");
  CHECK(personal_field_problem("phone", std::string(32, '1')) == "");
  CHECK(personal_field_problem("phone", std::string(33, '1')) == "longer than 32 characters");
  CHECK(personal_field_problem("id_number", "11010519491231002X") == "");
  CHECK(personal_field_problem("id_number", "E12345678 (passport)") == "");
  CHECK(personal_field_problem("id_number", std::string(64, '9')) == "");
  CHECK(personal_field_problem("id_number", std::string(65, '9')) == "longer than 64 characters");
  CHECK(personal_field_problem("id_number", "身份证") == "must be printable ASCII characters");
  CHECK(personal_field_problem("id_number", "A\tB") == "must be printable ASCII characters");
  CHECK(personal_field_problem("organisation", "中国石化北京化工研究院") == "");
  CHECK(personal_field_problem("organisation", "ACME\nERROR forged") == "must not contain control characters");
  CHECK(personal_field_problem("organisation", std::string(257, 'x')) == "longer than 256 characters");
  CHECK(personal_field_problem("colour", "red") == "unknown field");
}
