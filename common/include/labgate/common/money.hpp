// Money is integer minor units (fen) with a currency; never floating point.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "labgate/common/defaults.hpp"

namespace lg::money {

/// The default currency; defined once in defaults.hpp (this name is kept for existing users).
inline constexpr std::string_view kDefaultCurrency = defaults::kCurrency;

/// "1234.50" from 123450 fen; negative amounts keep their sign.
std::string format(int64_t fen);

/// Parses "1234.5", "1234.50" or "1234" (yuan) to fen; nullopt on anything else or >2 decimals.
std::optional<int64_t> parse(std::string_view yuan);

}  // namespace lg::money
