#include "server/audit/sqlite_store.hpp"

#include <array>

#include "server/audit/rules.hpp"
#include "server/core/sqlite_util.hpp"

namespace lg::server::audit {

using namespace sqlite;

namespace {

// Append-only: the triggers refuse every UPDATE and DELETE (SQLite writers are serialized, so
// reading the head and inserting the next entry in one transaction keeps seq gapless).
constexpr std::string_view kV1 = R"sql(
CREATE TABLE audit_log (
  seq INTEGER PRIMARY KEY CHECK (seq >= 1),
  at_ms INTEGER NOT NULL,
  actor TEXT NOT NULL,
  source TEXT NOT NULL,
  request_id TEXT NOT NULL,
  action TEXT NOT NULL,
  entity TEXT NOT NULL,
  entity_id TEXT NOT NULL,
  before TEXT NOT NULL,
  after TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);
CREATE INDEX audit_by_entity ON audit_log(entity, entity_id, seq);
CREATE INDEX audit_by_actor ON audit_log(actor, seq);
CREATE INDEX audit_by_time ON audit_log(at_ms, seq);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
)sql";

constexpr std::array<db::Migration, 1> kMigrations{{{1, "append-only hash-chained audit log", kV1}}};

constexpr std::string_view kCols =
    "seq, at_ms, actor, source, request_id, action, entity, entity_id, before, after, prev_hash, hash";

Entry entry_row(db::Statement& r) {
  Entry e;
  e.seq = static_cast<uint64_t>(r.column_int64(0));
  e.at_ms = r.column_int64(1);
  e.actor = r.column_text(2);
  e.source = r.column_text(3);
  e.request_id = r.column_text(4);
  e.action = r.column_text(5);
  e.entity = r.column_text(6);
  e.entity_id = r.column_text(7);
  e.before = r.column_text(8);
  e.after = r.column_text(9);
  e.prev_hash = r.column_text(10);
  e.hash = r.column_text(11);
  return e;
}

}  // namespace

std::span<const db::Migration> migrations() { return kMigrations; }

Result<Entry> SqliteStore::append(const Context& ctx, const Change& c, int64_t now_ms) {
  return transact<Entry>(db_, [&]() -> Result<Entry> {
    auto& d = db_.conn();
    auto head = d.prepare("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1");
    if (!head) return head.error();
    auto row = head->step();
    if (!row) {
      head->reset();
      return row.error();
    }
    uint64_t seq = 0;
    std::string hash(kGenesis);
    if (*row) {
      seq = static_cast<uint64_t>(head->column_int64(0));
      hash = head->column_text(1);
    }
    head->reset();
    Entry e = next_entry(seq, hash, ctx, c, now_ms);
    auto st = d.prepare("INSERT INTO audit_log(" + std::string(kCols) + ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?)");
    if (!st) return st.error();
    st->bind(1, static_cast<int64_t>(e.seq)).bind(2, e.at_ms).bind(3, e.actor).bind(4, e.source);
    st->bind(5, e.request_id).bind(6, e.action).bind(7, e.entity).bind(8, e.entity_id).bind(9, e.before);
    st->bind(10, e.after).bind(11, e.prev_hash).bind(12, e.hash);
    LG_TRY(st->run());
    return e;
  });
}

Result<PageOf<Entry>> SqliteStore::list(const Filter& f) {
  static const std::string select =
      "SELECT " + std::string(kCols) +
      ", seq FROM audit_log WHERE (?1 = '' OR entity = ?1) AND (?2 = '' OR entity_id = ?2) AND "
      "(?3 = '' OR actor = ?3) AND (?4 IS NULL OR at_ms >= ?4) AND (?5 IS NULL OR at_ms < ?5)";
  const Keyset q{select, 12, "(seq)", "i", true, "ORDER BY seq DESC", 6};
  return read_page<Entry>(
      db_.conn(), q, f.page,
      [&](db::Statement& st) {
        st.bind(1, f.entity).bind(2, f.entity_id).bind(3, f.actor).bind(4, f.from_ms).bind(5, f.to_ms);
      },
      entry_row);
}

Result<std::vector<Entry>> SqliteStore::chain(uint64_t after_seq, int64_t limit) {
  auto st = db_.conn().prepare("SELECT " + std::string(kCols) + " FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?");
  if (!st) return st.error();
  st->bind(1, static_cast<int64_t>(after_seq)).bind(2, limit);
  std::vector<Entry> out;
  for (;;) {
    auto row = st->step();
    if (!row) {
      st->reset();
      return row.error();
    }
    if (!*row) break;
    out.push_back(entry_row(*st));
  }
  st->reset();
  return out;
}

}  // namespace lg::server::audit
