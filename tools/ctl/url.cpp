#include <charconv>

#include "http_client.hpp"

namespace lg::ctl {

Result<Url> parse_url(std::string_view url) {
  constexpr std::string_view scheme = "http://";
  if (url.starts_with("https://"))
    return Error::invalid("URL " + std::string(url) + ": https is not supported, use http:// (or a local TLS proxy)");
  if (!url.starts_with(scheme)) return Error::invalid("URL " + std::string(url) + ": must start with http://");
  std::string_view rest = url.substr(scheme.size());
  const auto slash = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, slash);
  Url out;
  if (slash != std::string_view::npos) {
    out.target = std::string(rest.substr(slash));
    if (out.target.front() == '?') out.target.insert(out.target.begin(), '/');
  }
  if (authority.find('@') != std::string_view::npos)
    return Error::invalid("URL " + std::string(url) + ": user info is not supported, use --token");
  std::string_view host = authority;
  if (authority.starts_with('[')) {  // [::1]:8080
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return Error::invalid("URL " + std::string(url) + ": unclosed [");
    host = authority.substr(1, close - 1);
    authority.remove_prefix(close + 1);
    if (!authority.empty() && authority.front() != ':')
      return Error::invalid("URL " + std::string(url) + ": junk after ]");
  } else {
    host = authority.substr(0, authority.find(':'));
    authority.remove_prefix(host.size());
  }
  if (host.empty()) return Error::invalid("URL " + std::string(url) + ": no host");
  out.host = std::string(host);
  if (!authority.empty()) {  // ":port"
    const std::string_view p = authority.substr(1);
    unsigned port = 0;
    const auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), port);
    if (p.empty() || ec != std::errc{} || ptr != p.data() + p.size() || port == 0 || port > 65535)
      return Error::invalid("URL " + std::string(url) + ": bad port \"" + std::string(p) + "\"");
    out.port = static_cast<uint16_t>(port);
  }
  return out;
}

std::string join_url(std::string_view base, std::string_view path) {
  std::string out(base);
  while (!out.empty() && out.back() == '/') out.pop_back();
  if (!path.starts_with('/')) out += '/';
  out += path;
  return out;
}

}  // namespace lg::ctl
