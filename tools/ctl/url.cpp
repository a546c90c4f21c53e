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

namespace {
std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

/// True if the parameters of one link (after its <target>) hold rel with the relation "next".
bool rel_next(std::string_view params) {
  while (!params.empty()) {
    const auto semi = params.find(';');
    std::string_view p = trim(params.substr(0, semi));
    params = semi == std::string_view::npos ? std::string_view() : params.substr(semi + 1);
    const auto eq = p.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view name = trim(p.substr(0, eq));
    std::string_view value = trim(p.substr(eq + 1));
    if (name.size() != 3 || (name[0] | 0x20) != 'r' || (name[1] | 0x20) != 'e' || (name[2] | 0x20) != 'l') continue;
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
    while (!value.empty()) {  // rel may list several relations separated by spaces
      const auto sp = value.find(' ');
      if (value.substr(0, sp) == "next") return true;
      value = sp == std::string_view::npos ? std::string_view() : trim(value.substr(sp + 1));
    }
  }
  return false;
}
}  // namespace

std::string next_link(std::string_view header) {
  std::size_t pos = 0;
  while (pos < header.size()) {
    const auto open = header.find('<', pos);
    if (open == std::string_view::npos) return "";
    const auto close = header.find('>', open);
    if (close == std::string_view::npos) return "";
    const std::string_view target = header.substr(open + 1, close - open - 1);
    // the link's parameters run to the next link: a ',' followed by '<'
    std::size_t end = close + 1;
    while (end < header.size()) {
      if (header[end] == ',' && trim(header.substr(end + 1)).starts_with('<')) break;
      ++end;
    }
    if (rel_next(header.substr(close + 1, end - close - 1))) return std::string(target);
    pos = end;
  }
  return "";
}

}  // namespace lg::ctl
