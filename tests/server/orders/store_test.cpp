// The orders store's contract on both backends (pg.* runs it on PostgreSQL): an order and its
// lists read back as written, unknown references refused, newest-first keyset paging with
// filters, state updates, the history's gapless seq, attachments per order, and the usage
// session lookup the in-testing link needs.
#include <doctest/doctest.h>

#include "server/orders/store.hpp"
#include "tests/server/test_support.hpp"

using namespace lg;
using namespace lg::server;
using namespace lg::server::test;
using namespace lg::server::orders;

namespace {

struct Fixture {
  TempDir dir;
  std::unique_ptr<TestStore> store = open_store(dir);
  Store& orders = store->stores().orders;
  Fixture() { seed(*store); }
};

Order sample(const std::string& id, const std::string& user, int64_t at) {
  Order o;
  o.id = id;
  o.instrument = "inst-xrd";
  o.user = user;
  o.sample_count = 3;
  o.sample_names = {"S1", "样品 2", "S3"};
  o.form = SampleForm::powder;
  o.hazards = "hygroscopic; keep dry";
  o.tests = "powder XRD, 10-80 deg";
  o.parameters = {{"step", "0.02"}, {"range", "10-80"}, {"note", "a = b, with spaces"}};
  o.delivery = Delivery::courier;
  o.account = "acct-alice";
  o.fee_lines = {{"xrd-sample", 3}, {"xrd-report", 1}};
  o.created_ms = at;
  o.updated_ms = at;
  return o;
}

}  // namespace

TEST_CASE("orders store: an order reads back as written, with its lists and fee lines") {
  Fixture f;
  const Order o = sample("o1", "alice", 1000);
  REQUIRE(f.orders.insert(o));
  auto got = f.orders.get("o1");
  REQUIRE(got);
  REQUIRE(*got);
  const Order& g = **got;
  CHECK(g.id == "o1");
  CHECK(g.instrument == "inst-xrd");
  CHECK(g.user == "alice");
  CHECK(g.state == State::submitted);
  CHECK(g.sample_count == 3);
  CHECK(g.sample_names == o.sample_names);
  CHECK(g.form == SampleForm::powder);
  CHECK(g.hazards == o.hazards);
  CHECK(g.tests == o.tests);
  CHECK(g.parameters == o.parameters);
  CHECK(g.delivery == Delivery::courier);
  CHECK(g.account == "acct-alice");
  CHECK(g.fee_lines == o.fee_lines);
  CHECK(g.session.empty());
  CHECK(g.created_ms == 1000);
  auto none = f.orders.get("nope");
  REQUIRE(none);
  CHECK_FALSE(*none);
  // Empty lists stay empty.
  Order bare = sample("o2", "bob", 2000);
  bare.sample_names.clear();
  bare.parameters.clear();
  bare.fee_lines.clear();
  REQUIRE(f.orders.insert(bare));
  auto b = f.orders.get("o2");
  REQUIRE(b);
  CHECK((*b)->sample_names.empty());
  CHECK((*b)->parameters.empty());
  CHECK((*b)->fee_lines.empty());
}

TEST_CASE("orders store: a second id, an unknown instrument or user is refused and nothing is stored") {
  Fixture f;
  REQUIRE(f.orders.insert(sample("o1", "alice", 1000)));
  auto again = f.orders.insert(sample("o1", "bob", 1000));
  REQUIRE_FALSE(again);
  CHECK(is(again.error(), Errc::conflict));
  Order x = sample("o2", "alice", 1000);
  x.instrument = "no-such";
  auto unk = f.orders.insert(x);
  REQUIRE_FALSE(unk);
  CHECK(is(unk.error(), Errc::unknown_reference));
  x = sample("o3", "nobody", 1000);
  unk = f.orders.insert(x);
  REQUIRE_FALSE(unk);
  CHECK(is(unk.error(), Errc::unknown_reference));
  auto all = f.orders.list(Filter{});
  REQUIRE(all);
  CHECK(all->size() == 1);
}

TEST_CASE("orders store: list is newest first, paged by keyset, filtered") {
  Fixture f;
  for (int i = 0; i < 5; ++i) {
    Order o = sample("o" + std::to_string(i), i % 2 ? "bob" : "alice", 1000 + i * 10);
    REQUIRE(f.orders.insert(o));
  }
  Order same_time = sample("o9", "alice", 1040);  // ties on created_ms are ordered by id
  REQUIRE(f.orders.insert(same_time));
  Filter all;
  all.page.limit = 4;
  auto p1 = f.orders.list(all);
  REQUIRE(p1);
  REQUIRE(p1->size() == 4);
  CHECK(p1->rows[0].id == "o9");
  CHECK(p1->rows[1].id == "o4");
  CHECK(p1->rows[2].id == "o3");
  CHECK(p1->rows[3].id == "o2");
  CHECK(p1->rows[0].fee_lines.size() == 2);
  REQUIRE(p1->more());
  all.page.after = p1->next;
  auto p2 = f.orders.list(all);
  REQUIRE(p2);
  REQUIRE(p2->size() == 2);
  CHECK(p2->rows[0].id == "o1");
  CHECK(p2->rows[1].id == "o0");
  CHECK_FALSE(p2->more());

  Filter bobs;
  bobs.user = "bob";
  auto b = f.orders.list(bobs);
  REQUIRE(b);
  CHECK(b->size() == 2);
  for (const auto& o : *b) CHECK(o.user == "bob");
  Filter other;
  other.instrument = "door-1";
  auto none = f.orders.list(other);
  REQUIRE(none);
  CHECK(none->empty());

  Order moved = sample("o3", "bob", 1030);
  moved.state = State::accepted;
  REQUIRE(f.orders.update(moved));
  Filter accepted;
  accepted.state = "accepted";
  auto acc = f.orders.list(accepted);
  REQUIRE(acc);
  REQUIRE(acc->size() == 1);
  CHECK(acc->rows[0].id == "o3");

  Filter wrong;
  wrong.page.after = PageKey{std::string("x")};
  auto bad = f.orders.list(wrong);
  REQUIRE_FALSE(bad);
  CHECK(is(bad.error(), Errc::bad_position));
}

TEST_CASE("orders store: update stores state, session, reason and time only") {
  Fixture f;
  REQUIRE(f.orders.insert(sample("o1", "alice", 1000)));
  Order o = sample("o1", "alice", 1000);
  o.state = State::in_testing;
  o.session = "s-1";
  o.reason = "";
  o.updated_ms = 5000;
  o.tests = "changed";       // not stored by update
  o.fee_lines.clear();       // nor this
  REQUIRE(f.orders.update(o));
  auto g = f.orders.get("o1");
  REQUIRE(g);
  CHECK((*g)->state == State::in_testing);
  CHECK((*g)->session == "s-1");
  CHECK((*g)->updated_ms == 5000);
  CHECK((*g)->tests == "powder XRD, 10-80 deg");
  CHECK((*g)->fee_lines.size() == 2);
  Order ghost = sample("ghost", "alice", 1000);
  auto s = f.orders.update(ghost);
  REQUIRE_FALSE(s);
  CHECK(is(s.error(), Errc::not_found));
}

TEST_CASE("orders store: the history is appended in seq order without gaps") {
  Fixture f;
  REQUIRE(f.orders.insert(sample("o1", "alice", 1000)));
  REQUIRE(f.orders.add_event(Event{"o1", 1, std::nullopt, State::submitted, Action::submit, "user:alice", 1000, ""}));
  REQUIRE(f.orders.add_event(Event{"o1", 2, State::submitted, State::refused, Action::refuse, "user:ia", 2000, "no"}));
  auto gap = f.orders.add_event(Event{"o1", 4, State::refused, State::cancelled, Action::cancel, "x", 3000, ""});
  REQUIRE_FALSE(gap);
  CHECK(is(gap.error(), Errc::conflict));
  auto twice = f.orders.add_event(Event{"o1", 2, State::refused, State::cancelled, Action::cancel, "x", 3000, ""});
  REQUIRE_FALSE(twice);
  auto ev = f.orders.events("o1");
  REQUIRE(ev);
  REQUIRE(ev->size() == 2);
  CHECK((*ev)[0].seq == 1);
  CHECK_FALSE((*ev)[0].from);
  CHECK((*ev)[0].to == State::submitted);
  CHECK((*ev)[0].action == Action::submit);
  CHECK((*ev)[0].actor == "user:alice");
  CHECK((*ev)[1].from == State::submitted);
  CHECK((*ev)[1].to == State::refused);
  CHECK((*ev)[1].reason == "no");
  CHECK((*ev)[1].at_ms == 2000);
  auto other = f.orders.events("o2");
  REQUIRE(other);
  CHECK(other->empty());
}

TEST_CASE("orders store: attachments belong to their order") {
  Fixture f;
  REQUIRE(f.orders.insert(sample("o1", "alice", 1000)));
  REQUIRE(f.orders.insert(sample("o2", "bob", 1000)));
  const Attachment a{"a1", "o1", "spec.pdf", "application/pdf", 12, std::string(64, 'a'), false, "user:alice", 1500};
  const Attachment r{"a2", "o1", "result.csv", "text/csv", 7, std::string(64, 'b'), true, "user:ia", 1600};
  REQUIRE(f.orders.add_attachment(a));
  REQUIRE(f.orders.add_attachment(r));
  auto again = f.orders.add_attachment(a);
  REQUIRE_FALSE(again);
  CHECK(is(again.error(), Errc::conflict));
  Attachment orphan = a;
  orphan.id = "a3";
  orphan.order = "nope";
  auto o = f.orders.add_attachment(orphan);
  REQUIRE_FALSE(o);
  CHECK(is(o.error(), Errc::unknown_reference));
  auto list = f.orders.attachments("o1");
  REQUIRE(list);
  REQUIRE(list->size() == 2);
  CHECK((*list)[0].id == "a1");
  CHECK((*list)[0].name == "spec.pdf");
  CHECK((*list)[0].content_type == "application/pdf");
  CHECK((*list)[0].size == 12);
  CHECK_FALSE((*list)[0].result);
  CHECK((*list)[1].result);
  CHECK((*list)[1].uploaded_by == "user:ia");
  auto one = f.orders.attachment("o1", "a2");
  REQUIRE(one);
  REQUIRE(*one);
  CHECK((*one)->name == "result.csv");
  auto wrong_order = f.orders.attachment("o2", "a2");  // a1/a2 are o1's, not o2's
  REQUIRE(wrong_order);
  CHECK_FALSE(*wrong_order);
  auto none = f.orders.attachments("o2");
  REQUIRE(none);
  CHECK(none->empty());
}

TEST_CASE("orders store: a usage session is found by id with its instrument") {
  Fixture f;
  const crypto::PrivateKey key = new_key();
  REQUIRE(f.store->add_terminal(terminal("t1", "inst-xrd", key.public_pem()), 1000));
  const int64_t start = 1'767'225'600'000;
  REQUIRE(f.store->commit_batch(batch("t1", {session_start(1, "r1", "sess-1", "04AA", "alice", start)}), start, "CNY"));
  auto s = f.orders.session("sess-1");
  REQUIRE(s);
  REQUIRE(*s);
  CHECK((*s)->id == "sess-1");
  CHECK((*s)->instrument == "inst-xrd");
  CHECK((*s)->user == "alice");
  auto none = f.orders.session("sess-x");
  REQUIRE(none);
  CHECK_FALSE(*none);
}
