#include "server/notify/mime.hpp"

#include <array>
#include <cstdio>
#include <ctime>

#include "labgate/common/crypto.hpp"

namespace lg::server::notify {

namespace {

bool plain_ascii(std::string_view s) {
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u > 0x7e) return false;
  }
  // "=?" would read as the start of an encoded word.
  return s.find("=?") == std::string_view::npos;
}

/// Length of the UTF-8 sequence starting with byte b (1 for a stray continuation byte).
std::size_t utf8_len(unsigned char b) {
  if (b >= 0xf0 && b < 0xf8) return 4;
  if (b >= 0xe0) return b < 0xf0 ? 3 : 1;
  if (b >= 0xc0) return 2;
  return 1;
}

}  // namespace

std::string encode_header_value(std::string_view utf8) {
  if (plain_ascii(utf8)) return std::string(utf8);
  // "=?UTF-8?B?" + base64 + "?=" <= 75 characters: at most 60 base64 characters, 45 bytes.
  constexpr std::size_t kMaxBytes = 45;
  std::string out;
  std::size_t at = 0;
  while (at < utf8.size()) {
    std::size_t end = at;
    while (end < utf8.size()) {
      std::size_t n = utf8_len(static_cast<unsigned char>(utf8[end]));
      if (end + n > utf8.size()) n = utf8.size() - end;
      if (end + n - at > kMaxBytes) break;
      end += n;
    }
    if (end == at) end = at + 1;  // cannot happen for n <= 4 < 45, but never loop forever
    if (!out.empty()) out += "\r\n ";
    out += "=?UTF-8?B?" + crypto::base64_encode(utf8.substr(at, end - at)) + "?=";
    at = end;
  }
  return out;
}

std::string crlf_lines(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 32 + 2);
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\r') {
      out += "\r\n";
      if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
    } else if (c == '\n') {
      out += "\r\n";
    } else {
      out += c;
    }
  }
  if (out.size() < 2 || out.compare(out.size() - 2, 2, "\r\n") != 0) out += "\r\n";
  return out;
}

std::string dot_stuff(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 8);
  bool line_start = true;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (line_start && c == '.') out += '.';
    out += c;
    line_start = c == '\n' && i > 0 && text[i - 1] == '\r';
  }
  return out;
}

std::string rfc5322_date(int64_t utc_ms) {
  static constexpr std::array<const char*, 7> kDays{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr std::array<const char*, 12> kMonths{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const std::time_t t = static_cast<std::time_t>(utc_ms >= 0 ? utc_ms / 1000 : (utc_ms - 999) / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d +0000", kDays[static_cast<std::size_t>(tm.tm_wday % 7)],
                tm.tm_mday, kMonths[static_cast<std::size_t>(tm.tm_mon % 12)], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return buf;
}

std::string message_text(const Mail& m) {
  std::string h;
  if (m.from_name.empty()) {
    h += "From: " + m.from + "\r\n";
  } else {
    // A plain display name goes in quotes (it may hold specials); an encoded one must not.
    std::string name;
    for (const char c : m.from_name)
      if (c != '"' && c != '\\') name += c;
    name = plain_ascii(name) ? "\"" + name + "\"" : encode_header_value(name);
    h += "From: " + name + " <" + m.from + ">\r\n";
  }
  h += "To: " + m.to + "\r\n";
  h += "Subject: " + encode_header_value(m.subject) + "\r\n";
  h += "Date: " + rfc5322_date(m.date_ms) + "\r\n";
  h += "Message-ID: " + m.message_id + "\r\n";
  h += "MIME-Version: 1.0\r\n";
  h += "Content-Type: text/plain; charset=utf-8\r\n";
  h += "Content-Transfer-Encoding: base64\r\n";
  h += "Auto-Submitted: auto-generated\r\n";
  h += "\r\n";
  const std::string b64 = crypto::base64_encode(crlf_lines(m.body));
  for (std::size_t at = 0; at < b64.size(); at += 76) h += b64.substr(at, 76) + "\r\n";
  return h;
}

std::optional<ReplyLine> parse_reply_line(std::string_view line) {
  if (line.size() < 3) return std::nullopt;
  for (std::size_t i = 0; i < 3; ++i)
    if (line[i] < '0' || line[i] > '9') return std::nullopt;
  ReplyLine r;
  r.code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
  if (line.size() == 3) {
    r.last = true;
    return r;
  }
  if (line[3] != ' ' && line[3] != '-') return std::nullopt;
  r.last = line[3] == ' ';
  r.text = std::string(line.substr(4));
  return r;
}

std::string auth_plain(std::string_view user, std::string_view password) {
  std::string s;
  s += '\0';
  s += user;
  s += '\0';
  s += password;
  return crypto::base64_encode(s);
}

}  // namespace lg::server::notify
