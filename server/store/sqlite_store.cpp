// Directory, booking, sync and query parts of SqliteStore. The ingest transaction is in
// sqlite_ingest.cpp.
#include "server/store/sqlite_store.hpp"

#include <algorithm>
#include <limits>

#include "labgate/common/crypto.hpp"
#include "labgate/common/time.hpp"
#include "server/domain/booking_rules.hpp"
#include "server/store/schema.hpp"
#include "server/store/sqlite_util.hpp"

namespace lg::server {

using namespace store_detail;

namespace {

/// Columns read by instrument_from, in its order.
constexpr std::string_view kInstrumentCols =
    "id, name, lab, kind, asset_no, require_booking, early_start_s, grace_after_end_s, offline_grace_s, "
    "max_session_s";

Instrument instrument_from(db::Statement& r) {
  Instrument i{r.column_text(0), r.column_text(1), r.column_text(2),
               kind_from(r.column_text(3)).value_or(InstrumentKind::instrument), r.column_text(4),
               r.column_int64(5) != 0};
  i.early_start_s = r.column_int64(6);
  i.grace_after_end_s = r.column_int64(7);
  i.offline_grace_s = r.column_int64(8);
  i.max_session_s = r.column_int64(9);
  return i;
}

}  // namespace

SqliteStore::SqliteStore(db::Database d) : db_(std::move(d)) {}

Result<std::unique_ptr<SqliteStore>> SqliteStore::open(const std::string& path) {
  auto d = schema::open_database(path);
  if (!d) return d.error();
  return std::make_unique<SqliteStore>(std::move(d).value());
}

// ------------------------------------------------------------------ directory

Status SqliteStore::add_unit(const Unit& u, int64_t now_ms) {
  db::Transaction tx(db_);
  if (!tx.status()) return tx.status();
  if (!u.parent.empty()) {
    LG_TRY(require_ref(db_, "units", "parent", u.parent, "unit"));
  }
  LG_TRY(require_absent(db_, "units", u.id, "unit"));
  auto st = db_.prepare("INSERT INTO units(id, name, parent, created_ms) VALUES (?, ?, ?, ?)");
  if (!st) return st.error();
  st->bind(1, u.id).bind(2, u.name).bind(4, now_ms);
  if (u.parent.empty()) st->bind_null(3); else st->bind(3, u.parent);
  LG_TRY(st->run());
  return tx.commit();
}

Status SqliteStore::add_lab(const Lab& l, int64_t now_ms) {
  db::Transaction tx(db_);
  if (!tx.status()) return tx.status();
  LG_TRY(require_ref(db_, "units", "unit", l.unit, "unit"));
  LG_TRY(require_absent(db_, "labs", l.id, "lab"));
  auto st = db_.prepare("INSERT INTO labs(id, name, unit, created_ms) VALUES (?, ?, ?, ?)");
  if (!st) return st.error();
  st->bind(1, l.id).bind(2, l.name).bind(3, l.unit).bind(4, now_ms);
  LG_TRY(st->run());
  return tx.commit();
}

Status SqliteStore::add_instrument(const Instrument& i, int64_t now_ms) {
  db::Transaction tx(db_);
  if (!tx.status()) return tx.status();
  LG_TRY(require_ref(db_, "labs", "lab", i.lab, "lab"));
  LG_TRY(require_absent(db_, "instruments", i.id, "instrument"));
  auto st = db_.prepare(
      "INSERT INTO instruments(id, name, lab, kind, asset_no, require_booking, created_ms, early_start_s, "
      "grace_after_end_s, offline_grace_s, max_session_s) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  if (!st) return st.error();
  st->bind(1, i.id).bind(2, i.name).bind(3, i.lab).bind(4, to_string(i.kind)).bind(5, i.asset_no);
  st->bind(6, b64(i.require_booking)).bind(7, now_ms).bind(8, i.early_start_s).bind(9, i.grace_after_end_s);
  st->bind(10, i.offline_grace_s).bind(11, i.max_session_s);
  LG_TRY(st->run());
  return tx.commit();
}

Result<Instrument> SqliteStore::update_instrument_policy(const std::string& id, const InstrumentPolicyPatch& p,
                                                         int64_t now_ms) {
  db::Transaction tx(db_, db::TxKind::immediate);
  if (!tx.status()) return tx.status().error();
  auto st = db_.prepare(
      "UPDATE instruments SET require_booking = COALESCE(?2, require_booking), "
      "early_start_s = COALESCE(?3, early_start_s), grace_after_end_s = COALESCE(?4, grace_after_end_s), "
      "offline_grace_s = COALESCE(?5, offline_grace_s), max_session_s = COALESCE(?6, max_session_s), "
      "policy_updated_ms = ?7 WHERE id = ?1");
  if (!st) return st.error();
  st->bind(1, id);
  if (p.require_booking) st->bind(2, b64(*p.require_booking)); else st->bind_null(2);
  st->bind(3, p.early_start_s).bind(4, p.grace_after_end_s).bind(5, p.offline_grace_s).bind(6, p.max_session_s);
  st->bind(7, now_ms);
  if (auto s = st->run(); !s) return s.error();
  if (db_.changes() == 0) return store_error(StoreErrc::not_found, "unknown instrument '" + id + "'");
  auto q = db_.prepare("SELECT " + std::string(kInstrumentCols) + " FROM instruments WHERE id = ?");
  if (!q) return q.error();
  q->bind(1, id);
  auto row = q->step();
  if (!row) return row.error();
  if (!*row) return store_error(StoreErrc::not_found, "unknown instrument '" + id + "'");
  Instrument out = instrument_from(*q);
  q->reset();
  if (auto s = tx.commit(); !s) return s.error();
  return out;
}

Status SqliteStore::put_fee_standard(const FeeStandard& f, int64_t now_ms) {
  db::Transaction tx(db_);
  if (!tx.status()) return tx.status();
  LG_TRY(require_ref(db_, "instruments", "instrument", f.instrument, "instrument"));
  auto st = db_.prepare(
      "INSERT INTO fee_standards(instrument, internal_fen_per_hour, external_fen_per_hour, currency, "
      "updated_ms) VALUES (?, ?, ?, ?, ?) ON CONFLICT(instrument) DO UPDATE SET "
      "internal_fen_per_hour = excluded.internal_fen_per_hour, "
      "external_fen_per_hour = excluded.external_fen_per_hour, currency = excluded.currency, "
      "updated_ms = excluded.updated_ms");
  if (!st) return st.error();
  st->bind(1, f.instrument).bind(2, f.internal_fen_per_hour).bind(3, f.external_fen_per_hour);
  st->bind(4, f.currency).bind(5, now_ms);
  LG_TRY(st->run());
  return tx.commit();
}

Status SqliteStore::add_user(const User& u, int64_t now_ms) {
  db::Transaction tx(db_);
  if (!tx.status()) return tx.status();
  if (!u.unit.empty()) {
    LG_TRY(require_ref(db_, "units", "unit", u.unit, "unit"));
  }
  LG_TRY(require_absent(db_, "users", u.id, "user"));
  auto st = db_.prepare(
      "INSERT INTO users(id, name, category, unit, admin, created_ms) VALUES (?, ?, ?, ?, ?, ?)");
  if (!st) return st.error();
  st->bind(1, u.id).bind(2, u.name).bind(3, to_string(u.category)).bind(5, b64(u.admin)).bind(6, now_ms);
  if (u.unit.empty()) st->bind_null(4); else st->bind(4, u.unit);
  LG_TRY(st->run());
  return tx.commit();
}

Status SqliteStore::add_card(const Card& c, int64_t now_ms) {
  db::Transaction tx(db_);
  if (!tx.status()) return tx.status();
  LG_TRY(require_ref(db_, "users", "user", c.user, "user"));
  {
    auto q = db_.prepare("SELECT user FROM cards WHERE uid = ? AND active = 1");
    if (!q) return q.error();
    q->bind(1, c.uid);
    auto row = q->step();
    if (!row) return row.error();
    if (*row) {
      return store_error(StoreErrc::conflict,
                         "uid: card " + c.uid + " is already assigned to user " + q->column_text(0));
    }
  }
  auto st = db_.prepare("INSERT INTO cards(uid, user, active, created_ms) VALUES (?, ?, 1, ?)");
  if (!st) return st.error();
  st->bind(1, c.uid).bind(2, c.user).bind(3, now_ms);
  LG_TRY(st->run());
  return tx.commit();
}

Status SqliteStore::put_qualification(const Qualification& q, int64_t now_ms) {
  db::Transaction tx(db_);
  if (!tx.status()) return tx.status();
  LG_TRY(require_ref(db_, "users", "user", q.user, "user"));
  LG_TRY(require_ref(db_, "instruments", "instrument", q.instrument, "instrument"));
  auto st = db_.prepare(
      "INSERT INTO qualifications(user, instrument, valid_from_ms, valid_until_ms, updated_ms) "
      "VALUES (?, ?, ?, ?, ?) ON CONFLICT(user, instrument) DO UPDATE SET "
      "valid_from_ms = excluded.valid_from_ms, valid_until_ms = excluded.valid_until_ms, "
      "updated_ms = excluded.updated_ms");
  if (!st) return st.error();
  st->bind(1, q.user).bind(2, q.instrument).bind(3, q.valid_from_ms).bind(4, q.valid_until_ms).bind(5, now_ms);
  LG_TRY(st->run());
  return tx.commit();
}

namespace {

/// not_allowed unless the user may use the instrument for the whole booking: an admin, or a
/// qualification valid from the booking's start until its end.
Status require_booking_qualification(db::Database& d, const Booking& b) {
  auto q = d.prepare(
      "SELECT u.admin, q.valid_from_ms, q.valid_until_ms FROM users u LEFT JOIN qualifications q "
      "ON q.user = u.id AND q.instrument = ?2 WHERE u.id = ?1");
  if (!q) return q.error();
  q->bind(1, b.user).bind(2, b.instrument);
  auto row = q->step();
  if (!row) return row.error();
  if (!*row) return store_error(StoreErrc::unknown_reference, "user: unknown user '" + b.user + "'");
  const bool admin = q->column_int64(0) != 0;
  const bool qualified = !q->column_is_null(1);
  const int64_t from = qualified ? q->column_int64(1) : 0;
  const std::optional<int64_t> until = opt_int(*q, 2);
  q->reset();
  if (admin) return {};
  const std::string who = "user " + b.user + " has no ";
  if (!qualified) {
    return store_error(StoreErrc::not_allowed, who + "qualification on instrument " + b.instrument);
  }
  if (from > b.start_ms || (until && *until < b.end_ms)) {
    std::string valid = "valid from " + time::format_utc(from) + (until ? " until " + time::format_utc(*until) : "");
    return store_error(StoreErrc::not_allowed, who + "qualification on instrument " + b.instrument +
                                                   " covering the booking (" + time::format_utc(b.start_ms) +
                                                   " to " + time::format_utc(b.end_ms) + "; " + valid + ")");
  }
  return {};
}

}  // namespace

Result<BookingOutcome> SqliteStore::create_booking(const Booking& b, int64_t now_ms) {
  // BEGIN IMMEDIATE takes the write lock first, so the overlap check and the insert are one
  // atomic step even against another connection (process or thread) on the same file.
  db::Transaction tx(db_, db::TxKind::immediate);
  if (!tx.status()) return tx.status().error();
  if (auto s = require_ref(db_, "instruments", "instrument", b.instrument, "instrument"); !s) return s.error();
  if (auto s = require_ref(db_, "users", "user", b.user, "user"); !s) return s.error();
  if (auto s = require_booking_qualification(db_, b); !s) return s.error();
  std::vector<Booking> existing;
  {
    auto q = db_.prepare(
        "SELECT id, instrument, user, start_ms, end_ms FROM bookings "
        "WHERE instrument = ? AND end_ms > ? AND start_ms < ? ORDER BY start_ms, id");
    if (!q) return q.error();
    q->bind(1, b.instrument).bind(2, b.start_ms).bind(3, b.end_ms);
    auto s = each_row(*q, [&](db::Statement& r) {
      existing.push_back(Booking{r.column_text(0), r.column_text(1), r.column_text(2),
                                 r.column_int64(3), r.column_int64(4)});
    });
    if (!s) return s.error();
  }
  Booking candidate = b;
  candidate.id = b.id.empty() ? crypto::uuid4() : b.id;
  if (const Booking* c = booking::find_conflict(existing, candidate)) {
    return BookingOutcome{"", c->id};
  }
  auto ins = db_.prepare(
      "INSERT INTO bookings(id, instrument, user, start_ms, end_ms, created_ms) VALUES (?, ?, ?, ?, ?, ?)");
  if (!ins) return ins.error();
  ins->bind(1, candidate.id).bind(2, candidate.instrument).bind(3, candidate.user);
  ins->bind(4, candidate.start_ms).bind(5, candidate.end_ms).bind(6, now_ms);
  if (auto s = ins->run(); !s) {
    if (db::is_constraint(s.error())) return store_error(StoreErrc::conflict, "id: booking already exists");
    return s.error();
  }
  if (auto s = tx.commit(); !s) return s.error();
  return BookingOutcome{candidate.id, ""};
}

Status SqliteStore::add_terminal(const Terminal& t, int64_t now_ms) {
  db::Transaction tx(db_);
  if (!tx.status()) return tx.status();
  LG_TRY(require_ref(db_, "instruments", "resource", t.resource, "instrument"));
  LG_TRY(require_absent(db_, "terminals", t.id, "terminal"));
  auto st = db_.prepare("INSERT INTO terminals(id, resource, public_key, enrolled_ms) VALUES (?, ?, ?, ?)");
  if (!st) return st.error();
  st->bind(1, t.id).bind(2, t.resource).bind(3, t.public_key).bind(4, now_ms);
  LG_TRY(st->run());
  return tx.commit();
}

// ------------------------------------------------------------------ lists

namespace {

/// How a list is read one page at a time (keyset paging).
struct Keyset {
  /// "SELECT <row columns>, <key columns> FROM ... WHERE <filters or 1>"; the key columns come
  /// last, in sort order, starting at column key_col.
  std::string_view select;
  int key_col;
  /// The key as a row value, e.g. "(c.end_ms, c.id)".
  std::string_view key;
  /// "i" (integer) or "s" (text) per key part.
  std::string_view shape;
  bool descending;
  /// The ORDER BY clause matching key and direction.
  std::string_view order;
  /// Number of the first ?N after the filter parameters.
  int first_param = 1;
};

bool fits(const PageKey& k, std::string_view shape) {
  if (k.size() != shape.size()) return false;
  for (std::size_t i = 0; i < k.size(); ++i) {
    const bool is_int = std::holds_alternative<int64_t>(k[i]);
    if (is_int != (shape[i] == 'i')) return false;
  }
  return true;
}

PageKey key_of(db::Statement& r, const Keyset& q) {
  PageKey k;
  k.reserve(q.shape.size());
  for (std::size_t i = 0; i < q.shape.size(); ++i) {
    const int col = q.key_col + static_cast<int>(i);
    if (q.shape[i] == 'i') k.emplace_back(r.column_int64(col));
    else k.emplace_back(r.column_text(col));
  }
  return k;
}

/// Reads rows of q strictly after p.after (in q's order), at most p.limit, and the key of the
/// last one when more follow. bind_filters binds ?1.. of the select.
template <typename T, typename Bind, typename Make>
Result<PageOf<T>> read_page(db::Database& d, const Keyset& q, const Page& p, Bind&& bind_filters, Make&& make) {
  if (p.limit < 1) return Error::invalid("page limit must be at least 1");
  const bool after = !p.after.empty();
  if (after && !fits(p.after, q.shape)) {
    return store_error(StoreErrc::not_allowed, "cursor: the position does not fit this list");
  }
  std::string sql(q.select);
  int n = q.first_param;
  if (after) {
    sql += " AND " + std::string(q.key) + (q.descending ? " < (" : " > (");
    for (std::size_t i = 0; i < q.shape.size(); ++i) sql += (i ? ", ?" : "?") + std::to_string(n + static_cast<int>(i));
    sql += ")";
  }
  const int limit_param = after ? n + static_cast<int>(q.shape.size()) : n;
  sql += " " + std::string(q.order) + " LIMIT ?" + std::to_string(limit_param);
  auto st = d.prepare(sql);
  if (!st) return st.error();
  bind_filters(*st);
  if (after) {
    for (const auto& part : p.after) {
      if (const auto* i = std::get_if<int64_t>(&part)) st->bind(n++, *i);
      else st->bind(n++, std::get<std::string>(part));
    }
  }
  const int64_t limit = std::min<int64_t>(p.limit, std::numeric_limits<int64_t>::max() - 1);
  st->bind(limit_param, limit + 1);
  PageOf<T> out;
  out.rows.reserve(static_cast<std::size_t>(std::min<int64_t>(limit, 1024)));
  PageKey last;
  bool more = false;
  for (;;) {
    auto row = st->step();
    if (!row) {
      st->reset();
      return row.error();
    }
    if (!*row) break;
    if (static_cast<int64_t>(out.rows.size()) == limit) {
      more = true;
      break;
    }
    out.rows.push_back(make(*st));
    last = key_of(*st, q);
  }
  st->reset();
  if (more) out.next = std::move(last);
  return out;
}

/// read_page for a list without filter parameters.
template <typename T, typename Make>
Result<PageOf<T>> read_all_page(db::Database& d, const Keyset& q, const Page& p, Make&& make) {
  return read_page<T>(d, q, p, [](db::Statement&) {}, std::forward<Make>(make));
}

User user_from(db::Statement& r, int c) {
  return User{r.column_text(c), r.column_text(c + 1),
              category_from(r.column_text(c + 2)).value_or(UserCategory::internal), r.column_text(c + 3),
              r.column_int64(c + 4) != 0};
}

Qualification qualification_from(db::Statement& r) {
  return Qualification{r.column_text(0), r.column_text(1), r.column_int64(2), opt_int(r, 3)};
}

Booking booking_from(db::Statement& r) {
  return Booking{r.column_text(0), r.column_text(1), r.column_text(2), r.column_int64(3), r.column_int64(4)};
}

constexpr std::string_view kTerminalCols =
    "id, resource, public_key, online, boot, firmware, board, acl_version, sync_version, outbox_depth, "
    "clock_synced, acked_seq, last_seen_ms";

Terminal terminal_from(db::Statement& r) {
  Terminal t;
  t.id = r.column_text(0);
  t.resource = r.column_text(1);
  t.public_key = r.column_text(2);
  t.online = r.column_int64(3) != 0;
  t.boot = static_cast<uint64_t>(r.column_int64(4));
  t.firmware = r.column_text(5);
  t.board = r.column_text(6);
  t.acl_version = static_cast<uint64_t>(r.column_int64(7));
  t.sync_version = static_cast<uint64_t>(r.column_int64(8));
  t.outbox_depth = static_cast<uint64_t>(r.column_int64(9));
  t.clock_synced = r.column_int64(10) != 0;
  t.acked_seq = static_cast<uint64_t>(r.column_int64(11));
  t.last_seen_ms = opt_int(r, 12);
  return t;
}

/// A directory list sorted by its text id (column 0, named `id`) ascending.
constexpr Keyset by_id(std::string_view select) { return Keyset{select, 0, "(id)", "s", false, "ORDER BY id"}; }

}  // namespace

Result<PageOf<Unit>> SqliteStore::units(const Page& p) {
  static constexpr Keyset q = by_id("SELECT id, name, COALESCE(parent, '') FROM units WHERE 1");
  return read_all_page<Unit>(db_, q, p, [](db::Statement& r) {
    return Unit{r.column_text(0), r.column_text(1), r.column_text(2)};
  });
}

Result<PageOf<Lab>> SqliteStore::labs(const Page& p) {
  static constexpr Keyset q = by_id("SELECT id, name, unit FROM labs WHERE 1");
  return read_all_page<Lab>(db_, q, p, [](db::Statement& r) {
    return Lab{r.column_text(0), r.column_text(1), r.column_text(2)};
  });
}

Result<PageOf<Instrument>> SqliteStore::instruments(const Page& p) {
  static const std::string select = "SELECT " + std::string(kInstrumentCols) + " FROM instruments WHERE 1";
  const Keyset q = by_id(select);
  return read_all_page<Instrument>(db_, q, p, instrument_from);
}

Result<PageOf<FeeStandard>> SqliteStore::fee_standards(const Page& p) {
  static constexpr Keyset q{
      "SELECT instrument, internal_fen_per_hour, external_fen_per_hour, currency FROM fee_standards WHERE 1", 0,
      "(instrument)", "s", false, "ORDER BY instrument"};
  return read_all_page<FeeStandard>(db_, q, p, [](db::Statement& r) {
    return FeeStandard{r.column_text(0), r.column_int64(1), r.column_int64(2), r.column_text(3)};
  });
}

Result<PageOf<User>> SqliteStore::users(const Page& p) {
  static constexpr Keyset q =
      by_id("SELECT id, name, category, COALESCE(unit, ''), admin FROM users WHERE 1");
  return read_all_page<User>(db_, q, p, [](db::Statement& r) { return user_from(r, 0); });
}

Result<PageOf<Card>> SqliteStore::cards(const Page& p) {
  static constexpr Keyset q{"SELECT uid, user, active, uid, rowid_ FROM cards WHERE 1", 3, "(uid, rowid_)", "si",
                            false, "ORDER BY uid, rowid_"};
  return read_all_page<Card>(db_, q, p, [](db::Statement& r) {
    return Card{r.column_text(0), r.column_text(1), r.column_int64(2) != 0};
  });
}

Result<PageOf<Qualification>> SqliteStore::qualifications(const Page& p) {
  static constexpr Keyset q{
      "SELECT user, instrument, valid_from_ms, valid_until_ms FROM qualifications WHERE 1", 0,
      "(user, instrument)", "ss", false, "ORDER BY user, instrument"};
  return read_all_page<Qualification>(db_, q, p, qualification_from);
}

Result<PageOf<Booking>> SqliteStore::bookings(const Page& p) {
  static constexpr Keyset q{"SELECT id, instrument, user, start_ms, end_ms, start_ms, id FROM bookings WHERE 1", 5,
                            "(start_ms, id)", "is", false, "ORDER BY start_ms, id"};
  return read_all_page<Booking>(db_, q, p, booking_from);
}

Result<PageOf<Terminal>> SqliteStore::terminals(const Page& p) {
  static const std::string select = "SELECT " + std::string(kTerminalCols) + " FROM terminals WHERE 1";
  const Keyset q = by_id(select);
  return read_all_page<Terminal>(db_, q, p, terminal_from);
}

Result<std::vector<Terminal>> SqliteStore::terminals() {
  auto q = db_.prepare("SELECT " + std::string(kTerminalCols) + " FROM terminals ORDER BY id");
  if (!q) return q.error();
  std::vector<Terminal> out;
  auto s = each_row(*q, [&](db::Statement& r) { out.push_back(terminal_from(r)); });
  if (!s) return s.error();
  return out;
}

Result<std::optional<Terminal>> SqliteStore::terminal(const std::string& id) {
  auto q = db_.prepare("SELECT " + std::string(kTerminalCols) + " FROM terminals WHERE id = ?");
  if (!q) return q.error();
  q->bind(1, id);
  auto row = q->step();
  if (!row) return row.error();
  if (!*row) return std::optional<Terminal>{};
  return std::optional<Terminal>{terminal_from(*q)};
}

// ------------------------------------------------------------------ sync

Result<sync::Inputs> SqliteStore::sync_inputs(const Terminal& t, int64_t now_ms) {
  sync::Inputs in;
  in.terminal = t.id;
  in.resource = t.resource;
  {
    auto q = db_.prepare("SELECT " + std::string(kInstrumentCols) + " FROM instruments WHERE id = ?");
    if (!q) return q.error();
    q->bind(1, t.resource);
    auto row = q->step();
    if (!row) return row.error();
    if (*row) in.instrument = instrument_from(*q);
  }
  {
    auto q = db_.prepare(
        "SELECT user, instrument, valid_from_ms, valid_until_ms FROM qualifications WHERE instrument = ? "
        "ORDER BY user");
    if (!q) return q.error();
    q->bind(1, t.resource);
    if (auto s = each_row(*q, [&](db::Statement& r) { in.qualifications.push_back(qualification_from(r)); }); !s)
      return s.error();
  }
  constexpr std::string_view kRelevantUsers =
      "SELECT id FROM users WHERE admin = 1 UNION SELECT user FROM qualifications WHERE instrument = ?1";
  {
    auto q = db_.prepare("SELECT id, name, category, COALESCE(unit, ''), admin FROM users WHERE id IN (" +
                         std::string(kRelevantUsers) + ") ORDER BY id");
    if (!q) return q.error();
    q->bind(1, t.resource);
    if (auto s = each_row(*q, [&](db::Statement& r) { in.users.push_back(user_from(r, 0)); }); !s) return s.error();
  }
  {
    auto q = db_.prepare("SELECT uid, user, active FROM cards WHERE active = 1 AND user IN (" +
                         std::string(kRelevantUsers) + ") ORDER BY uid");
    if (!q) return q.error();
    q->bind(1, t.resource);
    if (auto s = each_row(*q, [&](db::Statement& r) {
          in.cards.push_back(Card{r.column_text(0), r.column_text(1), r.column_int64(2) != 0});
        });
        !s)
      return s.error();
  }
  {
    auto q = db_.prepare(
        "SELECT id, instrument, user, start_ms, end_ms FROM bookings WHERE instrument = ? AND end_ms > ? "
        "AND start_ms < ? ORDER BY start_ms, id");
    if (!q) return q.error();
    q->bind(1, t.resource).bind(2, now_ms - sync::kBookingsBeforeMs).bind(3, now_ms + sync::kBookingsAfterMs);
    if (auto s = each_row(*q, [&](db::Statement& r) { in.bookings.push_back(booking_from(r)); }); !s)
      return s.error();
  }
  return in;
}

Result<StoredSync> SqliteStore::stored_sync(const std::string& terminal) {
  auto q = db_.prepare("SELECT sync_version, sync_hash, sync_payload FROM terminals WHERE id = ?");
  if (!q) return q.error();
  q->bind(1, terminal);
  auto row = q->step();
  if (!row) return row.error();
  if (!*row) return store_error(StoreErrc::not_found, "terminal " + terminal + " is not enrolled");
  return StoredSync{static_cast<uint64_t>(q->column_int64(0)), q->column_text(1), q->column_text(2)};
}

Status SqliteStore::save_sync(const std::string& terminal, const StoredSync& s) {
  auto st = db_.prepare(
      "UPDATE terminals SET sync_version = ?, sync_hash = ?, sync_payload = ? WHERE id = ? AND sync_version < ?");
  if (!st) return st.error();
  st->bind(1, static_cast<int64_t>(s.version)).bind(2, s.hash).bind(3, s.payload).bind(4, terminal);
  st->bind(5, static_cast<int64_t>(s.version));
  LG_TRY(st->run());
  if (db_.changes() == 0) {
    return store_error(StoreErrc::conflict, "terminal " + terminal + ": sync version " +
                                                std::to_string(s.version) + " is not above the stored one");
  }
  return {};
}

// ------------------------------------------------------------------ counters and state

Status SqliteStore::count_rejection(const std::string& reason) { return bump_rejection(db_, reason, 1); }

Status SqliteStore::count_ack() { return bump_counter(db_, "acks", 1); }

Result<Stats> SqliteStore::stats() {
  Stats s;
  {
    auto q = db_.prepare("SELECT name, value FROM ingest_counters");
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
  auto q = db_.prepare("SELECT reason, count FROM rejections ORDER BY reason");
  if (!q) return q.error();
  auto st = each_row(*q, [&](db::Statement& r) { s.rejected[r.column_text(0)] = r.column_int64(1); });
  if (!st) return st.error();
  return s;
}

Result<StateOutcome> SqliteStore::apply_state(const StateUpdate& u) {
  db::Transaction tx(db_);
  if (!tx.status()) return tx.status().error();
  auto q = db_.prepare("SELECT boot, sync_version FROM terminals WHERE id = ?");
  if (!q) return q.error();
  q->bind(1, u.state.terminal);
  auto row = q->step();
  if (!row) return row.error();
  if (!*row) return store_error(StoreErrc::not_found, "terminal " + u.state.terminal + " is not enrolled");
  const auto current_boot = static_cast<uint64_t>(q->column_int64(0));
  StateOutcome out;
  out.sync_version = static_cast<uint64_t>(q->column_int64(1));
  q->reset();
  // A Last Will from an older connection (lower boot counter) arrives late: ignore it.
  if (!u.state.online && u.state.boot < current_boot) return out;
  auto st = db_.prepare(
      "UPDATE terminals SET online = ?, boot = ?, firmware = ?, board = ?, acl_version = ?, outbox_depth = ?, "
      "clock_synced = ?, last_seen_ms = ? WHERE id = ?");
  if (!st) return st.error();
  st->bind(1, b64(u.state.online)).bind(2, static_cast<int64_t>(u.state.boot)).bind(3, u.state.firmware);
  st->bind(4, u.state.board).bind(5, static_cast<int64_t>(u.state.acl_version));
  st->bind(6, static_cast<int64_t>(u.state.outbox_depth)).bind(7, b64(u.state.clock_synced));
  st->bind(8, u.seen_ms).bind(9, u.state.terminal);
  if (auto s = st->run(); !s) return s.error();
  if (auto s = tx.commit(); !s) return s.error();
  out.applied = true;
  return out;
}

// ------------------------------------------------------------------ queries

Result<PageOf<AccessEvent>> SqliteStore::access_events(const AccessFilter& f) {
  static constexpr Keyset q{
      "SELECT record_id, terminal, seq, ts_ms, card, user, user_resolved, resource, output, decision, reason, "
      "mode, acl_version, booking, clock_synced, ts_ms, terminal, seq FROM access_events "
      "WHERE (?1 = '' OR terminal = ?1) AND (?2 = '' OR decision = ?2)",
      15, "(ts_ms, terminal, seq)", "isi", true, "ORDER BY ts_ms DESC, terminal DESC, seq DESC", 3};
  return read_page<AccessEvent>(
      db_, q, f.page, [&](db::Statement& st) { st.bind(1, f.terminal).bind(2, f.decision); },
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

namespace {
constexpr std::string_view kChargeCols =
    "c.id, c.session, c.instrument, c.user, c.category, c.rate_fen_per_hour, c.duration_ms, c.amount_fen, "
    "c.currency, c.flags, c.end_ms";

Charge charge_from(db::Statement& r, int c) {
  Charge ch;
  ch.id = r.column_text(c);
  ch.session = r.column_text(c + 1);
  ch.instrument = r.column_text(c + 2);
  ch.user = r.column_text(c + 3);
  ch.category = r.column_text(c + 4);
  ch.rate_fen_per_hour = r.column_int64(c + 5);
  ch.duration_ms = r.column_int64(c + 6);
  ch.amount_fen = r.column_int64(c + 7);
  ch.currency = r.column_text(c + 8);
  ch.flags = split_flags(r.column_text(c + 9));
  ch.end_ms = r.column_int64(c + 10);
  return ch;
}
}  // namespace

Result<PageOf<UsageSession>> SqliteStore::sessions(const SessionFilter& f) {
  static const std::string select =
      "SELECT s.id, s.terminal, s.resource, s.user, s.card, s.booking, s.start_ms, s.end_ms, s.duration_ms, "
      "s.energy_wh, s.end_reason, s.flags, s.status, " + std::string(kChargeCols) + ", s.start_ms, s.id "
      "FROM usage_sessions s LEFT JOIN charges c ON c.session = s.id "
      "WHERE (?1 = '' OR s.resource = ?1) AND (?2 = '' OR s.user = ?2)";
  const Keyset q{select, 24, "(s.start_ms, s.id)", "is", true, "ORDER BY s.start_ms DESC, s.id DESC", 3};
  return read_page<UsageSession>(
      db_, q, f.page, [&](db::Statement& st) { st.bind(1, f.instrument).bind(2, f.user); },
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
        if (!r.column_is_null(13)) u.charge = charge_from(r, 13);
        return u;
      });
}

Result<PageOf<Charge>> SqliteStore::charges(int64_t from_ms, int64_t to_ms, const Page& p) {
  static const std::string first = "SELECT " + std::string(kChargeCols) +
                                   ", c.end_ms, c.id FROM charges c WHERE c.end_ms >= ?1 AND c.end_ms < ?2";
  // After a position inside the period the key alone is the lower bound: with `end_ms >= from`
  // beside it, SQLite seeks to the period's start and every page would scan all earlier rows.
  static const std::string after =
      "SELECT " + std::string(kChargeCols) + ", c.end_ms, c.id FROM charges c WHERE c.end_ms < ?1";
  const bool positioned = !p.after.empty() && fits(p.after, "is");  // else read_page refuses it
  const bool inside = positioned && std::get<int64_t>(p.after.front()) >= from_ms;
  auto make = [](db::Statement& r) { return charge_from(r, 0); };
  if (inside) {
    const Keyset q{after, 11, "(c.end_ms, c.id)", "is", false, "ORDER BY c.end_ms, c.id", 2};
    return read_page<Charge>(db_, q, p, [&](db::Statement& st) { st.bind(1, to_ms); }, make);
  }
  // From the period's start: no position, or one before the period (a cursor of another period).
  Page from_start = p;
  if (positioned) from_start.after.clear();
  const Keyset q{first, 11, "(c.end_ms, c.id)", "is", false, "ORDER BY c.end_ms, c.id", 3};
  return read_page<Charge>(db_, q, from_start, [&](db::Statement& st) { st.bind(1, from_ms).bind(2, to_ms); }, make);
}

Result<std::vector<report::GroupSum>> SqliteStore::usage_groups(report::GroupBy by, int64_t from_ms,
                                                                int64_t to_ms) {
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
  auto q = db_.prepare(sql);
  if (!q) return q.error();
  q->bind(1, from_ms).bind(2, to_ms);
  std::vector<report::GroupSum> out;
  auto s = each_row(*q, [&](db::Statement& r) {
    out.push_back(report::GroupSum{r.column_text(0), r.column_text(1), r.column_int64(2), r.column_int64(3),
                                   r.column_int64(4)});
  });
  if (!s) return s.error();
  return out;
}

Result<report::GroupSum> SqliteStore::usage_total(int64_t from_ms, int64_t to_ms) {
  auto q = db_.prepare(
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
  q->reset();
  return g;
}

}  // namespace lg::server
