#include "server/orders/sqlite_store.hpp"

#include <array>

#include "server/core/sqlite_util.hpp"
#include "server/orders/rules.hpp"

namespace lg::server::orders {

using namespace sqlite;

namespace {

// orders::decide moves an order; the CHECKs only keep the stored names to the known ones.
constexpr std::string_view kV1 = R"sql(
CREATE TABLE orders (
  id TEXT PRIMARY KEY,
  instrument TEXT NOT NULL REFERENCES instruments(id),
  user TEXT NOT NULL REFERENCES users(id),
  state TEXT NOT NULL CHECK (state IN ('submitted', 'accepted', 'refused', 'samples_received', 'in_testing',
                                       'results_uploaded', 'completed', 'confirmed', 'cancelled')),
  sample_count INTEGER NOT NULL CHECK (sample_count > 0),
  sample_names TEXT NOT NULL DEFAULT '',
  form TEXT NOT NULL,
  hazards TEXT NOT NULL DEFAULT '',
  tests TEXT NOT NULL,
  parameters TEXT NOT NULL DEFAULT '',
  delivery TEXT NOT NULL CHECK (delivery IN ('in_person', 'courier', 'internal_mail')),
  account TEXT NOT NULL,
  session TEXT NOT NULL DEFAULT '',
  reason TEXT NOT NULL DEFAULT '',
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL
);
CREATE INDEX orders_by_created ON orders(created_ms, id);
CREATE INDEX orders_by_instrument ON orders(instrument, created_ms);
CREATE TABLE order_fee_lines (
  order_id TEXT NOT NULL REFERENCES orders(id),
  n INTEGER NOT NULL,
  code TEXT NOT NULL,
  quantity INTEGER NOT NULL CHECK (quantity > 0),
  PRIMARY KEY (order_id, n)
);
CREATE TABLE order_events (
  order_id TEXT NOT NULL REFERENCES orders(id),
  seq INTEGER NOT NULL CHECK (seq > 0),
  from_state TEXT,
  to_state TEXT NOT NULL,
  action TEXT NOT NULL,
  actor TEXT NOT NULL,
  at_ms INTEGER NOT NULL,
  reason TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (order_id, seq)
);
CREATE TABLE order_attachments (
  id TEXT PRIMARY KEY,
  order_id TEXT NOT NULL REFERENCES orders(id),
  name TEXT NOT NULL,
  content_type TEXT NOT NULL,
  size INTEGER NOT NULL CHECK (size >= 0),
  sha256 TEXT NOT NULL,
  result INTEGER NOT NULL CHECK (result IN (0, 1)),
  uploaded_by TEXT NOT NULL,
  created_ms INTEGER NOT NULL
);
CREATE INDEX order_attachments_by_order ON order_attachments(order_id, created_ms);
)sql";

constexpr std::array<db::Migration, 1> kMigrations{{{1, "sample orders, their history and attachments", kV1}}};

constexpr std::string_view kCols =
    "id, instrument, user, state, sample_count, sample_names, form, hazards, tests, parameters, delivery, account, "
    "session, reason, created_ms, updated_ms";

Order order_row(db::Statement& r) {
  Order o;
  o.id = r.column_text(0);
  o.instrument = r.column_text(1);
  o.user = r.column_text(2);
  o.state = state_from(r.column_text(3)).value_or(State::submitted);
  o.sample_count = r.column_int64(4);
  o.sample_names = decode_names(r.column_text(5));
  o.form = sample_form_from(r.column_text(6)).value_or(SampleForm::other);
  o.hazards = r.column_text(7);
  o.tests = r.column_text(8);
  o.parameters = decode_params(r.column_text(9));
  o.delivery = delivery_from(r.column_text(10)).value_or(Delivery::in_person);
  o.account = r.column_text(11);
  o.session = r.column_text(12);
  o.reason = r.column_text(13);
  o.created_ms = r.column_int64(14);
  o.updated_ms = r.column_int64(15);
  return o;
}

constexpr std::string_view kAttCols = "id, order_id, name, content_type, size, sha256, result, uploaded_by, created_ms";

Attachment attachment_row(db::Statement& r) {
  return Attachment{r.column_text(0),  r.column_text(1),     r.column_text(2), r.column_text(3),  r.column_int64(4),
                    r.column_text(5),  r.column_int64(6) != 0, r.column_text(7), r.column_int64(8)};
}

}  // namespace

std::span<const db::Migration> migrations() { return kMigrations; }

Status SqliteStore::insert(const Order& o) {
  auto& d = db_.conn();
  LG_TRY(require_ref(d, "instruments", "instrument", o.instrument, "instrument"));
  LG_TRY(require_ref(d, "users", "user", o.user, "user"));
  LG_TRY(require_absent(d, "orders", o.id, "order"));
  auto ins = d.prepare("INSERT INTO orders(" + std::string(kCols) +
                       ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  if (!ins) return ins.error();
  ins->bind(1, o.id)
      .bind(2, o.instrument)
      .bind(3, o.user)
      .bind(4, to_string(o.state))
      .bind(5, o.sample_count)
      .bind(6, encode_names(o.sample_names))
      .bind(7, to_string(o.form))
      .bind(8, o.hazards)
      .bind(9, o.tests)
      .bind(10, encode_params(o.parameters))
      .bind(11, to_string(o.delivery))
      .bind(12, o.account)
      .bind(13, o.session)
      .bind(14, o.reason)
      .bind(15, o.created_ms)
      .bind(16, o.updated_ms);
  LG_TRY(ins->run());
  auto line = d.prepare("INSERT INTO order_fee_lines(order_id, n, code, quantity) VALUES (?, ?, ?, ?)");
  if (!line) return line.error();
  for (std::size_t i = 0; i < o.fee_lines.size(); ++i) {
    line->bind(1, o.id).bind(2, static_cast<int64_t>(i + 1)).bind(3, o.fee_lines[i].code).bind(4, o.fee_lines[i].quantity);
    LG_TRY(line->run());
  }
  return {};
}

Status SqliteStore::load_fee_lines(Order& o) {
  auto q = db_.conn().prepare("SELECT code, quantity FROM order_fee_lines WHERE order_id = ? ORDER BY n");
  if (!q) return q.error();
  q->bind(1, o.id);
  return each_row(*q, [&](db::Statement& r) { o.fee_lines.push_back(FeeLine{r.column_text(0), r.column_int64(1)}); });
}

Result<std::optional<Order>> SqliteStore::get(const std::string& id) {
  auto q = db_.conn().prepare("SELECT " + std::string(kCols) + " FROM orders WHERE id = ?");
  if (!q) return q.error();
  q->bind(1, id);
  auto row = q->step();
  if (!row) return row.error();
  std::optional<Order> out;
  if (*row) out = order_row(*q);
  q->reset();
  if (out) LG_TRY(load_fee_lines(*out));
  return out;
}

Result<PageOf<Order>> SqliteStore::list(const Filter& f) {
  static constexpr Keyset q{
      "SELECT id, instrument, user, state, sample_count, sample_names, form, hazards, tests, parameters, delivery, "
      "account, session, reason, created_ms, updated_ms, created_ms, id FROM orders "
      "WHERE (?1 = '' OR instrument = ?1) AND (?2 = '' OR user = ?2) AND (?3 = '' OR state = ?3)",
      16, "(created_ms, id)", "is", true, "ORDER BY created_ms DESC, id DESC", 4};
  auto page = read_page<Order>(
      db_.conn(), q, f.page, [&](db::Statement& st) { st.bind(1, f.instrument).bind(2, f.user).bind(3, f.state); },
      order_row);
  if (!page) return page.error();
  for (auto& o : page->rows) LG_TRY(load_fee_lines(o));
  return page;
}

Status SqliteStore::update(const Order& o) {
  auto st = db_.conn().prepare("UPDATE orders SET state = ?, session = ?, reason = ?, updated_ms = ? WHERE id = ?");
  if (!st) return st.error();
  st->bind(1, to_string(o.state)).bind(2, o.session).bind(3, o.reason).bind(4, o.updated_ms).bind(5, o.id);
  LG_TRY(st->run());
  if (db_.conn().changes() == 0) return domain_error(Errc::not_found, "order: no order '" + o.id + "'");
  return {};
}

Status SqliteStore::add_event(const Event& e) {
  auto& d = db_.conn();
  auto last = d.prepare("SELECT COALESCE(MAX(seq), 0) FROM order_events WHERE order_id = ?");
  if (!last) return last.error();
  last->bind(1, e.order);
  auto row = last->step();
  if (!row) return row.error();
  const int64_t top = last->column_int64(0);
  last->reset();
  if (e.seq != top + 1)
    return domain_error(Errc::conflict, "order " + e.order + ": event " + std::to_string(e.seq) + " after " +
                                            std::to_string(top));
  auto ins = d.prepare(
      "INSERT INTO order_events(order_id, seq, from_state, to_state, action, actor, at_ms, reason) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
  if (!ins) return ins.error();
  ins->bind(1, e.order).bind(2, e.seq);
  if (e.from) ins->bind(3, to_string(*e.from));
  else ins->bind_null(3);
  ins->bind(4, to_string(e.to)).bind(5, to_string(e.action)).bind(6, e.actor).bind(7, e.at_ms).bind(8, e.reason);
  if (auto s = ins->run(); !s) {
    if (db::is_constraint(s.error())) return domain_error(Errc::conflict, "order " + e.order + ": " + s.error().reason);
    return s.error();
  }
  return {};
}

Result<std::vector<Event>> SqliteStore::events(const std::string& order) {
  auto q = db_.conn().prepare(
      "SELECT order_id, seq, from_state, to_state, action, actor, at_ms, reason FROM order_events WHERE order_id = ? "
      "ORDER BY seq");
  if (!q) return q.error();
  q->bind(1, order);
  std::vector<Event> out;
  LG_TRY(each_row(*q, [&](db::Statement& r) {
    Event e;
    e.order = r.column_text(0);
    e.seq = r.column_int64(1);
    if (!r.column_is_null(2)) e.from = state_from(r.column_text(2));
    e.to = state_from(r.column_text(3)).value_or(State::submitted);
    e.action = action_from(r.column_text(4)).value_or(Action::submit);
    e.actor = r.column_text(5);
    e.at_ms = r.column_int64(6);
    e.reason = r.column_text(7);
    out.push_back(std::move(e));
  }));
  return out;
}

Status SqliteStore::add_attachment(const Attachment& a) {
  auto& d = db_.conn();
  LG_TRY(require_ref(d, "orders", "order", a.order, "order"));
  LG_TRY(require_absent(d, "order_attachments", a.id, "attachment"));
  auto ins = d.prepare("INSERT INTO order_attachments(" + std::string(kAttCols) + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
  if (!ins) return ins.error();
  ins->bind(1, a.id)
      .bind(2, a.order)
      .bind(3, a.name)
      .bind(4, a.content_type)
      .bind(5, a.size)
      .bind(6, a.sha256)
      .bind(7, b64(a.result))
      .bind(8, a.uploaded_by)
      .bind(9, a.created_ms);
  return ins->run();
}

Result<std::vector<Attachment>> SqliteStore::attachments(const std::string& order) {
  auto q = db_.conn().prepare("SELECT " + std::string(kAttCols) +
                              " FROM order_attachments WHERE order_id = ? ORDER BY created_ms, id");
  if (!q) return q.error();
  q->bind(1, order);
  std::vector<Attachment> out;
  LG_TRY(each_row(*q, [&](db::Statement& r) { out.push_back(attachment_row(r)); }));
  return out;
}

Result<std::optional<Attachment>> SqliteStore::attachment(const std::string& order, const std::string& id) {
  auto q = db_.conn().prepare("SELECT " + std::string(kAttCols) + " FROM order_attachments WHERE order_id = ? AND id = ?");
  if (!q) return q.error();
  q->bind(1, order).bind(2, id);
  auto row = q->step();
  if (!row) return row.error();
  std::optional<Attachment> out;
  if (*row) out = attachment_row(*q);
  q->reset();
  return out;
}

Result<std::optional<LinkedSession>> SqliteStore::session(const std::string& id) {
  auto q = db_.conn().prepare("SELECT id, resource, user FROM usage_sessions WHERE id = ?");
  if (!q) return q.error();
  q->bind(1, id);
  auto row = q->step();
  if (!row) return row.error();
  std::optional<LinkedSession> out;
  if (*row) out = LinkedSession{q->column_text(0), q->column_text(1), q->column_text(2)};
  q->reset();
  return out;
}

}  // namespace lg::server::orders
