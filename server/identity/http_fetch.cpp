// http_get over the shared HTTP(S) client (common/http_client): CAS servers are https:// on
// campus; their certificate is checked against the system's CAs.
#include "server/identity/http_fetch.hpp"

#include "labgate/common/http_client.hpp"
#include "server/core/errors.hpp"

namespace lg::server::identity {

Result<std::pair<int, std::string>> http_get(std::string_view url, int timeout_ms) {
  http_client::Options o;
  o.timeout_ms = timeout_ms > 0 ? timeout_ms : 5000;
  o.user_agent = "labgate-server";
  auto r = http_client::request("GET", url, "", "", o);
  if (!r) {
    if (r.error().code == std::errc::invalid_argument) return r.error();
    return domain_error(Errc::unavailable, r.error().reason);
  }
  return std::pair<int, std::string>{r->status, std::move(r->body)};
}

}  // namespace lg::server::identity
