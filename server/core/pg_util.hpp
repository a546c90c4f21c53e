// Helpers shared by the areas' PostgreSQL stores (not part of any store interface): reference
// checks and keyset paging over lg::pg.
#pragma once

#include <algorithm>
#include <limits>
#include <string>
#include <string_view>

#include "server/core/errors.hpp"
#include "server/core/flags.hpp"
#include "server/core/keyset.hpp"
#include "server/core/pg.hpp"

namespace lg::server::pgsql {

/// The outcome of a statement whose rows are not needed.
inline Status done(const Result<pg::Rows>& r) {
  if (!r) return r.error();
  return {};
}

/// True if a row with this id exists in table (table names are compile-time constants).
inline Result<bool> exists(pg::Conn& c, std::string_view table, const std::string& id) {
  auto r = c.q("SELECT 1 FROM " + std::string(table) + " WHERE id = $1", id);
  if (!r) return r.error();
  return !r->empty();
}

/// unknown_reference naming the field unless a row with this id exists.
inline Status require_ref(pg::Conn& c, std::string_view table, std::string_view field, const std::string& id,
                          std::string_view what) {
  auto e = exists(c, table, id);
  if (!e) return e.error();
  if (!*e) {
    return domain_error(Errc::unknown_reference,
                        std::string(field) + ": unknown " + std::string(what) + " '" + id + "'");
  }
  return {};
}

/// conflict unless no row with this id exists yet.
inline Status require_absent(pg::Conn& c, std::string_view table, const std::string& id, std::string_view what) {
  auto e = exists(c, table, id);
  if (!e) return e.error();
  if (*e) return domain_error(Errc::conflict, "id: " + std::string(what) + " '" + id + "' already exists");
  return {};
}

/// The key of row i as q reads it.
inline PageKey key_of(const pg::Rows& r, int i, const Keyset& q) {
  PageKey k;
  k.reserve(q.shape.size());
  for (std::size_t j = 0; j < q.shape.size(); ++j) {
    const int col = q.key_col + static_cast<int>(j);
    if (q.shape[j] == 'i') k.emplace_back(r.i64(i, col));
    else k.emplace_back(r.text(i, col));
  }
  return k;
}

/// Reads rows of q strictly after p.after (in q's order), at most p.limit, and the key of the
/// last one when more follow. filters holds $1.. of the select; make(rows, i) builds one row.
template <typename T, typename Make>
Result<PageOf<T>> read_page(pg::Conn& c, const Keyset& q, const Page& p, pg::Params filters, Make&& make) {
  if (p.limit < 1) return Error::invalid("page limit must be at least 1");
  const bool after = !p.after.empty();
  if (after && !fits(p.after, q.shape)) {
    return domain_error(Errc::bad_position, "cursor: the position does not fit this list");
  }
  const KeysetSql k = keyset_sql(q, after, '$');
  if (after) {
    for (const auto& part : p.after) {
      if (const auto* i = std::get_if<int64_t>(&part)) filters.add(*i);
      else filters.add(std::get<std::string>(part));
    }
  }
  const int64_t limit = std::min<int64_t>(p.limit, std::numeric_limits<int64_t>::max() - 1);
  filters.add(limit + 1);
  auto r = c.exec(k.sql, filters);
  if (!r) return r.error();
  PageOf<T> out;
  const int n = static_cast<int>(std::min<int64_t>(r->size(), limit));
  out.rows.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) out.rows.push_back(make(*r, i));
  if (r->size() > limit && n > 0) out.next = key_of(*r, n - 1, q);
  return out;
}

/// read_page for a list without filter parameters.
template <typename T, typename Make>
Result<PageOf<T>> read_all_page(pg::Conn& c, const Keyset& q, const Page& p, Make&& make) {
  return read_page<T>(c, q, p, pg::Params{}, std::forward<Make>(make));
}

}  // namespace lg::server::pgsql
