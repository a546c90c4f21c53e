// labgate-fleet: who the simulated fleet is (ids, resources, users, cards: one layout shared by
// `setup` and the run modes) and what a simulated terminal records. The records are the
// terminal's own kinds (docs/PROTOCOL.md "Records"), built with the terminal's make_record and
// access_record (terminal/access/records.hpp), stamped by a simulated clock so sessions have
// plausible durations however fast the benchmark runs. Pure: no sockets, no threads.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "labgate/common/protocol.hpp"

#include "ports.hpp"

namespace lg::fleet {

/// Names of everything the fleet needs on the server, derived from a few numbers so that
/// `labgate-fleet setup` and every run mode agree without sharing a file.
struct Layout {
  std::string prefix = "tf-";      ///< terminal ids: prefix + 5 digits (tf-00001)
  int terminals = 100;             ///< how many terminals
  int terminals_per_resource = 1;  ///< terminals sharing one instrument (1 = one each, as on site)
  int users = 200;                 ///< users with a card each

  /// Id of terminal i (0-based within this layout).
  std::string terminal(int i) const;
  /// Instrument of terminal i.
  std::string resource(int i) const;
  /// Number of instruments the layout needs.
  int resources() const;
  /// Instrument number r (0-based).
  std::string resource_id(int r) const;
  /// User number u (0-based) and that user's card.
  std::string user(int u) const;
  std::string card(int u) const;
};

/// The labgatectl import document (units, labs, instruments, fee standards, users, cards,
/// terminals with their public keys) that enrols a layout on an empty server.
nlohmann::json import_document(const Layout& layout, const std::vector<std::string>& public_pems);

/// A clock the records are stamped with: wall time set by the generator, always "synced".
class SimClock final : public terminal::Clock {
 public:
  int64_t now_ms() override { return now_; }
  int64_t steady_ms() override { return now_; }
  std::string boot_id() override { return "fleet"; }
  bool synced() override { return true; }
  void set(int64_t ms) { now_ = ms; }

 private:
  int64_t now_ = 0;
};

/// Shape of one terminal's traffic (simulated time).
struct TrafficShape {
  int64_t sample_every_ms = 300'000;  ///< meter sample period while a session runs (5 min)
  int max_samples = 24;               ///< a session lasts 1..max_samples sample periods (5 min .. 2 h)
  int64_t mean_idle_ms = 1'800'000;   ///< mean pause between sessions (30 min)
  double denied_share = 0.15;         ///< swipes that are refused (unknown card, no booking, ...)
  /// Mean simulated time per record, for placing a run's first record in the past.
  int64_t mean_gap_ms() const;
};

/// One terminal's traffic: access swipes (granted and denied), session start/end pairs whose
/// duration_ms is exactly end - start, meter samples with a growing energy counter. The
/// simulated clock never runs past the cap passed to next(), so every record lies in the past.
class Traffic {
 public:
  /// users: the user numbers whose cards this terminal sees; seed fixes the sequence.
  Traffic(const Layout& layout, int terminal_index, TrafficShape shape, uint64_t seed, int64_t start_ms);

  /// The next n records in time order (seq 0: the store assigns it).
  std::vector<proto::Record> next(std::size_t n, int64_t cap_ms);
  /// How the terminal decides from now on: online, or offline from its cached lists (an outage).
  void set_mode(proto::Mode mode) { mode_ = mode; }
  /// The sync bundle version the terminal's decisions use.
  void set_acl_version(uint64_t v) { acl_version_ = v; }

  /// Count of each kind handed out by next() so far.
  uint64_t produced(proto::RecordKind k) const { return counts_[static_cast<std::size_t>(k)]; }

 private:
  void step(int64_t cap_ms);
  void advance(int64_t by_ms, int64_t cap_ms);
  void emit(proto::RecordBody body);

  const Layout& layout_;
  std::string resource_;
  TrafficShape shape_;
  std::mt19937_64 rng_;
  SimClock clock_;
  std::vector<int> users_;  // user numbers seen at this instrument
  std::deque<proto::Record> ready_;
  proto::Mode mode_ = proto::Mode::online;
  uint64_t acl_version_ = 0;
  // The open session, if any.
  std::optional<proto::SessionStart> open_;
  int64_t open_start_ms_ = 0;
  int samples_left_ = 0;
  int64_t meter_wh_ = 0;
  uint64_t counts_[6] = {0, 0, 0, 0, 0, 0};
};

}  // namespace lg::fleet
