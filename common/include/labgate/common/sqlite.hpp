// SQLite wrapper: RAII connection and statements, transactions, busy handling, and a
// numbered-migration runner shared by terminal and server.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

#include "labgate/common/result.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace lg::db {

/// Error category carrying SQLite's primary result codes (SQLITE_BUSY, SQLITE_CONSTRAINT, ...).
const std::error_category& sqlite_category();

/// True if the error is a SQLite constraint violation (UNIQUE, CHECK, FOREIGN KEY...).
bool is_constraint(const Error& e);

enum class Sync { off, normal, full };

struct Options {
  bool wal = true;                 ///< journal_mode=WAL
  Sync synchronous = Sync::full;   ///< FULL: every commit is fsynced (terminal outbox, server ingest)
  int busy_timeout_ms = 5000;      ///< wait this long for another writer before SQLITE_BUSY
  bool foreign_keys = true;
  bool read_only = false;
  /// Permissions of a database file this call creates (its -wal and -shm files follow them).
  /// An existing file that others may read is tightened to drop the "other" bits. Records hold
  /// card numbers and names: nobody but the service (and its group, with 0640) reads them.
  unsigned file_mode = 0600;
  /// Page cache of this connection in KiB (SQLite's own default is 2,000 KiB). It only fills as
  /// pages are read, so an idle connection costs nothing.
  int cache_kib = 2000;
};

class Database;
struct StatementCache;  // idle prepared statements of one connection (sqlite.cpp)

/// A prepared statement. Bind indices are 1-based, column indices 0-based.
class Statement {
 public:
  Statement() = default;
  ~Statement();
  Statement(Statement&&) noexcept;
  Statement& operator=(Statement&&) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  /// Binds a 64-bit integer.
  Statement& bind(int index, int64_t value);
  /// Binds text (copied).
  Statement& bind(int index, std::string_view value);
  /// Binds text from a C string (copied).
  Statement& bind(int index, const char* value) { return bind(index, std::string_view(value)); }
  /// Binds a double (never used for money).
  Statement& bind(int index, double value);
  /// Binds NULL.
  Statement& bind_null(int index);
  /// Binds an optional integer (NULL when empty).
  Statement& bind(int index, std::optional<int64_t> value);

  /// Steps once. true = a row is available, false = done; error on failure.
  Result<bool> step();
  /// Steps to completion, ignoring rows (for INSERT/UPDATE/DELETE). Resets afterwards.
  Status run();
  /// Resets the statement and clears bindings so it can be reused.
  void reset();

  int64_t column_int64(int col) const;
  std::string column_text(int col) const;
  double column_double(int col) const;
  bool column_is_null(int col) const;
  int column_count() const;
  std::string column_name(int col) const;

 private:
  friend class Database;
  Statement(sqlite3_stmt* s, sqlite3* db, std::shared_ptr<StatementCache> cache)
      : stmt_(s), db_(db), cache_(std::move(cache)) {}
  void release();
  sqlite3_stmt* stmt_ = nullptr;
  sqlite3* db_ = nullptr;
  std::shared_ptr<StatementCache> cache_;  // where the compiled statement goes back when this one dies
  Status bind_error_;  // first bind failure, reported by step/run
};

/// One connection. Not thread-safe: use one per thread.
class Database {
 public:
  Database() = default;
  ~Database();
  Database(Database&&) noexcept;
  Database& operator=(Database&&) noexcept;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  /// Opens (creating if needed) the database at path with the given options.
  static Result<Database> open(const std::string& path, const Options& opts = {});

  /// Executes one or more statements with no parameters.
  Status exec(std::string_view sql);
  /// Prepares one statement. Compiled statements are kept per connection and reused when the
  /// same SQL text is prepared again, so preparing in a hot path costs a lookup, not a compile.
  Result<Statement> prepare(std::string_view sql);
  /// Runs a query expected to yield one integer (e.g. SELECT count(*)); nullopt when no row.
  Result<std::optional<int64_t>> query_int(std::string_view sql);

  int64_t last_insert_rowid() const;
  int changes() const;
  /// True while a transaction is open on this connection (BEGIN without COMMIT/ROLLBACK yet).
  bool in_transaction() const;
  sqlite3* handle() const { return db_; }
  const std::string& path() const { return path_; }

 private:
  sqlite3* db_ = nullptr;
  std::string path_;
  std::shared_ptr<StatementCache> cache_;
};

enum class TxKind { deferred, immediate };

/// RAII transaction: BEGIN on construction, ROLLBACK on destruction unless commit() succeeded.
/// Use TxKind::immediate for check-then-write sequences (booking overlap checks, ingest).
class Transaction {
 public:
  /// Begins a transaction; check status() before using.
  Transaction(Database& db, TxKind kind = TxKind::immediate);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  /// Result of BEGIN.
  const Status& status() const { return begin_; }
  /// COMMIT; after success the destructor does nothing.
  Status commit();

 private:
  Database& db_;
  Status begin_;
  bool active_ = false;
};

/// One numbered schema step. Versions start at 1 and increase by one.
struct Migration {
  int version;
  std::string_view name;
  std::string_view sql;
};

/// Applies every migration whose version is above PRAGMA user_version, each in its own
/// transaction together with the user_version bump. Refuses a database newer than the code.
Status migrate(Database& db, std::span<const Migration> migrations);

/// Current PRAGMA user_version.
Result<int> schema_version(Database& db);

}  // namespace lg::db
