// Keyset paging as SQL, for every backend: the query of one list, and the text of "the rows
// after this position" with the backend's parameter mark (SQLite ?N, PostgreSQL $N).
#pragma once

#include <string>
#include <string_view>
#include <variant>

#include "server/core/paging.hpp"

namespace lg::server {

/// How a list is read one page at a time (keyset paging).
struct Keyset {
  /// "SELECT <row columns>, <key columns> FROM ... WHERE <filters or 1>"; the key columns come
  /// last, in sort order, starting at column key_col. Filter parameters are numbered from 1.
  std::string_view select;
  int key_col;
  /// The key as a row value, e.g. "(c.end_ms, c.id)".
  std::string_view key;
  /// "i" (integer) or "s" (text) per key part.
  std::string_view shape;
  bool descending;
  /// The ORDER BY clause matching key and direction.
  std::string_view order;
  /// Number of the first parameter after the filter parameters.
  int first_param = 1;
};

/// True when the position has the list's number and kinds of parts.
inline bool fits(const PageKey& k, std::string_view shape) {
  if (k.size() != shape.size()) return false;
  for (std::size_t i = 0; i < k.size(); ++i) {
    const bool is_int = std::holds_alternative<int64_t>(k[i]);
    if (is_int != (shape[i] == 'i')) return false;
  }
  return true;
}

/// The statement of one page and the number of its LIMIT parameter.
struct KeysetSql {
  std::string sql;
  int limit_param;
};

/// q's select, with "AND key > (position)" when reading after a position, its order and a
/// LIMIT; parameters marked with mark ('?' or '$') and numbered after the filters.
inline KeysetSql keyset_sql(const Keyset& q, bool after, char mark) {
  std::string sql(q.select);
  const int n = q.first_param;
  if (after) {
    sql += " AND " + std::string(q.key) + (q.descending ? " < (" : " > (");
    for (std::size_t i = 0; i < q.shape.size(); ++i) {
      sql += i ? ", " : "";
      sql += mark + std::to_string(n + static_cast<int>(i));
    }
    sql += ")";
  }
  const int limit_param = after ? n + static_cast<int>(q.shape.size()) : n;
  sql += " " + std::string(q.order) + " LIMIT " + mark + std::to_string(limit_param);
  return {std::move(sql), limit_param};
}

/// A list sorted by its text id (column 0, named `id`) ascending.
constexpr Keyset by_id(std::string_view select) { return Keyset{select, 0, "(id)", "s", false, "ORDER BY id"}; }

}  // namespace lg::server
