#include "labgate/common/files.hpp"

namespace lg::files {

Result<bool> ensure_private_dir(const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::create_directories(dir, ec)) {
    fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
    if (ec) return Error::from(ec, "cannot set the mode of " + dir.string());
    return false;
  }
  if (ec) return Error::from(ec, "cannot create " + dir.string());
  const auto st = fs::status(dir, ec);
  if (ec) return Error::from(ec, "cannot inspect " + dir.string());
  if (!fs::is_directory(st)) return Error::invalid(dir.string() + " is not a directory");
  const auto others = fs::perms::group_all | fs::perms::others_all;
  if ((st.permissions() & others) == fs::perms::none) return false;
  fs::permissions(dir, others, fs::perm_options::remove, ec);
  if (ec) return Error::from(ec, "cannot restrict " + dir.string() + " to its owner");
  return true;
}

}  // namespace lg::files
