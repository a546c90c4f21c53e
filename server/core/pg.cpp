#include "server/core/pg.hpp"

#include <libpq-fe.h>

#include <charconv>
#include <cstring>

namespace lg::pg {

namespace {

constexpr std::string_view kDigits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

class Category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "postgres"; }
  std::string message(int v) const override { return "SQLSTATE " + unpack(v); }

  static std::string unpack(int v) {
    std::string s(5, '0');
    for (int i = 4; i >= 0; --i) {
      s[static_cast<std::size_t>(i)] = kDigits[static_cast<std::size_t>(v % 36)];
      v /= 36;
    }
    return s;
  }
};

const Category kCategory;

int pack(std::string_view state) {
  int v = 0;
  for (std::size_t i = 0; i < 5; ++i) {
    const char c = i < state.size() ? state[i] : '0';
    const auto d = kDigits.find(c);
    v = v * 36 + static_cast<int>(d == std::string_view::npos ? 0 : d);
  }
  return v;
}

/// The error of a failed result (or of the connection when there is no result).
Error error_of(pg_conn* c, const PGresult* r, std::string_view sql) {
  std::string state;
  std::string msg;
  if (r) {
    if (const char* s = PQresultErrorField(r, PG_DIAG_SQLSTATE)) state = s;
    if (const char* m = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY)) msg = m;
    if (const char* d = PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL)) msg += std::string(" (") + d + ")";
  }
  if (msg.empty()) {
    msg = PQerrorMessage(c);
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  }
  if (state.empty() && PQstatus(c) != CONNECTION_OK) state = "08006";  // connection failure
  std::string where(sql.substr(0, 60));
  for (auto& ch : where) {
    if (ch == '\n') ch = ' ';
  }
  return Error{state.empty() ? std::make_error_code(std::errc::io_error) : make_code(state),
               "postgres: " + msg + (where.empty() ? "" : " [" + where + (sql.size() > 60 ? "...]" : "]"))};
}

bool has_state(const Error& e, std::string_view state) {
  return e.code.category() == kCategory && e.code.value() == pack(state);
}

}  // namespace

const std::error_category& category() { return kCategory; }

std::error_code make_code(std::string_view sqlstate) { return std::error_code(pack(sqlstate), kCategory); }

std::string sqlstate(const Error& e) {
  if (e.code.category() != kCategory) return "";
  return Category::unpack(e.code.value());
}

bool is_unique_violation(const Error& e) { return has_state(e, "23505"); }
bool is_exclusion_violation(const Error& e) { return has_state(e, "23P01"); }
bool is_foreign_key_violation(const Error& e) { return has_state(e, "23503"); }
bool is_retryable(const Error& e) { return has_state(e, "40001") || has_state(e, "40P01"); }

// --- Rows ---------------------------------------------------------------------------------------

Rows& Rows::operator=(Rows&& o) noexcept {
  if (this != &o) {
    if (r_) PQclear(r_);
    r_ = o.r_;
    o.r_ = nullptr;
  }
  return *this;
}

Rows::~Rows() {
  if (r_) PQclear(r_);
}

int Rows::size() const { return r_ ? PQntuples(r_) : 0; }

int64_t Rows::affected() const {
  if (!r_) return 0;
  const char* n = PQcmdTuples(r_);
  int64_t v = 0;
  if (n && *n) std::from_chars(n, n + std::strlen(n), v);
  return v;
}

bool Rows::null(int row, int col) const { return PQgetisnull(r_, row, col) != 0; }

std::string Rows::text(int row, int col) const {
  if (null(row, col)) return {};
  return std::string(PQgetvalue(r_, row, col), static_cast<std::size_t>(PQgetlength(r_, row, col)));
}

int64_t Rows::i64(int row, int col) const {
  if (null(row, col)) return 0;
  const char* v = PQgetvalue(r_, row, col);
  int64_t out = 0;
  std::from_chars(v, v + PQgetlength(r_, row, col), out);
  return out;
}

std::optional<int64_t> Rows::opt_i64(int row, int col) const {
  if (null(row, col)) return std::nullopt;
  return i64(row, col);
}

bool Rows::boolean(int row, int col) const {
  if (null(row, col)) return false;
  const char c = PQgetvalue(r_, row, col)[0];
  return c == 't' || c == '1';
}

// --- Params -------------------------------------------------------------------------------------

Params& Params::add(std::string_view v) {
  values_.emplace_back(v);
  nulls_.push_back(false);
  return *this;
}
Params& Params::add(int64_t v) { return add(std::string_view(std::to_string(v))); }
Params& Params::add(uint64_t v) { return add(std::string_view(std::to_string(v))); }
Params& Params::add(bool v) { return add(std::string_view(v ? "t" : "f")); }
Params& Params::add(const std::optional<int64_t>& v) {
  if (v) return add(*v);
  return add(std::nullopt);
}
Params& Params::add(std::nullopt_t) {
  values_.emplace_back();
  nulls_.push_back(true);
  return *this;
}
Params& Params::add_or_null(std::string_view v) {
  if (v.empty()) return add(std::nullopt);
  return add(v);
}

// --- Conn ---------------------------------------------------------------------------------------

std::string quote_ident(std::string_view id) {
  std::string out = "\"";
  for (char c : id) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

Result<std::unique_ptr<Conn>> Conn::connect(const ConnectOptions& o) {
  pg_conn* c = PQconnectdb(o.conninfo.c_str());
  if (!c) return Error::invalid("postgres: out of memory connecting");
  if (PQstatus(c) != CONNECTION_OK) {
    std::string msg = PQerrorMessage(c);
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    PQfinish(c);
    return Error{make_code("08001"), "postgres: cannot connect (" + msg + ")"};
  }
  std::unique_ptr<Conn> out(new Conn(c, o));
  LG_TRY(out->setup());
  return out;
}

Status Conn::setup() {
  PQsetNoticeProcessor(c_, [](void*, const char*) {}, nullptr);  // NOTICEs are not for operators
  std::string s = "SET client_min_messages = warning; SET TIME ZONE 'UTC';";
  if (!opts_.application.empty()) s += " SET application_name = '" + opts_.application + "';";
  if (!opts_.schema.empty()) {
    s += " CREATE SCHEMA IF NOT EXISTS " + quote_ident(opts_.schema) + "; SET search_path = " +
         quote_ident(opts_.schema) + ", public;";
  }
  return script(s);
}

Conn::~Conn() {
  if (c_) PQfinish(c_);
}

bool Conn::ok() const { return PQstatus(c_) == CONNECTION_OK; }

bool Conn::in_transaction() const {
  const auto s = PQtransactionStatus(c_);
  return s == PQTRANS_INTRANS || s == PQTRANS_INERROR || s == PQTRANS_ACTIVE;
}

Status Conn::reconnect() {
  prepared_.clear();
  next_name_ = 0;
  PQreset(c_);
  if (PQstatus(c_) != CONNECTION_OK) return error_of(c_, nullptr, "");
  return setup();
}

Status Conn::script(std::string_view sql) {
  const std::string text(sql);
  PGresult* r = PQexec(c_, text.c_str());
  Rows keep(r);
  const auto st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return error_of(c_, r, sql);
  return {};
}

Result<Rows> Conn::exec(std::string_view sql, const Params& p) {
  std::string key(sql);
  auto it = prepared_.find(key);
  if (it == prepared_.end()) {
    std::string name = "lg" + std::to_string(++next_name_);
    PGresult* r = PQprepare(c_, name.c_str(), key.c_str(), 0, nullptr);
    Rows keep(r);
    if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) return error_of(c_, r, sql);
    it = prepared_.emplace(std::move(key), std::move(name)).first;
  }
  std::vector<const char*> values(p.size());
  for (std::size_t i = 0; i < p.size(); ++i) values[i] = p.nulls()[i] ? nullptr : p.values()[i].c_str();
  PGresult* r = PQexecPrepared(c_, it->second.c_str(), static_cast<int>(p.size()), values.data(), nullptr, nullptr, 0);
  Rows rows(r);
  const auto st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    Error e = error_of(c_, r, sql);
    // A statement prepared before the schema changed under it (a migration by another node)
    // must be prepared again.
    if (sqlstate(e) == "0A000" || sqlstate(e) == "26000") prepared_.erase(it);
    return e;
  }
  return rows;
}

void ArrayLiteral::sep() {
  if (n_++ > 0) body_ += ',';
}

ArrayLiteral& ArrayLiteral::add(std::string_view v) {
  sep();
  // Quoted, with " and \ escaped by a backslash: sized once, then written in place (a record's
  // body is a few hundred bytes of JSON, full of quotes).
  std::size_t escapes = 0;
  for (char c : v) escapes += (c == '"' || c == '\\') ? 1 : 0;
  const std::size_t at = body_.size();
  body_.resize(at + v.size() + escapes + 2);
  char* out = body_.data() + at;
  *out++ = '"';
  for (char c : v) {
    if (c == '"' || c == '\\') *out++ = '\\';
    *out++ = c;
  }
  *out = '"';
  return *this;
}

ArrayLiteral& ArrayLiteral::add(int64_t v) {
  sep();
  body_ += std::to_string(v);
  return *this;
}

ArrayLiteral& ArrayLiteral::add(bool v) {
  sep();
  body_ += v ? 't' : 'f';
  return *this;
}

ArrayLiteral& ArrayLiteral::add(const std::optional<int64_t>& v) {
  if (v) return add(*v);
  sep();
  body_ += "NULL";
  return *this;
}

ArrayLiteral& ArrayLiteral::add_or_null(std::string_view v) {
  if (!v.empty()) return add(v);
  sep();
  body_ += "NULL";
  return *this;
}

}  // namespace lg::pg
