#include "server/sync/sqlite_store.hpp"

#include "server/core/sqlite_util.hpp"
#include "server/booking/sqlite_store.hpp"
#include "server/directory/sqlite_store.hpp"
#include "server/qualification/sqlite_store.hpp"

namespace lg::server::sync {

using namespace sqlite;

Result<Inputs> SqliteStore::inputs(const Terminal& t, int64_t now_ms) {
  auto& d = db_.conn();
  // One snapshot: a write committed between two of these reads must not give a bundle with the
  // grants of one state and the bookings of another.
  const bool own_tx = !d.in_transaction();
  if (own_tx) LG_TRY(d.exec("BEGIN DEFERRED"));
  auto result = [&]() -> Result<Inputs> {
    Inputs in;
    in.terminal = t.id;
    in.resource = t.resource;
    {
      auto q = d.prepare("SELECT " + std::string(directory::rows::kInstrumentCols) + " FROM instruments WHERE id = ?");
      if (!q) return q.error();
      q->bind(1, t.resource);
      auto row = q->step();
      if (!row) return row.error();
      if (*row) in.instrument = directory::rows::instrument(*q);
      q->reset();
    }
    {
      auto q = d.prepare(
          "SELECT " + std::string(qualification::rows::kCols) + " FROM qualifications WHERE instrument = ? "
          "ORDER BY user");
      if (!q) return q.error();
      q->bind(1, t.resource);
      if (auto s = each_row(*q, [&](db::Statement& r) {
            in.qualifications.push_back(qualification::rows::qualification(r));
          });
          !s)
        return s.error();
    }
    constexpr std::string_view kRelevantUsers =
        "SELECT id FROM users WHERE admin = 1 UNION SELECT user FROM qualifications WHERE instrument = ?1";
    {
      auto q = d.prepare("SELECT " + std::string(directory::rows::kUserCols) + " FROM users WHERE id IN (" +
                         std::string(kRelevantUsers) + ") ORDER BY id");
      if (!q) return q.error();
      q->bind(1, t.resource);
      if (auto s = each_row(*q, [&](db::Statement& r) { in.users.push_back(directory::rows::user(r, 0)); }); !s)
        return s.error();
    }
    {
      // Active cards, and lost or revoked ones ended recently (refused with their own reason).
      auto q = d.prepare(
          "SELECT uid, user, active, status, valid_until_ms, ended_ms FROM cards WHERE (active = 1 OR (status IN "
          "('lost', 'revoked') AND ended_ms > ?2)) AND user IN (" +
          std::string(kRelevantUsers) + ") ORDER BY uid");
      if (!q) return q.error();
      q->bind(1, t.resource).bind(2, now_ms - kRecentlyEndedMs);
      if (auto s = each_row(*q, [&](db::Statement& r) { in.cards.push_back(directory::rows::card(r)); });
          !s)
        return s.error();
    }
    {
      // Active bookings only: a cancelled one opens nothing.
      auto q = d.prepare("SELECT " + std::string(booking::rows::kCols) +
                         " FROM bookings WHERE instrument = ? AND end_ms > ? AND start_ms < ? AND status = 'active' "
                         "ORDER BY start_ms, id");
      if (!q) return q.error();
      q->bind(1, t.resource).bind(2, now_ms - kBookingsBeforeMs).bind(3, now_ms + kBookingsAfterMs);
      if (auto s = each_row(*q, [&](db::Statement& r) {
            in.bookings.push_back(booking::rows::booking(r));
          });
          !s)
        return s.error();
    }
    {
      // The instrument's staffed hours and lapse, the holidays and blackouts ahead, and when each
      // qualified user last used it (issue 10, levels).
      booking::SqliteStore bookings(db_);
      auto policy = bookings.policy(t.resource);
      if (!policy) return policy.error();
      in.booking_policy = std::move(*policy);
      auto closures = bookings.closures(t.resource, now_ms - kBookingsBeforeMs, now_ms + kClosuresWindowMs);
      if (!closures) return closures.error();
      in.closures = std::move(*closures);
      auto q = d.prepare(
          "SELECT user, MAX(start_ms) FROM usage_sessions WHERE resource = ?1 AND user IN "
          "(SELECT user FROM qualifications WHERE instrument = ?1) GROUP BY user");
      if (!q) return q.error();
      q->bind(1, t.resource);
      if (auto s = each_row(*q, [&](db::Statement& r) { in.last_use[r.column_text(0)] = r.column_int64(1); }); !s)
        return s.error();
    }
    return in;
  }();
  if (own_tx) (void)d.exec("COMMIT");
  return result;
}

Result<StoredSync> SqliteStore::stored(const std::string& terminal) {
  auto q = db_.conn().prepare("SELECT sync_version, sync_hash, sync_payload FROM terminals WHERE id = ?");
  if (!q) return q.error();
  q->bind(1, terminal);
  auto row = q->step();
  if (!row) return row.error();
  if (!*row) return domain_error(Errc::not_found, "terminal " + terminal + " is not enrolled");
  StoredSync out{static_cast<uint64_t>(q->column_int64(0)), q->column_text(1), q->column_text(2)};
  q->reset();
  return out;
}

Status SqliteStore::save(const std::string& terminal, const StoredSync& s) {
  auto& d = db_.conn();
  auto st = d.prepare(
      "UPDATE terminals SET sync_version = ?, sync_hash = ?, sync_payload = ? WHERE id = ? AND sync_version < ?");
  if (!st) return st.error();
  st->bind(1, static_cast<int64_t>(s.version)).bind(2, s.hash).bind(3, s.payload).bind(4, terminal);
  st->bind(5, static_cast<int64_t>(s.version));
  LG_TRY(st->run());
  if (d.changes() == 0) {
    return domain_error(Errc::conflict, "terminal " + terminal + ": sync version " + std::to_string(s.version) +
                                            " is not above the stored one");
  }
  return {};
}

}  // namespace lg::server::sync
