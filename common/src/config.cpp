#include "labgate/common/config.hpp"

#include <cmath>
#include <fstream>
#include <sstream>

#include <toml++/toml.h>

namespace lg::config {

struct DocumentData {
  toml::table root;
  std::filesystem::path source;
};

namespace {
const toml::table& tbl(const void* p) { return *static_cast<const toml::table*>(p); }

std::string type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a number";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    default: return "a date/time";
  }
}
}  // namespace

Error Section::error(std::string_view key, std::string_view what) const {
  return Error::invalid(doc_->source.string() + ": " + path(key) + ": " + std::string(what));
}

std::string Section::path(std::string_view key) const { return prefix_ + std::string(key); }

bool Section::has(std::string_view key) const { return tbl(table_).contains(key); }

Result<std::string> Section::string(std::string_view key) const {
  const toml::node* n = tbl(table_).get(key);
  if (n == nullptr) return error(key, "is required");
  if (!n->is_string()) return error(key, "must be a string, got " + type_name(*n));
  return std::string(n->as_string()->get());
}

Result<std::string> Section::string_or(std::string_view key, std::string def) const {
  if (!has(key)) return def;
  return string(key);
}

Result<int64_t> Section::integer(std::string_view key, int64_t min, int64_t max) const {
  const toml::node* n = tbl(table_).get(key);
  if (n == nullptr) return error(key, "is required");
  if (!n->is_integer()) return error(key, "must be an integer, got " + type_name(*n));
  const int64_t v = n->as_integer()->get();
  if (v < min || v > max)
    return error(key, "must be in " + std::to_string(min) + ".." + std::to_string(max) + ", got " + std::to_string(v));
  return v;
}

Result<int64_t> Section::integer_or(std::string_view key, int64_t def, int64_t min, int64_t max) const {
  if (!has(key)) return def;
  return integer(key, min, max);
}

Result<bool> Section::boolean(std::string_view key) const {
  const toml::node* n = tbl(table_).get(key);
  if (n == nullptr) return error(key, "is required");
  if (!n->is_boolean()) return error(key, "must be true or false, got " + type_name(*n));
  return n->as_boolean()->get();
}

Result<bool> Section::boolean_or(std::string_view key, bool def) const {
  if (!has(key)) return def;
  return boolean(key);
}

Result<double> Section::number_or(std::string_view key, double def, double min, double max) const {
  const toml::node* n = tbl(table_).get(key);
  if (n == nullptr) return def;
  double v;
  if (n->is_integer()) v = static_cast<double>(n->as_integer()->get());
  else if (n->is_floating_point()) v = n->as_floating_point()->get();
  else return error(key, "must be a number, got " + type_name(*n));
  if (!std::isfinite(v) || v < min || v > max) {
    std::ostringstream os;
    os << "must be in " << min << ".." << max << ", got " << v;
    return error(key, os.str());
  }
  return v;
}

Result<std::string> Section::one_of(std::string_view key, std::initializer_list<std::string_view> choices) const {
  auto s = string(key);
  if (!s) return s;
  for (auto c : choices)
    if (*s == c) return s;
  std::string list;
  for (auto c : choices) {
    if (!list.empty()) list += ", ";
    list += '"';
    list += c;
    list += '"';
  }
  return error(key, "must be one of " + list + ", got \"" + *s + "\"");
}

Result<std::string> Section::one_of_or(std::string_view key, std::string def,
                                       std::initializer_list<std::string_view> choices) const {
  if (!has(key)) return def;
  return one_of(key, choices);
}

Result<Section> Section::section(std::string_view key) const {
  const toml::node* n = tbl(table_).get(key);
  if (n == nullptr) return error(key, "is required (a table)");
  if (!n->is_table()) return error(key, "must be a table, got " + type_name(*n));
  Section s;
  s.doc_ = doc_;
  s.table_ = n->as_table();
  s.prefix_ = path(key) + ".";
  return s;
}

Result<std::optional<Section>> Section::optional_section(std::string_view key) const {
  if (!has(key)) return std::optional<Section>{};
  auto s = section(key);
  if (!s) return s.error();
  return std::optional<Section>{std::move(*s)};
}

Result<std::vector<std::string>> Section::strings_or(std::string_view key) const {
  std::vector<std::string> out;
  const toml::node* n = tbl(table_).get(key);
  if (n == nullptr) return out;
  if (!n->is_array()) return error(key, "must be an array of strings, got " + type_name(*n));
  const toml::array& arr = *n->as_array();
  for (std::size_t i = 0; i < arr.size(); ++i) {
    if (!arr[i].is_string()) return error(key, "must be an array of strings (item " + std::to_string(i + 1) + " is not)");
    out.push_back(arr[i].as_string()->get());
  }
  return out;
}

Result<std::vector<Section>> Section::tables(std::string_view key) const {
  std::vector<Section> out;
  const toml::node* n = tbl(table_).get(key);
  if (n == nullptr) return out;
  if (!n->is_array_of_tables()) return error(key, "must be an array of tables ([[" + std::string(key) + "]])");
  const toml::array& arr = *n->as_array();
  for (std::size_t i = 0; i < arr.size(); ++i) {
    Section s;
    s.doc_ = doc_;
    s.table_ = arr[i].as_table();
    s.prefix_ = path(key) + "[" + std::to_string(i) + "].";
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<std::string> Section::keys() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : tbl(table_)) out.emplace_back(k.str());
  return out;
}

Status Section::reject_unknown(std::initializer_list<std::string_view> known) const {
  for (const auto& [k, v] : tbl(table_)) {
    bool ok = false;
    for (auto name : known)
      if (k.str() == name) ok = true;
    if (!ok) {
      std::string list;
      for (auto name : known) {
        if (!list.empty()) list += ", ";
        list += name;
      }
      return error(k.str(), "unknown key (expected one of: " + list + ")");
    }
  }
  return {};
}

std::filesystem::path Section::resolve_path(const std::string& value) const {
  std::filesystem::path p(value);
  if (p.is_absolute()) return p;
  return doc_->source.parent_path() / p;
}

Result<Document> Document::load_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error::invalid(path.string() + ": cannot read config file");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse(ss.str(), path);
}

Result<Document> Document::parse(std::string_view text, const std::filesystem::path& source_name) {
  auto data = std::make_shared<DocumentData>();
  data->source = source_name;
  try {
    data->root = toml::parse(text, source_name.string());
  } catch (const toml::parse_error& err) {
    std::ostringstream os;
    os << source_name.string() << ":" << err.source().begin.line << ":" << err.source().begin.column << ": "
       << err.description();
    return Error::invalid(os.str());
  }
  Document d;
  d.data_ = std::move(data);
  return d;
}

Section Document::root() const {
  Section s;
  s.doc_ = data_;
  s.table_ = &data_->root;
  return s;
}

}  // namespace lg::config
