// The audit chain's pure rules: canonical bytes, hashing, and verify naming the first break.
#include <doctest/doctest.h>

#include <utility>
#include <vector>

#include "labgate/common/crypto.hpp"
#include "server/audit/rules.hpp"

using namespace lg;
using namespace lg::server::audit;

namespace {

std::vector<Entry> chain_of(int n) {
  std::vector<Entry> out;
  uint64_t seq = 0;
  std::string hash(kGenesis);
  for (int i = 0; i < n; ++i) {
    const Context ctx{"admin-token", "127.0.0.1", "req-" + std::to_string(i)};
    const Change c{"create", "booking", "b" + std::to_string(i), "", R"({"id":"b)" + std::to_string(i) + R"("})"};
    Entry e = next_entry(seq, hash, ctx, c, 1'700'000'000'000 + i);
    seq = e.seq;
    hash = e.hash;
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace

TEST_CASE("audit canonical form: fixed order, length-prefixed, seq and time in decimal") {
  Entry e;
  e.seq = 7;
  e.at_ms = 1234;
  e.actor = "admin-token";
  e.source = "local";
  e.request_id = "r";
  e.action = "create";
  e.entity = "booking";
  e.entity_id = "b1";
  e.before = "";
  e.after = "{}";
  e.prev_hash = "ignored";
  e.hash = "ignored";
  CHECK(canonical(e) == "labgate-audit-v1,1:7,4:1234,11:admin-token,5:local,1:r,6:create,7:booking,2:b1,0:,2:{},");
  // moving bytes between neighbouring fields changes the canonical form
  Entry f = e;
  f.entity = "bookingb";
  f.entity_id = "1";
  CHECK(canonical(f) != canonical(e));
  CHECK(entry_hash(e, kGenesis) == crypto::sha256_hex(std::string(kGenesis) + canonical(e)));
  CHECK(entry_hash(e, kGenesis).size() == 64);
}

TEST_CASE("audit chain: each entry links to the one before and a clean chain verifies") {
  const auto c = chain_of(5);
  CHECK(c[0].seq == 1);
  CHECK(c[0].prev_hash == kGenesis);
  for (std::size_t i = 1; i < c.size(); ++i) {
    CHECK(c[i].seq == c[i - 1].seq + 1);
    CHECK(c[i].prev_hash == c[i - 1].hash);
  }
  CHECK_FALSE(verify(c));
  CHECK_FALSE(verify(std::span<const Entry>{}));
  // read in pieces, the state carries across
  ChainState s;
  CHECK_FALSE(verify(std::span(c).first(2), s));
  CHECK_FALSE(verify(std::span(c).subspan(2), s));
  CHECK(s.checked == 5);
  CHECK(s.next_seq == 6);
}

TEST_CASE("audit verify names an entry whose field was edited") {
  auto c = chain_of(5);
  c[2].after = R"({"id":"b2","forged":true})";
  auto b = verify(c);
  REQUIRE(b);
  CHECK(b->seq == 3);
  CHECK(b->reason.find("hash") != std::string::npos);
  // edited and re-hashed: the next entry no longer links to it
  c[2].hash = entry_hash(c[2], c[2].prev_hash);
  b = verify(c);
  REQUIRE(b);
  CHECK(b->seq == 4);
  CHECK(b->reason.find("prev_hash") != std::string::npos);
  // an edited time is caught too
  auto d = chain_of(3);
  d[0].at_ms += 1;
  REQUIRE(verify(d));
  CHECK(verify(d)->seq == 1);
}

TEST_CASE("audit verify names a removed entry") {
  auto c = chain_of(5);
  c.erase(c.begin() + 1);
  auto b = verify(c);
  REQUIRE(b);
  CHECK(b->seq == 2);
  CHECK(b->reason.find("missing") != std::string::npos);
}

TEST_CASE("audit verify names a reordered entry") {
  auto c = chain_of(5);
  std::swap(c[1], c[3]);
  auto b = verify(c);
  REQUIRE(b);
  CHECK(b->seq == 2);
  // renumbered to hide the swap: the hashes no longer match
  auto d = chain_of(5);
  std::swap(d[1], d[2]);
  d[1].seq = 2;
  d[2].seq = 3;
  b = verify(d);
  REQUIRE(b);
  CHECK(b->seq == 2);
}
