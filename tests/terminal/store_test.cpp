#include <doctest/doctest.h>

#include "labgate/common/crypto.hpp"
#include "store.hpp"
#include "support/temp_dir.hpp"

using namespace lg::terminal;
using lg::proto::Record;

namespace {

Record alarm(const std::string& code) {
  Record r;
  r.id = lg::crypto::uuid4();
  r.ts_ms = 1'800'000'000'000;
  r.body = lg::proto::Alarm{code, "detail"};
  return r;
}

Store open_store(const lg::test::TempDir& d) {
  auto s = Store::open(d.file("terminal.db"));
  REQUIRE_MESSAGE(s.has_value(), (s ? "" : s.error().message()));
  return std::move(*s);
}

const std::string kCardKey(32, 'c');
std::string dg(const char* uid) { return lg::proto::card_digest(kCardKey, *lg::CardUid::parse(uid)); }

lg::proto::SyncBundle bundle(uint64_t version) {
  lg::proto::SyncBundle b;
  b.terminal = "t1";
  b.version = version;
  b.issued_ms = 1'800'000'000'000;
  b.resource = "inst-xrd";
  b.policy.require_booking = version % 2 == 0;
  b.policy.offline_grace_s = 3600 * static_cast<int64_t>(version);
  b.grants.push_back({dg("04A1B2C3"), "u01", "internal", false, 0, std::nullopt});
  b.grants.push_back({dg("0AD0"), "admin", "internal", true, 5, 1'900'000'000'000});
  b.bookings.push_back({"b" + std::to_string(version), "u01", 1'800'000'000'000, 1'800'003'600'000});
  return b;
}

}  // namespace

TEST_CASE("seq only grows: survives reopen and deletion of every record") {
  lg::test::TempDir d("seq");
  uint64_t last = 0;
  {
    Store s = open_store(d);
    for (int i = 0; i < 3; ++i) {
      auto r = alarm("a" + std::to_string(i));
      REQUIRE(s.append(r));
      CHECK(r.seq == last + 1);
      last = r.seq;
    }
    auto n = s.ack(last);  // server acked everything: outbox empty
    REQUIRE(n);
    CHECK(*n == 3);
    CHECK(*s.depth() == 0);
  }
  Store s = open_store(d);
  auto r = alarm("after");
  REQUIRE(s.append(r));
  CHECK(r.seq == last + 1);  // not reused after deletion and reopen
  CHECK(*s.last_seq() == last + 1);
  auto p = s.pending(0, 10);
  REQUIRE(p);
  REQUIRE(p->size() == 1);
  CHECK((*p)[0] == r);  // stored record decodes back, with its seq
}

TEST_CASE("ack prunes exactly seq <= ack - pending is ordered and paged") {
  lg::test::TempDir d("ack");
  Store s = open_store(d);
  std::vector<Record> recs;
  for (int i = 0; i < 5; ++i) {
    recs.push_back(alarm("a" + std::to_string(i)));
    REQUIRE(s.append(recs.back()));
  }
  auto n = s.ack(recs[2].seq);
  REQUIRE(n);
  CHECK(*n == 3);
  auto p = s.pending(0, 10);
  REQUIRE(p);
  REQUIRE(p->size() == 2);
  CHECK((*p)[0].seq == recs[3].seq);
  CHECK((*p)[1].seq == recs[4].seq);
  auto after = s.pending(recs[3].seq, 10);
  REQUIRE(after->size() == 1);
  CHECK((*after)[0].seq == recs[4].seq);
  CHECK(s.pending(0, 1)->size() == 1);
  CHECK(*s.ack(recs[0].seq) == 0);  // an old ack again: harmless
  CHECK(*s.depth() == 2);
}

TEST_CASE("commit is atomic: a failing record leaves nothing behind") {
  lg::test::TempDir d("atomic");
  Store s = open_store(d);
  auto a = alarm("one");
  REQUIRE(s.append(a));
  auto b = alarm("two");
  auto dup = alarm("dup");
  dup.id = a.id;  // UNIQUE violation
  OpenSession os;
  os.id = "sess-1";
  os.card = *lg::CardUid::parse("04A1B2C3");
  os.user = "u01";
  os.resource = "inst-xrd";
  os.output = "power";
  os.clock = {100, 0, "boot"};
  Commit c;
  c.records = {&b, &dup};
  c.upsert_session = &os;
  CHECK_FALSE(s.commit(c));
  CHECK(b.seq == 0);
  CHECK(dup.seq == 0);
  CHECK(*s.depth() == 1);
  CHECK(s.open_sessions()->empty());
}

TEST_CASE("session end and row removal commit together") {
  lg::test::TempDir d("sess");
  Store s = open_store(d);
  OpenSession os;
  os.id = "sess-1";
  os.card = *lg::CardUid::parse("04A1B2C3");
  os.user = "u01";
  os.resource = "inst-xrd";
  os.output = "power";
  os.booking = "b1";
  os.acl_version = 4;
  os.start_ms = 1000;
  os.clock = {100, 50, "boot-x"};
  os.meter_start_kwh = 12.345678;
  os.checkpoint_ms = 2000;
  os.checkpoint_elapsed_ms = 1000;
  os.max_end_ms = 99999;
  os.max_duration_ms = 600'000;
  os.start_synced = true;
  os.gap_from_ms = 1500;
  os.started = true;
  REQUIRE(s.save_session(os));
  REQUIRE(s.checkpoint("sess-1", 3000, true, 2000));
  auto all = s.open_sessions();
  REQUIRE(all->size() == 1);
  auto expect = os;
  expect.checkpoint_ms = 3000;
  expect.checkpoint_elapsed_ms = 2000;
  expect.checkpoint_synced = true;
  CHECK((*all)[0] == expect);

  auto end = alarm("end");
  Commit c;
  c.records = {&end};
  c.delete_session = "sess-1";
  REQUIRE(s.commit(c));
  CHECK(s.open_sessions()->empty());
  CHECK(*s.depth() == 1);
}

TEST_CASE("bundle apply: newer versions only / replaces everything / atomic") {
  lg::test::TempDir d("bundle");
  {
    Store s = open_store(d);
    CHECK(s.load_acl()->version == 0);
    CHECK_FALSE(s.last_sync_ms()->has_value());
    auto r = s.apply_bundle(bundle(1), 111);
    REQUIRE(r);
    CHECK(*r);
    CHECK(**s.last_sync_ms() == 111);
    CHECK_FALSE(*s.apply_bundle(bundle(1), 222));  // same version: not applied
    CHECK(**s.last_sync_ms() == 111);
    auto b2 = bundle(2);
    b2.status = lg::proto::ResourceStatus::disabled;
    b2.denials.push_back({dg("0CC1"), "u09", lg::proto::Reason::card_revoked});
    REQUIRE(*s.apply_bundle(b2, 333));
    auto b3 = bundle(3);
    b3.grants.push_back(b3.grants[0]);  // duplicate card: the whole bundle is refused
    CHECK_FALSE(s.apply_bundle(b3, 444).has_value());
  }
  Store s = open_store(d);
  auto acl = s.load_acl();
  REQUIRE(acl);
  CHECK(acl->version == 2);
  CHECK(acl->card_form == lg::proto::CardForm::hmac_sha256_128);
  acl->card_key = kCardKey;  // derived at start-up, never stored
  CHECK(acl->status == lg::proto::ResourceStatus::disabled);
  REQUIRE(acl->denials.size() == 1);
  CHECK(acl->find_denial(*lg::CardUid::parse("0cc1"))->reason == lg::proto::Reason::card_revoked);
  CHECK(acl->policy.require_booking);
  CHECK(acl->policy.offline_grace_s == 7200);
  REQUIRE(acl->grants.size() == 2);
  CHECK(acl->find_grant(*lg::CardUid::parse("0AD0"))->admin);
  CHECK(acl->find_grant(*lg::CardUid::parse("0AD0"))->valid_until_ms == 1'900'000'000'000);
  REQUIRE(acl->bookings.size() == 1);
  CHECK(acl->bookings[0].id == "b2");
  CHECK(**s.last_sync_ms() == 333);
  CHECK_FALSE(*s.apply_bundle(bundle(1), 555));  // older: ignored
  CHECK(s.load_acl()->version == 2);
}

TEST_CASE("boot counter increments on each start and persists") {
  lg::test::TempDir d("boot");
  {
    Store s = open_store(d);
    CHECK(*s.next_boot() == 1);
  }
  Store s = open_store(d);
  CHECK(*s.next_boot() == 2);
  CHECK(*s.next_boot() == 3);
}

TEST_CASE("the cached bundle holds card digests only, a cache from before digests is converted in place") {
  lg::test::TempDir d("digests");
  {
    Store s = open_store(d);
    REQUIRE(*s.apply_bundle(bundle(1), 111));
    // Simulate a cache written before migration 5 filled card_form: uids and 'uid'.
    REQUIRE(s.database().exec("UPDATE acl_policy SET card_form = 'uid'; UPDATE acl_grants SET card = 'A' || "
                              "substr(valid_from_ms, 1, 1) WHERE admin = 1"));
    auto acl = s.load_acl();
    REQUIRE(acl);
    CHECK(acl->card_form == lg::proto::CardForm::uid);
    lg::proto::SyncBundle legacy;
    legacy.grants = acl->grants;
    legacy.card_form = acl->card_form;
    auto b = lg::terminal::to_digest_form(legacy, kCardKey);
    REQUIRE(s.replace_acl_cards(b.grants, b.denials, b.card_form));
  }
  Store s = open_store(d);
  auto acl = s.load_acl();
  REQUIRE(acl);
  CHECK(acl->card_form == lg::proto::CardForm::hmac_sha256_128);
  CHECK(acl->version == 1);
  CHECK(**s.last_sync_ms() == 111);  // a conversion is no sync
  acl->card_key = kCardKey;
  CHECK(acl->find_grant(*lg::CardUid::parse("A5")) != nullptr);
  for (const auto& g : acl->grants) CHECK(lg::proto::valid_card_digest(g.card));
}

TEST_CASE("executed command ids are remembered until they expire, across a reopen") {
  lg::test::TempDir d("commands");
  {
    Store s = open_store(d);
    CHECK(*s.remember_command("c1", 2000, 1000));
    CHECK_FALSE(*s.remember_command("c1", 2000, 1500));  // a replay
    CHECK(*s.remember_command("c2", 5000, 1500));
  }
  Store s = open_store(d);
  CHECK_FALSE(*s.remember_command("c2", 5000, 1600));  // still remembered after a restart
  CHECK(*s.remember_command("c1", 9000, 2000));         // expired at 2000: forgotten (a command that old is refused as expired)
  CHECK_FALSE(*s.remember_command("c1", 9000, 2001));
}
