// SQLite wrapper: statements, transactions roll back, migrations are numbered and idempotent,
// busy handling lets two connections share one file.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "labgate/common/sqlite.hpp"

using namespace lg;
using namespace lg::db;

namespace {
std::string temp_db(const char* name) {
  auto dir = std::filesystem::temp_directory_path() / ("labgate-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto p = dir / name;
  std::filesystem::remove(p);
  std::filesystem::remove(p.string() + "-wal");
  std::filesystem::remove(p.string() + "-shm");
  return p.string();
}

const Migration kSchema[] = {
    {1, "items", "CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, qty INTEGER NOT NULL);"},
    {2, "price", "ALTER TABLE items ADD COLUMN price_fen INTEGER NOT NULL DEFAULT 0;"},
};
}  // namespace

TEST_CASE("migrations apply once, in order, and record the version") {
  const auto path = temp_db("mig.db");
  {
    auto db = Database::open(path);
    REQUIRE(db);
    REQUIRE(migrate(*db, kSchema).ok());
    CHECK(*schema_version(*db) == 2);
    REQUIRE(db->exec("INSERT INTO items(name, qty, price_fen) VALUES ('a', 1, 250)").ok());
  }
  auto db = Database::open(path);
  REQUIRE(migrate(*db, kSchema).ok());  // second run changes nothing
  CHECK(**db->query_int("SELECT price_fen FROM items WHERE name='a'") == 250);
  // a database newer than the code is refused
  REQUIRE(db->exec("PRAGMA user_version=9").ok());
  auto s = migrate(*db, kSchema);
  CHECK_FALSE(s.ok());
  CHECK(s.error().reason.find("newer than this program") != std::string::npos);
}

TEST_CASE("a failing migration leaves the schema at the last good version") {
  const auto path = temp_db("badmig.db");
  const Migration bad[] = {kSchema[0], {2, "broken", "ALTER TABLE nosuch ADD COLUMN x INTEGER;"}};
  auto db = Database::open(path);
  REQUIRE(db);
  auto s = migrate(*db, bad);
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().reason.find("migration 2 (broken)") == 0);
  CHECK(*schema_version(*db) == 1);
}

TEST_CASE("statements bind, step and report constraint violations") {
  auto db = Database::open(temp_db("stmt.db"));
  REQUIRE(db);
  REQUIRE(migrate(*db, kSchema).ok());
  auto ins = db->prepare("INSERT INTO items(name, qty) VALUES (?, ?)");
  REQUIRE(ins);
  REQUIRE(ins->bind(1, "bolt").bind(2, int64_t{5}).run().ok());
  auto dup = ins->bind(1, "bolt").bind(2, int64_t{6}).run();
  REQUIRE_FALSE(dup.ok());
  CHECK(is_constraint(dup.error()));
  auto q = db->prepare("SELECT name, qty FROM items");
  REQUIRE(q);
  auto row = q->step();
  REQUIRE(row);
  REQUIRE(*row);
  CHECK(q->column_text(0) == "bolt");
  CHECK(q->column_int64(1) == 5);
  CHECK_FALSE(*q->step());
  CHECK_FALSE(db->prepare("SELECT * FROM nosuch"));
}

TEST_CASE("a transaction not committed is rolled back") {
  auto db = Database::open(temp_db("tx.db"));
  REQUIRE(migrate(*db, kSchema).ok());
  {
    Transaction tx(*db);
    REQUIRE(tx.status().ok());
    REQUIRE(db->exec("INSERT INTO items(name, qty) VALUES ('x', 1)").ok());
  }
  CHECK(**db->query_int("SELECT count(*) FROM items") == 0);
  {
    Transaction tx(*db);
    REQUIRE(db->exec("INSERT INTO items(name, qty) VALUES ('y', 1)").ok());
    REQUIRE(tx.commit().ok());
  }
  CHECK(**db->query_int("SELECT count(*) FROM items") == 1);
}

TEST_CASE("two connections writing concurrently both succeed through busy waiting") {
  const auto path = temp_db("busy.db");
  {
    auto db = Database::open(path);
    REQUIRE(migrate(*db, kSchema).ok());
  }
  auto writer = [&](const char* prefix, int& ok) {
    auto db = Database::open(path);
    if (!db) return;
    for (int i = 0; i < 50; ++i) {
      Transaction tx(*db);
      if (!tx.status().ok()) continue;
      auto st = db->prepare("INSERT INTO items(name, qty) VALUES (?, 1)");
      if (st && st->bind(1, std::string(prefix) + std::to_string(i)).run().ok() && tx.commit().ok()) ++ok;
    }
  };
  int a = 0, b = 0;
  std::thread t1(writer, "a", std::ref(a));
  std::thread t2(writer, "b", std::ref(b));
  t1.join();
  t2.join();
  CHECK(a == 50);
  CHECK(b == 50);
  auto db = Database::open(path);
  CHECK(**db->query_int("SELECT count(*) FROM items") == 100);
}

TEST_CASE("re-preparing the same SQL reuses a clean statement, statements may outlive the connection") {
  auto db = Database::open(temp_db("cache.db"));
  REQUIRE(migrate(*db, kSchema).ok());
  for (int i = 0; i < 3; ++i) {
    auto ins = db->prepare("INSERT INTO items(name, qty) VALUES (?, ?)");
    REQUIRE(ins);
    REQUIRE(ins->bind(1, "n" + std::to_string(i)).bind(2, int64_t{i}).run().ok());
  }
  {
    // a statement abandoned mid-iteration comes back reset, without its old bindings
    auto q = db->prepare("SELECT name FROM items WHERE qty >= ? ORDER BY qty");
    q->bind(1, int64_t{0});
    REQUIRE(*q->step());
  }
  auto q = db->prepare("SELECT name FROM items WHERE qty >= ? ORDER BY qty");
  q->bind(1, int64_t{2});
  REQUIRE(*q->step());
  CHECK(q->column_text(0) == "n2");
  CHECK_FALSE(*q->step());
  // unbound parameter is NULL, not a leftover: no row matches qty >= NULL
  auto again = db->prepare("SELECT name FROM items WHERE qty >= ? ORDER BY qty");
  CHECK_FALSE(*again->step());
  Statement survivor = *db->prepare("SELECT count(*) FROM items");
  *db = Database{};  // close the connection while a statement is alive
}

TEST_CASE("a database is created readable by its owner only, and so are its WAL files") {
  const std::string path = temp_db("modes.db");
  const mode_t old_mask = ::umask(0);  // even a careless umask must not widen it
  {
    auto d = Database::open(path);
    ::umask(old_mask);
    REQUIRE(d);
    REQUIRE(d->exec("CREATE TABLE t(x); INSERT INTO t VALUES (1);"));
    namespace fs = std::filesystem;
    CHECK(fs::status(path).permissions() == (fs::perms::owner_read | fs::perms::owner_write));
    REQUIRE(fs::exists(path + "-wal"));
    CHECK((fs::status(path + "-wal").permissions() & (fs::perms::others_all | fs::perms::group_all)) ==
          fs::perms::none);
  }
  // an existing world-readable file (an older install) loses its "other" bits on open
  namespace fs = std::filesystem;
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read);
  {
    auto d = Database::open(path);
    REQUIRE(d);
  }
  CHECK(fs::status(path).permissions() == (fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read));
}
