// The terminals' store contract, on both backends (open_store): a retired terminal is kept with
// its state, and its next bundle tells it that its instrument is disabled (admins only); enrolment
// tokens, enrolment and re-enrolment (epochs), certificates and revocation.
#include <doctest/doctest.h>

#include <algorithm>
#include <vector>

#include "server/sync/service.hpp"
#include "tests/server/test_support.hpp"

using namespace lg;
using namespace lg::server;
using namespace lg::server::test;

TEST_CASE("a retired terminal is kept, and its next bundle disables its instrument") {
  TempDir dir;
  auto store = open_store(dir);
  seed(*store);
  auto server_key = new_key();
  auto term_key = new_key();
  RecordingPublisher pub;
  SyncService sync = make_sync(*store, server_key, "demo", pub);
  const int64_t now = ms("2026-01-15T00:00:00Z");
  REQUIRE(store->add_terminal(terminal("t1", "inst-xrd", term_key.public_pem()), now));
  REQUIRE(sync.refresh("t1", now, false));
  auto& terminals = store->stores().terminals;
  auto before = terminals.retire("t1", now + 1000);
  REQUIRE(before);
  CHECK_FALSE(before->retired_ms);
  auto again = terminals.retire("t1", now + 2000);
  REQUIRE_FALSE(again);
  CHECK(is(again.error(), Errc::conflict));
  auto none = terminals.retire("t-none", now);
  REQUIRE_FALSE(none);
  CHECK(is(none.error(), Errc::not_found));
  auto got = terminals.get("t1");
  REQUIRE((got && *got));
  CHECK((*got)->retired_ms == now + 1000);
  CHECK(terminals.list({})->size() == 1);  // kept, listed
  // The next bundle: the instrument is disabled for this terminal; the admin's grant is kept but
  // a disabled instrument opens only for admins, and its status says why.
  auto v2 = sync.refresh("t1", now + 3000, false);
  REQUIRE(v2);
  CHECK(*v2 == 2);
  auto msgs = pub.on("lg/v1/demo/t1/sync");
  REQUIRE(msgs.size() == 2);
  auto env = proto::open(msgs.back().payload);
  REQUIRE(env);
  auto bundle = proto::decode_sync(env->body);
  REQUIRE(bundle);
  CHECK(bundle->status == proto::ResourceStatus::disabled);
}

namespace {

EnrolToken enrol_token(std::string hash, std::string id, std::string resource, int64_t now) {
  EnrolToken t;
  t.hash = std::move(hash);
  t.terminal = std::move(id);
  t.resource = std::move(resource);
  t.created_ms = now;
  t.expires_ms = now + 3600'000;
  t.created_by = "root";
  return t;
}

CertRecord cert(uint64_t serial, int64_t issued_ms) {
  CertRecord c;
  c.serial = serial;
  c.issued_ms = issued_ms;
  c.not_after_ms = issued_ms + 397LL * 86'400'000;
  return c;
}

std::vector<uint64_t> serials(const std::vector<CertRecord>& cs) {
  std::vector<uint64_t> out;
  for (const auto& c : cs) out.push_back(c.serial);
  return out;
}

}  // namespace

TEST_CASE("enrolment tokens name a known instrument and never a retired id") {
  TempDir dir;
  auto store = open_store(dir);
  seed(*store);
  auto& terminals = store->stores().terminals;
  const int64_t now = ms("2026-01-15T00:00:00Z");
  REQUIRE(terminals.add_enrol_token(enrol_token("h1", "t1", "inst-xrd", now)));
  auto got = terminals.enrol_token("h1");
  REQUIRE((got && *got));
  CHECK((*got)->terminal == "t1");
  CHECK((*got)->resource == "inst-xrd");
  CHECK((*got)->created_ms == now);
  CHECK((*got)->expires_ms == now + 3600'000);
  CHECK_FALSE((*got)->used_ms);
  CHECK((*got)->created_by == "root");
  auto none = terminals.enrol_token("no-such-hash");
  REQUIRE(none);
  CHECK_FALSE(*none);

  auto unknown = terminals.add_enrol_token(enrol_token("h2", "t2", "no-such-instrument", now));
  REQUIRE_FALSE(unknown);
  CHECK(is(unknown.error(), Errc::unknown_reference));
  auto same_hash = terminals.add_enrol_token(enrol_token("h1", "t3", "inst-xrd", now));
  CHECK_FALSE(same_hash);

  REQUIRE(store->add_terminal(terminal("t-old", "inst-xrd", new_key().public_pem()), now));
  REQUIRE(terminals.retire("t-old", now + 1));
  auto retired = terminals.add_enrol_token(enrol_token("h4", "t-old", "inst-xrd", now + 2));
  REQUIRE_FALSE(retired);
  CHECK(is(retired.error(), Errc::conflict));
  CHECK(retired.error().message().find("t-old") != std::string::npos);
  auto nothing = terminals.enrol_token("h4");
  REQUIRE(nothing);
  CHECK_FALSE(*nothing);
}

TEST_CASE("enrolment: a token once, a re-enrolled id a new epoch, revocation covering every certificate") {
  TempDir dir;
  auto store = open_store(dir);
  seed(*store);
  auto& terminals = store->stores().terminals;
  const int64_t now = ms("2026-01-15T00:00:00Z");
  auto key1 = new_key(), key2 = new_key(), key3 = new_key();
  // Serials are 63-bit: the largest must survive both backends.
  const uint64_t s1 = 0x7fffffffffffff01ULL, s2 = 1002, s3 = 0x4000000000000003ULL, s_other = 2001;

  REQUIRE(terminals.add_enrol_token(enrol_token("h1", "t1", "inst-xrd", now)));
  auto first = terminals.enrol("h1", key1.public_pem(), cert(s1, now), now + 10);
  REQUIRE_MESSAGE(first, (first ? "" : first.error().message()));
  CHECK_FALSE(first->replaced);
  CHECK(first->superseded.empty());
  CHECK(first->seq_start == 1);
  CHECK(first->terminal.id == "t1");
  CHECK(first->terminal.epoch == 1);
  CHECK(first->terminal.resource == "inst-xrd");
  CHECK(first->terminal.public_key == key1.public_pem());
  CHECK_FALSE(first->terminal.revoked_ms);
  auto tok = terminals.enrol_token("h1");
  REQUIRE((tok && *tok));
  CHECK((*tok)->used_ms == now + 10);
  auto certs = terminals.certificates("t1");
  REQUIRE(certs);
  REQUIRE(certs->size() == 1);
  CHECK(certs->at(0).serial == s1);
  CHECK(certs->at(0).terminal == "t1");
  CHECK(certs->at(0).epoch == 1);
  CHECK(certs->at(0).issued_ms == now);
  CHECK(certs->at(0).not_after_ms == cert(s1, now).not_after_ms);
  CHECK_FALSE(certs->at(0).revoked_ms);

  // Another terminal, whose certificate stays valid throughout.
  REQUIRE(terminals.add_enrol_token(enrol_token("h-other", "t2", "door-1", now)));
  REQUIRE(terminals.enrol("h-other", key3.public_pem(), cert(s_other, now), now));

  SUBCASE("a token used twice: conflict, and nothing changed") {
    auto again = terminals.enrol("h1", key2.public_pem(), cert(s2, now + 20), now + 20);
    REQUIRE_FALSE(again);
    CHECK(is(again.error(), Errc::conflict));
    auto t = terminals.get("t1");
    REQUIRE((t && *t));
    CHECK((*t)->public_key == key1.public_pem());
    CHECK((*t)->epoch == 1);
    CHECK(serials(*terminals.certificates("t1")) == std::vector<uint64_t>{s1});
    CHECK((*terminals.enrol_token("h1"))->used_ms == now + 10);
    CHECK(terminals.revoked_certificates()->empty());
    auto unknown = terminals.enrol("no-such-hash", key2.public_pem(), cert(s2, now + 20), now + 20);
    REQUIRE_FALSE(unknown);
    CHECK(serials(*terminals.certificates("t1")) == std::vector<uint64_t>{s1});
  }

  SUBCASE("re-enrolled, revoked, re-enrolled again") {
    // The first device sent records 1..3 and the server acked 3.
    REQUIRE(store->commit_batch(batch("t1", {access(1, "r-1", "04AA", "alice"), access(2, "r-2", "04AA", "alice"),
                                             access(3, "r-3", "04AA", "alice")}),
                                now + 15, "CNY"));
    REQUIRE(terminals.set_acked("t1", 3, now + 15));
    // A renewal of the first device, then the device is replaced.
    REQUIRE(terminals.add_certificate(CertRecord{s2, "t1", 1, now + 100, now + 100 + 397LL * 86'400'000, {}, ""}));
    CHECK(serials(*terminals.certificates("t1")) == std::vector<uint64_t>{s2, s1});  // newest first
    REQUIRE(terminals.add_enrol_token(enrol_token("h2", "t1", "inst-xrd", now + 200)));
    auto re = terminals.enrol("h2", key2.public_pem(), cert(s3, now + 300), now + 300);
    REQUIRE_MESSAGE(re, (re ? "" : re.error().message()));
    CHECK(re->replaced);
    CHECK(re->terminal.epoch == 2);
    CHECK(re->terminal.public_key == key2.public_pem());
    auto sup = re->superseded;
    std::sort(sup.begin(), sup.end());
    CHECK(sup == std::vector<uint64_t>{s2, s1});
    // The new device numbers its records above what the server holds for the id.
    CHECK(re->seq_start == 4);
    CHECK(re->terminal.acked_seq == 3);
    CHECK_FALSE(re->terminal.online);
    auto all = terminals.certificates("t1");
    REQUIRE(all);
    REQUIRE(all->size() == 3);
    for (const auto& c : *all) {
      CAPTURE(c.serial);
      if (c.serial == s3) {
        CHECK(c.epoch == 2);
        CHECK_FALSE(c.revoked_ms);
      } else {
        CHECK(c.epoch == 1);
        CHECK(c.revoked_ms == now + 300);
        CHECK(c.reason == "superseded");
      }
    }
    CHECK(serials(*terminals.revoked_certificates()) == std::vector<uint64_t>{s2, s1});  // by serial

    // Revoked: every certificate still valid goes on the list with the reason.
    auto revoked = terminals.revoke("t1", "stolen from the lab", now + 400);
    REQUIRE(revoked);
    CHECK(revoked->revoked_ms == now + 400);
    CHECK(revoked->revoke_reason == "stolen from the lab");
    auto t = terminals.get("t1");
    REQUIRE((t && *t));
    CHECK((*t)->revoked_ms == now + 400);
    auto after_revoke = terminals.certificates("t1");
    REQUIRE(after_revoke);
    for (const auto& c : *after_revoke) {
      CAPTURE(c.serial);
      REQUIRE(c.revoked_ms);
      if (c.serial == s3) {
        CHECK(*c.revoked_ms == now + 400);
        CHECK(c.reason == "revoked: stolen from the lab");
      } else {
        CHECK(*c.revoked_ms == now + 300);  // superseded earlier: kept as it was
        CHECK(c.reason == "superseded");
      }
    }
    auto crl = terminals.revoked_certificates();
    REQUIRE(crl);
    CHECK(serials(*crl) == std::vector<uint64_t>{s2, s3, s1});  // exactly t1's, never t2's
    auto twice = terminals.revoke("t1", "again", now + 500);
    REQUIRE_FALSE(twice);
    CHECK(is(twice.error(), Errc::conflict));
    CHECK((*terminals.get("t1"))->revoke_reason == "stolen from the lab");
    auto unknown = terminals.revoke("t-none", "x", now);
    REQUIRE_FALSE(unknown);
    CHECK(is(unknown.error(), Errc::not_found));

    // A new device under the id lifts the revocation; the list keeps what was revoked.
    REQUIRE(terminals.add_enrol_token(enrol_token("h3", "t1", "door-1", now + 600)));
    auto third = terminals.enrol("h3", key3.public_pem(), cert(77, now + 700), now + 700);
    REQUIRE(third);
    CHECK(third->replaced);
    CHECK(third->terminal.epoch == 3);
    CHECK(third->terminal.resource == "door-1");
    CHECK_FALSE(third->terminal.revoked_ms);
    CHECK(third->terminal.revoke_reason.empty());
    CHECK(third->superseded.empty());  // all were revoked already
    CHECK(serials(*terminals.revoked_certificates()) == std::vector<uint64_t>{s2, s3, s1});
    CHECK(serials(*terminals.certificates("t2")) == std::vector<uint64_t>{s_other});
  }
}

TEST_CASE("a retired terminal is not re-enrolled by a token issued before it was retired") {
  TempDir dir;
  auto store = open_store(dir);
  seed(*store);
  auto& terminals = store->stores().terminals;
  const int64_t now = ms("2026-01-15T00:00:00Z");
  REQUIRE(terminals.add_enrol_token(enrol_token("h1", "t1", "inst-xrd", now)));
  REQUIRE(terminals.enrol("h1", new_key().public_pem(), cert(11, now), now));
  REQUIRE(terminals.add_enrol_token(enrol_token("h2", "t1", "inst-xrd", now + 1)));
  REQUIRE(terminals.retire("t1", now + 2));
  auto e = terminals.enrol("h2", new_key().public_pem(), cert(12, now + 3), now + 3);
  REQUIRE_FALSE(e);
  CHECK(is(e.error(), Errc::conflict));
  // Nothing of it stayed: the token is unused, the old certificate valid, no new one.
  CHECK_FALSE((*terminals.enrol_token("h2"))->used_ms);
  CHECK(serials(*terminals.certificates("t1")) == std::vector<uint64_t>{11});
  CHECK(terminals.revoked_certificates()->empty());
  CHECK((*terminals.get("t1"))->epoch == 1);
}

TEST_CASE("a re-enrolled device's states say its bundle is stale until one is built for it") {
  // The stored bundle names cards by digests keyed with the device's key (docs/PROTOCOL.md): a
  // new device under the id cannot use the one built for the device before it, whatever version
  // it reports having applied (found by labgate-sim, terminal_replace: own-bundle).
  TempDir dir;
  auto store = open_store(dir);
  seed(*store);
  auto& terminals = store->stores().terminals;
  const int64_t now = ms("2026-01-15T00:00:00Z");
  auto online = [&](uint64_t acl_version) {
    StateUpdate u;
    u.state.terminal = "t1";
    u.state.online = true;
    u.state.boot = 1;
    u.state.resource = "inst-xrd";
    u.state.acl_version = acl_version;
    u.seen_ms = now;
    return u;
  };
  REQUIRE(terminals.add_enrol_token(enrol_token("h1", "t1", "inst-xrd", now)));
  REQUIRE(terminals.enrol("h1", new_key().public_pem(), cert(11, now), now + 1));
  auto enrolled = terminals.apply_state(online(0));
  REQUIRE(enrolled);
  CHECK(enrolled->applied);
  CHECK(enrolled->bundle_stale);  // none built yet

  REQUIRE(store->save_sync("t1", sync::StoredSync{4, "hash-v4", "bundle v4"}));
  auto current = terminals.apply_state(online(4));
  REQUIRE(current);
  CHECK(current->sync_version == 4);
  CHECK_FALSE(current->bundle_stale);

  // A new device: it finds v4 retained on the broker and applies it before its first state.
  REQUIRE(terminals.add_enrol_token(enrol_token("h2", "t1", "inst-xrd", now + 10)));
  REQUIRE(terminals.enrol("h2", new_key().public_pem(), cert(12, now + 10), now + 11));
  auto kept = store->stores().sync.stored("t1");
  REQUIRE(kept);
  CHECK(kept->version == 4);            // versions only grow: the next bundle is v5
  CHECK(kept->payload == "bundle v4");  // still what the broker retains (not a tampered one)
  CHECK(kept->hash.empty());            // but not built for this device
  auto replaced = terminals.apply_state(online(4));
  REQUIRE(replaced);
  CHECK(replaced->applied);
  CHECK(replaced->sync_version == 4);
  CHECK(replaced->bundle_stale);

  REQUIRE(store->save_sync("t1", sync::StoredSync{5, "hash-v5", "bundle v5"}));
  auto own = terminals.apply_state(online(5));
  REQUIRE(own);
  CHECK_FALSE(own->bundle_stale);
  // Another terminal is not concerned.
  REQUIRE(terminals.add_enrol_token(enrol_token("h3", "t2", "door-1", now)));
  REQUIRE(terminals.enrol("h3", new_key().public_pem(), cert(13, now), now + 12));
  REQUIRE(store->save_sync("t2", sync::StoredSync{1, "hash-t2", "bundle t2"}));
  auto t1_again = terminals.apply_state(online(5));
  REQUIRE(t1_again);
  CHECK_FALSE(t1_again->bundle_stale);
}
