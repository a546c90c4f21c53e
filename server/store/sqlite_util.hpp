// Small helpers shared by the SqliteStore translation units (not part of the store interface).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "labgate/common/sqlite.hpp"
#include "server/store/store.hpp"

namespace lg::server::store_detail {

/// 0/1 for SQLite.
inline int64_t b64(bool b) { return b ? 1 : 0; }

/// Nullable integer column.
inline std::optional<int64_t> opt_int(db::Statement& r, int col) {
  if (r.column_is_null(col)) return std::nullopt;
  return r.column_int64(col);
}

/// Steps through all rows calling f(statement) for each; resets the statement afterwards.
template <typename F>
Status each_row(db::Statement& st, F&& f) {
  for (;;) {
    auto row = st.step();
    if (!row) {
      st.reset();
      return row.error();
    }
    if (!*row) break;
    f(st);
  }
  st.reset();
  return {};
}

/// True if a row with this id exists in table (table names are compile-time constants).
inline Result<bool> exists(db::Database& d, std::string_view table, const std::string& id) {
  auto q = d.prepare("SELECT 1 FROM " + std::string(table) + " WHERE id = ?");
  if (!q) return q.error();
  q->bind(1, id);
  auto row = q->step();
  if (!row) return row.error();
  return *row;
}

/// unknown_reference naming the field unless a row with this id exists.
inline Status require_ref(db::Database& d, std::string_view table, std::string_view field, const std::string& id,
                          std::string_view what) {
  auto e = exists(d, table, id);
  if (!e) return e.error();
  if (!*e) {
    return store_error(StoreErrc::unknown_reference,
                       std::string(field) + ": unknown " + std::string(what) + " '" + id + "'");
  }
  return {};
}

/// conflict unless no row with this id exists yet.
inline Status require_absent(db::Database& d, std::string_view table, const std::string& id, std::string_view what) {
  auto e = exists(d, table, id);
  if (!e) return e.error();
  if (*e) return store_error(StoreErrc::conflict, "id: " + std::string(what) + " '" + id + "' already exists");
  return {};
}

/// "a,b" <-> {"a","b"}.
inline std::string join_flags(const std::vector<std::string>& flags) {
  std::string out;
  for (const auto& f : flags) {
    if (!out.empty()) out += ',';
    out += f;
  }
  return out;
}
inline std::vector<std::string> split_flags(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < s.size()) {
    auto comma = s.find(',', start);
    if (comma == std::string::npos) comma = s.size();
    if (comma > start) out.push_back(s.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

/// ingest_counters[name] += n.
inline Status bump_counter(db::Database& d, std::string_view name, int64_t n) {
  auto st = d.prepare(
      "INSERT INTO ingest_counters(name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = value + "
      "excluded.value");
  if (!st) return st.error();
  st->bind(1, name).bind(2, n);
  return st->run();
}

/// rejections[reason] += n.
inline Status bump_rejection(db::Database& d, std::string_view reason, int64_t n) {
  auto st = d.prepare(
      "INSERT INTO rejections(reason, count) VALUES (?, ?) ON CONFLICT(reason) DO UPDATE SET count = count + "
      "excluded.count");
  if (!st) return st.error();
  st->bind(1, reason).bind(2, n);
  return st->run();
}

}  // namespace lg::server::store_detail
