#include "server/transport/http/json_api.hpp"

#include "server/identity/rules.hpp"

#include <limits>
#include <variant>

#include "labgate/common/crypto.hpp"
#include "labgate/common/defaults.hpp"
#include "labgate/common/json.hpp"
#include "labgate/common/time.hpp"

namespace lg::server::http {

std::string ApiContext::time(int64_t utc_ms) const {
  auto s = time::format_site(utc_ms, time_zone);
  return s ? *s : time::format_utc(utc_ms);
}

json ApiContext::time_or_null(const std::optional<int64_t>& utc_ms) const {
  return utc_ms ? json(time(*utc_ms)) : json(nullptr);
}

// A reason may quote what the client sent (a path, a query value) and that need not be UTF-8:
// such bytes become U+FFFD instead of the serializer throwing (found by fuzz.http).
Response reply(int status, const json& body) {
  return Response{status, body.dump(-1, ' ', false, json::error_handler_t::replace)};
}

Response error(int status, const std::string& reason) { return reply(status, json{{"error", reason}}); }

Response failure(const Error& e) {
  const int status = http_status(e);
  if (status == 500) return error(500, "internal error: " + e.message());
  return error(status, e.reason);
}

json int_or_null(const std::optional<int64_t>& v) { return v ? json(*v) : json(nullptr); }

std::string query(const Request& req, const char* key) {
  auto it = req.query.find(key);
  return it == req.query.end() ? std::string() : it->second;
}

std::optional<json> parse_body(const Request& req, Response& resp) {
  auto j = lg::json::parse_strict(req.body);
  if (!j) {
    resp = error(400, "malformed JSON: " + j.error().reason);
    return std::nullopt;
  }
  if (!j->is_object()) {
    resp = error(400, "body must be a JSON object");
    return std::nullopt;
  }
  return std::move(j).value();
}

namespace {

using defaults::kMaxPageSize;

/// ?limit= in 1..kMaxPageSize.
std::optional<int64_t> limit_param(const Request& req, Response& resp) {
  auto it = req.query.find("limit");
  if (it == req.query.end() || it->second.empty()) return defaults::kPageSize;
  int64_t v = 0;
  for (char c : it->second) {
    if (c < '0' || c > '9' || v > kMaxPageSize) {
      resp = error(422, "invalid query: limit must be 1.." + std::to_string(kMaxPageSize));
      return std::nullopt;
    }
    v = v * 10 + (c - '0');
  }
  if (v < 1 || v > kMaxPageSize) {
    resp = error(422, "invalid query: limit must be 1.." + std::to_string(kMaxPageSize));
    return std::nullopt;
  }
  return v;
}

// ---- paging: ?limit=&cursor=, Link: <...>; rel="next" (RFC 8288)
//
// A cursor is base64url(tag || payload) without padding: payload is the JSON array of the last
// row's sort key (e.g. [1767225600000,"c-17"]), tag the first kTagBytes of HMAC-SHA-256 under a
// key derived from the admin token over the list name and the payload. Clients treat it as
// opaque; one that was not made by this server for this list is refused.

constexpr std::size_t kTagBytes = 12;
constexpr std::size_t kMaxCursorChars = 2048;

std::string base64url(std::string_view bytes) {
  std::string s = crypto::base64_encode(bytes);
  while (!s.empty() && s.back() == '=') s.pop_back();
  for (auto& c : s) {
    if (c == '+') c = '-';
    else if (c == '/') c = '_';
  }
  return s;
}

std::optional<std::string> from_base64url(std::string_view text) {
  std::string s;
  s.reserve(text.size() + 3);
  for (char c : text) {
    const bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (plain) s += c;
    else if (c == '-') s += '+';
    else if (c == '_') s += '/';
    else return std::nullopt;
  }
  if (s.size() % 4 == 1) return std::nullopt;
  while (s.size() % 4 != 0) s += '=';
  auto bytes = crypto::base64_decode(s);
  if (!bytes) return std::nullopt;
  return std::move(bytes).value();
}

std::string cursor_tag(const std::string& key, std::string_view list, std::string_view payload) {
  std::string msg(list);
  msg += '\n';
  msg += payload;
  const crypto::Digest d = crypto::hmac_sha256(key, msg);
  return std::string(reinterpret_cast<const char*>(d.data()), kTagBytes);
}

}  // namespace

std::string make_cursor(const std::string& key, std::string_view list, const PageKey& k) {
  json parts = json::array();
  for (const auto& part : k) {
    if (const auto* i = std::get_if<int64_t>(&part)) parts.push_back(*i);
    else parts.push_back(std::get<std::string>(part));
  }
  const std::string payload = parts.dump();
  return base64url(cursor_tag(key, list, payload) + payload);
}

/// The position a cursor names; nullopt (with the reason in why) if it is malformed or was not
/// made by this server for this list.
namespace {

std::optional<PageKey> read_cursor(const std::string& key, std::string_view list, std::string_view cursor,
                                   std::string& why) {
  if (cursor.size() > kMaxCursorChars) {
    why = "cursor: longer than " + std::to_string(kMaxCursorChars) + " characters";
    return std::nullopt;
  }
  auto bytes = from_base64url(cursor);
  // Only the canonical spelling is accepted (no stray bits in the last character).
  if (!bytes || bytes->size() <= kTagBytes || base64url(*bytes) != cursor) {
    why = "cursor: malformed (pass the cursor of a Link header unchanged)";
    return std::nullopt;
  }
  const std::string_view tag = std::string_view(*bytes).substr(0, kTagBytes);
  const std::string_view payload = std::string_view(*bytes).substr(kTagBytes);
  const std::string expected = cursor_tag(key, list, payload);
  unsigned char diff = 0;
  for (std::size_t i = 0; i < kTagBytes; ++i) diff = static_cast<unsigned char>(diff | (tag[i] ^ expected[i]));
  if (diff != 0) {
    why = "cursor: not a cursor of this list (altered, or from another list or server)";
    return std::nullopt;
  }
  auto parts = lg::json::parse_strict(payload);
  if (!parts || !parts->is_array() || parts->empty()) {
    why = "cursor: malformed position";
    return std::nullopt;
  }
  PageKey k;
  for (const auto& p : *parts) {
    if (p.is_number_integer() && !p.is_number_unsigned()) k.emplace_back(p.get<int64_t>());
    else if (p.is_number_unsigned() && p.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      k.emplace_back(static_cast<int64_t>(p.get<uint64_t>()));
    else if (p.is_string()) k.emplace_back(p.get<std::string>());
    else {
      why = "cursor: malformed position";
      return std::nullopt;
    }
  }
  return k;
}

}  // namespace

std::optional<Page> page_param(const Request& req, std::string_view list, const ApiContext& ctx, Response& resp) {
  const std::string& key = ctx.cursor_key;
  auto limit = limit_param(req, resp);
  if (!limit) return std::nullopt;
  Page p;
  p.limit = *limit;
  const std::string cursor = query(req, "cursor");
  if (!cursor.empty()) {
    std::string why;
    auto k = read_cursor(key, list, cursor, why);
    if (!k) {
      resp = error(422, "invalid query: " + why);
      return std::nullopt;
    }
    p.after = std::move(*k);
  }
  return p;
}

namespace {

/// Percent-encodes a query value (RFC 3986 unreserved characters stay).
std::string encode_query_value(std::string_view v) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const unsigned char c : v) {
    const bool keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                      c == '_' || c == '.' || c == '~';
    if (keep) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace

std::string next_link(const Request& req, int64_t limit, const std::string& cursor) {
  std::string target = req.path + "?";
  for (const auto& [k, v] : req.query) {
    if (k == "cursor" || k == "limit") continue;
    target += encode_query_value(k) + "=" + encode_query_value(v) + "&";
  }
  target += "limit=" + std::to_string(limit) + "&cursor=" + cursor;
  return "<" + target + ">; rel=\"next\"";
}


bool ApiContext::may(const Request& req, identity::Right r,
                     std::initializer_list<std::pair<identity::Kind, std::string_view>> objects) const {
  const identity::Principal& who = req.who();
  if (identity::allows(who, r, identity::Place{})) return true;  // site-wide
  if (!places || !identity::holds(who, r)) return false;
  identity::Place joined;
  bool first = true;
  for (const auto& [kind, id] : objects) {
    if (id.empty()) continue;
    auto p = places(kind, std::string(id));
    if (!p || !*p) continue;
    if (first) {
      joined = **p;
      first = false;
      continue;
    }
    for (const auto& u : (*p)->units) joined.units.push_back(u);
    for (const auto& g : (*p)->groups) joined.groups.push_back(g);
    if (joined.instrument.empty()) joined.instrument = (*p)->instrument;
    if (joined.user.empty()) joined.user = (*p)->user;
    joined.is_public = joined.is_public && (*p)->is_public;
  }
  if (first) return false;
  return identity::allows(who, r, joined);
}

}  // namespace lg::server::http
