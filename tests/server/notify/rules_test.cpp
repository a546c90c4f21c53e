// The outbox's pure parts: names, backoff and what a failure or a retry does, usable addresses,
// every template rendered, and the message on the wire (RFC 2047 subject, base64 body, CRLF,
// dot-stuffing, SMTP reply lines).
#include <doctest/doctest.h>

#include <algorithm>

#include "labgate/common/crypto.hpp"
#include "server/notify/mime.hpp"
#include "server/notify/rules.hpp"
#include "server/notify/templates.hpp"

using namespace lg;
using namespace lg::server::notify;

namespace {

const Kind kAllKinds[] = {Kind::booking_confirmed, Kind::booking_pending, Kind::booking_approved, Kind::booking_refused,
                          Kind::waitlist_promoted, Kind::booking_cancelled_maintenance, Kind::training_reminder,
                          Kind::training_enrolled, Kind::training_waitlist_promoted, Kind::training_passed,
                          Kind::training_cancelled,
                          Kind::qualification_lapsing, Kind::order_state, Kind::blocked, Kind::block_ended,
                          Kind::user_blocked, Kind::user_unblocked, Kind::other};

/// Decodes a header value made of RFC 2047 B-encoded UTF-8 words (or plain text).
std::string decode_words(const std::string& v) {
  if (v.rfind("=?", 0) != 0) return v;
  std::string out;
  for (std::size_t at = 0; (at = v.find("=?UTF-8?B?", at)) != std::string::npos;) {
    const auto end = v.find("?=", at + 10);
    REQUIRE(end != std::string::npos);
    auto bytes = crypto::base64_decode(v.substr(at + 10, end - at - 10));
    REQUIRE(bytes);
    out += *bytes;
    at = end + 2;
  }
  return out;
}

Fields all_fields(Kind k) {
  Fields f;
  for (const auto& name : template_fields(k)) f[name] = "<" + name + ">";
  return f;
}

}  // namespace

TEST_CASE("kinds and states read back from their names, and nothing else does") {
  for (Kind k : kAllKinds) CHECK(kind_from_string(to_string(k)) == k);
  CHECK(std::string(to_string(Kind::booking_cancelled_maintenance)) == "booking_cancelled_maintenance");
  for (State s : {State::pending, State::sent, State::failed, State::no_address}) CHECK(state_from_string(to_string(s)) == s);
  CHECK_FALSE(kind_from_string("Booking_confirmed"));
  CHECK_FALSE(kind_from_string(""));
  CHECK_FALSE(state_from_string("done"));
}

TEST_CASE("backoff doubles from the base and stops at the cap, without overflowing") {
  const RetryPolicy p{8, 60'000, 3'600'000};
  CHECK(backoff_ms(1, p) == 60'000);
  CHECK(backoff_ms(2, p) == 120'000);
  CHECK(backoff_ms(3, p) == 240'000);
  CHECK(backoff_ms(6, p) == 1'920'000);
  CHECK(backoff_ms(7, p) == 3'600'000);
  CHECK(backoff_ms(1000, p) == 3'600'000);
  const RetryPolicy huge{8, INT64_MAX / 3, INT64_MAX};
  CHECK(backoff_ms(200, huge) == INT64_MAX);
  CHECK(backoff_ms(0, p) == 60'000);
}

TEST_CASE("after a failure: retried with backoff until the attempts are used up, a permanent refusal ends it") {
  const RetryPolicy p{3, 1000, 10'000};
  const int64_t now = 1'000'000;
  auto a = after_failure(1, Outcome::transient, p, now);
  CHECK(a.state == State::pending);
  CHECK(a.next_attempt_ms == now + 1000);
  a = after_failure(2, Outcome::transient, p, now);
  CHECK(a.state == State::pending);
  CHECK(a.next_attempt_ms == now + 2000);
  a = after_failure(3, Outcome::transient, p, now);
  CHECK(a.state == State::failed);
  a = after_failure(1, Outcome::permanent, p, now);
  CHECK(a.state == State::failed);
}

TEST_CASE("only a failed notice or one without an address is retried by hand") {
  Notice n;
  n.id = "n1";
  for (State s : {State::failed, State::no_address}) {
    n.state = s;
    CHECK_FALSE(retry_refusal(n));
  }
  n.state = State::pending;
  CHECK(retry_refusal(n)->find("pending") != std::string::npos);
  n.state = State::sent;
  CHECK(retry_refusal(n)->find("sent already") != std::string::npos);
}

TEST_CASE("addresses that could break an SMTP command or a header are not used") {
  CHECK(address_problem("alice@lab.example.edu").empty());
  CHECK(address_problem("a.b+tag@例子.cn").empty());
  CHECK_FALSE(address_problem("").empty());
  CHECK_FALSE(address_problem("alice").empty());
  CHECK_FALSE(address_problem("@lab.edu").empty());
  CHECK_FALSE(address_problem("alice@").empty());
  CHECK_FALSE(address_problem("a@b@c").empty());
  CHECK_FALSE(address_problem("alice@lab.edu\r\nRCPT TO:<eve@evil>").empty());
  CHECK_FALSE(address_problem("alice@lab.edu>").empty());
  CHECK_FALSE(address_problem("al ice@lab.edu").empty());
  CHECK_FALSE(address_problem(std::string(250, 'a') + "@b.cn").empty());
}

TEST_CASE("every kind has a template: Chinese first, English second, greeting and signature in both") {
  for (Kind k : kAllKinds) {
    INFO(to_string(k));
    const auto names = template_fields(k);
    CHECK(std::find(names.begin(), names.end(), "name") != names.end());
    CHECK(std::find(names.begin(), names.end(), "site") != names.end());
    auto r = render(k, all_fields(k));
    REQUIRE(r);
    CHECK(r->subject.find('\n') == std::string::npos);
    CHECK(r->subject.find(" / ") != std::string::npos);
    CHECK(r->subject.find('{') == std::string::npos);
    CHECK(r->body.find('{') == std::string::npos);
    const auto zh = r->body.find("您好");
    const auto en = r->body.find("Hello <name>,");
    REQUIRE(zh != std::string::npos);
    REQUIRE(en != std::string::npos);
    CHECK(zh < en);
    CHECK(r->body.find("labgate <site>") != std::string::npos);
  }
}

TEST_CASE("a booking's confirmation says what, where and when in both languages") {
  Fields f{{"name", "王小明"},     {"site", "demo"},  {"instrument", "XRD 衍射仪"}, {"lab", "Lab C"},
           {"start", "2026-01-16 10:00:00 +08:00"}, {"end", "2026-01-16 11:00:00 +08:00"}, {"booking", "b-1"}};
  auto r = render(Kind::booking_confirmed, f);
  REQUIRE(r);
  CHECK(r->subject == "预约已确认：XRD 衍射仪 / Booking confirmed: XRD 衍射仪");
  CHECK(r->body.rfind("王小明，您好：\n\n您预约的 XRD 衍射仪（Lab C）已确认。\n开始：2026-01-16 10:00:00 +08:00", 0) == 0);
  CHECK(r->body.find("Hello 王小明,\n\nYour booking of XRD 衍射仪 (Lab C) is confirmed.\nStart: 2026-01-16 10:00:00 +08:00\n"
                     "End: 2026-01-16 11:00:00 +08:00\nBooking: b-1") != std::string::npos);
}

TEST_CASE("a missing field is an error naming it, a line break in a value cannot reach the subject") {
  Fields f = all_fields(Kind::booking_confirmed);
  f.erase("start");
  auto r = render(Kind::booking_confirmed, f);
  REQUIRE_FALSE(r);
  CHECK(r.error().reason.find("'start'") != std::string::npos);
  f = all_fields(Kind::booking_confirmed);
  f["instrument"] = "XRD\r\nBcc: eve@evil";
  f["booking"] = "b\r\n2";
  r = render(Kind::booking_confirmed, f);
  REQUIRE(r);
  CHECK(r->subject.find('\n') == std::string::npos);
  CHECK(r->subject.find('\r') == std::string::npos);
  CHECK(r->body.find("b\n2") != std::string::npos);  // in the body a line break stays one
  CHECK(r->body.find('\r') == std::string::npos);
}

TEST_CASE("RFC 2047: plain ASCII stays, anything else becomes encoded words of whole characters, <= 75 each") {
  CHECK(encode_header_value("Booking confirmed: XRD") == "Booking confirmed: XRD");
  CHECK(encode_header_value("looks =?like?= a word").rfind("=?UTF-8?B?", 0) == 0);
  const std::string zh = "预约已确认：粉末衍射仪 二楼 201 室 / Booking confirmed: Powder XRD, the long name";
  const std::string enc = encode_header_value(zh);
  CHECK(enc.rfind("=?UTF-8?B?", 0) == 0);
  CHECK(decode_words(enc) == zh);
  std::size_t words = 0;
  for (std::size_t at = 0, next; at < enc.size(); at = next + 3) {
    next = enc.find("\r\n ", at);
    if (next == std::string::npos) next = enc.size();
    const std::string word = enc.substr(at, next - at);
    CHECK(word.size() <= 75);
    auto bytes = crypto::base64_decode(word.substr(10, word.size() - 12));
    REQUIRE(bytes);
    // each word holds whole characters: it does not end inside a UTF-8 sequence
    const auto last = static_cast<unsigned char>(bytes->back());
    CHECK((last < 0x80 || (last & 0xc0) == 0x80));
    if ((last & 0xc0) == 0x80) {
      std::size_t i = bytes->size() - 1;
      while (i > 0 && (static_cast<unsigned char>((*bytes)[i]) & 0xc0) == 0x80) --i;
      const auto lead = static_cast<unsigned char>((*bytes)[i]);
      const std::size_t len = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
      CHECK(bytes->size() - i == len);
    }
    ++words;
  }
  CHECK(words >= 2);
}

TEST_CASE("dot-stuffing doubles a leading dot on every line, only there, lines end in CRLF") {
  CHECK(dot_stuff(".\r\n") == "..\r\n");
  CHECK(dot_stuff("a\r\n.b\r\n..c\r\nd.e\r\n") == "a\r\n..b\r\n...c\r\nd.e\r\n");
  CHECK(dot_stuff("x\n.y\r\n") == "x\n.y\r\n");  // a bare LF is not a line end on the wire
  CHECK(crlf_lines("a\nb\r\nc\rd") == "a\r\nb\r\nc\r\nd\r\n");
  CHECK(crlf_lines("") == "\r\n");
}

TEST_CASE("the message: headers of RFC 5322 and MIME, the UTF-8 body in base64 lines of 76") {
  Mail m{"labgate@lab.example.edu", "实验室 labgate", "alice@lab.example.edu", "预约已确认 / Booking confirmed",
         "王小明，您好：\n.\nHello\n", "<n1@lab.example.edu>", 1'795'941'749'000};
  const std::string t = message_text(m);
  const auto split = t.find("\r\n\r\n");
  REQUIRE(split != std::string::npos);
  const std::string head = t.substr(0, split + 2);
  CHECK(head.find("From: =?UTF-8?B?") == 0);
  CHECK(head.find(" <labgate@lab.example.edu>\r\n") != std::string::npos);
  CHECK(head.find("To: alice@lab.example.edu\r\n") != std::string::npos);
  CHECK(head.find("Subject: =?UTF-8?B?") != std::string::npos);
  CHECK(head.find("Date: Sun, 29 Nov 2026 08:42:29 +0000\r\n") != std::string::npos);
  CHECK(head.find("Message-ID: <n1@lab.example.edu>\r\n") != std::string::npos);
  CHECK(head.find("MIME-Version: 1.0\r\n") != std::string::npos);
  CHECK(head.find("Content-Type: text/plain; charset=utf-8\r\n") != std::string::npos);
  CHECK(head.find("Content-Transfer-Encoding: base64\r\n") != std::string::npos);
  std::string b64;
  for (std::size_t at = split + 4; at < t.size();) {
    const auto eol = t.find("\r\n", at);
    REQUIRE(eol != std::string::npos);
    CHECK(eol - at <= 76);
    b64 += t.substr(at, eol - at);
    at = eol + 2;
  }
  auto body = crypto::base64_decode(b64);
  REQUIRE(body);
  CHECK(*body == "王小明，您好：\r\n.\r\nHello\r\n");
  m.from_name = "labgate";
  CHECK(message_text(m).rfind("From: \"labgate\" <labgate@lab.example.edu>\r\n", 0) == 0);
  m.from_name = "";
  CHECK(message_text(m).rfind("From: labgate@lab.example.edu\r\n", 0) == 0);
}

TEST_CASE("SMTP reply lines: code, whether more follow, text") {
  auto l = parse_reply_line("250-PIPELINING");
  REQUIRE(l);
  CHECK(l->code == 250);
  CHECK_FALSE(l->last);
  CHECK(l->text == "PIPELINING");
  l = parse_reply_line("550 5.1.1 no such user");
  REQUIRE(l);
  CHECK(l->code == 550);
  CHECK(l->last);
  CHECK(l->text == "5.1.1 no such user");
  l = parse_reply_line("220");
  REQUIRE(l);
  CHECK(l->last);
  CHECK_FALSE(parse_reply_line("25"));
  CHECK_FALSE(parse_reply_line("2x0 ok"));
  CHECK_FALSE(parse_reply_line("250_ok"));
  CHECK(auth_plain("user", "pass") == "AHVzZXIAcGFzcw==");
  CHECK(rfc5322_date(0) == "Thu, 01 Jan 1970 00:00:00 +0000");
}
