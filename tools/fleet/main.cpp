// labgate-fleet: loads a real labgate-server through a real Mosquitto the way a fleet of
// terminals would (docs/BENCHMARKS.md "Fleet"; driver script tools/bench/fleet).
//
//   setup   keys for N terminals (cached in --keys-dir) and the labgatectl import file that
//           enrols them: instruments with fee standards, users with cards, terminals with keys.
//   steady  N terminals, one batch of --batch records every --interval-s each, for --duration-s
//           (after --warmup-s): batches/s, records/s, ack latency (publish -> the ack covering the
//           batch's last seq) p50/p95/p99/max, and the server's CPU from /proc/<pid>/stat.
//   herd    N terminals connect, the network goes, each buffers --records records, all reconnect
//           at once and drain: records/s from the first publish to the last ack, ack p99.
//   broker  the baseline: the same sealed batches through the same broker to one plain QoS 1
//           subscriber that only counts them (8 in flight per terminal, like the uplink).
// Output: one JSON line on stdout; a readable summary on stderr.
#include <chrono>
#include <cmath>
#include <fstream>
#include <iostream>
#include <thread>

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "labgate/common/log.hpp"

#include "fleet.hpp"

namespace {

using lg::fleet::Fleet;
using lg::fleet::now_us;
using nlohmann::json;

struct Common {
  lg::fleet::Options o;
  std::string log_level = "warn";
  int connect_timeout_s = 300;
  int sync_timeout_s = 300;
};

void add_layout(CLI::App* app, lg::fleet::Layout& l) {
  app->add_option("--terminals,-n", l.terminals, "simulated terminals")->check(CLI::Range(1, 100000));
  app->add_option("--prefix", l.prefix, "terminal id prefix (ids are prefix + 5 digits)");
  app->add_option("--terminals-per-resource", l.terminals_per_resource, "terminals sharing one instrument")
      ->check(CLI::Range(1, 100000));
  app->add_option("--users", l.users, "users (each with a card) the traffic uses")->check(CLI::Range(1, 1000000));
}

void add_common(CLI::App* app, Common& c, bool needs_server) {
  add_layout(app, c.o.layout);
  app->add_option("--keys-dir", c.o.keys_dir, "terminal keys (<id>.key), generated once and reused")->required();
  app->add_option("--mqtt", c.o.mqtt_uri, "broker URI");
  app->add_option("--site", c.o.site, "site code (topic root)");
  auto* pub = app->add_option("--server-pub", c.o.server_pub, "server public key PEM (acks and bundles are verified)");
  if (needs_server) pub->required();
  app->add_option("--per-connection", c.o.per_connection,
                  "terminals per MQTT connection (1: one each with its Last Will, like real terminals)")
      ->check(CLI::Range(1, 100000));
  app->add_option("--workers", c.o.workers, "threads running the terminals")->check(CLI::Range(1, 64));
  app->add_option("--resend-s", c.o.resend_s, "terminal resend_s")->check(CLI::Range(1, 3600));
  app->add_option("--heartbeat-s", c.o.heartbeat_s, "terminal heartbeat_s (0: state on connect only)")
      ->check(CLI::Range(0, 86400));
  app->add_option("--duplicate-every", c.o.duplicate_every,
                  "publish every Nth evt batch twice, as a QoS 1 redelivery would (0: never)")
      ->check(CLI::Range(0, 1000000));
  app->add_option("--state", c.o.state_file, "file keeping each terminal's seq and boot between runs");
  app->add_option("--seed", c.o.seed, "traffic seed");
  app->add_option("--connect-timeout-s", c.connect_timeout_s, "give up connecting after this long");
  app->add_option("--sync-timeout-s", c.sync_timeout_s, "give up waiting for every terminal's sync bundle");
  app->add_option("--log-level", c.log_level, "debug|info|warn|error");
}

double round_to(double v, int digits) {
  const double s = std::pow(10.0, digits);
  return std::round(v * s) / s;
}

/// CPU of a few processes and of the machine over a window.
struct CpuWindow {
  int server_pid = 0;
  int broker_pid = 0;
  int64_t t0 = 0, server0 = 0, broker0 = 0, self0 = 0;
  std::pair<int64_t, int64_t> machine0{0, 0};

  void start() {
    t0 = now_us();
    server0 = server_pid > 0 ? lg::fleet::cpu_ticks(server_pid) : 0;
    broker0 = broker_pid > 0 ? lg::fleet::cpu_ticks(broker_pid) : 0;
    self0 = lg::fleet::cpu_ticks(::getpid());
    machine0 = lg::fleet::machine_jiffies();
  }
  json stop() const {
    const double wall = static_cast<double>(now_us() - t0) / 1e6;
    const double tck = static_cast<double>(::sysconf(_SC_CLK_TCK));
    const long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
    auto pct = [&](int64_t a, int64_t b) { return round_to(100.0 * static_cast<double>(b - a) / tck / wall, 1); };
    json out{{"window_s", round_to(wall, 2)}, {"cpus", cpus}, {"clk_tck", static_cast<int>(tck)}};
    if (server_pid > 0) {
      const double one = pct(server0, lg::fleet::cpu_ticks(server_pid));
      out["server_percent_of_one_core"] = one;
      out["server_percent_of_node"] = round_to(one / static_cast<double>(cpus), 1);
    }
    if (broker_pid > 0) out["broker_percent_of_one_core"] = pct(broker0, lg::fleet::cpu_ticks(broker_pid));
    out["fleet_percent_of_one_core"] = pct(self0, lg::fleet::cpu_ticks(::getpid()));
    const auto m1 = lg::fleet::machine_jiffies();
    const double total = static_cast<double>(m1.second - machine0.second);
    out["machine_busy_percent"] =
        total > 0 ? round_to(100.0 * static_cast<double>(m1.first - machine0.first) / total, 1) : 0.0;
    return out;
  }
};

void say(const std::string& s) { std::cerr << "[fleet] " << s << std::endl; }

double secs_since(int64_t t0) { return static_cast<double>(now_us() - t0) / 1e6; }

std::string fmt(double v, int digits = 1) {
  std::ostringstream ss;
  ss.setf(std::ios::fixed);
  ss.precision(digits);
  ss << v;
  return ss.str();
}

std::unique_ptr<Fleet> make_fleet(const Common& c, json& out) {
  const int64_t t0 = now_us();
  auto f = Fleet::create(c.o);
  if (!f) throw std::runtime_error(f.error().message());
  out["create_s"] = round_to(secs_since(t0), 2);
  say(std::to_string((*f)->terminals()) + " terminals ready in " + fmt(secs_since(t0), 2) + " s (keys, outboxes)");
  return std::move(*f);
}

void connect_and_sync(Fleet& f, const Common& c, json& out, bool sync) {
  int64_t t0 = now_us();
  if (auto st = f.connect(c.connect_timeout_s); !st) throw std::runtime_error(st.error().message());
  out["connect_s"] = round_to(secs_since(t0), 2);
  say(std::to_string(f.connections()) + " connections up in " + fmt(secs_since(t0), 2) + " s");
  if (!sync) return;
  t0 = now_us();
  if (auto st = f.wait_synced(c.sync_timeout_s); !st) throw std::runtime_error(st.error().message());
  out["sync_s"] = round_to(secs_since(t0), 2);
  say("every terminal applied its sync bundle in " + fmt(secs_since(t0), 2) + " s");
}

std::string lat_text(const json& a) {
  return "p50 " + fmt(a["p50"].get<double>()) + " ms, p95 " + fmt(a["p95"].get<double>()) + " ms, p99 " +
         fmt(a["p99"].get<double>()) + " ms, max " + fmt(a["max"].get<double>()) + " ms (" +
         std::to_string(a["n"].get<std::size_t>()) + " batches)";
}

std::string cpu_text(const json& cpu) {
  std::string s;
  if (cpu.contains("server_percent_of_one_core"))
    s += "server " + fmt(cpu["server_percent_of_one_core"].get<double>()) + "% of one core (" +
         fmt(cpu["server_percent_of_node"].get<double>()) + "% of the " + std::to_string(cpu["cpus"].get<long>()) +
         "-CPU node), ";
  if (cpu.contains("broker_percent_of_one_core"))
    s += "broker " + fmt(cpu["broker_percent_of_one_core"].get<double>()) + "%, ";
  s += "fleet " + fmt(cpu["fleet_percent_of_one_core"].get<double>()) + "%, machine busy " +
       fmt(cpu["machine_busy_percent"].get<double>()) + "%";
  return s;
}

int run_setup(const lg::fleet::Layout& layout, const std::string& keys_dir, const std::string& out_file) {
  const int64_t t0 = now_us();
  auto keys =
      lg::fleet::load_keys(layout, keys_dir, static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  if (!keys) throw std::runtime_error(keys.error().message());
  std::vector<std::string> pems;
  pems.reserve(keys->size());
  for (const auto& k : *keys) pems.push_back(k.public_pem());
  const json doc = lg::fleet::import_document(layout, pems);
  std::ofstream f(out_file);
  if (!f) throw std::runtime_error("cannot write " + out_file);
  f << doc.dump() << "\n";
  json out{{"mode", "setup"},
           {"terminals", layout.terminals},
           {"instruments", layout.resources()},
           {"users", layout.users},
           {"file", out_file},
           {"seconds", round_to(secs_since(t0), 2)}};
  std::cout << out.dump() << std::endl;
  say("wrote " + out_file + ": " + std::to_string(layout.terminals) + " terminals on " +
      std::to_string(layout.resources()) + " instruments, " + std::to_string(layout.users) +
      " users; enrol it with labgatectl import");
  return 0;
}

struct SteadyArgs {
  double interval_s = 10;
  int batch = 5;
  double duration_s = 60;
  double warmup_s = -1;  // default: one interval
  int drain_timeout_s = 120;
  double outage_at_s = 0;
  double outage_s = 0;
  int server_pid = 0;
  int broker_pid = 0;
};

int run_steady(Common& c, const SteadyArgs& a) {
  const double warmup = a.warmup_s < 0 ? a.interval_s : a.warmup_s;
  const double per_terminal = std::ceil((warmup + a.duration_s) / a.interval_s) * a.batch;
  c.o.history_ms = static_cast<int64_t>(per_terminal) * c.o.shape.mean_gap_ms();
  json out{{"mode", "steady"},
           {"interval_s", a.interval_s},
           {"batch", a.batch},
           {"duration_s", a.duration_s},
           {"warmup_s", warmup}};
  auto fleet = make_fleet(c, out);
  connect_and_sync(*fleet, c, out, true);

  const int64_t start = now_us();
  const int64_t w0 = start + static_cast<int64_t>(warmup * 1e6);
  const int64_t w1 = w0 + static_cast<int64_t>(a.duration_s * 1e6);
  fleet->start_steady(static_cast<int64_t>(a.interval_s * 1000), a.batch, w1);
  say("steady: " + std::to_string(fleet->terminals()) + " terminals x " + std::to_string(a.batch) + " records every " +
      fmt(a.interval_s) + " s; warm-up " + fmt(warmup) + " s, measuring " + fmt(a.duration_s) + " s");
  std::this_thread::sleep_until(std::chrono::steady_clock::time_point(std::chrono::microseconds(w0)));
  CpuWindow cpu;
  cpu.server_pid = a.server_pid;
  cpu.broker_pid = a.broker_pid;
  cpu.start();
  if (a.outage_at_s > 0 && a.outage_s > 0) {
    std::this_thread::sleep_until(std::chrono::steady_clock::time_point(
        std::chrono::microseconds(w0 + static_cast<int64_t>(a.outage_at_s * 1e6))));
    say("outage: dropping every connection for " + fmt(a.outage_s) + " s");
    fleet->disconnect();
    std::this_thread::sleep_for(std::chrono::microseconds(static_cast<int64_t>(a.outage_s * 1e6)));
    const int64_t r0 = now_us();
    if (auto st = fleet->connect(c.connect_timeout_s); !st) throw std::runtime_error(st.error().message());
    out["reconnect_s"] = round_to(secs_since(r0), 2);
    say("reconnected in " + fmt(secs_since(r0), 2) + " s");
  }
  for (int64_t t = now_us() + 5'000'000; t < w1; t += 5'000'000) {
    std::this_thread::sleep_until(std::chrono::steady_clock::time_point(std::chrono::microseconds(t)));
    say("  " + fmt(static_cast<double>(t - w0) / 1e6, 0) + " s: " + fleet->progress());
  }
  std::this_thread::sleep_until(std::chrono::steady_clock::time_point(std::chrono::microseconds(w1)));
  out["cpu"] = cpu.stop();
  const int64_t d0 = now_us();
  const bool drained = fleet->wait_acked(
      a.drain_timeout_s, [&] { say("  draining " + fmt(secs_since(d0), 0) + " s: " + fleet->progress()); });
  out["drain_s"] = round_to(secs_since(d0), 2);
  say(std::string(drained ? "every record acked" : "drain timed out") + " after " + fmt(secs_since(d0), 1) +
      " s: " + fleet->progress());
  json r = fleet->results(w0, w1);
  const double batches = r["batches"].get<double>();
  r["batches_per_s"] = round_to(batches / a.duration_s, 1);
  r["records_per_s"] = round_to(batches * a.batch / a.duration_s, 1);
  r["offered_batches_per_s"] = round_to(fleet->terminals() / a.interval_s, 1);
  out.update(r);
  out["unacked_records"] = fleet->unacked();
  out["ok"] = drained;
  if (auto st = fleet->save_state(); !st) say("state not saved: " + st.error().message());
  fleet->stop();
  std::cout << out.dump() << std::endl;
  say("steady " + std::to_string(fleet->terminals()) + " terminals: " + fmt(r["batches_per_s"].get<double>()) +
      " batches/s (offered " + fmt(r["offered_batches_per_s"].get<double>()) + "), " +
      fmt(r["records_per_s"].get<double>()) + " records/s");
  say("  ack latency " + lat_text(r["ack_ms"]));
  say("  cpu over " + fmt(out["cpu"]["window_s"].get<double>()) + " s: " + cpu_text(out["cpu"]));
  say("  republished " + std::to_string(r["evt_republished"].get<uint64_t>()) + " batches, acks rejected " +
      std::to_string(r["acks_rejected"].get<uint64_t>()) + ", unacked records at the end " +
      std::to_string(fleet->unacked()) + (drained ? "" : " (drain timed out)"));
  return drained ? 0 : 1;
}

int run_herd(Common& c, int records, int timeout_s, int server_pid, int broker_pid, bool presealed) {
  c.o.history_ms = static_cast<int64_t>(records) * c.o.shape.mean_gap_ms();
  json out{{"mode", "herd"}, {"records_per_terminal", records}};
  auto fleet = make_fleet(c, out);
  connect_and_sync(*fleet, c, out, true);
  say("outage: every terminal loses the network and buffers " + std::to_string(records) + " records");
  fleet->disconnect();
  int64_t t0 = now_us();
  fleet->add_records(records);
  if (presealed) fleet->preseal();
  out["buffer_s"] = round_to(secs_since(t0), 2);
  out["presealed"] = presealed;
  const uint64_t total = fleet->unacked();
  say("buffered " + std::to_string(total) + " records" + (presealed ? " and sealed their batches" : "") + " in " +
      fmt(secs_since(t0), 2) + " s; reconnecting all at once");
  CpuWindow cpu;
  cpu.server_pid = server_pid;
  cpu.broker_pid = broker_pid;
  cpu.start();
  t0 = now_us();
  if (auto st = fleet->connect(c.connect_timeout_s); !st) throw std::runtime_error(st.error().message());
  out["reconnect_s"] = round_to(secs_since(t0), 2);
  const bool drained =
      fleet->wait_acked(timeout_s, [&] { say("  " + fmt(secs_since(t0), 0) + " s: " + fleet->progress()); });
  out["cpu"] = cpu.stop();
  const double drain = static_cast<double>(fleet->last_ack_us() - std::max(fleet->first_publish_us(), t0)) / 1e6;
  json r = fleet->results(t0, now_us());
  out.update(r);
  out["records"] = total;
  out["drain_s"] = round_to(drain, 3);
  out["records_per_s"] = drain > 0 ? std::round(static_cast<double>(total) / drain) : 0.0;
  out["unacked_records"] = fleet->unacked();
  out["ok"] = drained;
  if (auto st = fleet->save_state(); !st) say("state not saved: " + st.error().message());
  fleet->stop();
  std::cout << out.dump() << std::endl;
  say("herd " + std::to_string(fleet->terminals()) + " x " + std::to_string(records) + " = " + std::to_string(total) +
      " records drained in " + fmt(drain, 2) + " s: " + fmt(out["records_per_s"].get<double>(), 0) + " records/s" +
      (drained ? "" : " (TIMED OUT, " + std::to_string(fleet->unacked()) + " unacked)"));
  say("  reconnect of " + std::to_string(fleet->connections()) + " connections " +
      fmt(out["reconnect_s"].get<double>(), 2) + " s; ack latency " + lat_text(r["ack_ms"]));
  say("  cpu: " + cpu_text(out["cpu"]));
  return drained ? 0 : 1;
}

int run_broker(Common& c, int records, int timeout_s, int broker_pid) {
  c.o.history_ms = static_cast<int64_t>(records) * c.o.shape.mean_gap_ms();
  json out{{"mode", "broker"}, {"records_per_terminal", records}};
  auto fleet = make_fleet(c, out);
  CpuWindow cpu;
  cpu.broker_pid = broker_pid;
  cpu.start();
  auto r = fleet->broker_baseline(records, timeout_s);
  if (!r) throw std::runtime_error(r.error().message());
  out["cpu"] = cpu.stop();
  out.update(*r);
  out["terminals"] = fleet->terminals();
  out["connections"] = fleet->connections();
  out["ok"] = !r->contains("error");
  fleet->stop();
  std::cout << out.dump() << std::endl;
  say("broker baseline " + std::to_string(fleet->terminals()) + " x " + std::to_string(records) + ": " +
      std::to_string((*r)["messages"].get<uint64_t>()) + " messages in " + fmt((*r)["seconds"].get<double>(), 3) +
      " s: " + fmt((*r)["records_per_s"].get<double>(), 0) + " records/s (envelopes built in " +
      fmt((*r)["build_s"].get<double>(), 2) + " s, not timed)");
  return out["ok"].get<bool>() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"labgate-fleet: a fleet of simulated terminals against a real labgate-server and Mosquitto"};
  app.require_subcommand(1);

  auto* setup = app.add_subcommand("setup", "generate keys and the labgatectl import file enrolling the fleet");
  lg::fleet::Layout setup_layout;
  std::string setup_keys, setup_out;
  add_layout(setup, setup_layout);
  setup->add_option("--keys-dir", setup_keys, "terminal keys (<id>.key), generated once and reused")->required();
  setup->add_option("--out", setup_out, "import file to write")->required();

  Common steady_c, herd_c, broker_c;
  SteadyArgs sa;
  auto* steady = app.add_subcommand("steady", "N terminals, one batch per interval each");
  add_common(steady, steady_c, true);
  steady->add_option("--interval-s", sa.interval_s, "seconds between a terminal's batches")
      ->check(CLI::Range(0.01, 3600.0));
  steady->add_option("--batch", sa.batch, "records per batch")->check(CLI::Range(1, 200));
  steady->add_option("--duration-s", sa.duration_s, "measured seconds")->check(CLI::Range(0.1, 86400.0));
  steady->add_option("--warmup-s", sa.warmup_s, "unmeasured seconds first (default: one interval)");
  steady->add_option("--drain-timeout-s", sa.drain_timeout_s, "wait this long for the last acks");
  steady->add_option("--outage-at-s", sa.outage_at_s, "drop every connection this far into the measurement");
  steady->add_option("--outage-s", sa.outage_s, "... for this long, then reconnect all at once");
  steady->add_option("--server-pid", sa.server_pid, "labgate-server pid (its CPU from /proc/<pid>/stat)");
  steady->add_option("--broker-pid", sa.broker_pid, "mosquitto pid (its CPU)");

  int herd_records = 200, herd_timeout = 600, herd_server_pid = 0, herd_broker_pid = 0;
  bool herd_presealed = false;
  auto* herd = app.add_subcommand("herd", "outage, K records buffered per terminal, herd reconnect and drain");
  add_common(herd, herd_c, true);
  herd->add_option("--records,-k", herd_records, "records each terminal buffers")->check(CLI::Range(1, 10000000));
  herd->add_option("--timeout-s", herd_timeout, "give up draining after this long");
  herd->add_option("--server-pid", herd_server_pid, "labgate-server pid (its CPU)");
  herd->add_option("--broker-pid", herd_broker_pid, "mosquitto pid (its CPU)");
  herd->add_flag("--presealed", herd_presealed,
                 "seal every terminal's backlog during the outage, untimed (as the broker baseline does), so "
                 "that the drain measures the server and not the simulator's sealing");

  int broker_records = 200, broker_timeout = 600, broker_pid = 0;
  auto* broker = app.add_subcommand("broker", "baseline: the herd's envelopes to a plain counting subscriber");
  add_common(broker, broker_c, false);
  broker->add_option("--records,-k", broker_records, "records per terminal")->check(CLI::Range(1, 10000000));
  broker->add_option("--timeout-s", broker_timeout, "give up after this long");
  broker->add_option("--broker-pid", broker_pid, "mosquitto pid (its CPU)");

  CLI11_PARSE(app, argc, argv);

  try {
    auto level_of = [](const std::string& text) {
      lg::log::Level l;
      if (!lg::log::parse_level(text, l)) throw std::runtime_error("--log-level: unknown level " + text);
      return l;
    };
    if (setup->parsed()) return run_setup(setup_layout, setup_keys, setup_out);
    if (steady->parsed()) {
      lg::log::set_level(level_of(steady_c.log_level));
      return run_steady(steady_c, sa);
    }
    if (herd->parsed()) {
      lg::log::set_level(level_of(herd_c.log_level));
      return run_herd(herd_c, herd_records, herd_timeout, herd_server_pid, herd_broker_pid, herd_presealed);
    }
    lg::log::set_level(level_of(broker_c.log_level));
    return run_broker(broker_c, broker_records, broker_timeout, broker_pid);
  } catch (const std::exception& e) {
    std::cerr << "labgate-fleet: " << e.what() << "\n";
    return 1;
  }
}
