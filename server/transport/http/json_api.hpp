// What every area's routes share: JSON replies, the body field reader, paging parameters and
// cursors, the failure mapping, and how times are shown. Included by the areas' http.cpp files
// only (it brings nlohmann/json).
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

#include "labgate/common/json.hpp"
#include "labgate/common/protocol.hpp"
#include "labgate/common/result.hpp"
#include "labgate/common/time.hpp"
#include "server/core/dirty.hpp"
#include "server/core/errors.hpp"
#include "server/core/paging.hpp"
#include "server/transport/http/request.hpp"
#include "server/transport/http/router.hpp"

namespace lg::server::http {

using nlohmann::json;

/// What handlers of every area share: settings, the clock, the cursor key, the dirty set.
struct ApiContext {
  std::string site;
  std::string version;
  std::string time_zone;
  std::string currency;
  std::string cursor_key;             ///< HMAC key of page cursors
  std::function<int64_t()> now;       ///< UTC milliseconds
  DirtySet* dirty = nullptr;          ///< write paths mark what changed (may be null in tests)
  PlaceFinder places;                 ///< where objects sit in the tree (rights of list rows)

  /// True when the caller holds right r over every object listed (kind, id) taken together (their
  /// places joined: a session is both its instrument's and its user's); a site-wide grant needs no
  /// lookup; an unknown object counts as out of scope.
  bool may(const Request& req, identity::Right r,
           std::initializer_list<std::pair<identity::Kind, std::string_view>> objects) const;

  /// An instant as people see it: RFC 3339 in the site zone with its offset.
  std::string time(int64_t utc_ms) const;
  /// time(), or null.
  json time_or_null(const std::optional<int64_t>& utc_ms) const;
  /// Marks a resource's bundle inputs changed.
  void changed(const std::string& resource) const {
    if (dirty) dirty->mark(resource);
  }
  /// Marks every bundle changed.
  void changed_all() const {
    if (dirty) dirty->mark_all();
  }
};

/// A JSON reply.
Response reply(int status, const json& body);
/// {"error": reason}.
Response error(int status, const std::string& reason);
/// The status of a domain error (core/errors.hpp's table) with its reason; 500 hides nothing
/// but says "internal error".
Response failure(const Error& e);
/// null for an absent integer.
json int_or_null(const std::optional<int64_t>& v);
/// The value of ?key= ("" when absent).
std::string query(const Request& req, const char* key);

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
std::optional<json> parse_body(const Request& req, Response& resp);

/// ?limit= and ?cursor= of a request for `list`; nullopt with resp set (422) when invalid.
std::optional<Page> page_param(const Request& req, std::string_view list, const ApiContext& ctx, Response& resp);
/// The opaque cursor of a position in `list`.
std::string make_cursor(const std::string& key, std::string_view list, const PageKey& k);
/// The Link header value of the page after this one.
std::string next_link(const Request& req, int64_t limit, const std::string& cursor);

/// 200 with the page's rows as a JSON array, and a Link to the next page when more follow. A row
/// whose to_json is null is left out (the caller may not see it): a page may then hold fewer
/// rows than the limit, and its Link still leads on.
template <typename T, typename ToJson>
Response page_reply(const Request& req, std::string_view list, const ApiContext& ctx, int64_t limit,
                    const Result<PageOf<T>>& page, ToJson&& to_json) {
  if (!page) {
    if (is(page.error(), Errc::bad_position)) return error(422, "invalid query: " + page.error().reason);
    return failure(page.error());
  }
  json arr = json::array();
  for (const auto& row : *page) {
    json j = to_json(row);
    if (!j.is_null()) arr.push_back(std::move(j));  // null: a row the caller may not see
  }
  Response r = reply(200, arr);
  if (page->more()) r.headers.emplace_back("Link", next_link(req, limit, make_cursor(ctx.cursor_key, list, page->next)));
  return r;
}

/// The route of a GET list without filters: ?limit=&cursor= in, one page of read(page) out, each
/// row through to_json, Link to the next page. The route needs the admin token.
template <typename T, typename Read, typename ToJson>
Route list_route(std::string path, std::string list, const ApiContext& ctx, Read read, ToJson to_json) {
  return Route{"GET", std::move(path), Permission::admin,
               [&ctx, list = std::move(list), read, to_json](const Request& req, const PathParams&) {
                 Response bad;
                 auto page = page_param(req, list, ctx, bad);
                 if (!page) return bad;
                 return page_reply<T>(req, list, ctx, page->limit, read(*page), to_json);
               }};
}

/// list_route with the access the list needs (Access::any: to_json returns null for a row the
/// caller may not see).
template <typename T, typename Read, typename ToJson>
Route list_route(std::string path, std::string list, const ApiContext& ctx, Access access, Read read, ToJson to_json) {
  Route r = list_route<T>(std::move(path), std::move(list), ctx, std::move(read), std::move(to_json));
  r.access = std::move(access);
  return r;
}

}  // namespace lg::server::http
