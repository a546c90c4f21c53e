// Files and directories that hold what nobody else may read: card numbers, names, keys.
#pragma once

#include <filesystem>

#include "labgate/common/result.hpp"

namespace lg::files {

/// Creates dir (and its parents) if missing, then makes sure only its owner may enter it
/// (mode 0700): an existing directory that its group or others may use is tightened. Returns
/// whether it had to tighten (so the caller can tell the operator once).
Result<bool> ensure_private_dir(const std::filesystem::path& dir);

}  // namespace lg::files
