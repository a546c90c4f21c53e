#include "traffic.hpp"

#include <algorithm>
#include <cstdio>

#include "labgate/common/card_uid.hpp"
#include "labgate/common/crypto.hpp"

#include "access/records.hpp"

namespace lg::fleet {

namespace {

std::string five(int n) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%05d", n);
  return buf;
}

constexpr int kUsersPerInstrument = 8;
constexpr int64_t kInternalFenPerHour = 36000;
constexpr int64_t kExternalFenPerHour = 72000;

}  // namespace

std::string Layout::terminal(int i) const { return prefix + five(i + 1); }
int Layout::resources() const { return (terminals + terminals_per_resource - 1) / terminals_per_resource; }
std::string Layout::resource_id(int r) const { return prefix + "inst-" + five(r + 1); }
std::string Layout::resource(int i) const { return resource_id(i / terminals_per_resource); }
std::string Layout::user(int u) const { return prefix + "u" + five(u + 1); }
std::string Layout::card(int u) const {
  char buf[16];
  std::snprintf(buf, sizeof buf, "F1%06X", static_cast<unsigned>(u + 1));
  return buf;
}

nlohmann::json import_document(const Layout& l, const std::vector<std::string>& public_pems) {
  using nlohmann::json;
  const std::string unit = l.prefix + "unit";
  const std::string lab = l.prefix + "lab";
  json doc;
  doc["units"] = json::array({{{"id", unit}, {"name", "labgate-fleet simulated unit"}}});
  doc["labs"] = json::array({{{"id", lab}, {"name", "labgate-fleet simulated lab"}, {"unit", unit}}});
  json instruments = json::array();
  json fees = json::array();
  for (int r = 0; r < l.resources(); ++r) {
    const std::string id = l.resource_id(r);
    instruments.push_back({{"id", id}, {"name", "Simulated instrument " + id}, {"lab", lab}, {"kind", "instrument"}});
    fees.push_back({{"instrument", id},
                    {"internal_fen_per_hour", kInternalFenPerHour},
                    {"external_fen_per_hour", kExternalFenPerHour}});
  }
  doc["instruments"] = std::move(instruments);
  doc["fee_standards"] = std::move(fees);
  json users = json::array();
  json cards = json::array();
  for (int u = 0; u < l.users; ++u) {
    users.push_back({{"id", l.user(u)},
                     {"name", "Fleet user " + std::to_string(u + 1)},
                     {"category", u % 5 == 4 ? "external" : "internal"},
                     {"unit", unit}});
    cards.push_back({{"uid", l.card(u)}, {"user", l.user(u)}});
  }
  doc["users"] = std::move(users);
  doc["cards"] = std::move(cards);
  json terminals = json::array();
  for (int i = 0; i < l.terminals; ++i)
    terminals.push_back({{"id", l.terminal(i)}, {"resource", l.resource(i)}, {"public_key", public_pems.at(i)}});
  doc["terminals"] = std::move(terminals);
  return doc;
}

int64_t TrafficShape::mean_gap_ms() const {
  // One session: a granted swipe + start, samples, a swipe-out + end, after an idle pause; plus
  // the denied swipes in between.
  const double samples = (1.0 + max_samples) / 2.0;
  const double records = 4.0 + samples + denied_share / (1.0 - denied_share);
  const double span = static_cast<double>(mean_idle_ms) + samples * static_cast<double>(sample_every_ms);
  return static_cast<int64_t>(span / records);
}

Traffic::Traffic(const Layout& layout, int terminal_index, TrafficShape shape, uint64_t seed, int64_t start_ms)
    : layout_(layout), resource_(layout.resource(terminal_index)), shape_(shape), rng_(seed) {
  clock_.set(start_ms);
  const int n = std::min(kUsersPerInstrument, std::max(1, layout.users));
  for (int j = 0; j < n; ++j) users_.push_back((terminal_index * 7 + j * 13) % std::max(1, layout.users));
  meter_wh_ = std::uniform_int_distribution<int64_t>(1'000, 5'000'000)(rng_);
}

void Traffic::advance(int64_t by_ms, int64_t cap_ms) {
  clock_.set(std::min(clock_.now_ms() + std::max<int64_t>(by_ms, 1), std::max(cap_ms, clock_.now_ms())));
}

void Traffic::emit(proto::RecordBody body) { ready_.push_back(terminal::make_record(clock_, std::move(body))); }

void Traffic::step(int64_t cap_ms) {
  auto uniform = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng_); };
  if (!open_) {
    const double idle = std::exponential_distribution<double>(1.0)(rng_) * static_cast<double>(shape_.mean_idle_ms);
    advance(static_cast<int64_t>(idle), cap_ms);
    const int user = users_[static_cast<std::size_t>(uniform(0, static_cast<int64_t>(users_.size()) - 1))];
    terminal::DecisionResult d;
    d.mode = mode_;
    d.acl_version = acl_version_;
    std::string card = layout_.card(user);
    if (std::uniform_real_distribution<double>(0.0, 1.0)(rng_) < shape_.denied_share) {
      d.decision = proto::Decision::denied;
      switch (uniform(0, 2)) {
        case 0: {  // a card nobody enrolled
          char buf[16];
          std::snprintf(buf, sizeof buf, "DE%06X", static_cast<unsigned>(uniform(0, 0xFFFFFF)));
          card = buf;
          d.reason = proto::Reason::unknown_card;
          break;
        }
        case 1:
          d.reason = proto::Reason::not_valid_now;
          d.user = layout_.user(user);
          break;
        default:
          d.reason = proto::Reason::no_booking;
          d.user = layout_.user(user);
          break;
      }
      emit(terminal::access_record(d, *CardUid::parse(card), resource_, "power"));
      return;
    }
    d.decision = proto::Decision::granted;
    d.reason = proto::Reason::qualified;
    d.user = layout_.user(user);
    emit(terminal::access_record(d, *CardUid::parse(card), resource_, "power"));
    proto::SessionStart st;
    st.session = crypto::uuid7();
    st.card = card;
    st.user = d.user;
    st.resource = resource_;
    st.meter_wh = meter_wh_;
    open_ = st;
    open_start_ms_ = clock_.now_ms();
    samples_left_ = static_cast<int>(uniform(1, shape_.max_samples));
    emit(std::move(st));
    return;
  }
  if (samples_left_ > 0) {
    const int64_t jitter = shape_.sample_every_ms / 10;
    const int64_t before = clock_.now_ms();
    advance(shape_.sample_every_ms + uniform(-jitter, jitter), cap_ms);
    const int64_t power_w = uniform(150, 3000);
    meter_wh_ += power_w * (clock_.now_ms() - before) / 3'600'000;
    --samples_left_;
    emit(proto::MeterSample{resource_, power_w, meter_wh_});
    return;
  }
  // End of the session: mostly a swipe-out; sometimes the terminal ends it for idling.
  advance(uniform(1'000, shape_.sample_every_ms), cap_ms);
  const bool idle = uniform(0, 9) == 0;
  if (!idle) {
    terminal::DecisionResult d;
    d.decision = proto::Decision::granted;
    d.reason = proto::Reason::swipe_out;
    d.mode = mode_;
    d.acl_version = acl_version_;
    d.user = open_->user;
    emit(terminal::access_record(d, *CardUid::parse(open_->card), resource_, "power"));
  }
  proto::SessionEnd e;
  e.session = open_->session;
  e.card = open_->card;
  e.user = open_->user;
  e.resource = resource_;
  e.start_ms = open_start_ms_;
  e.end_ms = clock_.now_ms();
  e.duration_ms = e.end_ms - e.start_ms;  // one synced clock in the simulation: exactly end - start
  e.energy_wh = meter_wh_ - open_->meter_wh.value_or(meter_wh_);
  e.end_reason = idle ? proto::EndReason::idle : proto::EndReason::swipe_out;
  open_.reset();
  emit(std::move(e));
}

std::vector<proto::Record> Traffic::next(std::size_t n, int64_t cap_ms) {
  while (ready_.size() < n) step(cap_ms);
  std::vector<proto::Record> out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    ++counts_[static_cast<std::size_t>(ready_.front().kind())];
    out.push_back(std::move(ready_.front()));
    ready_.pop_front();
  }
  return out;
}

}  // namespace lg::fleet
