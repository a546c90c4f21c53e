#include "server/reports/pg_store.hpp"

#include <chrono>
#include <thread>

#include "server/core/pg_util.hpp"

namespace lg::server::reports {

using namespace pgsql;

namespace {

/// Runs body in a READ ONLY REPEATABLE READ transaction: one snapshot for the whole report that
/// never blocks (nor is blocked by) ingest; joins an open transaction.
template <typename T, typename F>
Result<T> snapshot(pg::Conn& c, F&& body) {
  if (c.in_transaction()) return body();
  if (!c.ok()) LG_TRY(c.reconnect());
  LG_TRY(c.script("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
  Result<T> out = body();
  if (auto s = c.script(out ? "COMMIT" : "ROLLBACK"); !s && out) return s.error();
  return out;
}

}  // namespace

void PgStore::hold() const {
  if (hold_ms_ > 0) std::this_thread::sleep_for(std::chrono::milliseconds(hold_ms_));
}

Result<std::vector<report::GroupSum>> PgStore::usage_groups(report::GroupBy by, int64_t from_ms, int64_t to_ms) {
  // Sum the charges alone (one per closed session); names are joined to the groups afterwards.
  std::string_view sql;
  switch (by) {
    case report::GroupBy::instrument:
      sql =
          "SELECT g.k, COALESCE(i.name, ''), g.n, g.d, g.a FROM (SELECT instrument AS k, count(*) AS n, "
          "sum(duration_ms) AS d, sum(amount_fen) AS a FROM charges WHERE end_ms >= $1 AND end_ms < $2 "
          "GROUP BY instrument) g LEFT JOIN instruments i ON i.id = g.k ORDER BY g.k";
      break;
    case report::GroupBy::user:
      sql =
          "SELECT g.k, COALESCE(u.name, ''), g.n, g.d, g.a FROM (SELECT user_id AS k, count(*) AS n, "
          "sum(duration_ms) AS d, sum(amount_fen) AS a FROM charges WHERE end_ms >= $1 AND end_ms < $2 "
          "GROUP BY user_id) g LEFT JOIN users u ON u.id = g.k ORDER BY g.k";
      break;
    case report::GroupBy::month:
      return Error::invalid("usage_groups groups by instrument or user; months are usage_total per month");
  }
  auto& c = db_.conn();
  return snapshot<std::vector<report::GroupSum>>(c, [&]() -> Result<std::vector<report::GroupSum>> {
    auto r = c.q(sql, from_ms, to_ms);
    if (!r) return r.error();
    std::vector<report::GroupSum> out;
    for (int i = 0; i < r->size(); ++i) {
      out.push_back(report::GroupSum{r->text(i, 0), r->text(i, 1), r->i64(i, 2), r->i64(i, 3), r->i64(i, 4)});
    }
    hold();
    return out;
  });
}

Result<report::GroupSum> PgStore::usage_total(int64_t from_ms, int64_t to_ms) {
  auto& c = db_.conn();
  return snapshot<report::GroupSum>(c, [&]() -> Result<report::GroupSum> {
    auto r = c.q(
        "SELECT count(*), COALESCE(sum(duration_ms), 0), COALESCE(sum(amount_fen), 0) FROM charges "
        "WHERE end_ms >= $1 AND end_ms < $2",
        from_ms, to_ms);
    if (!r) return r.error();
    report::GroupSum g;
    g.sessions = r->i64(0, 0);
    g.duration_ms = r->i64(0, 1);
    g.amount_fen = r->i64(0, 2);
    hold();
    return g;
  });
}

}  // namespace lg::server::reports
