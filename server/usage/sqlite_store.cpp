#include "server/usage/sqlite_store.hpp"

#include <array>

#include "server/billing/sqlite_store.hpp"
#include "server/core/sqlite_util.hpp"
#include "server/directory/sqlite_store.hpp"

namespace lg::server::usage {

using namespace sqlite;

namespace {

constexpr std::string_view kV1 = R"sql(
CREATE TABLE records (
  terminal TEXT NOT NULL,
  seq INTEGER NOT NULL,
  id TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL,
  ts_ms INTEGER NOT NULL,
  clock_synced INTEGER NOT NULL,
  body TEXT NOT NULL,
  received_ms INTEGER NOT NULL,
  refused TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (terminal, seq)
);
CREATE TABLE access_events (
  record_id TEXT PRIMARY KEY,
  terminal TEXT NOT NULL,
  seq INTEGER NOT NULL,
  ts_ms INTEGER NOT NULL,
  card TEXT NOT NULL,
  user TEXT NOT NULL DEFAULT '',
  user_resolved INTEGER NOT NULL DEFAULT 0,
  resource TEXT NOT NULL,
  output TEXT NOT NULL,
  decision TEXT NOT NULL,
  reason TEXT NOT NULL,
  mode TEXT NOT NULL,
  acl_version INTEGER NOT NULL,
  booking TEXT NOT NULL DEFAULT '',
  clock_synced INTEGER NOT NULL
);
CREATE INDEX access_events_by_ts ON access_events(ts_ms, terminal, seq);
CREATE TABLE usage_sessions (
  id TEXT PRIMARY KEY,
  terminal TEXT NOT NULL,
  resource TEXT NOT NULL,
  user TEXT NOT NULL DEFAULT '',
  card TEXT NOT NULL DEFAULT '',
  booking TEXT NOT NULL DEFAULT '',
  start_ms INTEGER NOT NULL,
  end_ms INTEGER,
  duration_ms INTEGER,
  energy_wh INTEGER,
  end_reason TEXT NOT NULL DEFAULT '',
  flags TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL CHECK (status IN ('open', 'closed')),
  start_record TEXT,
  end_record TEXT
);
CREATE INDEX usage_sessions_by_start ON usage_sessions(start_ms, id);
CREATE INDEX usage_sessions_by_end ON usage_sessions(end_ms);
CREATE TABLE ingest_counters (
  name TEXT PRIMARY KEY,
  value INTEGER NOT NULL
);
CREATE TABLE rejections (
  reason TEXT PRIMARY KEY,
  count INTEGER NOT NULL
);
CREATE TABLE server_alarms (
  id INTEGER PRIMARY KEY,
  terminal TEXT NOT NULL,
  code TEXT NOT NULL,
  detail TEXT NOT NULL,
  ts_ms INTEGER NOT NULL
);
)sql";

// The pseudonyms the sync bundles named (docs/PROTOCOL.md "Cards and users in the bundle"): a
// terminal's records name its holder by pseudonym, and ingest attributes them through this table.
constexpr std::string_view kV2 = R"sql(
CREATE TABLE pseudonyms (
  terminal TEXT NOT NULL,
  pseudonym TEXT NOT NULL,
  user TEXT NOT NULL,
  PRIMARY KEY (terminal, pseudonym)
);
)sql";

// A user's last session on a resource: when a qualification lapses for want of use (issue 10).
constexpr std::string_view kV3 = R"sql(
CREATE INDEX usage_sessions_by_resource_user ON usage_sessions(resource, user, start_ms);
)sql";

constexpr std::array<db::Migration, 3> kMigrations{{{1, "records, access events, sessions, counters", kV1},
                                                    {2, "pseudonyms of the sync bundles", kV2},
                                                    {3, "sessions by resource and user", kV3}}};

}  // namespace

std::span<const db::Migration> migrations() { return kMigrations; }

namespace {

/// Binds text, or NULL when it is empty.
void bind_or_null(db::Statement& st, int i, const std::string& v) {
  if (v.empty())
    st.bind_null(i);
  else
    st.bind(i, v);
}

/// Steps a point lookup once: true with its row at hand, false without one (reset either way
/// by the caller through each_row or reset()).
Result<bool> one_row(db::Statement& q) {
  auto row = q.step();
  if (!row) q.reset();
  return row;
}

}  // namespace

// SQLite runs in this process: a lookup or an insert is a call, not a round trip, so the group's
// rows go through one prepared statement per table, bound and stepped once per row.
Result<Prefetched> SqliteStore::prefetch(const PrefetchQuery& q) {
  auto& d = db_.conn();
  Prefetched out;
  {
    auto at = d.prepare("SELECT id FROM records WHERE terminal = ? AND seq = ?");
    if (!at) return at.error();
    auto of = d.prepare("SELECT terminal, seq FROM records WHERE id = ?");
    if (!of) return of.error();
    for (const auto& k : q.records) {
      RecordPlace place{k.terminal, k.seq};
      auto found = out.id_at.find(place);
      if (found == out.id_at.end()) {
        at->bind(1, k.terminal).bind(2, static_cast<int64_t>(k.seq));
        auto row = one_row(*at);
        if (!row) return row.error();
        if (*row) {
          found = out.id_at.emplace(place, at->column_text(0)).first;
          out.place_of.emplace(found->second, place);
        }
        at->reset();
      }
      // The record at the place is this id: ids are unique, so that is where the id is stored.
      if (found != out.id_at.end() && found->second == k.id) continue;
      if (k.id.empty() || out.place_of.count(k.id)) continue;
      of->bind(1, k.id);
      auto row = one_row(*of);
      if (!row) return row.error();
      if (*row) {
        RecordPlace stored{of->column_text(0), static_cast<uint64_t>(of->column_int64(1))};
        out.id_at.emplace(stored, k.id);
        out.place_of.emplace(k.id, std::move(stored));
      }
      of->reset();
    }
  }
  {
    auto st = d.prepare(
        "SELECT s.status, s.user, COALESCE(s.end_record, ''), rec.clock_synced FROM usage_sessions s "
        "LEFT JOIN records rec ON rec.id = s.start_record WHERE s.id = ?");
    if (!st) return st.error();
    for (const auto& id : q.sessions) {
      if (id.empty() || out.sessions.count(id)) continue;
      st->bind(1, id);
      auto row = one_row(*st);
      if (!row) return row.error();
      if (*row) {
        StoredSession s;
        s.exists = true;
        s.closed = st->column_text(0) == "closed";
        s.user = st->column_text(1);
        s.end_record = st->column_text(2);
        if (!st->column_is_null(3)) s.start_synced = st->column_int64(3) != 0;
        out.sessions.emplace(id, std::move(s));
      }
      st->reset();
    }
  }
  {
    auto owner = d.prepare("SELECT user FROM cards WHERE uid = ? AND active = 1");
    if (!owner) return owner.error();
    for (const auto& uid : q.cards) {
      if (uid.empty() || out.card_owners.count(uid)) continue;
      owner->bind(1, uid);
      auto row = one_row(*owner);
      if (!row) return row.error();
      out.card_owners.emplace(uid, *row ? owner->column_text(0) : std::string());
      owner->reset();
    }
  }
  {
    std::vector<const std::string*> ids;
    for (const auto& u : q.users) ids.push_back(&u);
    for (const auto& [id, s] : out.sessions) ids.push_back(&s.user);
    for (const auto& [uid, owner] : out.card_owners) ids.push_back(&owner);
    auto user = d.prepare("SELECT " + std::string(directory::rows::kUserCols) + " FROM users WHERE id = ?");
    if (!user) return user.error();
    for (const std::string* id : ids) {
      if (id->empty() || out.users.count(*id)) continue;
      user->bind(1, *id);
      auto row = one_row(*user);
      if (!row) return row.error();
      std::optional<User> u;
      if (*row) u = directory::rows::user(*user, 0);
      out.users.emplace(*id, std::move(u));
      user->reset();
    }
  }
  for (const auto& [terminal, acked] : q.acked) {
    auto seqs = seqs_above(terminal, acked, q.seq_limit);
    if (!seqs) return seqs.error();
    out.seqs_above[terminal] = std::move(seqs).value();
  }
  return out;
}

Status SqliteStore::write(const UsageEffects& e) {
  auto& d = db_.conn();
  if (!e.records.empty()) {
    auto ins = d.prepare(
        "INSERT INTO records(terminal, seq, id, kind, ts_ms, clock_synced, body, received_ms, refused) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (!ins) return ins.error();
    for (const auto& r : e.records) {
      ins->bind(1, r.terminal).bind(2, static_cast<int64_t>(r.seq)).bind(3, r.id).bind(4, r.kind);
      ins->bind(5, r.ts_ms).bind(6, b64(r.clock_synced)).bind(7, r.body).bind(8, e.now_ms).bind(9, r.refused);
      LG_TRY(ins->run());
    }
  }
  if (!e.access.empty()) {
    auto st = d.prepare(
        "INSERT INTO access_events(record_id, terminal, seq, ts_ms, card, user, user_resolved, resource, output, "
        "decision, reason, mode, acl_version, booking, clock_synced) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    if (!st) return st.error();
    for (const auto& a : e.access) {
      st->bind(1, a.record_id).bind(2, a.terminal).bind(3, static_cast<int64_t>(a.seq)).bind(4, a.ts_ms);
      st->bind(5, a.card).bind(6, a.user).bind(7, b64(a.user_resolved));
      st->bind(8, a.resource).bind(9, a.output).bind(10, a.decision);
      st->bind(11, a.reason).bind(12, a.mode);
      st->bind(13, static_cast<int64_t>(a.acl_version)).bind(14, a.booking).bind(15, b64(a.clock_synced));
      LG_TRY(st->run());
    }
  }
  if (!e.new_sessions.empty()) {
    auto st = d.prepare(
        "INSERT INTO usage_sessions(id, terminal, resource, user, card, booking, start_ms, end_ms, duration_ms, "
        "energy_wh, end_reason, flags, status, start_record, end_record) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    if (!st) return st.error();
    for (const auto& row : e.new_sessions) {
      const UsageSession& s = row.session;
      st->bind(1, s.id).bind(2, s.terminal).bind(3, s.resource).bind(4, s.user);
      st->bind(5, s.card).bind(6, s.booking).bind(7, s.start_ms).bind(8, s.end_ms);
      st->bind(9, s.duration_ms).bind(10, s.energy_wh).bind(11, s.end_reason).bind(12, join_flags(s.flags));
      st->bind(13, s.closed ? "closed" : "open");
      bind_or_null(*st, 14, row.start_record);
      bind_or_null(*st, 15, row.end_record);
      LG_TRY(st->run());
    }
  }
  if (!e.closes.empty()) {
    auto st = d.prepare(
        "UPDATE usage_sessions SET status = 'closed', user = ?, end_ms = ?, duration_ms = ?, energy_wh = ?, "
        "end_reason = ?, flags = ?, end_record = ? WHERE id = ? AND status = 'open'");
    if (!st) return st.error();
    for (const auto& row : e.closes) {
      const UsageSession& s = row.session;
      st->bind(1, s.user).bind(2, s.end_ms).bind(3, s.duration_ms).bind(4, s.energy_wh);
      st->bind(5, s.end_reason).bind(6, join_flags(s.flags)).bind(7, row.end_record).bind(8, s.id);
      LG_TRY(st->run());
      if (d.changes() != 1) return Error::invalid("session " + s.id + " is not open");
    }
  }
  if (!e.alarms.empty()) {
    auto st = d.prepare("INSERT INTO server_alarms(terminal, code, detail, ts_ms) VALUES (?, ?, ?, ?)");
    if (!st) return st.error();
    for (const auto& a : e.alarms) {
      st->bind(1, a.terminal).bind(2, a.code).bind(3, a.detail).bind(4, e.now_ms);
      LG_TRY(st->run());
    }
  }
  for (const auto& [name, n] : e.counters) LG_TRY(bump_counter(d, name, n));
  for (const auto& [reason, n] : e.rejections) LG_TRY(bump_rejection(d, reason, n));
  return {};
}

Result<std::vector<uint64_t>> SqliteStore::seqs_above(const std::string& terminal, uint64_t after, int64_t limit) {
  auto q = db_.conn().prepare("SELECT seq FROM records WHERE terminal = ? AND seq > ? ORDER BY seq LIMIT ?");
  if (!q) return q.error();
  q->bind(1, terminal).bind(2, static_cast<int64_t>(after)).bind(3, limit);
  std::vector<uint64_t> out;
  if (auto s = each_row(*q, [&](db::Statement& r) { out.push_back(static_cast<uint64_t>(r.column_int64(0))); }); !s)
    return s.error();
  return out;
}

Status SqliteStore::count(std::string_view counter, int64_t n) { return bump_counter(db_.conn(), counter, n); }

Status SqliteStore::count_rejection(std::string_view reason, int64_t n) {
  return bump_rejection(db_.conn(), reason, n);
}

Status SqliteStore::keep_pseudonyms(const std::string& terminal,
                                    const std::vector<std::pair<std::string, std::string>>& pairs) {
  if (pairs.empty()) return {};
  auto& d = db_.conn();
  auto q = d.prepare("INSERT OR IGNORE INTO pseudonyms(terminal, pseudonym, user) VALUES (?, ?, ?)");
  if (!q) return q.error();
  for (const auto& [p, user] : pairs) {
    q->bind(1, terminal).bind(2, p).bind(3, user);
    LG_TRY(q->run());
  }
  return {};
}

Result<std::map<std::string, std::string>> SqliteStore::pseudonym_users(const std::string& terminal,
                                                                       const std::vector<std::string>& pseudonyms) {
  std::map<std::string, std::string> out;
  auto& d = db_.conn();
  auto q = d.prepare("SELECT user FROM pseudonyms WHERE terminal = ? AND pseudonym = ?");
  if (!q) return q.error();
  for (const auto& p : pseudonyms) {
    q->bind(1, terminal).bind(2, p);
    auto row = q->step();
    if (!row) return row.error();
    if (*row) out.emplace(p, q->column_text(0));
    q->reset();
  }
  return out;
}

Result<Stats> SqliteStore::stats() {
  auto& d = db_.conn();
  Stats s;
  {
    auto q = d.prepare("SELECT name, value FROM ingest_counters");
    if (!q) return q.error();
    auto st = each_row(*q, [&](db::Statement& r) {
      const std::string name = r.column_text(0);
      const int64_t v = r.column_int64(1);
      if (name == "batches") s.batches = v;
      else if (name == "records") s.records = v;
      else if (name == "duplicates") s.duplicates = v;
      else if (name == "acks") s.acks = v;
    });
    if (!st) return st.error();
  }
  auto q = d.prepare("SELECT reason, count FROM rejections ORDER BY reason");
  if (!q) return q.error();
  auto st = each_row(*q, [&](db::Statement& r) { s.rejected[r.column_text(0)] = r.column_int64(1); });
  if (!st) return st.error();
  return s;
}

Result<PageOf<AccessEvent>> SqliteStore::access_events(const AccessFilter& f) {
  static constexpr Keyset q{
      "SELECT record_id, terminal, seq, ts_ms, card, user, user_resolved, resource, output, decision, reason, "
      "mode, acl_version, booking, clock_synced, ts_ms, terminal, seq FROM access_events "
      "WHERE (?1 = '' OR terminal = ?1) AND (?2 = '' OR decision = ?2)",
      15, "(ts_ms, terminal, seq)", "isi", true, "ORDER BY ts_ms DESC, terminal DESC, seq DESC", 3};
  return read_page<AccessEvent>(
      db_.conn(), q, f.page, [&](db::Statement& st) { st.bind(1, f.terminal).bind(2, f.decision); },
      [](db::Statement& r) {
        AccessEvent e;
        e.record_id = r.column_text(0);
        e.terminal = r.column_text(1);
        e.seq = static_cast<uint64_t>(r.column_int64(2));
        e.ts_ms = r.column_int64(3);
        e.card = r.column_text(4);
        e.user = r.column_text(5);
        e.user_resolved = r.column_int64(6) != 0;
        e.resource = r.column_text(7);
        e.output = r.column_text(8);
        e.decision = r.column_text(9);
        e.reason = r.column_text(10);
        e.mode = r.column_text(11);
        e.acl_version = static_cast<uint64_t>(r.column_int64(12));
        e.booking = r.column_text(13);
        e.clock_synced = r.column_int64(14) != 0;
        return e;
      });
}

Result<PageOf<UsageSession>> SqliteStore::sessions(const SessionFilter& f) {
  static const std::string select =
      "SELECT s.id, s.terminal, s.resource, s.user, s.card, s.booking, s.start_ms, s.end_ms, s.duration_ms, "
      "s.energy_wh, s.end_reason, s.flags, s.status, " + std::string(billing::rows::kChargeCols) + ", s.start_ms, s.id "
      "FROM usage_sessions s LEFT JOIN charges c ON c.session = s.id "
      "WHERE (?1 = '' OR s.resource = ?1) AND (?2 = '' OR s.user = ?2)";
  const Keyset q{select, 26, "(s.start_ms, s.id)", "is", true, "ORDER BY s.start_ms DESC, s.id DESC", 3};
  return read_page<UsageSession>(
      db_.conn(), q, f.page, [&](db::Statement& st) { st.bind(1, f.instrument).bind(2, f.user); },
      [](db::Statement& r) {
        UsageSession u;
        u.id = r.column_text(0);
        u.terminal = r.column_text(1);
        u.resource = r.column_text(2);
        u.user = r.column_text(3);
        u.card = r.column_text(4);
        u.booking = r.column_text(5);
        u.start_ms = r.column_int64(6);
        u.end_ms = opt_int(r, 7);
        u.duration_ms = opt_int(r, 8);
        u.energy_wh = opt_int(r, 9);
        u.end_reason = r.column_text(10);
        u.flags = split_flags(r.column_text(11));
        u.closed = r.column_text(12) == "closed";
        if (!r.column_is_null(13)) u.charge = billing::rows::charge(r, 13);
        return u;
      });
}

}  // namespace lg::server::usage
