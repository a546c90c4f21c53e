// A thin layer over libpq (PostgreSQL's C client): one connection, statements prepared once per
// connection and cached by their text, text-format parameters and results, and errors that keep
// the server's SQLSTATE so callers can tell a unique violation from a serialization failure.
// The PostgreSQL backend's stores are written against this (server/<area>/pg_store.cpp).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "labgate/common/result.hpp"

struct pg_conn;
struct pg_result;

namespace lg::pg {

/// The error category of PostgreSQL errors: the code's value is the SQLSTATE packed base 36.
const std::error_category& category();

/// Packs a five-character SQLSTATE ("40001") into an error code of category().
std::error_code make_code(std::string_view sqlstate);

/// The SQLSTATE of e ("" when e did not come from the server).
std::string sqlstate(const Error& e);

/// 23505: a unique or primary key constraint refused the row.
bool is_unique_violation(const Error& e);
/// 23P01: an exclusion constraint refused the row (e.g. overlapping bookings).
bool is_exclusion_violation(const Error& e);
/// 23503: a foreign key refused the row.
bool is_foreign_key_violation(const Error& e);
/// 40001 or 40P01: the transaction lost a race and may succeed when run again.
bool is_retryable(const Error& e);

/// One statement's result rows (text format). Moves, does not copy.
class Rows {
 public:
  Rows() = default;
  explicit Rows(pg_result* r) : r_(r) {}
  Rows(Rows&& o) noexcept : r_(o.r_) { o.r_ = nullptr; }
  Rows& operator=(Rows&& o) noexcept;
  Rows(const Rows&) = delete;
  Rows& operator=(const Rows&) = delete;
  ~Rows();

  /// Number of rows.
  int size() const;
  bool empty() const { return size() == 0; }
  /// Rows changed by an INSERT/UPDATE/DELETE.
  int64_t affected() const;
  /// True when the value at (row, col) is NULL.
  bool null(int row, int col) const;
  /// The value as text ("" for NULL).
  std::string text(int row, int col) const;
  /// The value as an integer (0 for NULL).
  int64_t i64(int row, int col) const;
  /// The value as an integer, nullopt for NULL.
  std::optional<int64_t> opt_i64(int row, int col) const;
  /// A boolean column ('t'/'f').
  bool boolean(int row, int col) const;

 private:
  pg_result* r_ = nullptr;
};

/// Parameters of one statement, all sent as text ($1, $2, ... in the order added).
class Params {
 public:
  Params& add(std::string_view v);
  Params& add(const std::string& v) { return add(std::string_view(v)); }
  Params& add(const char* v) { return add(std::string_view(v)); }
  Params& add(int64_t v);
  Params& add(uint64_t v);
  Params& add(int v) { return add(static_cast<int64_t>(v)); }
  Params& add(bool v);
  Params& add(const std::optional<int64_t>& v);
  Params& add(std::nullopt_t);
  /// Adds a text value, or NULL when it is empty.
  Params& add_or_null(std::string_view v);

  std::size_t size() const { return values_.size(); }
  const std::vector<std::string>& values() const { return values_; }
  const std::vector<bool>& nulls() const { return nulls_; }

 private:
  std::vector<std::string> values_;
  std::vector<bool> nulls_;
};

/// Connection settings beyond the libpq conninfo string.
struct ConnectOptions {
  std::string conninfo;     ///< libpq keyword/value or URI form ("postgresql://host:port/db")
  std::string schema;       ///< when set: search_path = schema (created if missing)
  std::string application;  ///< application_name the server shows in pg_stat_activity
};

/// One open connection. Not thread-safe: one per thread.
class Conn {
 public:
  /// Connects and applies the options; a clear error naming the target when it cannot.
  static Result<std::unique_ptr<Conn>> connect(const ConnectOptions& o);
  ~Conn();
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  /// Runs one statement with parameters ($1..$n), prepared on first use on this connection.
  Result<Rows> exec(std::string_view sql, const Params& p = {});
  /// exec() with the parameters given inline.
  template <typename... A>
  Result<Rows> q(std::string_view sql, const A&... a) {
    Params p;
    (p.add(a), ...);
    return exec(sql, p);
  }
  /// Runs a script of several statements without parameters (migrations, BEGIN, COMMIT).
  Status script(std::string_view sql);
  /// True inside BEGIN ... COMMIT/ROLLBACK (also after a failed statement in one).
  bool in_transaction() const;
  /// False once the server has gone away; reconnect() brings it back.
  bool ok() const;
  /// Resets the connection (after the server restarted); prepared statements are forgotten.
  Status reconnect();

 private:
  Conn(pg_conn* c, ConnectOptions o) : c_(c), opts_(std::move(o)) {}
  Status setup();

  pg_conn* c_;
  ConnectOptions opts_;
  std::unordered_map<std::string, std::string> prepared_;  ///< sql -> statement name
  uint64_t next_name_ = 0;
};

/// Quotes an identifier ("schema" -> "\"schema\""), doubling embedded quotes.
std::string quote_ident(std::string_view id);

/// A PostgreSQL array literal in text form ({"a",NULL,"b"}), built one element at a time: a whole
/// column of rows goes as one parameter ($1::text[], read back with unnest), so one statement
/// writes or looks up any number of rows. The areas' PostgreSQL stores and
/// the unit of work's lock set use it.
class ArrayLiteral {
 public:
  /// A text element (quoted, with " and \ escaped).
  ArrayLiteral& add(std::string_view v);
  /// An integer element.
  ArrayLiteral& add(int64_t v);
  /// A boolean element (t/f).
  ArrayLiteral& add(bool v);
  /// An integer element, NULL when empty.
  ArrayLiteral& add(const std::optional<int64_t>& v);
  /// A text element, NULL when empty.
  ArrayLiteral& add_or_null(std::string_view v);
  /// Elements added so far.
  std::size_t size() const { return n_; }
  /// The literal: {e1,e2,...}.
  std::string str() const { return "{" + body_ + "}"; }

 private:
  void sep();
  std::string body_;
  std::size_t n_ = 0;
};

}  // namespace lg::pg
