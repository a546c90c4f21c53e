#include "server/reports/sqlite_store.hpp"

#include <chrono>
#include <thread>

#include "server/core/sqlite_util.hpp"

namespace lg::server::reports {

using namespace sqlite;

void SqliteStore::hold() const {
  if (hold_ms_ > 0) std::this_thread::sleep_for(std::chrono::milliseconds(hold_ms_));
}

Result<std::vector<report::GroupSum>> SqliteStore::usage_groups(report::GroupBy by, int64_t from_ms, int64_t to_ms) {
  // Sum the charges alone (one per closed session); names are joined to the groups afterwards.
  std::string_view sql;
  switch (by) {
    case report::GroupBy::instrument:
      sql =
          "SELECT g.k, COALESCE(i.name, ''), g.n, g.d, g.a FROM (SELECT instrument AS k, count(*) AS n, "
          "sum(duration_ms) AS d, sum(amount_fen) AS a FROM charges WHERE end_ms >= ?1 AND end_ms < ?2 "
          "GROUP BY instrument) g LEFT JOIN instruments i ON i.id = g.k ORDER BY g.k";
      break;
    case report::GroupBy::user:
      sql =
          "SELECT g.k, COALESCE(u.name, ''), g.n, g.d, g.a FROM (SELECT user AS k, count(*) AS n, "
          "sum(duration_ms) AS d, sum(amount_fen) AS a FROM charges WHERE end_ms >= ?1 AND end_ms < ?2 "
          "GROUP BY user) g LEFT JOIN users u ON u.id = g.k ORDER BY g.k";
      break;
    case report::GroupBy::month:
      return Error::invalid("usage_groups groups by instrument or user; months are usage_total per month");
  }
  auto& d = db_.conn();
  auto q = d.prepare(sql);
  if (!q) return q.error();
  q->bind(1, from_ms).bind(2, to_ms);
  std::vector<report::GroupSum> out;
  auto row = q->step();  // the read transaction (snapshot) starts here and lasts until reset
  while (row && *row) {
    out.push_back(report::GroupSum{q->column_text(0), q->column_text(1), q->column_int64(2), q->column_int64(3),
                                   q->column_int64(4)});
    row = q->step();
  }
  hold();
  q->reset();
  if (!row) return row.error();
  return out;
}

Result<report::GroupSum> SqliteStore::usage_total(int64_t from_ms, int64_t to_ms) {
  auto q = db_.conn().prepare(
      "SELECT count(*), COALESCE(sum(duration_ms), 0), COALESCE(sum(amount_fen), 0) FROM charges "
      "WHERE end_ms >= ?1 AND end_ms < ?2");
  if (!q) return q.error();
  q->bind(1, from_ms).bind(2, to_ms);
  auto row = q->step();
  if (!row) {
    q->reset();
    return row.error();
  }
  report::GroupSum g;
  if (*row) {
    g.sessions = q->column_int64(0);
    g.duration_ms = q->column_int64(1);
    g.amount_fen = q->column_int64(2);
  }
  hold();
  q->reset();
  return g;
}

}  // namespace lg::server::reports
