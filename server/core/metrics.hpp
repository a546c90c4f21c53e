// Operator metrics in the Prometheus text exposition format 0.0.4 (GET /metrics, docs/SERVER.md
// "Metrics"). A small registry without external libraries: counters, gauges and histograms are
// std::atomic values updated without a lock from any thread; a labelled family takes its mutex
// only to find or create a child (hot paths keep the reference it returns). Values read from
// elsewhere at scrape time (Health, the database's ingest counters, the terminals) are written
// next to the registry by render(). Only counts and durations: no card UIDs, user ids or names.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "server/terminals/model.hpp"
#include "server/usage/model.hpp"

namespace lg::server::metrics {

/// The Content-Type of the text exposition format.
inline constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

/// A terminal counts as connected while its last state said online and it was heard (a state or a
/// batch) within this long: three heartbeats at the terminal's default heartbeat_s of 30 s.
inline constexpr int64_t kTerminalRecentMs = 90'000;

/// Upper bounds (seconds) of the latency histograms: 0.5 ms .. 10 s (the SQLite busy timeout is 5 s).
inline const std::vector<double>& latency_buckets() {
  static const std::vector<double> b{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  return b;
}

/// The metric types this registry writes.
enum class Type { counter, gauge, histogram };

/// "counter" | "gauge" | "histogram", as # TYPE spells them.
const char* to_string(Type t);

/// Label name/value pairs of one sample, in the order written.
using Labels = std::vector<std::pair<std::string, std::string>>;

/// True when name is a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*).
bool valid_metric_name(std::string_view name);

/// True when name is a valid label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with "__").
bool valid_label_name(std::string_view name);

/// A label value as written between the quotes: backslash, double quote and line feed become
/// \\, \" and \n; bytes that are not valid UTF-8 become U+FFFD.
std::string escape_label_value(std::string_view value);

/// HELP text as written after the name: backslash and line feed become \\ and \n; bytes that are
/// not valid UTF-8 become U+FFFD.
std::string escape_help(std::string_view help);

/// A sample value as the format spells it: "+Inf", "-Inf", "NaN", integers without a fraction
/// ("3", "-2"), anything else in the shortest form that reads back exactly, in the style of %g
/// ("0.25", "0.0005", "1e-06").
std::string format_value(double v);

/// Appends exposition text: a family's # HELP and # TYPE lines, then its samples.
class TextWriter {
 public:
  /// Starts a family: "# HELP name help" and "# TYPE name type". Write each family once, before
  /// its samples.
  void family(std::string_view name, std::string_view help, Type type);
  /// One sample line "name{label="value",...} value" (no braces without labels).
  void sample(std::string_view name, const Labels& labels, double value);
  /// One sample line with an integer value, written exactly.
  void sample(std::string_view name, const Labels& labels, uint64_t value);
  /// One sample line with a signed integer value, written exactly.
  void sample(std::string_view name, const Labels& labels, int64_t value);
  /// The text so far.
  const std::string& text() const { return out_; }

 private:
  void labels(const Labels& labels);
  std::string out_;
};

/// A count that only grows. Lock-free.
class Counter {
 public:
  /// Adds n.
  void inc(uint64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
  /// The current count.
  uint64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

/// A value that goes up and down. Lock-free.
class Gauge {
 public:
  /// Sets the value.
  void set(double v) { v_.store(v, std::memory_order_relaxed); }
  /// Adds d (negative to subtract).
  void add(double d) { v_.fetch_add(d, std::memory_order_relaxed); }
  /// The current value.
  double value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> v_{0};
};

/// Observations counted into fixed buckets (upper bounds, inclusive), with their sum. Lock-free.
class Histogram {
 public:
  /// upper_bounds: finite, strictly ascending; the +Inf bucket is implied.
  explicit Histogram(std::vector<double> upper_bounds);

  /// Counts one observation (NaN is ignored).
  void observe(double v);

  /// A consistent reading: cumulative[i] counts observations <= bounds[i]; the last entry (one
  /// more than bounds) is the +Inf bucket and equals count.
  struct Snapshot {
    std::vector<double> bounds;
    std::vector<uint64_t> cumulative;
    uint64_t count = 0;
    double sum = 0;
  };
  /// Reads the buckets; count is derived from them, so _count always equals the +Inf bucket.
  Snapshot snapshot() const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds_.size() + 1, not cumulative
  std::atomic<double> sum_{0};
};

/// One metric with labels: a child per tuple of label values, created on first use. with() takes
/// the family's mutex; the child it returns stays valid as long as the family and is lock-free.
template <typename M>
class Family {
 public:
  /// make: creates a child (histograms need their bounds).
  Family(std::vector<std::string> label_names, std::function<std::unique_ptr<M>()> make)
      : names_(std::move(label_names)), make_(std::move(make)) {}

  /// The child with these label values (one per label name, in order), created if new.
  M& with(const std::vector<std::string>& values) {
    std::lock_guard lock(m_);
    auto it = children_.find(values);
    if (it == children_.end()) it = children_.emplace(values, make_()).first;
    return *it->second;
  }

  /// The label names.
  const std::vector<std::string>& label_names() const { return names_; }

  /// Calls f(labels, child) for every child, ordered by label values.
  void each(const std::function<void(const Labels&, const M&)>& f) const {
    std::lock_guard lock(m_);
    for (const auto& [values, child] : children_) {
      Labels l;
      for (std::size_t i = 0; i < names_.size() && i < values.size(); ++i) l.emplace_back(names_[i], values[i]);
      f(l, *child);
    }
  }

 private:
  std::vector<std::string> names_;
  std::function<std::unique_ptr<M>()> make_;
  mutable std::mutex m_;
  std::map<std::vector<std::string>, std::unique_ptr<M>> children_;
};

/// Metrics registered by name, written in the order registered. Register before the threads
/// start (registration takes a mutex, but names are checked only then); update from anywhere.
class Registry {
 public:
  /// A counter without labels.
  Counter& counter(const std::string& name, const std::string& help);
  /// A gauge without labels.
  Gauge& gauge(const std::string& name, const std::string& help);
  /// A histogram without labels.
  Histogram& histogram(const std::string& name, const std::string& help, const std::vector<double>& bounds);
  /// Counters with labels.
  Family<Counter>& counter_family(const std::string& name, const std::string& help,
                                  std::vector<std::string> label_names);
  /// Histograms with labels.
  Family<Histogram>& histogram_family(const std::string& name, const std::string& help,
                                      std::vector<std::string> label_names, const std::vector<double>& bounds);

  /// Writes every metric: HELP, TYPE and its samples (a histogram as _bucket{le=...}, cumulative,
  /// ending with le="+Inf", then _sum and _count). A family without children writes HELP and TYPE
  /// only.
  void write(TextWriter& w) const;

 private:
  struct Entry {
    std::string name;
    std::string help;
    std::variant<std::unique_ptr<Family<Counter>>, std::unique_ptr<Family<Gauge>>, std::unique_ptr<Family<Histogram>>>
        family;
  };
  void check_new(const std::string& name, const std::vector<std::string>& label_names) const;

  mutable std::mutex m_;
  std::vector<Entry> entries_;
};

/// Writes one histogram's samples (_bucket for every bound and +Inf, _sum, _count) under name.
void write_histogram(TextWriter& w, std::string_view name, const Labels& labels, const Histogram& h);

/// The metrics the server updates as things happen (App owns one; an Api given none makes its own).
struct ServerMetrics {
  ServerMetrics();
  ServerMetrics(const ServerMetrics&) = delete;
  ServerMetrics& operator=(const ServerMetrics&) = delete;

  Registry registry;
  /// labgate_db_transaction_seconds{op}: one unit of work of ingest, timed around the call (op
  /// "commit_batch": the commit of a group of evt batches; "apply_state": a state message).
  Family<Histogram>& db_seconds;
  /// labgate_ingest_failures_total: evt/state messages not committed because storage failed.
  Counter& ingest_failures;
  /// labgate_http_requests_total{code}: answers given by the router, by status.
  Family<Counter>& http_requests;
  /// labgate_http_request_duration_seconds: time of one routed request (handler and its store calls).
  Histogram& http_seconds;
};

/// Terminals by connection (counted by count_terminals).
struct TerminalCounts {
  int64_t enrolled = 0;
  int64_t connected = 0;  ///< last state online and heard within kTerminalRecentMs
};

/// Counts enrolled terminals and those connected at now_ms: last state online and last seen within
/// kTerminalRecentMs (a terminal whose broker connection lives on while its loop is stuck stops
/// heartbeating, and one the server no longer hears from is not counted).
TerminalCounts count_terminals(const std::vector<Terminal>& terminals, int64_t now_ms);

/// What /metrics reads at scrape time besides the registry.
struct ScrapeState {
  std::string version;
  bool broker_connected = false;
  int64_t ingest_queued = 0;  ///< Health: messages waiting for or in the ingest strand
  int64_t ingest_lag_ms = 0;  ///< Health: age of the oldest of them
  bool dirty_pending = false;
  bool database_ok = false;
  std::optional<Stats> ingest;              ///< the database's ingest counters (nullopt: read failed)
  std::optional<TerminalCounts> terminals;  ///< nullopt: read failed
};

/// The whole exposition: the scrape-time values, then the registry. Names are in docs/SERVER.md
/// ("Metrics"); series read from the database are left out when the read failed
/// (labgate_database_up 0).
std::string render(const ServerMetrics& m, const ScrapeState& s);

}  // namespace lg::server::metrics
