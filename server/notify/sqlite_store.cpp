#include "server/notify/sqlite_store.hpp"

#include <array>

#include "server/core/sqlite_util.hpp"
#include "server/notify/rules.hpp"

namespace lg::server::notify {

using namespace sqlite;

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
  attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  next_attempt_ms INTEGER NOT NULL,
  last_error TEXT NOT NULL DEFAULT '',
  claim TEXT NOT NULL DEFAULT '',
  created_ms INTEGER NOT NULL,
  sent_ms INTEGER
);
CREATE INDEX notices_due ON notices(state, next_attempt_ms);
CREATE INDEX notices_by_created ON notices(created_ms, id);
CREATE INDEX notices_by_recipient ON notices(recipient, created_ms, id);
)sql";

constexpr std::array<db::Migration, 1> kMigrations{{{1, "notification outbox", kV1}}};

constexpr std::string_view kCols =
    "id, recipient, address, kind, subject, body, dedupe_key, state, attempts, next_attempt_ms, last_error, "
    "created_ms, sent_ms";

Notice row(db::Statement& r) {
  Notice n;
  n.id = r.column_text(0);
  n.recipient = r.column_text(1);
  n.address = r.column_text(2);
  n.kind = kind_from_string(r.column_text(3)).value_or(Kind::other);
  n.subject = r.column_text(4);
  n.body = r.column_text(5);
  n.dedupe_key = r.column_text(6);
  n.state = state_from_string(r.column_text(7)).value_or(State::failed);
  n.attempts = r.column_int64(8);
  n.next_attempt_ms = r.column_int64(9);
  n.last_error = r.column_text(10);
  n.created_ms = r.column_int64(11);
  n.sent_ms = opt_int(r, 12);
  return n;
}

}  // namespace

std::span<const db::Migration> migrations() { return kMigrations; }

Result<bool> SqliteStore::insert(const Notice& n) {
  bool stored = false;
  auto s = db_.run([&]() -> Status {
    auto& d = db_.conn();
    auto st = d.prepare(
        "INSERT INTO notices(id, recipient, address, kind, subject, body, dedupe_key, state, attempts, "
        "next_attempt_ms, last_error, created_ms) VALUES (?,?,?,?,?,?,?,?,0,?,?,?) ON CONFLICT(dedupe_key) DO NOTHING");
    if (!st) return st.error();
    st->bind(1, n.id).bind(2, n.recipient).bind(3, n.address).bind(4, to_string(n.kind)).bind(5, n.subject);
    st->bind(6, n.body).bind(7, n.dedupe_key).bind(8, to_string(n.state)).bind(9, n.next_attempt_ms);
    st->bind(10, n.last_error).bind(11, n.created_ms);
    LG_TRY(st->run());
    stored = d.changes() > 0;
    return {};
  });
  if (!s) return s.error();
  return stored;
}

Result<std::optional<Notice>> SqliteStore::get(const std::string& id) {
  auto q = db_.conn().prepare("SELECT " + std::string(kCols) + " FROM notices WHERE id = ?");
  if (!q) return q.error();
  q->bind(1, id);
  auto r = q->step();
  if (!r) {
    q->reset();
    return r.error();
  }
  std::optional<Notice> out;
  if (*r) out = row(*q);
  q->reset();
  return out;
}

Result<PageOf<Notice>> SqliteStore::list(const NoticeFilter& f, const Page& p) {
  static const std::string select = "SELECT " + std::string(kCols) +
                                    ", created_ms, id FROM notices WHERE (?1 = '' OR state = ?1) AND "
                                    "(?2 = '' OR recipient = ?2)";
  static const Keyset q{select, 13, "(created_ms, id)", "is", true, "ORDER BY created_ms DESC, id DESC", 3};
  return read_page<Notice>(
      db_.conn(), q, p, [&](db::Statement& st) { st.bind(1, f.state).bind(2, f.recipient); }, row);
}

Result<std::vector<Notice>> SqliteStore::claim_due(int64_t now_ms, int64_t limit, const std::string& claim,
                                                   int64_t lease_until_ms) {
  std::vector<Notice> out;
  auto s = db_.run([&]() -> Status {
    out.clear();
    auto& d = db_.conn();
    // BEGIN IMMEDIATE: the write lock is held from the read on, so no other claimer sees these rows due.
    auto q = d.prepare("SELECT " + std::string(kCols) +
                       " FROM notices WHERE state = 'pending' AND next_attempt_ms <= ? ORDER BY next_attempt_ms, id "
                       "LIMIT ?");
    if (!q) return q.error();
    q->bind(1, now_ms).bind(2, limit);
    LG_TRY(each_row(*q, [&](db::Statement& r) { out.push_back(row(r)); }));
    auto up = d.prepare("UPDATE notices SET attempts = attempts + 1, next_attempt_ms = ?, claim = ? WHERE id = ?");
    if (!up) return up.error();
    for (auto& n : out) {
      up->bind(1, lease_until_ms).bind(2, claim).bind(3, n.id);
      LG_TRY(up->run());
      n.attempts += 1;
      n.next_attempt_ms = lease_until_ms;
    }
    return {};
  });
  if (!s) return s.error();
  return out;
}

Result<bool> SqliteStore::mark_sent(const std::string& id, const std::string& claim, int64_t now_ms) {
  bool changed = false;
  auto s = db_.run([&]() -> Status {
    auto& d = db_.conn();
    auto st = d.prepare(
        "UPDATE notices SET state = 'sent', sent_ms = ?, last_error = '', claim = '' WHERE id = ? AND claim = ? AND "
        "state = 'pending'");
    if (!st) return st.error();
    st->bind(1, now_ms).bind(2, id).bind(3, claim);
    LG_TRY(st->run());
    changed = d.changes() > 0;
    return {};
  });
  if (!s) return s.error();
  return changed;
}

Result<bool> SqliteStore::mark_failed(const std::string& id, const std::string& claim, State state,
                                      int64_t next_attempt_ms, const std::string& error) {
  bool changed = false;
  auto s = db_.run([&]() -> Status {
    auto& d = db_.conn();
    auto st = d.prepare(
        "UPDATE notices SET state = ?, next_attempt_ms = ?, last_error = ?, claim = '' WHERE id = ? AND claim = ? AND "
        "state = 'pending'");
    if (!st) return st.error();
    st->bind(1, to_string(state)).bind(2, next_attempt_ms).bind(3, error).bind(4, id).bind(5, claim);
    LG_TRY(st->run());
    changed = d.changes() > 0;
    return {};
  });
  if (!s) return s.error();
  return changed;
}

Result<bool> SqliteStore::requeue(const std::string& id, const std::string& address, int64_t now_ms) {
  bool changed = false;
  auto s = db_.run([&]() -> Status {
    auto& d = db_.conn();
    auto st = d.prepare(
        "UPDATE notices SET state = 'pending', address = ?, attempts = 0, next_attempt_ms = ?, claim = '' "
        "WHERE id = ? AND state IN ('failed', 'no_address')");
    if (!st) return st.error();
    st->bind(1, address).bind(2, now_ms).bind(3, id);
    LG_TRY(st->run());
    changed = d.changes() > 0;
    return {};
  });
  if (!s) return s.error();
  return changed;
}

}  // namespace lg::server::notify
