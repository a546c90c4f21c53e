#include "server/http/api.hpp"

#include <initializer_list>
#include <limits>
#include <optional>
#include <utility>
#include <variant>

#include <nlohmann/json.hpp>

#include "labgate/common/card_uid.hpp"
#include "labgate/common/crypto.hpp"
#include "labgate/common/json.hpp"
#include "labgate/common/log.hpp"
#include "labgate/common/money.hpp"
#include "labgate/common/protocol.hpp"
#include "labgate/common/time.hpp"
#include "server/domain/booking_rules.hpp"
#include "server/domain/report.hpp"

namespace lg::server::http {

using nlohmann::json;

namespace {

constexpr std::string_view kLog = "http";
constexpr int64_t kMaxRate = 1'000'000'000;  // fen per hour (10 million yuan)
constexpr int64_t kDefaultLimit = 100;
constexpr int64_t kMaxLimit = 10'000;

Response reply(int status, const json& body) { return Response{status, body.dump()}; }

Response error(int status, const std::string& reason) { return reply(status, json{{"error", reason}}); }

/// Compares the bearer token through fixed-length digests in constant time: neither the
/// length nor any prefix of the configured token leaks through the comparison's timing.
bool token_ok(const std::string& header, const std::string& token) {
  static constexpr std::string_view kPrefix = "Bearer ";
  const bool has_prefix = header.size() >= kPrefix.size() && header.compare(0, kPrefix.size(), kPrefix) == 0;
  const std::string_view given = has_prefix ? std::string_view(header).substr(kPrefix.size()) : std::string_view();
  const crypto::Digest a = crypto::sha256(given);
  const crypto::Digest b = crypto::sha256(token);
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff = static_cast<unsigned char>(diff | (a[i] ^ b[i]));
  return has_prefix && diff == 0;
}

json time_or_null(const std::optional<int64_t>& ms) {
  return ms ? json(time::format_utc(*ms)) : json(nullptr);
}

json int_or_null(const std::optional<int64_t>& v) { return v ? json(*v) : json(nullptr); }

/// Reads fields of a JSON object body, remembering only the first problem.
class Fields {
 public:
  Fields(const json& obj, std::initializer_list<std::string_view> allowed) : obj_(obj) {
    for (auto it = obj.begin(); it != obj.end(); ++it) {
      bool known = false;
      for (auto a : allowed) known = known || it.key() == a;
      if (!known) {
        fail(400, "unknown field: " + it.key());
        break;
      }
    }
  }
  bool ok() const { return status_ == 0; }
  Response response() const { return error(status_, reason_); }

  /// Required or optional id ([A-Za-z0-9_.:-], 1..64).
  std::string id(const char* key, bool required = true) {
    auto s = str(key, required);
    if (s && !proto::valid_id(*s)) invalid(key, "must be 1..64 of [A-Za-z0-9_.:-]");
    return s.value_or("");
  }
  /// Required or optional non-empty text up to proto::kMaxField characters.
  /// Control characters (NUL, newline, escape...) are refused: names are shown to people.
  std::string text(const char* key, bool required = true, std::size_t max = proto::kMaxField) {
    auto s = str(key, required);
    if (s && (s->empty() || s->size() > max)) invalid(key, "must be 1.." + std::to_string(max) + " characters");
    if (s && lg::json::has_control_chars(*s)) invalid(key, "must not contain control characters");
    return s.value_or("");
  }
  /// Required multi-line text (a PEM): line ends are allowed, other control characters are not.
  std::string multiline(const char* key, std::size_t max) {
    auto s = str(key, true);
    if (s && (s->empty() || s->size() > max)) invalid(key, "must be 1.." + std::to_string(max) + " characters");
    if (s) {
      std::string flat = *s;
      for (auto& c : flat)
        if (c == '\n' || c == '\r') c = ' ';
      if (lg::json::has_control_chars(flat)) invalid(key, "must not contain control characters");
    }
    return s.value_or("");
  }
  /// Optional (possibly empty) text, without control characters.
  std::string opt_text(const char* key, std::size_t max = proto::kMaxField) {
    auto s = str(key, false);
    if (s && s->size() > max) invalid(key, "longer than " + std::to_string(max) + " characters");
    if (s && lg::json::has_control_chars(*s)) invalid(key, "must not contain control characters");
    return s.value_or("");
  }
  /// Required string that must be one of choices.
  std::string one_of(const char* key, std::initializer_list<std::string_view> choices) {
    auto s = str(key, true);
    if (!s) return "";
    for (auto c : choices) {
      if (*s == c) return *s;
    }
    std::string list;
    for (auto c : choices) list += (list.empty() ? "" : "|") + std::string(c);
    invalid(key, "must be " + list);
    return "";
  }
  /// Optional boolean.
  bool flag(const char* key, bool def) {
    auto it = obj_.find(key);
    if (it == obj_.end() || it->is_null()) return def;
    if (!it->is_boolean()) {
      invalid(key, "must be true or false");
      return def;
    }
    return it->get<bool>();
  }
  /// Required integer in [min, max] (no floats: money is integer fen).
  int64_t integer(const char* key, int64_t min, int64_t max) {
    auto it = obj_.find(key);
    if (it == obj_.end() || it->is_null()) {
      missing(key);
      return 0;
    }
    if (!it->is_number_integer()) {
      invalid(key, "must be an integer");
      return 0;
    }
    if (it->is_number_unsigned() && it->get<uint64_t>() > static_cast<uint64_t>(max)) {
      invalid(key, "must be in " + std::to_string(min) + ".." + std::to_string(max));
      return 0;
    }
    const auto v = it->get<int64_t>();
    if (v < min || v > max) {
      invalid(key, "must be in " + std::to_string(min) + ".." + std::to_string(max));
      return 0;
    }
    return v;
  }
  /// Optional integer in [min, max]; nullopt when absent (or null).
  std::optional<int64_t> opt_integer(const char* key, int64_t min, int64_t max) {
    auto it = obj_.find(key);
    if (it == obj_.end() || it->is_null()) return std::nullopt;
    return integer(key, min, max);
  }
  /// Optional boolean; nullopt when absent (or null).
  std::optional<bool> opt_flag(const char* key) {
    auto it = obj_.find(key);
    if (it == obj_.end() || it->is_null()) return std::nullopt;
    return flag(key, false);
  }
  /// RFC 3339 time as UTC ms; nullopt when optional and absent.
  std::optional<int64_t> time(const char* key, bool required) {
    auto s = str(key, required);
    if (!s) return std::nullopt;
    auto ms = time::parse_utc(*s);
    if (!ms) invalid(key, "must be an RFC 3339 time such as 2026-03-01T08:00:00Z");
    return ms;
  }
  /// Marks a field invalid (422) unless an earlier problem is already recorded.
  void invalid(const char* key, const std::string& why) { fail(422, "invalid field: " + std::string(key) + ": " + why); }

 private:
  void missing(const char* key) { fail(400, "missing field: " + std::string(key)); }
  void fail(int status, std::string reason) {
    if (status_ != 0) return;
    status_ = status;
    reason_ = std::move(reason);
  }
  std::optional<std::string> str(const char* key, bool required) {
    auto it = obj_.find(key);
    if (it == obj_.end() || it->is_null()) {
      if (required) missing(key);
      return std::nullopt;
    }
    if (!it->is_string()) {
      invalid(key, "must be a string");
      return std::nullopt;
    }
    return it->get<std::string>();
  }

  const json& obj_;
  int status_ = 0;
  std::string reason_;
};

/// Parses the body as a JSON object; nullopt with resp set on failure.
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

/// ?limit= in 1..kMaxLimit.
std::optional<int64_t> limit_param(const Request& req, Response& resp) {
  auto it = req.query.find("limit");
  if (it == req.query.end() || it->second.empty()) return kDefaultLimit;
  int64_t v = 0;
  for (char c : it->second) {
    if (c < '0' || c > '9' || v > kMaxLimit) {
      resp = error(422, "invalid query: limit must be 1.." + std::to_string(kMaxLimit));
      return std::nullopt;
    }
    v = v * 10 + (c - '0');
  }
  if (v < 1 || v > kMaxLimit) {
    resp = error(422, "invalid query: limit must be 1.." + std::to_string(kMaxLimit));
    return std::nullopt;
  }
  return v;
}

std::string query(const Request& req, const char* key) {
  auto it = req.query.find(key);
  return it == req.query.end() ? std::string() : it->second;
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

/// ?limit= and ?cursor= of a request for `list`; nullopt with resp set (422) when invalid.
std::optional<Page> page_param(const Request& req, std::string_view list, const std::string& key, Response& resp) {
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

/// The Link header value of the page after this one: the same path and query parameters, the
/// page's limit and the new cursor.
std::string next_link(const Request& req, int64_t limit, const std::string& cursor) {
  std::string target = req.path + "?";
  for (const auto& [k, v] : req.query) {
    if (k == "cursor" || k == "limit") continue;
    target += encode_query_value(k) + "=" + encode_query_value(v) + "&";
  }
  target += "limit=" + std::to_string(limit) + "&cursor=" + cursor;
  return "<" + target + ">; rel=\"next\"";
}

/// 409/422/404/500 from a store error.
Response failure(const Error& e) {
  if (is(e, StoreErrc::conflict)) return error(409, e.reason);
  if (is(e, StoreErrc::unknown_reference)) return error(422, e.reason);
  if (is(e, StoreErrc::not_allowed)) return error(422, e.reason);
  if (is(e, StoreErrc::not_found)) return error(404, e.reason);
  return error(500, "internal error: " + e.message());
}

/// 200 with the page's rows as a JSON array, and a Link to the next page when more follow.
template <typename T, typename ToJson>
Response page_reply(const Request& req, std::string_view list, const std::string& key, int64_t limit,
                    const Result<PageOf<T>>& page, ToJson&& to_json) {
  if (!page) {
    // A position that does not fit the list is a bad query, whatever the store calls it.
    if (is(page.error(), StoreErrc::not_allowed)) return error(422, "invalid query: " + page.error().reason);
    return failure(page.error());
  }
  json arr = json::array();
  for (const auto& row : *page) arr.push_back(to_json(row));
  Response r = reply(200, arr);
  if (page->more()) r.headers.emplace_back("Link", next_link(req, limit, make_cursor(key, list, page->next)));
  return r;
}

json charge_json(const Charge& c) {
  return json{{"id", c.id},
              {"session", c.session},
              {"instrument", c.instrument},
              {"user", c.user},
              {"category", c.category},
              {"rate_fen_per_hour", c.rate_fen_per_hour},
              {"duration_ms", c.duration_ms},
              {"amount_fen", c.amount_fen},
              {"amount", money::format(c.amount_fen)},
              {"currency", c.currency},
              {"flags", c.flags},
              {"end", time::format_utc(c.end_ms)}};
}

json instrument_json(const Instrument& i) {
  return json{{"id", i.id},
              {"name", i.name},
              {"lab", i.lab},
              {"kind", to_string(i.kind)},
              {"asset_no", i.asset_no},
              {"require_booking", i.require_booking},
              {"early_start_s", i.early_start_s},
              {"grace_after_end_s", i.grace_after_end_s},
              {"offline_grace_s", i.offline_grace_s},
              {"max_session_s", i.max_session_s}};
}

/// The access-policy fields of a POST /api/instruments or PATCH /api/instruments/{id} body.
InstrumentPolicyPatch read_policy(Fields& f) {
  InstrumentPolicyPatch p;
  p.require_booking = f.opt_flag("require_booking");
  p.early_start_s = f.opt_integer("early_start_s", 0, kMaxEarlyStartS);
  p.grace_after_end_s = f.opt_integer("grace_after_end_s", 0, kMaxGraceAfterEndS);
  p.offline_grace_s = f.opt_integer("offline_grace_s", 0, kMaxOfflineGraceS);
  p.max_session_s = f.opt_integer("max_session_s", 0, kMaxSessionS);
  return p;
}

constexpr std::string_view kInstrumentsPrefix = "/api/instruments/";

json row_json(const report::Row& r) {
  return json{{"key", r.key},         {"name", r.name},
              {"sessions", r.sessions}, {"seconds", r.seconds},
              {"hours", r.hours},     {"amount_fen", r.amount_fen},
              {"amount", money::format(r.amount_fen)}};
}

}  // namespace

Api::Api(Store& store, SyncService* sync, ApiSettings settings, std::function<int64_t()> now)
    : store_(store), sync_(sync), settings_(std::move(settings)), now_(std::move(now)) {
  // Cursors are signed under a key only this server derives (from its admin token).
  const crypto::Digest d = crypto::hmac_sha256(settings_.admin_token, "labgate page cursor v1");
  cursor_key_.assign(reinterpret_cast<const char*>(d.data()), d.size());
}

Response Api::handle(const Request& req) {
  Response r = route(req);
  if (r.status >= 500) {
    log::error(kLog, req.method + " " + req.path + " -> " + std::to_string(r.status) + " " + r.body);
  } else if (r.status >= 400) {
    log::info(kLog, req.method + " " + req.path + " -> " + std::to_string(r.status) + " " + r.body);
  } else {
    log::debug(kLog, req.method + " " + req.path + " -> " + std::to_string(r.status));
  }
  return r;
}

Response Api::route(const Request& req) {
  if (req.path.empty()) return error(400, "malformed request target");
  const std::string& p = req.path;
  const bool get = req.method == "GET";
  const bool post = req.method == "POST";
  if (p == "/api/health") {
    if (!get) return error(405, "method not allowed");
    return reply(200, json{{"ok", true}, {"site", settings_.site}, {"version", settings_.version}});
  }
  if (p.rfind("/api/", 0) == 0 && !token_ok(req.authorization, settings_.admin_token)) {
    return error(401, req.authorization.empty() ? "missing bearer token" : "wrong bearer token");
  }

  if (p.rfind(kInstrumentsPrefix, 0) == 0) {
    const std::string id = p.substr(kInstrumentsPrefix.size());
    if (!proto::valid_id(id)) return error(404, "no such route: " + p);
    if (req.method != "PATCH") return error(405, "method not allowed");
    return patch_instrument(req, id);
  }

  struct Route {
    std::string_view path;
    Response (Api::*post)(const Request&);
    bool get;
  };
  static constexpr Route kRoutes[] = {
      {"/api/units", &Api::post_unit, true},
      {"/api/labs", &Api::post_lab, true},
      {"/api/instruments", &Api::post_instrument, true},
      {"/api/fee-standards", &Api::post_fee_standard, true},
      {"/api/users", &Api::post_user, true},
      {"/api/cards", &Api::post_card, true},
      {"/api/qualifications", &Api::post_qualification, true},
      {"/api/bookings", &Api::post_booking, true},
      {"/api/terminals", &Api::post_terminal, true},
      {"/api/access-events", nullptr, true},
      {"/api/sessions", nullptr, true},
      {"/api/charges", nullptr, true},
      {"/api/reports/usage", nullptr, true},
      {"/api/stats", nullptr, true},
  };
  for (const auto& r : kRoutes) {
    if (p != r.path) continue;
    if (post && r.post) return (this->*r.post)(req);
    if (!get) return error(405, "method not allowed");
    if (p == "/api/terminals") return get_terminals(req);
    if (p == "/api/access-events") return get_access_events(req);
    if (p == "/api/sessions") return get_sessions(req);
    if (p == "/api/charges") return get_charges(req);
    if (p == "/api/reports/usage") return get_usage_report(req);
    if (p == "/api/stats") return get_stats();
    return get_list(req, std::string(p.substr(5)));
  }
  return error(404, "no such route: " + p);
}

Response Api::store_failure(const Error& e) { return failure(e); }

void Api::resync_all() {
  if (!sync_) return;
  if (auto s = sync_->refresh_all(now_(), false); !s) log::error(kLog, "sync refresh: " + s.error().message());
}

void Api::resync_resource(const std::string& resource) {
  if (!sync_) return;
  if (auto s = sync_->refresh_resource(resource, now_()); !s) log::error(kLog, "sync refresh: " + s.error().message());
}

// ------------------------------------------------------------------ POST

Response Api::post_unit(const Request& req) {
  Response bad;
  auto body = parse_body(req, bad);
  if (!body) return bad;
  Fields f(*body, {"id", "name", "parent"});
  Unit u{f.id("id"), f.text("name"), f.id("parent", false)};
  if (!f.ok()) return f.response();
  if (auto s = store_.add_unit(u, now_()); !s) return store_failure(s.error());
  return reply(201, json{{"id", u.id}});
}

Response Api::post_lab(const Request& req) {
  Response bad;
  auto body = parse_body(req, bad);
  if (!body) return bad;
  Fields f(*body, {"id", "name", "unit"});
  Lab l{f.id("id"), f.text("name"), f.id("unit")};
  if (!f.ok()) return f.response();
  if (auto s = store_.add_lab(l, now_()); !s) return store_failure(s.error());
  return reply(201, json{{"id", l.id}});
}

Response Api::post_instrument(const Request& req) {
  Response bad;
  auto body = parse_body(req, bad);
  if (!body) return bad;
  Fields f(*body, {"id", "name", "lab", "kind", "asset_no", "require_booking", "early_start_s", "grace_after_end_s",
                   "offline_grace_s", "max_session_s"});
  Instrument i;
  i.id = f.id("id");
  i.name = f.text("name");
  i.lab = f.id("lab");
  i.kind = kind_from(f.one_of("kind", {"instrument", "door"})).value_or(InstrumentKind::instrument);
  i.asset_no = f.opt_text("asset_no");
  const InstrumentPolicyPatch p = read_policy(f);
  if (!f.ok()) return f.response();
  i.require_booking = p.require_booking.value_or(i.require_booking);
  i.early_start_s = p.early_start_s.value_or(i.early_start_s);
  i.grace_after_end_s = p.grace_after_end_s.value_or(i.grace_after_end_s);
  i.offline_grace_s = p.offline_grace_s.value_or(i.offline_grace_s);
  i.max_session_s = p.max_session_s.value_or(i.max_session_s);
  if (auto s = store_.add_instrument(i, now_()); !s) return store_failure(s.error());
  resync_resource(i.id);
  return reply(201, json{{"id", i.id}});
}

Response Api::patch_instrument(const Request& req, const std::string& id) {
  Response bad;
  auto body = parse_body(req, bad);
  if (!body) return bad;
  Fields f(*body, {"require_booking", "early_start_s", "grace_after_end_s", "offline_grace_s", "max_session_s"});
  const InstrumentPolicyPatch p = read_policy(f);
  if (!f.ok()) return f.response();
  auto updated = store_.update_instrument_policy(id, p, now_());
  if (!updated) return store_failure(updated.error());
  resync_resource(id);
  return reply(200, instrument_json(*updated));
}

Response Api::post_fee_standard(const Request& req) {
  Response bad;
  auto body = parse_body(req, bad);
  if (!body) return bad;
  Fields f(*body, {"instrument", "internal_fen_per_hour", "external_fen_per_hour", "currency"});
  FeeStandard fee;
  fee.instrument = f.id("instrument");
  fee.internal_fen_per_hour = f.integer("internal_fen_per_hour", 0, kMaxRate);
  fee.external_fen_per_hour = f.integer("external_fen_per_hour", 0, kMaxRate);
  fee.currency = f.opt_text("currency");
  if (fee.currency.empty()) fee.currency = settings_.currency;
  if (f.ok() && fee.currency.size() != 3) f.invalid("currency", "must be a 3-letter code");
  if (!f.ok()) return f.response();
  if (auto s = store_.put_fee_standard(fee, now_()); !s) return store_failure(s.error());
  return reply(201, json{{"instrument", fee.instrument}});
}

Response Api::post_user(const Request& req) {
  Response bad;
  auto body = parse_body(req, bad);
  if (!body) return bad;
  Fields f(*body, {"id", "name", "category", "unit", "admin"});
  User u;
  u.id = f.id("id");
  u.name = f.text("name");
  u.category = category_from(f.one_of("category", {"internal", "external"})).value_or(UserCategory::internal);
  u.unit = f.id("unit", false);
  u.admin = f.flag("admin", false);
  if (!f.ok()) return f.response();
  if (auto s = store_.add_user(u, now_()); !s) return store_failure(s.error());
  if (u.admin) resync_all();
  return reply(201, json{{"id", u.id}});
}

Response Api::post_card(const Request& req) {
  Response bad;
  auto body = parse_body(req, bad);
  if (!body) return bad;
  Fields f(*body, {"uid", "user"});
  Card c;
  c.uid = f.text("uid");
  if (f.ok()) {
    if (auto uid = CardUid::parse(c.uid)) c.uid = uid->str();
    else f.invalid("uid", "must be " + std::string(CardUid::kRule));
  }
  c.user = f.id("user");
  if (!f.ok()) return f.response();
  if (auto s = store_.add_card(c, now_()); !s) return store_failure(s.error());
  resync_all();
  return reply(201, json{{"uid", c.uid}, {"user", c.user}});
}

Response Api::post_qualification(const Request& req) {
  Response bad;
  auto body = parse_body(req, bad);
  if (!body) return bad;
  Fields f(*body, {"user", "instrument", "valid_from", "valid_until"});
  Qualification q;
  q.user = f.id("user");
  q.instrument = f.id("instrument");
  q.valid_from_ms = f.time("valid_from", false).value_or(0);
  q.valid_until_ms = f.time("valid_until", false);
  if (f.ok() && q.valid_until_ms && *q.valid_until_ms <= q.valid_from_ms) {
    f.invalid("valid_until", "must be after valid_from");
  }
  if (!f.ok()) return f.response();
  if (auto s = store_.put_qualification(q, now_()); !s) return store_failure(s.error());
  resync_resource(q.instrument);
  return reply(201, json{{"user", q.user}, {"instrument", q.instrument}});
}

Response Api::post_booking(const Request& req) {
  Response bad;
  auto body = parse_body(req, bad);
  if (!body) return bad;
  Fields f(*body, {"instrument", "user", "start", "end"});
  Booking b;
  b.instrument = f.id("instrument");
  b.user = f.id("user");
  b.start_ms = f.time("start", true).value_or(0);
  b.end_ms = f.time("end", true).value_or(0);
  if (f.ok()) {
    if (auto why = booking::validate(b.start_ms, b.end_ms)) return error(422, "invalid field: " + *why);
  }
  if (!f.ok()) return f.response();
  auto out = store_.create_booking(b, now_());
  if (!out) return store_failure(out.error());
  if (!out->conflict.empty()) {
    return reply(409, json{{"error", "booking overlaps booking " + out->conflict}, {"conflict", out->conflict}});
  }
  resync_resource(b.instrument);
  return reply(201, json{{"id", out->id}});
}

Response Api::post_terminal(const Request& req) {
  Response bad;
  auto body = parse_body(req, bad);
  if (!body) return bad;
  Fields f(*body, {"id", "resource", "public_key"});
  Terminal t;
  t.id = f.id("id");
  t.resource = f.id("resource");
  t.public_key = f.multiline("public_key", 4096);
  if (f.ok()) {
    auto key = crypto::PublicKey::from_pem(t.public_key);
    if (!key) {
      f.invalid("public_key", "not a P-256 public key PEM: " + key.error().reason);
    } else {
      t.public_key = key->to_pem();
    }
  }
  if (!f.ok()) return f.response();
  if (t.id == proto::kServerKid) return error(422, "invalid field: id: 'server' is reserved");
  if (auto s = store_.add_terminal(t, now_()); !s) return store_failure(s.error());
  if (sync_) {
    if (auto v = sync_->refresh(t.id, now_(), true); !v) log::error(kLog, "sync " + t.id + ": " + v.error().message());
  }
  log::info(kLog, "enrolled terminal " + t.id + " for " + t.resource);
  return reply(201, json{{"id", t.id}});
}

// ------------------------------------------------------------------ GET

namespace {

json unit_json(const Unit& u) {
  return json{{"id", u.id}, {"name", u.name}, {"parent", u.parent.empty() ? json(nullptr) : json(u.parent)}};
}
json lab_json(const Lab& l) { return json{{"id", l.id}, {"name", l.name}, {"unit", l.unit}}; }
json fee_json(const FeeStandard& fs) {
  return json{{"instrument", fs.instrument},
              {"internal_fen_per_hour", fs.internal_fen_per_hour},
              {"external_fen_per_hour", fs.external_fen_per_hour},
              {"currency", fs.currency}};
}
json user_json(const User& u) {
  return json{{"id", u.id},
              {"name", u.name},
              {"category", to_string(u.category)},
              {"unit", u.unit.empty() ? json(nullptr) : json(u.unit)},
              {"admin", u.admin}};
}
json card_json(const Card& c) { return json{{"uid", c.uid}, {"user", c.user}, {"active", c.active}}; }
json qualification_json(const Qualification& q) {
  return json{{"user", q.user},
              {"instrument", q.instrument},
              {"valid_from", time::format_utc(q.valid_from_ms)},
              {"valid_until", time_or_null(q.valid_until_ms)}};
}
json booking_json(const Booking& b) {
  return json{{"id", b.id},
              {"instrument", b.instrument},
              {"user", b.user},
              {"start", time::format_utc(b.start_ms)},
              {"end", time::format_utc(b.end_ms)}};
}
json terminal_json(const Terminal& t) {
  return json{{"id", t.id},
              {"resource", t.resource},
              {"online", t.online},
              {"boot", t.boot},
              {"firmware", t.firmware},
              {"board", t.board},
              {"acl_version", t.acl_version},
              {"sync_version", t.sync_version},
              {"outbox_depth", t.outbox_depth},
              {"clock_synced", t.clock_synced},
              {"acked_seq", t.acked_seq},
              {"last_seen", time_or_null(t.last_seen_ms)}};
}
json access_json(const AccessEvent& e) {
  return json{{"id", e.record_id},
              {"terminal", e.terminal},
              {"seq", e.seq},
              {"time", time::format_utc(e.ts_ms)},
              {"card", e.card},
              {"user", e.user.empty() ? json(nullptr) : json(e.user)},
              {"user_resolved", e.user_resolved},
              {"resource", e.resource},
              {"output", e.output},
              {"decision", e.decision},
              {"reason", e.reason},
              {"mode", e.mode},
              {"acl_version", e.acl_version},
              {"booking", e.booking.empty() ? json(nullptr) : json(e.booking)},
              {"clock_synced", e.clock_synced}};
}
json session_json(const UsageSession& s) {
  return json{{"id", s.id},
              {"terminal", s.terminal},
              {"instrument", s.resource},
              {"user", s.user.empty() ? json(nullptr) : json(s.user)},
              {"card", s.card},
              {"booking", s.booking.empty() ? json(nullptr) : json(s.booking)},
              {"status", s.closed ? "closed" : "open"},
              {"start", time::format_utc(s.start_ms)},
              {"end", time_or_null(s.end_ms)},
              {"duration_ms", int_or_null(s.duration_ms)},
              {"seconds", s.duration_ms ? json(*s.duration_ms / 1000) : json(nullptr)},
              {"energy_wh", int_or_null(s.energy_wh)},
              {"end_reason", s.end_reason.empty() ? json(nullptr) : json(s.end_reason)},
              {"flags", s.flags},
              {"charge", s.charge ? charge_json(*s.charge) : json(nullptr)}};
}

/// [from, to) in UTC ms of whole local months first..last (inclusive) in time zone tz.
Result<std::pair<int64_t, int64_t>> months_window(const std::string& first, const std::string& last,
                                                  const std::string& tz) {
  auto from = time::local_month_start(first, tz);
  if (!from) return from.error();
  auto next = time::next_month(last);
  if (!next) return next.error();
  auto to = time::local_month_start(*next, tz);
  if (!to) return to.error();
  return std::pair{*from, *to};
}

}  // namespace

std::optional<report::Period> Api::period_param(const Request& req, Response& resp) {
  auto current = time::local_month(now_(), settings_.time_zone);
  if (!current) {
    resp = error(500, "internal error: " + current.error().message());
    return std::nullopt;
  }
  auto p = report::period_from(query(req, "month"), query(req, "from"), query(req, "to"), *current);
  if (!p) {
    resp = error(422, "invalid query: " + p.error().reason);
    return std::nullopt;
  }
  return std::move(p).value();
}

Response Api::get_list(const Request& req, const std::string& what) {
  Response bad;
  auto page = page_param(req, what, cursor_key_, bad);
  if (!page) return bad;
  const int64_t limit = page->limit;
  if (what == "units") return page_reply(req, what, cursor_key_, limit, store_.units(*page), unit_json);
  if (what == "labs") return page_reply(req, what, cursor_key_, limit, store_.labs(*page), lab_json);
  if (what == "instruments") {
    return page_reply(req, what, cursor_key_, limit, store_.instruments(*page), instrument_json);
  }
  if (what == "fee-standards") {
    return page_reply(req, what, cursor_key_, limit, store_.fee_standards(*page), fee_json);
  }
  if (what == "users") return page_reply(req, what, cursor_key_, limit, store_.users(*page), user_json);
  if (what == "cards") return page_reply(req, what, cursor_key_, limit, store_.cards(*page), card_json);
  if (what == "qualifications") {
    return page_reply(req, what, cursor_key_, limit, store_.qualifications(*page), qualification_json);
  }
  if (what == "bookings") return page_reply(req, what, cursor_key_, limit, store_.bookings(*page), booking_json);
  return error(404, "no such route: /api/" + what);
}

Response Api::get_terminals(const Request& req) {
  Response bad;
  auto page = page_param(req, "terminals", cursor_key_, bad);
  if (!page) return bad;
  return page_reply(req, "terminals", cursor_key_, page->limit, store_.terminals(*page), terminal_json);
}

Response Api::get_access_events(const Request& req) {
  Response bad;
  auto page = page_param(req, "access-events", cursor_key_, bad);
  if (!page) return bad;
  AccessFilter f{query(req, "terminal"), query(req, "decision"), *page};
  if (!f.decision.empty() && f.decision != "granted" && f.decision != "denied") {
    return error(422, "invalid query: decision must be granted|denied");
  }
  return page_reply(req, "access-events", cursor_key_, page->limit, store_.access_events(f), access_json);
}

Response Api::get_sessions(const Request& req) {
  Response bad;
  auto page = page_param(req, "sessions", cursor_key_, bad);
  if (!page) return bad;
  SessionFilter f{query(req, "instrument"), query(req, "user"), *page};
  return page_reply(req, "sessions", cursor_key_, page->limit, store_.sessions(f), session_json);
}

Response Api::get_charges(const Request& req) {
  Response bad;
  auto period = period_param(req, bad);
  if (!period) return bad;
  auto page = page_param(req, "charges", cursor_key_, bad);
  if (!page) return bad;
  auto w = months_window(period->from, period->to, settings_.time_zone);
  if (!w) return error(422, "invalid query: " + w.error().reason);
  return page_reply(req, "charges", cursor_key_, page->limit, store_.charges(w->first, w->second, *page),
                    charge_json);
}

Response Api::get_usage_report(const Request& req) {
  Response bad;
  const std::string by_text = query(req, "by").empty() ? std::string("instrument") : query(req, "by");
  auto by = report::group_by_from(by_text);
  if (!by) return error(422, "invalid query: by must be instrument|user|month");
  auto period = period_param(req, bad);
  if (!period) return bad;
  const std::string& tz = settings_.time_zone;
  // The store sums the charges (one per closed session) per group; nothing here holds more
  // than one entry per group. Months are the site's: each is its own [from, to) range.
  std::vector<report::GroupSum> groups;
  if (*by == report::GroupBy::month) {
    for (const std::string& m : report::months_of(*period)) {
      auto w = months_window(m, m, tz);
      if (!w) return error(422, "invalid query: " + w.error().reason);
      auto total = store_.usage_total(w->first, w->second);
      if (!total) return store_failure(total.error());
      if (total->sessions == 0) continue;
      total->key = m;
      total->name = m;
      groups.push_back(std::move(*total));
    }
  } else {
    auto w = months_window(period->from, period->to, tz);
    if (!w) return error(422, "invalid query: " + w.error().reason);
    auto sums = store_.usage_groups(*by, w->first, w->second);
    if (!sums) return store_failure(sums.error());
    groups = std::move(*sums);
  }
  const report::Report rep = report::from_groups(std::move(groups), *by);
  json rows = json::array();
  for (const auto& r : rep.rows) rows.push_back(row_json(r));
  const bool one_month = period->from == period->to;
  return reply(200, json{{"month", one_month ? json(period->from) : json(nullptr)},
                         {"from", period->from},
                         {"to", period->to},
                         {"by", report::to_string(*by)},
                         {"currency", settings_.currency},
                         {"time_zone", settings_.time_zone},
                         {"rows", rows},
                         {"totals", row_json(rep.totals)}});
}

Response Api::get_stats() {
  auto s = store_.stats();
  if (!s) return store_failure(s.error());
  json rejected = json::object();
  for (const auto& [reason, n] : s->rejected) rejected[reason] = n;
  return reply(200, json{{"ingest",
                          {{"batches", s->batches}, {"records", s->records}, {"duplicates", s->duplicates},
                           {"acks", s->acks}}},
                         {"rejected", rejected}});
}

}  // namespace lg::server::http
