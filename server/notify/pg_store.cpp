#include "server/notify/pg_store.hpp"

#include <algorithm>
#include <array>

#include "server/core/pg_util.hpp"
#include "server/notify/rules.hpp"

namespace lg::server::notify {

using namespace pgsql;

namespace {

// One notice per dedupe key (UNIQUE): the caller's rule decides what to send, the constraint
// makes a second run of it a no-op. claim: the sender holding a pending notice ("" = none).
constexpr std::string_view kV1 = R"sql(
CREATE TABLE notices (
  id TEXT PRIMARY KEY,
  recipient TEXT NOT NULL,
  address TEXT NOT NULL DEFAULT '',
  kind TEXT NOT NULL,
  subject TEXT NOT NULL,
  body TEXT NOT NULL,
  dedupe_key TEXT NOT NULL UNIQUE,
  state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed', 'no_address')),
  attempts BIGINT NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  next_attempt_ms BIGINT NOT NULL,
  last_error TEXT NOT NULL DEFAULT '',
  claim TEXT NOT NULL DEFAULT '',
  created_ms BIGINT NOT NULL,
  sent_ms BIGINT
);
CREATE INDEX notices_due ON notices(next_attempt_ms, id) WHERE state = 'pending';
CREATE INDEX notices_by_created ON notices(created_ms, id);
CREATE INDEX notices_by_recipient ON notices(recipient, created_ms, id);
)sql";

constexpr std::array<db::Migration, 1> kMigrations{{{1, "notification outbox", kV1}}};

constexpr std::string_view kCols =
    "id, recipient, address, kind, subject, body, dedupe_key, state, attempts, next_attempt_ms, last_error, "
    "created_ms, sent_ms";

Notice row(const pg::Rows& r, int i) {
  Notice n;
  n.id = r.text(i, 0);
  n.recipient = r.text(i, 1);
  n.address = r.text(i, 2);
  n.kind = kind_from_string(r.text(i, 3)).value_or(Kind::other);
  n.subject = r.text(i, 4);
  n.body = r.text(i, 5);
  n.dedupe_key = r.text(i, 6);
  n.state = state_from_string(r.text(i, 7)).value_or(State::failed);
  n.attempts = r.i64(i, 8);
  n.next_attempt_ms = r.i64(i, 9);
  n.last_error = r.text(i, 10);
  n.created_ms = r.i64(i, 11);
  n.sent_ms = r.opt_i64(i, 12);
  return n;
}

}  // namespace

std::span<const db::Migration> pg_migrations() { return kMigrations; }

Result<bool> PgStore::insert(const Notice& n) {
  bool stored = false;
  auto s = db_.run([&]() -> Status {
    auto r = db_.conn().q(
        "INSERT INTO notices(id, recipient, address, kind, subject, body, dedupe_key, state, attempts, "
        "next_attempt_ms, last_error, created_ms) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,0,$9,$10,$11) "
        "ON CONFLICT (dedupe_key) DO NOTHING",
        n.id, n.recipient, n.address, to_string(n.kind), n.subject, n.body, n.dedupe_key, to_string(n.state),
        n.next_attempt_ms, n.last_error, n.created_ms);
    if (!r) return r.error();
    stored = r->affected() > 0;
    return {};
  });
  if (!s) return s.error();
  return stored;
}

Result<std::optional<Notice>> PgStore::get(const std::string& id) {
  auto r = db_.conn().q("SELECT " + std::string(kCols) + " FROM notices WHERE id = $1", id);
  if (!r) return r.error();
  std::optional<Notice> out;
  if (!r->empty()) out = row(*r, 0);
  return out;
}

Result<PageOf<Notice>> PgStore::list(const NoticeFilter& f, const Page& p) {
  static const std::string select = "SELECT " + std::string(kCols) +
                                    ", created_ms, id FROM notices WHERE ($1 = '' OR state = $1) AND "
                                    "($2 = '' OR recipient = $2)";
  static const Keyset q{select, 13, "(created_ms, id)", "is", true, "ORDER BY created_ms DESC, id DESC", 3};
  pg::Params params;
  params.add(f.state).add(f.recipient);
  return read_page<Notice>(db_.conn(), q, p, std::move(params), row);
}

Result<std::vector<Notice>> PgStore::claim_due(int64_t now_ms, int64_t limit, const std::string& claim,
                                               int64_t lease_until_ms) {
  std::vector<Notice> out;
  // SKIP LOCKED: a claimer never waits for another's rows, it takes the next due ones; the
  // SERIALIZABLE unit of work runs again if two claims still collide.
  auto s = db_.run([&]() -> Status {
    out.clear();
    auto r = db_.conn().q(
        "UPDATE notices SET attempts = attempts + 1, next_attempt_ms = $1, claim = $2 WHERE id IN ("
        "SELECT id FROM notices WHERE state = 'pending' AND next_attempt_ms <= $3 ORDER BY next_attempt_ms, id "
        "LIMIT $4 FOR UPDATE SKIP LOCKED) RETURNING " +
            std::string(kCols),
        lease_until_ms, claim, now_ms, limit);
    if (!r) return r.error();
    for (int i = 0; i < r->size(); ++i) out.push_back(row(*r, i));
    return {};
  });
  if (!s) return s.error();
  std::sort(out.begin(), out.end(), [](const Notice& a, const Notice& b) { return a.created_ms < b.created_ms || (a.created_ms == b.created_ms && a.id < b.id); });
  return out;
}

Result<bool> PgStore::mark_sent(const std::string& id, const std::string& claim, int64_t now_ms) {
  bool changed = false;
  auto s = db_.run([&]() -> Status {
    auto r = db_.conn().q(
        "UPDATE notices SET state = 'sent', sent_ms = $1, last_error = '', claim = '' WHERE id = $2 AND claim = $3 "
        "AND state = 'pending'",
        now_ms, id, claim);
    if (!r) return r.error();
    changed = r->affected() > 0;
    return {};
  });
  if (!s) return s.error();
  return changed;
}

Result<bool> PgStore::mark_failed(const std::string& id, const std::string& claim, State state, int64_t next_attempt_ms,
                                  const std::string& error) {
  bool changed = false;
  auto s = db_.run([&]() -> Status {
    auto r = db_.conn().q(
        "UPDATE notices SET state = $1, next_attempt_ms = $2, last_error = $3, claim = '' WHERE id = $4 AND "
        "claim = $5 AND state = 'pending'",
        to_string(state), next_attempt_ms, error, id, claim);
    if (!r) return r.error();
    changed = r->affected() > 0;
    return {};
  });
  if (!s) return s.error();
  return changed;
}

Result<bool> PgStore::requeue(const std::string& id, const std::string& address, int64_t now_ms) {
  bool changed = false;
  auto s = db_.run([&]() -> Status {
    auto r = db_.conn().q(
        "UPDATE notices SET state = 'pending', address = $1, attempts = 0, next_attempt_ms = $2, claim = '' "
        "WHERE id = $3 AND state IN ('failed', 'no_address')",
        address, now_ms, id);
    if (!r) return r.error();
    changed = r->affected() > 0;
    return {};
  });
  if (!s) return s.error();
  return changed;
}

}  // namespace lg::server::notify
