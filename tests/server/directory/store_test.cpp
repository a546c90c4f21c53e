#include <doctest/doctest.h>

#include <array>

#include "server/booking/pg_store.hpp"
#include "server/booking/sqlite_store.hpp"
#include "server/core/legacy_schema.hpp"
#include "server/core/pg_db.hpp"
#include "server/core/sqlite_db.hpp"
#include "server/directory/pg_store.hpp"
#include "server/directory/sqlite_store.hpp"
#include "server/qualification/pg_store.hpp"
#include "server/qualification/sqlite_store.hpp"
#include "tests/server/test_support.hpp"

using namespace lg;
using namespace lg::server;
using namespace lg::server::test;

TEST_CASE("each area's migrations are recorded by area and re-opening does not re-apply them") {
  TempDir dir;
  {
    auto store = open_store(dir);
    auto areas = store->scalar("SELECT count(*) FROM schema_migrations");
    REQUIRE(areas);
    CHECK(*areas == 14);  // directory, qualification, booking, terminals, usage, billing, audit, identity, notify,
                          // orders, training, conduct, ledger, settlement
    // + lifecycles, groups, moves, retired, five categories and personal data
    CHECK(*store->scalar("SELECT version FROM schema_migrations WHERE area = 'directory'") == 6);
    seed(*store);
  }
  auto again = open_store(dir);
  CHECK(again->users({})->size() == 4);
}

TEST_CASE("a card has one active owner") {
  TempDir dir;
  auto store = open_store(dir);
  seed(*store);
  auto st = store->add_card(Card{"04AA", "bob", true}, 0);
  REQUIRE_FALSE(st);
  CHECK(is(st.error(), Errc::conflict));
  CHECK(st.error().reason.find("alice") != std::string::npos);
  auto cards = store->cards({});
  REQUIRE(cards);
  CHECK(cards->size() == 3);
}

TEST_CASE("creates with unknown references or duplicate ids change nothing") {
  TempDir dir;
  auto store = open_store(dir);
  seed(*store);
  auto lab = store->add_lab(Lab{"l2", "Lab 2", "no-unit"}, 0);
  REQUIRE_FALSE(lab);
  CHECK(is(lab.error(), Errc::unknown_reference));
  CHECK(lab.error().reason.find("unit") == 0);
  CHECK(store->labs({})->size() == 1);

  auto dup = store->add_user(User{"alice", "Alice 2", UserCategory::external_academic, "", false}, 0);
  REQUIRE_FALSE(dup);
  CHECK(is(dup.error(), Errc::conflict));
  auto users = store->users({});
  REQUIRE(users);
  CHECK(users->front().name == "Alice");

  auto term = store->add_terminal(terminal("t1", "nope", "x"), 0);
  REQUIRE_FALSE(term);
  CHECK(term.error().reason.find("resource") == 0);
  CHECK(store->terminals()->empty());
}

TEST_CASE("fee standard and qualification are replaced not duplicated") {
  TempDir dir;
  auto store = open_store(dir);
  seed(*store);
  REQUIRE(store->put_fee_standard(FeeStandard{"inst-xrd", 1, 2, "CNY"}, 0));
  auto fees = store->fee_standards({});
  REQUIRE(fees->size() == 1);
  CHECK(fees->front().internal_fen_per_hour == 1);
  REQUIRE(store->put_qualification(Qualification{"alice", "inst-xrd", 0, std::nullopt}, 0));
  REQUIRE(store->put_qualification(Qualification{"alice", "inst-xrd", 5, 10}, 0));
  auto q = store->qualifications({});
  REQUIRE(q->size() == 1);
  CHECK(q->front().valid_until_ms == 10);
}

TEST_CASE("an instrument's access policy is stored, listed and changed field by field") {
  TempDir dir;
  auto store = open_store(dir);
  seed(*store);
  Instrument tem{"inst-tem", "TEM", "l", InstrumentKind::instrument, "", true};
  tem.early_start_s = 0;
  tem.grace_after_end_s = 2;
  tem.offline_grace_s = 3600;
  tem.max_session_s = 14400;
  REQUIRE(store->add_instrument(tem, 0));
  auto all = store->instruments({});
  REQUIRE(all);
  REQUIRE(all->size() == 3);
  const Instrument& got = (*all)[1];
  REQUIRE(got.id == "inst-tem");
  CHECK(got.require_booking);
  CHECK(got.early_start_s == 0);
  CHECK(got.grace_after_end_s == 2);
  CHECK(got.offline_grace_s == 3600);
  CHECK(got.max_session_s == 14400);
  const Instrument& door = (*all)[0];
  CHECK(door.early_start_s == 900);  // defaults
  CHECK(door.grace_after_end_s == 300);
  CHECK(door.offline_grace_s == 86400);
  CHECK(door.max_session_s == 0);

  InstrumentPolicyPatch p;
  p.require_booking = false;
  p.offline_grace_s = 2;
  auto changed = store->update_instrument_policy("inst-tem", p, 5);
  REQUIRE(changed);
  CHECK_FALSE(changed->require_booking);
  CHECK(changed->offline_grace_s == 2);
  CHECK(changed->early_start_s == 0);  // untouched
  CHECK(changed->grace_after_end_s == 2);
  CHECK(changed->max_session_s == 14400);
  CHECK(store->instruments({})->rows.at(1).offline_grace_s == 2);

  auto missing = store->update_instrument_policy("nope", p, 5);
  REQUIRE_FALSE(missing);
  CHECK(is(missing.error(), Errc::not_found));
  CHECK(missing.error().reason.find("nope") != std::string::npos);
}

TEST_CASE("a database of the old single-list schema (version 1) is brought up and adopted by the areas") {
  if (on_postgres()) return;  // the single-list schema was only ever on SQLite
  TempDir dir;
  {
    // a database as the first release left it: only migration 1
    db::Options opts;
    opts.foreign_keys = true;
    auto d = db::Database::open(dir.db(), opts);
    REQUIRE(d);
    REQUIRE(db::migrate(*d, legacy::migrations().first(1)));
    REQUIRE(d->exec("INSERT INTO units(id, name, created_ms) VALUES ('u', 'U', 0);"
                    "INSERT INTO labs(id, name, unit, created_ms) VALUES ('l', 'L', 'u', 0);"
                    "INSERT INTO instruments(id, name, lab, kind, require_booking, created_ms) "
                    "VALUES ('old', 'Old', 'l', 'instrument', 1, 0);"));
  }
  auto store = open_store(dir);
  CHECK(*db::schema_version(store->database()) == static_cast<int64_t>(legacy::migrations().size()));
  CHECK(**store->database().query_int("SELECT count(*) FROM schema_migrations") == 14);
  auto all = store->instruments({});
  REQUIRE(all);
  REQUIRE(all->size() == 1);
  CHECK(all->front().require_booking);
  CHECK(all->front().early_start_s == 900);
  CHECK(all->front().grace_after_end_s == 300);
  CHECK(all->front().offline_grace_s == 86400);
  CHECK(all->front().max_session_s == 0);
  // negative durations cannot be stored even bypassing the API
  CHECK_FALSE(store->database().exec("UPDATE instruments SET grace_after_end_s = -1"));
}

namespace {

/// Brings dir's database (on the backend under test) to directory migration 5, with the
/// qualification and booking areas, which refer to users; the rest comes when it is opened.
void migrate_to_directory_5(const TempDir& dir) {
  if (on_postgres()) {
    auto c = pg::Conn::connect(pg::ConnectOptions{pg_conninfo(), dir.schema(), "labgate-test"});
    REQUIRE(c);
    const std::array<AreaSchema, 3> areas{{{"directory", directory::pg_migrations().first(5)},
                                           {"qualification", qualification::pg_migrations()},
                                           {"booking", booking::pg_migrations()}}};
    REQUIRE(migrate_areas(**c, areas));
  } else {
    db::Options opts;
    opts.foreign_keys = true;
    auto d = db::Database::open(dir.db(), opts);
    REQUIRE(d);
    const std::array<AreaSchema, 3> areas{{{"directory", directory::migrations().first(5)},
                                           {"qualification", qualification::migrations()},
                                           {"booking", booking::migrations()}}};
    REQUIRE(migrate_areas(*d, areas));
  }
}

/// Runs sql on dir's database outside any store.
void exec_raw(const TempDir& dir, const std::string& sql) {
  if (on_postgres()) {
    auto c = pg::Conn::connect(pg::ConnectOptions{pg_conninfo(), dir.schema(), "labgate-test"});
    REQUIRE(c);
    REQUIRE((*c)->script(sql));
  } else {
    db::Options opts;
    opts.foreign_keys = true;
    auto d = db::Database::open(dir.db(), opts);
    REQUIRE(d);
    REQUIRE(d->exec(sql));
  }
}

}  // namespace

TEST_CASE("directory migration 6 keeps every user and what refers to them, mapping internal and external") {
  TempDir dir;
  migrate_to_directory_5(dir);
  const std::string owner = on_postgres() ? "user_id" : "user";  // "user" is reserved on PostgreSQL
  exec_raw(dir,
           "INSERT INTO units(id, name, created_ms) VALUES ('u', 'U', 0);"
           "INSERT INTO labs(id, name, unit, created_ms) VALUES ('l', 'L', 'u', 0);"
           "INSERT INTO instruments(id, name, lab, kind, created_ms) VALUES ('i', 'I', 'l', 'instrument', 0);"
           "INSERT INTO users(id, name, category, unit, created_ms, status, status_reason, status_ms) VALUES "
           "('alice', 'Alice', 'internal', 'u', 1, 'suspended', 'unpaid', 7), "
           "('bob', 'Bob', 'external', NULL, 2, 'active', '', NULL);"
           "INSERT INTO cards(uid, " +
               owner +
               ", created_ms) VALUES ('04AA', 'alice', 3), ('04BB', 'bob', 3);"
               "INSERT INTO research_groups(id, name, pi, created_ms) VALUES ('g', 'G', 'alice', 4);"
               "INSERT INTO group_members(group_id, user_id, since_ms) VALUES ('g', 'alice', 4), ('g', 'bob', 5);"
               "INSERT INTO qualifications(" +
               owner +
               ", instrument, updated_ms) VALUES ('bob', 'i', 6);"
               "INSERT INTO bookings(id, instrument, " +
               owner +
               ", start_ms, end_ms, created_ms) "
               "VALUES ('b1', 'i', 'alice', 10, 20, 6);");
  auto store = open_store(dir);
  CHECK(*store->scalar("SELECT version FROM schema_migrations WHERE area = 'directory'") == 6);
  auto users = store->users({});
  REQUIRE(users);
  REQUIRE(users->size() == 2);
  const User& alice = users->rows[0];
  CHECK(alice.category == UserCategory::internal_staff);
  CHECK(alice.unit == "u");
  CHECK(alice.status == UserStatus::suspended);
  CHECK(alice.status_reason == "unpaid");
  CHECK(alice.email.empty());
  CHECK(alice.organisation.empty());
  CHECK(users->rows[1].category == UserCategory::external_academic);
  CHECK(*store->scalar("SELECT status_ms FROM users WHERE id = 'alice'") == 7);
  CHECK(*store->scalar("SELECT created_ms FROM users WHERE id = 'bob'") == 2);
  CHECK(store->cards({})->size() == 2);
  CHECK(*store->scalar("SELECT count(*) FROM group_members") == 2);
  CHECK(*store->scalar("SELECT count(*) FROM qualifications") == 1);
  CHECK(*store->scalar("SELECT count(*) FROM bookings") == 1);
  if (!on_postgres()) {
    CHECK(*store->scalar("SELECT count(*) FROM pragma_foreign_key_check") == 0);
    CHECK(*store->scalar("SELECT count(*) FROM sqlite_master WHERE name = 'users_before_v6'") == 0);
  }
  // The references still hold in both directions, and the new constraint refuses an old name.
  CHECK_FALSE(store->exec("INSERT INTO cards(uid, " + owner + ", created_ms) VALUES ('04CC', 'nobody', 0)"));
  CHECK_FALSE(
      store->exec("INSERT INTO users(id, name, category, unit, created_ms) VALUES ('x', 'X', 'enterprise', "
                  "'nowhere', 0)"));
  CHECK_FALSE(store->exec("INSERT INTO users(id, name, category, created_ms) VALUES ('x', 'X', 'internal', 0)"));
  CHECK(store->exec("INSERT INTO users(id, name, category, created_ms) VALUES ('x', 'X', 'enterprise', 0)"));
  CHECK_FALSE(store->exec("DELETE FROM users WHERE id = 'bob'"));  // bob still has a card
  // Opening again applies nothing more.
  store.reset();
  auto again = open_store(dir);
  CHECK(again->users({})->size() == 3);
}

TEST_CASE("a user's personal fields are stored, changed one by one and kept or set by an import") {
  TempDir dir;
  auto store = open_store(dir);
  seed(*store);
  directory::Store& d = store->stores().directory;
  User zhou{"zhou", "周敏", UserCategory::enterprise, "u", false};
  zhou.email = "zhou.min@example.com";
  zhou.phone = "+86 138 0000 0000";
  zhou.id_number = "E12345678";
  zhou.organisation = "中国石化北京化工研究院";
  zhou.status = UserStatus::pending;
  zhou.status_reason = "self-registered";
  REQUIRE(d.add_user(zhou, 1));
  auto got = d.user("zhou");
  REQUIRE(got);
  REQUIRE(*got);
  CHECK((*got)->category == UserCategory::enterprise);
  CHECK((*got)->email == "zhou.min@example.com");
  CHECK((*got)->phone == "+86 138 0000 0000");
  CHECK((*got)->id_number == "E12345678");
  CHECK((*got)->organisation == "中国石化北京化工研究院");
  CHECK((*got)->status == UserStatus::pending);  // add_user stores the status it is given
  CHECK((*got)->status_reason == "self-registered");

  PlacePatch p;
  p.personal.phone = "";               // cleared
  p.personal.email = "zm@example.cn";  // changed; id_number and organisation kept
  auto changed = d.update_user("zhou", p, 2);
  REQUIRE(changed);
  CHECK(changed->phone.empty());
  CHECK(changed->email == "zm@example.cn");
  CHECK(changed->id_number == "E12345678");
  auto listed = d.users({});
  REQUIRE(listed);
  bool seen = false;
  for (const auto& u : listed->rows) {
    if (u.id != "zhou") continue;
    seen = true;
    CHECK(u.email == "zm@example.cn");
    CHECK(u.organisation == "中国石化北京化工研究院");
  }
  CHECK(seen);

  User row = **d.user("zhou");
  CHECK(*d.upsert_user(row, 3) == directory::Change::unchanged);
  row.id_number = "E7654321";
  CHECK(*d.upsert_user(row, 3) == directory::Change::updated);
  CHECK((*d.user("zhou"))->id_number == "E7654321");
  User fresh{"wu", "Wu", UserCategory::other_campus, "", false};
  fresh.email = "wu@pku.edu.cn";
  CHECK(*d.upsert_user(fresh, 3) == directory::Change::created);
  CHECK((*d.user("wu"))->email == "wu@pku.edu.cn");
  CHECK((*d.user("wu"))->category == UserCategory::other_campus);
}

TEST_CASE("a group is renamed, moved and given a new PI, who becomes a member") {
  TempDir dir;
  auto store = open_store(dir);
  seed(*store);
  directory::Store& d = store->stores().directory;
  REQUIRE(d.add_group(Group{"g", "Li group", "alice", "u"}, 1));
  REQUIRE(d.add_member("g", "bob", 2));
  GroupPatch p;
  p.name = "Li & Wang group";
  p.pi = "carol";
  p.unit = "";
  auto g = d.update_group("g", p, 3);
  REQUIRE(g);
  CHECK(g->name == "Li & Wang group");
  CHECK(g->pi == "carol");
  CHECK(g->unit.empty());
  auto stored = d.group("g");
  REQUIRE(stored);
  REQUIRE(*stored);
  CHECK((*stored)->pi == "carol");
  CHECK((*stored)->unit.empty());
  auto members = d.members("g");
  REQUIRE(members);
  REQUIRE(members->size() == 3);  // alice stays a member, carol joined
  CHECK((*members)[2].user == "carol");
  CHECK((*members)[2].since_ms == 3);
  // A PI who is a member already stays one, once.
  GroupPatch back;
  back.pi = "bob";
  REQUIRE(d.update_group("g", back, 4));
  CHECK(d.members("g")->size() == 3);

  GroupPatch bad;
  bad.pi = "nobody";
  auto r = d.update_group("g", bad, 5);
  REQUIRE_FALSE(r);
  CHECK(is(r.error(), Errc::unknown_reference));
  bad = GroupPatch{};
  bad.unit = "nowhere";
  r = d.update_group("g", bad, 5);
  REQUIRE_FALSE(r);
  CHECK(is(r.error(), Errc::unknown_reference));
  r = d.update_group("nope", GroupPatch{}, 5);
  REQUIRE_FALSE(r);
  CHECK(is(r.error(), Errc::not_found));
  CHECK((*d.group("g"))->pi == "bob");

  REQUIRE(d.retire("group", "g", 6));
  GroupPatch rename;
  rename.name = "Old Li group";
  CHECK(d.update_group("g", rename, 7));  // a retired group may be renamed...
  GroupPatch new_pi;
  new_pi.pi = "root";
  r = d.update_group("g", new_pi, 7);  // ...but takes no new member
  REQUIRE_FALSE(r);
  CHECK(is(r.error(), Errc::conflict));
  CHECK(d.members("g")->size() == 3);
  CHECK((*d.group("g"))->retired_ms == 6);
  CHECK_FALSE(*d.group("nope"));
}

TEST_CASE("a temporary card's end date is set and cleared on the active row only") {
  TempDir dir;
  auto store = open_store(dir);
  seed(*store);
  directory::Store& d = store->stores().directory;
  auto c = d.set_card_valid_until("04AA", 1'800'000'000'000);
  REQUIRE(c);
  CHECK(c->uid == "04AA");
  CHECK(c->user == "alice");
  CHECK(c->active);
  CHECK(c->valid_until_ms == 1'800'000'000'000);
  CHECK((*d.last_card("04AA"))->valid_until_ms == 1'800'000'000'000);
  c = d.set_card_valid_until("04AA", std::nullopt);
  REQUIRE(c);
  CHECK_FALSE(c->valid_until_ms);
  CHECK_FALSE((*d.last_card("04AA"))->valid_until_ms);

  REQUIRE(d.end_card("04BB", CardStatus::lost, 5));
  auto none = d.set_card_valid_until("04BB", 1'800'000'000'000);
  REQUIRE_FALSE(none);
  CHECK(is(none.error(), Errc::not_found));
  CHECK_FALSE((*d.last_card("04BB"))->valid_until_ms);  // the ended row is history: untouched
  none = d.set_card_valid_until("0BAD", std::nullopt);
  REQUIRE_FALSE(none);
  CHECK(is(none.error(), Errc::not_found));
}

TEST_CASE("one unit, lab or group by id, with its retirement") {
  TempDir dir;
  auto store = open_store(dir);
  seed(*store);
  directory::Store& d = store->stores().directory;
  auto u = d.unit("u");
  REQUIRE(u);
  REQUIRE(*u);
  CHECK((*u)->name == "Physics");
  CHECK((*u)->parent.empty());
  CHECK_FALSE((*u)->retired_ms);
  REQUIRE(d.add_lab(Lab{"l2", "Spare lab", "u"}, 1));
  REQUIRE(d.retire("lab", "l2", 9));
  auto l = d.lab("l2");
  REQUIRE(l);
  REQUIRE(*l);
  CHECK((*l)->unit == "u");
  CHECK((*l)->retired_ms == 9);
  CHECK_FALSE(*d.unit("nope"));
  CHECK_FALSE(*d.lab("nope"));
  PlacePatch rename;
  rename.name = "Spare lab (old)";
  auto renamed = d.update_lab("l2", rename, 10);
  REQUIRE(renamed);
  CHECK(renamed->retired_ms == 9);  // what an update returns is the whole row
}
