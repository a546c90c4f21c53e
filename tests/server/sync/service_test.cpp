#include <doctest/doctest.h>

#include <algorithm>

#include "tests/server/test_support.hpp"
#include "server/sync/service.hpp"

using namespace lg;
using namespace lg::server;
using namespace lg::server::test;

namespace {
/// The digest of a card and the pseudonym of a user in terminal t's bundle, as the server makes them.
struct Private {
  std::string card_key, pseudonym_key;
  Private(const crypto::PrivateKey& server, const crypto::PrivateKey& terminal, const std::string& t) {
    card_key = proto::link_keys(server, terminal.public_key(), "demo", t)->card;
    pseudonym_key = *proto::pseudonym_key(server, "demo", t);
  }
  std::string card(const char* uid) const { return proto::card_digest(card_key, *CardUid::parse(uid)); }
  std::string user(const char* id) const { return proto::user_pseudonym(pseudonym_key, id); }
};
}  // namespace

TEST_CASE("sync bundles are versioned on content change signed and published retained at QoS 1") {
  TempDir dir;
  auto store = open_store(dir);
  seed(*store);
  auto server_key = new_key();
  auto term_key = new_key();
  RecordingPublisher pub;
  SyncService sync = make_sync(*store, server_key, "demo", pub);
  const int64_t now = ms("2026-01-15T00:00:00Z");
  REQUIRE(store->add_terminal(terminal("t1", "inst-xrd", term_key.public_pem()), now));

  auto v1 = sync.refresh("t1", now, false);
  REQUIRE(v1);
  CHECK(*v1 == 1);
  auto msgs = pub.on("lg/v1/demo/t1/sync");
  REQUIRE(msgs.size() == 1);
  CHECK(msgs[0].retained);
  CHECK(msgs[0].qos == 1);
  auto env = proto::open(msgs[0].payload);
  REQUIRE(env);
  CHECK(env->kid == "server");
  CHECK(proto::verify(*env, server_key.public_key()));
  CHECK_FALSE(proto::verify(*env, term_key.public_key()));
  auto bundle = proto::decode_sync(env->body);
  REQUIRE(bundle);
  CHECK(bundle->version == 1);
  REQUIRE(bundle->grants.size() == 1);  // only the admin: nobody is qualified yet
  const Private priv(server_key, term_key, "t1");
  CHECK(bundle->card_form == proto::CardForm::hmac_sha256_128);
  CHECK(bundle->grants[0].user == priv.user("root"));

  // nothing changed: same version, nothing new published
  auto same = sync.refresh("t1", now + 1000, false);
  CHECK(*same == 1);
  CHECK(pub.on("lg/v1/demo/t1/sync").size() == 1);

  // a qualification changes the content: version 2 with alice's card
  REQUIRE(store->put_qualification(Qualification{"alice", "inst-xrd", 0, std::nullopt}, now));
  REQUIRE(store->put_qualification(Qualification{"bob", "door-1", 0, std::nullopt}, now));
  auto v2 = sync.refresh("t1", now + 2000, false);
  CHECK(*v2 == 2);
  msgs = pub.on("lg/v1/demo/t1/sync");
  REQUIRE(msgs.size() == 2);
  auto b2 = proto::decode_sync(proto::open(msgs[1].payload)->body);
  REQUIRE(b2);
  CHECK(b2->version == 2);
  REQUIRE(b2->grants.size() == 2);
  // Sorted by digest: find alice's grant by her pseudonym.
  const auto alice = std::find_if(b2->grants.begin(), b2->grants.end(),
                                  [&](const proto::Grant& g) { return g.user == priv.user("alice"); });
  REQUIRE(alice != b2->grants.end());
  CHECK(alice->card == priv.card("04AA"));
  CHECK(std::is_sorted(b2->grants.begin(), b2->grants.end(),
                       [](const proto::Grant& x, const proto::Grant& y) { return x.card < y.card; }));

  // versions survive a restart (persisted), and a forced publish re-sends the stored bundle
  SyncService again = make_sync(*store, server_key, "demo", pub);
  auto v2b = again.refresh("t1", now + 3000, true);
  CHECK(*v2b == 2);
  msgs = pub.on("lg/v1/demo/t1/sync");
  REQUIRE(msgs.size() == 3);
  CHECK(msgs[2].payload == msgs[1].payload);
}

TEST_CASE("a publish failure keeps the new version stored for the next (re)connect") {
  TempDir dir;
  auto store = open_store(dir);
  seed(*store);
  auto server_key = new_key();
  RecordingPublisher pub;
  pub.fail = true;
  SyncService sync = make_sync(*store, server_key, "demo", pub);
  REQUIRE(store->add_terminal(terminal("t1", "inst-xrd", new_key().public_pem()), 0));
  REQUIRE(sync.refresh("t1", 0, false));
  pub.fail = false;
  REQUIRE(sync.republish_all());
  auto msgs = pub.on("lg/v1/demo/t1/sync");
  REQUIRE(msgs.size() == 1);
  CHECK(proto::decode_sync(proto::open(msgs[0].payload)->body)->version == 1);
}

TEST_CASE("what the broker holds on a sync topic is repaired unless it is the stored bundle") {
  TempDir dir;
  auto store = open_store(dir);
  seed(*store);
  auto server_key = new_key();
  RecordingPublisher pub;
  SyncService sync = make_sync(*store, server_key, "demo", pub);
  const int64_t now = ms("2026-01-15T00:00:00Z");
  REQUIRE(store->add_terminal(terminal("t1", "inst-xrd", new_key().public_pem()), now));
  REQUIRE(sync.refresh("t1", now, false));
  const std::string v1 = pub.on("lg/v1/demo/t1/sync").at(0).payload;
  REQUIRE(store->put_qualification(Qualification{"alice", "inst-xrd", 0, std::nullopt}, now));
  REQUIRE(*sync.refresh("t1", now, false) == 2);
  const std::string v2 = pub.on("lg/v1/demo/t1/sync").at(1).payload;
  auto overwritten = [&] {
    auto s = store->stats();
    REQUIRE(s);
    auto it = s->rejected.find("sync_overwritten");
    return it == s->rejected.end() ? int64_t{0} : it->second;
  };

  // our own echo: nothing to do
  CHECK_FALSE(*sync.on_retained("t1", v2, now));
  CHECK(pub.on("lg/v1/demo/t1/sync").size() == 2);
  // deleted (an empty retained message) and rolled back (a genuine older bundle): republished
  CHECK(*sync.on_retained("t1", "", now));
  CHECK(*sync.on_retained("t1", v1, now + 1));
  auto msgs = pub.on("lg/v1/demo/t1/sync");
  REQUIRE(msgs.size() == 4);
  CHECK(msgs[2].payload == v2);
  CHECK(msgs[3].payload == v2);
  CHECK(msgs[3].retained);
  CHECK(overwritten() == 2);
  // a terminal that is not enrolled is none of our business
  CHECK_FALSE(*sync.on_retained("t-ghost", "", now));

  // a publisher fighting us is answered a bounded number of times per window, then at tick
  for (int i = 0; i < 20; ++i) (void)sync.on_retained("t1", "", now + 2 + i);
  CHECK(pub.on("lg/v1/demo/t1/sync").size() == 4 + SyncService::kMaxRepairsPerWindow - 2);
  sync.repair_held_back();
  CHECK(pub.on("lg/v1/demo/t1/sync").size() == 4 + SyncService::kMaxRepairsPerWindow - 1);
  CHECK(pub.on("lg/v1/demo/t1/sync").back().payload == v2);
  // the next window answers again
  CHECK(*sync.on_retained("t1", "", now + SyncService::kRepairWindowMs + 100));
}

TEST_CASE("the dirty set coalesces marks and the sync service rebuilds only what they name") {
  TempDir dir;
  auto store = open_store(dir);
  seed(*store);
  auto server_key = new_key();
  auto k1 = new_key();
  auto k2 = new_key();
  RecordingPublisher pub;
  SyncService sync = make_sync(*store, server_key, "demo", pub);
  const int64_t now = ms("2026-01-15T00:00:00Z");
  REQUIRE(store->add_terminal(terminal("t-xrd", "inst-xrd", k1.public_pem()), now));
  REQUIRE(store->add_terminal(terminal("t-door", "door-1", k2.public_pem()), now));
  REQUIRE(sync.refresh_all(now, true));
  REQUIRE(pub.on("lg/v1/demo/t-xrd/sync").size() == 1);
  REQUIRE(pub.on("lg/v1/demo/t-door/sync").size() == 1);

  DirtySet dirty;
  int wakes = 0;
  dirty.on_first_mark([&] { ++wakes; });
  // three writes on the XRD before the flush: one wake, one rebuild
  REQUIRE(store->put_qualification(Qualification{"alice", "inst-xrd", 0, std::nullopt}, now));
  dirty.mark("inst-xrd");
  REQUIRE(store->put_qualification(Qualification{"bob", "inst-xrd", 0, std::nullopt}, now));
  dirty.mark("inst-xrd");
  dirty.mark("inst-xrd");
  CHECK(wakes == 1);
  CHECK(dirty.pending());
  auto n = sync.flush_dirty(dirty, now + 1);
  REQUIRE(n);
  CHECK(*n == 1);  // the door's terminal is not touched
  CHECK_FALSE(dirty.pending());
  auto xrd = pub.on("lg/v1/demo/t-xrd/sync");
  REQUIRE(xrd.size() == 2);
  CHECK(proto::decode_sync(proto::open(xrd[1].payload)->body)->version == 2);
  CHECK(pub.on("lg/v1/demo/t-door/sync").size() == 1);

  // a card change concerns every bundle; a republish sends an unchanged bundle again
  dirty.mark_all();
  CHECK(wakes == 2);
  n = sync.flush_dirty(dirty, now + 2);
  REQUIRE(n);
  CHECK(*n == 2);
  CHECK(pub.on("lg/v1/demo/t-door/sync").size() == 1);  // unchanged content: no new version, no publish
  dirty.republish("t-door");
  n = sync.flush_dirty(dirty, now + 3);
  REQUIRE(n);
  CHECK(*n == 1);
  CHECK(pub.on("lg/v1/demo/t-door/sync").size() == 2);  // the same version sent again
  CHECK(sync.flush_dirty(dirty, now + 4).value() == 0);
}

TEST_CASE("a bundle carries no card uid, user id or name, its pseudonyms are kept for ingest, per terminal") {
  TempDir dir;
  auto store = open_store(dir);
  seed(*store);
  auto server_key = new_key();
  auto k1 = new_key();
  auto k2 = new_key();
  RecordingPublisher pub;
  SyncService sync = make_sync(*store, server_key, "demo", pub);
  const int64_t now = ms("2026-01-15T00:00:00Z");
  REQUIRE(store->add_terminal(terminal("t1", "inst-xrd", k1.public_pem()), now));
  REQUIRE(store->add_terminal(terminal("t2", "inst-xrd", k2.public_pem()), now));
  REQUIRE(store->put_qualification(Qualification{"alice", "inst-xrd", 0, std::nullopt}, now));
  REQUIRE(sync.refresh("t1", now, false));
  REQUIRE(sync.refresh("t2", now, false));
  auto body = [&](const char* t) {
    return proto::open(pub.on(std::string("lg/v1/demo/") + t + "/sync").back().payload)->body;
  };
  const std::string b1 = body("t1");
  const std::string b2 = body("t2");
  for (const auto& b : {b1, b2}) {
    for (const char* secret : {"04AA", "04aa", "alice", "root", "Alice"}) CHECK(b.find(secret) == std::string::npos);
  }
  const Private p1(server_key, k1, "t1");
  const Private p2(server_key, k2, "t2");
  CHECK(b1.find(p1.card("04AA")) != std::string::npos);
  CHECK(b2.find(p2.card("04AA")) != std::string::npos);
  CHECK(p1.card("04AA") != p2.card("04AA"));  // the same card, two terminals: two digests
  CHECK(p1.user("alice") != p2.user("alice"));

  // Every pseudonym a bundle names is kept, before publishing, for that terminal only.
  auto kept = store->stores().usage.pseudonym_users("t1", {p1.user("alice"), p1.user("root"), p2.user("alice")});
  REQUIRE(kept);
  CHECK(*kept == std::map<std::string, std::string>{{p1.user("alice"), "alice"}, {p1.user("root"), "root"}});
  // Kept again (a rebuild) changes nothing.
  REQUIRE(store->stores().usage.keep_pseudonyms("t1", {{p1.user("alice"), "alice"}}));
  CHECK(store->stores().usage.pseudonym_users("t1", {p1.user("alice")})->at(p1.user("alice")) == "alice");
}
