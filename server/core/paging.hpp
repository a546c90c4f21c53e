// Keyset paging shared by every list: plain values, so any backend can compare them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "labgate/common/defaults.hpp"

namespace lg::server {

/// One part of a keyset position: an integer (a time, a sequence number) or a text (an id).
using KeyPart = std::variant<int64_t, std::string>;

/// A position in a list's order: the sort key of one row, its parts in the order the list is
/// sorted by (each query names them).
using PageKey = std::vector<KeyPart>;

/// At most `limit` rows strictly after `after` in the list's order, or from the first row when
/// `after` is empty. A position that does not fit the list (wrong number or kinds of parts) is
/// Errc::bad_position.
struct Page {
  PageKey after;
  int64_t limit = defaults::kPageSize;
};

/// One page of a list: its rows and, when more rows follow, the key of the last row (pass it as
/// Page::after to read on). Iterates like its rows.
template <typename T>
struct PageOf {
  std::vector<T> rows;
  PageKey next;  ///< empty: this is the last page

  bool more() const { return !next.empty(); }
  std::size_t size() const { return rows.size(); }
  bool empty() const { return rows.empty(); }
  const T& front() const { return rows.front(); }
  const T& back() const { return rows.back(); }
  const T& operator[](std::size_t i) const { return rows[i]; }
  auto begin() const { return rows.begin(); }
  auto end() const { return rows.end(); }
};

}  // namespace lg::server
