// labgatectl: admin CLI over the server's HTTP API (docs/INTERFACES.md).
#include <cstdlib>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "http_client.hpp"
#include "import_plan.hpp"
#include "table.hpp"

namespace {

using nlohmann::json;
using namespace lg::ctl;

struct Globals {
  std::string url = "http://127.0.0.1:8080";
  std::string token;
  bool raw_json = false;
};

/// Percent-encodes a query value.
std::string encode_query(const std::string& v) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (const unsigned char c : v) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == ':') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

/// Appends "name=value" to a query string if value is non-empty.
void add_query(std::string& path, const std::string& name, const std::string& value) {
  if (value.empty()) return;
  path += (path.find('?') == std::string::npos ? '?' : '&');
  path += name + "=" + encode_query(value);
}

/// The server's {"error"} text of a failed answer, or the raw body.
std::string error_text(const HttpResponse& r) {
  const json j = json::parse(r.body, nullptr, false);
  if (j.is_object() && j.contains("error") && j["error"].is_string()) return j["error"].get<std::string>();
  return r.body.empty() ? "(empty answer)" : r.body;
}

/// Sends a request; on transport failure or a non-2xx answer prints why and returns nullopt.
std::optional<json> call(const Globals& g, const std::string& method, const std::string& path,
                         const std::string& body = {}, const std::string& what = {}) {
  auto r = http_request(method, join_url(g.url, path), g.token, body);
  if (!r) {
    std::cerr << "labgatectl: " << r.error().reason << "\n";
    return std::nullopt;
  }
  if (r->status < 200 || r->status > 299) {
    std::cerr << "labgatectl: " << (what.empty() ? method + " " + path : what) << ": HTTP " << r->status << ": "
              << error_text(*r) << "\n";
    return std::nullopt;
  }
  if (r->body.empty()) return json::object();
  json j = json::parse(r->body, nullptr, false);
  if (j.is_discarded()) {
    std::cerr << "labgatectl: " << method << " " << path << ": answer is not JSON\n";
    return std::nullopt;
  }
  return j;
}

/// Prints raw JSON (--json) or the table made by `view`.
template <typename View>
int show(const Globals& g, const std::optional<json>& j, View view) {
  if (!j) return 1;
  if (g.raw_json) {
    std::cout << j->dump(2) << "\n";
  } else {
    std::cout << render(view(*j));
  }
  return 0;
}

int run_import(const Globals& g, const std::string& file) {
  auto text = read_whole_file(file);
  if (!text) {
    std::cerr << "labgatectl: import: " << text.error().reason << "\n";
    return 1;
  }
  const json doc = json::parse(*text, nullptr, false);
  if (doc.is_discarded()) {
    std::cerr << "labgatectl: import: " << file << " is not valid JSON\n";
    return 1;
  }
  auto steps = plan_import(doc, std::filesystem::path(file).parent_path(), read_whole_file);
  if (!steps) {
    std::cerr << "labgatectl: import: " << steps.error().reason << "\n";
    return 1;
  }
  std::size_t done = 0;
  for (const ImportStep& s : *steps) {
    auto r = call(g, "POST", s.route, s.body.dump(), "import " + s.label);
    if (!r) {
      std::cerr << "labgatectl: import stopped after " << done << " of " << steps->size() << " entities\n";
      return 1;
    }
    ++done;
    if (g.raw_json) std::cout << json{{"created", s.label}, {"answer", *r}}.dump() << "\n";
    else std::cout << "created " << s.label << "\n";
  }
  if (!g.raw_json) std::cout << "imported " << done << " entities\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Globals g;
  CLI::App app{"labgatectl: admin CLI for the labgate server"};
  app.require_subcommand(1);
  app.add_option("--url", g.url, "Server base URL")->envname("LABGATE_URL")->capture_default_str();
  app.add_option("--token", g.token, "Admin token (Authorization: Bearer)")->envname("LABGATE_TOKEN");
  app.add_flag("--json", g.raw_json, "Print the server's JSON instead of tables");

  auto* health = app.add_subcommand("health", "Server health (no token needed)");
  auto* terminals = app.add_subcommand("terminals", "Terminals and their sync state");

  auto* report = app.add_subcommand("report", "Monthly usage report");
  std::string month;
  std::string by = "instrument";
  report->add_option("--month", month, "YYYY-MM (default: current month)")
      ->check([](const std::string& m) -> std::string {
        bool ok = m.size() == 7 && m[4] == '-';
        for (std::size_t i = 0; ok && i < m.size(); ++i) ok = i == 4 || std::isdigit(static_cast<unsigned char>(m[i]));
        ok = ok && m.substr(5) >= "01" && m.substr(5) <= "12";
        return ok ? std::string() : "month must be YYYY-MM";
      });
  report->add_option("--by", by, "Group rows by")->check(CLI::IsMember({"instrument", "user", "month"}))->capture_default_str();

  auto* sessions = app.add_subcommand("sessions", "Usage sessions with their charge, newest first");
  int s_limit = 50;
  std::string s_instrument;
  std::string s_user;
  sessions->add_option("--limit", s_limit, "Most rows")->check(CLI::Range(1, 100000))->capture_default_str();
  sessions->add_option("--instrument", s_instrument, "Only this instrument");
  sessions->add_option("--user", s_user, "Only this user");

  auto* access = app.add_subcommand("access", "Access decisions, newest first");
  int a_limit = 50;
  std::string a_terminal;
  std::string a_decision;
  access->add_option("--limit", a_limit, "Most rows")->check(CLI::Range(1, 100000))->capture_default_str();
  access->add_option("--terminal", a_terminal, "Only this terminal");
  access->add_option("--decision", a_decision, "granted or denied")->check(CLI::IsMember({"granted", "denied"}));

  auto* stats = app.add_subcommand("stats", "Ingest counters");

  auto* import = app.add_subcommand("import", "Create entities from a JSON file, in dependency order");
  std::string import_file;
  import->add_option("FILE", import_file, "JSON file")->required()->check(CLI::ExistingFile);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;  // --help is 0; any usage error is 2
  }

  if (health->parsed()) {
    auto j = call(g, "GET", "/api/health");
    if (!j) return 1;
    if (g.raw_json) std::cout << j->dump(2) << "\n";
    else std::cout << "ok=" << cell(j->value("ok", json())) << " site=" << cell(j->value("site", json()))
                   << " version=" << cell(j->value("version", json())) << "\n";
    return j->value("ok", false) ? 0 : 1;
  }
  if (terminals->parsed()) return show(g, call(g, "GET", "/api/terminals"), terminals_table);
  if (report->parsed()) {
    std::string path = "/api/reports/usage";
    add_query(path, "month", month);
    add_query(path, "by", by);
    auto j = call(g, "GET", path);
    if (j && !g.raw_json) {
      std::cout << "usage " << cell(j->value("month", json(month))) << " by " << cell(j->value("by", json(by)))
                << " (" << cell(j->value("currency", json("CNY"))) << ")\n";
    }
    return show(g, j, report_table);
  }
  if (sessions->parsed()) {
    std::string path = "/api/sessions";
    add_query(path, "instrument", s_instrument);
    add_query(path, "user", s_user);
    add_query(path, "limit", std::to_string(s_limit));
    return show(g, call(g, "GET", path), [](const json& j) {
      return objects_table(j, {"id", "session", "instrument", "resource", "user", "card", "start", "end", "start_ms",
                               "end_ms", "duration_ms", "seconds", "energy_wh", "end_reason", "amount_fen", "charge"});
    });
  }
  if (access->parsed()) {
    std::string path = "/api/access-events";
    add_query(path, "terminal", a_terminal);
    add_query(path, "decision", a_decision);
    add_query(path, "limit", std::to_string(a_limit));
    return show(g, call(g, "GET", path), [](const json& j) {
      return objects_table(j, {"time", "ts", "ts_ms", "terminal", "resource", "output", "card", "user", "decision",
                               "reason", "mode", "acl_version", "booking"});
    });
  }
  if (stats->parsed()) return show(g, call(g, "GET", "/api/stats"), key_value_table);
  if (import->parsed()) return run_import(g, import_file);
  return 1;
}
