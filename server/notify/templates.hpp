// The text of every notice, by kind: Chinese first, English second, both in one mail. The
// templates themselves are in templates.cpp (one file, one entry per kind).
#pragma once

#include <string>
#include <vector>

#include "labgate/common/result.hpp"
#include "server/notify/model.hpp"

namespace lg::server::notify {

struct Rendered {
  std::string subject;  ///< "<Chinese> / <English>", one line
  std::string body;     ///< the Chinese text, a separator line, the English text
};

/// The fields the template of kind k uses ({name} and {site} included: the outbox fills them).
std::vector<std::string> template_fields(Kind k);

/// The notice of kind k with its {field}s replaced by fields: invalid (naming the field) when a
/// field the template uses is not given. Control characters in a value are replaced by spaces in
/// the subject (one line) and kept as line breaks only for \n in the body.
Result<Rendered> render(Kind k, const Fields& fields);

}  // namespace lg::server::notify
