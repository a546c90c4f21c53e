// The simulation's in-memory broker and virtual time: delivery, retained messages, connection
// callbacks and the seeded faults (drop, duplicate, reorder, partitions, outages).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "broker.hpp"
#include "sim_time.hpp"

using lg::sim::Broker;
using lg::sim::EventQueue;
using lg::sim::Rng;

namespace {

/// One client's view: messages and connection callbacks in the order they came.
struct Seen {
  std::vector<std::string> log;  // "msg <topic> <payload>[ r]" | "up" | "down"
  std::vector<std::string> payloads;
};

Broker::ClientId add(Broker& b, Seen& s, const std::string& name) {
  return b.add_client(
      name,
      [&s](const lg::mqtt::Message& m) {
        s.log.push_back("msg " + m.topic + " " + m.payload + (m.retained ? " r" : ""));
        s.payloads.push_back(m.payload);
      },
      [&s](bool up) { s.log.push_back(up ? "up" : "down"); });
}

/// Publishes n numbered messages from a to topic, one per ms, and runs until all arrived.
std::vector<std::string> numbered(uint64_t seed, lg::sim::NetFaults f, int n) {
  EventQueue q;
  Broker b(q, seed);
  b.faults = f;
  Seen ps, ss;
  auto p = add(b, ps, "pub");
  auto s = add(b, ss, "sub");
  b.subscribe(s, "t/#");
  b.start(p);
  b.start(s);
  q.run_until(100);
  for (int i = 0; i < n; ++i) {
    REQUIRE(b.publish(p, "t/x", std::to_string(i), false).ok());
    q.run_until(q.now() + 1);
  }
  q.run_until(q.now() + 60'000);
  CHECK(b.in_flight() == 0);
  return ss.payloads;
}

}  // namespace

TEST_CASE("topic filters: + is one level, # the rest (and the parent)") {
  CHECK(Broker::matches("lg/v1/s/+/evt", "lg/v1/s/t1/evt"));
  CHECK_FALSE(Broker::matches("lg/v1/s/+/evt", "lg/v1/s/t1/ack"));
  CHECK_FALSE(Broker::matches("lg/v1/s/+/evt", "lg/v1/s/t1/evt/x"));
  CHECK_FALSE(Broker::matches("lg/v1/s/+/evt", "lg/v1/s/evt"));
  CHECK(Broker::matches("lg/v1/s/t1/sync", "lg/v1/s/t1/sync"));
  CHECK(Broker::matches("#", "a/b/c"));
  CHECK(Broker::matches("a/#", "a"));
  CHECK(Broker::matches("a/#", "a/b/c"));
  CHECK_FALSE(Broker::matches("a/#", "b/a"));
}

TEST_CASE("virtual time runs events in time order, ties in scheduling order, and the seeded stream replays") {
  EventQueue q;
  std::vector<int> order;
  q.at(20, [&] { order.push_back(3); });
  q.at(10, [&] { order.push_back(1); });
  q.at(10, [&] {
    order.push_back(2);
    q.after(0, [&] { order.push_back(22); });  // "now" runs after what is already due now
  });
  q.run_until(15);
  CHECK(q.now() == 15);
  CHECK(order == std::vector<int>{1, 2, 22});
  q.run_until(30);
  CHECK(order.back() == 3);

  Rng a(7), b(7), c(8);
  bool differs = false;
  for (int i = 0; i < 100; ++i) {
    const auto x = a.between(0, 1000);
    CHECK(x == b.between(0, 1000));
    CHECK(x >= 0);
    CHECK(x <= 1000);
    differs = differs || x != c.between(0, 1000);
  }
  CHECK(differs);
}

TEST_CASE("a clean network delivers every message once, in order, a publisher must be connected") {
  EventQueue q;
  Broker b(q, 1);
  Seen ps, ss;
  auto p = add(b, ps, "pub");
  auto s = add(b, ss, "sub");
  b.subscribe(s, "t/+");
  CHECK_FALSE(b.publish(p, "t/x", "early", false).ok());  // not started, not connected
  b.start(p);
  b.start(s);
  CHECK(b.connected(p));
  q.run_until(100);
  CHECK(ps.log == std::vector<std::string>{"up"});
  for (int i = 0; i < 20; ++i) REQUIRE(b.publish(p, "t/x", std::to_string(i), false).ok());
  CHECK(b.in_flight() == 20);
  q.run_until(1000);
  REQUIRE(ss.payloads.size() == 20);
  for (int i = 0; i < 20; ++i) CHECK(ss.payloads[static_cast<std::size_t>(i)] == std::to_string(i));
  CHECK(b.in_flight() == 0);
  CHECK(b.stats().delivered == 20);
}

TEST_CASE("drop, duplicate and reorder are decided by the seed") {
  lg::sim::NetFaults drop_all;
  drop_all.drop = 1;
  CHECK(numbered(3, drop_all, 20).empty());

  lg::sim::NetFaults dup_all;
  dup_all.duplicate = 1;
  CHECK(numbered(3, dup_all, 20).size() == 40);

  lg::sim::NetFaults shuffle;
  shuffle.reorder = 0.5;
  shuffle.reorder_ms = 5000;
  const auto a = numbered(11, shuffle, 50);
  CHECK(a.size() == 50);
  bool out_of_order = false;
  for (std::size_t i = 1; i < a.size(); ++i) out_of_order = out_of_order || std::stoi(a[i]) < std::stoi(a[i - 1]);
  CHECK(out_of_order);
  CHECK(numbered(11, shuffle, 50) == a);  // same seed, same run
  CHECK(numbered(12, shuffle, 50) != a);

  lg::sim::NetFaults some;
  some.drop = 0.3;
  some.duplicate = 0.3;
  const auto d = numbered(5, some, 100);
  CHECK(d == numbered(5, some, 100));
  CHECK(d.size() != 100);
}

TEST_CASE("retained messages: delivered on (re)connect, deleted by an empty payload, lost with a broker that restarts empty") {
  EventQueue q;
  Broker b(q, 2);
  Seen ps, ss;
  auto p = add(b, ps, "pub");
  auto s = add(b, ss, "sub");
  b.subscribe(s, "cfg/#");
  b.start(p);
  q.run_until(10);
  REQUIRE(b.publish(p, "cfg/a", "v1", true).ok());
  REQUIRE(b.publish(p, "cfg/b", "old", true).ok());
  REQUIRE(b.publish(p, "cfg/b", "", true).ok());  // deletes it
  q.run_until(100);
  CHECK(b.retained().size() == 1);
  CHECK(b.retained().at("cfg/a") == "v1");

  b.start(s);
  q.run_until(200);
  CHECK(ss.payloads == std::vector<std::string>{"v1"});
  CHECK(std::find(ss.log.begin(), ss.log.end(), "msg cfg/a v1 r") != ss.log.end());

  b.go_down(true);
  CHECK_FALSE(b.connected(s));
  CHECK(ss.log.back() == "down");
  CHECK(b.retained().empty());
  b.come_up();
  q.run_until(q.now() + 20'000);  // both reconnect on their own
  CHECK(b.connected(s));
  CHECK(b.connected(p));
  CHECK(ss.log.back() == "up");
  CHECK(ss.payloads.size() == 1);  // nothing retained any more
}

TEST_CASE("the retained messages of a connection come before or after its callback, as the seed decides") {
  int before = 0;
  int after = 0;
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    EventQueue q;
    Broker b(q, seed);
    Seen ps, ss;
    auto p = add(b, ps, "pub");
    auto s = add(b, ss, "sub");
    b.subscribe(s, "cfg/a");
    b.start(p);
    REQUIRE(b.publish(p, "cfg/a", "v", true).ok());
    q.run_until(100);
    b.start(s);
    q.run_until(200);
    REQUIRE(ss.log.size() == 2);
    if (ss.log[0] == "up") {
      ++after;
    } else {
      ++before;
    }
  }
  CHECK(before > 0);
  CHECK(after > 0);
}

TEST_CASE("a partition drops the connection (will, loss reported, messages in flight lost) until it ends") {
  EventQueue q;
  Broker b(q, 4);
  b.faults.min_delay_ms = 50;
  b.faults.max_delay_ms = 50;
  Seen ps, ss;
  auto p = add(b, ps, "pub");
  auto s = add(b, ss, "sub");
  b.subscribe(s, "state/#");
  b.subscribe(p, "x");
  b.set_will(p, lg::mqtt::Will{"state/p", "offline", 1, true});
  b.start(p);
  b.start(s);
  q.run_until(100);
  REQUIRE(b.publish(s, "x", "to p", false).ok());
  q.run_until(q.now() + 60);  // at the broker, on its way to p
  b.partition(p, 30'000);
  CHECK(ps.log == std::vector<std::string>{"up", "down"});
  q.run_until(q.now() + 200);
  CHECK(ss.payloads == std::vector<std::string>{"offline"});
  CHECK(b.retained().at("state/p") == "offline");
  CHECK(b.stats().lost_in_flight == 1);
  q.run_until(q.now() + 20'000);
  CHECK_FALSE(b.connected(p));  // still cut off
  q.run_until(q.now() + 30'000);
  CHECK(b.connected(p));
  CHECK(ps.log.back() == "up");
}

TEST_CASE("a connection lost before it was reported is never reported, a stopped client gets no callback") {
  EventQueue q;
  Broker b(q, 9);
  Seen cs;
  auto c = add(b, cs, "c");
  b.start(c);
  CHECK(b.connected(c));
  b.partition(c, 5'000);  // at once, before the "connected" callback ran
  q.run_until(1'000);
  CHECK(cs.log.empty());
  q.run_until(20'000);
  CHECK(cs.log == std::vector<std::string>{"up"});
  b.stop(c, true);
  q.run_until(40'000);
  CHECK(cs.log == std::vector<std::string>{"up"});
  CHECK_FALSE(b.connected(c));
}
