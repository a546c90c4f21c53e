// A small synchronous HTTP/1.1 GET for talking to campus sign-on servers (CAS ticket validation),
// over the shared client in common/http_client (http:// and https://).
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include "labgate/common/result.hpp"

namespace lg::server::identity {

/// GETs an http(s)://host[:port]/path?query URL (one request, Connection: close, no redirects
/// followed) and returns the status code and the body (at most 1 MiB). timeout_ms bounds the whole
/// exchange: name resolution, connect, write and read.
/// Errors: Errc::unavailable (server/core/errors.hpp) when the server cannot be resolved, reached,
/// or does not answer in time, fails TLS verification, or its answer is not HTTP; an untyped error
/// for a URL that is not http:// or https://.
Result<std::pair<int, std::string>> http_get(std::string_view url, int timeout_ms);

}  // namespace lg::server::identity
