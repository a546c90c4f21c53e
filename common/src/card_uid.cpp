#include "labgate/common/card_uid.hpp"

namespace lg {

std::optional<CardUid> CardUid::parse(std::string_view text) {
  if (text.empty() || text.size() > kMaxChars) return std::nullopt;
  std::string out(text);
  for (auto& c : out) {
    const bool digit = c >= '0' && c <= '9';
    const bool upper = c >= 'A' && c <= 'Z';
    const bool lower = c >= 'a' && c <= 'z';
    if (!digit && !upper && !lower) return std::nullopt;
    if (lower) c = static_cast<char>(c - 'a' + 'A');
  }
  return CardUid(std::move(out));
}

}  // namespace lg
