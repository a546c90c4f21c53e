// labgate-terminal: the agent on an instrument PC or door controller.
//   labgate-terminal --config terminal.toml [--print-public-key]
// Exit status: 0 clean stop, 1 runtime failure, 2 bad config or command line.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>

#include "labgate/common/board.hpp"
#include "labgate/common/crypto.hpp"
#include "labgate/common/log.hpp"

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
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
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

  return lg::terminal::run(*cfg, *board, std::move(*key), std::move(*server_key));
}
