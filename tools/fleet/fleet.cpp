#include "fleet.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <queue>
#include <sstream>
#include <thread>
#include <unordered_map>

#include <unistd.h>

#include "labgate/common/log.hpp"
#include "labgate/common/mqtt.hpp"
#include "labgate/common/protocol.hpp"
#include "labgate/common/time.hpp"

#include "store.hpp"
#include "uplink/uplink.hpp"

namespace lg::fleet {

namespace {

constexpr std::string_view kLog = "fleet";
/// Batches a terminal keeps in flight in the broker baseline: what the terminal's uplink
/// publishes in one flush before it waits for an ack (kMaxBatchesPerFlush in uplink.cpp).
constexpr std::size_t kRawWindow = 8;
/// Records committed per outbox transaction when a backlog is built.
constexpr int kCommitChunk = 500;
constexpr std::string_view kFirmware = "labgate-fleet 0.1.0";
constexpr std::string_view kBoard = "fleet-sim";

Error failed(const std::string& why) { return Error::from(std::make_error_code(std::errc::io_error), why); }

/// The seq of the last record in a sealed EventBatch, without parsing it: the body is the
/// escaped JSON of the batch with its records in ascending seq and keys sorted, so the last
/// `\"seq\":` is the last record's. 0 if not found.
uint64_t last_seq_of(const std::string& wire) {
  static const std::string kKey = R"(\"seq\":)";
  const auto at = wire.rfind(kKey);
  if (at == std::string::npos) return 0;
  uint64_t v = 0;
  for (std::size_t i = at + kKey.size(); i < wire.size() && wire[i] >= '0' && wire[i] <= '9'; ++i)
    v = v * 10 + static_cast<uint64_t>(wire[i] - '0');
  return v;
}

/// Number of records in a sealed EventBatch (occurrences of the escaped "seq" key).
uint64_t records_in(const std::string& wire) {
  static const std::string kKey = R"(\"seq\":)";
  uint64_t n = 0;
  for (auto at = wire.find(kKey); at != std::string::npos; at = wire.find(kKey, at + kKey.size())) ++n;
  return n;
}

void atomic_min_nonzero(std::atomic<int64_t>& a, int64_t v) {
  int64_t cur = a.load();
  while ((cur == 0 || v < cur) && !a.compare_exchange_weak(cur, v)) {}
}

void atomic_max(std::atomic<int64_t>& a, int64_t v) {
  int64_t cur = a.load();
  while (v > cur && !a.compare_exchange_weak(cur, v)) {}
}

}  // namespace

int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

namespace detail {

/// One thread running tasks in order and timers when due.
class Shard {
 public:
  using Task = std::function<void()>;
  Shard() : th_([this] { run(); }) {}
  ~Shard() { stop(); }
  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;

  void post(Task t) {
    {
      std::lock_guard<std::mutex> lk(m_);
      q_.push_back(std::move(t));
    }
    cv_.notify_one();
  }
  void at(int64_t due_us, Task t) {
    {
      std::lock_guard<std::mutex> lk(m_);
      timers_.push(Timer{due_us, order_++, std::move(t)});
    }
    cv_.notify_one();
  }
  /// Runs fn on the shard after everything posted before it, and waits.
  void call(const Task& fn) {
    std::promise<void> done;
    post([&] {
      fn();
      done.set_value();
    });
    done.get_future().wait();
  }
  void clear_timers() {
    std::lock_guard<std::mutex> lk(m_);
    timers_ = {};
  }
  void stop() {
    {
      std::lock_guard<std::mutex> lk(m_);
      stop_ = true;
    }
    cv_.notify_one();
    if (th_.joinable()) th_.join();
  }

 private:
  struct Timer {
    int64_t due;
    uint64_t order;
    mutable Task fn;
    bool operator>(const Timer& o) const { return due != o.due ? due > o.due : order > o.order; }
  };

  // Due timers and posted tasks take turns, so a busy timer (a resend storm) cannot starve the
  // acks that would end it, and a flood of messages cannot stall the traffic.
  void run() {
    std::unique_lock<std::mutex> lk(m_);
    while (!stop_) {
      bool ran = false;
      if (!timers_.empty() && timers_.top().due <= now_us()) {
        Task t = std::move(timers_.top().fn);
        timers_.pop();
        lk.unlock();
        t();
        lk.lock();
        ran = true;
      }
      if (!q_.empty()) {
        Task t = std::move(q_.front());
        q_.pop_front();
        lk.unlock();
        t();
        lk.lock();
        ran = true;
      }
      if (ran || stop_) continue;
      if (!timers_.empty()) {
        cv_.wait_for(lk, std::chrono::microseconds(std::max<int64_t>(timers_.top().due - now_us(), 0)));
      } else {
        cv_.wait(lk);
      }
    }
  }

  std::mutex m_;
  std::condition_variable cv_;
  std::deque<Task> q_;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timers_;
  uint64_t order_ = 0;
  bool stop_ = false;
  std::thread th_;  // last: starts once the members above exist
};

struct SimTerminal;

/// One MQTT connection carrying one or more terminals.
struct Connection {
  int index = 0;
  std::vector<SimTerminal*> terms;
  mutable std::mutex m;
  std::shared_ptr<mqtt::Client> client;
  std::vector<std::shared_ptr<mqtt::Client>> retired;  // stopped after an outage; kept until the end
  std::atomic<bool> up{false};

  std::shared_ptr<mqtt::Client> get() const {
    std::lock_guard<std::mutex> lk(m);
    return client;
  }
};

terminal::SystemClock g_clock;

/// One simulated terminal: the terminal's Uplink over its own outbox Store (in memory), fed by
/// Traffic. Every member is touched only on its shard's thread.
struct SimTerminal final : terminal::Publisher {
  Fleet::Impl* fleet = nullptr;
  int index = 0;
  std::string id;
  Shard* shard = nullptr;
  Connection* conn = nullptr;
  std::string key_pem;
  std::optional<terminal::Store> store;
  std::unique_ptr<terminal::Uplink> uplink;
  std::unique_ptr<Traffic> traffic;
  std::string evt_topic;
  std::string raw_topic;
  uint64_t boot = 0;
  uint64_t last_seq = 0;  // highest seq assigned
  uint64_t acked = 0;     // highest seq a verified ack named
  uint64_t acl_version = 0;
  bool link_up = false;      // this terminal has handled the connection-up event
  bool tick_queued = false;  // its per-second work is queued on the shard
  std::string will;
  int64_t next_beat_us = 0;

  // Ack latency: first publish time of each batch (by its last seq) until an ack covers it.
  std::deque<std::pair<uint64_t, int64_t>> inflight;
  uint64_t tracked_upto = 0;
  std::vector<std::pair<int64_t, float>> samples;  // (first publish µs, ms to the ack)
  uint64_t published = 0, republished = 0, publish_failed = 0, acks = 0, bad_acks = 0;
  uint64_t syncs = 0, bad_syncs = 0, states = 0;
  uint64_t dup_batches = 0, dup_records = 0;  // --duplicate-every

  // Broker baseline (raw_topic) and a presealed herd (evt_topic, Fleet::preseal).
  bool presealed = false;
  std::vector<std::string> raw;
  std::size_t raw_sent = 0;
  std::size_t raw_got = 0;

  bool connected() const override;
  Status publish(const std::string& topic, const std::string& payload, int qos, bool retained) override;

  terminal::StateFacts facts() const { return terminal::StateFacts{acl_version}; }
  void note_publish(const std::string& wire);
  void on_connection(bool up);
  void on_ack(const std::string& payload, int64_t received_us);
  void on_sync(const std::string& payload);
  void append(std::vector<proto::Record>& records);
  void raw_pump();
  void presealed_pump();
};

}  // namespace detail

using detail::Connection;
using detail::g_clock;
using detail::Shard;
using detail::SimTerminal;

struct Fleet::Impl {
  Options o;
  std::vector<std::unique_ptr<Shard>> shards;
  std::vector<std::unique_ptr<SimTerminal>> terms;
  std::vector<std::unique_ptr<Connection>> conns;
  std::unordered_map<std::string, SimTerminal*> by_id;
  std::string server_pem;
  std::vector<crypto::PublicKey> shard_server_keys;  // one parsed key per shard: verify locks per key

  std::atomic<int64_t> first_publish{0};
  std::atomic<int64_t> last_ack{0};
  std::atomic<uint64_t> assigned{0};
  std::atomic<uint64_t> acked{0};
  std::atomic<int> synced{0};
  std::atomic<int> up{0};
  std::atomic<uint64_t> published{0};
  std::atomic<uint64_t> republished{0};
  std::atomic<bool> raw_mode{false};
  std::atomic<uint64_t> raw_got{0};
  std::atomic<uint64_t> raw_bytes{0};
  std::atomic<int64_t> raw_first{0};
  std::atomic<int64_t> raw_last{0};
  int generation = 0;
  bool stopped = false;

  void route(const mqtt::Message& m);
  Status open_connections(int timeout_s, bool subscribe);
  template <typename Fn>
  void on_all(Fn fn) {  // runs fn(t) for every terminal on its shard; waits
    for (auto& t : terms) {
      SimTerminal* p = t.get();
      p->shard->post([p, fn] { fn(*p); });
    }
    for (auto& s : shards) s->call([] {});
  }
};

// ---------------------------------------------------------------- SimTerminal

bool detail::SimTerminal::connected() const {
  if (!link_up || !conn->up.load()) return false;
  auto c = conn->get();
  return c && c->connected();
}

Status detail::SimTerminal::publish(const std::string& topic, const std::string& payload, int qos, bool retained) {
  auto c = conn->get();
  if (!c || !conn->up.load()) return failed("not connected");
  auto st = c->publish(topic, payload, qos, retained);
  if (!st) {
    ++publish_failed;
    return st;
  }
  if (topic != evt_topic) {
    ++states;
    return st;
  }
  note_publish(payload);
  const int every = fleet->o.duplicate_every;
  if (every > 0 && (published + republished) % static_cast<uint64_t>(every) == 0 &&
      c->publish(topic, payload, qos, retained)) {
    // A QoS 1 redelivery, made on purpose: the server must ack it again and count nothing new.
    ++dup_batches;
    dup_records += records_in(payload);
  }
  return st;
}

void detail::SimTerminal::note_publish(const std::string& wire) {
  const uint64_t last = last_seq_of(wire);
  const int64_t now = now_us();
  atomic_min_nonzero(fleet->first_publish, now);
  if (last > tracked_upto) {
    inflight.emplace_back(last, now);
    tracked_upto = last;
    ++published;
    ++fleet->published;
    log::debug(kLog, id + ": evt up to seq " + std::to_string(last) + " published");
  } else {
    ++republished;  // the uplink sends unacked records again (reconnect or resend_s)
    ++fleet->republished;
    log::debug(kLog, id + ": evt up to seq " + std::to_string(last) + " published again");
  }
}

void detail::SimTerminal::on_connection(bool up) {
  if (fleet->raw_mode.load()) {
    link_up = up;
    if (up) raw_pump();
    return;
  }
  if (presealed) {
    link_up = up;
    traffic->set_mode(up ? proto::Mode::online : proto::Mode::offline);
    if (!up) return;
    uplink->publish_state(facts());  // the birth, as Uplink::on_connection sends it
    presealed_pump();
    return;
  }
  log::debug(kLog, id + ": connection " + (up ? "up" : "down"));
  // The terminal publishes only once it has handled the connection event (in order with its
  // other work): a flush between the broker connect and this would be sent twice.
  link_up = up;
  traffic->set_mode(up ? proto::Mode::online : proto::Mode::offline);  // offline: decides from its cache
  uplink->on_connection(up, facts());
  // The next heartbeat within one period, at a phase of its own: terminals that connected
  // together do not beat together (in a long-running fleet the phases are spread by boot times).
  const int64_t period = int64_t{fleet->o.heartbeat_s} * 1'000'000;
  const auto n = static_cast<int64_t>(fleet->terms.size());
  if (up) next_beat_us = now_us() + period * (1 + (static_cast<int64_t>(index) * 7919) % n) / n;
}

void detail::SimTerminal::on_ack(const std::string& payload, int64_t received_us) {
  const uint64_t before = uplink->rejected();
  uplink->handle_ack(payload);  // verifies with the server key, prunes the outbox, flushes more
  if (uplink->rejected() != before) {
    ++bad_acks;
    return;
  }
  auto env = proto::open(payload);
  if (!env) return;
  auto ack = proto::decode_ack(env->body);
  if (!ack) return;
  ++acks;
  if (ack->seq <= acked) return;
  const int64_t now = received_us;  // when it reached the fleet, not when this shard got to it
  fleet->acked += ack->seq - acked;
  acked = ack->seq;
  atomic_max(fleet->last_ack, now);
  while (!inflight.empty() && inflight.front().first <= acked) {
    samples.emplace_back(inflight.front().second, static_cast<float>(now - inflight.front().second) / 1000.0f);
    inflight.pop_front();
  }
  if (presealed) presealed_pump();
}

void detail::SimTerminal::on_sync(const std::string& payload) {
  if (payload.empty()) return;  // a deleted retained bundle: keep the applied one
  auto env = proto::open(payload);
  if (!env || env->kid != proto::kServerKid ||
      !proto::verify(*env, fleet->shard_server_keys[static_cast<std::size_t>(index) % fleet->shards.size()])) {
    ++bad_syncs;
    return;
  }
  auto b = proto::decode_sync(env->body);
  if (!b || b->terminal != id) {
    ++bad_syncs;
    return;
  }
  ++syncs;
  if (b->version <= acl_version) return;
  if (acl_version == 0) ++fleet->synced;
  acl_version = b->version;
  traffic->set_acl_version(acl_version);
  uplink->publish_state(facts());  // as the agent does after applying a bundle
}

void detail::SimTerminal::append(std::vector<proto::Record>& records) {
  if (records.empty()) return;
  terminal::Commit c;
  for (auto& r : records) c.records.push_back(&r);
  if (auto st = store->commit(c); !st) {
    log::error(kLog, id + ": outbox commit failed: " + st.error().message());
    return;
  }
  fleet->assigned += records.size();
  last_seq = records.back().seq;
}

void detail::SimTerminal::raw_pump() {
  auto c = conn->get();
  if (!c || !link_up || !conn->up.load()) return;
  while (raw_sent < raw.size() && raw_sent - raw_got < kRawWindow) {
    if (!c->publish(raw_topic, raw[raw_sent], 1, false)) {
      ++publish_failed;
      return;  // the per-second tick tries again
    }
    atomic_min_nonzero(fleet->raw_first, now_us());
    ++raw_sent;
  }
}

void detail::SimTerminal::presealed_pump() {
  while (link_up && raw_sent < raw.size() && inflight.size() < kRawWindow) {
    if (!publish(evt_topic, raw[raw_sent], 1, false)) return;  // counted; the next ack tries again
    ++raw_sent;
  }
}

// ---------------------------------------------------------------- helpers

nlohmann::json Percentiles::to_json(int digits) const {
  const double scale = std::pow(10.0, digits);
  auto r = [&](double v) { return std::round(v * scale) / scale; };
  return {{"n", n}, {"p50", r(p50)}, {"p95", r(p95)}, {"p99", r(p99)}, {"max", r(max)}, {"mean", r(mean)}};
}

Percentiles percentiles(std::vector<double> v) {
  Percentiles p;
  p.n = v.size();
  if (v.empty()) return p;
  std::sort(v.begin(), v.end());
  auto rank = [&](double q) {  // nearest rank
    const auto k = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size())));
    return v[std::min(v.size() - 1, k == 0 ? 0 : k - 1)];
  };
  p.p50 = rank(0.50);
  p.p95 = rank(0.95);
  p.p99 = rank(0.99);
  p.max = v.back();
  double sum = 0;
  for (double x : v) sum += x;
  p.mean = sum / static_cast<double>(v.size());
  return p;
}

int64_t cpu_ticks(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto close = text.rfind(')');  // the command name may hold spaces
  if (close == std::string::npos) return -1;
  std::istringstream rest(text.substr(close + 2));
  std::string field;
  int64_t utime = 0, stime = 0;
  // After ") ": state(3) ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime(14) stime(15)
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoll(field);
    if (i == 15) stime = std::stoll(field);
  }
  return utime + stime;
}

std::pair<int64_t, int64_t> machine_jiffies() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  in >> cpu;  // "cpu"
  int64_t v[10] = {};
  int64_t total = 0;
  for (int i = 0; i < 10 && in >> v[i]; ++i) total += v[i];
  total -= v[8] + v[9];  // guest time is already counted in user time
  const int64_t idle = v[3] + v[4];
  return {total - idle, total};
}

Result<std::vector<crypto::PrivateKey>> load_keys(const Layout& layout, const std::string& dir, int threads) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return failed("--keys-dir " + dir + ": " + ec.message());
  const int n = layout.terminals;
  std::vector<std::optional<crypto::PrivateKey>> keys(static_cast<std::size_t>(n));
  std::vector<std::string> errors(static_cast<std::size_t>(std::max(1, threads)));
  std::atomic<int> next{0};
  std::atomic<int> made{0};
  auto work = [&](std::size_t w) {
    for (int i = next++; i < n; i = next++) {
      const auto path = std::filesystem::path(dir) / (layout.terminal(i) + ".key");
      const bool existed = std::filesystem::exists(path);
      auto k = crypto::PrivateKey::load_or_create(path);
      if (!k) {
        errors[w] = path.string() + ": " + k.error().message();
        return;
      }
      if (!existed) ++made;
      keys[static_cast<std::size_t>(i)] = std::move(k).value();
    }
  };
  std::vector<std::thread> pool;
  for (std::size_t w = 0; w < errors.size(); ++w) pool.emplace_back(work, w);
  for (auto& t : pool) t.join();
  for (const auto& e : errors)
    if (!e.empty()) return failed(e);
  if (made > 0) log::info(kLog, "generated " + std::to_string(made.load()) + " terminal keys in " + dir);
  std::vector<crypto::PrivateKey> out;
  out.reserve(keys.size());
  for (auto& k : keys) out.push_back(std::move(*k));
  return out;
}

// ---------------------------------------------------------------- Fleet

Fleet::Fleet(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Fleet::~Fleet() { stop(); }

int Fleet::terminals() const { return static_cast<int>(impl_->terms.size()); }
int Fleet::connections() const { return static_cast<int>(impl_->conns.size()); }
int64_t Fleet::first_publish_us() const { return impl_->first_publish.load(); }
int64_t Fleet::last_ack_us() const { return impl_->last_ack.load(); }
uint64_t Fleet::unacked() const { return impl_->assigned.load() - impl_->acked.load(); }

Result<std::unique_ptr<Fleet>> Fleet::create(Options o) {
  auto impl = std::make_unique<Impl>();
  impl->o = o;
  Impl& f = *impl;
  if (o.layout.terminals < 1) return Error::invalid("--terminals: at least 1");
  if (o.per_connection < 1) return Error::invalid("--per-connection: at least 1");
  if (o.workers < 1) return Error::invalid("--workers: at least 1");
  if (!o.server_pub.empty()) {
    std::ifstream in(o.server_pub);
    if (!in) return failed("--server-pub: cannot read " + o.server_pub);
    f.server_pem.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  for (int w = 0; w < o.workers; ++w) {
    f.shards.push_back(std::make_unique<Shard>());
    if (!f.server_pem.empty()) {
      auto k = crypto::PublicKey::from_pem(f.server_pem);
      if (!k) return Error::invalid("--server-pub: " + k.error().message());
      f.shard_server_keys.push_back(std::move(k).value());
    }
  }
  if (f.shard_server_keys.empty()) f.shard_server_keys.resize(f.shards.size());

  // Saved seq and boot per terminal (a terminal's seq survives restarts; a fresh server starts at 1).
  nlohmann::json saved = nlohmann::json::object();
  if (!o.state_file.empty() && std::filesystem::exists(o.state_file)) {
    std::ifstream in(o.state_file);
    saved = nlohmann::json::parse(in, nullptr, false);
    if (!saved.is_object()) return Error::invalid("--state " + o.state_file + ": not a JSON object");
  }

  auto keys = load_keys(o.layout, o.keys_dir, static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  if (!keys) return keys.error();

  const int n = o.layout.terminals;
  for (int c = 0; c * o.per_connection < n; ++c) {
    auto conn = std::make_unique<Connection>();
    conn->index = c;
    f.conns.push_back(std::move(conn));
  }
  f.terms.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    auto t = std::make_unique<SimTerminal>();
    t->fleet = &f;
    t->index = i;
    t->id = o.layout.terminal(i);
    t->shard = f.shards[static_cast<std::size_t>(i) % f.shards.size()].get();
    t->conn = f.conns[static_cast<std::size_t>(i / o.per_connection)].get();
    t->conn->terms.push_back(t.get());
    t->evt_topic = proto::topic(o.site, t->id, proto::Channel::evt);
    t->raw_topic = "fleet/raw/" + o.site + "/" + t->id;
    auto& key = (*keys)[static_cast<std::size_t>(i)];
    t->key_pem = key.to_pem();
    // The terminal's two connections to its outbox (access loop: commits; uplink: pending,
    // prune), here on one shared in-memory database instead of a file.
    const std::string db =
        "file:labgate-fleet-" + std::to_string(::getpid()) + "-" + t->id + "?mode=memory&cache=shared";
    auto st = terminal::Store::open(db);
    if (!st) return failed(t->id + ": outbox: " + st.error().message());
    t->store.emplace(std::move(st).value());
    if (auto it = saved.find(t->id); it != saved.end()) {
      const auto seq = it->value("seq", int64_t{0});
      const auto boot = it->value("boot", int64_t{0});
      t->acl_version = it->value("acl_version", uint64_t{0});  // the applied bundle survives restarts too
      if (t->acl_version > 0) ++f.synced;
      if (seq > 0) {
        if (auto s = t->store->database().exec("INSERT INTO sqlite_sequence(name, seq) VALUES('outbox', " +
                                               std::to_string(seq) + ")");
            !s)
          return failed(t->id + ": cannot restore seq: " + s.error().message());
      }
      if (auto s = t->store->set_meta_int("boot", boot); !s) return failed(s.error().message());
      t->last_seq = t->acked = t->tracked_upto = static_cast<uint64_t>(seq);
    }
    auto boot = t->store->next_boot();
    if (!boot) return failed(t->id + ": boot: " + boot.error().message());
    t->boot = *boot;
    const uint64_t seed = o.seed * 0x9E3779B97F4A7C15ULL ^ (static_cast<uint64_t>(i) << 20) ^ t->boot;
    t->traffic = std::make_unique<Traffic>(f.o.layout, i, o.shape, seed, time::now_utc_ms() - o.history_ms);
    t->traffic->set_acl_version(t->acl_version);
    terminal::UplinkSettings us{t->id,     o.site, o.layout.resource(i), std::string(kFirmware), std::string(kBoard),
                                o.resend_s};
    std::optional<crypto::PublicKey> server_key;
    if (!f.server_pem.empty()) server_key = f.shard_server_keys[static_cast<std::size_t>(i) % f.shards.size()];
    t->uplink = std::make_unique<terminal::Uplink>(us, std::move(key), std::move(server_key), g_clock);
    auto up_store = t->store->reopen();
    if (!up_store) return failed(t->id + ": outbox: " + up_store.error().message());
    t->uplink->attach(std::move(up_store).value(), t->boot);
    t->uplink->set_publisher(t.get());
    f.by_id.emplace(t->id, t.get());
    f.terms.push_back(std::move(t));
  }
  return std::unique_ptr<Fleet>(new Fleet(std::move(impl)));
}

void Fleet::Impl::route(const mqtt::Message& m) {
  if (raw_mode.load()) {  // the baseline's subscriber: fleet/raw/<site>/<terminal>
    const auto slash = m.topic.rfind('/');
    auto it = by_id.find(m.topic.substr(slash == std::string::npos ? 0 : slash + 1));
    if (it == by_id.end()) return;
    raw_bytes += m.payload.size();
    ++raw_got;
    atomic_max(raw_last, now_us());
    SimTerminal* t = it->second;
    t->shard->post([t] {
      ++t->raw_got;
      t->raw_pump();
    });
    return;
  }
  auto parts = proto::parse_topic(m.topic);
  if (!parts) return;
  auto it = by_id.find(parts->terminal);
  if (it == by_id.end()) return;
  SimTerminal* t = it->second;
  if (parts->channel == proto::Channel::ack) {
    t->shard->post([t, p = m.payload, at = now_us()] { t->on_ack(p, at); });
  } else if (parts->channel == proto::Channel::sync) {
    t->shard->post([t, p = m.payload] { t->on_sync(p); });
  }
}

Status Fleet::Impl::open_connections(int timeout_s, bool subscribe) {
  ++generation;
  const bool wills = o.per_connection == 1 && !raw_mode.load();
  if (wills) {  // the Last Will: the offline state, signed now (as the terminal does at connect)
    on_all([](SimTerminal& t) { t.will = t.uplink->state_payload(false, t.facts()); });
  }
  for (auto& cp : conns) {
    Connection* c = cp.get();
    mqtt::Options mo;
    mo.uri = o.mqtt_uri;
    mo.client_id = "labgate-fleet-" + std::to_string(::getpid()) + "-" + std::to_string(c->index) + "-" +
                   std::to_string(generation);
    mo.keepalive_s = o.keepalive_s;
    mo.connect_timeout_s = 30;
    mo.max_inflight = std::min(65535, std::max(64, static_cast<int>(c->terms.size()) * 12 + 16));
    if (wills)
      mo.will = mqtt::Will{proto::topic(o.site, c->terms[0]->id, proto::Channel::state), c->terms[0]->will, 1, true};
    auto created = mqtt::Client::create(mo);
    if (!created) return created.error();
    std::shared_ptr<mqtt::Client> client(std::move(created).value().release());
    client->on_message([this](mqtt::Message m) { route(m); });
    client->on_connection([this, c](bool is_up) {
      if (c->up.exchange(is_up) != is_up) up += is_up ? 1 : -1;
      for (SimTerminal* t : c->terms) t->shard->post([t, is_up] { t->on_connection(is_up); });
    });
    if (subscribe) {
      for (SimTerminal* t : c->terms) {
        client->subscribe(proto::topic(o.site, t->id, proto::Channel::ack), 1);
        client->subscribe(proto::topic(o.site, t->id, proto::Channel::sync), 1);
      }
    }
    {
      std::lock_guard<std::mutex> lk(c->m);
      c->client = client;
    }
  }
  for (auto& c : conns) c->get()->start();  // all at once: the herd
  const auto deadline = now_us() + int64_t{timeout_s} * 1'000'000;
  while (up.load() < static_cast<int>(conns.size())) {
    if (now_us() > deadline)
      return failed("only " + std::to_string(up.load()) + " of " + std::to_string(conns.size()) +
                    " MQTT connections up after " + std::to_string(timeout_s) + " s (broker " + o.mqtt_uri + ")");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return {};
}

Status Fleet::connect(int timeout_s) {
  auto st = impl_->open_connections(timeout_s, !impl_->raw_mode.load());
  if (!st) return st;
  // A per-second tick on every shard: republish what stays unacked after resend_s (the terminal's
  // tick does the same) and the heartbeat state. The tick only queues each terminal's work (once:
  // not again while it waits), so that work takes its turn with the acks and connection events
  // already queued: a resend storm cannot starve the acks that would end it.
  for (auto& s : impl_->shards) {
    Shard* shard = s.get();
    auto tick = std::make_shared<std::function<void()>>();
    Impl* f = impl_.get();
    const int gen = f->generation;
    *tick = [f, shard, tick, gen] {
      if (f->stopped || gen != f->generation) return;
      const int64_t now = now_us();
      for (auto& tp : f->terms) {
        SimTerminal* t = tp.get();
        if (t->shard != shard || t->tick_queued) continue;
        const bool raw = f->raw_mode.load();
        const bool flush = raw ? t->raw_sent < t->raw.size() : t->acked < t->last_seq;
        const bool beat = !raw && f->o.heartbeat_s > 0 && t->next_beat_us > 0 && now >= t->next_beat_us;
        if (!flush && !beat) continue;
        t->tick_queued = true;
        shard->post([t, raw, flush, beat, hb = f->o.heartbeat_s] {
          t->tick_queued = false;
          if (raw) return t->raw_pump();
          if (flush) t->uplink->flush();
          if (beat) {
            t->uplink->publish_state(t->facts());
            t->next_beat_us = now_us() + int64_t{hb} * 1'000'000;
          }
        });
      }
      shard->at(now + 1'000'000, *tick);
    };
    shard->at(now_us() + 1'000'000, *tick);
  }
  return {};
}

Status Fleet::wait_synced(int timeout_s) {
  const auto deadline = now_us() + int64_t{timeout_s} * 1'000'000;
  while (impl_->synced.load() < terminals()) {
    if (now_us() > deadline)
      return failed(std::to_string(impl_->synced.load()) + " of " + std::to_string(terminals()) +
                    " terminals applied a sync bundle after " + std::to_string(timeout_s) + " s");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return {};
}

void Fleet::disconnect() {
  std::vector<std::shared_ptr<mqtt::Client>> going;
  for (auto& c : impl_->conns) {
    std::lock_guard<std::mutex> lk(c->m);
    if (c->up.exchange(false)) --impl_->up;
    if (c->client) {
      going.push_back(c->client);
      c->retired.push_back(c->client);
      c->client.reset();
    }
  }
  // stop() waits for the disconnect; do it from a few threads so a big fleet goes quickly.
  std::atomic<std::size_t> next{0};
  std::vector<std::thread> pool;
  for (int w = 0; w < 8; ++w)
    pool.emplace_back([&] {
      for (std::size_t i = next++; i < going.size(); i = next++) going[i]->stop();
    });
  for (auto& t : pool) t.join();
  for (auto& s : impl_->shards) s->call([] {});
  impl_->on_all([](SimTerminal& t) { t.on_connection(false); });
}

void Fleet::start_steady(int64_t interval_ms, int batch, int64_t until_us) {
  const int64_t start = now_us();
  const int64_t interval_us = interval_ms * 1000;
  const auto n = static_cast<int64_t>(impl_->terms.size());
  for (auto& tp : impl_->terms) {
    SimTerminal* t = tp.get();
    Impl* f = impl_.get();
    auto tick = std::make_shared<std::function<void(int64_t)>>();
    *tick = [f, t, tick, interval_us, batch, until_us](int64_t due) {
      if (f->stopped || due >= until_us) return;
      auto recs = t->traffic->next(static_cast<std::size_t>(batch), time::now_utc_ms());
      t->append(recs);
      t->uplink->flush();
      t->shard->at(due + interval_us, [tick, due, interval_us] { (*tick)(due + interval_us); });
    };
    const int64_t first = start + interval_us * t->index / n;
    t->shard->at(first, [tick, first] { (*tick)(first); });
  }
}

void Fleet::add_records(int records) {
  impl_->on_all([records](SimTerminal& t) {
    for (int done = 0; done < records;) {
      const int k = std::min(kCommitChunk, records - done);
      auto recs = t.traffic->next(static_cast<std::size_t>(k), time::now_utc_ms());
      t.append(recs);
      done += k;
    }
  });
  impl_->on_all([](SimTerminal& t) { t.uplink->flush(); });
}

/// Captures what an uplink publishes (no broker): the baseline's envelopes.
class Capture final : public terminal::Publisher {
 public:
  explicit Capture(std::vector<std::string>& out) : out_(out) {}
  bool connected() const override { return true; }
  Status publish(const std::string& topic, const std::string& payload, int, bool) override {
    if (topic.size() > 4 && topic.compare(topic.size() - 4, 4, "/evt") == 0) out_.push_back(payload);
    return {};
  }

 private:
  std::vector<std::string>& out_;
};

void Fleet::preseal() {
  impl_->on_all([](SimTerminal& t) {
    Capture cap(t.raw);
    t.uplink->set_publisher(&cap);
    t.uplink->on_connection(true, t.facts());  // the birth goes to the capture and is dropped
    for (std::size_t before = 0; before != t.raw.size();) {
      before = t.raw.size();
      t.uplink->flush();
    }
    t.uplink->set_publisher(&t);
    t.raw_sent = 0;
    t.presealed = true;
  });
}

bool Fleet::wait_acked(int timeout_s, const std::function<void()>& every_5s) {
  const auto deadline = now_us() + int64_t{timeout_s} * 1'000'000;
  int64_t next_report = now_us() + 5'000'000;
  while (unacked() > 0) {
    if (now_us() > deadline) return false;
    if (every_5s && now_us() >= next_report) {
      every_5s();
      next_report += 5'000'000;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

std::string Fleet::progress() const {
  const Impl& f = *impl_;
  return "records assigned " + std::to_string(f.assigned.load()) + ", acked " + std::to_string(f.acked.load()) +
         "; batches published " + std::to_string(f.published.load()) + ", republished " +
         std::to_string(f.republished.load()) + "; terminals synced " + std::to_string(f.synced.load()) +
         "; connections up " + std::to_string(f.up.load()) + "/" + std::to_string(f.conns.size());
}

Result<nlohmann::json> Fleet::broker_baseline(int records, int timeout_s) {
  Impl& f = *impl_;
  // The envelopes: what each terminal's uplink would publish for `records` new records, from a
  // throwaway outbox with the same key (the terminal's own outbox and seq stay untouched).
  const int64_t build0 = now_us();
  std::atomic<bool> bad{false};
  f.on_all([&f, records, &bad](SimTerminal& t) {
    auto key = crypto::PrivateKey::from_pem(t.key_pem);
    const std::string db =
        "file:labgate-fleet-raw-" + std::to_string(::getpid()) + "-" + t.id + "?mode=memory&cache=shared";
    auto store = terminal::Store::open(db);
    if (!key || !store) {
      bad = true;
      return;
    }
    terminal::UplinkSettings us{
        t.id, f.o.site, f.o.layout.resource(t.index), std::string(kFirmware), std::string(kBoard), 86400};
    std::optional<crypto::PublicKey> server_key;  // the same envelopes (MACed) as the durable run's
    if (!f.server_pem.empty()) server_key = f.shard_server_keys[static_cast<std::size_t>(t.index) % f.shards.size()];
    terminal::Uplink up(us, std::move(key).value(), std::move(server_key), g_clock);
    up.attach(std::move(store).value(), 1);
    // Same traffic shape; its own generator so the durable run's sequence is not consumed.
    Traffic traffic(f.o.layout, t.index, f.o.shape, f.o.seed + 7 + static_cast<uint64_t>(t.index),
                    time::now_utc_ms() - f.o.history_ms);
    auto writer = terminal::Store::open(db);
    if (!writer) {
      bad = true;
      return;
    }
    for (int done = 0; done < records;) {
      const int k = std::min(kCommitChunk, records - done);
      auto recs = traffic.next(static_cast<std::size_t>(k), time::now_utc_ms());
      terminal::Commit c;
      for (auto& r : recs) c.records.push_back(&r);
      if (!writer->commit(c)) {
        bad = true;
        return;
      }
      done += k;
    }
    Capture cap(t.raw);
    up.set_publisher(&cap);
    up.on_connection(true, t.facts());
    for (std::size_t before = 0; before != t.raw.size();) {
      before = t.raw.size();
      up.flush();
    }
    t.raw_sent = t.raw_got = 0;
  });
  if (bad) return failed("cannot build the baseline's envelopes");
  const double build_s = static_cast<double>(now_us() - build0) / 1e6;
  uint64_t messages = 0;
  uint64_t bytes = 0;
  for (auto& t : f.terms) {
    messages += t->raw.size();
    for (auto& w : t->raw) bytes += w.size();
  }

  f.raw_mode = true;
  // The plain subscriber: counts what arrives, nothing else.
  mqtt::Options so;
  so.uri = f.o.mqtt_uri;
  so.client_id = "labgate-fleet-raw-sub-" + std::to_string(::getpid());
  so.keepalive_s = f.o.keepalive_s;
  so.max_inflight = 65535;
  auto sub = mqtt::Client::create(so);
  if (!sub) return sub.error();
  (*sub)->on_message([&f](mqtt::Message m) { f.route(m); });
  (*sub)->subscribe("fleet/raw/" + f.o.site + "/+", 1);
  (*sub)->start();
  const auto sub_deadline = now_us() + 30'000'000;
  while (!(*sub)->connected()) {
    if (now_us() > sub_deadline) return failed("baseline subscriber cannot connect to " + f.o.mqtt_uri);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // its SUBACK; the subscription is made in connect

  const int64_t t0 = now_us();
  if (auto st = connect(timeout_s); !st) return st.error();  // each terminal publishes on connect
  const int64_t connected_us = now_us();
  const auto deadline = t0 + int64_t{timeout_s} * 1'000'000;
  // Nothing resends in the baseline: a message the broker drops (max_queued_messages) never
  // comes, so give up once nothing arrived for 30 s.
  uint64_t seen = 0;
  int64_t moved = now_us();
  while (f.raw_got.load() < messages && now_us() < deadline && now_us() - moved < 30'000'000) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (f.raw_got.load() != seen) {
      seen = f.raw_got.load();
      moved = now_us();
    }
  }
  (*sub)->stop();
  const uint64_t got = f.raw_got.load();
  const double secs = static_cast<double>(f.raw_last.load() - f.raw_first.load()) / 1e6;
  const double recs = static_cast<double>(records) * static_cast<double>(f.terms.size());
  nlohmann::json out{{"messages", messages},
                     {"received", got},
                     {"bytes", bytes},
                     {"records", static_cast<uint64_t>(recs)},
                     {"build_s", std::round(build_s * 1000) / 1000},
                     {"connect_s", std::round(static_cast<double>(connected_us - t0) / 1e3) / 1e3},
                     {"seconds", std::round(secs * 10000) / 10000},
                     {"records_per_s", secs > 0 ? std::round(recs / secs) : 0.0},
                     {"messages_per_s", secs > 0 ? std::round(static_cast<double>(got) / secs) : 0.0},
                     {"window", kRawWindow}};
  if (got < messages) out["error"] = "timed out: " + std::to_string(got) + " of " + std::to_string(messages);
  return out;
}

nlohmann::json Fleet::results(int64_t from_us, int64_t to_us) const {
  Impl& f = *impl_;
  std::vector<double> lat;
  uint64_t first_published = 0, published = 0, republished = 0, publish_failed = 0, acks = 0, bad_acks = 0;
  uint64_t syncs = 0, bad_syncs = 0, states = 0, uplink_rejected = 0, unacked_batches = 0;
  uint64_t dup_batches = 0, dup_records = 0;
  uint64_t kinds[6] = {0, 0, 0, 0, 0, 0};
  std::mutex m;
  f.on_all([&](SimTerminal& t) {
    std::lock_guard<std::mutex> lk(m);
    auto in = [&](int64_t at) { return (from_us == 0 && to_us == 0) || (at >= from_us && at <= to_us); };
    for (const auto& [at, ms] : t.samples) {
      if (!in(at)) continue;
      ++first_published;
      lat.push_back(ms);
    }
    for (const auto& [seq, at] : t.inflight) {
      if (!in(at)) continue;
      ++first_published;
      ++unacked_batches;
    }
    published += t.published;
    republished += t.republished;
    publish_failed += t.publish_failed;
    acks += t.acks;
    bad_acks += t.bad_acks;
    syncs += t.syncs;
    bad_syncs += t.bad_syncs;
    states += t.states;
    dup_batches += t.dup_batches;
    dup_records += t.dup_records;
    uplink_rejected += t.uplink->rejected();
    for (std::size_t k = 0; k < 6; ++k) kinds[k] += t.traffic->produced(static_cast<proto::RecordKind>(k));
  });
  nlohmann::json by_kind = nlohmann::json::object();
  for (std::size_t k = 0; k < 6; ++k)
    if (kinds[k] > 0) by_kind[proto::to_string(static_cast<proto::RecordKind>(k))] = kinds[k];
  return {{"terminals", f.terms.size()},
          {"connections", f.conns.size()},
          {"per_connection", f.o.per_connection},
          {"batches", first_published},
          {"batches_unacked", unacked_batches},
          {"ack_ms", percentiles(std::move(lat)).to_json()},
          {"records_assigned", f.assigned.load()},
          {"records_acked", f.acked.load()},
          {"records_by_kind", by_kind},
          {"evt_published", published},
          {"evt_republished", republished},
          {"publish_failed", publish_failed},
          {"state_published", states},
          {"duplicated_batches", dup_batches},
          {"duplicated_records", dup_records},
          {"acks", acks},
          {"acks_rejected", bad_acks},
          {"sync_bundles", syncs},
          {"sync_rejected", bad_syncs},
          {"synced_terminals", f.synced.load()}};
}

Status Fleet::save_state() const {
  if (impl_->o.state_file.empty()) return {};
  // Terminals of the file that did not take part in this run keep their entries.
  nlohmann::json out = nlohmann::json::object();
  if (std::filesystem::exists(impl_->o.state_file)) {
    std::ifstream in(impl_->o.state_file);
    out = nlohmann::json::parse(in, nullptr, false);
    if (!out.is_object()) out = nlohmann::json::object();
  }
  impl_->on_all([&out, m = std::make_shared<std::mutex>()](SimTerminal& t) {
    std::lock_guard<std::mutex> lk(*m);
    out[t.id] = {{"seq", t.last_seq}, {"boot", t.boot}, {"acked", t.acked}, {"acl_version", t.acl_version}};
  });
  const std::string tmp = impl_->o.state_file + ".tmp";
  {
    std::ofstream f(tmp);
    if (!f) return failed("cannot write " + tmp);
    f << out.dump() << "\n";
  }
  std::error_code ec;
  std::filesystem::rename(tmp, impl_->o.state_file, ec);
  if (ec) return failed("cannot write " + impl_->o.state_file + ": " + ec.message());
  return {};
}

void Fleet::stop() {
  if (!impl_ || impl_->stopped) return;
  impl_->stopped = true;
  for (auto& s : impl_->shards) s->clear_timers();
  std::vector<std::shared_ptr<mqtt::Client>> going;
  for (auto& c : impl_->conns) {
    std::lock_guard<std::mutex> lk(c->m);
    c->up = false;
    if (c->client) going.push_back(c->client);
  }
  std::atomic<std::size_t> next{0};
  std::vector<std::thread> pool;
  for (int w = 0; w < 8; ++w)
    pool.emplace_back([&] {
      for (std::size_t i = next++; i < going.size(); i = next++) going[i]->stop();
    });
  for (auto& t : pool) t.join();
  for (auto& s : impl_->shards) s->stop();
}

}  // namespace lg::fleet
