// The terminals' store contract, on both backends (open_store): a retired terminal is kept with
// its state, and its next bundle tells it that its instrument is disabled (admins only).
#include <doctest/doctest.h>

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
