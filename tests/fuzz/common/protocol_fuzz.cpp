// Fuzz target "protocol": the terminal <-> server wire (common/include/labgate/common/protocol.hpp)
// as both ends read it from the broker. Every decoder is fed the raw bytes and, when they open
// as an envelope, the envelope's body. What must hold:
// - no crash, no exception: bad input is a Result with a reason;
// - decode -> encode -> decode gives the same value, and encoding it again the same text;
// - an envelope re-sealed with a MAC opens to the same kid and body and verifies;
// - a topic that parses is rebuilt from its parts to the same text;
// - a card uid that parses is canonical (parsing its text again gives it back).
#include <string>
#include <string_view>

#include "labgate/common/card_uid.hpp"
#include "labgate/common/protocol.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace proto = lg::proto;

namespace {

template <class T, class Decode>
void round_trip(std::string_view body, Decode decode) {
  auto first = decode(body);
  if (!first) {
    FUZZ_CHECK(!first.error().reason.empty());
    return;
  }
  const std::string text = proto::encode(*first);
  auto second = decode(text);
  if (!second) std::fprintf(stderr, "re-decoding %s: %s\n", text.c_str(), second.error().message().c_str());
  FUZZ_CHECK(second.has_value());
  FUZZ_CHECK(*second == *first);
  FUZZ_CHECK(proto::encode(*second) == text);
}

void decode_all(std::string_view body) {
  round_trip<proto::EventBatch>(body, [](std::string_view b) { return proto::decode_event_batch(b); });
  round_trip<proto::Ack>(body, [](std::string_view b) { return proto::decode_ack(b); });
  round_trip<proto::State>(body, [](std::string_view b) { return proto::decode_state(b); });
  round_trip<proto::SyncBundle>(body, [](std::string_view b) { return proto::decode_sync(b); });
  round_trip<proto::Record>(body, [](std::string_view b) { return proto::decode_record(b); });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in = lg::fuzz::text(data, size);

  auto env = proto::open(in);
  if (env) {
    FUZZ_CHECK(env->body.size() <= proto::kMaxPayload);
    const std::string key(32, 'k');
    const std::string wire = proto::seal_mac(env->body, env->kid, key);
    auto again = proto::open(wire);
    FUZZ_CHECK(again.has_value());
    FUZZ_CHECK(again->kid == env->kid);
    FUZZ_CHECK(again->body == env->body);
    FUZZ_CHECK(again->alg == proto::Auth::mac);
    FUZZ_CHECK(proto::verify_mac(*again, key));
    FUZZ_CHECK(!proto::verify_mac(*again, std::string(32, 'x')));
    (void)proto::verify_mac(*env, key);
    decode_all(env->body);
  } else {
    FUZZ_CHECK(!env.error().reason.empty());
  }
  decode_all(in);

  if (auto t = proto::parse_topic(in)) {
    FUZZ_CHECK(proto::topic(t->site, t->terminal, t->channel) == in);
  }
  if (auto uid = lg::CardUid::parse(in)) {
    FUZZ_CHECK(!uid->empty());
    auto canon = lg::CardUid::parse(uid->str());
    FUZZ_CHECK(canon.has_value());
    FUZZ_CHECK(*canon == *uid);
  }
  return 0;
}
