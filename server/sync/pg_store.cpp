#include "server/sync/pg_store.hpp"

#include "server/booking/pg_store.hpp"
#include "server/core/pg_util.hpp"
#include "server/directory/pg_store.hpp"
#include "server/qualification/pg_store.hpp"

namespace lg::server::sync {

using namespace pgsql;

Result<Inputs> PgStore::inputs(const Terminal& t, int64_t now_ms) {
  auto& c = db_.conn();
  // One snapshot: a write committed between two of these reads must not give a bundle with the
  // grants of one state and the bookings of another.
  const bool own_tx = !c.in_transaction();
  if (own_tx) {
    if (!c.ok()) LG_TRY(c.reconnect());
    LG_TRY(c.script("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
  }
  auto result = [&]() -> Result<Inputs> {
    Inputs in;
    in.terminal = t.id;
    in.resource = t.resource;
    auto inst = c.q("SELECT " + std::string(directory::pgrows::kInstrumentCols) + " FROM instruments WHERE id = $1",
                    t.resource);
    if (!inst) return inst.error();
    if (!inst->empty()) in.instrument = directory::pgrows::instrument(*inst, 0);
    auto quals = c.q("SELECT " + std::string(qualification::pgrows::kCols) +
                         " FROM qualifications WHERE instrument = $1 ORDER BY user_id",
                     t.resource);
    if (!quals) return quals.error();
    for (int i = 0; i < quals->size(); ++i) in.qualifications.push_back(qualification::pgrows::qualification(*quals, i));
    constexpr std::string_view kRelevantUsers =
        "SELECT id FROM users WHERE admin UNION SELECT user_id FROM qualifications WHERE instrument = $1";
    auto users = c.q("SELECT " + std::string(directory::pgrows::kUserCols) + " FROM users WHERE id IN (" +
                         std::string(kRelevantUsers) + ") ORDER BY id",
                     t.resource);
    if (!users) return users.error();
    for (int i = 0; i < users->size(); ++i) in.users.push_back(directory::pgrows::user(*users, i));
    // Active cards, and lost or revoked ones ended recently (refused with their own reason).
    auto cards = c.q("SELECT uid, user_id, active, status, valid_until_ms, ended_ms FROM cards WHERE (active OR "
                     "(status IN ('lost', 'revoked') AND ended_ms > $2)) AND user_id IN (" +
                         std::string(kRelevantUsers) + ") ORDER BY uid",
                     t.resource, now_ms - kRecentlyEndedMs);
    if (!cards) return cards.error();
    for (int i = 0; i < cards->size(); ++i) in.cards.push_back(directory::pgrows::card(*cards, i));
    auto bookings = c.q("SELECT " + std::string(booking::pgrows::kCols) +
                            " FROM bookings WHERE instrument = $1 AND int8range(start_ms, end_ms) && int8range($2, $3) "
                            "AND status = 'active' ORDER BY start_ms, id",  // a cancelled booking opens nothing
                        t.resource, now_ms - kBookingsBeforeMs, now_ms + kBookingsAfterMs);
    if (!bookings) return bookings.error();
    for (int i = 0; i < bookings->size(); ++i) in.bookings.push_back(booking::pgrows::booking(*bookings, i));
    // The instrument's staffed hours and lapse, the holidays and blackouts ahead, and when each
    // qualified user last used it (issue 10, levels).
    booking::PgStore booking_store(db_);
    auto policy = booking_store.policy(t.resource);
    if (!policy) return policy.error();
    in.booking_policy = std::move(*policy);
    auto closures = booking_store.closures(t.resource, now_ms - kBookingsBeforeMs, now_ms + kClosuresWindowMs);
    if (!closures) return closures.error();
    in.closures = std::move(*closures);
    auto used = c.q(
        "SELECT user_id, MAX(start_ms) FROM usage_sessions WHERE resource = $1 AND user_id IN "
        "(SELECT user_id FROM qualifications WHERE instrument = $1) GROUP BY user_id",
        t.resource);
    if (!used) return used.error();
    for (int i = 0; i < used->size(); ++i) in.last_use[used->text(i, 0)] = used->i64(i, 1);
    return in;
  }();
  if (own_tx) (void)c.script(result ? "COMMIT" : "ROLLBACK");
  return result;
}

Result<StoredSync> PgStore::stored(const std::string& terminal) {
  auto r = db_.conn().q("SELECT sync_version, sync_hash, sync_payload FROM terminals WHERE id = $1", terminal);
  if (!r) return r.error();
  if (r->empty()) return domain_error(Errc::not_found, "terminal " + terminal + " is not enrolled");
  return StoredSync{static_cast<uint64_t>(r->i64(0, 0)), r->text(0, 1), r->text(0, 2)};
}

Status PgStore::save(const std::string& terminal, const StoredSync& s) {
  auto r = db_.conn().q(
      "UPDATE terminals SET sync_version = $1, sync_hash = $2, sync_payload = $3 WHERE id = $4 AND sync_version < $1",
      static_cast<int64_t>(s.version), s.hash, s.payload, terminal);
  if (!r) return r.error();
  if (r->affected() == 0) {
    return domain_error(Errc::conflict, "terminal " + terminal + ": sync version " + std::to_string(s.version) +
                                            " is not above the stored one");
  }
  return {};
}

}  // namespace lg::server::sync
