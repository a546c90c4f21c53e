#include "store.hpp"

#include <array>

namespace lg::terminal {

namespace {

constexpr std::string_view kSchema1 = R"sql(
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value INTEGER NOT NULL
);
-- Records waiting for the server's ack. seq only grows (AUTOINCREMENT never reuses a value,
-- even after deletes) and survives restarts.
CREATE TABLE outbox (
  seq     INTEGER PRIMARY KEY AUTOINCREMENT,
  rec_id  TEXT NOT NULL UNIQUE,
  kind    TEXT NOT NULL,
  ts_ms   INTEGER NOT NULL,
  payload TEXT NOT NULL
);
-- The applied sync bundle: one policy row, its grants and bookings.
CREATE TABLE acl_policy (
  id                INTEGER PRIMARY KEY CHECK (id = 1),
  version           INTEGER NOT NULL,
  resource          TEXT NOT NULL,
  issued_ms         INTEGER NOT NULL,
  require_booking   INTEGER NOT NULL,
  early_start_s     INTEGER NOT NULL,
  grace_after_end_s INTEGER NOT NULL,
  offline_grace_s   INTEGER NOT NULL,
  max_session_s     INTEGER NOT NULL
);
CREATE TABLE acl_grants (
  card          TEXT PRIMARY KEY,
  user          TEXT NOT NULL,
  category      TEXT NOT NULL,
  admin         INTEGER NOT NULL,
  valid_from_ms INTEGER NOT NULL,
  valid_until_ms INTEGER
);
CREATE TABLE acl_bookings (
  id       TEXT PRIMARY KEY,
  user     TEXT NOT NULL,
  start_ms INTEGER NOT NULL,
  end_ms   INTEGER NOT NULL CHECK (end_ms > start_ms)
);
CREATE TABLE open_sessions (
  id                    TEXT PRIMARY KEY,
  card                  TEXT NOT NULL,
  user                  TEXT NOT NULL,
  resource              TEXT NOT NULL,
  output                TEXT NOT NULL,
  booking               TEXT NOT NULL,
  acl_version           INTEGER NOT NULL,
  start_ms              INTEGER NOT NULL,
  steady_anchor_ms      INTEGER NOT NULL,
  elapsed_base_ms       INTEGER NOT NULL,
  boot_id               TEXT NOT NULL,
  meter_start_wh        INTEGER,
  checkpoint_ms         INTEGER NOT NULL,
  checkpoint_elapsed_ms INTEGER NOT NULL,
  max_end_ms            INTEGER,
  started               INTEGER NOT NULL,
  recovered             INTEGER NOT NULL
);
)sql";

// The session's starting meter reading at the meter's own resolution (kWh as read), so that the
// session energy is rounded once, from the difference. meter_start_wh stays for older rows.
constexpr std::string_view kSchema2 = R"sql(
ALTER TABLE open_sessions ADD COLUMN meter_start_kwh REAL;
)sql";

// Clock facts of an open session: whether its start and last checkpoint were read from a synced
// wall clock, a reboot's downtime still to be counted, and max_session_s as a monotonic limit.
// Rows from before: start and checkpoint count as unsynced (a reboot's gap is then not billed).
constexpr std::string_view kSchema3 = R"sql(
ALTER TABLE open_sessions ADD COLUMN start_synced INTEGER NOT NULL DEFAULT 0;
ALTER TABLE open_sessions ADD COLUMN checkpoint_synced INTEGER NOT NULL DEFAULT 0;
ALTER TABLE open_sessions ADD COLUMN gap_from_ms INTEGER;
ALTER TABLE open_sessions ADD COLUMN max_duration_ms INTEGER;
)sql";

// The resource's status and the cards refused with their own reason (bundle "status", "denials").
constexpr std::string_view kSchema4 = R"sql(
ALTER TABLE acl_policy ADD COLUMN status TEXT NOT NULL DEFAULT 'normal';
CREATE TABLE acl_denials (
  card   TEXT PRIMARY KEY,
  user   TEXT NOT NULL,
  reason TEXT NOT NULL
);
)sql";

// Card digests (docs/PROTOCOL.md "Cards and users in the bundle"): the cached bundle says how it
// names cards ('uid' for a cache written before: the agent turns it into digests at start-up), and
// the ids of the remote commands executed, kept until they expire (a replay is refused).
constexpr std::string_view kSchema5 = R"sql(
ALTER TABLE acl_policy ADD COLUMN card_form TEXT NOT NULL DEFAULT 'uid';
CREATE TABLE commands_done (
  id         TEXT PRIMARY KEY,
  expires_ms INTEGER NOT NULL
);
)sql";

const std::array<db::Migration, 5> kMigrations = {{
    {1, "terminal store", kSchema1},
    {2, "precise starting meter reading", kSchema2},
    {3, "session clock facts", kSchema3},
    {4, "resource status and denials", kSchema4},
    {5, "card digests and executed commands", kSchema5},
}};

std::optional<int64_t> opt_col(const db::Statement& st, int col) {
  if (st.column_is_null(col)) return std::nullopt;
  return st.column_int64(col);
}

}  // namespace

Result<Store> Store::open(const std::string& path) {
  db::Options opts;
  opts.wal = true;
  opts.synchronous = db::Sync::full;
  auto d = db::Database::open(path, opts);
  if (!d) return d.error();
  LG_TRY(db::migrate(*d, kMigrations));
  return Store(std::move(*d));
}

Result<std::optional<int64_t>> Store::meta_int(const std::string& key) {
  auto st = db_.prepare("SELECT value FROM meta WHERE key = ?");
  if (!st) return st.error();
  st->bind(1, std::string_view(key));
  auto row = st->step();
  if (!row) return row.error();
  if (!*row) return std::optional<int64_t>{};
  return std::optional<int64_t>{st->column_int64(0)};
}

Status Store::set_meta_int(const std::string& key, int64_t value) {
  auto st = db_.prepare(
      "INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value");
  if (!st) return st.error();
  st->bind(1, std::string_view(key)).bind(2, value);
  return st->run();
}

Result<uint64_t> Store::next_boot() {
  db::Transaction tx(db_);
  LG_TRY(tx.status());
  std::optional<int64_t> cur;
  LG_TRY_ASSIGN(cur, meta_int("boot"));
  const int64_t next = cur.value_or(0) + 1;
  LG_TRY(set_meta_int("boot", next));
  LG_TRY(tx.commit());
  return static_cast<uint64_t>(next);
}

Status Store::commit(const Commit& c) {
  auto reset_seqs = [&] {
    for (auto* r : c.records) r->seq = 0;
  };
  Status result = [&]() -> Status {
    db::Transaction tx(db_);
    LG_TRY(tx.status());
    auto ins = db_.prepare("INSERT INTO outbox(rec_id, kind, ts_ms, payload) VALUES(?, ?, ?, '')");
    if (!ins) return ins.error();
    auto upd = db_.prepare("UPDATE outbox SET payload = ? WHERE seq = ?");
    if (!upd) return upd.error();
    for (auto* r : c.records) {
      ins->bind(1, std::string_view(r->id)).bind(2, proto::to_string(r->kind())).bind(3, r->ts_ms);
      LG_TRY(ins->run());
      r->seq = static_cast<uint64_t>(db_.last_insert_rowid());
      const std::string payload = proto::encode(*r);
      upd->bind(1, std::string_view(payload)).bind(2, static_cast<int64_t>(r->seq));
      LG_TRY(upd->run());
    }
    if (c.upsert_session) LG_TRY(upsert_session_row(*c.upsert_session));
    if (c.delete_session) {
      auto del = db_.prepare("DELETE FROM open_sessions WHERE id = ?");
      if (!del) return del.error();
      del->bind(1, std::string_view(*c.delete_session));
      LG_TRY(del->run());
    }
    return tx.commit();
  }();
  if (!result) reset_seqs();
  return result;
}

Status Store::append(proto::Record& r) {
  Commit c;
  c.records.push_back(&r);
  return commit(c);
}

Result<std::vector<proto::Record>> Store::pending(uint64_t after_seq, std::size_t limit) {
  auto st = db_.prepare("SELECT seq, payload FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?");
  if (!st) return st.error();
  st->bind(1, static_cast<int64_t>(after_seq)).bind(2, static_cast<int64_t>(limit));
  std::vector<proto::Record> out;
  for (;;) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) break;
    auto rec = proto::decode_record(st->column_text(1));
    if (!rec) {
      return Error::invalid("outbox seq " + std::to_string(st->column_int64(0)) +
                            " is unreadable: " + rec.error().message());
    }
    out.push_back(std::move(*rec));
  }
  return out;
}

Result<uint64_t> Store::depth() {
  auto n = db_.query_int("SELECT count(*) FROM outbox");
  if (!n) return n.error();
  return static_cast<uint64_t>(n->value_or(0));
}

Result<uint64_t> Store::last_seq() {
  auto n = db_.query_int("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'");
  if (!n) return n.error();
  return static_cast<uint64_t>(n->value_or(0));
}

Status Store::start_seq_at_least(uint64_t first) {
  if (first <= 1) return {};
  auto last = last_seq();
  if (!last) return last.error();
  if (*last + 1 >= first) return {};
  // AUTOINCREMENT continues from sqlite_sequence: set it to first - 1 (the row exists once a record
  // was ever written; else it is made).
  auto up = db_.prepare("UPDATE sqlite_sequence SET seq = ? WHERE name = 'outbox'");
  if (!up) return up.error();
  up->bind(1, static_cast<int64_t>(first - 1));
  LG_TRY(up->run());
  if (db_.changes() > 0) return {};
  auto in = db_.prepare("INSERT INTO sqlite_sequence(name, seq) VALUES ('outbox', ?)");
  if (!in) return in.error();
  in->bind(1, static_cast<int64_t>(first - 1));
  return in->run();
}

Result<int64_t> Store::ack(uint64_t seq) {
  auto st = db_.prepare("DELETE FROM outbox WHERE seq <= ?");
  if (!st) return st.error();
  st->bind(1, static_cast<int64_t>(seq));
  LG_TRY(st->run());
  return static_cast<int64_t>(db_.changes());
}

Result<bool> Store::apply_bundle(const proto::SyncBundle& b, int64_t now_ms, bool same_version) {
  db::Transaction tx(db_);
  LG_TRY(tx.status());
  std::optional<int64_t> applied;
  LG_TRY_ASSIGN(applied, db_.query_int("SELECT version FROM acl_policy WHERE id = 1"));
  if (applied && static_cast<uint64_t>(*applied) > b.version) return false;
  if (applied && static_cast<uint64_t>(*applied) == b.version && !same_version) return false;

  LG_TRY(db_.exec("DELETE FROM acl_grants; DELETE FROM acl_bookings; DELETE FROM acl_denials; DELETE FROM acl_policy;"));
  auto pol = db_.prepare(
      "INSERT INTO acl_policy(id, version, resource, issued_ms, require_booking, early_start_s, "
      "grace_after_end_s, offline_grace_s, max_session_s, status, card_form) VALUES(1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  if (!pol) return pol.error();
  pol->bind(1, static_cast<int64_t>(b.version))
      .bind(2, std::string_view(b.resource))
      .bind(3, b.issued_ms)
      .bind(4, static_cast<int64_t>(b.policy.require_booking ? 1 : 0))
      .bind(5, b.policy.early_start_s)
      .bind(6, b.policy.grace_after_end_s)
      .bind(7, b.policy.offline_grace_s)
      .bind(8, b.policy.max_session_s)
      .bind(9, std::string_view(proto::to_string(b.status)))
      .bind(10, std::string_view(proto::to_string(b.card_form)));
  LG_TRY(pol->run());
  LG_TRY(insert_cards(b.grants, b.denials));
  auto bk = db_.prepare("INSERT INTO acl_bookings(id, user, start_ms, end_ms) VALUES(?, ?, ?, ?)");
  if (!bk) return bk.error();
  for (const auto& s : b.bookings) {
    bk->bind(1, std::string_view(s.id)).bind(2, std::string_view(s.user)).bind(3, s.start_ms).bind(4, s.end_ms);
    LG_TRY(bk->run());
  }
  LG_TRY(set_meta_int("last_sync_ms", now_ms));
  LG_TRY(tx.commit());
  return true;
}

Status Store::insert_cards(const std::vector<proto::Grant>& grants, const std::vector<proto::Denial>& denials) {
  auto dn = db_.prepare("INSERT OR REPLACE INTO acl_denials(card, user, reason) VALUES(?, ?, ?)");
  if (!dn) return dn.error();
  for (const auto& d : denials) {
    dn->bind(1, std::string_view(d.card))
        .bind(2, std::string_view(d.user))
        .bind(3, std::string_view(proto::to_string(d.reason)));
    LG_TRY(dn->run());
  }
  auto g = db_.prepare(
      "INSERT INTO acl_grants(card, user, category, admin, valid_from_ms, valid_until_ms) "
      "VALUES(?, ?, ?, ?, ?, ?)");
  if (!g) return g.error();
  for (const auto& gr : grants) {
    g->bind(1, std::string_view(gr.card))
        .bind(2, std::string_view(gr.user))
        .bind(3, std::string_view(gr.category))
        .bind(4, static_cast<int64_t>(gr.admin ? 1 : 0))
        .bind(5, gr.valid_from_ms)
        .bind(6, gr.valid_until_ms);
    LG_TRY(g->run());
  }
  return {};
}

Status Store::replace_acl_cards(const std::vector<proto::Grant>& grants, const std::vector<proto::Denial>& denials,
                                proto::CardForm form) {
  db::Transaction tx(db_);
  LG_TRY(tx.status());
  LG_TRY(db_.exec("DELETE FROM acl_grants; DELETE FROM acl_denials;"));
  LG_TRY(insert_cards(grants, denials));
  auto pol = db_.prepare("UPDATE acl_policy SET card_form = ? WHERE id = 1");
  if (!pol) return pol.error();
  pol->bind(1, std::string_view(proto::to_string(form)));
  LG_TRY(pol->run());
  return tx.commit();
}

Result<bool> Store::remember_command(const std::string& id, int64_t expires_ms, int64_t now_ms) {
  db::Transaction tx(db_);
  LG_TRY(tx.status());
  auto prune = db_.prepare("DELETE FROM commands_done WHERE expires_ms <= ?");
  if (!prune) return prune.error();
  prune->bind(1, now_ms);
  LG_TRY(prune->run());
  auto ins = db_.prepare("INSERT OR IGNORE INTO commands_done(id, expires_ms) VALUES(?, ?)");
  if (!ins) return ins.error();
  ins->bind(1, std::string_view(id)).bind(2, expires_ms);
  LG_TRY(ins->run());
  const bool fresh = db_.changes() == 1;
  LG_TRY(tx.commit());
  return fresh;
}

Result<AclSnapshot> Store::load_acl() {
  AclSnapshot s;
  auto pol = db_.prepare(
      "SELECT version, resource, require_booking, early_start_s, grace_after_end_s, offline_grace_s, "
      "max_session_s, status, card_form FROM acl_policy WHERE id = 1");
  if (!pol) return pol.error();
  auto row = pol->step();
  if (!row) return row.error();
  if (!*row) return s;
  s.version = static_cast<uint64_t>(pol->column_int64(0));
  s.resource = pol->column_text(1);
  s.policy.require_booking = pol->column_int64(2) != 0;
  s.policy.early_start_s = pol->column_int64(3);
  s.policy.grace_after_end_s = pol->column_int64(4);
  s.policy.offline_grace_s = pol->column_int64(5);
  s.policy.max_session_s = pol->column_int64(6);
  s.status = proto::resource_status_from(pol->column_text(7)).value_or(proto::ResourceStatus::normal);
  s.card_form = pol->column_text(8) == proto::to_string(proto::CardForm::hmac_sha256_128) ? proto::CardForm::hmac_sha256_128
                                                                                          : proto::CardForm::uid;
  auto dn = db_.prepare("SELECT card, user, reason FROM acl_denials ORDER BY card");
  if (!dn) return dn.error();
  for (;;) {
    auto r = dn->step();
    if (!r) return r.error();
    if (!*r) break;
    proto::Denial d;
    d.card = dn->column_text(0);
    d.user = dn->column_text(1);
    d.reason = proto::reason_from(dn->column_text(2)).value_or(proto::Reason::card_revoked);
    s.denials.push_back(std::move(d));
  }

  auto g = db_.prepare(
      "SELECT card, user, category, admin, valid_from_ms, valid_until_ms FROM acl_grants ORDER BY card");
  if (!g) return g.error();
  for (;;) {
    auto r = g->step();
    if (!r) return r.error();
    if (!*r) break;
    proto::Grant gr;
    gr.card = g->column_text(0);
    gr.user = g->column_text(1);
    gr.category = g->column_text(2);
    gr.admin = g->column_int64(3) != 0;
    gr.valid_from_ms = g->column_int64(4);
    gr.valid_until_ms = opt_col(*g, 5);
    s.grants.push_back(std::move(gr));
  }
  auto b = db_.prepare("SELECT id, user, start_ms, end_ms FROM acl_bookings ORDER BY start_ms, id");
  if (!b) return b.error();
  for (;;) {
    auto r = b->step();
    if (!r) return r.error();
    if (!*r) break;
    proto::BookingSlot bs;
    bs.id = b->column_text(0);
    bs.user = b->column_text(1);
    bs.start_ms = b->column_int64(2);
    bs.end_ms = b->column_int64(3);
    s.bookings.push_back(std::move(bs));
  }
  return s;
}

Result<std::optional<int64_t>> Store::last_sync_ms() { return meta_int("last_sync_ms"); }

Status Store::set_last_sync_ms(int64_t ms) { return set_meta_int("last_sync_ms", ms); }

Status Store::upsert_session_row(const OpenSession& s) {
  auto st = db_.prepare(
      "INSERT OR REPLACE INTO open_sessions(id, card, user, resource, output, booking, acl_version, "
      "start_ms, steady_anchor_ms, elapsed_base_ms, boot_id, meter_start_wh, checkpoint_ms, "
      "checkpoint_elapsed_ms, max_end_ms, started, recovered, meter_start_kwh, start_synced, "
      "checkpoint_synced, gap_from_ms, max_duration_ms) "
      "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  if (!st) return st.error();
  st->bind(1, std::string_view(s.id))
      .bind(2, std::string_view(s.card.str()))
      .bind(3, std::string_view(s.user))
      .bind(4, std::string_view(s.resource))
      .bind(5, std::string_view(s.output))
      .bind(6, std::string_view(s.booking))
      .bind(7, static_cast<int64_t>(s.acl_version))
      .bind(8, s.start_ms)
      .bind(9, s.clock.steady_anchor_ms)
      .bind(10, s.clock.elapsed_base_ms)
      .bind(11, std::string_view(s.clock.boot_id))
      .bind(12, s.meter_start_kwh ? kwh_to_wh(*s.meter_start_kwh) : std::nullopt)
      .bind(13, s.checkpoint_ms)
      .bind(14, s.checkpoint_elapsed_ms)
      .bind(15, s.max_end_ms)
      .bind(16, static_cast<int64_t>(s.started ? 1 : 0))
      .bind(17, static_cast<int64_t>(s.recovered ? 1 : 0));
  if (s.meter_start_kwh) {
    st->bind(18, *s.meter_start_kwh);
  } else {
    st->bind_null(18);
  }
  st->bind(19, static_cast<int64_t>(s.start_synced ? 1 : 0))
      .bind(20, static_cast<int64_t>(s.checkpoint_synced ? 1 : 0))
      .bind(21, s.gap_from_ms)
      .bind(22, s.max_duration_ms);
  return st->run();
}

Status Store::save_session(const OpenSession& s) { return upsert_session_row(s); }

Status Store::checkpoint(const std::string& id, int64_t wall_ms, bool synced, int64_t elapsed) {
  auto st = db_.prepare(
      "UPDATE open_sessions SET checkpoint_ms = ?, checkpoint_synced = ?, checkpoint_elapsed_ms = ? WHERE id = ?");
  if (!st) return st.error();
  st->bind(1, wall_ms).bind(2, static_cast<int64_t>(synced ? 1 : 0)).bind(3, elapsed).bind(4, std::string_view(id));
  return st->run();
}

Result<std::vector<OpenSession>> Store::open_sessions() {
  auto st = db_.prepare(
      "SELECT id, card, user, resource, output, booking, acl_version, start_ms, steady_anchor_ms, "
      "elapsed_base_ms, boot_id, meter_start_wh, checkpoint_ms, checkpoint_elapsed_ms, max_end_ms, "
      "started, recovered, meter_start_kwh, start_synced, checkpoint_synced, gap_from_ms, max_duration_ms "
      "FROM open_sessions ORDER BY start_ms, id");
  if (!st) return st.error();
  std::vector<OpenSession> out;
  for (;;) {
    auto r = st->step();
    if (!r) return r.error();
    if (!*r) break;
    OpenSession s;
    s.id = st->column_text(0);
    s.card = CardUid::parse(st->column_text(1)).value_or(CardUid{});  // written valid by this store
    s.user = st->column_text(2);
    s.resource = st->column_text(3);
    s.output = st->column_text(4);
    s.booking = st->column_text(5);
    s.acl_version = static_cast<uint64_t>(st->column_int64(6));
    s.start_ms = st->column_int64(7);
    s.clock.steady_anchor_ms = st->column_int64(8);
    s.clock.elapsed_base_ms = st->column_int64(9);
    s.clock.boot_id = st->column_text(10);
    if (!st->column_is_null(17)) {
      s.meter_start_kwh = st->column_double(17);
    } else if (auto wh = opt_col(*st, 11)) {
      s.meter_start_kwh = static_cast<double>(*wh) / 1000.0;  // a row from before migration 2
    }
    s.checkpoint_ms = st->column_int64(12);
    s.checkpoint_elapsed_ms = st->column_int64(13);
    s.max_end_ms = opt_col(*st, 14);
    s.started = st->column_int64(15) != 0;
    s.recovered = st->column_int64(16) != 0;
    s.start_synced = st->column_int64(18) != 0;
    s.checkpoint_synced = st->column_int64(19) != 0;
    s.gap_from_ms = opt_col(*st, 20);
    s.max_duration_ms = opt_col(*st, 21);
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace lg::terminal
