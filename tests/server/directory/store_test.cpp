#include <doctest/doctest.h>

#include "tests/server/test_support.hpp"
#include "server/core/legacy_schema.hpp"

using namespace lg;
using namespace lg::server;
using namespace lg::server::test;

TEST_CASE("each area's migrations are recorded by area and re-opening does not re-apply them") {
  TempDir dir;
  {
    auto store = open_store(dir);
    auto areas = store->scalar("SELECT count(*) FROM schema_migrations");
    REQUIRE(areas);
    CHECK(*areas == 8);  // directory, qualification, booking, terminals, usage, billing, audit, identity
    CHECK(*store->scalar("SELECT version FROM schema_migrations WHERE area = 'directory'") == 5);  // + lifecycles, groups, moves, retired
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

  auto dup = store->add_user(User{"alice", "Alice 2", UserCategory::external, "", false}, 0);
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
  CHECK(**store->database().query_int("SELECT count(*) FROM schema_migrations") == 8);
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
