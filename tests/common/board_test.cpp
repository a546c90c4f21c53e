// Boards are data: every shipped board loads; broken boards are refused naming the key.
#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "labgate/common/board.hpp"

using namespace lg::board;

namespace {
std::filesystem::path write_board(const std::string& name, const std::string& text) {
  auto dir = std::filesystem::temp_directory_path() / ("labgate-board-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto p = dir / name;
  std::ofstream(p) << text;
  return p;
}

const char* kGood = R"(
name = "t"
arch = "x86_64"
toolchain = "native"
[reader]
kind = "line_socket"
[relay]
coils = 4
[[outputs]]
name = "power"
coil = 0
kind = "instrument_power"
fail_mode = "open"
[[outputs]]
name = "door"
coil = 1
kind = "door_lock"
pulse_ms = 3000
[meter]
model = "sdm120"
)";
}  // namespace

TEST_CASE("every board shipped in boards/ loads") {
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator(std::string(LABGATE_SOURCE_DIR) + "/boards")) {
    if (!e.is_directory()) continue;
    auto b = load(e.path() / "board.toml");
    CHECK_MESSAGE(b, e.path().string() << ": " << (b ? "" : b.error().reason));
    ++n;
  }
  CHECK(n >= 1);
}

TEST_CASE("a board's outputs and meter map are read") {
  auto b = load(write_board("good.toml", kGood));
  REQUIRE_MESSAGE(b, b.error().reason);
  CHECK(b->relay_coils == 4);
  REQUIRE(b->output("door"));
  CHECK(b->output("door")->pulse_ms == 3000);
  CHECK(b->output("power")->fail_mode == FailMode::open);
  REQUIRE(b->meter);
  CHECK(b->meter->total_energy == 0x0156);
}

TEST_CASE("broken boards are refused naming the key") {
  std::string s = kGood;
  auto coil = s;
  coil.replace(coil.find("coil = 1"), 8, "coil = 9");
  auto r = load(write_board("coil.toml", coil));
  REQUIRE_FALSE(r);
  CHECK(r.error().reason.find("outputs[1].coil: 9 >= relay.coils 4") != std::string::npos);
  auto dup = s;
  dup.replace(dup.find("coil = 1"), 8, "coil = 0");
  CHECK(load(write_board("dup.toml", dup)).error().reason.find("used twice") != std::string::npos);
  auto pulse = s;
  pulse.replace(pulse.find("pulse_ms = 3000"), 15, "");
  CHECK(load(write_board("pulse.toml", pulse)).error().reason.find("outputs[1].pulse_ms") != std::string::npos);
  auto typo = s + "colour = \"red\"\n";
  CHECK(load(write_board("typo.toml", typo)).error().reason.find("colour: unknown key") != std::string::npos);
}
