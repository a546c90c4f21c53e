// Helpers shared by the areas' SQLite stores (not part of any store interface): row reading,
// reference checks, flags, keyset paging.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "labgate/common/sqlite.hpp"
#include <algorithm>
#include <limits>
#include <variant>

#include "server/core/errors.hpp"
#include "server/core/flags.hpp"
#include "server/core/keyset.hpp"
#include "server/core/paging.hpp"

namespace lg::server::sqlite {

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
    return domain_error(Errc::unknown_reference,
                       std::string(field) + ": unknown " + std::string(what) + " '" + id + "'");
  }
  return {};
}

/// conflict unless no row with this id exists yet.
inline Status require_absent(db::Database& d, std::string_view table, const std::string& id, std::string_view what) {
  auto e = exists(d, table, id);
  if (!e) return e.error();
  if (*e) return domain_error(Errc::conflict, "id: " + std::string(what) + " '" + id + "' already exists");
  return {};
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


inline PageKey key_of(db::Statement& r, const Keyset& q) {
  PageKey k;
  k.reserve(q.shape.size());
  for (std::size_t i = 0; i < q.shape.size(); ++i) {
    const int col = q.key_col + static_cast<int>(i);
    if (q.shape[i] == 'i') k.emplace_back(r.column_int64(col));
    else k.emplace_back(r.column_text(col));
  }
  return k;
}

/// Reads rows of q strictly after p.after (in q's order), at most p.limit, and the key of the
/// last one when more follow. bind_filters binds ?1.. of the select.
template <typename T, typename Bind, typename Make>
Result<PageOf<T>> read_page(db::Database& d, const Keyset& q, const Page& p, Bind&& bind_filters, Make&& make) {
  if (p.limit < 1) return Error::invalid("page limit must be at least 1");
  const bool after = !p.after.empty();
  if (after && !fits(p.after, q.shape)) {
    return domain_error(Errc::bad_position, "cursor: the position does not fit this list");
  }
  int n = q.first_param;
  const KeysetSql k = keyset_sql(q, after, '?');
  const std::string& sql = k.sql;
  const int limit_param = k.limit_param;
  auto st = d.prepare(sql);
  if (!st) return st.error();
  bind_filters(*st);
  if (after) {
    for (const auto& part : p.after) {
      if (const auto* i = std::get_if<int64_t>(&part)) st->bind(n++, *i);
      else st->bind(n++, std::get<std::string>(part));
    }
  }
  const int64_t limit = std::min<int64_t>(p.limit, std::numeric_limits<int64_t>::max() - 1);
  st->bind(limit_param, limit + 1);
  PageOf<T> out;
  out.rows.reserve(static_cast<std::size_t>(std::min<int64_t>(limit, 1024)));
  PageKey last;
  bool more = false;
  for (;;) {
    auto row = st->step();
    if (!row) {
      st->reset();
      return row.error();
    }
    if (!*row) break;
    if (static_cast<int64_t>(out.rows.size()) == limit) {
      more = true;
      break;
    }
    out.rows.push_back(make(*st));
    last = key_of(*st, q);
  }
  st->reset();
  if (more) out.next = std::move(last);
  return out;
}

/// read_page for a list without filter parameters.
template <typename T, typename Make>
Result<PageOf<T>> read_all_page(db::Database& d, const Keyset& q, const Page& p, Make&& make) {
  return read_page<T>(d, q, p, [](db::Statement&) {}, std::forward<Make>(make));
}


}  // namespace lg::server::sqlite
