// Typed domain errors: what a caller can act on, whatever store or rule produced it. HTTP maps
// them to statuses in one table (http_status); everything else is an internal failure (500).
#pragma once

#include <string>
#include <system_error>

#include "labgate/common/result.hpp"

namespace lg::server {

/// Errors with a meaning for callers.
enum class Errc {
  conflict = 1,           ///< duplicate id, overlapping booking, card owned by someone else
  unknown_reference = 2,  ///< a referenced id does not exist (the reason names the field)
  not_found = 3,          ///< the addressed thing does not exist
  not_allowed = 4,        ///< a rule refuses the request (booking without qualification)
  bad_position = 5,       ///< a page position that does not fit the list
  unavailable = 6,        ///< a dependency is down (database, broker); retry later
  unauthorized = 7,       ///< credentials were refused (wrong password, bad ticket, expired token)
  forbidden = 8,          ///< the caller is known but may not do this
  throttled = 9,          ///< too many failed sign-ins; retry later
};

/// "conflict", "unknown_reference", ...
const char* to_string(Errc e);
/// The error category of Errc.
const std::error_category& domain_category();
/// Makes an error_code from an Errc.
std::error_code make_error_code(Errc e);
/// An Error with an Errc code and a reason for people.
Error domain_error(Errc e, std::string reason);
/// True if the error carries the given Errc.
bool is(const Error& e, Errc code);
/// The HTTP status of an error: the one table (409, 422, 404, 503; 500 for anything untyped).
int http_status(const Error& e);

/// True when e says a unit of work lost a race with another writer (a PostgreSQL serialization
/// failure or deadlock) and would succeed if run again: a group commit passes it up whole.
bool is_retryable(const Error& e);

}  // namespace lg::server

template <>
struct std::is_error_code_enum<lg::server::Errc> : std::true_type {};
