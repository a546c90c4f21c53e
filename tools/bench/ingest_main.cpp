// labgate-bench-ingest: a fake terminal that measures durable ingest throughput of a running
// labgate-server, as a ratio against raw QoS 1 pass-through of the same bytes through the same
// Mosquitto, measured in the same run.
//
//   raw      the sealed batches are published QoS 1 to bench/raw/<terminal>, which this program
//            also subscribes to at QoS 1; timed from the first publish to the last message back.
//   ingest   the same batches on lg/v1/<site>/<terminal>/evt; timed from the first publish until
//            a signed ack (verified with the server key) with seq == last seq arrives, i.e. until
//            the server has committed every record (records, sessions, charges) to SQLite.
// Both phases keep at most --window messages outstanding (published, not yet acknowledged end to
// end), so they are paced the same way (default 256: small windows make the raw baseline stall on
// TCP small-segment timing, 40 ms per window). The raw phase runs --raw-repeat times, fastest counts.
// Output: one JSON object on stdout.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "labgate/common/crypto.hpp"
#include "labgate/common/mqtt.hpp"
#include "labgate/common/protocol.hpp"
#include "labgate/common/time.hpp"

namespace {

using Clock = std::chrono::steady_clock;
namespace proto = lg::proto;

struct Settings {
  std::string key_file;
  bool print_public_key = false;
  std::string mqtt_uri = "tcp://127.0.0.1:1883";
  std::string site = "demo";
  std::string terminal = "t-bench";
  std::string resource = "inst-xrd";
  std::string user = "u-alice";
  std::string card = "A1A1A1A1";
  std::string server_pub;
  int records = 10000;
  int batch = 50;
  uint64_t first_seq = 1;
  uint64_t boot = 1;
  int window = 256;
  int timeout_s = 600;
  int resend_s = 5;
  bool skip_raw = false;
  bool skip_ingest = false;
  int raw_repeat = 3;
  std::string auth = "mac";  ///< "mac" (hs256 under the link key) or "signature" (es256), as a terminal's auth
};

/// Shared progress, updated from Paho's callback thread.
struct Progress {
  std::mutex mutex;
  std::condition_variable cv;
  uint64_t acked_seq = 0;       // highest verified ack seq
  uint64_t raw_received = 0;    // messages back on the raw topic
  uint64_t acks = 0;
  uint64_t bad_acks = 0;
  Clock::time_point last_change = Clock::now();
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// A sealed evt message and the last seq it carries.
struct Message {
  std::string wire;
  uint64_t last_seq = 0;
};

/// Wraps a batch body the way the terminal's `auth` setting does: MAC under the link's up key
/// (when given) or ECDSA signature.
std::string seal_batch(const std::string& body, const Settings& s, const lg::crypto::PrivateKey& key,
                       const std::optional<proto::LinkKeys>& link) {
  if (link) return proto::seal_mac(body, s.terminal, link->up);
  auto sealed = proto::seal(body, s.terminal, key);
  if (!sealed) throw std::runtime_error("seal: " + sealed.error().message());
  return std::move(sealed).value();
}

std::vector<Message> build_batches(const Settings& s, const lg::crypto::PrivateKey& key,
                                   const std::optional<proto::LinkKeys>& link) {
  std::vector<Message> out;
  const int64_t now = lg::time::now_utc_ms();
  const bool synced = lg::time::clock_synced();
  uint64_t seq = s.first_seq;
  const uint64_t last = s.first_seq + static_cast<uint64_t>(s.records) - 1;
  while (seq <= last) {
    proto::EventBatch b;
    b.terminal = s.terminal;
    b.boot = s.boot;
    for (int i = 0; i < s.batch && seq <= last; ++i, ++seq) {
      proto::SessionEnd e;
      e.session = lg::crypto::uuid7();
      e.card = s.card;
      e.user = s.user;
      e.resource = s.resource;
      const int64_t duration = 600'000 + static_cast<int64_t>(seq % 1000) * 1000;  // 10..26 min
      e.end_ms = now - 3'600'000 + static_cast<int64_t>(seq % 3600) * 1000;
      e.start_ms = e.end_ms - duration;
      e.duration_ms = duration;
      e.energy_wh = 100 + static_cast<int64_t>(seq % 500);
      e.end_reason = proto::EndReason::swipe_out;
      proto::Record r;
      r.seq = seq;
      r.id = lg::crypto::uuid7();
      r.ts_ms = e.end_ms;
      r.clock_synced = synced;
      r.body = std::move(e);
      b.records.push_back(std::move(r));
    }
    std::string sealed = seal_batch(proto::encode(b), s, key, link);
    if (sealed.size() > proto::kMaxPayload)
      throw std::runtime_error("a batch of " + std::to_string(s.batch) + " exceeds the payload limit");
    out.push_back(Message{std::move(sealed), seq - 1});
  }
  return out;
}

/// Publishes msgs to topic keeping at most `window` outstanding, where `done()` says how many
/// messages have been acknowledged end to end so far. Republishes from the first outstanding one
/// when nothing moved for resend_s (QoS 1 may drop on reconnect). Returns seconds from first
/// publish until done() == msgs.size().
double pump(lg::mqtt::Client& client, const std::string& topic, const std::vector<Message>& msgs, int window,
            Progress& prog, const std::function<std::size_t()>& done, int timeout_s, int resend_s,
            uint64_t& republished) {
  const auto t0 = Clock::now();
  const auto deadline = t0 + std::chrono::seconds(timeout_s);
  std::size_t next = 0;
  {
    std::lock_guard<std::mutex> lock(prog.mutex);
    prog.last_change = t0;
  }
  while (true) {
    std::size_t complete = 0;
    {
      std::unique_lock<std::mutex> lock(prog.mutex);
      prog.cv.wait_for(lock, std::chrono::milliseconds(200), [&] {
        const std::size_t d = done();
        return d >= msgs.size() || (next < msgs.size() && next < d + static_cast<std::size_t>(window));
      });
      complete = done();
      if (complete >= msgs.size()) break;
      if (Clock::now() - prog.last_change > std::chrono::seconds(resend_s) && next > complete) {
        next = complete;  // nothing moved: publish again from the first unacknowledged message
        prog.last_change = Clock::now();
        ++republished;
      }
    }
    if (Clock::now() > deadline)
      throw std::runtime_error("timed out on " + topic + " after " + std::to_string(timeout_s) + " s with " +
                               std::to_string(complete) + "/" + std::to_string(msgs.size()) + " messages done");
    while (next < msgs.size() && next < complete + static_cast<std::size_t>(window)) {
      auto st = client.publish(topic, msgs[next].wire, 1, false);
      if (!st) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));  // reconnecting; retry later
        break;
      }
      ++next;
    }
  }
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

/// v rounded to `digits` decimals (divides, so the result is the double nearest the decimal).
double round_to(double v, int digits) {
  const double scale = std::pow(10.0, digits);
  return std::round(v * scale) / scale;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"labgate-bench-ingest: durable ingest throughput vs raw MQTT QoS 1 pass-through"};
  Settings s;
  app.add_option("--key", s.key_file, "terminal private key (created if missing)")->required();
  app.add_flag("--print-public-key", s.print_public_key, "print the public key PEM and exit");
  app.add_option("--mqtt", s.mqtt_uri, "broker URI");
  app.add_option("--site", s.site, "site code (topic root)");
  app.add_option("--terminal", s.terminal, "terminal id (must be enrolled with this key)");
  app.add_option("--resource", s.resource, "resource of the session records");
  app.add_option("--user", s.user, "user of the session records");
  app.add_option("--card", s.card, "card of the session records");
  app.add_option("--server-pub", s.server_pub, "server public key PEM (verifies acks)");
  app.add_option("--records", s.records, "records to send")->check(CLI::Range(1, 100000000));
  app.add_option("--batch", s.batch, "records per evt message")
      ->check(CLI::Range(1, static_cast<int>(proto::kMaxBatch)));
  app.add_option("--first-seq", s.first_seq, "seq of the first record (continue after an earlier run)")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 53));
  app.add_option("--boot", s.boot, "boot counter in the batches");
  app.add_option("--window", s.window, "most messages outstanding end to end")->check(CLI::Range(1, 10000));
  app.add_option("--timeout-s", s.timeout_s, "give up after this long per phase")->check(CLI::Range(1, 86400));
  app.add_option("--resend-s", s.resend_s, "republish when nothing moved for this long")->check(CLI::Range(1, 3600));
  app.add_option("--auth", s.auth, "how batches are authenticated, as a terminal's auth setting")
      ->check(CLI::IsMember({"mac", "signature"}));
  app.add_flag("--skip-raw", s.skip_raw, "skip the raw MQTT baseline");
  app.add_flag("--skip-ingest", s.skip_ingest, "only the raw baseline (no server needed)");
  app.add_option("--raw-repeat", s.raw_repeat, "raw baseline runs; the fastest counts (default 3)")
      ->check(CLI::Range(1, 100));
  CLI11_PARSE(app, argc, argv);

  try {
    auto key = lg::crypto::PrivateKey::load_or_create(s.key_file);
    if (!key) throw std::runtime_error("--key: " + key.error().message());
    if (s.print_public_key) {
      std::cout << key->public_pem();
      return 0;
    }
    if (s.skip_raw && s.skip_ingest) throw std::runtime_error("--skip-raw and --skip-ingest: nothing to do");
    lg::crypto::PublicKey server_pub;
    if (!s.skip_ingest) {
      if (s.server_pub.empty()) throw std::runtime_error("--server-pub is required (acks are verified)");
      auto server_key = lg::crypto::PublicKey::from_pem(read_file(s.server_pub));
      if (!server_key) throw std::runtime_error("--server-pub: " + server_key.error().message());
      server_pub = std::move(server_key).value();
    }
    if (!proto::valid_id(s.terminal)) throw std::runtime_error("--terminal: not a valid id");
    std::optional<proto::LinkKeys> link;
    if (s.auth == "mac") {
      if (s.skip_ingest) {
        link = proto::LinkKeys{std::string(32, 'u'), std::string(32, 'd'), std::string(32, 'c')};  // raw only: same size, nobody checks
      } else {
        auto derived = proto::link_keys(*key, server_pub, s.site, s.terminal);
        if (!derived) throw std::runtime_error("link keys: " + derived.error().message());
        link = std::move(derived).value();
      }
    }

    const auto build_t0 = Clock::now();
    const std::vector<Message> msgs = build_batches(s, *key, link);
    const double build_s = std::chrono::duration<double>(Clock::now() - build_t0).count();
    const uint64_t last_seq = s.first_seq + static_cast<uint64_t>(s.records) - 1;

    const std::string evt_topic = proto::topic(s.site, s.terminal, proto::Channel::evt);
    const std::string ack_topic = proto::topic(s.site, s.terminal, proto::Channel::ack);
    const std::string raw_topic = "bench/raw/" + s.terminal;

    Progress prog;
    lg::mqtt::Options opts;
    opts.uri = s.mqtt_uri;
    opts.client_id = "labgate-bench-" + s.terminal + "-" + std::to_string(::getpid());
    opts.max_inflight = std::max(64, 2 * s.window);
    auto created = lg::mqtt::Client::create(opts);
    if (!created) throw std::runtime_error(created.error().message());
    auto client = std::move(created).value();
    const std::string terminal = s.terminal;
    client->on_message([&prog, &server_pub, &link, ack_topic, raw_topic, terminal](lg::mqtt::Message m) {
      if (m.topic == raw_topic) {
        std::lock_guard<std::mutex> lock(prog.mutex);
        ++prog.raw_received;
        prog.last_change = Clock::now();
        prog.cv.notify_all();
        return;
      }
      if (m.topic != ack_topic) return;
      auto env = proto::open(m.payload);
      bool ok = env && env->kid == proto::kServerKid &&
                (env->alg == proto::Auth::mac ? link && proto::verify_mac(*env, link->down)
                                              : proto::verify(*env, server_pub));
      std::optional<proto::Ack> ack;
      if (ok) {
        auto a = proto::decode_ack(env->body);
        ok = a && a->terminal == terminal;
        if (ok) ack = *a;
      }
      std::lock_guard<std::mutex> lock(prog.mutex);
      if (!ok) {
        ++prog.bad_acks;
        return;
      }
      ++prog.acks;
      if (ack->seq > prog.acked_seq) {
        prog.acked_seq = ack->seq;
        prog.last_change = Clock::now();
      }
      prog.cv.notify_all();
    });
    client->subscribe(ack_topic, 1);
    client->subscribe(raw_topic, 1);
    client->start();
    const auto connect_deadline = Clock::now() + std::chrono::seconds(20);
    while (!client->connected()) {
      if (Clock::now() > connect_deadline) throw std::runtime_error("cannot connect to " + s.mqtt_uri);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }

    // Raw baseline, --raw-repeat times; the fastest run counts (the baseline is the best the
    // broker and client library can do here; slower runs are scheduling noise).
    uint64_t raw_republished = 0;
    double raw_s = 0.0;
    std::vector<double> raw_runs;
    for (int rep = 0; !s.skip_raw && rep < s.raw_repeat; ++rep) {
      uint64_t base = 0;
      {
        std::lock_guard<std::mutex> lock(prog.mutex);
        base = prog.raw_received;
      }
      raw_runs.push_back(pump(*client, raw_topic, msgs, s.window, prog,
                              [&] { return static_cast<std::size_t>(prog.raw_received - base); }, s.timeout_s,
                              s.resend_s, raw_republished));
      std::this_thread::sleep_for(std::chrono::milliseconds(200));  // stragglers (duplicates) drain
    }
    if (!raw_runs.empty()) raw_s = *std::min_element(raw_runs.begin(), raw_runs.end());

    // Messages fully acknowledged = those whose last seq is covered by the acked seq.
    uint64_t ingest_republished = 0;
    double ingest_s = 0.0;
    if (!s.skip_ingest) ingest_s = pump(
        *client, evt_topic, msgs, s.window, prog,
        [&] {
          const uint64_t a = prog.acked_seq;
          return static_cast<std::size_t>(
              std::upper_bound(msgs.begin(), msgs.end(), a,
                               [](uint64_t v, const Message& m) { return v < m.last_seq; }) -
              msgs.begin());
        },
        s.timeout_s, s.resend_s, ingest_republished);

    client->stop();

    const double n = static_cast<double>(s.records);
    nlohmann::json out;
    out["records"] = s.records;
    out["batch"] = s.batch;
    out["auth"] = s.auth;
    out["messages"] = msgs.size();
    out["window"] = s.window;
    out["first_seq"] = s.first_seq;
    out["last_seq"] = last_seq;
    if (!s.skip_ingest) {
      out["ingest_s"] = round_to(ingest_s, 4);
      out["ingest_records_per_s"] = std::round(n / ingest_s);
    }
    if (!s.skip_raw) {
      out["raw_s"] = round_to(raw_s, 4);
      out["raw_records_per_s"] = std::round(n / raw_s);
      nlohmann::json runs = nlohmann::json::array();
      for (double r : raw_runs) runs.push_back(round_to(r, 4));
      out["raw_runs_s"] = runs;
    }
    if (!s.skip_raw && !s.skip_ingest)
      out["ratio"] = round_to(ingest_s / raw_s, 2);  // how many times longer durable ingest takes
    out["acks"] = prog.acks;
    out["bad_acks"] = prog.bad_acks;
    out["republished"] = {{"raw", raw_republished}, {"ingest", ingest_republished}};
    out["build_s"] = round_to(build_s, 3);
    std::cout << out.dump() << std::endl;
    return s.skip_ingest || prog.acked_seq >= last_seq ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "bench-ingest: " << e.what() << "\n";
    return 1;
  }
}
