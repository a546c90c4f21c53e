#include "server/orders/pg_store.hpp"

#include <array>

#include "server/core/pg_util.hpp"
#include "server/orders/rules.hpp"

namespace lg::server::orders {

using namespace pgsql;

namespace {

// orders::decide moves an order; the CHECKs only keep the stored names to the known ones, and
// the primary key of order_events keeps one history line per seq even across nodes.
constexpr std::string_view kV1 = R"sql(
CREATE TABLE orders (
  id TEXT PRIMARY KEY,
  instrument TEXT NOT NULL REFERENCES instruments(id),
  user_id TEXT NOT NULL REFERENCES users(id),
  state TEXT NOT NULL CHECK (state IN ('submitted', 'accepted', 'refused', 'samples_received', 'in_testing',
                                       'results_uploaded', 'completed', 'confirmed', 'cancelled')),
  sample_count BIGINT NOT NULL CHECK (sample_count > 0),
  sample_names TEXT NOT NULL DEFAULT '',
  form TEXT NOT NULL,
  hazards TEXT NOT NULL DEFAULT '',
  tests TEXT NOT NULL,
  parameters TEXT NOT NULL DEFAULT '',
  delivery TEXT NOT NULL CHECK (delivery IN ('in_person', 'courier', 'internal_mail')),
  account TEXT NOT NULL,
  session TEXT NOT NULL DEFAULT '',
  reason TEXT NOT NULL DEFAULT '',
  created_ms BIGINT NOT NULL,
  updated_ms BIGINT NOT NULL
);
CREATE INDEX orders_by_created ON orders(created_ms, id);
CREATE INDEX orders_by_instrument ON orders(instrument, created_ms);
CREATE TABLE order_fee_lines (
  order_id TEXT NOT NULL REFERENCES orders(id),
  n BIGINT NOT NULL,
  code TEXT NOT NULL,
  quantity BIGINT NOT NULL CHECK (quantity > 0),
  PRIMARY KEY (order_id, n)
);
CREATE TABLE order_events (
  order_id TEXT NOT NULL REFERENCES orders(id),
  seq BIGINT NOT NULL CHECK (seq > 0),
  from_state TEXT,
  to_state TEXT NOT NULL,
  action TEXT NOT NULL,
  actor TEXT NOT NULL,
  at_ms BIGINT NOT NULL,
  reason TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (order_id, seq)
);
CREATE TABLE order_attachments (
  id TEXT PRIMARY KEY,
  order_id TEXT NOT NULL REFERENCES orders(id),
  name TEXT NOT NULL,
  content_type TEXT NOT NULL,
  size BIGINT NOT NULL CHECK (size >= 0),
  sha256 TEXT NOT NULL,
  result BOOLEAN NOT NULL,
  uploaded_by TEXT NOT NULL,
  created_ms BIGINT NOT NULL
);
CREATE INDEX order_attachments_by_order ON order_attachments(order_id, created_ms);
)sql";

constexpr std::array<db::Migration, 1> kMigrations{{{1, "sample orders, their history and attachments", kV1}}};

constexpr std::string_view kCols =
    "id, instrument, user_id, state, sample_count, sample_names, form, hazards, tests, parameters, delivery, account, "
    "session, reason, created_ms, updated_ms";

Order order_row(const pg::Rows& r, int i) {
  Order o;
  o.id = r.text(i, 0);
  o.instrument = r.text(i, 1);
  o.user = r.text(i, 2);
  o.state = state_from(r.text(i, 3)).value_or(State::submitted);
  o.sample_count = r.i64(i, 4);
  o.sample_names = decode_names(r.text(i, 5));
  o.form = sample_form_from(r.text(i, 6)).value_or(SampleForm::other);
  o.hazards = r.text(i, 7);
  o.tests = r.text(i, 8);
  o.parameters = decode_params(r.text(i, 9));
  o.delivery = delivery_from(r.text(i, 10)).value_or(Delivery::in_person);
  o.account = r.text(i, 11);
  o.session = r.text(i, 12);
  o.reason = r.text(i, 13);
  o.created_ms = r.i64(i, 14);
  o.updated_ms = r.i64(i, 15);
  return o;
}

constexpr std::string_view kAttCols = "id, order_id, name, content_type, size, sha256, result, uploaded_by, created_ms";

Attachment attachment_row(const pg::Rows& r, int i) {
  return Attachment{r.text(i, 0), r.text(i, 1),    r.text(i, 2), r.text(i, 3), r.i64(i, 4),
                    r.text(i, 5), r.boolean(i, 6), r.text(i, 7), r.i64(i, 8)};
}

}  // namespace

std::span<const db::Migration> pg_migrations() { return kMigrations; }

Status PgStore::insert(const Order& o) {
  auto& c = db_.conn();
  LG_TRY(require_ref(c, "instruments", "instrument", o.instrument, "instrument"));
  LG_TRY(require_ref(c, "users", "user", o.user, "user"));
  LG_TRY(require_absent(c, "orders", o.id, "order"));
  pg::Params p;
  p.add(o.id).add(o.instrument).add(o.user).add(to_string(o.state)).add(o.sample_count).add(encode_names(o.sample_names));
  p.add(to_string(o.form)).add(o.hazards).add(o.tests).add(encode_params(o.parameters)).add(to_string(o.delivery));
  p.add(o.account).add(o.session).add(o.reason).add(o.created_ms).add(o.updated_ms);
  auto r = c.exec("INSERT INTO orders(" + std::string(kCols) +
                      ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
                  p);
  if (!r && pg::is_unique_violation(r.error())) return domain_error(Errc::conflict, "id: order '" + o.id + "' already exists");
  LG_TRY(done(r));
  for (std::size_t i = 0; i < o.fee_lines.size(); ++i) {
    LG_TRY(done(c.q("INSERT INTO order_fee_lines(order_id, n, code, quantity) VALUES ($1, $2, $3, $4)", o.id,
                    static_cast<int64_t>(i + 1), o.fee_lines[i].code, o.fee_lines[i].quantity)));
  }
  return {};
}

Status PgStore::load_fee_lines(Order& o) {
  auto r = db_.conn().q("SELECT code, quantity FROM order_fee_lines WHERE order_id = $1 ORDER BY n", o.id);
  if (!r) return r.error();
  for (int i = 0; i < r->size(); ++i) o.fee_lines.push_back(FeeLine{r->text(i, 0), r->i64(i, 1)});
  return {};
}

Result<std::optional<Order>> PgStore::get(const std::string& id) {
  auto r = db_.conn().q("SELECT " + std::string(kCols) + " FROM orders WHERE id = $1", id);
  if (!r) return r.error();
  std::optional<Order> out;
  if (!r->empty()) {
    out = order_row(*r, 0);
    LG_TRY(load_fee_lines(*out));
  }
  return out;
}

Result<PageOf<Order>> PgStore::list(const Filter& f) {
  static constexpr Keyset q{
      "SELECT id, instrument, user_id, state, sample_count, sample_names, form, hazards, tests, parameters, delivery, "
      "account, session, reason, created_ms, updated_ms, created_ms, id FROM orders "
      "WHERE ($1::text = '' OR instrument = $1) AND ($2::text = '' OR user_id = $2) AND ($3::text = '' OR state = $3)",
      16, "(created_ms, id)", "is", true, "ORDER BY created_ms DESC, id DESC", 4};
  pg::Params filters;
  filters.add(f.instrument).add(f.user).add(f.state);
  auto page = read_page<Order>(db_.conn(), q, f.page, std::move(filters), order_row);
  if (!page) return page.error();
  for (auto& o : page->rows) LG_TRY(load_fee_lines(o));
  return page;
}

Status PgStore::update(const Order& o) {
  auto r = db_.conn().q("UPDATE orders SET state = $1, session = $2, reason = $3, updated_ms = $4 WHERE id = $5",
                        std::string(to_string(o.state)), o.session, o.reason, o.updated_ms, o.id);
  if (!r) return r.error();
  if (r->affected() == 0) return domain_error(Errc::not_found, "order: no order '" + o.id + "'");
  return {};
}

Status PgStore::add_event(const Event& e) {
  auto& c = db_.conn();
  auto top = c.q("SELECT COALESCE(MAX(seq), 0) FROM order_events WHERE order_id = $1", e.order);
  if (!top) return top.error();
  const int64_t last = top->i64(0, 0);
  if (e.seq != last + 1)
    return domain_error(Errc::conflict,
                        "order " + e.order + ": event " + std::to_string(e.seq) + " after " + std::to_string(last));
  pg::Params p;
  p.add(e.order).add(e.seq);
  if (e.from) p.add(to_string(*e.from));
  else p.add(std::nullopt);
  p.add(to_string(e.to)).add(to_string(e.action)).add(e.actor).add(e.at_ms).add(e.reason);
  auto r = c.exec(
      "INSERT INTO order_events(order_id, seq, from_state, to_state, action, actor, at_ms, reason) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
      p);
  if (!r && pg::is_unique_violation(r.error()))
    // A concurrent unit of work appended this seq first: run again, the history then reads on.
    return Error{pg::make_code("40001"), "order " + e.order + ": event " + std::to_string(e.seq) + " appended concurrently"};
  return done(r);
}

Result<std::vector<Event>> PgStore::events(const std::string& order) {
  auto r = db_.conn().q(
      "SELECT order_id, seq, from_state, to_state, action, actor, at_ms, reason FROM order_events WHERE order_id = $1 "
      "ORDER BY seq",
      order);
  if (!r) return r.error();
  std::vector<Event> out;
  for (int i = 0; i < r->size(); ++i) {
    Event e;
    e.order = r->text(i, 0);
    e.seq = r->i64(i, 1);
    if (!r->null(i, 2)) e.from = state_from(r->text(i, 2));
    e.to = state_from(r->text(i, 3)).value_or(State::submitted);
    e.action = action_from(r->text(i, 4)).value_or(Action::submit);
    e.actor = r->text(i, 5);
    e.at_ms = r->i64(i, 6);
    e.reason = r->text(i, 7);
    out.push_back(std::move(e));
  }
  return out;
}

Status PgStore::add_attachment(const Attachment& a) {
  auto& c = db_.conn();
  LG_TRY(require_ref(c, "orders", "order", a.order, "order"));
  LG_TRY(require_absent(c, "order_attachments", a.id, "attachment"));
  pg::Params p;
  p.add(a.id).add(a.order).add(a.name).add(a.content_type).add(a.size).add(a.sha256).add(a.result).add(a.uploaded_by);
  p.add(a.created_ms);
  return done(c.exec("INSERT INTO order_attachments(" + std::string(kAttCols) +
                         ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                     p));
}

Result<std::vector<Attachment>> PgStore::attachments(const std::string& order) {
  auto r = db_.conn().q(
      "SELECT " + std::string(kAttCols) + " FROM order_attachments WHERE order_id = $1 ORDER BY created_ms, id", order);
  if (!r) return r.error();
  std::vector<Attachment> out;
  for (int i = 0; i < r->size(); ++i) out.push_back(attachment_row(*r, i));
  return out;
}

Result<std::optional<Attachment>> PgStore::attachment(const std::string& order, const std::string& id) {
  auto r = db_.conn().q("SELECT " + std::string(kAttCols) + " FROM order_attachments WHERE order_id = $1 AND id = $2",
                        order, id);
  if (!r) return r.error();
  std::optional<Attachment> out;
  if (!r->empty()) out = attachment_row(*r, 0);
  return out;
}

Result<std::optional<LinkedSession>> PgStore::session(const std::string& id) {
  auto r = db_.conn().q("SELECT id, resource, user_id FROM usage_sessions WHERE id = $1", id);
  if (!r) return r.error();
  std::optional<LinkedSession> out;
  if (!r->empty()) out = LinkedSession{r->text(0, 0), r->text(0, 1), r->text(0, 2)};
  return out;
}

}  // namespace lg::server::orders
