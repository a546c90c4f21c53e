#include "import_plan.hpp"

#include <fstream>
#include <sstream>

namespace lg::ctl {

const std::vector<std::string_view>& import_sections() {
  static const std::vector<std::string_view> sections = {
      "units", "labs", "instruments", "fee_standards", "users", "cards", "qualifications", "bookings", "terminals"};
  return sections;
}

std::string import_route(std::string_view section) {
  for (const auto s : import_sections()) {
    if (s == section) {
      std::string route = "/api/" + std::string(section);
      for (auto& c : route) {
        if (c == '_') c = '-';
      }
      return route;
    }
  }
  return "";
}

namespace {

std::string label_of(std::string_view section, std::size_t index, const nlohmann::json& obj) {
  std::string label = std::string(section) + "[" + std::to_string(index) + "]";
  std::string name;
  for (const char* key : {"id", "uid"}) {
    if (auto it = obj.find(key); it != obj.end() && it->is_string()) {
      name = it->get<std::string>();
      break;
    }
  }
  if (name.empty()) {  // qualifications, bookings, fee standards: user/instrument
    for (const char* key : {"user", "instrument"}) {
      if (auto it = obj.find(key); it != obj.end() && it->is_string())
        name += (name.empty() ? "" : " ") + std::string(key) + "=" + it->get<std::string>();
    }
  }
  return name.empty() ? label : label + " (" + name + ")";
}

}  // namespace

Result<std::vector<ImportStep>> plan_import(const nlohmann::json& doc, const std::filesystem::path& base_dir,
                                            const FileReader& read_file) {
  if (!doc.is_object()) return Error::invalid("import file: top level must be a JSON object");
  for (const auto& [key, value] : doc.items()) {
    if (import_route(key).empty()) {
      std::string known;
      for (const auto s : import_sections()) known += (known.empty() ? "" : ", ") + std::string(s);
      return Error::invalid("import file: unknown section \"" + key + "\" (expected " + known + ")");
    }
    if (!value.is_array()) return Error::invalid("import file: \"" + key + "\" must be an array");
  }
  std::vector<ImportStep> steps;
  for (const auto section : import_sections()) {
    const auto it = doc.find(section);
    if (it == doc.end()) continue;
    for (std::size_t i = 0; i < it->size(); ++i) {
      const nlohmann::json& obj = (*it)[i];
      const std::string where = std::string(section) + "[" + std::to_string(i) + "]";
      if (!obj.is_object()) return Error::invalid("import file: " + where + " must be an object");
      ImportStep step{std::string(section), i, label_of(section, i, obj), import_route(section), obj};
      if (section == "terminals") {
        const bool has_key = obj.contains("public_key");
        const auto file = obj.find("public_key_file");
        if (file != obj.end()) {
          if (has_key) return Error::invalid("import file: " + where + ": give public_key or public_key_file, not both");
          if (!file->is_string() || file->get<std::string>().empty())
            return Error::invalid("import file: " + where + ".public_key_file must be a non-empty string");
          std::filesystem::path p = file->get<std::string>();
          if (p.is_relative()) p = base_dir / p;
          auto pem = read_file(p);
          if (!pem) return Error::invalid("import file: " + where + ".public_key_file: " + pem.error().message());
          step.body.erase("public_key_file");
          step.body["public_key"] = std::move(pem.value());
        } else if (!has_key) {
          return Error::invalid("import file: " + where + ": needs public_key or public_key_file");
        }
      }
      steps.push_back(std::move(step));
    }
  }
  return steps;
}

Result<std::string> read_whole_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error::from(std::make_error_code(std::errc::no_such_file_or_directory), "cannot read " + path.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace lg::ctl
