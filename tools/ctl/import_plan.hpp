// labgatectl import: turns an import file into the ordered list of POSTs to make. Pure apart
// from the injected file reader (for terminals' public_key_file), so it is unit-tested.
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "labgate/common/result.hpp"

namespace lg::ctl {

/// One entity to create: where it came from in the file and what to POST where.
struct ImportStep {
  std::string section;   ///< "units", "fee_standards", ...
  std::size_t index = 0; ///< position in its section
  std::string label;     ///< "units[0] (phys)" for messages
  std::string route;     ///< "/api/units", "/api/fee-standards", ...
  nlohmann::json body;   ///< the object to send
};

/// Sections in the order they are imported (later ones refer to earlier ones).
const std::vector<std::string_view>& import_sections();

/// The POST route of a section ("fee_standards" -> "/api/fee-standards"); "" if unknown.
std::string import_route(std::string_view section);

/// Reads a whole file; used to load terminals' public keys.
using FileReader = std::function<Result<std::string>(const std::filesystem::path&)>;

/// Validates an import document and lists its POSTs in import order. The document must be an
/// object whose keys are known sections, each an array of objects. A terminal's
/// "public_key_file" is read (relative to base_dir) and sent as "public_key"; a terminal needs
/// one of the two. Errors name the section and index.
Result<std::vector<ImportStep>> plan_import(const nlohmann::json& doc, const std::filesystem::path& base_dir,
                                            const FileReader& read_file);

/// Reads a file from disk (the FileReader used outside tests).
Result<std::string> read_whole_file(const std::filesystem::path& path);

}  // namespace lg::ctl
