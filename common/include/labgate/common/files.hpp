// Files and directories that hold what nobody else may read: card numbers, names, keys.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "labgate/common/result.hpp"

namespace lg::files {

/// Creates dir (and its parents) if missing, then makes sure only its owner may enter it
/// (mode 0700): an existing directory that its group or others may use is tightened. Returns
/// whether it had to tighten (so the caller can tell the operator once).
Result<bool> ensure_private_dir(const std::filesystem::path& dir);

/// Writes text to path atomically and durably: a temporary file of the given mode in the same
/// directory, fsync, rename, fsync of the directory. Readers see the old or the new file, never half.
Status write_atomic(const std::filesystem::path& path, std::string_view text, unsigned mode = 0644);

/// The whole file as text (at most max_bytes); an error names the file.
Result<std::string> read_text(const std::filesystem::path& path, std::size_t max_bytes = 1 << 20);

}  // namespace lg::files
