// A strict reader of what lg::ical::write produces, for its unit tests and the fuzz target
// "ical": it checks the framing RFC 5545 asks for (CRLF line ends, no bare CR or LF, lines of at
// most 75 octets, valid UTF-8, folds as CRLF + one space), unfolds, and splits each property
// into its name and value; unescape_text reads a TEXT value back, refusing anything a writer
// must have escaped. Test code only (header-only, no parameters, which the writer never writes).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "labgate/common/csv.hpp"
#include "labgate/common/ical.hpp"

namespace lg::ical::test {

struct Property {
  std::string name;
  std::string value;  ///< as written (escaped for TEXT)
};

/// The properties of text in order, or nullopt with why set when the framing is wrong.
inline std::optional<std::vector<Property>> read(std::string_view text, std::string& why) {
  if (!csv::valid_utf8(text)) {
    why = "not valid UTF-8";
    return std::nullopt;
  }
  if (text.size() < 2 || text.substr(text.size() - 2) != "\r\n") {
    why = "does not end with CRLF";
    return std::nullopt;
  }
  std::vector<std::string> logical;
  std::size_t at = 0;
  while (at < text.size()) {
    const std::size_t end = text.find("\r\n", at);
    const std::string_view line = text.substr(at, end - at);
    at = end + 2;
    if (line.find('\r') != std::string_view::npos || line.find('\n') != std::string_view::npos) {
      why = "a bare CR or LF inside a line";
      return std::nullopt;
    }
    if (line.size() > kMaxLineOctets) {
      why = "a line of " + std::to_string(line.size()) + " octets";
      return std::nullopt;
    }
    if (!csv::valid_utf8(line)) {
      why = "a fold splits a UTF-8 sequence";
      return std::nullopt;
    }
    if (!line.empty() && line[0] == ' ') {
      if (logical.empty() || line.size() < 2) {
        why = "a continuation with nothing to continue or nothing in it";
        return std::nullopt;
      }
      logical.back().append(line.substr(1));
    } else {
      logical.emplace_back(line);
    }
  }
  std::vector<Property> props;
  for (const auto& l : logical) {
    const std::size_t colon = l.find(':');
    if (colon == std::string::npos || colon == 0) {
      why = "a line without NAME: " + l;
      return std::nullopt;
    }
    const std::string name = l.substr(0, colon);
    for (char c : name) {
      if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-')) {
        why = "a property name that is not a name: " + name;
        return std::nullopt;
      }
    }
    props.push_back({name, l.substr(colon + 1)});
  }
  return props;
}

/// A TEXT value read back (\\ \; \, \n \N), or nullopt when it holds an unescaped ';' or ',', a
/// backslash escaping anything else, or a control character other than HTAB.
inline std::optional<std::string> unescape_text(std::string_view v) {
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    const auto c = static_cast<unsigned char>(v[i]);
    if (c == ';' || c == ',') return std::nullopt;
    if ((c < 0x20 && c != '\t') || c == 0x7f) return std::nullopt;
    if (c != '\\') {
      out += static_cast<char>(c);
      continue;
    }
    if (++i == v.size()) return std::nullopt;
    switch (v[i]) {
      case '\\':
      case ';':
      case ',': out += v[i]; break;
      case 'n':
      case 'N': out += '\n'; break;
      default: return std::nullopt;
    }
  }
  return out;
}

}  // namespace lg::ical::test
