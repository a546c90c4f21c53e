// Minimal structured logging to stderr: "<utc> <LEVEL> <component>: <message>".
#pragma once

#include <string>
#include <string_view>

namespace lg::log {

enum class Level : int { debug = 0, info = 1, warn = 2, error = 3 };

/// Sets the lowest level that is printed (default info). Thread-safe.
void set_level(Level level);

/// Parses "debug|info|warn|error"; returns false on anything else.
bool parse_level(std::string_view text, Level& out);

/// Writes one line to stderr if level is enabled. Thread-safe; each line is written whole.
/// Component and message are passed through escape(), so a value that came from a request,
/// a payload or a file can never start a line of its own or hide in the terminal.
void write(Level level, std::string_view component, std::string_view message);

/// Makes text safe for a one-line log record: a backslash becomes "\\", newline, carriage
/// return and tab become "\n", "\r", "\t", every other control character (C0, DEL, C1) and
/// every byte that is not part of valid UTF-8 becomes "\xNN". Valid UTF-8 (Chinese names)
/// passes unchanged.
std::string escape(std::string_view text);

inline void debug(std::string_view c, std::string_view m) { write(Level::debug, c, m); }
inline void info(std::string_view c, std::string_view m) { write(Level::info, c, m); }
inline void warn(std::string_view c, std::string_view m) { write(Level::warn, c, m); }
inline void error(std::string_view c, std::string_view m) { write(Level::error, c, m); }

}  // namespace lg::log
