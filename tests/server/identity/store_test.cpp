// The identity store contract, on both backends (open_store): places of every kind of object in
// the tree, grants (explicit and implied), tokens, throttle counters and registrations.
#include <doctest/doctest.h>

#include "server/identity/auth.hpp"
#include "server/identity/rules.hpp"
#include "tests/server/test_support.hpp"

using namespace lg;
using namespace lg::server;
using namespace lg::server::test;
using identity::Kind;

namespace {

/// 化学院 (chem) > 化学系 (chem-dept) > lab-c > inst-c; 物理系 (phys) > lab-p > inst-p; users in each;
/// a group in chem-dept led by pi-c with member stu-c.
void seed_tree(TestStore& s, int64_t now) {
  REQUIRE(s.add_unit(Unit{"chem", "化学院", ""}, now));
  REQUIRE(s.add_unit(Unit{"chem-dept", "化学系", "chem"}, now));
  REQUIRE(s.add_unit(Unit{"phys", "物理系", ""}, now));
  REQUIRE(s.add_lab(Lab{"lab-c", "Lab C", "chem-dept"}, now));
  REQUIRE(s.add_lab(Lab{"lab-p", "Lab P", "phys"}, now));
  Instrument ic;
  ic.id = "inst-c";
  ic.name = "NMR";
  ic.lab = "lab-c";
  REQUIRE(s.add_instrument(ic, now));
  Instrument ip = ic;
  ip.id = "inst-p";
  ip.lab = "lab-p";
  REQUIRE(s.add_instrument(ip, now));
  User u;
  u.name = "x";
  for (auto [id, unit] : {std::pair{"pi-c", "chem-dept"}, {"stu-c", "chem-dept"}, {"stu-p", "phys"}, {"nobody", ""}}) {
    u.id = id;
    u.unit = unit;
    REQUIRE(s.add_user(u, now));
  }
  REQUIRE(s.stores().directory.add_group(Group{"g-c", "Group C", "pi-c", "chem-dept"}, now));
  REQUIRE(s.stores().directory.add_member("g-c", "stu-c", now));
  REQUIRE(s.add_card(Card{"04A1B2C3", "stu-c"}, now));
}

}  // namespace

TEST_CASE("identity store places every kind of object in the tree") {
  TempDir dir;
  auto store = open_store(dir);
  const int64_t now = ms("2026-03-02T01:00:00Z");
  seed_tree(*store, now);
  auto& ids = store->stores().identity;
  auto p = ids.place(Kind::unit, "chem-dept");
  REQUIRE(p);
  REQUIRE(*p);
  CHECK((*p)->units == std::vector<std::string>{"chem-dept", "chem"});
  CHECK((*p)->is_public);
  p = ids.place(Kind::instrument, "inst-c");
  REQUIRE((p && *p));
  CHECK((*p)->units == std::vector<std::string>{"chem-dept", "chem"});
  CHECK((*p)->instrument == "inst-c");
  p = ids.place(Kind::user, "stu-c");
  REQUIRE((p && *p));
  CHECK((*p)->user == "stu-c");
  CHECK((*p)->groups == std::vector<std::string>{"g-c"});
  CHECK(!(*p)->is_public);
  p = ids.place(Kind::user, "nobody");
  REQUIRE((p && *p));
  CHECK((*p)->units.empty());
  p = ids.place(Kind::card, "04A1B2C3");
  REQUIRE((p && *p));
  CHECK((*p)->user == "stu-c");
  p = ids.place(Kind::group, "g-c");
  REQUIRE((p && *p));
  CHECK((*p)->groups == std::vector<std::string>{"g-c"});
  CHECK((*p)->units.front() == "chem-dept");
  p = ids.place(Kind::lab, "lab-p");
  REQUIRE((p && *p));
  CHECK((*p)->units == std::vector<std::string>{"phys"});
  for (Kind k : {Kind::unit, Kind::lab, Kind::instrument, Kind::user, Kind::card, Kind::group, Kind::booking,
                 Kind::terminal, Kind::registration}) {
    auto none = ids.place(k, "no-such-thing");
    REQUIRE(none);
    CHECK_FALSE(*none);
  }
  auto sub = ids.subtree("chem");
  REQUIRE(sub);
  CHECK(*sub == std::vector<std::string>{"chem", "chem-dept"});
}

TEST_CASE("identity store grants: explicit ones, the user's own and a PI's are implied, revoked ones stop") {
  TempDir dir;
  auto store = open_store(dir);
  const int64_t now = ms("2026-03-02T01:00:00Z");
  seed_tree(*store, now);
  auto& ids = store->stores().identity;
  identity::Grant g{"gr1", "stu-p", identity::Role::unit_admin, identity::ScopeKind::unit, "phys", "admin-token", now, {}};
  REQUIRE(ids.add_grant(g));
  auto dup = ids.add_grant(identity::Grant{"gr2", "stu-p", identity::Role::unit_admin, identity::ScopeKind::unit, "phys",
                                           "admin-token", now, {}});
  REQUIRE_FALSE(dup);
  CHECK(is(dup.error(), Errc::conflict));
  auto bad = ids.add_grant(identity::Grant{"gr3", "stu-p", identity::Role::unit_admin, identity::ScopeKind::unit, "nowhere",
                                           "admin-token", now, {}});
  REQUIRE_FALSE(bad);
  CHECK(is(bad.error(), Errc::unknown_reference));
  auto held = ids.grants_of("stu-p");
  REQUIRE(held);
  REQUIRE(held->size() == 2);
  CHECK((*held)[0].role == identity::Role::user);
  CHECK((*held)[1].id == "gr1");
  auto pi = ids.grants_of("pi-c");
  REQUIRE(pi);
  REQUIRE(pi->size() == 2);
  CHECK((*pi)[1].role == identity::Role::pi);
  CHECK((*pi)[1].scope_id == "g-c");
  REQUIRE(ids.revoke_grant("gr1", now + 1));
  auto again = ids.revoke_grant("gr1", now + 2);
  REQUIRE_FALSE(again);
  CHECK(is(again.error(), Errc::conflict));
  held = ids.grants_of("stu-p");
  REQUIRE(held);
  CHECK(held->size() == 1);
  // A suspended user holds nothing at all.
  REQUIRE(store->stores().directory.set_user_status("pi-c", UserStatus::suspended, "test", now + 3));
  pi = ids.grants_of("pi-c");
  REQUIRE(pi);
  CHECK(pi->empty());
  auto page = ids.grants({});
  REQUIRE(page);
  CHECK(page->size() == 1);
  CHECK(page->front().revoked_ms == now + 1);
}

TEST_CASE("identity store tokens: found by the hash of their secret, revoked one by one or all at once") {
  TempDir dir;
  auto store = open_store(dir);
  const int64_t now = ms("2026-03-02T01:00:00Z");
  seed_tree(*store, now);
  auto& ids = store->stores().identity;
  auto a = identity::issue(identity::TokenKind::session, "stu-c", "local", {}, now, 3600'000, "10.0.0.1");
  auto b = identity::issue(identity::TokenKind::personal, "stu-c", "script",
                           {identity::Right::usage_read, identity::Right::self}, now + 1, 86400'000, "10.0.0.1");
  REQUIRE(ids.add_token(a.token));
  REQUIRE(ids.add_token(b.token));
  CHECK(identity::token_shaped(a.secret));
  auto found = ids.token_by_hash(identity::secret_hash(b.secret));
  REQUIRE(found);
  REQUIRE(*found);
  CHECK((*found)->id == b.token.id);
  CHECK((*found)->rights == std::vector<identity::Right>{identity::Right::usage_read, identity::Right::self});
  auto none = ids.token_by_hash(identity::secret_hash("lgs_nothing"));
  REQUIRE(none);
  CHECK_FALSE(*none);
  auto sessions = ids.tokens_of("stu-c", identity::TokenKind::session);
  REQUIRE(sessions);
  CHECK(sessions->size() == 1);
  auto wrong_owner = ids.revoke_token("stu-p", a.token.id, now + 5);
  REQUIRE_FALSE(wrong_owner);
  CHECK(is(wrong_owner.error(), Errc::not_found));
  auto r = ids.revoke_token("stu-c", a.token.id, now + 5);
  REQUIRE(r);
  CHECK(r->revoked_ms == now + 5);
  auto n = ids.revoke_all("stu-c", now + 6);
  REQUIRE(n);
  CHECK(*n == 1);
  found = ids.token_by_hash(identity::secret_hash(b.secret));
  REQUIRE((found && *found));
  CHECK(identity::token_refusal(**found, now + 7) == "revoked");
  REQUIRE(ids.touch_token(b.token.id, now + 8));
}

TEST_CASE("identity store resolves bearer tokens to principals and refuses dead ones") {
  TempDir dir;
  auto store = open_store(dir);
  const int64_t now = ms("2026-03-02T01:00:00Z");
  seed_tree(*store, now);
  auto& ids = store->stores().identity;
  auto a = identity::issue(identity::TokenKind::session, "pi-c", "local", {}, now, 3600'000, "");
  REQUIRE(ids.add_token(a.token));
  auto c = identity::resolve(ids, "Bearer " + a.secret, "", now + 1);
  REQUIRE(c.principal);
  CHECK(c.principal->user == "pi-c");
  CHECK(c.principal->actor() == "user:pi-c");
  CHECK(identity::holds(*c.principal, identity::Right::people_read));
  CHECK(identity::resolve(ids, "Bearer " + a.secret, "", now + 3600'000).problem == "token expired");
  CHECK(identity::resolve(ids, "Bearer lgs_" + std::string(43, 'A'), "", now).problem == "wrong bearer token");
  CHECK(identity::resolve(ids, "Basic abc", "", now).problem.find("Bearer") != std::string::npos);
  CHECK_FALSE(identity::resolve(ids, "", "", now).principal);
  // The bootstrap token is a system admin only when configured.
  auto boot = identity::resolve(ids, "Bearer sekret-sekret-12", "sekret-sekret-12", now);
  REQUIRE(boot.principal);
  CHECK(boot.principal->actor() == "admin-token");
  CHECK(identity::allows(*boot.principal, identity::Right::site, identity::Place{}));
  CHECK_FALSE(identity::resolve(ids, "Bearer sekret-sekret-12", "", now).principal);
  REQUIRE(store->stores().directory.set_user_status("pi-c", UserStatus::suspended, "test", now + 2));
  CHECK(identity::resolve(ids, "Bearer " + a.secret, "", now + 3).problem == "account suspended");
}

TEST_CASE("identity store keeps throttle counters and registrations") {
  TempDir dir;
  auto store = open_store(dir);
  const int64_t now = ms("2026-03-02T01:00:00Z");
  seed_tree(*store, now);
  auto& ids = store->stores().identity;
  auto t = ids.throttle("account:stu-c");
  REQUIRE(t);
  CHECK(t->failures == 0);
  REQUIRE(ids.put_throttle(identity::after_failure(*t, now, identity::account_limits())));
  t = ids.throttle("account:stu-c");
  REQUIRE(t);
  CHECK(t->failures == 1);
  REQUIRE(ids.clear_throttle("account:stu-c"));
  CHECK(ids.throttle("account:stu-c")->failures == 0);

  User ext;
  ext.id = "ext-1";
  ext.name = "Visitor";
  ext.status = UserStatus::pending;
  REQUIRE(store->add_user(ext, now));
  REQUIRE(ids.add_registration(identity::Registration{"ext-1", "phys", now, identity::Decision::pending, "", {}, ""}));
  auto dup = ids.add_registration(identity::Registration{"ext-1", "phys", now, identity::Decision::pending, "", {}, ""});
  REQUIRE_FALSE(dup);
  CHECK(is(dup.error(), Errc::conflict));
  auto pending = ids.registrations(true, {});
  REQUIRE(pending);
  CHECK(pending->size() == 1);
  auto p = ids.place(Kind::registration, "ext-1");
  REQUIRE((p && *p));
  CHECK((*p)->units == std::vector<std::string>{"phys"});
  auto d = ids.decide("ext-1", identity::Decision::approved, "user:boss", "", now + 10);
  REQUIRE(d);
  CHECK(d->decided_ms == now + 10);
  auto twice = ids.decide("ext-1", identity::Decision::refused, "user:boss", "no", now + 11);
  REQUIRE_FALSE(twice);
  CHECK(is(twice.error(), Errc::conflict));
  CHECK(ids.registrations(true, {})->empty());
  CHECK(ids.registrations(false, {})->size() == 1);
}
