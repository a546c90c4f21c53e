// A notice as an Internet message (RFC 5322 + MIME) and the pieces of the SMTP dialogue that are
// plain text handling: RFC 2047 encoded words, dot-stuffing, reply lines. Pure functions, no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "server/notify/model.hpp"

namespace lg::server::notify {

/// A header value as RFC 2047 encoded words when it is not plain printable ASCII
/// ("=?UTF-8?B?...?=", each word at most 75 characters and holding whole UTF-8 characters,
/// words separated by CRLF SP: a folded header); plain printable ASCII is returned as it is.
std::string encode_header_value(std::string_view utf8);

/// The message as it goes after DATA, before dot-stuffing: every line ends in CRLF, a bare LF
/// or CR becomes CRLF (SMTP forbids them alone).
std::string crlf_lines(std::string_view text);

/// SMTP transparency (RFC 5321 4.5.2): a line that starts with "." gets one more "."; the text
/// must already have CRLF line ends. The terminating "." line is not added.
std::string dot_stuff(std::string_view text);

/// The Date: value of an instant (RFC 5322 3.3, in UTC): "Sun, 29 Nov 2026 08:22:29 +0000".
std::string rfc5322_date(int64_t utc_ms);

/// The whole message (headers, a blank line, the body in base64 lines of 76 characters) with CRLF
/// line ends: From (with the display name encoded), To, Subject (encoded), Date, Message-ID,
/// MIME-Version, Content-Type text/plain; charset=utf-8, Content-Transfer-Encoding base64,
/// Auto-Submitted auto-generated.
std::string message_text(const Mail& m);

/// One line of an SMTP reply ("250-PIPELINING", "250 OK"), without its CRLF.
struct ReplyLine {
  int code = 0;
  bool last = false;  ///< "250 " ends the reply, "250-" is followed by more lines
  std::string text;
};

/// Parses a reply line: nullopt when it does not start with three digits followed by ' ', '-' or
/// nothing.
std::optional<ReplyLine> parse_reply_line(std::string_view line);

/// "\0user\0password" in base64: the AUTH PLAIN response (RFC 4616).
std::string auth_plain(std::string_view user, std::string_view password);

}  // namespace lg::server::notify
