#include "server/qualification/pg_store.hpp"

#include <array>

#include "server/core/pg_util.hpp"
#include "server/qualification/rules.hpp"

namespace lg::server::qualification {

using namespace pgsql;

namespace {

constexpr std::string_view kV1 = R"sql(
CREATE TABLE qualifications (
  user_id TEXT NOT NULL REFERENCES users(id),
  instrument TEXT NOT NULL REFERENCES instruments(id),
  valid_from_ms BIGINT NOT NULL DEFAULT 0,
  valid_until_ms BIGINT,
  updated_ms BIGINT NOT NULL,
  PRIMARY KEY (user_id, instrument)
);
CREATE INDEX qualifications_by_instrument ON qualifications(instrument);
)sql";

// Levels (issue 10), as in the SQLite store.
constexpr std::string_view kV2 = R"sql(
ALTER TABLE qualifications ADD COLUMN level TEXT NOT NULL DEFAULT 'after_hours'
  CHECK (level IN ('supervised', 'independent', 'after_hours'));
ALTER TABLE qualifications ADD COLUMN source TEXT NOT NULL DEFAULT '';
)sql";

constexpr std::array<db::Migration, 2> kMigrations{{{1, "qualifications", kV1}, {2, "qualification levels", kV2}}};

using pgrows::kCols;
constexpr auto qualification_row = [](const pg::Rows& r, int i) { return pgrows::qualification(r, i); };

}  // namespace

std::span<const db::Migration> pg_migrations() { return kMigrations; }

Qualification pgrows::qualification(const pg::Rows& r, int i) {
  return Qualification{r.text(i, 0), r.text(i, 1), r.i64(i, 2), r.opt_i64(i, 3),
                       level_from(r.text(i, 4)).value_or(QualificationLevel::after_hours), r.text(i, 5)};
}

Status PgStore::put(const Qualification& q, int64_t now_ms) {
  return db_.run([&]() -> Status {
    auto& c = db_.conn();
    LG_TRY(require_ref(c, "users", "user", q.user, "user"));
    LG_TRY(require_ref(c, "instruments", "instrument", q.instrument, "instrument"));
    return done(c.q("INSERT INTO qualifications(user_id, instrument, valid_from_ms, valid_until_ms, updated_ms, level, "
                    "source) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (user_id, instrument) DO UPDATE SET "
                    "valid_from_ms = excluded.valid_from_ms, valid_until_ms = excluded.valid_until_ms, "
                    "updated_ms = excluded.updated_ms, level = excluded.level, source = excluded.source",
                    q.user, q.instrument, q.valid_from_ms, q.valid_until_ms, now_ms, std::string(to_string(q.level)),
                    q.source));
  });
}

Result<PageOf<Qualification>> PgStore::list(const Page& p) {
  static constexpr Keyset q{"SELECT user_id, instrument, valid_from_ms, valid_until_ms, level, source FROM qualifications WHERE true",
                            0, "(user_id, instrument)", "ss", false, "ORDER BY user_id, instrument"};
  return read_all_page<Qualification>(db_.conn(), q, p, qualification_row);
}

Result<std::optional<Qualification>> PgStore::get(const std::string& user, const std::string& instrument) {
  auto r = db_.conn().q(
      "SELECT " + std::string(kCols) + " FROM qualifications WHERE user_id = $1 AND instrument = $2", user, instrument);
  if (!r) return r.error();
  std::optional<Qualification> out;
  if (!r->empty()) out = qualification_row(*r, 0);
  return out;
}

Result<std::vector<Qualification>> PgStore::on_instrument(const std::string& instrument) {
  auto r = db_.conn().q(
      "SELECT " + std::string(kCols) + " FROM qualifications WHERE instrument = $1 ORDER BY user_id", instrument);
  if (!r) return r.error();
  std::vector<Qualification> out;
  for (int i = 0; i < r->size(); ++i) out.push_back(qualification_row(*r, i));
  return out;
}

Result<std::optional<int64_t>> PgStore::last_use(const std::string& user, const std::string& instrument) {
  auto r = db_.conn().q("SELECT MAX(start_ms) FROM usage_sessions WHERE resource = $1 AND user_id = $2", instrument, user);
  if (!r) return r.error();
  if (r->empty()) return std::optional<int64_t>{};
  return r->opt_i64(0, 0);
}

Result<std::vector<Qualification>> PgStore::ending(int64_t from_ms, int64_t to_ms) {
  auto r = db_.conn().q("SELECT " + std::string(kCols) +
                            " FROM qualifications WHERE valid_until_ms >= $1 AND valid_until_ms < $2 ORDER BY valid_until_ms",
                        from_ms, to_ms);
  if (!r) return r.error();
  std::vector<Qualification> out;
  for (int i = 0; i < r->size(); ++i) out.push_back(qualification_row(*r, i));
  return out;
}

}  // namespace lg::server::qualification
