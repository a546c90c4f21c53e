// labgate-terminal: the agent on an instrument PC or door controller.
//   labgate-terminal --config terminal.toml [--print-public-key]
//   labgate-terminal --config terminal.toml enrol --server URL --token TOKEN [--ca-file PEM]
// Exit status: 0 clean stop, 1 runtime failure, 2 bad config or command line.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <chrono>
#include <thread>

#include <CLI/CLI.hpp>

#include "labgate/common/board.hpp"
#include "labgate/common/crypto.hpp"
#include "labgate/common/log.hpp"
#include "labgate/common/time.hpp"

#include "enrol.hpp"
#include "runner.hpp"
#include "terminal_config.hpp"

namespace {

int bad_config(const std::string& line) {
  std::cerr << "labgate-terminal: config error: " << lg::log::escape(line) << "\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"labgate terminal agent"};
  std::string config_path;
  bool print_key = false;
  app.add_option("--config", config_path, "terminal config (TOML)")->required();
  app.add_flag("--print-public-key", print_key, "print the terminal's public key PEM (creating the key) and exit");
  lg::terminal::EnrolOptions enrol_opts;
  CLI::App* enrol = app.add_subcommand("enrol", "enrol this device with a one-time token: its key stays here");
  enrol->add_option("--server", enrol_opts.server_url, "the labgate server, e.g. https://labgate.example.edu")->required();
  enrol->add_option("--token", enrol_opts.token, "the token from `labgatectl terminal enrol-token`")->required();
  enrol->add_option("--ca-file", enrol_opts.ca_file, "CA (PEM) of the server's HTTPS certificate (default: the system's)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }

  if (*enrol) {
    auto base = lg::terminal::load_config_for_enrolment(config_path);
    if (!base) return bad_config(base.error().reason);
    auto done = lg::terminal::enrol(*base, enrol_opts);
    if (!done) {
      std::cerr << "labgate-terminal: enrolment failed: " << lg::log::escape(done.error().reason) << "\n";
      return 1;
    }
    std::cout << "enrolled as " << done->id << " for " << done->resource << " (epoch " << done->epoch
              << (done->replaced ? ", a new device under this id" : "") << "); certificate valid until "
              << done->not_after << "\nfiles in " << base->data_dir.string()
              << ": terminal.key (stays here), terminal.crt, ca.crt, server.pub, enrolled.toml\n";
    return 0;
  }

  auto cfg = lg::terminal::load_config(config_path);
  if (!cfg) return bad_config(cfg.error().reason);

  lg::log::Level level = lg::log::Level::info;
  lg::log::parse_level(cfg->log_level, level);
  lg::log::set_level(level);

  std::error_code ec;
  std::filesystem::create_directories(cfg->data_dir, ec);
  if (ec) return bad_config("terminal.data_dir: cannot create " + cfg->data_dir.string() + ": " + ec.message());
  auto key = lg::crypto::PrivateKey::load_or_create(cfg->data_dir / "terminal.key");
  if (!key) {
    std::cerr << "labgate-terminal: terminal key: " << key.error().message() << "\n";
    return 1;
  }
  if (print_key) {
    std::cout << key->public_pem();
    return 0;
  }

  auto board = lg::board::load(cfg->board);
  if (!board) return bad_config("terminal.board: " + board.error().reason);
  const lg::board::Output* out = board->output(cfg->output);
  if (!out) return bad_config("terminal.output: board " + board->name + " has no output \"" + cfg->output + "\"");
  for (const auto& [name, mode] : cfg->fail_modes) {
    (void)mode;
    if (!board->output(name)) return bad_config("outputs." + name + ": board " + board->name + " has no such output");
  }

  std::ifstream in(cfg->server_public_key, std::ios::binary);
  if (!in) return bad_config("terminal.server_public_key: cannot read " + cfg->server_public_key.string());
  std::ostringstream pem;
  pem << in.rdbuf();
  auto server_key = lg::crypto::PublicKey::from_pem(pem.str());
  if (!server_key) return bad_config("terminal.server_public_key: " + server_key.error().reason);

  // Renewal before expiry: now, then twice a day; a renewed certificate is used from the next
  // connection (the current one stays valid for a third of its life at least).
  if (cfg->enrolled) {
    std::thread([cfg = *cfg, key_pem = key->to_pem()] {
      auto k = lg::crypto::PrivateKey::from_pem(key_pem);
      if (!k) return;
      for (;;) {
        if (auto r = lg::terminal::renew_if_due(cfg, *k, lg::time::now_utc_ms()); !r)
          lg::log::warn("enrol", "certificate renewal failed (tried again in 12 h): " + r.error().message());
        std::this_thread::sleep_for(std::chrono::hours(12));
      }
    }).detach();
  }
  return lg::terminal::run(*cfg, *board, std::move(*key), std::move(*server_key));
}
