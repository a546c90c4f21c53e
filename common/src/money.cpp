#include "labgate/common/money.hpp"

#include <cstdlib>
#include <limits>

namespace lg::money {

std::string format(int64_t fen) {
  const bool neg = fen < 0;
  // Work in unsigned to handle INT64_MIN.
  uint64_t v = neg ? (~static_cast<uint64_t>(fen) + 1u) : static_cast<uint64_t>(fen);
  std::string out = std::to_string(v / 100);
  const auto cents = static_cast<unsigned>(v % 100);
  out += '.';
  out += static_cast<char>('0' + cents / 10);
  out += static_cast<char>('0' + cents % 10);
  return neg ? "-" + out : out;
}

std::optional<int64_t> parse(std::string_view yuan) {
  if (yuan.empty()) return std::nullopt;
  bool neg = false;
  if (yuan.front() == '-') {
    neg = true;
    yuan.remove_prefix(1);
  }
  if (yuan.empty()) return std::nullopt;
  int64_t whole = 0;
  std::size_t i = 0;
  bool digits = false;
  for (; i < yuan.size() && yuan[i] != '.'; ++i) {
    const char c = yuan[i];
    if (c < '0' || c > '9') return std::nullopt;
    if (whole > (std::numeric_limits<int64_t>::max() / 100 - 9) / 10) return std::nullopt;
    whole = whole * 10 + (c - '0');
    digits = true;
  }
  int64_t frac = 0;
  if (i < yuan.size()) {  // '.'
    ++i;
    const std::size_t n = yuan.size() - i;
    if (n == 0 || n > 2) return std::nullopt;
    for (std::size_t k = 0; k < n; ++k) {
      const char c = yuan[i + k];
      if (c < '0' || c > '9') return std::nullopt;
      frac = frac * 10 + (c - '0');
    }
    if (n == 1) frac *= 10;
  }
  if (!digits) return std::nullopt;
  const int64_t fen = whole * 100 + frac;
  return neg ? -fen : fen;
}

}  // namespace lg::money
