// Billing migration 3 on both backends: a database with hourly fee standards (billing migration 2)
// is opened, and each standard is then a published version 1 of one exact-time hour line, effective
// from the beginning, with an "imported" step, so that what charged before charges the same.
#include <doctest/doctest.h>

#include <array>

#include "server/billing/pg_store.hpp"
#include "server/billing/rules.hpp"
#include "server/billing/sqlite_store.hpp"
#include "server/booking/pg_store.hpp"
#include "server/booking/sqlite_store.hpp"
#include "server/core/pg_db.hpp"
#include "server/core/sqlite_db.hpp"
#include "server/directory/pg_store.hpp"
#include "server/directory/sqlite_store.hpp"
#include "server/qualification/pg_store.hpp"
#include "server/qualification/sqlite_store.hpp"
#include "server/terminals/pg_store.hpp"
#include "server/terminals/sqlite_store.hpp"
#include "server/usage/pg_store.hpp"
#include "server/usage/sqlite_store.hpp"
#include "tests/server/test_support.hpp"

using namespace lg;
using namespace lg::server;
using namespace lg::server::test;
using namespace lg::server::billing;

namespace {

const char* kOld =
    "INSERT INTO units(id, name, created_ms) VALUES ('u', 'U', 0);"
    "INSERT INTO labs(id, name, unit, created_ms) VALUES ('l', 'L', 'u', 0);"
    "INSERT INTO instruments(id, name, lab, kind, created_ms) VALUES ('i1', 'I1', 'l', 'instrument', 0), "
    "('i2', 'I2', 'l', 'instrument', 0);"
    "INSERT INTO fee_standards(instrument, internal_fen_per_hour, external_fen_per_hour, currency, updated_ms, "
    "retired_ms) VALUES ('i1', 12000, 30000, 'CNY', 5, NULL), ('i2', 100, 200, 'CNY', 6, 7);";

/// dir's database at billing migration 2 (and the areas before it) with two hourly standards, one retired.
void at_billing_2(const TempDir& dir) {
  if (on_postgres()) {
    auto c = pg::Conn::connect(pg::ConnectOptions{pg_conninfo(), dir.schema(), "labgate-test"});
    REQUIRE(c);
    const std::array<AreaSchema, 6> areas{{{"directory", directory::pg_migrations()},
                                           {"qualification", qualification::pg_migrations()},
                                           {"booking", booking::pg_migrations()},
                                           {"terminals", terminals::pg_migrations()},
                                           {"usage", usage::pg_migrations()},
                                           {"billing", billing::pg_migrations().first(2)}}};
    REQUIRE(migrate_areas(**c, areas));
    REQUIRE((*c)->script(kOld));
  } else {
    db::Options opts;
    opts.foreign_keys = true;
    auto d = db::Database::open(dir.db(), opts);
    REQUIRE(d);
    const std::array<AreaSchema, 6> areas{{{"directory", directory::migrations()},
                                           {"qualification", qualification::migrations()},
                                           {"booking", booking::migrations()},
                                           {"terminals", terminals::migrations()},
                                           {"usage", usage::migrations()},
                                           {"billing", billing::migrations().first(2)}}};
    REQUIRE(migrate_areas(*d, areas));
    REQUIRE(d->exec(kOld));
  }
}

}  // namespace

TEST_CASE("billing migration 3 turns each hourly fee standard into a published version that charges the same") {
  TempDir dir;
  at_billing_2(dir);
  auto store = open_store(dir);
  auto& b = store->stores().billing;
  const std::string asked[] = {"i1", "i2"};
  auto pub = b.published(asked);
  REQUIRE(pub);
  REQUIRE(pub->at("i1").size() == 1);
  const FeeVersion& v = pub->at("i1").front();
  CHECK(v.id == "fv-i1-1");
  CHECK(v.number == 1);
  CHECK(v.effective_from_ms == 0);
  CHECK_FALSE(v.retired_ms);
  REQUIRE(v.lines.size() == 1);
  CHECK(v.lines[0].code == "hour");
  CHECK(v.lines[0].rounding == Rounding::exact);
  CHECK(v.lines[0].prices.internal == 12000);
  CHECK(v.lines[0].prices.other_campus == 30000);
  CHECK(v.lines[0].prices.external_academic == 30000);
  CHECK(v.lines[0].prices.enterprise == 30000);
  auto steps = b.steps("fv-i1-1");
  REQUIRE(steps);
  REQUIRE(steps->size() == 1);
  CHECK(steps->front().action == FeeAction::imported);
  CHECK(steps->front().who == "migration");
  // The rule the hourly standard charged by, and the version, give the same amounts.
  for (int64_t ms_used : {int64_t{0}, int64_t{149}, int64_t{150}, int64_t{5'400'000}, int64_t{123'456'789}}) {
    SessionFacts f;
    f.category = UserCategory::internal_student;
    f.start_ms = 1'767'225'600'000;
    f.end_ms = f.start_ms + ms_used;
    f.duration_ms = ms_used;
    CHECK(price_session(v, f).total_fen == *amount_fen(ms_used, 12000));
    f.category = UserCategory::enterprise;
    CHECK(price_session(v, f).total_fen == *amount_fen(ms_used, 30000));
  }
  // A retired standard stays retired: nothing in force after its retirement.
  REQUIRE(pub->at("i2").size() == 1);
  CHECK(pub->at("i2").front().retired_ms == 7);
  CHECK(in_force(pub->at("i2"), 6) != nullptr);
  CHECK(in_force(pub->at("i2"), 7) == nullptr);
}
