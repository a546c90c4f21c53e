// Unit tests of the simulator's register model (tools/modbus_sim/register_model.*).
#include <doctest/doctest.h>
#include <modbus/modbus.h>

#include <nlohmann/json.hpp>

#include "register_model.hpp"

using namespace lg::sim;
using Clock = RegisterModel::Clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

RegisterModel make_model(const std::string& profile, Clock::time_point t0, double idle = 5.0) {
  RegisterModel::Options o;
  o.coils = 4;
  o.profile = parse_profile(profile).value();
  o.idle_w = idle;
  return RegisterModel(o, t0);
}

}  // namespace

TEST_CASE("parse_profile accepts t:watts steps") {
  auto p = parse_profile("0:0, 1:1200,60:800.5");
  REQUIRE(p.has_value());
  REQUIRE(p->size() == 3);
  CHECK((*p)[0] == ProfileStep{0, 0});
  CHECK((*p)[1] == ProfileStep{1, 1200});
  CHECK((*p)[2] == ProfileStep{60, 800.5});
  CHECK(parse_profile("")->empty());
}

TEST_CASE("parse_profile rejects bad steps with the step named") {
  CHECK_FALSE(parse_profile("0:0,abc").has_value());
  CHECK(parse_profile("0:0,abc").error().reason.find("step 1") != std::string::npos);
  CHECK_FALSE(parse_profile("5:10,5:20").has_value());   // not increasing
  CHECK_FALSE(parse_profile("3:10,1:20").has_value());
  CHECK_FALSE(parse_profile("-1:10").has_value());
  CHECK_FALSE(parse_profile("1:-10").has_value());
  CHECK_FALSE(parse_profile("1:10,").has_value());
  CHECK_FALSE(parse_profile("1:nan").has_value());
}

TEST_CASE("parse_meter and register maps") {
  CHECK(parse_meter("sdm120").value() == MeterKind::sdm120);
  CHECK(parse_meter("sdm630").value() == MeterKind::sdm630);
  CHECK(parse_meter("none").value() == MeterKind::none);
  CHECK_FALSE(parse_meter("sdm72").has_value());
  CHECK(registers_for(MeterKind::sdm120).active_power == 0x000C);
  CHECK(registers_for(MeterKind::sdm630).active_power == 0x0034);
  CHECK(registers_for(MeterKind::sdm630).import_energy == 0x0048);
  CHECK(input_register_count(MeterKind::sdm120) == 0x0158);
  CHECK(input_register_count(MeterKind::none) == 0);
}

TEST_CASE("power follows the step profile while coil 0 is on") {
  const auto t0 = Clock::time_point{} + seconds(1000);
  RegisterModel m = make_model("0:0,1:1200,60:800", t0);
  CHECK(m.power_w(t0) == doctest::Approx(5.0));  // off: idle
  REQUIRE(m.set_coil(0, true, t0 + seconds(10)));
  CHECK_FALSE(m.set_coil(0, true, t0 + seconds(10)));  // no change
  CHECK(m.powered());
  CHECK(m.power_w(t0 + seconds(10)) == doctest::Approx(0.0));
  CHECK(m.power_w(t0 + seconds(10) + milliseconds(999)) == doctest::Approx(0.0));
  CHECK(m.power_w(t0 + seconds(11)) == doctest::Approx(1200.0));
  CHECK(m.power_w(t0 + seconds(69)) == doctest::Approx(1200.0));
  CHECK(m.power_w(t0 + seconds(70)) == doctest::Approx(800.0));
  CHECK(m.power_w(t0 + seconds(5000)) == doctest::Approx(800.0));
  CHECK(m.current_a(t0 + seconds(11)) == doctest::Approx(1200.0 / 230.0));
  m.set_coil(0, false, t0 + seconds(100));
  CHECK(m.power_w(t0 + seconds(100)) == doctest::Approx(5.0));
  // Switching on again restarts the profile.
  m.set_coil(0, true, t0 + seconds(200));
  CHECK(m.power_w(t0 + seconds(200) + milliseconds(500)) == doctest::Approx(0.0));
  CHECK(m.power_w(t0 + seconds(202)) == doctest::Approx(1200.0));
}

TEST_CASE("a profile that starts later uses idle power before its first step") {
  const auto t0 = Clock::time_point{};
  RegisterModel m = make_model("5:100", t0, 2.0);
  m.set_coil(0, true, t0);
  CHECK(m.power_w(t0 + seconds(4)) == doctest::Approx(2.0));
  CHECK(m.power_w(t0 + seconds(5)) == doctest::Approx(100.0));
}

TEST_CASE("energy integrates the step function exactly across step boundaries") {
  const auto t0 = Clock::time_point{};
  RegisterModel m = make_model("0:0,1:1200,60:800", t0, 10.0);
  m.advance(t0 + seconds(360));  // off for 6 minutes at 10 W = 3600 Ws
  CHECK(m.energy_kwh() == doctest::Approx(3600.0 / 3.6e6));
  m.set_coil(0, true, t0 + seconds(360));
  // One call spanning all steps: 1 s at 0 W, 59 s at 1200 W, 40 s at 800 W.
  m.advance(t0 + seconds(460));
  const double expected_ws = 3600.0 + 59 * 1200.0 + 40 * 800.0;
  CHECK(m.energy_kwh() == doctest::Approx(expected_ws / 3.6e6));
  // Many small steps give the same total as one big one.
  RegisterModel n = make_model("0:0,1:1200,60:800", t0, 10.0);
  n.advance(t0 + seconds(360));
  n.set_coil(0, true, t0 + seconds(360));
  for (int i = 1; i <= 400; ++i) n.advance(t0 + seconds(360) + milliseconds(250 * i));
  CHECK(n.energy_kwh() == doctest::Approx(m.energy_kwh()).epsilon(1e-9));
  // Time going backwards is ignored.
  n.advance(t0);
  CHECK(n.energy_kwh() == doctest::Approx(m.energy_kwh()).epsilon(1e-9));
}

TEST_CASE("switching off integrates up to the switch moment with the old state") {
  const auto t0 = Clock::time_point{};
  RegisterModel::Options o;
  o.coils = 2;
  o.profile = {{0, 3600}};
  o.idle_w = 0;
  o.initial_kwh = 12.5;
  RegisterModel m(o, t0);
  m.set_coil(0, true, t0);
  m.set_coil(0, false, t0 + seconds(1800));  // half an hour at 3.6 kW = 1.8 kWh
  m.advance(t0 + seconds(7200));              // idle 0 W afterwards
  CHECK(m.energy_kwh() == doctest::Approx(12.5 + 1.8));
  CHECK_FALSE(m.set_coil(5, true, t0));  // out of range
  CHECK_FALSE(m.coil(5));
}

TEST_CASE("float abcd encoding is what libmodbus masters decode") {
  // Masters (the terminal) read with modbus_get_float_abcd. libmodbus 3.1.6's
  // modbus_set_float_abcd does NOT round-trip with it on little-endian hosts (upstream issues
  // #611, #807: it writes each word byte-swapped), so the simulator encodes floats itself.
  for (const float v : {0.0f, 1.0f, -2.5f, 230.0f, 1200.0f, 0.0123f, 123456.78f}) {
    uint16_t mine[2] = {};
    encode_float_abcd(v, mine);
    CHECK(decode_float_abcd(mine) == v);
    CHECK(modbus_get_float_abcd(mine) == v);
  }
  uint16_t r[2] = {};
  encode_float_abcd(230.0f, r);  // 0x43660000: high word first, big-endian within each word
  CHECK(r[0] == 0x4366);
  CHECK(r[1] == 0x0000);
  encode_float_abcd(1.0f, r);  // 0x3F800000
  CHECK(r[0] == 0x3F80);
  CHECK(r[1] == 0x0000);
}

TEST_CASE("fill_input_registers writes the SDM120 and SDM630 maps") {
  const auto t0 = Clock::time_point{};
  RegisterModel m = make_model("0:1150", t0, 0.0);
  m.set_coil(0, true, t0);
  std::vector<uint16_t> regs(input_register_count(MeterKind::sdm120), 0);
  m.fill_input_registers(MeterKind::sdm120, regs.data(), regs.size(), t0 + seconds(3600));
  CHECK(decode_float_abcd(&regs[0x0000]) == doctest::Approx(230.0));
  CHECK(decode_float_abcd(&regs[0x0006]) == doctest::Approx(5.0));
  CHECK(decode_float_abcd(&regs[0x000C]) == doctest::Approx(1150.0));
  CHECK(decode_float_abcd(&regs[0x0048]) == doctest::Approx(1.15));
  CHECK(decode_float_abcd(&regs[0x0156]) == doctest::Approx(1.15));

  std::vector<uint16_t> r630(input_register_count(MeterKind::sdm630), 0);
  m.fill_input_registers(MeterKind::sdm630, r630.data(), r630.size(), t0 + seconds(3600));
  CHECK(decode_float_abcd(&r630[0x0034]) == doctest::Approx(1150.0));
  // A short table is not overrun.
  std::vector<uint16_t> small(7, 0xAAAA);  // current (6..7) does not fit
  m.fill_input_registers(MeterKind::sdm120, small.data(), small.size(), t0 + seconds(3600));
  CHECK(decode_float_abcd(&small[0]) == doctest::Approx(230.0));
  CHECK(small[6] == 0xAAAA);
}

TEST_CASE("state_json has coils, power, energy and writes") {
  const auto t0 = Clock::time_point{};
  RegisterModel m = make_model("0:1200", t0);
  m.set_coil(0, true, t0);
  m.set_coil(2, true, t0);
  m.count_write();
  m.count_write();
  const auto j = nlohmann::json::parse(m.state_json(t0 + seconds(1)));
  CHECK(j["coils"] == nlohmann::json({true, false, true, false}));
  CHECK(j["power_w"].get<double>() == doctest::Approx(1200.0));
  CHECK(j["energy_kwh"].get<double>() == doctest::Approx(0.0));
  CHECK(j["writes"].get<int>() == 2);
}
