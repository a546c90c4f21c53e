// Who may use which instrument, at which level, and from when until when. Plain data.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lg::server {

/// What a qualification lets its holder do (issue 10, "Qualification levels"), weakest first:
/// - supervised: only with staff present, so only within the instrument's staffed hours and with
///   a booking an admin marked staffed;
/// - independent: alone, within the staffed hours;
/// - after_hours: alone, at night and on weekends as well.
/// A level implies every weaker one.
enum class QualificationLevel { supervised, independent, after_hours };

struct Qualification {
  std::string user;
  std::string instrument;
  int64_t valid_from_ms = 0;
  std::optional<int64_t> valid_until_ms;
  /// after_hours by default: a qualification set before levels existed kept every hour.
  QualificationLevel level = QualificationLevel::after_hours;
  /// Where it came from: "" (set by an admin) or "training:<course id>".
  std::string source{};
};

}  // namespace lg::server
