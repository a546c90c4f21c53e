// A card's UID as the system knows it: validated and normalised once, where it enters (a reader
// line, a JSON field, a bundle, a database row). Everything past that edge holds a CardUid, so no
// code compares raw reader text and no call site normalises on its own.
#pragma once

#include <compare>
#include <optional>
#include <string>
#include <string_view>

namespace lg {

class CardUid {
 public:
  /// The rule of a valid UID, for error messages: "1..64 of [0-9A-Za-z]".
  static constexpr std::string_view kRule = "1..64 of [0-9A-Za-z]";
  static constexpr std::size_t kMaxChars = 64;

  /// Parses reader or user text: 1..64 ASCII letters and digits (hex or decimal as the reader
  /// reports them); upper-cases letters (readers differ in case). nullopt for anything else.
  static std::optional<CardUid> parse(std::string_view text);

  /// The empty UID (no card). Only a default-constructed CardUid is empty.
  CardUid() = default;

  /// The canonical text (upper case); "" when empty.
  const std::string& str() const { return text_; }
  bool empty() const { return text_.empty(); }

  friend bool operator==(const CardUid&, const CardUid&) = default;
  friend auto operator<=>(const CardUid&, const CardUid&) = default;

 private:
  explicit CardUid(std::string canonical) : text_(std::move(canonical)) {}
  std::string text_;
};

}  // namespace lg
