// Protocol: golden vectors, round trips and rejection of malformed input with a reason.
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

#include "labgate/common/crypto.hpp"
#include "labgate/common/card_uid.hpp"
#include "labgate/common/protocol.hpp"
#include "labgate/common/time.hpp"

using namespace lg;
using namespace lg::proto;

namespace {
std::string golden(const std::string& name) {
  std::ifstream in(std::string(LABGATE_SOURCE_DIR) + "/tests/common/golden/" + name, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "missing golden file " << name);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

int64_t t(const char* s) { return *time::parse_utc(s); }

EventBatch sample_batch() {
  EventBatch b;
  b.terminal = "t-xrd-01";
  b.boot = 3;
  Access a{"04A1B2C3", "u001", "inst-xrd", "power", Decision::granted, Reason::qualified, Mode::online, 7, ""};
  b.records.push_back(Record{41, "6f1c2a8e-0b7d-4c1e-9a51-3f0e6b2d9c11", t("2026-11-27T01:00:00.000Z"), true, a});
  SessionStart s{"5d2b7e10-8c3a-4f6e-b1d2-7a9c0e4f2b33", "04A1B2C3", "u001", "inst-xrd", "", 123456};
  b.records.push_back(Record{42, "0a9b8c7d-6e5f-4a3b-8c1d-2e3f4a5b6c7d", t("2026-11-27T01:00:00.120Z"), true, s});
  SessionEnd e;
  e.session = s.session;
  e.card = "04A1B2C3";
  e.user = "u001";
  e.resource = "inst-xrd";
  e.start_ms = t("2026-11-27T01:00:00.120Z");
  e.end_ms = t("2026-11-27T02:30:00.120Z");
  e.duration_ms = 5400000;
  e.energy_wh = 1800;
  e.end_reason = EndReason::swipe_out;
  b.records.push_back(Record{43, "1b2c3d4e-5f60-4718-8293-a4b5c6d7e8f9", t("2026-11-27T02:30:00.125Z"), true, e});
  return b;
}
}  // namespace

TEST_CASE("topics are built and parsed, foreign topics are refused") {
  CHECK(topic("demo", "t-xrd-01", Channel::evt) == "lg/v1/demo/t-xrd-01/evt");
  CHECK(topic_filter("demo", Channel::state) == "lg/v1/demo/+/state");
  auto p = parse_topic("lg/v1/demo/t-xrd-01/ack");
  REQUIRE(p);
  CHECK(p->site == "demo");
  CHECK(p->terminal == "t-xrd-01");
  CHECK(p->channel == Channel::ack);
  CHECK_FALSE(parse_topic("lg/v2/demo/t1/evt"));
  CHECK_FALSE(parse_topic("lg/v1/demo/t1/evt/extra"));
  CHECK_FALSE(parse_topic("lg/v1/demo/t1/bogus"));
  CHECK_FALSE(parse_topic("lg/v1/demo/t 1/evt"));
  CHECK_FALSE(parse_topic("lg/v1/demo//evt"));
}

TEST_CASE("evt batch encodes to the golden vector and decodes back equal") {
  const EventBatch b = sample_batch();
  CHECK(encode(b) == golden("evt_batch.json"));
  auto d = decode_event_batch(golden("evt_batch.json"));
  REQUIRE_MESSAGE(d, d.error().reason);
  CHECK(*d == b);
}

TEST_CASE("signed golden envelope from an earlier build still opens and verifies") {
  auto pub = crypto::PublicKey::from_pem(golden("terminal_pub.pem"));
  REQUIRE(pub);
  auto env = open(golden("evt_envelope.json"));
  REQUIRE_MESSAGE(env, env.error().reason);
  CHECK(env->kid == "t-xrd-01");
  CHECK(env->body == golden("evt_batch.json"));
  CHECK(verify(*env, *pub));
  // one flipped byte in the body breaks the signature
  Envelope forged = *env;
  forged.body[forged.body.size() / 2] ^= 1;
  CHECK_FALSE(verify(forged, *pub));
  // another key does not verify it
  auto other = crypto::PrivateKey::generate();
  CHECK_FALSE(verify(*env, other->public_key()));
}

TEST_CASE("ack, state and sync round trip") {
  Ack a{"t-xrd-01", 43};
  CHECK(encode(a) == golden("ack.json"));
  CHECK(*decode_ack(encode(a)) == a);

  State s{"t-xrd-01", true, 3, "0.1.0", "sim-x86", "inst-xrd", 7, 2, true, t("2026-11-27T01:00:00.000Z")};
  CHECK(*decode_state(encode(s)) == s);

  // The golden bundle names cards by digest and users by pseudonym (the keys are fixed test keys,
  // the values computed independently: see "card digests and pseudonyms: known answers").
  const std::string card_key = "golden card key, 32 bytes long!!";
  const std::string pseudonym_key = "golden pseudonym key, 32 bytes!!";
  const std::string u001 = user_pseudonym(pseudonym_key, "u001");
  const std::string admin1 = user_pseudonym(pseudonym_key, "admin1");
  CHECK(u001 == "p-b5eb91393476eec7e54db9da3c6fd1de");
  CHECK(admin1 == "p-6aa7e49f29bb291902348c2bebf87534");
  SyncBundle sb;
  sb.terminal = "t-xrd-01";
  sb.version = 7;
  sb.issued_ms = t("2026-11-27T00:00:00.000Z");
  sb.resource = "inst-xrd";
  sb.policy.require_booking = true;
  sb.grants.push_back(Grant{card_digest(card_key, *CardUid::parse("0BADC0DE")), admin1, "internal", true, 0,
                            t("2027-01-01T00:00:00.000Z")});
  sb.grants.push_back(Grant{card_digest(card_key, *CardUid::parse("04A1B2C3")), u001, "internal", false,
                            t("2026-01-01T00:00:00.000Z"), std::nullopt});
  CHECK(sb.grants[0].card == "ced153fde476598579610b14f91a525b");
  CHECK(sb.grants[1].card == "d3e31be67154df9e40c156aabd685e10");
  sb.bookings.push_back(BookingSlot{"b1", u001, t("2026-11-27T01:00:00.000Z"), t("2026-11-27T03:00:00.000Z")});
  CHECK(encode(sb) == golden("sync.json"));
  auto d = decode_sync(encode(sb));
  REQUIRE_MESSAGE(d, d.error().reason);
  CHECK(*d == sb);

  // The resource's status and the denials: absent when normal and empty (the golden text above),
  // round-tripped when present, refused when their values are not the protocol's.
  sb.status = ResourceStatus::maintenance;
  sb.denials.push_back(Denial{card_digest(card_key, *CardUid::parse("0CC1")), user_pseudonym(pseudonym_key, "u003"),
                              Reason::card_revoked});
  sb.denials.push_back(Denial{card_digest(card_key, *CardUid::parse("0CC2")), user_pseudonym(pseudonym_key, "u004"),
                              Reason::user_suspended});
  const std::string text = encode(sb);
  CHECK(text.find(R"("status":"maintenance")") != std::string::npos);
  auto d2 = decode_sync(text);
  REQUIRE_MESSAGE(d2, d2.error().reason);
  CHECK(*d2 == sb);
  std::string bad_status = text;
  bad_status.replace(bad_status.find("maintenance"), 11, "repairing");
  CHECK(decode_sync(bad_status).error().reason.find("status") != std::string::npos);
  std::string bad_reason = text;
  bad_reason.replace(bad_reason.find("user_suspended"), 14, "admin");
  CHECK(decode_sync(bad_reason).error().reason.find("denials[1].reason") != std::string::npos);
}

TEST_CASE("sync bundle versions: the legacy uid form still reads, an unknown card form or a uid in digest form is refused") {
  // A bundle from a server before card digests (the golden text of that version): no
  // "card_digest", cards are uids and are normalised as before.
  auto legacy = decode_sync(golden("sync_legacy.json"));
  REQUIRE_MESSAGE(legacy, legacy.error().reason);
  CHECK(legacy->card_form == CardForm::uid);
  CHECK(legacy->grants[0].card == "04A1B2C3");
  CHECK(legacy->grants[0].user == "u001");
  CHECK(encode(*legacy) == golden("sync_legacy.json"));  // the uid form encodes without "card_digest"

  std::string text = golden("sync.json");
  std::string unknown = text;
  unknown.replace(unknown.find("hmac-sha256-128"), 15, "hmac-sha3-256");
  CHECK(decode_sync(unknown).error().reason ==
        "card_digest: unknown \"hmac-sha3-256\" (this terminal reads hmac-sha256-128)");
  std::string named_uid = text;  // the legacy form is said by leaving the field out, never by naming it
  named_uid.replace(named_uid.find("hmac-sha256-128"), 15, "uid");
  CHECK(decode_sync(named_uid).error().reason.find("card_digest: unknown \"uid\"") == 0);
  // Digest form: a uid where a digest belongs is refused with the field named.
  std::string uid_card = text;
  uid_card.replace(uid_card.find("ced153fde476598579610b14f91a525b"), 32, "0BADC0DE");
  CHECK(decode_sync(uid_card).error().reason ==
        "grants[0].card: is not a card digest (32 lower-case hex characters)");
}

TEST_CASE("card digests and pseudonyms: known answers, both ends agree, other terminals differ") {
  auto terminal = crypto::PrivateKey::from_pem(golden("kat_terminal_key.pem"));
  auto server = crypto::PrivateKey::from_pem(golden("kat_server_key.pem"));
  REQUIRE((terminal && server));
  auto at_terminal = link_keys(*terminal, server->public_key(), "campus", "t1");
  auto at_server = link_keys(*server, terminal->public_key(), "campus", "t1");
  REQUIRE((at_terminal && at_server));
  // Expected values computed outside labgate (openssl pkeyutl -derive, then RFC 5869 HKDF and
  // HMAC in Python): the up and down keys are the ones every deployed terminal derives.
  CHECK(crypto::to_hex(at_server->up) == "6f6109edb090ef00d6a710cb9bf27ecf14938a91143e559bec92a42b396956b4");
  CHECK(crypto::to_hex(at_server->down) == "005c2b02dcc236a27e7617db8271e300bc9b16ff6e3add411d3dabd88720baa4");
  CHECK(crypto::to_hex(at_server->card) == "13ce0cab69622b70f8d51756adbdc768884e0d6cd2eeac4d06b11802cc4eea78");
  CHECK(at_terminal->card == at_server->card);
  const auto card = *CardUid::parse("04a1b2c3");
  CHECK(card_digest(at_terminal->card, card) == "249c17b921ad9800dae372bc63f26d39");
  CHECK(card_digest(at_server->card, card) == card_digest(at_terminal->card, card));
  CHECK(valid_card_digest(card_digest(at_server->card, card)));
  // Another terminal (id or key) gets another digest of the same card.
  auto t2 = link_keys(*server, terminal->public_key(), "campus", "t2");
  auto other_key = crypto::PrivateKey::generate();
  REQUIRE((t2 && other_key));
  auto other = link_keys(*server, other_key->public_key(), "campus", "t1");
  REQUIRE(other);
  CHECK(card_digest(t2->card, card) != card_digest(at_server->card, card));
  CHECK(card_digest(other->card, card) != card_digest(at_server->card, card));
  CHECK(at_server->card != at_server->up);

  // Pseudonyms: the server's alone (its key with itself), stable, per terminal, valid ids.
  auto pk = pseudonym_key(*server, "campus", "t1");
  auto pk2 = pseudonym_key(*server, "campus", "t2");
  REQUIRE((pk && pk2));
  const std::string p = user_pseudonym(*pk, "u001");
  CHECK(p == "p-d7ad66b168935083e26229506169e13e");
  CHECK(user_pseudonym(*pk, "u001") == p);
  CHECK(user_pseudonym(*pk2, "u001") != p);
  CHECK(user_pseudonym(*pk, "u002") != p);
  CHECK(valid_id(p));
  CHECK(looks_like_pseudonym(p));
  CHECK_FALSE(looks_like_pseudonym("u001"));
  CHECK_FALSE(looks_like_pseudonym("p-D7AD66B168935083E26229506169E13E"));
  CHECK(p.find("u001") == std::string::npos);
}

TEST_CASE("commands and command results round trip, bad lifetimes and kinds are refused") {
  Command c;
  c.id = "0190a0b0-0000-7000-8000-000000000001";
  c.kind = CommandKind::resync;
  c.terminal = "t1";
  c.issued_ms = t("2026-11-27T00:00:00.000Z");
  c.expires_ms = t("2026-11-27T00:05:00.000Z");
  c.args["why"] = "operator";
  const std::string text = encode(c);
  CHECK(text ==
        R"({"args":{"why":"operator"},"expires":"2026-11-27T00:05:00.000Z","id":"0190a0b0-0000-7000-8000-000000000001",)"
        R"("issued":"2026-11-27T00:00:00.000Z","kind":"resync","terminal":"t1","type":"cmd"})");
  auto d = decode_command(text);
  REQUIRE_MESSAGE(d, d.error().reason);
  CHECK(*d == c);
  Command backwards = c;
  backwards.expires_ms = c.issued_ms;
  CHECK(decode_command(encode(backwards)).error().reason == "expires: must be after issued");
  Command long_lived = c;
  long_lived.expires_ms = c.issued_ms + kMaxCommandLifetimeMs + 1;
  CHECK(decode_command(encode(long_lived)).error().reason == "expires: more than 24 h after issued");
  std::string bad_kind = text;
  bad_kind.replace(bad_kind.find("resync"), 6, "reboot");
  CHECK(decode_command(bad_kind).error().reason == "kind: unknown value \"reboot\"");

  CommandResult r{"t1", c.id, CommandOutcome::refused, "expired", t("2026-11-27T00:06:00.000Z")};
  auto rd = decode_command_result(encode(r));
  REQUIRE_MESSAGE(rd, rd.error().reason);
  CHECK(*rd == r);
  CHECK(decode_command_result(encode(CommandResult{"t1", "", CommandOutcome::refused, "unsigned", 0}))->id.empty());
}

TEST_CASE("malformed payloads are rejected with a reason naming the field") {
  auto reason = [](std::string_view body) {
    auto r = decode_event_batch(body);
    return r ? std::string("ACCEPTED") : r.error().reason;
  };
  CHECK(reason("not json") == "not valid JSON");
  CHECK(reason("[1,2]") == "not a JSON object");
  CHECK(reason(R"({"type":"ack","terminal":"t1","seq":1})").find("type") != std::string::npos);
  CHECK(reason(R"({"type":"evt","terminal":"t1","boot":1,"records":[]})") == "records: must not be empty");
  std::string body = golden("evt_batch.json");
  std::string bad = body;
  bad.replace(bad.find("\"seq\":42"), 8, "\"seq\":-1");
  CHECK(reason(bad) == "records[1].seq: must be a non-negative integer");
  bad = body;
  bad.replace(bad.find("\"seq\":42"), 8, "\"seq\":9223372036854775808");
  CHECK(reason(bad) == "records[1].seq: out of range (at most 2^63-1)");
  bad = body;
  bad.replace(bad.find("\"seq\":42"), 8, "\"seq\":18446744073709551615");
  CHECK(reason(bad) == "records[1].seq: out of range (at most 2^63-1)");
  bad = body;
  bad.replace(bad.find("\"seq\":42"), 8, "\"seq\":42,\"seq\":43");
  CHECK(reason(bad) == "duplicate key \"seq\"");
  bad = body;
  bad.replace(bad.find("\"seq\":42"), 8, "\"seq\":41");
  CHECK(reason(bad) == "records[1].seq: not ascending");
  bad = body;
  bad.replace(bad.find("\"kind\":\"access\""), 15, "\"kind\":\"nuke\"");
  CHECK(reason(bad) == "records[0].kind: unknown value \"nuke\"");
  bad = body;
  bad.replace(bad.find("\"duration_ms\":5400000"), 21, "\"duration_ms\":\"long\"");
  CHECK(reason(bad) == "records[2].duration_ms: must be an integer");
  bad = body;
  bad.replace(bad.find("\"card\":\"04A1B2C3\""), 17, "\"card\":\"04 A1\"");
  CHECK(reason(bad) == "records[0].card: is not a valid card uid");
  bad = body;
  bad.replace(bad.find("\"ts\":\"2026-11-27T01:00:00.000Z\""), 31, "\"ts\":\"yesterday\"");
  CHECK(reason(bad) == "records[0].ts: is not an RFC 3339 time");
}

TEST_CASE("envelopes: oversize, wrong version, missing signature are refused") {
  CHECK_FALSE(open(std::string(kMaxPayload + 1, ' ')));
  CHECK(open(std::string(kMaxPayload + 1, ' ')).error().reason.find("larger than") != std::string::npos);
  CHECK(open(R"({"v":2,"kid":"t1","body":"{}","sig":"AAAA"})").error().reason == "v: unsupported protocol version 2");
  CHECK(open(R"({"v":1,"kid":"t1","body":"{}"})").error().reason == "sig: is required");
  CHECK(open(R"({"v":1,"kid":"t1","body":"{}","sig":"!!!"})").error().reason == "sig: not valid base64");
  CHECK(open(R"({"v":1,"kid":"../x","body":"{}","sig":"AAAA"})").error().reason == "kid: is not a valid id");
  CHECK(open(R"({"v":1,"kid":"t1","kid":"server","body":"{}","sig":"AAAA"})").error().reason ==
        "duplicate key \"kid\"");
  CHECK(decode_ack(R"({"type":"ack","terminal":"t1","seq":9223372036854775807})"));
  CHECK(decode_ack(R"({"type":"ack","terminal":"t1","seq":9223372036854775808})").error().reason ==
        "seq: out of range (at most 2^63-1)");
}

TEST_CASE("seal then open then verify with the signer's key") {
  auto key = crypto::PrivateKey::generate();
  REQUIRE(key);
  auto wire = seal(encode(Ack{"t1", 5}), kServerKid, *key);
  REQUIRE(wire);
  auto env = open(*wire);
  REQUIRE(env);
  CHECK(env->kid == "server");
  CHECK(verify(*env, key->public_key()));
  CHECK(decode_ack(env->body)->seq == 5);
}

TEST_CASE("link keys: both ends derive the same pair, bound to the site and the terminal") {
  auto terminal = crypto::PrivateKey::generate();
  auto server = crypto::PrivateKey::generate();
  auto other = crypto::PrivateKey::generate();
  REQUIRE((terminal && server && other));
  auto at_terminal = link_keys(*terminal, server->public_key(), "campus", "t1");
  auto at_server = link_keys(*server, terminal->public_key(), "campus", "t1");
  REQUIRE((at_terminal && at_server));
  CHECK(at_terminal->up.size() == 32);
  CHECK(at_terminal->up == at_server->up);
  CHECK(at_terminal->down == at_server->down);
  CHECK(at_terminal->up != at_terminal->down);
  // Another terminal id, site or key pair gives other keys.
  CHECK(link_keys(*server, terminal->public_key(), "campus", "t2")->up != at_server->up);
  CHECK(link_keys(*server, terminal->public_key(), "other", "t1")->up != at_server->up);
  CHECK(link_keys(*server, other->public_key(), "campus", "t1")->up != at_server->up);
}

TEST_CASE("hs256 envelopes: open and verify with the link key, tampering, another key and alg mix-ups fail") {
  const std::string key(32, 'k');
  const std::string wire = seal_mac(encode(Ack{"t1", 5}), kServerKid, key);
  auto env = open(wire);
  REQUIRE(env);
  CHECK(env->alg == Auth::mac);
  CHECK(verify_mac(*env, key));
  CHECK_FALSE(verify_mac(*env, std::string(32, 'x')));
  CHECK_FALSE(verify_mac(*env, ""));
  auto sig_key = crypto::PrivateKey::generate();
  REQUIRE(sig_key);
  CHECK_FALSE(verify(*env, sig_key->public_key()));  // a MAC never passes as a signature
  Envelope tampered = *env;
  tampered.body = encode(Ack{"t1", 6});
  CHECK_FALSE(verify_mac(tampered, key));
  // A signed envelope does not pass as a MAC, whatever key is tried.
  auto signed_env = open(*seal(encode(Ack{"t1", 5}), kServerKid, *sig_key));
  REQUIRE(signed_env);
  CHECK(signed_env->alg == Auth::signature);
  CHECK_FALSE(verify_mac(*signed_env, key));
  CHECK(open(R"({"v":1,"kid":"t1","alg":"none","body":"{}","sig":"AAAA"})").error().reason ==
        "alg: unknown \"none\" (es256 or hs256)");
  CHECK(open(R"({"v":1,"kid":"t1","alg":"hs256","body":"{}","sig":"AAAA"})").error().reason ==
        "sig: an hs256 MAC is 32 bytes");
}

TEST_CASE("batches above the record limit are refused") {
  EventBatch b = sample_batch();
  Record r = b.records[0];
  b.records.clear();
  for (uint64_t i = 1; i <= kMaxBatch + 1; ++i) {
    r.seq = i;
    b.records.push_back(r);
  }
  auto d = decode_event_batch(encode(b));
  REQUIRE_FALSE(d);
  CHECK(d.error().reason.find("records: has more than") == 0);
}

TEST_CASE("card uids are validated and normalised once, by CardUid") {
  REQUIRE(lg::CardUid::parse("04a1b2c3"));
  CHECK(lg::CardUid::parse("04a1b2c3")->str() == "04A1B2C3");
  CHECK(*lg::CardUid::parse("04a1B2c3") == *lg::CardUid::parse("04A1b2C3"));
  CHECK(lg::CardUid::parse("0123456789"));
  CHECK(lg::CardUid::parse(std::string(64, '9')));
  CHECK_FALSE(lg::CardUid::parse(std::string(65, '9')));
  CHECK_FALSE(lg::CardUid::parse(""));
  CHECK_FALSE(lg::CardUid::parse("04-A1"));
  CHECK_FALSE(lg::CardUid::parse("04A1\n"));
  CHECK_FALSE(lg::CardUid::parse("\xc3\xa9"));
  CHECK(lg::CardUid().empty());
}

TEST_CASE("id validation") {
  CHECK(valid_id("inst-xrd.01:a_b"));
  CHECK_FALSE(valid_id(std::string(65, 'a')));
  CHECK_FALSE(valid_id("a/b"));
  CHECK_FALSE(valid_id("a+b"));
  CHECK_FALSE(valid_id("a#"));
}

TEST_CASE("sync bundle levels: level, staffed hours, closed spans and staffed bookings round trip, absent reads as before") {
  SyncBundle sb;
  sb.terminal = "t-nmr-01";
  sb.version = 3;
  sb.issued_ms = t("2026-11-27T00:00:00.000Z");
  sb.resource = "inst-nmr";
  sb.grants.push_back(Grant{std::string(32, 'a'), "p-" + std::string(32, '1'), "internal_student", false, 0, std::nullopt,
                            Level::independent});
  sb.grants.push_back(Grant{std::string(32, 'b'), "p-" + std::string(32, '2'), "internal_student", false, 0, std::nullopt,
                            Level::supervised});
  sb.grants.push_back(Grant{std::string(32, 'c'), "p-" + std::string(32, '3'), "internal_staff", false, 0, std::nullopt,
                            Level::after_hours});
  sb.policy.zone = "Asia/Shanghai";
  sb.policy.staffed_hours = std::vector<WeekSpan>{{1, 480, 1080}, {6, 540, 720}};
  sb.policy.closed.push_back(Span{t("2027-02-10T16:00:00.000Z"), t("2027-02-17T16:00:00.000Z")});
  sb.bookings.push_back(BookingSlot{"b1", "p-" + std::string(32, '2'), t("2026-11-27T01:00:00.000Z"),
                                    t("2026-11-27T03:00:00.000Z"), true});
  const std::string text = encode(sb);
  CHECK(text.find(R"("level":"independent")") != std::string::npos);
  CHECK(text.find(R"("level":"supervised")") != std::string::npos);
  CHECK(text.find(R"("level":"after_hours")") == std::string::npos);  // the default is left out
  CHECK(text.find(R"("staffed_hours":[{"day":1,"from_min":480,"to_min":1080})") != std::string::npos);
  CHECK(text.find(R"("zone":"Asia/Shanghai")") != std::string::npos);
  CHECK(text.find(R"("staffed":true)") != std::string::npos);
  auto d = decode_sync(text);
  REQUIRE_MESSAGE(d, d.error().reason);
  CHECK(*d == sb);

  // The golden bundle has none of them: every grant after_hours, no staffed hours (every hour).
  auto plain = decode_sync(golden("sync.json"));
  REQUIRE(plain);
  CHECK(plain->grants[1].level == Level::after_hours);
  CHECK_FALSE(plain->policy.staffed_hours.has_value());
  CHECK_FALSE(plain->bookings[0].staffed);

  auto refused = [&](const std::string& from, const std::string& to) {
    std::string bad = text;
    bad.replace(bad.find(from), from.size(), to);
    auto r = decode_sync(bad);
    REQUIRE_FALSE(r);
    return r.error().reason;
  };
  CHECK(refused(R"("level":"independent")", R"("level":"expert")") ==
        "grants[0].level: must be supervised, independent or after_hours");
  CHECK(refused("Asia/Shanghai", "Mars/Olympus").find("policy.zone: unknown time zone") == 0);
  CHECK(refused(R"(,"zone":"Asia/Shanghai")", "").find("policy.staffed_hours: needs a zone") == 0);
  CHECK(refused(R"("day":1,)", R"("day":8,)") == "policy.staffed_hours[0].day: must be 1 (Monday) .. 7 (Sunday)");
  CHECK(refused(R"("to_min":1080)", R"("to_min":400)") ==
        "policy.staffed_hours[0].to_min: must have 0 <= from_min < to_min <= 1440");
  CHECK(refused(R"("start":"2027-02-10T16:00:00.000Z")", R"("start":"2027-02-18T16:00:00.000Z")") ==
        "policy.closed[0].end: must be after start");
  CHECK(refused(R"("staffed":true)", R"("staffed":"yes")") == "bookings[0].staffed: must be true or false");
}
