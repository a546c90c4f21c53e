#include "register_model.hpp"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>

#include <nlohmann/json.hpp>

namespace lg::sim {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool parse_number(std::string_view s, double& out) {
  s = trim(s);
  if (s.empty()) return false;
  const char* end = s.data() + s.size();
  auto [ptr, ec] = std::from_chars(s.data(), end, out);
  return ec == std::errc{} && ptr == end && std::isfinite(out);
}

double seconds(RegisterModel::Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

}  // namespace

Result<std::vector<ProfileStep>> parse_profile(std::string_view text) {
  std::vector<ProfileStep> steps;
  text = trim(text);
  if (text.empty()) return steps;
  std::size_t index = 0;
  while (true) {
    const auto comma = text.find(',');
    const std::string_view item = text.substr(0, comma);
    const auto colon = item.find(':');
    const std::string where = "profile step " + std::to_string(index) + " \"" + std::string(trim(item)) + "\"";
    if (colon == std::string_view::npos) return Error::invalid(where + ": expected t:watts");
    ProfileStep step;
    if (!parse_number(item.substr(0, colon), step.t_s) || step.t_s < 0)
      return Error::invalid(where + ": time must be a number of seconds >= 0");
    if (!parse_number(item.substr(colon + 1), step.watts) || step.watts < 0)
      return Error::invalid(where + ": watts must be a number >= 0");
    if (!steps.empty() && step.t_s <= steps.back().t_s)
      return Error::invalid(where + ": times must strictly increase");
    steps.push_back(step);
    ++index;
    if (comma == std::string_view::npos) break;
    text = text.substr(comma + 1);
  }
  return steps;
}

Result<MeterKind> parse_meter(std::string_view text) {
  if (text == "none") return MeterKind::none;
  if (text == "sdm120") return MeterKind::sdm120;
  if (text == "sdm630") return MeterKind::sdm630;
  return Error::invalid("meter \"" + std::string(text) + "\": expected none, sdm120 or sdm630");
}

MeterRegisters registers_for(MeterKind kind) {
  MeterRegisters r;
  if (kind == MeterKind::sdm630) r.active_power = 0x0034;
  return r;
}

std::size_t input_register_count(MeterKind kind) {
  if (kind == MeterKind::none) return 0;
  const MeterRegisters r = registers_for(kind);
  const uint16_t top = std::max({r.voltage, r.current, r.active_power, r.import_energy, r.total_energy});
  return static_cast<std::size_t>(top) + 2;
}

void encode_float_abcd(float value, uint16_t* dest) {
  const auto bits = std::bit_cast<uint32_t>(value);
  dest[0] = static_cast<uint16_t>(bits >> 16);
  dest[1] = static_cast<uint16_t>(bits & 0xFFFFu);
}

float decode_float_abcd(const uint16_t* src) {
  const uint32_t bits = (static_cast<uint32_t>(src[0]) << 16) | src[1];
  return std::bit_cast<float>(bits);
}

RegisterModel::RegisterModel(Options options, Clock::time_point start)
    : options_(std::move(options)),
      coils_(options_.coils, false),
      last_(start),
      on_since_(start),
      energy_kwh_(options_.initial_kwh) {}

bool RegisterModel::coil(uint16_t index) const {
  return index < coils_.size() && coils_[index];
}

bool RegisterModel::set_coil(uint16_t index, bool on, Clock::time_point now) {
  if (index >= coils_.size() || coils_[index] == on) return false;
  advance(now);
  coils_[index] = on;
  if (index == 0 && on) on_since_ = std::max(now, last_);
  return true;
}

double RegisterModel::power_at_elapsed(double elapsed_s) const {
  double watts = options_.idle_w;  // before the first step
  for (const ProfileStep& s : options_.profile) {
    if (s.t_s > elapsed_s) break;
    watts = s.watts;
  }
  return watts;
}

double RegisterModel::power_w(Clock::time_point now) const {
  if (!powered()) return options_.idle_w;
  return power_at_elapsed(std::max(0.0, seconds(now - on_since_)));
}

double RegisterModel::current_a(Clock::time_point now) const {
  return options_.voltage_v > 0 ? power_w(now) / options_.voltage_v : 0.0;
}

double RegisterModel::integrate_ws(double from_s, double to_s) const {
  // The profile is a step function: sum watts * dt over each step that overlaps [from, to).
  double ws = 0.0;
  double t = from_s;
  while (t < to_s) {
    double next = to_s;
    for (const ProfileStep& s : options_.profile) {
      if (s.t_s > t) {
        next = std::min(next, s.t_s);
        break;
      }
    }
    ws += power_at_elapsed(t) * (next - t);
    t = next;
  }
  return ws;
}

void RegisterModel::advance(Clock::time_point now) {
  if (now <= last_) return;
  double ws = 0.0;
  if (powered()) {
    ws = integrate_ws(seconds(last_ - on_since_), seconds(now - on_since_));
  } else {
    ws = options_.idle_w * seconds(now - last_);
  }
  energy_kwh_ += ws / 3.6e6;
  last_ = now;
}

void RegisterModel::fill_input_registers(MeterKind kind, uint16_t* regs, std::size_t n,
                                         Clock::time_point now) {
  advance(now);
  if (kind == MeterKind::none) return;
  const MeterRegisters r = registers_for(kind);
  auto put = [&](uint16_t addr, double value) {
    if (static_cast<std::size_t>(addr) + 2 <= n) encode_float_abcd(static_cast<float>(value), regs + addr);
  };
  put(r.voltage, voltage_v());
  put(r.current, current_a(now));
  put(r.active_power, power_w(now));
  put(r.import_energy, energy_kwh_);
  put(r.total_energy, energy_kwh_);
}

std::string RegisterModel::state_json(Clock::time_point now) const {
  nlohmann::json j;
  j["coils"] = coils_;
  j["power_w"] = power_w(now);
  j["energy_kwh"] = energy_kwh_;
  j["writes"] = writes_;
  return j.dump();
}

}  // namespace lg::sim
