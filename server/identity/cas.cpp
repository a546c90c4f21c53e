// CAS service-ticket validation: the URL, a small XML reader for the service response, and the
// fetch through http_get.
#include "server/identity/cas.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "server/core/errors.hpp"
#include "server/identity/http_fetch.hpp"

namespace lg::server::identity {

namespace {

constexpr std::string_view kCasNs = "http://www.yale.edu/tp/cas";
constexpr std::string_view kXmlNs = "http://www.w3.org/XML/1998/namespace";
constexpr std::size_t kMaxXmlBytes = 1024 * 1024;
constexpr int kMaxDepth = 32;
constexpr std::size_t kMaxReasonText = 300;

// ---------------------------------------------------------------------------------------------
// A small XML reader: enough of XML 1.0 + Namespaces for a CAS service response, strict where
// leniency could be abused (no DOCTYPE, so no entity definitions; depth and size bounded).

struct Element {
  std::string ns;                                               // namespace URI ("" when none)
  std::string local;                                            // local name
  std::string qname;                                            // as written (prefix:local)
  std::vector<std::pair<std::string, std::string>> attributes;  // (qualified name, decoded value)
  std::vector<Element> children;
  std::string text;  // this element's own character data (text and CDATA), children's left out

  /// The value of the unprefixed attribute name, if present.
  const std::string* attribute(std::string_view name) const {
    for (const auto& [k, v] : attributes) {
      if (k == name) return &v;
    }
    return nullptr;
  }
  bool is_cas(std::string_view name) const { return ns == kCasNs && local == name; }
  const Element* cas_child(std::string_view name) const {
    for (const auto& c : children) {
      if (c.is_cas(name)) return &c;
    }
    return nullptr;
  }
};

class XmlReader {
 public:
  explicit XmlReader(std::string_view s) : s_(s) {}

  /// The root element, or an error saying what is wrong and where.
  Result<Element> document() {
    if (s_.size() > kMaxXmlBytes) return fail("more than 1 MiB");
    if (s_.substr(0, 3) == "\xEF\xBB\xBF") pos_ = 3;  // UTF-8 byte order mark
    if (auto e = misc(true); !e.empty()) return fail(e);
    if (!at("<")) return fail("no root element");
    Scope root_scope;
    root_scope["xml"] = std::string(kXmlNs);
    Element root;
    if (auto e = element(root, root_scope, 0); !e.empty()) return fail(e);
    if (auto e = misc(false); !e.empty()) return fail(e);
    if (pos_ != s_.size()) return fail("content after the root element");
    return root;
  }

 private:
  using Scope = std::map<std::string, std::string>;  // prefix ("" = default) -> namespace URI

  Error fail(const std::string& why) const { return Error::invalid(why + " (at byte " + std::to_string(pos_) + ")"); }

  bool at(std::string_view t) const { return s_.substr(pos_, t.size()) == t; }
  bool eof() const { return pos_ >= s_.size(); }

  static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
  static bool is_name_start(char c) {
    const auto u = static_cast<unsigned char>(c);
    return (u >= 'A' && u <= 'Z') || (u >= 'a' && u <= 'z') || u == '_' || u == ':' || u >= 0x80;
  }
  static bool is_name_char(char c) { return is_name_start(c) || (c >= '0' && c <= '9') || c == '-' || c == '.'; }

  void skip_space() {
    while (!eof() && is_space(s_[pos_])) ++pos_;
  }

  std::string name() {
    const std::size_t start = pos_;
    if (eof() || !is_name_start(s_[pos_])) return "";
    while (!eof() && is_name_char(s_[pos_])) ++pos_;
    return std::string(s_.substr(start, pos_ - start));
  }

  /// Skips past `end`; false when it never comes.
  bool skip_past(std::string_view end) {
    const auto at_end = s_.find(end, pos_);
    if (at_end == std::string_view::npos) return false;
    pos_ = at_end + end.size();
    return true;
  }

  /// Whitespace, comments, processing instructions (the XML declaration among them) outside the
  /// root; a DOCTYPE is refused.
  std::string misc(bool prolog) {
    while (true) {
      skip_space();
      if (at("<!--")) {
        if (!skip_past("-->")) return "unterminated comment";
      } else if (at("<?")) {
        if (!skip_past("?>")) return "unterminated processing instruction";
      } else if (at("<!DOCTYPE") || at("<!doctype")) {
        return "a DOCTYPE is not accepted";
      } else if (prolog || eof() || at("<")) {
        return "";
      } else {
        return "text outside the root element";
      }
      if (!prolog && eof()) return "";
    }
  }

  static void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  static bool is_xml_char(uint32_t cp) {
    return cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) || (cp >= 0xE000 && cp <= 0xFFFD) ||
           (cp >= 0x10000 && cp <= 0x10FFFF);
  }

  /// Decodes the reference at pos_ ('&' ... ';') onto out.
  std::string reference(std::string& out) {
    const auto semi = s_.find(';', pos_);
    if (semi == std::string_view::npos || semi - pos_ > 12) return "'&' that does not start an entity reference";
    const std::string_view ref = s_.substr(pos_ + 1, semi - pos_ - 1);
    if (ref == "amp") {
      out += '&';
    } else if (ref == "lt") {
      out += '<';
    } else if (ref == "gt") {
      out += '>';
    } else if (ref == "quot") {
      out += '"';
    } else if (ref == "apos") {
      out += '\'';
    } else if (ref.size() >= 2 && ref[0] == '#') {
      const bool hex = ref[1] == 'x';
      const std::string_view digits = ref.substr(hex ? 2 : 1);
      if (digits.empty()) return "empty character reference";
      uint32_t cp = 0;
      for (char c : digits) {
        uint32_t d = 0;
        if (c >= '0' && c <= '9') {
          d = static_cast<uint32_t>(c - '0');
        } else if (hex && c >= 'a' && c <= 'f') {
          d = static_cast<uint32_t>(c - 'a' + 10);
        } else if (hex && c >= 'A' && c <= 'F') {
          d = static_cast<uint32_t>(c - 'A' + 10);
        } else {
          return "malformed character reference &" + std::string(ref) + ";";
        }
        cp = cp * (hex ? 16 : 10) + d;
        if (cp > 0x10FFFF) return "character reference beyond U+10FFFF";
      }
      if (!is_xml_char(cp)) return "character reference to a character XML does not allow";
      append_utf8(out, cp);
    } else {
      return "unknown entity &" + std::string(ref) + ";";
    }
    pos_ = semi + 1;
    return "";
  }

  /// A quoted attribute value, entities decoded and whitespace normalised.
  std::string attribute_value(std::string& out) {
    if (eof() || (s_[pos_] != '"' && s_[pos_] != '\'')) return "attribute value without quotes";
    const char quote = s_[pos_++];
    while (true) {
      if (eof()) return "unterminated attribute value";
      const char c = s_[pos_];
      if (c == quote) {
        ++pos_;
        return "";
      }
      if (c == '<') return "'<' in an attribute value";
      if (c == '&') {
        if (auto e = reference(out); !e.empty()) return e;
        continue;
      }
      out += is_space(c) ? ' ' : c;
      ++pos_;
    }
  }

  /// Splits qname into prefix and local part and resolves the prefix in scope.
  static std::string resolve(const std::string& qname, const Scope& scope, bool is_attribute, std::string& ns,
                             std::string& local) {
    const auto colon = qname.find(':');
    if (colon == std::string::npos) {
      local = qname;
      if (is_attribute) {
        ns.clear();
      } else {
        auto it = scope.find("");
        ns = it == scope.end() ? "" : it->second;
      }
      return "";
    }
    const std::string prefix = qname.substr(0, colon);
    local = qname.substr(colon + 1);
    if (prefix.empty() || local.empty() || local.find(':') != std::string::npos)
      return "malformed name '" + qname + "'";
    auto it = scope.find(prefix);
    if (it == scope.end()) return "undeclared namespace prefix '" + prefix + "'";
    ns = it->second;
    return "";
  }

  /// An element starting at '<'; fills el, recursing into children.
  std::string element(Element& el, const Scope& parent, int depth) {
    if (depth > kMaxDepth) return "elements nested deeper than " + std::to_string(kMaxDepth);
    ++pos_;  // '<'
    el.qname = name();
    if (el.qname.empty()) return "malformed element name";
    Scope scope = parent;
    bool empty = false;
    while (true) {
      const bool had_space = !eof() && is_space(s_[pos_]);
      skip_space();
      if (eof()) return "unterminated start tag <" + el.qname + ">";
      if (at("/>")) {
        pos_ += 2;
        empty = true;
        break;
      }
      if (at(">")) {
        ++pos_;
        break;
      }
      if (!had_space) return "malformed start tag <" + el.qname + ">";
      std::string attr = name();
      if (attr.empty()) return "malformed attribute in <" + el.qname + ">";
      skip_space();
      if (!at("=")) return "attribute " + attr + " without a value";
      ++pos_;
      skip_space();
      std::string value;
      if (auto e = attribute_value(value); !e.empty()) return e;
      for (const auto& [k, v] : el.attributes) {
        if (k == attr) return "attribute " + attr + " given twice";
      }
      if (attr == "xmlns") {
        scope[""] = value;
      } else if (attr.rfind("xmlns:", 0) == 0) {
        if (value.empty()) return "empty namespace for prefix " + attr.substr(6);
        scope[attr.substr(6)] = value;
      }
      el.attributes.emplace_back(std::move(attr), std::move(value));
    }
    if (auto e = resolve(el.qname, scope, false, el.ns, el.local); !e.empty()) return e;
    for (const auto& [k, v] : el.attributes) {
      if (k == "xmlns" || k.rfind("xmlns:", 0) == 0) continue;
      std::string ns, local;
      if (auto e = resolve(k, scope, true, ns, local); !e.empty()) return e;
    }
    if (empty) return "";
    // Content: text, references, CDATA, comments, PIs, child elements, then the end tag.
    while (true) {
      if (eof()) return "unterminated element <" + el.qname + ">";
      if (at("</")) {
        pos_ += 2;
        const std::string end = name();
        if (end != el.qname) return "end tag </" + end + "> does not close <" + el.qname + ">";
        skip_space();
        if (!at(">")) return "malformed end tag </" + end + ">";
        ++pos_;
        return "";
      }
      if (at("<![CDATA[")) {
        pos_ += 9;
        const auto end = s_.find("]]>", pos_);
        if (end == std::string_view::npos) return "unterminated CDATA section";
        el.text.append(s_.substr(pos_, end - pos_));
        pos_ = end + 3;
      } else if (at("<!--")) {
        if (!skip_past("-->")) return "unterminated comment";
      } else if (at("<?")) {
        if (!skip_past("?>")) return "unterminated processing instruction";
      } else if (at("<!")) {
        return "a declaration inside an element";
      } else if (at("<")) {
        Element child;
        if (auto e = element(child, scope, depth + 1); !e.empty()) return e;
        el.children.push_back(std::move(child));
      } else if (at("&")) {
        if (auto e = reference(el.text); !e.empty()) return e;
      } else {
        el.text += s_[pos_++];
      }
    }
  }

  std::string_view s_;
  std::size_t pos_ = 0;
};

// ---------------------------------------------------------------------------------------------

std::string trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return "";
  const auto last = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(first, last - first + 1));
}

Error not_a_response(const std::string& why) {
  return domain_error(Errc::unavailable, "the CAS server's answer is not a service response: " + why);
}

using Values = std::map<std::string, std::vector<std::string>>;

/// Adds an attribute element: <cas:mail>v</cas:mail> or <cas:attribute name="mail" value="v"/>.
void add_attribute(Values& values, const Element& e) {
  if (e.local == "attribute" && e.attribute("name") != nullptr) {
    const std::string* v = e.attribute("value");
    values[*e.attribute("name")].push_back(v != nullptr ? *v : trim(e.text));
    return;
  }
  values[e.local].push_back(trim(e.text));
}

std::string first_of(const Values& values, std::initializer_list<std::string_view> names) {
  for (auto n : names) {
    auto it = values.find(std::string(n));
    if (it == values.end()) continue;
    for (const auto& v : it->second) {
      if (!v.empty()) return v;
    }
  }
  return "";
}

std::string percent_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
        c == '_' || c == '~') {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
  }
  return out;
}

}  // namespace

std::string cas_validate_url(std::string_view cas_base, std::string_view service, std::string_view ticket, bool v3) {
  while (!cas_base.empty() && cas_base.back() == '/') cas_base.remove_suffix(1);
  std::string url(cas_base);
  url += v3 ? "/p3/serviceValidate" : "/serviceValidate";
  url += "?service=" + percent_encode(service) + "&ticket=" + percent_encode(ticket);
  return url;
}

Result<ExternalIdentity> parse_service_response(std::string_view xml) {
  XmlReader reader(xml);
  auto doc = reader.document();
  if (!doc) return not_a_response("malformed XML: " + doc.error().reason);
  const Element& root = *doc;
  if (!root.is_cas("serviceResponse")) {
    return not_a_response("the root element is <" + root.qname + ">, not <cas:serviceResponse> in " +
                          std::string(kCasNs));
  }
  if (const Element* f = root.cas_child("authenticationFailure")) {
    const std::string* code = f->attribute("code");
    const std::string c = code != nullptr && !code->empty() ? trim(*code) : "UNKNOWN";
    std::string text = trim(f->text);
    if (text.size() > kMaxReasonText) text = text.substr(0, kMaxReasonText) + "...";
    const std::string reason = text.empty() ? c : c + ": " + text;
    return domain_error(c == "INTERNAL_ERROR" ? Errc::unavailable : Errc::unauthorized, reason);
  }
  const Element* ok = root.cas_child("authenticationSuccess");
  if (ok == nullptr) return not_a_response("neither authenticationSuccess nor authenticationFailure");
  const Element* user = ok->cas_child("user");
  if (user == nullptr) return not_a_response("authenticationSuccess without <cas:user>");
  ExternalIdentity who;
  who.login = trim(user->text);
  if (who.login.empty()) return not_a_response("an empty <cas:user>");

  Values values;
  for (const auto& child : ok->children) {
    if (child.is_cas("user") || child.is_cas("proxyGrantingTicket") || child.is_cas("proxies")) continue;
    if (child.is_cas("attributes")) {
      for (const auto& a : child.children) add_attribute(values, a);
    } else {
      add_attribute(values, child);  // a 2.0 server's attributes beside <cas:user>
    }
  }
  for (const auto& [k, vs] : values) {
    std::string joined;
    for (const auto& v : vs) {
      if (v.empty()) continue;
      if (!joined.empty()) joined += "; ";
      joined += v;
    }
    who.attributes[k] = joined;
  }
  who.name = first_of(values, {"cn", "displayName", "name"});
  who.mail = first_of(values, {"mail", "email"});
  who.unit = first_of(values, {"ou", "department", "unit"});
  who.category = first_of(values, {"employeeType", "category", "eduPersonPrimaryAffiliation", "eduPersonAffiliation"});
  return who;
}

Result<ExternalIdentity> cas_validate(const CasConfig& c, std::string_view service, std::string_view ticket) {
  if (ticket.empty()) return domain_error(Errc::unauthorized, "INVALID_REQUEST: no ticket");
  if (c.base_url.rfind("http://", 0) != 0 && c.base_url.rfind("https://", 0) != 0) {
    return Error::invalid("[auth.cas] url '" + c.base_url + "' is not an http:// or https:// URL");
  }
  const std::string url = cas_validate_url(c.base_url, service, ticket, c.v3);
  std::pair<int, std::string> answer;
  LG_TRY_ASSIGN(answer, http_get(url, c.timeout_ms));
  if (answer.first != 200) {
    return domain_error(Errc::unavailable, "the CAS server answered HTTP " + std::to_string(answer.first) + " to " +
                                               url.substr(0, url.find('?')));
  }
  return parse_service_response(answer.second);
}

}  // namespace lg::server::identity
