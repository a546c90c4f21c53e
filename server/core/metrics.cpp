#include "server/core/metrics.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <set>

#include "labgate/common/assert.hpp"

namespace lg::server::metrics {

namespace {

bool name_char(char c, bool first, bool colon) {
  const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
  return alpha || (!first && c >= '0' && c <= '9');
}

bool valid_name(std::string_view name, bool colon) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (!name_char(name[i], i == 0, colon)) return false;
  }
  return true;
}

/// Length of the valid UTF-8 sequence starting at s[i], or 0 if none starts there.
std::size_t utf8_length(std::string_view s, std::size_t i) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  if (c < 0x80) return 1;
  std::size_t n = 0;
  uint32_t cp = 0;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
    cp = c & 0x1Fu;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    cp = c & 0x0Fu;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    cp = c & 0x07u;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xC0u) != 0x80u) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3Fu);
  }
  // overlong forms, surrogates and code points above U+10FFFF
  if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

/// Escapes backslash, line feed and (when quote) the double quote; invalid UTF-8 becomes U+FFFD.
std::string escape(std::string_view s, bool quote) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    const char c = s[i];
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quote) {
      out += "\\\"";
    } else {
      const std::size_t n = utf8_length(s, i);
      if (n == 0) {
        out += "\xEF\xBF\xBD";  // U+FFFD
        ++i;
        continue;
      }
      out.append(s.substr(i, n));
      i += n;
      continue;
    }
    ++i;
  }
  return out;
}

Labels with_le(const Labels& labels, double bound) {
  Labels l = labels;
  l.emplace_back("le", format_value(bound));
  return l;
}

}  // namespace

const char* to_string(Type t) {
  switch (t) {
    case Type::counter: return "counter";
    case Type::gauge: return "gauge";
    case Type::histogram: return "histogram";
  }
  return "untyped";
}

bool valid_metric_name(std::string_view name) { return valid_name(name, true); }

bool valid_label_name(std::string_view name) { return valid_name(name, false) && name.substr(0, 2) != "__"; }

std::string escape_label_value(std::string_view value) { return escape(value, true); }

std::string escape_help(std::string_view help) { return escape(help, false); }

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  // integers below 2^53 exactly, without a fraction or an exponent
  if (v == std::trunc(v) && std::fabs(v) < 9007199254740992.0) return std::to_string(static_cast<int64_t>(v));
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general);
  return std::string(buf, r.ptr);
}

void TextWriter::family(std::string_view name, std::string_view help, Type type) {
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  out_ += escape_help(help);
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += to_string(type);
  out_ += '\n';
}

void TextWriter::labels(const Labels& labels) {
  if (labels.empty()) return;
  out_ += '{';
  bool first = true;
  for (const auto& [k, v] : labels) {
    LG_ASSERT(valid_label_name(k), "label names are ours and valid");
    if (!first) out_ += ',';
    first = false;
    out_ += k;
    out_ += "=\"";
    out_ += escape_label_value(v);
    out_ += '"';
  }
  out_ += '}';
}

void TextWriter::sample(std::string_view name, const Labels& l, double value) {
  out_ += name;
  labels(l);
  out_ += ' ';
  out_ += format_value(value);
  out_ += '\n';
}

void TextWriter::sample(std::string_view name, const Labels& l, uint64_t value) {
  out_ += name;
  labels(l);
  out_ += ' ';
  out_ += std::to_string(value);
  out_ += '\n';
}

void TextWriter::sample(std::string_view name, const Labels& l, int64_t value) {
  out_ += name;
  labels(l);
  out_ += ' ';
  out_ += std::to_string(value);
  out_ += '\n';
}

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)), buckets_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  LG_ASSERT(std::adjacent_find(bounds_.begin(), bounds_.end(), std::greater_equal<>()) == bounds_.end(),
            "histogram bounds strictly ascending");
  LG_ASSERT(std::all_of(bounds_.begin(), bounds_.end(), [](double b) { return std::isfinite(b); }),
            "histogram bounds finite (+Inf is implied)");
  for (std::size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void Histogram::observe(double v) {
  if (std::isnan(v)) return;
  // the first bound >= v: bounds are inclusive upper limits
  const auto i = static_cast<std::size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.bounds = bounds_;
  s.cumulative.reserve(bounds_.size() + 1);
  uint64_t running = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(running);
  }
  s.count = running;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

void write_histogram(TextWriter& w, std::string_view name, const Labels& labels, const Histogram& h) {
  const Histogram::Snapshot s = h.snapshot();
  const std::string n(name);
  for (std::size_t i = 0; i < s.bounds.size(); ++i)
    w.sample(n + "_bucket", with_le(labels, s.bounds[i]), s.cumulative[i]);
  w.sample(n + "_bucket", with_le(labels, std::numeric_limits<double>::infinity()), s.count);
  w.sample(n + "_sum", labels, s.sum);
  w.sample(n + "_count", labels, s.count);
}

void Registry::check_new(const std::string& name, const std::vector<std::string>& label_names) const {
  LG_ASSERT(valid_metric_name(name), "metric names are ours and valid");
  LG_ASSERT(std::none_of(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.name == name; }),
            "each metric registered once");
  LG_ASSERT(std::all_of(label_names.begin(), label_names.end(),
                        [](const std::string& l) { return valid_label_name(l) && l != "le"; }),
            "label names valid, le reserved for buckets");
}

Counter& Registry::counter(const std::string& name, const std::string& help) {
  return counter_family(name, help, {}).with({});
}

Gauge& Registry::gauge(const std::string& name, const std::string& help) {
  std::lock_guard lock(m_);
  check_new(name, {});
  auto f = std::make_unique<Family<Gauge>>(std::vector<std::string>{}, [] { return std::make_unique<Gauge>(); });
  Family<Gauge>& ref = *f;
  entries_.push_back(Entry{name, help, std::move(f)});
  return ref.with({});
}

Histogram& Registry::histogram(const std::string& name, const std::string& help, const std::vector<double>& bounds) {
  return histogram_family(name, help, {}, bounds).with({});
}

Family<Counter>& Registry::counter_family(const std::string& name, const std::string& help,
                                          std::vector<std::string> label_names) {
  std::lock_guard lock(m_);
  check_new(name, label_names);
  auto f = std::make_unique<Family<Counter>>(std::move(label_names), [] { return std::make_unique<Counter>(); });
  Family<Counter>& ref = *f;
  entries_.push_back(Entry{name, help, std::move(f)});
  return ref;
}

Family<Histogram>& Registry::histogram_family(const std::string& name, const std::string& help,
                                              std::vector<std::string> label_names, const std::vector<double>& bounds) {
  std::lock_guard lock(m_);
  check_new(name, label_names);
  auto f = std::make_unique<Family<Histogram>>(std::move(label_names),
                                               [bounds] { return std::make_unique<Histogram>(bounds); });
  Family<Histogram>& ref = *f;
  entries_.push_back(Entry{name, help, std::move(f)});
  return ref;
}

void Registry::write(TextWriter& w) const {
  std::lock_guard lock(m_);
  for (const auto& e : entries_) {
    if (const auto* c = std::get_if<std::unique_ptr<Family<Counter>>>(&e.family)) {
      w.family(e.name, e.help, Type::counter);
      (*c)->each([&](const Labels& l, const Counter& x) { w.sample(e.name, l, x.value()); });
    } else if (const auto* g = std::get_if<std::unique_ptr<Family<Gauge>>>(&e.family)) {
      w.family(e.name, e.help, Type::gauge);
      (*g)->each([&](const Labels& l, const Gauge& x) { w.sample(e.name, l, x.value()); });
    } else if (const auto* h = std::get_if<std::unique_ptr<Family<Histogram>>>(&e.family)) {
      w.family(e.name, e.help, Type::histogram);
      (*h)->each([&](const Labels& l, const Histogram& x) { write_histogram(w, e.name, l, x); });
    }
  }
}

ServerMetrics::ServerMetrics()
    : db_seconds(registry.histogram_family(
          "labgate_db_transaction_seconds",
          "Time of one database unit of work of ingest, timed around the call (op: commit_batch for the commit of "
          "evt batches, one group of them per unit of work; apply_state for a state message), waiting for the "
          "write lock included.",
          {"op"}, latency_buckets())),
      ingest_failures(registry.counter(
          "labgate_ingest_failures_total",
          "evt and state messages not committed because the database failed (no ack; the terminal sends them "
          "again), since this process started.")),
      http_requests(registry.counter_family(
          "labgate_http_requests_total",
          "HTTP requests answered by the router since this process started, by status code.", {"code"})),
      http_seconds(registry.histogram(
          "labgate_http_request_duration_seconds",
          "Time of one routed HTTP request on a worker: the handler and its database calls.", latency_buckets())) {
  // children known in advance, so that their series exist from the first scrape
  db_seconds.with({"commit_batch"});
  db_seconds.with({"apply_state"});
}

TerminalCounts count_terminals(const std::vector<Terminal>& terminals, int64_t now_ms) {
  TerminalCounts c;
  for (const auto& t : terminals) {
    c.enrolled += 1;
    if (t.online && t.last_seen_ms && now_ms - *t.last_seen_ms <= kTerminalRecentMs) c.connected += 1;
  }
  return c;
}

std::string render(const ServerMetrics& m, const ScrapeState& s) {
  TextWriter w;
  w.family("labgate_build_info", "The running labgate-server's version (always 1).", Type::gauge);
  w.sample("labgate_build_info", {{"version", s.version}}, int64_t{1});

  w.family("labgate_mqtt_connected", "1 while the server is connected to the MQTT broker.", Type::gauge);
  w.sample("labgate_mqtt_connected", {}, int64_t{s.broker_connected ? 1 : 0});
  w.family("labgate_database_up", "1 when this scrape's database reads succeeded.", Type::gauge);
  w.sample("labgate_database_up", {}, int64_t{s.database_ok ? 1 : 0});

  w.family("labgate_ingest_queue_depth", "MQTT evt and state messages waiting for or in the ingest strand.",
           Type::gauge);
  w.sample("labgate_ingest_queue_depth", {}, s.ingest_queued);
  w.family("labgate_ingest_lag_seconds",
           "Age of the oldest message waiting for the ingest strand, 0 when none waits (what /api/health compares "
           "with health.max_ingest_lag_s).",
           Type::gauge);
  w.sample("labgate_ingest_lag_seconds", {}, static_cast<double>(s.ingest_lag_ms) / 1000.0);
  w.family("labgate_sync_dirty_pending",
           "1 while bundle changes are marked and wait for the sync strand to rebuild them.", Type::gauge);
  w.sample("labgate_sync_dirty_pending", {}, int64_t{s.dirty_pending ? 1 : 0});

  if (s.ingest) {
    const Stats& st = *s.ingest;
    const auto counter = [&](const char* name, const char* help, int64_t v) {
      w.family(name, help, Type::counter);
      w.sample(name, {}, v);
    };
    counter("labgate_ingest_batches_total", "evt batches committed (the database's counter, as /api/stats).",
            st.batches);
    counter("labgate_ingest_records_total",
            "Records stored from committed batches, duplicates not included (the database's counter).", st.records);
    counter("labgate_ingest_duplicates_total", "Records received again and skipped (the database's counter).",
            st.duplicates);
    counter("labgate_ingest_acks_total", "Acks published after a commit (the database's counter).", st.acks);
    w.family("labgate_ingest_rejections_total",
             "Messages and records refused, by reason (the database's counters, as /api/stats): envelope checks "
             "(malformed, bad_signature, ...) and record rules (resource_mismatch, bad_duration, seq_conflict, ...).",
             Type::counter);
    for (const auto& [reason, n] : st.rejected) w.sample("labgate_ingest_rejections_total", {{"reason", reason}}, n);
  }
  if (s.terminals) {
    w.family("labgate_terminals_enrolled", "Terminals enrolled on this server.", Type::gauge);
    w.sample("labgate_terminals_enrolled", {}, s.terminals->enrolled);
    w.family("labgate_terminals_connected",
             "Terminals whose last state said online and that were heard within the last " +
                 std::to_string(kTerminalRecentMs / 1000) + " s.",
             Type::gauge);
    w.sample("labgate_terminals_connected", {}, s.terminals->connected);
  }
  m.registry.write(w);
  return w.text();
}

}  // namespace lg::server::metrics
