#include "labgate/common/sqlite.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <unordered_map>

namespace lg::db {

/// Idle compiled statements of one connection, keyed by SQL text. Bounded so that dynamically
/// built SQL cannot make it grow without limit.
struct StatementCache {
  static constexpr std::size_t kMaxIdle = 128;
  std::unordered_multimap<std::string, sqlite3_stmt*> idle;
  bool open = true;

  sqlite3_stmt* take(std::string_view sql) {
    auto it = idle.find(std::string(sql));
    if (it == idle.end()) return nullptr;
    sqlite3_stmt* s = it->second;
    idle.erase(it);
    return s;
  }
  void put(sqlite3_stmt* s) {
    if (!open || idle.size() >= kMaxIdle) {
      sqlite3_finalize(s);
      return;
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    idle.emplace(sqlite3_sql(s), s);
  }
  void clear() {
    for (auto& [sql, s] : idle) sqlite3_finalize(s);
    idle.clear();
  }
  ~StatementCache() { clear(); }
};
namespace {

class SqliteCategory : public std::error_category {
 public:
  const char* name() const noexcept override { return "sqlite"; }
  std::string message(int code) const override { return sqlite3_errstr(code); }
};

Error make_error(int rc, sqlite3* db, std::string_view what) {
  std::string reason(what);
  if (db != nullptr) {
    reason += ": ";
    reason += sqlite3_errmsg(db);
  }
  return Error{std::error_code(rc & 0xff, sqlite_category()), std::move(reason)};
}

}  // namespace

const std::error_category& sqlite_category() {
  static SqliteCategory cat;
  return cat;
}

bool is_constraint(const Error& e) {
  return e.code.category() == sqlite_category() && e.code.value() == SQLITE_CONSTRAINT;
}

// ------------------------------------------------------------------ Statement

void Statement::release() {
  if (stmt_ == nullptr) return;
  if (cache_) cache_->put(stmt_);
  else sqlite3_finalize(stmt_);
  stmt_ = nullptr;
}

Statement::~Statement() { release(); }

Statement::Statement(Statement&& o) noexcept
    : stmt_(o.stmt_), db_(o.db_), cache_(std::move(o.cache_)), bind_error_(std::move(o.bind_error_)) {
  o.stmt_ = nullptr;
}

Statement& Statement::operator=(Statement&& o) noexcept {
  if (this != &o) {
    release();
    stmt_ = o.stmt_;
    db_ = o.db_;
    cache_ = std::move(o.cache_);
    bind_error_ = std::move(o.bind_error_);
    o.stmt_ = nullptr;
  }
  return *this;
}

#define LG_BIND(call)                                                         \
  do {                                                                        \
    const int rc_ = (call);                                                   \
    if (rc_ != SQLITE_OK && bind_error_.ok()) bind_error_ = make_error(rc_, db_, "bind"); \
  } while (0)

Statement& Statement::bind(int index, int64_t value) {
  LG_BIND(sqlite3_bind_int64(stmt_, index, value));
  return *this;
}

Statement& Statement::bind(int index, std::string_view value) {
  LG_BIND(sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
  return *this;
}

Statement& Statement::bind(int index, double value) {
  LG_BIND(sqlite3_bind_double(stmt_, index, value));
  return *this;
}

Statement& Statement::bind_null(int index) {
  LG_BIND(sqlite3_bind_null(stmt_, index));
  return *this;
}

Statement& Statement::bind(int index, std::optional<int64_t> value) {
  return value ? bind(index, *value) : bind_null(index);
}
#undef LG_BIND

Result<bool> Statement::step() {
  if (stmt_ == nullptr) return Error::invalid("step on an empty statement");
  if (!bind_error_.ok()) return bind_error_.error();
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  // sqlite3_step's extended result is in rc; errmsg names the constraint.
  Error e = make_error(rc, db_, "step");
  sqlite3_reset(stmt_);
  return e;
}

Status Statement::run() {
  for (;;) {
    auto r = step();
    if (!r) {
      reset();
      return r.error();
    }
    if (!*r) break;
  }
  reset();
  return {};
}

void Statement::reset() {
  if (stmt_ == nullptr) return;
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  bind_error_ = Status{};
}

int64_t Statement::column_int64(int col) const { return sqlite3_column_int64(stmt_, col); }

std::string Statement::column_text(int col) const {
  const auto* p = sqlite3_column_text(stmt_, col);
  if (p == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)));
}

double Statement::column_double(int col) const { return sqlite3_column_double(stmt_, col); }
bool Statement::column_is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
int Statement::column_count() const { return sqlite3_column_count(stmt_); }
std::string Statement::column_name(int col) const {
  const char* n = sqlite3_column_name(stmt_, col);
  return n ? n : "";
}

// ------------------------------------------------------------------ Database

namespace {
void close_connection(sqlite3* db, const std::shared_ptr<StatementCache>& cache) {
  if (cache) {
    cache->open = false;  // statements still alive finalize themselves
    cache->clear();
  }
  if (db != nullptr) sqlite3_close_v2(db);
}
}  // namespace

Database::~Database() { close_connection(db_, cache_); }

Database::Database(Database&& o) noexcept : db_(o.db_), path_(std::move(o.path_)), cache_(std::move(o.cache_)) {
  o.db_ = nullptr;
}

Database& Database::operator=(Database&& o) noexcept {
  if (this != &o) {
    close_connection(db_, cache_);
    db_ = o.db_;
    path_ = std::move(o.path_);
    cache_ = std::move(o.cache_);
    o.db_ = nullptr;
  }
  return *this;
}

namespace {
/// Creates path with mode if it does not exist; drops "other" permissions from an existing
/// database file and its -wal/-shm companions. In-memory and temporary databases are left alone.
Status protect_files(const std::string& path, unsigned mode) {
  if (path.empty() || path == ":memory:" || path.rfind("file:", 0) == 0) return {};
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, static_cast<mode_t>(mode));
  if (fd >= 0) {
    // umask may have taken bits away, never added them; make the mode exactly what was asked.
    (void)::fchmod(fd, static_cast<mode_t>(mode));
    ::close(fd);
    return {};
  }
  if (errno != EEXIST) {
    return Error::from(std::error_code(errno, std::generic_category()), "cannot create database " + path);
  }
  for (const char* suffix : {"", "-wal", "-shm"}) {
    const std::string f = path + suffix;
    struct stat st {};
    if (::stat(f.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if ((st.st_mode & S_IRWXO) != 0) (void)::chmod(f.c_str(), st.st_mode & 07770 & ~static_cast<mode_t>(S_IRWXO));
  }
  return {};
}
}  // namespace

Result<Database> Database::open(const std::string& path, const Options& opts) {
  if (!opts.read_only) LG_TRY(protect_files(path, opts.file_mode));
  Database d;
  d.path_ = path;
  d.cache_ = std::make_shared<StatementCache>();
  const int flags = (opts.read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)) |
                    SQLITE_OPEN_NOMUTEX;
  const int rc = sqlite3_open_v2(path.c_str(), &d.db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    Error e = make_error(rc, d.db_, "cannot open database " + path);
    return e;
  }
  sqlite3_extended_result_codes(d.db_, 1);
  sqlite3_busy_timeout(d.db_, opts.busy_timeout_ms);
  std::string pragmas;
  if (opts.wal && !opts.read_only) pragmas += "PRAGMA journal_mode=WAL;";
  switch (opts.synchronous) {
    case Sync::off: pragmas += "PRAGMA synchronous=OFF;"; break;
    case Sync::normal: pragmas += "PRAGMA synchronous=NORMAL;"; break;
    case Sync::full: pragmas += "PRAGMA synchronous=FULL;"; break;
  }
  pragmas += opts.foreign_keys ? "PRAGMA foreign_keys=ON;" : "PRAGMA foreign_keys=OFF;";
  pragmas += "PRAGMA cache_size=-" + std::to_string(opts.cache_kib) + ";";
  if (auto s = d.exec(pragmas); !s) return Error{s.error().code, "cannot configure " + path + ": " + s.error().reason};
  return d;
}

Status Database::exec(std::string_view sql) {
  std::string text(sql);
  char* msg = nullptr;
  const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &msg);
  if (rc != SQLITE_OK) {
    std::string reason = msg ? msg : sqlite3_errstr(rc);
    sqlite3_free(msg);
    return Error{std::error_code(rc & 0xff, sqlite_category()), std::move(reason)};
  }
  return {};
}

Result<Statement> Database::prepare(std::string_view sql) {
  if (cache_) {
    if (sqlite3_stmt* cached = cache_->take(sql)) return Statement(cached, db_, cache_);
  }
  sqlite3_stmt* s = nullptr;
  const int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &s, nullptr);
  if (rc != SQLITE_OK) return make_error(rc, db_, "prepare '" + std::string(sql.substr(0, 60)) + "'");
  return Statement(s, db_, cache_);
}

Result<std::optional<int64_t>> Database::query_int(std::string_view sql) {
  auto st = prepare(sql);
  if (!st) return st.error();
  auto row = st->step();
  if (!row) return row.error();
  if (!*row || st->column_is_null(0)) return std::optional<int64_t>{};
  return std::optional<int64_t>{st->column_int64(0)};
}

int64_t Database::last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }
bool Database::in_transaction() const { return db_ != nullptr && sqlite3_get_autocommit(db_) == 0; }

int Database::changes() const { return sqlite3_changes(db_); }

// ------------------------------------------------------------------ Transaction

Transaction::Transaction(Database& db, TxKind kind) : db_(db) {
  begin_ = db_.exec(kind == TxKind::immediate ? "BEGIN IMMEDIATE" : "BEGIN");
  active_ = begin_.ok();
}

Transaction::~Transaction() {
  if (active_) (void)db_.exec("ROLLBACK");
}

Status Transaction::commit() {
  if (!active_) return begin_.ok() ? Status(Error::invalid("transaction already finished")) : begin_;
  Status s = db_.exec("COMMIT");
  if (s.ok()) active_ = false;
  return s;
}

// ------------------------------------------------------------------ migrations

Result<int> schema_version(Database& db) {
  auto v = db.query_int("PRAGMA user_version");
  if (!v) return v.error();
  return static_cast<int>(v->value_or(0));
}

Status migrate(Database& db, std::span<const Migration> migrations) {
  auto current = schema_version(db);
  if (!current) return current.error();
  int expected = 1;
  for (const auto& m : migrations) {
    if (m.version != expected) return Error::invalid("migrations must be numbered 1, 2, 3...; found " + std::to_string(m.version));
    ++expected;
  }
  const int latest = expected - 1;
  if (*current > latest)
    return Error::invalid("database " + db.path() + " has schema version " + std::to_string(*current) +
                          ", newer than this program's " + std::to_string(latest));
  for (const auto& m : migrations) {
    if (m.version <= *current) continue;
    Transaction tx(db, TxKind::immediate);
    if (!tx.status()) return tx.status();
    if (auto s = db.exec(m.sql); !s)
      return Error{s.error().code, "migration " + std::to_string(m.version) + " (" + std::string(m.name) + "): " + s.error().reason};
    if (auto s = db.exec("PRAGMA user_version=" + std::to_string(m.version)); !s) return s;
    if (auto s = tx.commit(); !s) return s;
  }
  return {};
}

}  // namespace lg::db
