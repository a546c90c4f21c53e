#include "server/core/errors.hpp"

#include "server/core/pg.hpp"

namespace lg::server {

namespace {

struct Row {
  Errc code;
  const char* name;
  int http;
};

// The one table from domain error to HTTP status.
constexpr Row kTable[] = {
    {Errc::conflict, "conflict", 409},
    {Errc::unknown_reference, "unknown_reference", 422},
    {Errc::not_found, "not_found", 404},
    {Errc::not_allowed, "not_allowed", 422},
    {Errc::bad_position, "bad_position", 422},
    {Errc::unavailable, "unavailable", 503},
    {Errc::unauthorized, "unauthorized", 401},
    {Errc::forbidden, "forbidden", 403},
    {Errc::throttled, "throttled", 429},
};

const Row* row_of(int v) {
  for (const auto& r : kTable)
    if (static_cast<int>(r.code) == v) return &r;
  return nullptr;
}

class DomainCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "labgate"; }
  std::string message(int v) const override {
    const Row* r = row_of(v);
    return r ? r->name : "unknown";
  }
};

}  // namespace

const char* to_string(Errc e) {
  const Row* r = row_of(static_cast<int>(e));
  return r ? r->name : "unknown";
}

const std::error_category& domain_category() {
  static const DomainCategory c;
  return c;
}

std::error_code make_error_code(Errc e) { return {static_cast<int>(e), domain_category()}; }

Error domain_error(Errc e, std::string reason) { return Error{make_error_code(e), std::move(reason)}; }

bool is(const Error& e, Errc code) { return e.code == make_error_code(code); }

int http_status(const Error& e) {
  if (e.code.category() != domain_category()) return 500;
  const Row* r = row_of(e.code.value());
  return r ? r->http : 500;
}

bool is_retryable(const Error& e) { return pg::is_retryable(e); }

}  // namespace lg::server
