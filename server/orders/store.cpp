#include "server/orders/store.hpp"

namespace lg::server::orders {

namespace {
std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  if (text.empty()) return out;
  std::size_t at = 0;
  for (;;) {
    const auto nl = text.find('\n', at);
    out.push_back(text.substr(at, nl == std::string::npos ? std::string::npos : nl - at));
    if (nl == std::string::npos) break;
    at = nl + 1;
  }
  return out;
}
}  // namespace

std::string encode_names(const std::vector<std::string>& names) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) out += (i ? "\n" : "") + names[i];
  return out;
}

std::vector<std::string> decode_names(const std::string& text) { return lines_of(text); }

std::string encode_params(const std::vector<Param>& params) {
  std::string out;
  for (std::size_t i = 0; i < params.size(); ++i) out += (i ? "\n" : "") + params[i].key + "\t" + params[i].value;
  return out;
}

std::vector<Param> decode_params(const std::string& text) {
  std::vector<Param> out;
  for (const auto& line : lines_of(text)) {
    const auto tab = line.find('\t');
    if (tab == std::string::npos) out.push_back(Param{line, ""});
    else out.push_back(Param{line.substr(0, tab), line.substr(tab + 1)});
  }
  return out;
}

}  // namespace lg::server::orders
