// Rights as pure rules: what each role gives, where a grant reaches, what a refused caller is
// told, who may grant what, the sign-in throttle and the shape of tokens.
#include <doctest/doctest.h>

#include "server/identity/rules.hpp"

using namespace lg::server::identity;

namespace {

Principal with(std::vector<Grant> grants, std::string user = "me") {
  Principal p;
  p.kind = CallerKind::session;
  p.user = std::move(user);
  p.grants = std::move(grants);
  return p;
}

Grant grant(Role r, std::string scope_id, std::string user = "me") {
  return Grant{"", std::move(user), r, scope_of(r), std::move(scope_id), "", 0, std::nullopt};
}

const Place kChemUser{{"chem-dept", "chem"}, "", {"g-c"}, "stu-c", false};
const Place kPhysUser{{"phys"}, "", {}, "stu-p", false};
const Place kChemInstrument{{"chem-dept", "chem"}, "inst-c", {}, "", true};

}  // namespace

TEST_CASE("a unit admin's rights reach their subtree and nothing beside it") {
  const Principal admin = with({grant(Role::user, ""), grant(Role::unit_admin, "chem")});
  CHECK(allows(admin, Right::people_write, kChemUser));
  CHECK(allows(admin, Right::instrument_write, kChemInstrument));
  CHECK_FALSE(allows(admin, Right::people_write, kPhysUser));
  CHECK_FALSE(allows(admin, Right::people_read, kPhysUser));
  CHECK_FALSE(allows(admin, Right::site, Place{}));
  CHECK_FALSE(allows(admin, Right::money_write, kChemInstrument));  // finance's, not theirs
  // Out of scope: a user of another unit does not exist for them; an instrument is public.
  CHECK(refusal_status(admin, Right::people_write, kPhysUser) == 404);
  CHECK(refusal_status(admin, Right::instrument_write, Place{{"phys"}, "inst-p", {}, "", true}) == 403);
}

TEST_CASE("a user sees their own records, a PI their group's, an instrument admin their instrument") {
  const Principal stu = with({grant(Role::user, "", "stu-c")}, "stu-c");
  CHECK(allows(stu, Right::usage_read, kChemUser));
  CHECK(allows(stu, Right::booking_write, kChemUser));
  CHECK_FALSE(allows(stu, Right::usage_read, kPhysUser));
  CHECK_FALSE(allows(stu, Right::people_write, kChemUser));
  CHECK(refusal_status(stu, Right::people_write, kChemUser) == 403);  // they know themselves
  const Principal pi = with({grant(Role::user, "", "pi-c"), grant(Role::pi, "g-c", "pi-c")}, "pi-c");
  CHECK(allows(pi, Right::usage_read, kChemUser));
  CHECK(allows(pi, Right::money_read, kChemUser));
  CHECK_FALSE(allows(pi, Right::money_read, kPhysUser));
  const Principal ia = with({grant(Role::instrument_admin, "inst-c")});
  CHECK(allows(ia, Right::instrument_write, kChemInstrument));
  CHECK_FALSE(allows(ia, Right::instrument_write, Place{{"chem-dept", "chem"}, "inst-c2", {}, "", true}));
  CHECK_FALSE(allows(ia, Right::people_read, kChemUser));
  // Everyone reads the catalogue.
  CHECK(allows(Principal{}, Right::catalogue, kChemInstrument));
  CHECK(holds(Principal{}, Right::catalogue));
  CHECK_FALSE(holds(Principal{}, Right::self));
}

TEST_CASE("a pending user holds nothing, a personal token only the rights it lists") {
  Principal pending = with({grant(Role::user, "")});
  pending.pending = true;
  CHECK_FALSE(allows(pending, Right::self, Place{{}, "", {}, "me", false}));
  CHECK(allows(pending, Right::catalogue, kChemInstrument));
  Principal token = with({grant(Role::unit_admin, "chem")});
  token.kind = CallerKind::personal;
  token.token_rights = {Right::usage_read};
  CHECK(allows(token, Right::usage_read, kChemUser));
  CHECK_FALSE(allows(token, Right::people_write, kChemUser));
  CHECK_FALSE(holds(token, Right::people_write));
}

TEST_CASE("roles are granted only within the granter's scope, and site-wide ones by a system admin") {
  const Principal chem_admin = with({grant(Role::unit_admin, "chem")});
  const Place chem_dept{{"chem-dept", "chem"}, "", {}, "", true};
  CHECK(grant_refusal(chem_admin, grant(Role::unit_admin, "chem-dept", "x"), chem_dept).empty());
  CHECK(grant_refusal(chem_admin, grant(Role::instrument_admin, "inst-c", "x"), kChemInstrument).empty());
  CHECK_FALSE(grant_refusal(chem_admin, grant(Role::unit_admin, "phys", "x"), Place{{"phys"}, "", {}, "", true}).empty());
  CHECK_FALSE(grant_refusal(chem_admin, grant(Role::system_admin, "", "x"), Place{}).empty());
  Grant wrong_scope = grant(Role::finance, "inst-c", "x");
  wrong_scope.scope = ScopeKind::instrument;
  CHECK(grant_refusal(chem_admin, wrong_scope, kChemInstrument).find("unit scope") != std::string::npos);
  const Principal root = with({grant(Role::system_admin, "")});
  CHECK(grant_refusal(root, grant(Role::system_admin, "", "x"), Place{}).empty());
}

TEST_CASE("failed sign-ins lock an account after five, for longer each time, and the window resets") {
  const ThrottleLimits l = account_limits();
  Throttle t{"account:a", 0, 0, 0};
  const int64_t t0 = 1'000'000;
  for (int i = 0; i < 4; ++i) t = after_failure(t, t0 + i, l);
  CHECK_FALSE(retry_after_s(t, t0 + 10));
  t = after_failure(t, t0 + 5, l);
  REQUIRE(retry_after_s(t, t0 + 5));
  CHECK(*retry_after_s(t, t0 + 5) == 60);
  t = after_failure(t, t0 + 6, l);
  CHECK(*retry_after_s(t, t0 + 6) == 120);
  CHECK_FALSE(retry_after_s(t, t0 + 6 + 120'000));
  // Long after, a failure starts a new window.
  t = after_failure(t, t0 + 3'600'000, l);
  CHECK(t.failures == 1);
  CHECK(address_limits().max_failures > l.max_failures);
}

TEST_CASE("token shape, right names and refusals") {
  CHECK(token_shaped("lgs_" + std::string(43, 'a')));
  CHECK(token_shaped("lgp_" + std::string(42, '-') + "_"));
  CHECK_FALSE(token_shaped("lgx_" + std::string(43, 'a')));
  CHECK_FALSE(token_shaped("lgs_" + std::string(42, 'a')));
  CHECK_FALSE(token_shaped("lgs_" + std::string(42, 'a') + "="));
  std::string bad;
  auto r = rights_from("usage_read, self,usage_read", bad);
  REQUIRE(r);
  CHECK(*r == std::vector<Right>{Right::usage_read, Right::self});
  CHECK(rights_csv(*r) == "usage_read,self");
  CHECK_FALSE(rights_from("usage_read,root", bad));
  CHECK(bad == "root");
  Token t;
  t.expires_ms = 100;
  CHECK(token_refusal(t, 99).empty());
  CHECK(token_refusal(t, 100) == "expired");
  t.revoked_ms = 50;
  CHECK(token_refusal(t, 60) == "revoked");
  for (Right x : all_rights()) CHECK(right_from(to_string(x)) == x);
  for (Role x : {Role::system_admin, Role::unit_admin, Role::instrument_admin, Role::finance, Role::pi, Role::user,
                 Role::fee_committee})
    CHECK(role_from(to_string(x)) == x);
}

TEST_CASE("a campus directory's category words map to user categories") {
  CHECK(campus_category("student") == "internal_student");
  CHECK(campus_category("PhD") == "internal_student");
  CHECK(campus_category("Faculty") == "internal_staff");
  CHECK(campus_category("enterprise") == "enterprise");
  CHECK(campus_category("alumni").empty());
  CHECK(campus_category("").empty());
}
