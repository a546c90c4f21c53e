#include "server/audit/pg_store.hpp"

#include <array>

#include "server/audit/rules.hpp"
#include "server/core/pg_util.hpp"

namespace lg::server::audit {

using namespace pgsql;

namespace {

// The chain's head is one row (audit_head) that every append locks (SELECT ... FOR UPDATE) and
// moves on: appends from every node queue on it, so seq has no gaps and each entry links to the
// one before. A transaction whose snapshot is older than the head it locked fails with 40001 and
// PgDb runs it again. audit_log itself is append-only: a trigger refuses UPDATE, DELETE and
// TRUNCATE.
constexpr std::string_view kV1 = R"sql(
CREATE TABLE audit_log (
  seq BIGINT PRIMARY KEY CHECK (seq >= 1),
  at_ms BIGINT NOT NULL,
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
CREATE TABLE audit_head (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  seq BIGINT NOT NULL,
  hash TEXT NOT NULL
);
INSERT INTO audit_head(id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
CREATE FUNCTION audit_log_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only';
END $$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_refuse();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse();
)sql";

constexpr std::array<db::Migration, 1> kMigrations{{{1, "append-only hash-chained audit log", kV1}}};

constexpr std::string_view kCols =
    "seq, at_ms, actor, source, request_id, action, entity, entity_id, before, after, prev_hash, hash";

Entry entry_row(const pg::Rows& r, int i) {
  Entry e;
  e.seq = static_cast<uint64_t>(r.i64(i, 0));
  e.at_ms = r.i64(i, 1);
  e.actor = r.text(i, 2);
  e.source = r.text(i, 3);
  e.request_id = r.text(i, 4);
  e.action = r.text(i, 5);
  e.entity = r.text(i, 6);
  e.entity_id = r.text(i, 7);
  e.before = r.text(i, 8);
  e.after = r.text(i, 9);
  e.prev_hash = r.text(i, 10);
  e.hash = r.text(i, 11);
  return e;
}

}  // namespace

std::span<const db::Migration> pg_migrations() { return kMigrations; }

Result<Entry> PgStore::append(const Context& ctx, const Change& c, int64_t now_ms) {
  return transact<Entry>(db_, [&]() -> Result<Entry> {
    auto& conn = db_.conn();
    auto head = conn.q("SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE");
    if (!head) return head.error();
    if (head->empty()) return Error::invalid("audit_head has no row (audit migration 1 not applied?)");
    Entry e = next_entry(static_cast<uint64_t>(head->i64(0, 0)), head->text(0, 1), ctx, c, now_ms);
    LG_TRY(done(conn.q("INSERT INTO audit_log(" + std::string(kCols) +
                           ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                       static_cast<int64_t>(e.seq), e.at_ms, e.actor, e.source, e.request_id, e.action, e.entity,
                       e.entity_id, e.before, e.after, e.prev_hash, e.hash)));
    LG_TRY(done(conn.q("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1", static_cast<int64_t>(e.seq), e.hash)));
    return e;
  });
}

Result<PageOf<Entry>> PgStore::list(const Filter& f) {
  static const std::string select =
      "SELECT " + std::string(kCols) +
      ", seq FROM audit_log WHERE ($1 = '' OR entity = $1) AND ($2 = '' OR entity_id = $2) AND "
      "($3 = '' OR actor = $3) AND ($4::bigint IS NULL OR at_ms >= $4::bigint) AND "
      "($5::bigint IS NULL OR at_ms < $5::bigint)";
  const Keyset q{select, 12, "(seq)", "i", true, "ORDER BY seq DESC", 6};
  pg::Params p;
  p.add(f.entity).add(f.entity_id).add(f.actor).add(f.from_ms).add(f.to_ms);
  return read_page<Entry>(db_.conn(), q, f.page, std::move(p), entry_row);
}

Result<std::vector<Entry>> PgStore::chain(uint64_t after_seq, int64_t limit) {
  auto r = db_.conn().q("SELECT " + std::string(kCols) + " FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2",
                        static_cast<int64_t>(after_seq), limit);
  if (!r) return r.error();
  std::vector<Entry> out;
  out.reserve(static_cast<std::size_t>(r->size()));
  for (int i = 0; i < r->size(); ++i) out.push_back(entry_row(*r, i));
  return out;
}

}  // namespace lg::server::audit
