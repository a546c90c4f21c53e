#include "world.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string_view>
#include <utility>

#include "agent.hpp"
#include "labgate/common/crypto.hpp"
#include "labgate/common/protocol.hpp"
#include "server/billing/rules.hpp"
#include "server/booking/service.hpp"
#include "server/config/server_config.hpp"
#include "server/core/app.hpp"
#include "server/core/sqlite_backend.hpp"
#include "server/directory/rules.hpp"

#include "broker.hpp"
#include "sim_time.hpp"

namespace lg::sim {

namespace {

constexpr int64_t kT0 = 1'800'000'000'000;  // wall clock at virtual time 0 (2027-01-15T08:00:00Z)
const char* const kSite = "sim";
constexpr int kHeartbeatS = 30;
constexpr int kResendS = 5;
constexpr int64_t kServerTickMs = 120'000;
constexpr int64_t kSyncDelayMs = 200;  // server.sync_delay_ms
constexpr int64_t kMeanGapMs = 2000;  // between two workload steps, on average
constexpr uint16_t kPowerCoil = 0;
constexpr uint16_t kDoorCoil = 1;
constexpr uint32_t kPulseMs = 500;
constexpr int kUsers = 6;
constexpr int kUnknownCards = 4;
constexpr int64_t kMinute = 60'000;

/// Thrown at an armed crash point. It unwinds out of the product code like a process that died
/// there: what was committed stays in SQLite, nothing else survives.
struct Crash {
  std::string where;
};

std::string two(int64_t v) { return (v < 10 ? "0" : "") + std::to_string(v); }

/// "+MM:SS.mmm" (hours when needed) for virtual time.
std::string clock_str(int64_t ms) {
  const int64_t h = ms / 3'600'000;
  const int64_t m = (ms / 60'000) % 60;
  const int64_t s = (ms / 1000) % 60;
  const int64_t f = ms % 1000;
  std::string out = "+";
  if (h > 0) out += std::to_string(h) + ":";
  out += two(m) + ":" + two(s) + ".";
  out += (f < 100 ? (f < 10 ? "00" : "0") : "") + std::to_string(f);
  return out;
}

/// FNV-1a of a payload: how the harness remembers what a device published (a replaced device's
/// messages are told apart from its successor's by it).
uint64_t digest_of(std::string_view payload) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : payload) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

std::string hex(uint64_t v, int digits) {
  static const char* k = "0123456789ABCDEF";
  std::string out(static_cast<std::size_t>(digits), '0');
  for (int i = digits - 1; i >= 0; --i) {
    out[static_cast<std::size_t>(i)] = k[v & 0xF];
    v >>= 4;
  }
  return out;
}

enum class FaultKind {
  terminal_crash,        ///< a terminal process dies between two events
  terminal_crash_at_io,  ///< ... or at one of its next relay, meter or MQTT calls
  terminal_restart,      ///< a clean stop (shutdown()) and start
  terminal_reboot,       ///< the terminal's computer restarts: new boot id, monotonic clock reset
  server_crash,          ///< the server process dies between two events
  server_crash_at_io,    ///< ... or at one of its next publishes (an ack, a bundle)
  partition_terminal,    ///< one terminal's network is down for a while
  partition_server,      ///< the server's network is down for a while
  broker_outage,         ///< the broker is down (sometimes losing its retained messages)
  admin_change,          ///< a qualification is granted or revoked (new sync bundles)
  clock_trouble,         ///< a terminal reboots with its wall clock off and unsynced (no or a bad RTC);
                         ///< minutes later NTP steps it right
  meter_outage,          ///< a terminal's energy meter does not answer for a while
  retained_tamper,       ///< someone deletes a terminal's retained bundle or replays an older one
  terminal_replace,      ///< a technician swaps a terminal's device once it is drained: a new key, SQLite
                         ///< file and boot counter, re-enrolled under the id as a new epoch
};

const char* to_string(FaultKind k) {
  switch (k) {
    case FaultKind::terminal_crash: return "terminal_crash";
    case FaultKind::terminal_crash_at_io: return "terminal_crash_at_io";
    case FaultKind::terminal_restart: return "terminal_restart";
    case FaultKind::terminal_reboot: return "terminal_reboot";
    case FaultKind::server_crash: return "server_crash";
    case FaultKind::server_crash_at_io: return "server_crash_at_io";
    case FaultKind::partition_terminal: return "partition_terminal";
    case FaultKind::partition_server: return "partition_server";
    case FaultKind::broker_outage: return "broker_outage";
    case FaultKind::admin_change: return "admin_change";
    case FaultKind::clock_trouble: return "clock_trouble";
    case FaultKind::meter_outage: return "meter_outage";
    case FaultKind::retained_tamper: return "retained_tamper";
    case FaultKind::terminal_replace: return "terminal_replace";
  }
  return "?";
}

/// A seed's fault profile ("swarm testing": each seed enables its own mix and intensity).
struct Profile {
  NetFaults net;
  double fault_rate = 0.02;
  double swipe_rate = 0.5;
  double holder_rate = 0.25;  ///< how often a swipe on a busy terminal is its holder's (session length)
  std::vector<FaultKind> kinds;

  std::string describe() const {
    char buf[200];
    std::snprintf(buf, sizeof buf, "drop %.2f dup %.2f reorder %.2f delay %lld..%lld ms, holder %.2f, faults %.2f/step:",
                  net.drop, net.duplicate, net.reorder, static_cast<long long>(net.min_delay_ms),
                  static_cast<long long>(net.max_delay_ms), holder_rate, fault_rate);
    std::string out = buf;
    for (auto k : kinds) out += std::string(" ") + to_string(k);
    return out;
  }
};

// ---------------------------------------------------------------- terminal-side doubles

/// Relay coils that keep their state across agent restarts (a real relay board does) and can
/// crash the process before or after a write or at a read.
class SimCoils final : public terminal::Coils {
 public:
  std::function<void(const char*)> io;
  std::function<int64_t()> now;  ///< virtual time, for the history
  std::map<uint16_t, bool> state;
  /// Every change of the power coil: (virtual ms, on).
  std::vector<std::pair<int64_t, bool>> power_history;

  Status write(uint16_t coil, bool on) override {
    if (io) io(on ? "before switching the coil on" : "before switching the coil off");
    if (coil == kPowerCoil && is_on(coil) != on && now) power_history.emplace_back(now(), on);
    state[coil] = on;
    if (io) io(on ? "after switching the coil on" : "after switching the coil off");
    return {};
  }
  Result<bool> read(uint16_t coil) override {
    if (io) io("at a coil read");
    return Result<bool>(is_on(coil));
  }
  bool is_on(uint16_t coil) const {
    auto it = state.find(coil);
    return it != state.end() && it->second;
  }
};

/// A cumulative energy meter that the simulation advances while the power coil is on.
class SimMeter final : public terminal::EnergyMeter {
 public:
  std::function<void(const char*)> io;
  double kwh = 0;
  double watts = 0;
  bool broken = false;  ///< does not answer (a meter_outage fault)

  Result<double> total_kwh() override {
    if (io) io("at a meter read");
    if (broken) return Error::invalid("meter does not answer (simulated)");
    return Result<double>(kwh);
  }
  Result<double> power_w() override {
    if (broken) return Error::invalid("meter does not answer (simulated)");
    return Result<double>(watts);
  }
};

/// A terminal's view of virtual time: the shared wall clock, its own monotonic clock and boot id.
class VirtualClock final : public terminal::Clock {
 public:
  VirtualClock(const EventQueue& q, int64_t steady0, std::string boot) : q_(q), steady0_(steady0), boot_(std::move(boot)) {}
  int64_t now_ms() override { return kT0 + q_.now() + wall_offset; }
  int64_t steady_ms() override { return steady0_ + q_.now(); }
  std::string boot_id() override { return boot_; }
  bool synced() override { return is_synced; }
  int64_t wall_offset = 0;  ///< how far the wall clock is off true time
  bool is_synced = true;    ///< what the kernel says about NTP
  /// A reboot: new boot id, the monotonic clock restarts at steady_now.
  void reboot(std::string boot, int64_t steady_now) {
    boot_ = std::move(boot);
    steady0_ = steady_now - q_.now();
  }

 private:
  const EventQueue& q_;
  int64_t steady0_;
  std::string boot_;
};

/// Runs the agent's timers on virtual time; timers of a dead agent never fire.
class TermScheduler final : public terminal::Scheduler {
 public:
  TermScheduler(EventQueue& q, std::function<void(const std::function<void()>&)> run) : q_(q), run_(std::move(run)) {}
  void after(int64_t ms, std::function<void()> fn) override {
    q_.after(ms, [this, e = epoch, fn = std::move(fn)] {
      if (e == epoch) run_(fn);
    });
  }
  uint64_t epoch = 0;

 private:
  EventQueue& q_;
  std::function<void(const std::function<void()>&)> run_;
};

/// The agent's MQTT publisher: the broker client of its terminal, with crash points.
class TermLink final : public terminal::Publisher {
 public:
  TermLink(Broker& b, std::function<void(const char*)> io) : broker_(b), io_(std::move(io)) {}
  bool connected() const override { return broker_.connected(client); }
  Status publish(const std::string& topic, const std::string& payload, int /*qos*/, bool retained) override {
    io_("before a publish");
    auto s = broker_.publish(client, topic, payload, retained);
    if (s && sent) sent->insert(digest_of(payload));
    if (s) io_("after a publish");
    return s;
  }
  Broker::ClientId client = 0;
  std::set<uint64_t>* sent = nullptr;  ///< digests of what the device published

 private:
  Broker& broker_;
  std::function<void(const char*)> io_;
};

/// The server's publisher: the server's broker client, with crash points and a look at acks.
class ServerLink final : public server::Publisher {
 public:
  ServerLink(Broker& b, std::function<void(const char*)> io,
             std::function<void(const std::string&, const std::string&)> published)
      : broker_(b), io_(std::move(io)), published_(std::move(published)) {}
  Status publish(const std::string& topic, const std::string& payload, int /*qos*/, bool retained) override {
    io_("before a publish");
    auto s = broker_.publish(client, topic, payload, retained);
    if (!s) return s;
    published_(topic, payload);
    io_("after a publish");
    return s;
  }
  Broker::ClientId client = 0;

 private:
  Broker& broker_;
  std::function<void(const char*)> io_;
  std::function<void(const std::string&, const std::string&)> published_;
};

// ---------------------------------------------------------------- the world

struct Qual {
  int64_t from = 0;
  std::optional<int64_t> until;
};

struct Term {
  Term(EventQueue& q, Broker& b, int64_t steady0, std::function<void(const std::function<void()>&)> run,
       std::function<void(const char*)> io)
      : clock(q, steady0, "boot-0"), sched(q, std::move(run)), link(b, io) {
    coils.io = io;
    coils.now = [&q] { return q.now(); };
    meter.io = io;
    link.sent = &sent;
  }
  int index = 0;
  std::string id;
  std::string resource;
  bool door = false;
  board::FailMode fail_mode = board::FailMode::closed;
  std::string db_path;
  std::string key_pem;
  std::string public_pem;
  SimCoils coils;
  SimMeter meter;
  VirtualClock clock;
  TermScheduler sched;
  TermLink link;
  std::unique_ptr<terminal::Agent> agent;
  Broker::ClientId client = 0;
  int reboots = 0;
  bool reboot_pending = false;
  bool reboot_clock_off = false;  ///< the reboot brings its clock up wrong and unsynced

  // What the harness knows about this terminal, across its restarts.
  std::map<uint64_t, proto::Record> shadow;  ///< every record it committed, by seq
  uint64_t shadow_max = 0;
  uint64_t last_boot = 0;
  uint64_t max_ack = 0;   ///< highest ack the server published to it
  int crash_in = 0;       ///< > 0: dies at its crash_in-th next I/O point
  bool crash_at_relay = false;  ///< count only relay and meter calls towards crash_in
  uint64_t clock_gen = 0;       ///< bumps when its clock is set, so an older NTP resync is void
  uint64_t rejected = 0;  ///< messages its former agents rejected

  // Its devices (terminal_replace): the id stays, the computer behind it is replaced. The relay
  // board, the meter and the instrument stay; key, SQLite file, boot counter and clocks are new.
  enum class Swap { none, marked, removed };
  Swap swap = Swap::none;  ///< marked: to be replaced once drained; removed: awaiting enrolment
  /// How the technician goes about it: shuts the old device down (clean MQTT disconnect) or unplugs
  /// it (its Will goes out), then enrols the new one; or enrols the new one at the bench first and
  /// then unplugs the old one (its Will comes after the new key).
  enum class SwapOrder { shut_down_first, unplug_first, enrol_first };
  SwapOrder swap_order = SwapOrder::shut_down_first;
  int64_t swap_enrol_at = 0;                  ///< virtual ms: the technician enrols the new device from then
  int device = 1;                             ///< which device holds the id (1, 2, ...), as the server's epoch
  uint64_t seq_start = 1;                     ///< the device's enrolled seq_start (Store::start_seq_at_least at start)
  std::vector<uint64_t> device_first_seq{1};  ///< index device-1: the first seq that device used
  uint64_t cert_serial = 0;                   ///< the device's certificate as the server recorded it (0: none)
  std::string next_key_pem;                   ///< the enrolled successor's key, until it starts
  std::string next_public_pem;
  std::set<uint64_t> sent;              ///< digests of every payload the current device published
  std::set<uint64_t> retired_sent;      ///< ... and of its replaced devices
  std::set<uint64_t> acked_to;          ///< digests of the acks the server sent to the current device
  std::set<uint64_t> retired_acked_to;  ///< ... and to its replaced devices
  uint64_t rejected_expected = 0;       ///< of `rejected`: acks MACed for a replaced device
  uint64_t bundle_at_enrol = 0;         ///< the server's bundle version when the device was enrolled
  bool own_bundle = true;               ///< the device applied a bundle built for its key
  bool own_bundle_due = false;          ///< the server's next dirty flush must build the device's bundle
  int64_t enrolled_at = 0;              ///< virtual ms of its enrolment
};

struct ServerSlot {
  std::string db_path;
  crypto::PrivateKey key;
  server::ServerConfig cfg;
  std::unique_ptr<ServerLink> link;
  std::unique_ptr<server::SqliteBackend> store;
  std::unique_ptr<server::App> app;
  Broker::ClientId client = 0;
  int crash_in = 0;
};

class World {
 public:
  explicit World(const Options& o);
  Outcome run();

 private:
  // trace and failures
  void note(const std::string& line);
  void fail(const std::string& invariant, const std::string& detail);
  std::string sid(const std::string& session);

  // set-up
  Profile make_profile();
  bool setup();
  Status build_directory(server::Stores s);

  // terminals
  void start_terminal(Term& t);
  void crash_terminal(Term& t, const std::string& where);
  void restart_terminal_clean(Term& t);
  bool with_agent(Term& t, const std::function<void(terminal::Agent&)>& f);
  void io_point(Term& t, const char* where);
  void capture(Term& t);
  void check_terminal(Term& t);
  void terminal_message(Term& t, const mqtt::Message& m);
  void every_second(Term& t);
  void every_heartbeat(Term& t);
  /// terminal_replace, every second: removes a marked device once drained; enrols its successor.
  void replace_step(Term& t);
  void remove_device(Term& t);
  /// Enrols the next device of t on the server (token, enrol) and checks what enrol() answered.
  bool enrol_on_server(Term& t);
  void start_new_device(Term& t);
  /// "device N" of the record at seq (which of the id's devices committed it).
  std::string device_of(const Term& t, uint64_t seq) const;

  // server
  void start_server();
  void crash_server(const std::string& where);
  bool with_server(const std::function<void(server::App&)>& f);
  void server_io_point(const char* where);
  void server_published(const std::string& topic, const std::string& payload);
  void server_message(const mqtt::Message& m);
  void server_tick();
  /// The server's count of rejections for one reason.
  Result<int64_t> rejection_count(const std::string& reason);
  /// Runs the server's dirty-bundle flush kSyncDelayMs after ingest marked something.
  void schedule_sync_flush();
  bool sync_flush_armed_ = false;
  /// own-bundle: after the server took an online state of a new device (see the definition).
  void check_own_bundle(Term& t, const std::string& payload);

  // workload and faults
  void step();
  void swipe(Term& t, const std::string& line, const char* why);
  void random_swipe();
  void inject_fault();
  void admin_change();
  void clock_off(Term& t, const char* why);
  void clock_resync(Term& t);
  Term* random_terminal(bool up);

  // the end
  void run_for(int64_t ms);
  void quiet();
  std::string not_drained();
  void final_checks();
  /// terminal: the record's terminal (a record names its user by that terminal's pseudonym).
  int64_t expected_charge(const proto::SessionEnd& e, const std::string& resource, const std::string& terminal) const;

  Options opts_;
  Rng rng_;        // workload
  Rng fault_rng_;  // faults
  EventQueue q_;
  Broker broker_;
  Profile profile_;
  std::vector<std::unique_ptr<Term>> terms_;
  ServerSlot server_;
  Broker::ClientId intruder_ = 0;
  std::map<std::string, std::string> first_bundle_;  // sync topic -> the oldest bundle the intruder saw
  board::Board board_;
  crypto::PublicKey server_public_;

  // the directory, as the harness knows it
  std::vector<server::User> users_;         // users_[0] is the admin
  std::map<std::string, std::string> card_owner_;
  std::vector<std::string> user_cards_;     // index = user index
  std::vector<std::string> unknown_cards_;
  std::map<std::string, server::FeeStandard> fees_;
  std::map<std::pair<std::string, std::string>, Qual> quals_;  // (user, instrument)
  int64_t horizon_ms_ = 0;

  /// Rejections the server may have counted: those of a replaced device's messages (bad_signature).
  std::map<std::string, int64_t> tolerated_;

  bool quiet_ = false;
  bool failed_ = false;
  bool canary_fired_ = false;
  int64_t step_ = 0;
  Outcome out_;
  std::map<std::string, int> short_ids_;
  uint64_t digest_ = 0xcbf29ce484222325ULL;
};

World::World(const Options& o)
    : opts_(o),
      rng_(o.seed),
      fault_rng_(rng_.fork()),
      broker_(q_, rng_.fork()) {}

// ---------------------------------------------------------------- trace

void World::note(const std::string& line) {
  std::string full = "[" + std::to_string(step_) + " " + clock_str(q_.now()) + "] " + line;
  for (unsigned char c : full) {
    digest_ ^= c;
    digest_ *= 0x100000001b3ULL;
  }
  digest_ ^= '\n';
  digest_ *= 0x100000001b3ULL;
  if (opts_.live_trace) opts_.live_trace(full);
  out_.trace.push_back(std::move(full));
}

void World::fail(const std::string& invariant, const std::string& detail) {
  if (failed_) return;
  failed_ = true;
  out_.ok = false;
  out_.invariant = invariant;
  out_.detail = detail;
  out_.step = step_;
  note("VIOLATION " + invariant + ": " + detail);
}

std::string World::sid(const std::string& session) {
  if (session.empty()) return "-";
  auto it = short_ids_.find(session);
  if (it == short_ids_.end()) it = short_ids_.emplace(session, static_cast<int>(short_ids_.size()) + 1).first;
  return "s" + std::to_string(it->second);
}

// ---------------------------------------------------------------- set-up

Profile World::make_profile() {
  Profile p;
  const double drops[] = {0, 0.01, 0.05, 0.2};
  const double dups[] = {0, 0.02, 0.1};
  const double reorders[] = {0, 0.05, 0.3};
  const int64_t delays[] = {5, 50, 500, 3000};
  const double rates[] = {0.01, 0.03, 0.06};
  p.net.drop = drops[fault_rng_.below(4)];
  p.net.duplicate = dups[fault_rng_.below(3)];
  p.net.reorder = reorders[fault_rng_.below(3)];
  p.net.min_delay_ms = 1;
  p.net.max_delay_ms = delays[fault_rng_.below(4)];
  p.net.reorder_ms = 3000;
  p.fault_rate = rates[fault_rng_.below(3)];
  p.swipe_rate = 0.25 + 0.15 * static_cast<double>(fault_rng_.below(3));
  const double holders[] = {0.05, 0.15, 0.3};
  p.holder_rate = holders[fault_rng_.below(3)];
  const FaultKind all[] = {
      FaultKind::terminal_crash,     FaultKind::terminal_crash_at_io, FaultKind::terminal_restart,
      FaultKind::terminal_reboot,    FaultKind::server_crash,         FaultKind::server_crash_at_io,
      FaultKind::partition_terminal, FaultKind::partition_server,     FaultKind::broker_outage,
      FaultKind::admin_change,       FaultKind::clock_trouble,        FaultKind::meter_outage,
      FaultKind::retained_tamper,    FaultKind::terminal_replace};
  for (auto k : all) {
    const bool on = fault_rng_.chance(0.75);  // drawn for every kind, so --without shifts no other draw
    const bool excluded = std::find(opts_.without.begin(), opts_.without.end(), to_string(k)) != opts_.without.end();
    if (on && !excluded) p.kinds.push_back(k);
  }
  return p;
}

Status World::build_directory(server::Stores s) {
  const int64_t now = kT0;
  LG_TRY(s.directory.add_unit(server::Unit{"u", "Simulated unit", ""}, now));
  LG_TRY(s.directory.add_lab(server::Lab{"l", "Simulated lab", "u"}, now));

  // users: an admin and kUsers ordinary users, one card each, and cards nobody owns
  // (30% from outside: another campus, an academic institution or an enterprise; the rest
  // students and staff. One draw per user, as before the five categories, so a seed's run stays.)
  users_.push_back(server::User{"root", "Root", server::UserCategory::internal_staff, "", true});
  for (int i = 0; i < kUsers; ++i) {
    using C = server::UserCategory;
    constexpr C kOutside[] = {C::other_campus, C::external_academic, C::enterprise};
    const auto cat = rng_.chance(0.3) ? kOutside[i % 3] : (i % 2 == 0 ? C::internal_student : C::internal_staff);
    users_.push_back(server::User{"u" + std::to_string(i), "User " + std::to_string(i), cat,
                                  server::directory::is_internal(cat) ? "u" : "", false});
  }
  for (std::size_t i = 0; i < users_.size(); ++i) {
    LG_TRY(s.directory.add_user(users_[i], now));
    const std::string card = (i == 0 ? "AD" : "C" + hex(i, 1)) + hex(rng_.next(), 6);
    LG_TRY(s.directory.add_card(server::Card{card, users_[i].id, true}, now));
    user_cards_.push_back(card);
    card_owner_[card] = users_[i].id;
  }
  for (int i = 0; i < kUnknownCards; ++i) unknown_cards_.push_back("DE" + hex(static_cast<uint64_t>(i), 1) + hex(rng_.next(), 5));

  for (auto& tp : terms_) {
    Term& t = *tp;
    server::Instrument ins;
    ins.id = t.resource;
    ins.name = t.resource;
    ins.lab = "l";
    ins.kind = t.door ? server::InstrumentKind::door : server::InstrumentKind::instrument;
    ins.require_booking = !t.door && rng_.chance(0.25);
    const int64_t early[] = {0, 300, 900};
    const int64_t grace[] = {60, 300};
    const int64_t offline[] = {300, 3600, 86400};
    const int64_t max_session[] = {0, 0, 60, 300, 1800};
    ins.early_start_s = early[rng_.below(3)];
    ins.grace_after_end_s = grace[rng_.below(2)];
    ins.offline_grace_s = offline[rng_.below(3)];
    ins.max_session_s = max_session[rng_.below(5)];
    LG_TRY(s.directory.add_instrument(ins, now));
    if (!t.door && rng_.chance(0.9)) {
      const int64_t internal = rng_.between(1, 500) * 100;
      server::FeeStandard f{t.resource, internal, internal * rng_.between(1, 3), "CNY"};
      LG_TRY(s.billing.put_fee_standard(f, now));
      fees_[t.resource] = f;
    }
    for (std::size_t u = 1; u < users_.size(); ++u) {
      if (!rng_.chance(0.6)) continue;
      Qual q;
      if (rng_.chance(0.15)) q.from = kT0 + rng_.between(0, horizon_ms_ / 2);
      if (rng_.chance(0.3)) q.until = kT0 + rng_.between(horizon_ms_ / 10, horizon_ms_);
      LG_TRY(s.qualification.put(server::Qualification{users_[u].id, t.resource, q.from, q.until}, now));
      quals_[{users_[u].id, t.resource}] = q;
    }
    if (ins.require_booking) {
      // back-to-back bookings with gaps, each for a user qualified for the whole of it
      // (within the default booking policy: starting at most 15 minutes back, at least 15 long)
      int64_t at = kT0 - 10 * kMinute;
      while (at < kT0 + horizon_ms_) {
        const int64_t len = rng_.between(15, 40) * kMinute;
        const std::string& who = users_[static_cast<std::size_t>(rng_.between(1, kUsers))].id;
        auto qit = quals_.find({who, t.resource});
        if (qit != quals_.end() && qit->second.from <= at && (!qit->second.until || *qit->second.until >= at + len)) {
          auto b = server::booking::Service(s.uow, s.booking, s.directory, s.qualification).create(server::Booking{"", t.resource, who, at, at + len}, now);
          if (!b) return b.error();
        }
        at += len + rng_.between(0, 15) * kMinute;
      }
    }
    server::Terminal enrol;
    enrol.id = t.id;
    enrol.resource = t.resource;
    enrol.public_key = t.public_pem;
    LG_TRY(s.terminals.add(enrol, now));
  }
  return {};
}

bool World::setup() {
  for (const auto& w : opts_.without) {
    bool known = false;
    for (int k = 0; k <= static_cast<int>(FaultKind::terminal_replace); ++k)
      known = known || w == to_string(static_cast<FaultKind>(k));
    if (!known) {
      fail("setup", "--without: no fault kind \"" + w + "\"");
      return false;
    }
  }
  profile_ = make_profile();
  out_.profile = profile_.describe();
  broker_.faults = profile_.net;
  broker_.trace = [this](const std::string& line) { note("broker: " + line); };
  horizon_ms_ = static_cast<int64_t>(opts_.steps) * kMeanGapMs;

  board_.name = "sim-board";
  board_.arch = "x86_64";
  board_.toolchain = "native";
  board_.relay_coils = 4;
  board_.outputs.push_back({"power", kPowerCoil, board::OutputKind::instrument_power, board::FailMode::closed, 0});
  board_.outputs.push_back({"door", kDoorCoil, board::OutputKind::door_lock, board::FailMode::closed, kPulseMs});
  board_.meter = board::MeterMap{};

  auto skey = crypto::PrivateKey::generate();
  if (!skey) {
    fail("setup", "server key: " + skey.error().message());
    return false;
  }
  server_.key = std::move(*skey);
  server_public_ = server_.key.public_key();
  server_.db_path = (opts_.dir / "server.db").string();
  server_.cfg.site = kSite;
  server_.cfg.admin_token = "sim-admin-token-0123456789";
  server_.cfg.data_dir = opts_.dir;
  server_.link = std::make_unique<ServerLink>(
      broker_, [this](const char* where) { server_io_point(where); },
      [this](const std::string& topic, const std::string& payload) { server_published(topic, payload); });
  if (!opts_.canary.empty() && opts_.canary != "ack-ahead" && opts_.canary != "server-forgets" &&
      opts_.canary != "stranger-after-swap") {
    fail("setup", "unknown canary \"" + opts_.canary + "\" (ack-ahead, server-forgets, stranger-after-swap)");
    return false;
  }

  for (int i = 0; i < opts_.terminals; ++i) {
    auto t = std::make_unique<Term>(
        q_, broker_, rng_.between(1'000'000, 1'000'000'000),
        [this, i](const std::function<void()>& fn) {
          with_agent(*terms_[static_cast<std::size_t>(i)], [&fn](terminal::Agent&) { fn(); });
        },
        [this, i](const char* where) { io_point(*terms_[static_cast<std::size_t>(i)], where); });
    t->index = i;
    t->id = "t" + std::to_string(i);
    t->door = opts_.terminals > 1 && rng_.chance(0.2);
    t->resource = (t->door ? "door-" : "inst-") + std::to_string(i);
    t->fail_mode = rng_.chance(0.2) ? board::FailMode::open : board::FailMode::closed;
    t->db_path = (opts_.dir / (t->id + ".db")).string();
    t->meter.watts = static_cast<double>(rng_.between(100, 3000));
    t->meter.kwh = static_cast<double>(rng_.between(0, 100000)) / 10.0;
    auto k = crypto::PrivateKey::generate();
    if (!k) {
      fail("setup", "terminal key: " + k.error().message());
      return false;
    }
    t->key_pem = k->to_pem();
    t->public_pem = k->public_pem();
    t->link.client = t->client = broker_.add_client(
        t->id, [this, i](const mqtt::Message& m) { terminal_message(*terms_[static_cast<std::size_t>(i)], m); },
        [this, i](bool up) {
          Term& me = *terms_[static_cast<std::size_t>(i)];
          note(me.id + " told: " + (up ? "connected" : "connection lost"));
          with_agent(me, [up](terminal::Agent& a) { a.on_connection(up); });
        });
    broker_.subscribe(t->client, proto::topic(kSite, t->id, proto::Channel::sync));
    broker_.subscribe(t->client, proto::topic(kSite, t->id, proto::Channel::ack));
    terms_.push_back(std::move(t));
  }

  server_.client = broker_.add_client(
      "server", [this](const mqtt::Message& m) { server_message(m); },
      [this](bool up) {
        note(std::string("server told: ") + (up ? "connected" : "connection lost"));
        if (up) with_server([](server::App& a) { a.on_mqtt_connected(); });
      });
  server_.link->client = server_.client;
  broker_.subscribe(server_.client, proto::topic_filter(kSite, proto::Channel::evt));
  broker_.subscribe(server_.client, proto::topic_filter(kSite, proto::Channel::state));
  broker_.subscribe(server_.client, proto::topic_filter(kSite, proto::Channel::sync));
  // Someone else on the broker who keeps the first bundle of every terminal, to replay it later.
  intruder_ = broker_.add_client(
      "intruder",
      [this](const mqtt::Message& m) {
        if (!m.payload.empty()) first_bundle_.emplace(m.topic, m.payload);
      },
      nullptr);
  broker_.subscribe(intruder_, proto::topic_filter(kSite, proto::Channel::sync));

  {
    auto store = server::SqliteBackend::open(server_.db_path);
    if (!store) {
      fail("setup", "server store: " + store.error().message());
      return false;
    }
    if (auto st = build_directory((*store)->stores()); !st) {
      fail("setup", "directory: " + st.error().message());
      return false;
    }
  }

  q_.on_advance = [this](int64_t from, int64_t to) {
    for (auto& t : terms_) {
      if (!t->door && t->coils.is_on(kPowerCoil))
        t->meter.kwh += t->meter.watts * static_cast<double>(to - from) / 3.6e9;
    }
  };

  std::string who;
  for (auto& t : terms_) {
    who += " " + t->id + "(" + t->resource + (t->fail_mode == board::FailMode::open ? ", fail-open" : "") + ")";
  }
  note("seed " + std::to_string(opts_.seed) + ", " + std::to_string(opts_.steps) + " steps, terminals:" + who);
  note("profile: " + out_.profile);

  start_server();
  for (auto& t : terms_) {
    start_terminal(*t);
    Term* tp = t.get();
    q_.after(rng_.between(0, 999), [this, tp] { every_second(*tp); });
    q_.after(rng_.between(0, kHeartbeatS * 1000 - 1), [this, tp] { every_heartbeat(*tp); });
  }
  broker_.start(intruder_);
  q_.after(kServerTickMs, [this] { server_tick(); });
  return !failed_;
}

// ---------------------------------------------------------------- terminals

void World::io_point(Term& t, const char* where) {
  if (t.crash_in <= 0) return;
  if (t.crash_at_relay && std::string_view(where).find("publish") != std::string_view::npos) return;
  if (--t.crash_in == 0) throw Crash{where};
}

bool World::with_agent(Term& t, const std::function<void(terminal::Agent&)>& f) {
  if (!t.agent) return false;
  try {
    f(*t.agent);
  } catch (const Crash& c) {
    crash_terminal(t, c.where);
    return false;
  }
  capture(t);
  check_terminal(t);
  return true;
}

void World::capture(Term& t) {
  if (!t.agent) return;
  auto recs = t.agent->store().pending(t.shadow_max, 1'000'000);
  if (!recs) {
    fail("harness", t.id + ": cannot read the outbox: " + recs.error().message());
    return;
  }
  for (auto& r : *recs) {
    if (r.seq != t.shadow_max + 1) {
      fail("seq-grows", t.id + " committed seq " + std::to_string(r.seq) + " after " + std::to_string(t.shadow_max) +
                            " (seqs must be 1, 2, 3, ... with no gap and no reuse)");
      return;
    }
    std::string what = proto::to_string(r.kind());
    if (const auto* a = std::get_if<proto::Access>(&r.body)) {
      what += std::string(" ") + proto::to_string(a->decision) + " " + proto::to_string(a->reason);
    } else if (const auto* s = std::get_if<proto::SessionStart>(&r.body)) {
      what += " " + sid(s->session);
      ++out_.counters.sessions_started;
    } else if (const auto* e = std::get_if<proto::SessionEnd>(&r.body)) {
      what += " " + sid(e->session) + " " + proto::to_string(e->end_reason) + " " + std::to_string(e->duration_ms) + " ms";
      ++out_.counters.sessions_ended;
    } else if (const auto* al = std::get_if<proto::Alarm>(&r.body)) {
      what += " " + al->code;
    }
    note(t.id + " committed #" + std::to_string(r.seq) + " " + what);
    ++out_.counters.records;
    t.shadow_max = r.seq;
    t.shadow.emplace(r.seq, std::move(r));
  }
}

void World::check_terminal(Term& t) {
  if (!t.agent || failed_) return;
  // (3) what is gone from the outbox was acked by the server; what is left is contiguous.
  auto& db = t.agent->store().database();
  auto st = db.prepare("SELECT COALESCE(MIN(seq), 0), COALESCE(MAX(seq), 0), COUNT(*) FROM outbox");
  if (!st) return fail("harness", st.error().message());
  auto row = st->step();
  if (!row || !*row) return fail("harness", t.id + ": cannot read the outbox");
  const auto lo = static_cast<uint64_t>(st->column_int64(0));
  const auto hi = static_cast<uint64_t>(st->column_int64(1));
  const auto n = static_cast<uint64_t>(st->column_int64(2));
  st->reset();
  if (n > 0 && (hi != t.shadow_max || hi - lo + 1 != n)) {
    return fail("outbox-contiguous", t.id + " outbox holds " + std::to_string(n) + " records #" + std::to_string(lo) +
                                         "..#" + std::to_string(hi) + ", last committed #" + std::to_string(t.shadow_max));
  }
  const uint64_t pruned_upto = n > 0 ? lo - 1 : t.shadow_max;
  if (pruned_upto > t.max_ack) {
    return fail("no-unacked-delete", t.id + " deleted records up to #" + std::to_string(pruned_upto) +
                                         " but the server acked only up to #" + std::to_string(t.max_ack));
  }
  if (!t.own_bundle && t.agent->acl().version > t.bundle_at_enrol) {
    // Built after the enrolment, so with the new device's card key (the bundle it may have
    // applied before, the retained one, names cards by the old device's key).
    t.own_bundle = true;
    const int64_t waited = q_.now() - t.enrolled_at;
    out_.counters.own_bundle_wait_ms = std::max(out_.counters.own_bundle_wait_ms, waited);
    note(t.id + " device " + std::to_string(t.device) + " has a bundle of its own (v" +
         std::to_string(t.agent->acl().version) + ") " + std::to_string(waited / 1000) + " s after its enrolment");
  }
  // Every message the agent got was genuine: nothing should be rejected.
  if (t.rejected + t.agent->rejected() > t.rejected_expected)
    return fail(
        "no-rejections",
        t.id + " rejected " + std::to_string(t.rejected + t.agent->rejected()) + " messages from the server" +
            (t.rejected_expected ? " (" + std::to_string(t.rejected_expected) + " of them acks for a replaced device)"
                                 : ""));
  // The relay: a latching output is on exactly while a session is open.
  if (!t.door) {
    const bool on = t.coils.is_on(kPowerCoil);
    const auto& s = t.agent->session();
    if (on && !s) return fail("relay-session", t.id + " power coil is on without an open session");
    if (!on && s) return fail("relay-session", t.id + " session " + sid(s->id) + " is open but the power coil is off");
  }
}

void World::start_terminal(Term& t) {
  if (t.agent || t.swap == Term::Swap::removed) return;  // a removed device never comes back
  if (t.reboot_pending) {
    t.reboot_pending = false;
    ++t.reboots;
    t.clock.reboot("boot-" + std::to_string(t.reboots), rng_.between(10'000, 100'000));
    if (t.reboot_clock_off) {
      t.reboot_clock_off = false;
      clock_off(t, "comes up after the reboot");
    }
  }
  auto store = terminal::Store::open(t.db_path);
  if (!store) return fail("harness", t.id + ": cannot open its store: " + store.error().message());
  // As the runner does at every start: the sequence starts at the enrolment's seq_start
  // (enrolled.toml), and never goes down.
  if (auto st = store->start_seq_at_least(t.seq_start); !st)
    return fail("harness", t.id + ": start_seq_at_least(" + std::to_string(t.seq_start) + "): " + st.error().message());
  auto key = crypto::PrivateKey::from_pem(t.key_pem);
  if (!key) return fail("harness", t.id + ": key: " + key.error().message());
  terminal::AgentSettings s;
  s.id = t.id;
  s.site = kSite;
  s.resource = t.resource;
  s.board = board_;
  s.output = t.door ? "door" : "power";
  s.fail_mode = t.fail_mode;
  s.heartbeat_s = kHeartbeatS;
  s.resend_s = kResendS;
  ++t.sched.epoch;
  t.agent = std::make_unique<terminal::Agent>(s, std::move(*store), std::move(*key), server_public_, t.coils,
                                              t.door ? nullptr : &t.meter, t.clock, t.sched);
  ++out_.counters.terminal_restarts;
  note(t.id + " starts");
  Status started;
  if (!with_agent(t, [&started](terminal::Agent& a) { started = a.start(); })) return;  // died in start()
  if (!started) return fail("terminal-start", t.id + " failed to start: " + started.error().message());
  // (4) the boot counter and the seqs only grow across restarts
  if (t.agent->boot() <= t.last_boot)
    return fail("seq-grows", t.id + " boot counter " + std::to_string(t.agent->boot()) + " after " +
                                 std::to_string(t.last_boot));
  t.last_boot = t.agent->boot();
  auto last = t.agent->store().last_seq();
  if (!last) return fail("harness", last.error().message());
  if (*last < t.shadow_max)
    return fail("seq-grows", t.id + " restarted with last seq " + std::to_string(*last) + " below #" +
                                 std::to_string(t.shadow_max) + " committed before");
  t.agent->set_publisher(&t.link);
  mqtt::Will will{t.agent->state_topic(), t.agent->state_payload(false), 1, true};
  t.sent.insert(digest_of(will.payload));  // the broker publishes it for the device
  broker_.set_will(t.client, std::move(will));
  broker_.start(t.client);
}

void World::crash_terminal(Term& t, const std::string& where) {
  if (!t.agent) return;
  capture(t);  // what it committed before dying
  t.rejected += t.agent->rejected();
  t.agent.reset();
  ++t.sched.epoch;
  ++out_.counters.terminal_crashes;
  note(t.id + " crashes " + where);
  broker_.stop(t.client, false);
  const int64_t down = quiet_ ? 0 : fault_rng_.between(0, 90'000);
  q_.after(down, [this, &t] { start_terminal(t); });
}

void World::restart_terminal_clean(Term& t) {
  if (!t.agent) return;
  note(t.id + " stops cleanly");
  if (!with_agent(t, [](terminal::Agent& a) { a.shutdown(); })) return;  // died while stopping
  t.rejected += t.agent->rejected();
  t.agent->set_publisher(nullptr);
  t.agent.reset();
  ++t.sched.epoch;
  broker_.stop(t.client, true);
  q_.after(fault_rng_.between(0, 30'000), [this, &t] { start_terminal(t); });
}

void World::terminal_message(Term& t, const mqtt::Message& m) {
  auto env = proto::open(m.payload);
  const std::string r = m.retained ? " (retained)" : "";
  if (env && m.topic == proto::topic(kSite, t.id, proto::Channel::ack)) {
    auto a = proto::decode_ack(env->body);
    note(t.id + " <- ack #" + (a ? std::to_string(a->seq) : "?") + r);
  } else if (env && m.topic == proto::topic(kSite, t.id, proto::Channel::sync)) {
    auto b = proto::decode_sync(env->body);
    note(t.id + " <- sync v" + (b ? std::to_string(b->version) : "?") + r);
  } else {
    note(t.id + " <- " + m.topic + " (" + std::to_string(m.payload.size()) + " bytes)" + r);
  }
  // An ack the server sent to a replaced device: MACed with that device's link key, the new one
  // must refuse it (a signed one it may take: it acks seqs it never had).
  const bool for_old = t.agent && t.retired_acked_to.count(digest_of(m.payload)) > 0;
  const uint64_t refuse = for_old && env && env->alg == proto::Auth::mac ? 1 : 0;
  const uint64_t before = t.agent ? t.agent->rejected() : 0;
  if (for_old) {
    note(t.id + " device " + std::to_string(t.device) + " got an ack sealed for the device it replaced");
    t.rejected_expected += refuse;
  }
  if (!with_agent(t, [&m](terminal::Agent& a) { a.on_message(m); }) || !for_old) return;
  if (t.agent->rejected() != before + refuse)
    return fail("old-device-refused", t.id + " device " + std::to_string(t.device) +
                                          (refuse ? " took an ack MACed for the device it replaced"
                                                  : " refused a signed ack meant for the device it replaced"));
  out_.counters.old_device_refused += refuse;
}

void World::every_second(Term& t) {
  with_agent(t, [](terminal::Agent& a) { a.tick(); });
  if (t.swap != Term::Swap::none) replace_step(t);
  q_.after(1000, [this, &t] { every_second(t); });
}

// ---------------------------------------------------------------- replacing a device

std::string World::device_of(const Term& t, uint64_t seq) const {
  std::size_t d = 0;
  while (d + 1 < t.device_first_seq.size() && t.device_first_seq[d + 1] <= seq) ++d;
  return "device " + std::to_string(d + 1);
}

void World::replace_step(Term& t) {
  if (failed_) return;
  if (t.swap == Term::Swap::marked) {
    // Swap when drained: every record it committed is acked (its outbox is empty) and no
    // session is open, so nothing is lost with the device and seq_start skips nothing.
    if (!t.agent || t.agent->session() || t.max_ack != t.shadow_max) return;
    auto depth = t.agent->store().depth();
    if (!depth || *depth > 0) return;
    if (t.swap_order == Term::SwapOrder::enrol_first) {
      // The new device was enrolled at the bench; the old one goes as soon as it is swapped in,
      // so what it still sends (its Will, its offline state) comes after the new key.
      if (!server_.app) return;  // the technician's enrolment waits for the server
      note(t.id + " device " + std::to_string(t.device + 1) + " is enrolled at the bench before device " +
           std::to_string(t.device) + " is taken out");
      if (!enrol_on_server(t)) return;
      remove_device(t);
      if (failed_) return;
      start_new_device(t);
    } else {
      remove_device(t);
    }
  } else if (t.swap == Term::Swap::removed && q_.now() >= t.swap_enrol_at && server_.app) {
    if (enrol_on_server(t)) start_new_device(t);
  }
}

void World::remove_device(Term& t) {
  const bool pull = t.swap_order != Term::SwapOrder::shut_down_first;
  note(t.id + " device " + std::to_string(t.device) + " is drained (#1..#" + std::to_string(t.shadow_max) +
       " acked, no session): the technician " + (pull ? "unplugs it" : "shuts it down") + " for good");
  t.crash_in = 0;
  if (!pull && !with_agent(t, [](terminal::Agent& a) { a.shutdown(); })) return;
  capture(t);
  if (t.shadow_max != t.max_ack)
    return fail("exactly-once", t.id + " device " + std::to_string(t.device) + " committed #" +
                                    std::to_string(t.shadow_max) + " while being removed, acked only #" +
                                    std::to_string(t.max_ack) + ": lost with the device");
  t.rejected += t.agent->rejected();
  t.agent->set_publisher(nullptr);
  t.agent.reset();
  ++t.sched.epoch;
  broker_.stop(t.client, !pull);  // unplugged: the broker publishes its Will
  note(t.id + " device " + std::to_string(t.device) +
       " removed (its file set aside: " + std::filesystem::path(t.db_path).filename().string() + ")");
  if (t.swap_order == Term::SwapOrder::enrol_first) return;
  t.swap = Term::Swap::removed;
  // The technician installs the new device and enrols it at once, or takes a while.
  const int64_t wait = fault_rng_.chance(0.5) ? fault_rng_.between(0, 5'000) : fault_rng_.between(5'000, 5 * kMinute);
  t.swap_enrol_at = q_.now() + wait;
  note(t.id + " device " + std::to_string(t.device + 1) + " is enrolled in " + std::to_string(wait / 1000) + " s");
}

bool World::enrol_on_server(Term& t) {
  // What the Enrolment service does for the new device's request (server/terminals/enrolment.cpp),
  // through the same store calls: a one-time token for the id, then enrol() with its hash and the
  // device's public key; the simulation has no TLS, so the certificate is a serial only.
  auto& terminals = server_.store->stores().terminals;
  const int64_t now = kT0 + q_.now();
  auto before = terminals.get(t.id);
  if (!before || !*before) return fail("harness", t.id + ": not on the server before its re-enrolment"), false;
  auto key = crypto::PrivateKey::generate();
  if (!key) return fail("harness", "terminal key: " + key.error().message()), false;
  const int next = t.device + 1;
  server::EnrolToken token;
  token.hash = crypto::sha256_hex("lgsim-enrol-" + t.id + "-" + std::to_string(next));
  token.terminal = t.id;
  token.resource = t.resource;
  token.created_ms = now;
  token.expires_ms = now + 3'600'000;
  token.created_by = "sim-technician";
  if (auto st = terminals.add_enrol_token(token); !st)
    return fail("harness", t.id + ": add_enrol_token: " + st.error().message()), false;
  server::CertRecord cert;
  cert.serial = 1000 * static_cast<uint64_t>(t.index + 1) + static_cast<uint64_t>(next);
  cert.issued_ms = now;
  cert.not_after_ms = now + 397LL * 86'400'000;
  auto e = terminals.enrol(token.hash, key->public_pem(), cert, now);
  if (!e) return fail("re-enrol", t.id + ": enrol refused the new device: " + e.error().message()), false;
  const server::Terminal& was = **before;
  // A new epoch under the id; the earlier device's certificate superseded.
  if (!e->replaced || e->terminal.epoch != was.epoch + 1 || e->terminal.epoch != static_cast<uint64_t>(next))
    return fail("re-enrol", t.id + ": re-enrolment gave epoch " + std::to_string(e->terminal.epoch) + " (replaced " +
                                std::to_string(e->replaced) + ") after epoch " + std::to_string(was.epoch) +
                                ", device " + std::to_string(next)),
           false;
  const std::vector<uint64_t> superseded =
      t.cert_serial ? std::vector<uint64_t>{t.cert_serial} : std::vector<uint64_t>{};
  if (e->superseded != superseded)
    return fail("re-enrol", t.id + ": re-enrolment superseded " + std::to_string(e->superseded.size()) +
                                " certificate(s), the earlier device had " + std::to_string(superseded.size())),
           false;
  if (e->terminal.public_key != key->public_pem() || e->terminal.online || e->terminal.revoked_ms)
    return fail("re-enrol", t.id + ": the re-enrolled row is not the new device's (key, online, revoked)"), false;
  // The old device was drained: the new one continues right above its last record.
  if (e->seq_start != t.shadow_max + 1)
    return fail("seq-grows", t.id + ": the new device starts at seq_start " + std::to_string(e->seq_start) +
                                 ", the old one's last record is #" + std::to_string(t.shadow_max)),
           false;
  // The acked seq stays where it was: nothing the old device sent needs an ack again, and acks
  // to the id never go down.
  if (e->terminal.acked_seq != t.max_ack)
    return fail("ack-monotonic", t.id + ": acked_seq " + std::to_string(e->terminal.acked_seq) +
                                     " after re-enrolment, the server had acked #" + std::to_string(t.max_ack)),
           false;
  auto bundle = server_.store->stores().sync.stored(t.id);
  if (!bundle) return fail("harness", "stored_sync: " + bundle.error().message()), false;
  t.next_key_pem = key->to_pem();
  t.next_public_pem = key->public_pem();
  t.seq_start = e->seq_start;
  t.cert_serial = cert.serial;
  t.bundle_at_enrol = bundle->version;
  t.enrolled_at = q_.now();
  ++out_.counters.replacements;
  note(t.id + " device " + std::to_string(next) + " enrolled: epoch " + std::to_string(e->terminal.epoch) +
       ", seq_start " + std::to_string(e->seq_start) + ", acked_seq " + std::to_string(e->terminal.acked_seq) +
       ", bundle v" + std::to_string(bundle->version) + " on the server");
  return true;
}

void World::start_new_device(Term& t) {
  // From now on, whatever the old device sent that is still on its way (or retained on the
  // broker: its state, its Will) is a replaced device's message: the server holds another key.
  t.retired_sent.insert(t.sent.begin(), t.sent.end());
  t.sent.clear();
  // ... and the acks the server sealed for the old device (with its link key) that are still on
  // their way reach the new one, which subscribes to the same topic.
  t.retired_acked_to.insert(t.acked_to.begin(), t.acked_to.end());
  t.acked_to.clear();
  t.device += 1;
  t.key_pem = std::move(t.next_key_pem);
  t.public_pem = std::move(t.next_public_pem);
  t.device_first_seq.push_back(t.seq_start);
  t.db_path = (opts_.dir / (t.id + "-device" + std::to_string(t.device) + ".db")).string();
  t.last_boot = 0;  // a new boot counter
  t.swap = Term::Swap::none;
  t.own_bundle = false;
  t.own_bundle_due = false;
  // Another computer: its own monotonic clock and boot id, and its own wall clock, which may
  // come up wrong until NTP answers (not in the quiet period).
  t.clock.wall_offset = 0;
  t.clock.is_synced = true;
  ++t.clock_gen;
  t.reboot_pending = true;
  t.reboot_clock_off = !quiet_ && fault_rng_.chance(0.25);
  start_terminal(t);
}

void World::every_heartbeat(Term& t) {
  with_agent(t, [](terminal::Agent& a) { a.heartbeat(); });
  q_.after(kHeartbeatS * 1000, [this, &t] { every_heartbeat(t); });
}

// ---------------------------------------------------------------- server

void World::server_io_point(const char* where) {
  if (server_.crash_in <= 0) return;
  if (--server_.crash_in == 0) throw Crash{where};
}

bool World::with_server(const std::function<void(server::App&)>& f) {
  if (!server_.app) return false;
  try {
    f(*server_.app);
  } catch (const Crash& c) {
    crash_server(c.where);
    return false;
  }
  return true;
}

void World::start_server() {
  if (server_.app) return;
  auto store = server::SqliteBackend::open(server_.db_path);
  if (!store) return fail("harness", "server store: " + store.error().message());
  server_.store = std::move(*store);
  server_.app = std::make_unique<server::App>(server_.store->stores(), server_.key, server_.cfg, *server_.link,
                                              [this] { return kT0 + q_.now(); }, "sim");
  note("server starts");
  if (!with_server([](server::App& a) { a.start(); })) return;
  broker_.start(server_.client);
}

void World::crash_server(const std::string& where) {
  if (!server_.app) return;
  server_.app.reset();
  server_.store.reset();
  ++out_.counters.server_crashes;
  note("server crashes " + where);
  broker_.stop(server_.client, false);
  const int64_t down = quiet_ ? 0 : fault_rng_.between(1000, 120'000);
  q_.after(down, [this] { start_server(); });
}

void World::server_published(const std::string& topic, const std::string& payload) {
  auto parts = proto::parse_topic(topic);
  if (!parts || parts->channel != proto::Channel::ack) return;
  auto env = proto::open(payload);
  if (!env) return fail("harness", "server published an ack that does not open: " + env.error().message());
  auto ack = proto::decode_ack(env->body);
  if (!ack) return fail("harness", "server published an undecodable ack: " + ack.error().message());
  Term* t = nullptr;
  for (auto& x : terms_)
    if (x->id == ack->terminal) t = x.get();
  if (!t) return fail("ack-covers-stored", "server acked unknown terminal " + ack->terminal);
  t->acked_to.insert(digest_of(payload));
  if (ack->seq < t->max_ack)
    return fail("ack-monotonic", "server acked " + t->id + " #" + std::to_string(ack->seq) + " after #" +
                                     std::to_string(t->max_ack));
  // The ack promises that every seq up to it is committed on the server.
  auto& db = server_.store->db().conn();
  auto st = db.prepare("SELECT COUNT(*) FROM records WHERE terminal = ? AND seq BETWEEN 1 AND ?");
  if (!st) return fail("harness", st.error().message());
  st->bind(1, t->id).bind(2, static_cast<int64_t>(ack->seq));
  auto row = st->step();
  if (!row || !*row) return fail("harness", "cannot count the server's records");
  const auto held = static_cast<uint64_t>(st->column_int64(0));
  st->reset();
  if (held != ack->seq)
    return fail("ack-covers-stored", "server acked " + t->id + " up to #" + std::to_string(ack->seq) + " but holds " +
                                         std::to_string(held) + " of #1..#" + std::to_string(ack->seq));
  t->max_ack = ack->seq;
  if (opts_.canary == "server-forgets" && !canary_fired_ && ack->seq >= 3) {
    // Self-test: the server loses a record it acked (as if the ack had gone out before the commit).
    canary_fired_ = true;
    auto del = db.prepare("DELETE FROM records WHERE terminal = ? AND seq = ?");
    if (!del) return fail("harness", del.error().message());
    del->bind(1, t->id).bind(2, static_cast<int64_t>(ack->seq));
    if (auto r = del->run(); !r) return fail("harness", r.error().message());
    note("canary: the server forgets " + t->id + " #" + std::to_string(ack->seq) + " after acking it");
  }
}

Result<int64_t> World::rejection_count(const std::string& reason) {
  auto st = server_.store->db().conn().prepare("SELECT COALESCE(SUM(count), 0) FROM rejections WHERE reason = ?");
  if (!st) return st.error();
  st->bind(1, reason);
  auto row = st->step();
  if (!row) return row.error();
  const int64_t n = *row ? st->column_int64(0) : 0;
  st->reset();
  return n;
}

void World::server_message(const mqtt::Message& m) {
  auto parts = proto::parse_topic(m.topic);
  auto env = proto::open(m.payload);
  // A message of a replaced device (published before it was removed, still on its way, or its
  // retained state or Will): signed or MACed with a key the server no longer holds for the id.
  const Term* sender = nullptr;
  for (auto& x : terms_)
    if (parts && x->id == parts->terminal) sender = x.get();
  const bool old_device = sender && sender->retired_sent.count(digest_of(m.payload)) > 0;
  const std::string r = std::string(m.retained ? " (retained)" : "") + (old_device ? " [a replaced device's]" : "");
  if (parts && env && parts->channel == proto::Channel::evt) {
    auto b = proto::decode_event_batch(env->body);
    if (b && !b->records.empty()) {
      note("server <- " + parts->terminal + " evt #" + std::to_string(b->records.front().seq) + "..#" +
           std::to_string(b->records.back().seq) + " boot " + std::to_string(b->boot) + r);
    }
  } else if (parts && env && parts->channel == proto::Channel::state) {
    auto s = proto::decode_state(env->body);
    if (s)
      note("server <- " + parts->terminal + " state " + (s->online ? "online" : "offline") + " boot " +
           std::to_string(s->boot) + " acl v" + std::to_string(s->acl_version) + r);
  } else if (parts && parts->channel == proto::Channel::sync) {
    // its own retained bundles coming back: only worth a line when it is not a bundle
    if (!env) note("server <- " + parts->terminal + " sync (" + std::to_string(m.payload.size()) + " bytes)" + r);
  }
  int64_t bad_before = 0;
  if (old_device && server_.store) {
    auto n = rejection_count("bad_signature");
    if (!n) return fail("harness", n.error().message());
    bad_before = *n;
  }
  if (!with_server([&m](server::App& a) { a.on_mqtt_message(m.topic, m.payload); })) return;
  if (sender && !old_device && parts->channel == proto::Channel::state) {
    for (auto& x : terms_)
      if (x.get() == sender) check_own_bundle(*x, m.payload);
  }
  schedule_sync_flush();
  if (!server_.store || failed_) return;
  if (old_device) {
    // The server must refuse it, as a signature that does not verify with the enrolled key, and
    // count exactly that: taken, it could store a stale state (the new device shown offline) or
    // records under the new epoch.
    auto n = rejection_count("bad_signature");
    if (!n) return fail("harness", n.error().message());
    if (*n != bad_before + 1)
      return fail("old-device-refused", "a message of " + sender->id + "'s replaced device on " + m.topic +
                                            " was not refused as bad_signature (the count went from " +
                                            std::to_string(bad_before) + " to " + std::to_string(*n) + ")");
    ++tolerated_["bad_signature"];
    ++out_.counters.old_device_refused;
  }
  // An honest terminal's message is never refused or rejected (checked as it happens, so the
  // trace ends where it went wrong; the final checks name the record).
  auto st = server_.store->db().conn().prepare(
      "SELECT reason, count FROM rejections WHERE reason != 'sync_overwritten' AND count > 0 ORDER BY reason");
  if (!st) return fail("harness", st.error().message());
  for (;;) {
    auto row = st->step();
    if (!row) return fail("harness", row.error().message());
    if (!*row) break;
    const std::string why = st->column_text(0);
    const int64_t n = st->column_int64(1);
    if (auto it = tolerated_.find(why); it != tolerated_.end() && n <= it->second) continue;
    st->reset();
    std::string alarm;  // what the server said about it, when it raised an alarm
    if (auto a = server_.store->db().conn().prepare(
            "SELECT terminal, detail FROM server_alarms WHERE code = ? ORDER BY id DESC LIMIT 1");
        a) {
      a->bind(1, why);
      if (auto got = a->step(); got && *got) alarm = ": " + a->column_text(0) + ": " + a->column_text(1);
      a->reset();
    }
    const int64_t expected = tolerated_.count(why) ? tolerated_[why] : 0;
    return fail("no-rejections",
                "the server counted " + std::to_string(n) + " rejection(s) \"" + why + "\"" +
                    (expected ? " (" + std::to_string(expected) + " of them a replaced device's)" : "") +
                    " after a message on " + m.topic + alarm);
  }
  st->reset();
}

void World::schedule_sync_flush() {
  // What the server's sync strand does: bundles marked dirty by ingest are rebuilt and published
  // after server.sync_delay_ms, off the ingest path (a crash before then loses only the marks;
  // start() rebuilds everything).
  if (sync_flush_armed_ || !server_.app || !server_.app->dirty().pending()) return;
  sync_flush_armed_ = true;
  q_.after(kSyncDelayMs, [this] {
    sync_flush_armed_ = false;
    if (!with_server([](server::App& a) { a.flush_dirty(); })) return;
    for (auto& t : terms_) {
      if (!t->own_bundle_due || failed_) continue;
      t->own_bundle_due = false;
      auto stored = server_.store->stores().sync.stored(t->id);
      if (!stored) return fail("harness", "stored_sync: " + stored.error().message());
      if (stored->version <= t->bundle_at_enrol)
        return fail("own-bundle", t->id + " device " + std::to_string(t->device) +
                                      ": the server's flush after its online state built it no bundle (still v" +
                                      std::to_string(stored->version) + ", the one of the device it replaced)");
    }
  });
}

void World::check_own_bundle(Term& t, const std::string& payload) {
  // A replaced device's bundle names cards by a digest keyed with the device's own key: the one it
  // finds retained on the broker was built for the device before it, and every card it reads is
  // unknown to it until it has its own. Once the server has taken an online state of the new
  // device, it must have built that bundle or be about to (its dirty flush).
  if (t.own_bundle || !server_.app || !server_.store) return;
  auto env = proto::open(payload);
  if (!env) return;
  auto st = proto::decode_state(env->body);
  if (!st || !st->online) return;
  auto stored = server_.store->stores().sync.stored(t.id);
  if (!stored) return fail("harness", "stored_sync: " + stored.error().message());
  if (stored->version > t.bundle_at_enrol) return;
  if (!server_.app->dirty().pending())
    return fail("own-bundle", t.id + " device " + std::to_string(t.device) + " is online with bundle v" +
                                  std::to_string(st->acl_version) + " and the server's is v" +
                                  std::to_string(stored->version) +
                                  ", built for the device it replaced, and nothing is to be rebuilt: every card "
                                  "it reads is unknown to it until the next periodic refresh");
  t.own_bundle_due = true;
}

void World::server_tick() {
  with_server([](server::App& a) { a.tick(); });
  q_.after(kServerTickMs, [this] { server_tick(); });
}

// ---------------------------------------------------------------- workload and faults

Term* World::random_terminal(bool up) {
  std::vector<Term*> c;
  for (auto& t : terms_)
    if (!up || t->agent) c.push_back(t.get());
  if (c.empty()) return nullptr;
  return c[rng_.below(c.size())];
}

void World::swipe(Term& t, const std::string& line, const char* why) {
  ++out_.counters.swipes;
  terminal::SwipeReply reply;
  const bool done = with_agent(t, [&](terminal::Agent& a) { reply = a.on_card(line); });
  if (!done) return;
  std::string what;
  if (!reply.error.empty()) {
    what = "error: " + reply.error;
  } else {
    what = std::string(proto::to_string(reply.decision)) + " " + proto::to_string(reply.reason) + " " + reply.action;
    if (!reply.session.empty()) what += " " + sid(reply.session);
  }
  note(t.id + " swipe " + line + " (" + why + ") -> " + what);
}

void World::random_swipe() {
  Term* t = random_terminal(true);
  if (!t) return;
  std::string card;
  const char* why = nullptr;
  const auto& open = t->agent->session();
  if (t->swap == Term::Swap::marked) {
    // Out of service until the technician has swapped it: only the holder comes, to finish.
    if (open) swipe(*t, open->card.str(), "holder, before the swap");
    return;
  }
  if (open && rng_.chance(profile_.holder_rate)) {
    card = open->card.str();
    why = "holder";
  } else {
    const uint64_t r = rng_.below(100);
    if (r < 70) {
      card = user_cards_[static_cast<std::size_t>(rng_.between(1, kUsers))];
      why = "user";
    } else if (r < 75) {
      card = user_cards_[0];
      why = "admin";
    } else if (r < 95) {
      card = rng_.pick(unknown_cards_);
      why = "unknown";
    } else {
      card = "not a card!";
      why = "garbage";
    }
  }
  if (rng_.chance(0.3)) {
    for (auto& c : card)
      if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
  }
  swipe(*t, card, why);
}

void World::admin_change() {
  if (!server_.app) return;
  const std::string& user = users_[static_cast<std::size_t>(rng_.between(1, kUsers))].id;
  const Term& t = *terms_[rng_.below(terms_.size())];
  const int64_t now = kT0 + q_.now();
  auto it = quals_.find({user, t.resource});
  Qual q;
  const bool valid = it != quals_.end() && it->second.from <= now && (!it->second.until || *it->second.until > now);
  if (valid) {
    q = it->second;
    q.until = now;  // revoke
  }
  if (auto st = server_.store->stores().qualification.put(server::Qualification{user, t.resource, q.from, q.until}, now); !st)
    return fail("harness", "put_qualification: " + st.error().message());
  quals_[{user, t.resource}] = q;
  ++out_.counters.admin_changes;
  note(std::string("admin ") + (valid ? "revokes " : "grants ") + user + " on " + t.resource);
  with_server([&](server::App& a) {
    if (auto st = a.sync().refresh_resource(t.resource, now); !st) note("refresh failed: " + st.error().message());
  });
}

void World::clock_off(Term& t, const char* why) {
  const int64_t off = fault_rng_.between(60'000, 3 * 3'600'000) * (fault_rng_.chance(0.5) ? 1 : -1);
  t.clock.wall_offset = off;
  t.clock.is_synced = false;
  const uint64_t gen = ++t.clock_gen;
  note(t.id + " clock " + why + ": " + (off > 0 ? "+" : "") + std::to_string(off / 1000) + " s off, unsynced");
  q_.after(fault_rng_.between(5'000, 10 * kMinute), [this, &t, gen] {
    if (gen == t.clock_gen) clock_resync(t);
  });
}

void World::clock_resync(Term& t) {
  ++t.clock_gen;
  t.clock.wall_offset = 0;
  t.clock.is_synced = true;
  note(t.id + " clock: NTP steps it back and it is synced");
}

void World::inject_fault() {
  if (profile_.kinds.empty()) return;
  const FaultKind k = fault_rng_.pick(profile_.kinds);
  const std::size_t ti = fault_rng_.below(terms_.size());
  Term& t = *terms_[ti];
  switch (k) {
    case FaultKind::terminal_crash:
      crash_terminal(t, "between events");
      break;
    case FaultKind::terminal_crash_at_io:
      if (!t.agent || t.crash_in > 0) break;
      t.crash_at_relay = fault_rng_.chance(0.5);
      t.crash_in = static_cast<int>(t.crash_at_relay ? fault_rng_.between(1, 3) : fault_rng_.between(1, 8));
      note(t.id + " will crash at its " + (t.crash_at_relay ? "relay/meter call " : "I/O point ") +
           std::to_string(t.crash_in) + " from now");
      break;
    case FaultKind::terminal_restart:
      restart_terminal_clean(t);
      break;
    case FaultKind::terminal_reboot:
      if (!t.agent) break;
      t.reboot_pending = true;
      crash_terminal(t, "with its computer (reboot)");
      break;
    case FaultKind::server_crash:
      crash_server("between events");
      break;
    case FaultKind::server_crash_at_io:
      if (!server_.app || server_.crash_in > 0) break;
      server_.crash_in = static_cast<int>(fault_rng_.between(1, 4));
      note("server will crash at its publish " + std::to_string(server_.crash_in) + " from now");
      break;
    case FaultKind::partition_terminal:
      ++out_.counters.partitions;
      broker_.partition(t.client, fault_rng_.between(500, 60'000));
      break;
    case FaultKind::partition_server:
      ++out_.counters.partitions;
      broker_.partition(server_.client, fault_rng_.between(500, 60'000));
      break;
    case FaultKind::broker_outage:
      if (!broker_.is_up()) break;
      ++out_.counters.outages;
      broker_.go_down(fault_rng_.chance(0.3));
      q_.after(fault_rng_.between(2000, 180'000), [this] { broker_.come_up(); });
      break;
    case FaultKind::admin_change:
      admin_change();
      break;
    case FaultKind::meter_outage: {
      if (t.door || t.meter.broken) break;
      t.meter.broken = true;
      const int64_t ms = fault_rng_.between(10'000, 10 * kMinute);
      note(t.id + " meter stops answering for " + std::to_string(ms / 1000) + " s");
      q_.after(ms, [this, &t] {
        t.meter.broken = false;
        note(t.id + " meter answers again");
      });
      break;
    }
    case FaultKind::retained_tamper: {
      const std::string topic = proto::topic(kSite, t.id, proto::Channel::sync);
      auto old = first_bundle_.find(topic);
      const bool replay = old != first_bundle_.end() && fault_rng_.chance(0.5);
      if (broker_.publish(intruder_, topic, replay ? old->second : std::string(), true))
        note(std::string("intruder ") + (replay ? "replays the first bundle of " : "deletes the retained bundle of ") + t.id);
      break;
    }
    case FaultKind::terminal_replace:
      if (t.swap != Term::Swap::none) break;
      t.swap = Term::Swap::marked;
      t.swap_order = static_cast<Term::SwapOrder>(fault_rng_.below(3));
      note(t.id + " device " + std::to_string(t.device) + " is to be replaced: out of service until it is drained");
      break;
    case FaultKind::clock_trouble:
      if (!t.agent) break;
      t.reboot_pending = true;
      t.reboot_clock_off = true;
      crash_terminal(t, "with its computer (reboot, the clock will come up wrong)");
      break;
  }
}

void World::step() {
  if (opts_.canary == "ack-ahead" && !canary_fired_ && server_.app && broker_.connected(server_.client)) {
    // Self-test: the server acks records it has not committed (up to the terminal's last seq).
    for (auto& t : terms_) {
      if (!t->agent || t->shadow_max <= t->max_ack) continue;
      canary_fired_ = true;
      note("canary: the server acks " + t->id + " #" + std::to_string(t->shadow_max) + " before committing it");
      auto forged = proto::seal(proto::encode(proto::Ack{t->id, t->shadow_max}), proto::kServerKid, server_.key);
      if (forged) (void)broker_.publish(server_.client, proto::topic(kSite, t->id, proto::Channel::ack), *forged, false);
      break;
    }
  }
  if (opts_.canary == "stranger-after-swap" && !canary_fired_ && broker_.connected(intruder_)) {
    // Self-test: once a device was replaced, a stranger (neither the old device nor the new one)
    // sends a state for the id: refused as bad_signature like the old device's messages, but not
    // one of them, so no-rejections must fire.
    for (auto& t : terms_) {
      if (t->device < 2) continue;
      canary_fired_ = true;
      proto::State st;
      st.terminal = t->id;
      st.online = false;
      st.boot = 1'000'000;
      st.resource = t->resource;
      auto stranger = crypto::PrivateKey::generate();
      if (!stranger) return fail("harness", "key: " + stranger.error().message());
      auto forged = proto::seal(proto::encode(st), t->id, *stranger);
      if (!forged) return fail("harness", "seal: " + forged.error().message());
      note("canary: a stranger sends " + t->id + " an offline state");
      (void)broker_.publish(intruder_, proto::topic(kSite, t->id, proto::Channel::state), *forged, false);
      break;
    }
  }
  if (fault_rng_.chance(profile_.fault_rate)) inject_fault();
  if (rng_.chance(profile_.swipe_rate)) random_swipe();
}

// ---------------------------------------------------------------- quiet period and final checks

void World::run_for(int64_t ms) {
  q_.run_until(q_.now() + ms, [this] { return failed_; });
}

std::string World::not_drained() {
  if (!broker_.is_up()) return "broker down";
  if (!server_.app) return "server down";
  if (broker_.in_flight() > 0) return std::to_string(broker_.in_flight()) + " messages in flight";
  for (auto& t : terms_) {
    if (t->swap == Term::Swap::marked) return t->id + " device " + std::to_string(t->device) + " waits to be replaced";
    if (t->swap == Term::Swap::removed) return t->id + " device " + std::to_string(t->device + 1) + " not enrolled yet";
    if (!t->agent) return t->id + " down";
    auto depth = t->agent->store().depth();
    if (!depth || *depth > 0) return t->id + " outbox holds " + (depth ? std::to_string(*depth) : "?") + " records";
    if (t->agent->session()) return t->id + " session " + sid(t->agent->session()->id) + " still open";
    auto stored = server_.store->stores().sync.stored(t->id);
    if (!stored) return "stored_sync: " + stored.error().message();
    if (t->agent->acl().version != stored->version)
      return t->id + " applied bundle v" + std::to_string(t->agent->acl().version) + ", server's is v" +
             std::to_string(stored->version);
    if (t->max_ack != t->shadow_max)
      return t->id + " acked up to #" + std::to_string(t->max_ack) + " of #" + std::to_string(t->shadow_max);
    if (!t->own_bundle)
      return t->id + " device " + std::to_string(t->device) + " has no bundle built for its key (applied v" +
             std::to_string(t->agent->acl().version) + ", enrolled at v" + std::to_string(t->bundle_at_enrol) + ")";
  }
  return {};
}

void World::quiet() {
  step_ = opts_.steps + 1;
  quiet_ = true;
  note("quiet period: faults stop; everything restarts, reconnects and drains");
  broker_.faults = NetFaults{};
  broker_.min_retry_ms = 200;
  broker_.max_retry_ms = 1000;
  server_.crash_in = 0;
  for (auto& t : terms_) {
    t->crash_in = 0;
    t->meter.broken = false;
    if (!t->clock.is_synced) clock_resync(*t);
  }
  broker_.come_up();
  broker_.heal();
  start_server();
  for (auto& t : terms_) start_terminal(*t);
  run_for(60'000);
  for (int round = 0; round < 5 && !failed_; ++round) {
    bool any = false;
    for (auto& t : terms_) {
      if (t->agent && t->agent->session()) {
        any = true;
        const std::string card = t->agent->session()->card.str();
        swipe(*t, card, "closing");
      }
    }
    if (!any) break;
    run_for(10'000);
  }
  const int64_t deadline = q_.now() + 30 * kMinute;
  while (!failed_ && q_.now() < deadline) {
    run_for(1000);
    if (not_drained().empty()) break;
  }
  if (failed_) return;
  if (auto why = not_drained(); !why.empty())
    fail("liveness", "not drained 30 virtual minutes after the faults stopped: " + why);
}

int64_t World::expected_charge(const proto::SessionEnd& e, const std::string& resource,
                               const std::string& terminal) const {
  std::string user = e.user;
  if (proto::looks_like_pseudonym(user)) {
    // The bundle's pseudonym for this terminal (PROTOCOL.md "Cards and users in the bundle"):
    // the oracle recomputes it for every user of the directory.
    if (auto pk = proto::pseudonym_key(server_.key, kSite, terminal)) {
      for (const auto& x : users_)
        if (proto::user_pseudonym(*pk, x.id) == user) user = x.id;
    }
  }
  if (user.empty()) {
    auto it = card_owner_.find(e.card);
    if (it != card_owner_.end()) user = it->second;
  }
  const server::User* u = nullptr;
  for (const auto& x : users_)
    if (x.id == user) u = &x;
  auto f = fees_.find(resource);
  if (!u || f == fees_.end()) return 0;
  return server::billing::amount_fen(std::max<int64_t>(0, e.duration_ms), server::billing::rate_for(f->second, u->category))
      .value_or(0);
}

void World::final_checks() {
  auto& db = server_.store->db().conn();
  struct EndSeen {
    const Term* term;
    const proto::Record* rec;
  };
  // Walked in (terminal, seq) order, never in the order of the random session ids, so that a
  // failure names the same session in every replay.
  std::map<std::string, EndSeen> ends;  // session -> its SessionEnd
  std::vector<std::string> end_order;
  std::vector<std::string> starts;

  for (auto& tp : terms_) {
    Term& t = *tp;
    // (1) every committed record is on the server exactly once, and the outbox is empty
    auto depth = t.agent->store().depth();
    if (!depth || *depth != 0)
      return fail("exactly-once", t.id + " outbox still holds " + (depth ? std::to_string(*depth) : "?") + " records");
    auto last = t.agent->store().last_seq();
    if (!last || *last != t.shadow_max)
      return fail("seq-grows", t.id + " last seq " + (last ? std::to_string(*last) : "?") + ", harness saw #" +
                                   std::to_string(t.shadow_max));
    auto st = db.prepare("SELECT seq, id, refused FROM records WHERE terminal = ? ORDER BY seq");
    if (!st) return fail("harness", st.error().message());
    st->bind(1, t.id);
    uint64_t expect = 1;
    for (;;) {
      auto row = st->step();
      if (!row) return fail("harness", row.error().message());
      if (!*row) break;
      const auto seq = static_cast<uint64_t>(st->column_int64(0));
      const std::string id = st->column_text(1);
      const std::string refused = st->column_text(2);
      if (seq != expect)
        return fail("exactly-once", "server holds " + t.id + " #" + std::to_string(seq) + " where #" +
                                        std::to_string(expect) + " was expected (gap or stray record)");
      auto sh = t.shadow.find(seq);
      if (sh == t.shadow.end() || sh->second.id != id)
        return fail("exactly-once", "server's " + t.id + " #" + std::to_string(seq) + " is not the record " +
                                        device_of(t, seq) + " committed");
      if (!refused.empty())
        return fail("no-rejections", "server refused " + t.id + " #" + std::to_string(seq) + " (" +
                                         proto::to_string(sh->second.kind()) + "): " + refused);
      ++expect;
    }
    st->reset();
    if (expect - 1 != t.shadow_max)
      return fail("exactly-once", "server holds " + t.id + " #1..#" + std::to_string(expect - 1) +
                                      ", the terminal committed #1..#" + std::to_string(t.shadow_max));
    auto acked = db.prepare("SELECT acked_seq FROM terminals WHERE id = ?");
    if (!acked) return fail("harness", acked.error().message());
    acked->bind(1, t.id);
    if (auto row = acked->step(); !row || !*row || static_cast<uint64_t>(acked->column_int64(0)) != t.shadow_max)
      return fail("exactly-once", t.id + " acked_seq on the server is not #" + std::to_string(t.shadow_max));
    acked->reset();
    // relays off, no rejected messages over the whole run
    if (t.coils.is_on(kPowerCoil) || t.coils.is_on(kDoorCoil))
      return fail("relay-session", t.id + " has a coil on after every session ended");
    if (t.rejected + t.agent->rejected() != t.rejected_expected)
      return fail("no-rejections", t.id + " rejected " + std::to_string(t.rejected + t.agent->rejected()) +
                                       " messages from the server");
    // (2) sessions: one end per session, every started session ended
    for (const auto& [seq, r] : t.shadow) {
      if (const auto* s = std::get_if<proto::SessionStart>(&r.body)) starts.push_back(s->session);
      if (const auto* e = std::get_if<proto::SessionEnd>(&r.body)) {
        auto [it, fresh] = ends.emplace(e->session, EndSeen{&t, &r});
        if (fresh) end_order.push_back(e->session);
        if (!fresh)
          return fail("charged-once", "session " + sid(e->session) + " has two SessionEnd records (" +
                                          it->second.term->id + " #" + std::to_string(it->second.rec->seq) + ", " +
                                          t.id + " #" + std::to_string(seq) + ")");
      }
    }
  }
  for (const auto& s : starts)
    if (!ends.count(s)) return fail("charged-once", "session " + sid(s) + " started but never ended");

  // (2) the server closed exactly those sessions, each with one charge
  std::map<std::string, std::pair<std::string, std::string>> server_sessions;  // id -> (status, end_record)
  std::vector<std::string> server_order;
  {
    auto st = db.prepare(
        "SELECT id, status, COALESCE(end_record, '') FROM usage_sessions ORDER BY terminal, start_ms, id");
    if (!st) return fail("harness", st.error().message());
    for (;;) {
      auto row = st->step();
      if (!row) return fail("harness", row.error().message());
      if (!*row) break;
      server_order.push_back(st->column_text(0));
      server_sessions[server_order.back()] = {st->column_text(1), st->column_text(2)};
    }
    st->reset();
  }
  std::map<std::string, std::pair<int64_t, int64_t>> charges;  // session -> (count, amount)
  int64_t charged = 0;
  {
    auto st = db.prepare("SELECT session, COUNT(*), SUM(amount_fen) FROM charges GROUP BY session ORDER BY session");
    if (!st) return fail("harness", st.error().message());
    for (;;) {
      auto row = st->step();
      if (!row) return fail("harness", row.error().message());
      if (!*row) break;
      charges[st->column_text(0)] = {st->column_int64(1), st->column_int64(2)};
      charged += st->column_int64(2);
    }
    st->reset();
  }
  int64_t closed = 0;
  for (const auto& id : server_order) {
    const auto& s = server_sessions[id];
    if (s.first != "closed")
      return fail("charged-once", "server session " + sid(id) + " is still " + s.first + " after the terminals closed it");
    ++closed;
    if (!ends.count(id)) return fail("charged-once", "server closed session " + sid(id) + " that no terminal ended");
  }
  if (closed != static_cast<int64_t>(ends.size()))
    return fail("charged-once", std::to_string(ends.size()) + " SessionEnd records but " + std::to_string(closed) +
                                    " closed sessions on the server");
  int64_t expected_total = 0;
  for (const auto& session : end_order) {
    const EndSeen& seen = ends.at(session);
    auto ss = server_sessions.find(session);
    if (ss == server_sessions.end()) return fail("charged-once", "session " + sid(session) + " is not on the server");
    if (ss->second.second != seen.rec->id)
      return fail("charged-once", "session " + sid(session) + " was closed by another record than " + seen.term->id +
                                      " #" + std::to_string(seen.rec->seq));
    auto c = charges.find(session);
    if (c == charges.end() || c->second.first != 1)
      return fail("charged-once", "session " + sid(session) + " has " +
                                      std::to_string(c == charges.end() ? 0 : c->second.first) + " charges");
    // (5) money: the charge is the billing rule applied to what the terminal measured
    const auto& e = std::get<proto::SessionEnd>(seen.rec->body);
    const int64_t want = expected_charge(e, e.resource.empty() ? seen.term->resource : e.resource, seen.term->id);
    if (c->second.second != want)
      return fail("money", "session " + sid(session) + " charged " + std::to_string(c->second.second) + " fen, the rule gives " +
                               std::to_string(want) + " for " + std::to_string(e.duration_ms) + " ms");
    expected_total += want;
  }
  if (charges.size() != ends.size())
    return fail("charged-once", std::to_string(charges.size()) + " sessions charged, " + std::to_string(ends.size()) + " ended");
  if (charged != expected_total)
    return fail("money", "charges sum to " + std::to_string(charged) + " fen, the rule gives " + std::to_string(expected_total));
  out_.counters.charged_fen = charged;

  // (6) metering: no session is billed for longer than its relay was on. The SessionEnd is
  // committed before the relay switches off (write before acting), so a crash in between leaves
  // the relay on unbilled until the restart; a crash-closed session is billed up to its last
  // checkpoint. Both only ever bill less.
  for (auto& tp : terms_) {
    const Term& t = *tp;
    if (t.door) continue;
    std::vector<std::pair<int64_t, int64_t>> on;  // [switched on, switched off) in virtual ms
    for (const auto& [at, is_on] : t.coils.power_history) {
      if (is_on) {
        on.emplace_back(at, -1);
      } else if (!on.empty() && on.back().second < 0) {
        on.back().second = at;
      }
    }
    // One session at a time per output: the k-th time the relay went on belongs to the k-th
    // session (its SessionEnd records are in seq order), whatever the terminal's clock said.
    std::size_t i = 0;
    for (const auto& [seq, r] : t.shadow) {
      const auto* e = std::get_if<proto::SessionEnd>(&r.body);
      if (!e) continue;
      if (i == on.size())
        return fail("metering", t.id + " ended session " + sid(e->session) + " (#" + std::to_string(seq) +
                                    ") but its relay went on only " + std::to_string(on.size()) + " times");
      const int64_t relay_ms = (on[i].second < 0 ? q_.now() : on[i].second) - on[i].first;
      ++i;
      if (e->duration_ms > relay_ms)
        return fail("metering", "session " + sid(e->session) + " of " + t.id + " billed " + std::to_string(e->duration_ms) +
                                    " ms, its relay was on " + std::to_string(relay_ms) + " ms (" + clock_str(on[i - 1].first) +
                                    ".." + clock_str(on[i - 1].first + relay_ms) + ")");
      out_.counters.unbilled_relay_ms += relay_ms - e->duration_ms;
    }
    if (i != on.size())
      return fail("metering", t.id + " switched its relay on " + std::to_string(on.size()) + " times for " +
                                  std::to_string(i) + " sessions");
  }

  // the server refused nothing an honest terminal sent
  auto stats = server_.store->stores().usage.stats();
  if (!stats) return fail("harness", stats.error().message());
  for (const auto& [reason, count] : stats->rejected) {
    if (reason == "sync_overwritten" || count == 0) continue;  // its own stale bundles coming back
    auto tol = tolerated_.find(reason);                        // a replaced device's messages
    if (tol != tolerated_.end() && count == tol->second) continue;
    return fail("no-rejections", "server counted " + std::to_string(count) + " rejections \"" + reason + "\"" +
                                     (tol != tolerated_.end() ? ", " + std::to_string(tol->second) + " expected" : ""));
  }
  note("all invariants hold: " + std::to_string(out_.counters.records) + " records, " + std::to_string(ends.size()) +
       " sessions, " + std::to_string(charged) + " fen, " + std::to_string(out_.counters.replacements) +
       " devices replaced");
}

Outcome World::run() {
  if (setup()) {
    for (step_ = 1; step_ <= opts_.steps && !failed_; ++step_) {
      step();
      if (failed_) break;
      run_for(rng_.between(0, 2 * kMeanGapMs));
    }
    if (!failed_) quiet();
    if (!failed_) final_checks();
  }
  const auto& bs = broker_.stats();
  out_.counters.delivered = bs.delivered;
  out_.counters.dropped = bs.dropped;
  out_.counters.duplicated = bs.duplicated;
  out_.counters.delayed = bs.delayed;
  out_.counters.lost_in_flight = bs.lost_in_flight;
  out_.virtual_ms = q_.now();
  out_.digest = digest_;
  // Agents and the app go before the broker and the queue they point into.
  for (auto& t : terms_) t->agent.reset();
  server_.app.reset();
  server_.store.reset();
  return std::move(out_);
}

}  // namespace

Outcome run(const Options& o) {
  World w(o);
  return w.run();
}

}  // namespace lg::sim
