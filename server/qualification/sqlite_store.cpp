#include "server/qualification/sqlite_store.hpp"

#include <array>

#include "server/core/sqlite_util.hpp"
#include "server/qualification/rules.hpp"

namespace lg::server::qualification {

using namespace sqlite;

namespace {

constexpr std::string_view kV1 = R"sql(
CREATE TABLE qualifications (
  user TEXT NOT NULL REFERENCES users(id),
  instrument TEXT NOT NULL REFERENCES instruments(id),
  valid_from_ms INTEGER NOT NULL DEFAULT 0,
  valid_until_ms INTEGER,
  updated_ms INTEGER NOT NULL,
  PRIMARY KEY (user, instrument)
);
CREATE INDEX qualifications_by_instrument ON qualifications(instrument);
)sql";

// Levels (issue 10): a row from before them keeps every hour (after_hours); source names the
// training course that granted it, "" when an admin set it.
constexpr std::string_view kV2 = R"sql(
ALTER TABLE qualifications ADD COLUMN level TEXT NOT NULL DEFAULT 'after_hours'
  CHECK (level IN ('supervised', 'independent', 'after_hours'));
ALTER TABLE qualifications ADD COLUMN source TEXT NOT NULL DEFAULT '';
)sql";

constexpr std::array<db::Migration, 2> kMigrations{{{1, "qualifications", kV1}, {2, "qualification levels", kV2}}};


}  // namespace

std::span<const db::Migration> migrations() { return kMigrations; }

namespace rows {
Qualification qualification(db::Statement& r) {
  return Qualification{r.column_text(0), r.column_text(1), r.column_int64(2), opt_int(r, 3),
                       level_from(r.column_text(4)).value_or(QualificationLevel::after_hours), r.column_text(5)};
}
}  // namespace rows

Status SqliteStore::put(const Qualification& q, int64_t now_ms) {
  return db_.run([&]() -> Status {
    auto& d = db_.conn();
    LG_TRY(require_ref(d, "users", "user", q.user, "user"));
    LG_TRY(require_ref(d, "instruments", "instrument", q.instrument, "instrument"));
    auto st = d.prepare(
        "INSERT INTO qualifications(user, instrument, valid_from_ms, valid_until_ms, updated_ms, level, source) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(user, instrument) DO UPDATE SET "
        "valid_from_ms = excluded.valid_from_ms, valid_until_ms = excluded.valid_until_ms, "
        "updated_ms = excluded.updated_ms, level = excluded.level, source = excluded.source");
    if (!st) return st.error();
    st->bind(1, q.user).bind(2, q.instrument).bind(3, q.valid_from_ms).bind(4, q.valid_until_ms).bind(5, now_ms);
    st->bind(6, std::string(to_string(q.level))).bind(7, q.source);
    return st->run();
  });
}

Result<PageOf<Qualification>> SqliteStore::list(const Page& p) {
  static constexpr Keyset q{"SELECT user, instrument, valid_from_ms, valid_until_ms, level, source FROM qualifications WHERE 1", 0,
                            "(user, instrument)", "ss", false, "ORDER BY user, instrument"};
  return read_all_page<Qualification>(db_.conn(), q, p, rows::qualification);
}

Result<std::optional<Qualification>> SqliteStore::get(const std::string& user, const std::string& instrument) {
  auto q = db_.conn().prepare("SELECT " + std::string(rows::kCols) + " FROM qualifications WHERE user = ? AND instrument = ?");
  if (!q) return q.error();
  q->bind(1, user).bind(2, instrument);
  auto row = q->step();
  if (!row) return row.error();
  std::optional<Qualification> out;
  if (*row) out = rows::qualification(*q);
  q->reset();
  return out;
}

Result<std::vector<Qualification>> SqliteStore::on_instrument(const std::string& instrument) {
  auto q = db_.conn().prepare("SELECT " + std::string(rows::kCols) + " FROM qualifications WHERE instrument = ? ORDER BY user");
  if (!q) return q.error();
  q->bind(1, instrument);
  std::vector<Qualification> out;
  if (auto s = each_row(*q, [&](db::Statement& r) { out.push_back(rows::qualification(r)); }); !s) return s.error();
  return out;
}

Result<std::optional<int64_t>> SqliteStore::last_use(const std::string& user, const std::string& instrument) {
  auto q = db_.conn().prepare("SELECT MAX(start_ms) FROM usage_sessions WHERE resource = ? AND user = ?");
  if (!q) return q.error();
  q->bind(1, instrument).bind(2, user);
  auto row = q->step();
  if (!row) return row.error();
  std::optional<int64_t> out = *row ? opt_int(*q, 0) : std::nullopt;
  q->reset();
  return out;
}

Result<std::vector<Qualification>> SqliteStore::ending(int64_t from_ms, int64_t to_ms) {
  auto q = db_.conn().prepare("SELECT " + std::string(rows::kCols) +
                              " FROM qualifications WHERE valid_until_ms >= ? AND valid_until_ms < ? ORDER BY valid_until_ms");
  if (!q) return q.error();
  q->bind(1, from_ms).bind(2, to_ms);
  std::vector<Qualification> out;
  if (auto s = each_row(*q, [&](db::Statement& r) { out.push_back(rows::qualification(r)); }); !s) return s.error();
  return out;
}

}  // namespace lg::server::qualification
