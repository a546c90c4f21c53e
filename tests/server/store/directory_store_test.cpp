#include <doctest/doctest.h>

#include "../test_support.hpp"
#include "server/store/schema.hpp"

using namespace lg;
using namespace lg::server;
using namespace lg::server::test;

TEST_CASE("schema migrations are numbered from 1 and re-opening does not re-apply them") {
  TempDir dir;
  {
    auto store = open_store(dir);
    auto v = db::schema_version(store->database());
    REQUIRE(v);
    CHECK(*v == static_cast<int>(schema::migrations().size()));
    seed(*store);
  }
  auto again = open_store(dir);
  CHECK(again->users()->size() == 4);
}

TEST_CASE("a card has one active owner") {
  TempDir dir;
  auto store = open_store(dir);
  seed(*store);
  auto st = store->add_card(Card{"04AA", "bob", true}, 0);
  REQUIRE_FALSE(st);
  CHECK(is(st.error(), StoreErrc::conflict));
  CHECK(st.error().reason.find("alice") != std::string::npos);
  auto cards = store->cards();
  REQUIRE(cards);
  CHECK(cards->size() == 3);
}

TEST_CASE("creates with unknown references or duplicate ids change nothing") {
  TempDir dir;
  auto store = open_store(dir);
  seed(*store);
  auto lab = store->add_lab(Lab{"l2", "Lab 2", "no-unit"}, 0);
  REQUIRE_FALSE(lab);
  CHECK(is(lab.error(), StoreErrc::unknown_reference));
  CHECK(lab.error().reason.find("unit") == 0);
  CHECK(store->labs()->size() == 1);

  auto dup = store->add_user(User{"alice", "Alice 2", UserCategory::external, "", false}, 0);
  REQUIRE_FALSE(dup);
  CHECK(is(dup.error(), StoreErrc::conflict));
  auto users = store->users();
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
  auto fees = store->fee_standards();
  REQUIRE(fees->size() == 1);
  CHECK(fees->front().internal_fen_per_hour == 1);
  REQUIRE(store->put_qualification(Qualification{"alice", "inst-xrd", 0, std::nullopt}, 0));
  REQUIRE(store->put_qualification(Qualification{"alice", "inst-xrd", 5, 10}, 0));
  auto q = store->qualifications();
  REQUIRE(q->size() == 1);
  CHECK(q->front().valid_until_ms == 10);
}
