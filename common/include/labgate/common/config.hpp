// Config loading over TOML. Every error names the file and the dotted key that is wrong.
#pragma once

#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "labgate/common/result.hpp"

namespace lg::config {

struct DocumentData;  // owns the parsed TOML tree (defined in config.cpp)

/// A view of one table in a loaded document. Cheap to copy; keeps the document alive.
class Section {
 public:
  /// Dotted path of a key in this section, e.g. "mqtt.uri" (used in error messages).
  std::string path(std::string_view key) const;
  /// True if the key exists.
  bool has(std::string_view key) const;

  /// Required string.
  Result<std::string> string(std::string_view key) const;
  /// Optional string with a default.
  Result<std::string> string_or(std::string_view key, std::string def) const;
  /// Required integer within [min, max].
  Result<int64_t> integer(std::string_view key, int64_t min, int64_t max) const;
  /// Optional integer within [min, max] with a default.
  Result<int64_t> integer_or(std::string_view key, int64_t def, int64_t min, int64_t max) const;
  /// Required boolean.
  Result<bool> boolean(std::string_view key) const;
  /// Optional boolean with a default.
  Result<bool> boolean_or(std::string_view key, bool def) const;
  /// Optional number (integer or float) with a default, within [min, max].
  Result<double> number_or(std::string_view key, double def, double min, double max) const;
  /// Required string that must be one of the choices; the error lists them.
  Result<std::string> one_of(std::string_view key, std::initializer_list<std::string_view> choices) const;
  /// Optional variant of one_of.
  Result<std::string> one_of_or(std::string_view key, std::string def,
                                std::initializer_list<std::string_view> choices) const;

  /// Required sub-table.
  Result<Section> section(std::string_view key) const;
  /// Sub-table if present; an error if present but not a table.
  Result<std::optional<Section>> optional_section(std::string_view key) const;
  /// Array of strings; empty if absent; an error if present but not an array of strings.
  Result<std::vector<std::string>> strings_or(std::string_view key) const;
  /// Array of tables ([[key]]); empty if absent; an error if present but not an array of tables.
  Result<std::vector<Section>> tables(std::string_view key) const;

  /// The keys of this table in file order (e.g. the output names under [outputs]).
  std::vector<std::string> keys() const;

  /// Fails naming the first key not in `known` (catches typos such as "prot = 1883").
  Status reject_unknown(std::initializer_list<std::string_view> known) const;

  /// Resolves a path-valued setting relative to the directory of the config file.
  std::filesystem::path resolve_path(const std::string& value) const;

 private:
  friend class Document;
  std::shared_ptr<const DocumentData> doc_;
  const void* table_ = nullptr;  // const toml::table*
  std::string prefix_;           // "mqtt." or "" for root, "outputs[1]." for arrays
  Error error(std::string_view key, std::string_view what) const;
};

/// A parsed TOML document.
class Document {
 public:
  /// Reads and parses a file; a syntax error names the file, line and column.
  static Result<Document> load_file(const std::filesystem::path& path);
  /// Parses text; source_name is used in messages and relative paths resolve from its directory.
  static Result<Document> parse(std::string_view text, const std::filesystem::path& source_name);
  /// The root table.
  Section root() const;

 private:
  std::shared_ptr<const DocumentData> data_;
};

}  // namespace lg::config
