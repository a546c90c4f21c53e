// labgatectl: admin CLI over the server's HTTP API (docs/INTERFACES.md).
#include <iconv.h>

#include <algorithm>
#include <filesystem>
#include <cstdlib>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "labgate/common/csv.hpp"
#include "labgate/common/defaults.hpp"
#include "labgate/common/log.hpp"
#include "labgate/common/protocol.hpp"
#include "labgate/common/time.hpp"

#include "credentials.hpp"
#include "http_client.hpp"
#include "import_plan.hpp"
#include "table.hpp"

namespace {

using nlohmann::json;
using namespace lg::ctl;

/// The most rows one request may ask for; --limit and --page-size stay within it too.
constexpr int kMaxRows = static_cast<int>(lg::defaults::kMaxPageSize);

struct Globals {
  std::string url = "http://127.0.0.1:8080";
  std::string token;
  bool raw_json = false;  ///< --json: the same as --format json
  Format format = Format::table;
  int page_size = kMaxRows;  ///< rows asked for per request when a list is read page by page
  std::string tz;            ///< --tz; empty: the server's zone (GET /api/health), else the default
};

/// CLI11 check of a row count (--limit, --page-size): 1..kMaxRows, with the reason in the error.
CLI::Validator rows_range() {
  return CLI::Validator(
      [](std::string& v) -> std::string {
        int n = 0;
        const bool number = !v.empty() && v.size() <= 9 && std::all_of(v.begin(), v.end(), [](char c) {
          return c >= '0' && c <= '9';
        });
        if (number) n = std::stoi(v);
        if (!number || n < 1 || n > kMaxRows) {
          return "must be 1.." + std::to_string(kMaxRows) + " (the most rows the server gives at once), got " +
                 lg::log::escape(v);
        }
        return {};
      },
      "1.." + std::to_string(kMaxRows), "rows");
}

/// The time zone times are shown in: --tz if given; else the server's (time_zone of GET
/// /api/health); else lg::defaults::kTimeZone.
std::string site_zone(const Globals& g) {
  if (!g.tz.empty()) return g.tz;
  auto r = http_request("GET", join_url(g.url, "/api/health"), g.token, {});
  if (r && r->status == 200) {
    const json j = json::parse(r->body, nullptr, false);
    if (j.is_object() && j.contains("time_zone") && j["time_zone"].is_string()) {
      const std::string tz = j["time_zone"].get<std::string>();
      if (lg::time::format_local_offset(0, tz)) return tz;
    }
  }
  return std::string(lg::defaults::kTimeZone);
}

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

/// A successful answer: its JSON body and its Link header.
struct Answer {
  json body;
  std::string link;
};

/// Sends a request to path (a server path, or an absolute http:// URL of the same server from a
/// Link header); on transport failure or a non-2xx answer prints why and returns nullopt.
std::optional<Answer> send(const Globals& g, const std::string& method, const std::string& path,
                           const std::string& body = {}, const std::string& what = {}) {
  const std::string url = path.starts_with("http://") ? path : join_url(g.url, path);
  auto r = http_request(method, url, g.token, body);
  if (!r) {
    std::cerr << "labgatectl: " << r.error().reason << "\n";
    return std::nullopt;
  }
  if (r->status < 200 || r->status > 299) {
    std::cerr << failure_line(what.empty() ? method + " " + path : what, r->status, error_text(*r), r->retry_after_s,
                              !g.token.empty())
              << "\n";
    return std::nullopt;
  }
  if (r->body.empty()) return Answer{json::object(), r->link};
  json j = json::parse(r->body, nullptr, false);
  if (j.is_discarded()) {
    std::cerr << "labgatectl: " << method << " " << path << ": answer is not JSON\n";
    return std::nullopt;
  }
  return Answer{std::move(j), r->link};
}

/// Sends a request; the answer's JSON body, or nullopt (after printing why).
std::optional<json> call(const Globals& g, const std::string& method, const std::string& path,
                         const std::string& body = {}, const std::string& what = {}) {
  auto a = send(g, method, path, body, what);
  if (!a) return std::nullopt;
  return std::move(a->body);
}

/// GET of a paged list (a JSON array per page): reads pages from path, following each answer's
/// Link rel="next", until max_rows rows or the last page. Says on stderr when rows were left.
std::optional<json> call_list(const Globals& g, std::string path, int max_rows) {
  add_query(path, "limit", std::to_string(std::min(g.page_size, max_rows)));
  json all = json::array();
  std::string next = path;
  while (!next.empty()) {
    auto a = send(g, "GET", next);
    if (!a) return std::nullopt;
    if (!a->body.is_array()) {
      std::cerr << "labgatectl: GET " << next << ": answer is not a list\n";
      return std::nullopt;
    }
    const std::string more = next_link(a->link);
    for (auto& row : a->body) {
      if (static_cast<int>(all.size()) == max_rows) {
        std::cerr << "labgatectl: showing the first " << max_rows << " rows; more follow\n";
        return all;
      }
      all.push_back(std::move(row));
    }
    if (!more.empty() && static_cast<int>(all.size()) == max_rows) {
      std::cerr << "labgatectl: showing the first " << max_rows << " rows; more follow\n";
      return all;
    }
    next = more;
  }
  return all;
}

/// "YYYY-MM" check for CLI options.
std::string check_month(const std::string& m) {
  bool ok = m.size() == 7 && m[4] == '-';
  for (std::size_t i = 0; ok && i < m.size(); ++i) ok = i == 4 || std::isdigit(static_cast<unsigned char>(m[i]));
  ok = ok && m.substr(5) >= "01" && m.substr(5) <= "12";
  return ok ? std::string() : "month must be YYYY-MM";
}

/// Adds --month / --from / --to (a period of whole months in the site's zone) to a command.
/// Nothing is sent when none is given: the server then takes its current month in the site's zone.
void add_period(CLI::App* cmd, std::string& month, std::string& from, std::string& to) {
  auto* m = cmd->add_option("--month", month,
                            "YYYY-MM; without --month or --from/--to the server's current month "
                            "(in the site's time zone)")
                ->check(check_month);
  auto* f = cmd->add_option("--from", from, "First month YYYY-MM (with --to; at most 12 months)")->check(check_month);
  auto* t = cmd->add_option("--to", to, "Last month YYYY-MM (with --from)")->check(check_month);
  f->needs(t);
  t->needs(f);
  m->excludes(f);
  m->excludes(t);
}

/// Prints the server's JSON (--format json), or the table made by `view` as a table or as CSV.
template <typename View>
int show(const Globals& g, const std::optional<json>& j, View view) {
  if (!j) return 1;
  switch (g.format) {
    case Format::json: std::cout << j->dump(2) << "\n"; break;
    case Format::csv: std::cout << render_csv(view(*j)); break;
    case Format::table: std::cout << render(view(*j)); break;
  }
  return 0;
}

/// Like show(), for views that show instants: `view(json, tz)` gets the site's time zone.
template <typename View>
int show_times(const Globals& g, const std::optional<json>& j, View view) {
  if (!j) return 1;
  if (g.format == Format::json) return show(g, j, [](const json&) { return Table{}; });
  const std::string tz = site_zone(g);
  return show(g, j, [&](const json& v) { return view(v, tz); });
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
    if (g.format == Format::json)
      std::cout << json{{"created", s.label}, {"answer", *r}}.dump() << "\n";
    else std::cout << "created " << s.label << "\n";
  }
  if (g.format != Format::json) std::cout << "imported " << done << " entities\n";
  return 0;
}

/// The text of a CSV file as UTF-8: as it is when valid UTF-8 (a BOM is left for the server to
/// skip), else converted from GBK (GB18030, a superset) with iconv.
lg::Result<std::string> csv_text_utf8(const std::string& path) {
  auto raw = read_whole_file(path);
  if (!raw) return raw.error();
  if (lg::csv::valid_utf8(*raw)) return *raw;
  iconv_t cd = iconv_open("UTF-8", "GB18030");
  if (cd == reinterpret_cast<iconv_t>(-1)) return lg::Error::invalid(path + ": not UTF-8, and GBK cannot be converted here");
  std::string out(raw->size() * 2 + 16, '\0');
  char* in_p = raw->data();
  std::size_t in_left = raw->size();
  char* out_p = out.data();
  std::size_t out_left = out.size();
  const std::size_t rc = iconv(cd, &in_p, &in_left, &out_p, &out_left);
  iconv_close(cd);
  if (rc == static_cast<std::size_t>(-1))
    return lg::Error::invalid(path + ": neither UTF-8 nor GBK (byte " + std::to_string(raw->size() - in_left) + ")");
  out.resize(out.size() - out_left);
  return out;
}

int run_csv_import(const Globals& g, const std::vector<std::string>& specs, bool dry_run) {
  json files = json::array();
  for (const auto& spec : specs) {
    std::string kind, path = spec;
    if (auto eq = spec.find('='); eq != std::string::npos && spec.find('/') > eq) {
      kind = spec.substr(0, eq);
      path = spec.substr(eq + 1);
    } else {
      kind = std::filesystem::path(path).stem().string();
    }
    auto text = csv_text_utf8(path);
    if (!text) {
      std::cerr << "labgatectl: import: " << text.error().reason << "\n";
      return 1;
    }
    files.push_back(json{{"kind", kind}, {"name", std::filesystem::path(path).filename().string()}, {"text", *text}});
  }
  auto r = call(g, "POST", "/api/import", json{{"dry_run", dry_run}, {"files", files}}.dump(), "import");
  if (!r) return 1;
  if (g.format == Format::json) {
    std::cout << r->dump(2) << "\n";
    return 0;
  }
  const json counts = r->contains("counts") ? (*r)["counts"] : json::object();
  for (const auto& [kind, by] : counts.items()) {
    std::cout << (dry_run ? "would import " : "imported ") << kind << ": " << by.value("created", 0) << " created, "
              << by.value("updated", 0) << " updated, " << by.value("unchanged", 0) << " unchanged\n";
  }
  if (dry_run) std::cout << "dry run: nothing changed\n";
  return 0;
}

/// A password typed by a person (read_secret), or nullopt after saying why.
std::optional<std::string> ask(const std::string& prompt) {
  auto pw = read_secret(prompt);
  if (!pw) {
    std::cerr << "labgatectl: " << pw.error().reason << "\n";
    return std::nullopt;
  }
  return *pw;
}

/// A new password: one line of stdin, or asked twice on a terminal (the two must match).
std::optional<std::string> ask_new(const std::string& what) {
  auto pw = ask(what + ": ");
  if (!pw || !stdin_is_terminal()) return pw;
  auto again = ask("Again: ");
  if (!again) return std::nullopt;
  if (*again != *pw) {
    std::cerr << "labgatectl: the two passwords differ; nothing changed\n";
    return std::nullopt;
  }
  return pw;
}

/// Prints the answer of a change: its JSON (--format json), else the sentence.
int said(const Globals& g, const std::optional<json>& j, const std::string& sentence) {
  if (!j) return 1;
  if (g.format == Format::json)
    std::cout << j->dump(2) << "\n";
  else
    std::cout << sentence << "\n";
  return 0;
}

/// The path segment of an id.
std::string seg(const std::string& id) { return encode_query(id); }

}  // namespace

int main(int argc, char** argv) {
  Globals g;
  CLI::App app{"labgatectl: admin CLI for the labgate server"};
  app.require_subcommand(1);
  app.add_option("--url", g.url, "Server base URL")->envname("LABGATE_URL")->capture_default_str();
  app.add_option("--token", g.token,
                 "Bearer token: a session or personal token, or the bootstrap admin token (default: env "
                 "LABGATE_TOKEN, else the token file `login` wrote: $LABGATE_TOKEN_FILE or "
                 "${XDG_CONFIG_HOME:-~/.config}/labgate/token)")
      ->envname("LABGATE_TOKEN");
  std::string format_name;
  app.add_option("--format", format_name,
                 "table (default), json (the server's JSON; times as the API sends them, RFC 3339) or csv (RFC 4180: "
                 "the table's columns and times, a header row, fields with , \" CR or LF quoted, lines ending in \\n "
                 "not CRLF, no totals line)")
      ->check(CLI::IsMember({"table", "json", "csv"}));
  app.add_flag("--json", g.raw_json, "The same as --format json");
  app.add_option("--tz", g.tz,
                 "Time zone of the times in tables, e.g. Asia/Shanghai (default: the server's site zone from "
                 "GET /api/health, or " + std::string(lg::defaults::kTimeZone) + " if it does not say)")
      ->envname("LABGATE_TZ")
      ->check([](const std::string& tz) -> std::string {
        auto ok = lg::time::format_local_offset(0, tz);
        return ok ? std::string() : lg::log::escape(ok.error().reason);
      });

  auto* health = app.add_subcommand("health", "Server health (no token needed)");
  auto* terminals = app.add_subcommand("terminals", "Terminals and their sync state");

  app.add_option("--page-size", g.page_size, "Rows per request when reading a list page by page")
      ->check(rows_range())
      ->capture_default_str();

  auto* report = app.add_subcommand("report", "Usage report of a month (or up to 12 months)");
  std::string month;
  std::string from;
  std::string to;
  std::string by = "instrument";
  add_period(report, month, from, to);
  report->add_option("--by", by, "Group rows by")->check(CLI::IsMember({"instrument", "user", "month"}))->capture_default_str();

  auto* charges = app.add_subcommand("charges", "Charges of a month (or up to 12 months), oldest first");
  std::string c_month;
  std::string c_from;
  std::string c_to;
  int c_limit = 1000;
  add_period(charges, c_month, c_from, c_to);
  charges->add_option("--limit", c_limit, "Most rows")->check(rows_range())->capture_default_str();

  auto* sessions = app.add_subcommand("sessions", "Usage sessions with their charge, newest first");
  int s_limit = 50;
  std::string s_instrument;
  std::string s_user;
  sessions->add_option("--limit", s_limit, "Most rows")->check(rows_range())->capture_default_str();
  sessions->add_option("--instrument", s_instrument, "Only this instrument");
  sessions->add_option("--user", s_user, "Only this user");

  auto* access = app.add_subcommand("access", "Access decisions, newest first");
  int a_limit = 50;
  std::string a_terminal;
  std::string a_decision;
  access->add_option("--limit", a_limit, "Most rows")->check(rows_range())->capture_default_str();
  access->add_option("--terminal", a_terminal, "Only this terminal");
  access->add_option("--decision", a_decision, "granted or denied")->check(CLI::IsMember({"granted", "denied"}));

  auto* stats = app.add_subcommand("stats", "Ingest counters");

  auto* import = app.add_subcommand(
      "import", "Create entities from a JSON file, in dependency order; or upsert CSV files from HR/student "
                "systems (--csv) in one transaction");
  std::string import_file;
  std::vector<std::string> import_csvs;
  bool import_dry_run = false;
  auto* json_file = import->add_option("FILE", import_file, "JSON file")->check(CLI::ExistingFile);
  auto* csv_files = import->add_option(
      "--csv", import_csvs,
      "[KIND=]FILE.csv, repeatable; KIND units|users|groups|members|cards (default: the file's name, e.g. "
      "users.csv); UTF-8 "
      "with or without BOM, or GBK");
  import->add_flag("--dry-run", import_dry_run, "with --csv: print what would change, change nothing");
  json_file->excludes(csv_files);
  csv_files->excludes(json_file);

  // Provisioning: a one-time enrolment token for a device, revocation, a terminal's certificates.
  auto* term = app.add_subcommand("terminal",
                                  "Provision terminals: enrolment tokens, revocation, certificates, remote commands");
  term->require_subcommand(1);
  std::string term_id, term_resource, term_reason;
  int64_t term_ttl = 0;
  auto* term_token = term->add_subcommand(
      "enrol-token", "A one-time token: on the device, labgate-terminal --config F enrol --server URL --token TOKEN");
  term_token->add_option("--id", term_id, "The terminal id (its certificate's name)")->required();
  term_token->add_option("--resource", term_resource, "The instrument or door it serves")->required();
  term_token->add_option("--ttl", term_ttl, "Seconds the token may be used (default: the server's pki.enrol_token_hours)");
  auto* term_revoke = term->add_subcommand("revoke", "Revoke a terminal: cut off at the broker and refused by the server");
  term_revoke->add_option("ID", term_id, "Terminal id")->required();
  term_revoke->add_option("--reason", term_reason, "Why (kept with the revocation)")->required();
  auto* term_certs = term->add_subcommand("certificates", "The certificates issued to a terminal");
  term_certs->add_option("ID", term_id, "Terminal id")->required();
  // Remote commands (docs/PROTOCOL.md "Remote commands"): signed by the server, answered on cmdres.
  std::string term_kind;
  int64_t term_cmd_ttl = 0;
  std::vector<std::string> term_kinds;
  for (auto k : {lg::proto::CommandKind::unlock, lg::proto::CommandKind::lock, lg::proto::CommandKind::resync,
                 lg::proto::CommandKind::video})
    term_kinds.emplace_back(lg::proto::to_string(k));
  auto* term_command = term->add_subcommand(
      "command", "Send a signed remote command to a terminal (resync: it writes its bundle again; unlock, lock, "
                 "video: answered unsupported until the terminal serves them)");
  term_command->add_option("ID", term_id, "Terminal id")->required();
  term_command->add_option("KIND", term_kind, "What to do")->required()->check(CLI::IsMember(term_kinds));
  term_command->add_option("--ttl", term_cmd_ttl, "Seconds the command stays valid (default 300, at most 86400)")
      ->check(CLI::Range(int64_t{1}, lg::proto::kMaxCommandLifetimeMs / 1000));
  auto* term_command_result =
      term->add_subcommand("command-result", "The last answer a terminal sent to a command (since the server started)");
  term_command_result->add_option("ID", term_id, "Terminal id")->required();

  // Card lifecycle: report lost (refused at the terminals from the next bundle), revoke, replace.
  auto* card = app.add_subcommand("card", "A card's lifecycle: lost, revoke, replace");
  card->require_subcommand(1);
  std::string card_uid, new_uid, card_until;
  auto* card_lost = card->add_subcommand("lost", "Report a card lost: revoked at once, refused as card_revoked");
  card_lost->add_option("UID", card_uid, "Card UID")->required();
  auto* card_revoke = card->add_subcommand("revoke", "Revoke a card: refused as card_revoked");
  card_revoke->add_option("UID", card_uid, "Card UID")->required();
  auto* card_replace = card->add_subcommand("replace", "Issue a new card to the holder of UID, ending UID");
  card_replace->add_option("UID", card_uid, "Card UID being replaced")->required();
  card_replace->add_option("NEW_UID", new_uid, "The new card's UID")->required();
  card_replace->add_option("--until", card_until, "A temporary card: RFC 3339 end, e.g. 2026-12-31T16:00:00Z");

  // User lifecycle: pending -> active -> suspended -> left (docs/INTERFACES.md).
  auto* user = app.add_subcommand("user", "A user's status: activate, suspend, leave; set their password");
  user->require_subcommand(1);
  std::string user_id, user_reason;
  const std::pair<const char*, const char*> kStatuses[] = {
      {"activate", "active"}, {"suspend", "suspended"}, {"leave", "left"}};
  std::vector<std::pair<CLI::App*, std::string>> user_cmds;
  for (const auto& [verb, status] : kStatuses) {
    auto* c = user->add_subcommand(verb, std::string("Set the user's status to ") + status);
    c->add_option("ID", user_id, "User id")->required();
    c->add_option("--reason", user_reason, "Why (kept with the status)");
    user_cmds.emplace_back(c, status);
  }
  auto* user_password = user->add_subcommand(
      "password", "Set the user's local password (their sessions end); read from stdin, or asked twice on a terminal");
  user_password->add_option("ID", user_id, "User id")->required();

  // Sign-in (docs/INTERFACES.md, docs/RIGHTS.md): the session token is kept in the token file.
  auto* login = app.add_subcommand(
      "login",
      "Sign in: the password is read from stdin, or asked without echo on a terminal; the session token "
      "is kept in the token file");
  std::string login_user;
  bool login_ldap = false;
  login->add_option("USER", login_user, "User id")->required();
  login->add_flag("--ldap", login_ldap, "Check the password against the site's LDAP directory");
  auto* logout = app.add_subcommand("logout", "End this session and remove the token file");
  auto* whoami = app.add_subcommand("whoami", "Who the token is: user, name, status, roles, rights");
  auto* password = app.add_subcommand(
      "password", "Change your own password: old then new, from two lines of stdin, or asked on a terminal");

  auto* token_cmd = app.add_subcommand("token", "Your personal API tokens: create, list, revoke");
  token_cmd->require_subcommand(1);
  auto* token_create = token_cmd->add_subcommand("create", "Make a personal token; its secret is shown only once");
  std::string tok_name, tok_id;
  int tok_days = 0;
  std::vector<std::string> tok_rights;
  token_create->add_option("NAME", tok_name, "What the token is for, e.g. nightly-report")->required();
  token_create->add_option("--days", tok_days, "Days it lives (at most the server's personal_token_max_days)")
      ->required()
      ->check(CLI::Range(1, 100000));
  token_create->add_option("--right", tok_rights,
                           "A right the token holds, repeatable, e.g. usage_read (default: all of yours)");
  auto* token_list = token_cmd->add_subcommand("list", "Your personal tokens");
  auto* token_revoke = token_cmd->add_subcommand("revoke", "Revoke one of your personal tokens");
  token_revoke->add_option("ID", tok_id, "Token id (token list)")->required();

  auto* session_cmd = app.add_subcommand("session", "Your sign-in sessions: list, revoke");
  session_cmd->require_subcommand(1);
  auto* session_list = session_cmd->add_subcommand("list", "Your sign-in sessions (* marks this one)");
  auto* session_revoke = session_cmd->add_subcommand("revoke", "End one of your sessions");
  session_revoke->add_option("ID", tok_id, "Session id (session list)")->required();

  // Roles (docs/RIGHTS.md): explicit grants in a scope; user and pi follow from the directory.
  auto* role = app.add_subcommand("role", "Role grants: list, grant, revoke");
  role->require_subcommand(1);
  auto* role_list = role->add_subcommand("list", "Role grants (live and revoked) of the users you may see");
  auto* role_grant = role->add_subcommand(
      "grant",
      "Grant a role: system_admin (site-wide), unit_admin or finance (--scope UNIT), instrument_admin "
      "(--scope INSTRUMENT)");
  std::string rg_user, rg_role, rg_scope, rg_id;
  role_grant->add_option("USER", rg_user, "User id")->required();
  role_grant->add_option("ROLE", rg_role, "Role")
      ->required()
      ->check(CLI::IsMember({"system_admin", "unit_admin", "instrument_admin", "finance"}));
  role_grant->add_option("--scope", rg_scope, "The unit or instrument the role is granted in");
  auto* role_revoke = role->add_subcommand("revoke", "Revoke a grant (kept as history)");
  role_revoke->add_option("GRANT_ID", rg_id, "Grant id (role list)")->required();

  // Registrations of external users, and their approval by the unit's admins.
  auto* reg = app.add_subcommand(
      "register", "Apply for an account as an external user (no token needed); the password is read like login's");
  std::string reg_id, reg_name, reg_unit, reg_category, reg_org, reg_email, reg_phone, reg_id_number;
  reg->add_option("--id", reg_id, "The user id you ask for")->required();
  reg->add_option("--name", reg_name, "Your name")->required();
  reg->add_option("--unit", reg_unit, "The unit you apply to")->required();
  reg->add_option("--category", reg_category, "other_campus, external_academic or enterprise")
      ->required()
      ->check(CLI::IsMember({"other_campus", "external_academic", "enterprise"}));
  reg->add_option("--organisation", reg_org, "Your organisation")->required();
  reg->add_option("--email", reg_email, "E-mail (give --email or --phone)");
  reg->add_option("--phone", reg_phone, "Phone (give --email or --phone)");
  reg->add_option("--id-number", reg_id_number, "ID or passport number");
  auto* approvals = app.add_subcommand("approvals", "Registrations waiting for a decision at the units you run");
  bool approvals_all = false;
  approvals->add_flag("--all", approvals_all, "Every registration, decided ones too");
  auto* approve = app.add_subcommand("approve", "Approve a registration: the user becomes active");
  auto* refuse = app.add_subcommand("refuse", "Refuse a registration with a reason: the account is closed");
  std::string decide_user, decide_reason;
  approve->add_option("USER", decide_user, "The applicant's user id")->required();
  approve->add_option("--reason", decide_reason, "A note kept with the decision");
  refuse->add_option("USER", decide_user, "The applicant's user id")->required();
  refuse->add_option("--reason", decide_reason, "Why (the applicant sees it)")->required();

  // Research groups (课题组) and the people lists.
  auto* group = app.add_subcommand("group", "Research groups: list, create, show, add, remove, retire");
  group->require_subcommand(1);
  std::string grp_id, grp_name, grp_pi, grp_unit, grp_user;
  auto* group_list = group->add_subcommand("list", "Research groups");
  auto* group_create = group->add_subcommand("create", "Create a group; its PI is its first member");
  group_create->add_option("ID", grp_id, "Group id")->required();
  group_create->add_option("--name", grp_name, "Name")->required();
  group_create->add_option("--pi", grp_pi, "The PI's user id")->required();
  group_create->add_option("--unit", grp_unit, "The unit it belongs to");
  auto* group_show = group->add_subcommand("show", "A group's members");
  group_show->add_option("ID", grp_id, "Group id")->required();
  auto* group_add = group->add_subcommand("add", "Add a member");
  group_add->add_option("ID", grp_id, "Group id")->required();
  group_add->add_option("USER", grp_user, "User id")->required();
  auto* group_remove = group->add_subcommand("remove", "Remove a member (not the PI)");
  group_remove->add_option("ID", grp_id, "Group id")->required();
  group_remove->add_option("USER", grp_user, "User id")->required();
  auto* group_retire = group->add_subcommand("retire", "Retire a group (kept with its history)");
  group_retire->add_option("ID", grp_id, "Group id")->required();
  auto* users = app.add_subcommand("users", "Users");
  auto* cards = app.add_subcommand("cards", "Cards and their status");
  int people_limit = kMaxRows;
  users->add_option("--limit", people_limit, "Most rows")->check(rows_range())->capture_default_str();
  cards->add_option("--limit", people_limit, "Most rows")->check(rows_range())->capture_default_str();

  // The ledger (docs/MONEY.md): check its invariants, list accounts with their balances.
  auto* ledger = app.add_subcommand("ledger", "The ledger: check its invariants, list accounts");
  ledger->require_subcommand(1);
  auto* ledger_check = ledger->add_subcommand(
      "check", "Check the ledger: balances equal their transfers, debits equal credits, no account below its "
               "floor, no charge posted twice; exit 1 listing each violation");
  auto* ledger_accounts = ledger->add_subcommand("accounts", "Accounts with their balances (those you may see)");
  std::string la_kind;
  ledger_accounts->add_option("--kind", la_kind, "Only this kind: grant, deposit, credit, arrears, lab_revenue, ...");

  // The audit log (docs/INTERFACES.md): verify the hash chain, list entries.
  auto* audit = app.add_subcommand("audit", "The audit log: verify its hash chain, list its entries");
  audit->require_subcommand(1);
  auto* audit_verify =
      audit->add_subcommand("verify", "Check the audit log's hash chain; exit 1 naming the first broken entry");
  auto* audit_list = audit->add_subcommand("list", "Audit entries, newest first");
  std::string au_entity, au_entity_id, au_actor, au_from, au_to;
  int au_limit = 50;
  audit_list->add_option("--entity", au_entity, "Only this kind of entity, e.g. booking, fee_standard");
  audit_list->add_option("--id", au_entity_id, "Only this entity id (with --entity)");
  audit_list->add_option("--actor", au_actor, "Only changes by this actor, e.g. admin-token");
  audit_list->add_option("--from", au_from, "From this instant (RFC 3339, e.g. 2026-03-01T00:00:00Z, or UTC ms)");
  audit_list->add_option("--to", au_to, "Before this instant (RFC 3339 or UTC ms)");
  audit_list->add_option("--limit", au_limit, "Most rows")->check(rows_range())->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;  // --help is 0; any usage error is 2
  }
  if (!format_name.empty()) {
    g.format = *format_from_string(format_name);  // checked by IsMember above
    if (g.raw_json && g.format != Format::json) {
      std::cerr << "labgatectl: --json is --format json; it cannot go with --format " << format_name << "\n";
      return 2;
    }
  } else if (g.raw_json) {
    g.format = Format::json;
  }

  // Who calls: --token / LABGATE_TOKEN, else the token file of `login`. Sign-in and registration
  // go without a token (a stale one would be refused).
  const bool anonymous = login->parsed() || reg->parsed();
  std::filesystem::path token_path;
  bool token_from_file = false;
  if (auto p = token_file_from_env()) token_path = *p;
  if (anonymous) {
    g.token.clear();
  } else if (g.token.empty() && !token_path.empty()) {
    auto t = load_token(token_path);
    if (!t)
      std::cerr << "labgatectl: " << t.error().reason << "\n";
    else
      g.token = *t;
    token_from_file = !g.token.empty();
  }

  if (health->parsed()) {
    auto j = call(g, "GET", "/api/health");
    if (!j) return 1;
    if (g.format == Format::json)
      std::cout << j->dump(2) << "\n";
    else std::cout << "ok=" << cell(j->value("ok", json())) << " site=" << cell(j->value("site", json()))
                   << " version=" << cell(j->value("version", json()))
                   << " time_zone=" << cell(j->value("time_zone", json())) << "\n";
    return j->value("ok", false) ? 0 : 1;
  }
  if (terminals->parsed()) return show_times(g, call_list(g, "/api/terminals", kMaxRows), terminals_table);
  if (report->parsed()) {
    std::string path = "/api/reports/usage";
    add_query(path, "month", month);
    add_query(path, "from", from);
    add_query(path, "to", to);
    add_query(path, "by", by);
    auto j = call(g, "GET", path);
    if (j && g.format == Format::table) {  // CSV is the rows alone
      const json m = j->value("month", json(nullptr));
      const std::string period = m.is_string() ? m.get<std::string>()
                                               : cell(j->value("from", json())) + ".." + cell(j->value("to", json()));
      std::cout << "usage " << period << " by " << cell(j->value("by", json(by))) << " ("
                << cell(j->value("currency", json(lg::defaults::kCurrency))) << ")\n";
    }
    return show(g, j, report_table);
  }
  if (charges->parsed()) {
    std::string path = "/api/charges";
    add_query(path, "month", c_month);
    add_query(path, "from", c_from);
    add_query(path, "to", c_to);
    return show_times(g, call_list(g, path, c_limit), [](const json& j, const std::string& tz) {
      return objects_table(j, {"end", "instrument", "user", "category", "duration_ms", "rate_fen_per_hour",
                               "amount_fen", "currency", "flags", "session"}, tz);
    });
  }
  if (sessions->parsed()) {
    std::string path = "/api/sessions";
    add_query(path, "instrument", s_instrument);
    add_query(path, "user", s_user);
    return show_times(g, call_list(g, path, s_limit), [](const json& j, const std::string& tz) {
      return objects_table(j, {"id", "session", "instrument", "resource", "user", "card", "start", "end", "start_ms",
                               "end_ms", "duration_ms", "seconds", "energy_wh", "end_reason", "amount_fen", "charge"}, tz);
    });
  }
  if (access->parsed()) {
    std::string path = "/api/access-events";
    add_query(path, "terminal", a_terminal);
    add_query(path, "decision", a_decision);
    return show_times(g, call_list(g, path, a_limit), [](const json& j, const std::string& tz) {
      return objects_table(j, {"time", "ts", "ts_ms", "terminal", "resource", "output", "card", "user", "decision",
                               "reason", "mode", "acl_version", "booking"}, tz);
    });
  }
  if (stats->parsed()) return show(g, call(g, "GET", "/api/stats"), key_value_table);
  if (ledger_check->parsed()) {
    auto j = call(g, "GET", "/api/ledger/check");
    if (!j) return 1;
    const bool ok = j->value("ok", false);
    if (g.format == Format::json) {
      std::cout << j->dump(2) << "\n";
    } else {
      std::cout << "ledger: " << cell(j->value("accounts", json())) << " accounts, " << cell(j->value("transfers", json()))
                << " transfers, " << (ok ? "balanced" : "VIOLATIONS:") << "\n";
      for (const auto& v : j->value("violations", json::array())) std::cout << "  " << lg::log::escape(v.get<std::string>()) << "\n";
    }
    return ok ? 0 : 1;
  }
  if (ledger_accounts->parsed()) {
    std::string path = "/api/accounts";
    add_query(path, "kind", la_kind);
    return show(g, call(g, "GET", path), [](const json& j) {
      return objects_table(j, {"id", "kind", "name", "currency", "balance", "available_fen", "held_fen", "overdraft_fen",
                               "group", "unit"},
                           "");
    });
  }
  if (audit_verify->parsed()) {
    auto j = call(g, "GET", "/api/audit/verify");
    if (!j) return 1;
    const bool ok = j->value("ok", false);
    if (g.format == Format::json) {
      std::cout << j->dump(2) << "\n";
    } else if (ok) {
      std::cout << "audit chain: " << cell(j->value("entries", json())) << " entries, intact\n";
    } else {
      std::cout << "audit chain: BROKEN at entry " << cell(j->value("first_broken", json())) << ": "
                << lg::log::escape(j->value("reason", std::string())) << " (" << cell(j->value("entries", json()))
                << " entries before it intact)\n";
    }
    return ok ? 0 : 1;
  }
  if (audit_list->parsed()) {
    std::string path = "/api/audit";
    add_query(path, "entity", au_entity);
    add_query(path, "entity_id", au_entity_id);
    add_query(path, "actor", au_actor);
    add_query(path, "from", au_from);
    add_query(path, "to", au_to);
    return show_times(g, call_list(g, path, au_limit), [](const json& j, const std::string& tz) {
      return objects_table(j, {"seq", "time", "actor", "source", "action", "entity", "entity_id", "request_id"}, tz);
    });
  }
  if (import->parsed()) {
    if (!import_csvs.empty()) return run_csv_import(g, import_csvs, import_dry_run);
    if (import_file.empty()) {
      std::cerr << "labgatectl: import: give a JSON FILE or --csv files\n";
      return 2;
    }
    return run_import(g, import_file);
  }
  if (term->parsed()) {
    if (term_token->parsed()) {
      json body{{"id", term_id}, {"resource", term_resource}};
      if (term_ttl > 0) body["ttl_s"] = term_ttl;
      auto j = call(g, "POST", "/api/terminals/enrolments", body.dump(), "terminal enrol-token " + term_id);
      if (!j) return 1;
      if (g.format == Format::json) {
        std::cout << j->dump(2) << "\n";
      } else {
        std::cout << "enrolment token for " << term_id << " (" << term_resource << "), usable once until "
                  << cell(j->value("expires", json())) << ":\n  " << j->value("token", "")
                  << "\non the device:\n  labgate-terminal --config terminal.toml enrol --server " << g.url
                  << " --token " << j->value("token", "") << "\n";
      }
      return 0;
    }
    if (term_command->parsed()) {
      json body{{"kind", term_kind}};
      if (term_cmd_ttl > 0) body["ttl_s"] = term_cmd_ttl;
      auto j = call(g, "POST", "/api/terminals/" + seg(term_id) + "/commands", body.dump(),
                    "terminal command " + term_id + " " + term_kind);
      return said(g, j,
                  j ? term_kind + " command " + cell(j->value("id", json())) + " sent to " + term_id + ", valid until " +
                          cell(j->value("expires", json())) + "; its answer: labgatectl terminal command-result " +
                          term_id
                    : "");
    }
    if (term_command_result->parsed()) {
      auto j = call(g, "GET", "/api/terminals/" + seg(term_id) + "/commands/last", "",
                    "terminal command-result " + term_id);
      if (!j) return 1;
      if (g.format != Format::table) return show(g, j, key_value_table);
      const std::string reason = j->value("reason", std::string());
      std::cout << term_id << " answered " << cell(j->value("kind", json())) << " command "
                << cell(j->value("id", json())) << ": " << cell(j->value("outcome", json()))
                << (reason.empty() ? "" : " (" + lg::log::escape(reason) + ")") << " at "
                << cell(j->value("ts", json())) << "\n";
      return 0;
    }
    if (term_revoke->parsed())
      return said(g, call(g, "POST", "/api/terminals/" + seg(term_id) + "/revoke", json{{"reason", term_reason}}.dump(),
                          "terminal revoke " + term_id),
                  "terminal " + term_id + " revoked: its certificates are on the CRL, the broker denies it every topic");
    auto j = call(g, "GET", "/api/terminals/" + seg(term_id) + "/certificates", "", "terminal certificates " + term_id);
    if (!j) return 1;
    return show_times(g, j, [](const json& rows, const std::string& tz) {
      return objects_table(rows, {"serial", "epoch", "issued", "not_after", "revoked", "reason"}, tz);
    });
  }
  if (card->parsed()) {
    const std::string base = "/api/cards/" + encode_query(card_uid);
    std::optional<json> j;
    if (card_lost->parsed()) j = call(g, "POST", base + "/lost", "{}", "card lost " + card_uid);
    if (card_revoke->parsed()) j = call(g, "POST", base + "/revoke", "{}", "card revoke " + card_uid);
    if (card_replace->parsed()) {
      json body{{"new_uid", new_uid}};
      if (!card_until.empty()) body["valid_until"] = card_until;
      j = call(g, "POST", base + "/replace", body.dump(), "card replace " + card_uid);
    }
    if (!j) return 1;
    if (g.format == Format::json)
      std::cout << j->dump(2) << "\n";
    else if (card_replace->parsed()) std::cout << "card " << cell(j->value("uid", json())) << " issued to "
                                               << cell(j->value("user", json())) << ", replacing " << card_uid << "\n";
    else std::cout << "card " << cell(j->value("uid", json())) << " of " << cell(j->value("user", json())) << " is "
                   << cell(j->value("status", json())) << "\n";
    return 0;
  }
  for (const auto& [c, status] : user_cmds) {
    if (!c->parsed()) continue;
    json body{{"status", status}};
    if (!user_reason.empty()) body["reason"] = user_reason;
    auto j = call(g, "PATCH", "/api/users/" + encode_query(user_id), body.dump(), "user " + status + " " + user_id);
    if (!j) return 1;
    if (g.format == Format::json)
      std::cout << j->dump(2) << "\n";
    else std::cout << "user " << cell(j->value("id", json())) << " is " << cell(j->value("status", json())) << "\n";
    return 0;
  }

  if (user_password->parsed()) {
    auto pw = ask_new("New password for " + user_id);
    if (!pw) return 1;
    auto j = call(g, "PUT", "/api/users/" + seg(user_id) + "/password", json{{"password", *pw}}.dump(),
                  "user password " + user_id);
    return said(g, j,
                j ? "password of " + user_id + " set; " + cell(j->value("sessions_revoked", json(0))) +
                        " of their sessions ended"
                  : "");
  }
  if (login->parsed()) {
    if (token_path.empty()) {
      std::cerr << "labgatectl: login: " << token_file_from_env().error().reason << "\n";
      return 1;
    }
    auto pw = ask("Password for " + login_user + ": ");
    if (!pw) return 1;
    const json body{{"user", login_user}, {"password", *pw}, {"method", login_ldap ? "ldap" : "local"}};
    auto j = call(g, "POST", "/api/login", body.dump(), "login " + login_user);
    if (!j) return 1;
    const json secret = j->value("token", json());
    if (!secret.is_string() || secret.get<std::string>().empty()) {
      std::cerr << "labgatectl: login " << login_user << ": the answer holds no token\n";
      return 1;
    }
    if (auto saved = save_token(token_path, secret.get<std::string>()); !saved) {
      std::cerr << "labgatectl: login: " << saved.error().reason << "\n";
      return 1;
    }
    if (g.format == Format::json) {
      json out = *j;
      out.erase("token");  // the secret stays in the token file
      out["token_file"] = token_path.string();
      std::cout << out.dump(2) << "\n";
    } else {
      std::cout << signed_in_text(*j, site_zone(g)) << "\n";
    }
    return 0;
  }
  if (logout->parsed()) {
    if (g.token.empty()) {
      std::cerr << "labgatectl: logout: not signed in (no token file " << token_path.string() << ")\n";
      return 1;
    }
    auto r = http_request("POST", join_url(g.url, "/api/logout"), g.token, "{}");
    if (!r) {
      std::cerr << "labgatectl: " << r.error().reason << "\n";
      return 1;
    }
    const bool ok = r->status >= 200 && r->status <= 299;
    const bool ended = r->status == 401;  // the session had expired or was revoked already
    if (!ok && !(ended && token_from_file)) {
      std::cerr << failure_line("logout", r->status, error_text(*r), r->retry_after_s, true) << "\n";
      return 1;
    }
    bool removed = false;
    auto kept = token_path.empty() ? lg::Result<std::string>(std::string()) : load_token(token_path);
    if (kept && !kept->empty() && *kept == g.token) {
      auto rm = remove_token(token_path);
      if (!rm) {
        std::cerr << "labgatectl: logout: " << rm.error().reason << "\n";
        return 1;
      }
      removed = *rm;
    }
    if (g.format == Format::json) {
      std::cout << json{{"signed_out", true}, {"already_ended", ended}, {"token_file_removed", removed}}.dump(2)
                << "\n";
    } else {
      std::cout << "signed out" << (ended ? " (the session had already ended)" : "")
                << (removed ? "; removed " + token_path.string() : std::string()) << "\n";
    }
    return 0;
  }
  if (whoami->parsed()) return show(g, call(g, "GET", "/api/me", {}, "whoami"), whoami_table);
  if (password->parsed()) {
    auto old_pw = ask("Current password: ");
    if (!old_pw) return 1;
    auto new_pw = ask_new("New password");
    if (!new_pw) return 1;
    auto j = call(g, "POST", "/api/me/password", json{{"old", *old_pw}, {"new", *new_pw}}.dump(), "password");
    return said(g, j, j ? "password of " + cell(j->value("user", json())) + " changed" : "");
  }
  if (token_create->parsed()) {
    const json body{{"name", tok_name}, {"days", tok_days}, {"rights", tok_rights}};
    auto j = call(g, "POST", "/api/me/tokens", body.dump(), "token create " + tok_name);
    if (!j) return 1;
    if (g.format == Format::json) {
      std::cout << j->dump(2) << "\n";
    } else {
      const std::string rights = tok_rights.empty() ? std::string("all of yours") : [&] {
        std::string out;
        for (const auto& r : tok_rights) out += (out.empty() ? "" : " ") + r;
        return out;
      }();
      std::cout << "token " << cell(j->value("id", json())) << " (" << lg::log::escape(tok_name) << ") until "
                << time_cell(j->value("expires", json()), site_zone(g)) << ", rights: " << rights << "\n"
                << cell(j->value("token", json())) << "\n";
    }
    std::cerr << "labgatectl: the token's secret is shown only this once: keep it now (use it as --token or "
                 "LABGATE_TOKEN)\n";
    return 0;
  }
  if (token_list->parsed()) return show_times(g, call(g, "GET", "/api/me/tokens", {}, "token list"), tokens_table);
  if (token_revoke->parsed()) {
    return said(g, call(g, "DELETE", "/api/me/tokens/" + seg(tok_id), {}, "token revoke " + tok_id),
                "token " + tok_id + " revoked");
  }
  if (session_list->parsed())
    return show_times(g, call(g, "GET", "/api/me/sessions", {}, "session list"), tokens_table);
  if (session_revoke->parsed()) {
    return said(g, call(g, "DELETE", "/api/me/sessions/" + seg(tok_id), {}, "session revoke " + tok_id),
                "session " + tok_id + " ended");
  }
  if (role_list->parsed()) return show_times(g, call_list(g, "/api/roles", kMaxRows), roles_table);
  if (role_grant->parsed()) {
    const bool site_wide = rg_role == "system_admin";
    if (site_wide && !rg_scope.empty()) {
      std::cerr << "labgatectl: role grant: system_admin is site-wide: leave out --scope\n";
      return 2;
    }
    if (!site_wide && rg_scope.empty()) {
      std::cerr << "labgatectl: role grant: " << rg_role << " needs --scope "
                << (rg_role == "instrument_admin" ? "INSTRUMENT" : "UNIT") << "\n";
      return 2;
    }
    json body{{"user", rg_user}, {"role", rg_role}};
    if (!site_wide) body["scope_id"] = rg_scope;
    auto j = call(g, "POST", "/api/roles", body.dump(), "role grant " + rg_user + " " + rg_role);
    return said(g, j,
                j ? "granted " + role_text(*j) + " to " + cell(j->value("user", json())) + " (grant " +
                        cell(j->value("id", json())) + ")"
                  : "");
  }
  if (role_revoke->parsed()) {
    auto j = call(g, "DELETE", "/api/roles/" + seg(rg_id), {}, "role revoke " + rg_id);
    return said(g, j,
                j ? "revoked grant " + rg_id + ": " + role_text(*j) + " of " + cell(j->value("user", json())) : "");
  }
  if (reg->parsed()) {
    if (reg_email.empty() && reg_phone.empty()) {
      std::cerr << "labgatectl: register: give --email or --phone, to be reached at\n";
      return 2;
    }
    auto pw = ask_new("Password for " + reg_id);
    if (!pw) return 1;
    json body{
        {"id", reg_id},   {"name", reg_name}, {"unit", reg_unit}, {"category", reg_category}, {"organisation", reg_org},
        {"password", *pw}};
    if (!reg_email.empty()) body["email"] = reg_email;
    if (!reg_phone.empty()) body["phone"] = reg_phone;
    if (!reg_id_number.empty()) body["id_number"] = reg_id_number;
    auto j = call(g, "POST", "/api/registrations", body.dump(), "register " + reg_id);
    return said(g, j,
                "applied as " + reg_id + " at unit " + reg_unit +
                    ": pending until an admin of the unit approves (you may sign in meanwhile, with no rights)");
  }
  if (approvals->parsed()) {
    std::string path = "/api/registrations";
    if (!approvals_all) add_query(path, "decision", "pending");
    return show_times(g, call_list(g, path, kMaxRows), registrations_table);
  }
  if (approve->parsed() || refuse->parsed()) {
    const bool yes = approve->parsed();
    json body = json::object();
    if (!decide_reason.empty()) body["reason"] = decide_reason;
    auto j = call(g, "POST", "/api/registrations/" + seg(decide_user) + (yes ? "/approve" : "/refuse"), body.dump(),
                  (yes ? "approve " : "refuse ") + decide_user);
    return said(g, j,
                yes ? decide_user + " approved: the account is active"
                    : decide_user + " refused (" + lg::log::escape(decide_reason) + "): the account is closed");
  }
  if (group_list->parsed()) {
    return show_times(g, call_list(g, "/api/groups", kMaxRows), [](const json& j, const std::string& tz) {
      return objects_table(j, {"id", "name", "pi", "unit", "retired"}, tz);
    });
  }
  if (group_create->parsed()) {
    json body{{"id", grp_id}, {"name", grp_name}, {"pi", grp_pi}};
    if (!grp_unit.empty()) body["unit"] = grp_unit;
    return said(g, call(g, "POST", "/api/groups", body.dump(), "group create " + grp_id),
                "group " + grp_id + " created; its PI " + grp_pi + " is its first member");
  }
  if (group_show->parsed()) {
    return show_times(g, call(g, "GET", "/api/groups/" + seg(grp_id) + "/members", {}, "group show " + grp_id),
                      [](const json& j, const std::string& tz) {
                        return objects_table(j, {"user", "since"}, tz);
                      });
  }
  if (group_add->parsed()) {
    return said(g,
                call(g, "POST", "/api/groups/" + seg(grp_id) + "/members", json{{"user", grp_user}}.dump(),
                     "group add " + grp_id + " " + grp_user),
                grp_user + " added to group " + grp_id);
  }
  if (group_remove->parsed()) {
    return said(g,
                call(g, "DELETE", "/api/groups/" + seg(grp_id) + "/members/" + seg(grp_user), {},
                     "group remove " + grp_id + " " + grp_user),
                grp_user + " removed from group " + grp_id);
  }
  if (group_retire->parsed()) {
    return said(g, call(g, "DELETE", "/api/groups/" + seg(grp_id), {}, "group retire " + grp_id),
                "group " + grp_id + " retired (kept with its history)");
  }
  if (users->parsed()) {
    return show(g, call_list(g, "/api/users", people_limit), [](const json& j) {
      return objects_table(j, {"id", "name", "category", "unit", "organisation", "status", "status_reason"}, "UTC");
    });
  }
  if (cards->parsed()) {
    return show_times(g, call_list(g, "/api/cards", people_limit), [](const json& j, const std::string& tz) {
      return objects_table(j, {"uid", "user", "status", "valid_until", "ended"}, tz);
    });
  }
  return 1;
}
