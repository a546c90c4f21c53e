// labgatectl's sign-in state: where the session token is kept, writing it (directory 0700, file
// 0600, atomically), reading and removing it; and reading a password from stdin or a terminal
// without echo.
#pragma once

#include <filesystem>
#include <istream>
#include <string>

#include "labgate/common/result.hpp"

namespace lg::ctl {

/// The token file: token_file if non-empty ($LABGATE_TOKEN_FILE), else
/// <xdg_config_home>/labgate/token if xdg_config_home is non-empty ($XDG_CONFIG_HOME), else
/// <home>/.config/labgate/token ($HOME). An error when none of them is set.
Result<std::filesystem::path> token_file_path(const std::string& token_file, const std::string& xdg_config_home,
                                              const std::string& home);

/// token_file_path() from the process environment.
Result<std::filesystem::path> token_file_from_env();

/// Writes token (and a newline) to path atomically: a temp file mode 0600 in the same directory,
/// fsync, rename over path. Missing directories are created mode 0700. Errors name the path.
Status save_token(const std::filesystem::path& path, const std::string& token);

/// The token kept in path, without surrounding white space; "" when there is no such file.
Result<std::string> load_token(const std::filesystem::path& path);

/// Removes the token file; true if there was one.
Result<bool> remove_token(const std::filesystem::path& path);

/// One line of in (without its "\n" or "\r\n"); an error naming `what` at the end of input.
Result<std::string> read_line(std::istream& in, const std::string& what);

/// A secret typed by a person: if stdin is a terminal, prompts on stderr and reads a line with
/// echo off (restored afterwards, also on Ctrl-C); otherwise reads one line of stdin.
Result<std::string> read_secret(const std::string& prompt);

/// True if stdin is a terminal (then secrets are prompted for and new ones asked twice).
bool stdin_is_terminal();

}  // namespace lg::ctl
