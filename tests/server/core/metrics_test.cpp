#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "server/core/app.hpp"
#include "server/core/metrics.hpp"
#include "tests/server/test_support.hpp"

using namespace lg;
using namespace lg::server;
using namespace lg::server::test;
namespace m = lg::server::metrics;

namespace {

/// One sample line of the text format, parsed.
struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;  ///< values unescaped
  std::string value;
};

/// A strict reader of the text format 0.0.4 as this server writes it: every line is a HELP, a
/// TYPE or a sample; HELP and TYPE come once per family, before its samples; a sample belongs to
/// the family last typed (histograms: _bucket, _sum, _count); label values are quoted with only
/// \\, \" and \n escaped. Fails the test on anything else.
struct Parsed {
  std::map<std::string, std::string> types;  ///< family -> type
  std::vector<Sample> samples;

  /// The value of name{labels}; fails when there is no such sample.
  double value(const std::string& name, const std::map<std::string, std::string>& labels = {}) const {
    for (const auto& s : samples) {
      if (s.name == name && s.labels == labels) return s.value == "+Inf" ? INFINITY : std::stod(s.value);
    }
    FAIL("no sample " << name);
    return 0;
  }
  bool has(const std::string& name, const std::map<std::string, std::string>& labels = {}) const {
    for (const auto& s : samples) {
      if (s.name == name && s.labels == labels) return true;
    }
    return false;
  }
};

bool metric_name(const std::string& n) { return m::valid_metric_name(n); }

Parsed parse(const std::string& text) {
  Parsed p;
  REQUIRE(!text.empty());
  REQUIRE(text.back() == '\n');
  std::istringstream in(text);
  std::string line;
  std::string family;
  std::set<std::string> helped;
  while (std::getline(in, line)) {
    INFO("line: " << line);
    REQUIRE(!line.empty());
    if (line.rfind("# HELP ", 0) == 0) {
      const std::string rest = line.substr(7);
      const std::string name = rest.substr(0, rest.find(' '));
      REQUIRE(metric_name(name));
      REQUIRE(helped.insert(name).second);
      continue;
    }
    if (line.rfind("# TYPE ", 0) == 0) {
      std::istringstream f(line.substr(7));
      std::string name, type, extra;
      f >> name >> type;
      REQUIRE_FALSE(static_cast<bool>(f >> extra));
      REQUIRE(metric_name(name));
      REQUIRE((type == "counter" || type == "gauge" || type == "histogram"));
      REQUIRE(p.types.emplace(name, type).second);  // once per family
      family = name;
      continue;
    }
    REQUIRE(line[0] != '#');
    Sample s;
    std::size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    s.name = line.substr(0, i);
    REQUIRE(metric_name(s.name));
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (line.at(i) != '}') {
        const std::size_t eq = line.find('=', i);
        REQUIRE(eq != std::string::npos);
        const std::string key = line.substr(i, eq - i);
        REQUIRE(m::valid_label_name(key));
        REQUIRE(line.at(eq + 1) == '"');
        std::string value;
        std::size_t j = eq + 2;
        for (; line.at(j) != '"'; ++j) {
          if (line[j] == '\\') {
            const char e = line.at(++j);
            REQUIRE((e == '\\' || e == '"' || e == 'n'));
            value += e == 'n' ? '\n' : e;
          } else {
            value += line[j];
          }
        }
        REQUIRE(s.labels.emplace(key, value).second);
        i = j + 1;
        if (line.at(i) == ',') ++i;
      }
      ++i;
    }
    REQUIRE(line.at(i) == ' ');
    s.value = line.substr(i + 1);
    REQUIRE(s.value.find(' ') == std::string::npos);  // no timestamps
    if (s.value != "+Inf" && s.value != "-Inf" && s.value != "NaN") {
      std::size_t used = 0;
      (void)std::stod(s.value, &used);
      REQUIRE(used == s.value.size());
    }
    // the sample belongs to the family typed last
    REQUIRE(!family.empty());
    const std::string& type = p.types.at(family);
    if (type == "histogram") {
      REQUIRE((s.name == family + "_bucket" || s.name == family + "_sum" || s.name == family + "_count"));
      if (s.name == family + "_bucket") REQUIRE(s.labels.count("le") == 1);
    } else {
      REQUIRE(s.name == family);
    }
    p.samples.push_back(std::move(s));
  }
  for (const auto& [name, type] : p.types) REQUIRE(helped.count(name) == 1);
  return p;
}

struct AppFixture {
  TempDir dir;
  std::unique_ptr<TestStore> store = open_store(dir);
  crypto::PrivateKey server_key = new_key();
  crypto::PrivateKey term_key = new_key();
  RecordingPublisher pub;
  ServerConfig cfg = [] {
    ServerConfig c;
    c.site = "demo";
    c.admin_token = "t";
    return c;
  }();
  int64_t now = ms("2026-01-15T00:00:00Z");
  App app{store->stores(), server_key, cfg, pub, [this] { return now; }, "1.2.3"};

  AppFixture() {
    seed(*store);
    REQUIRE(store->add_terminal(terminal("t1", "inst-xrd", term_key.public_pem()), 0));
  }

  http::Response scrape() { return app.handle_http(http::make_request("GET", "/metrics", "", "")); }

  std::string content_type(const http::Response& r) {
    for (const auto& [k, v] : r.headers) {
      if (k == "Content-Type") return v;
    }
    return "";
  }
};

}  // namespace

TEST_CASE("format_value spells values as the text format does") {
  CHECK(m::format_value(0) == "0");
  CHECK(m::format_value(3) == "3");
  CHECK(m::format_value(-2) == "-2");
  CHECK(m::format_value(0.25) == "0.25");
  CHECK(m::format_value(0.0005) == "0.0005");
  CHECK(m::format_value(std::numeric_limits<double>::infinity()) == "+Inf");
  CHECK(m::format_value(-std::numeric_limits<double>::infinity()) == "-Inf");
  CHECK(m::format_value(std::nan("")) == "NaN");
  CHECK(std::stod(m::format_value(1e-9)) == 1e-9);
  CHECK(std::stod(m::format_value(1e300)) == 1e300);
}

TEST_CASE("label values and help text are escaped") {
  CHECK(m::escape_label_value(R"(a\b)") == R"(a\\b)");
  CHECK(m::escape_label_value("say \"hi\"") == R"(say \"hi\")");
  CHECK(m::escape_label_value("two\nlines") == R"(two\nlines)");
  CHECK(m::escape_label_value("tab\tstays") == "tab\tstays");
  CHECK(m::escape_label_value("实验室") == "实验室");                      // valid UTF-8 is kept
  CHECK(m::escape_label_value("bad\xff") == "bad\xEF\xBF\xBD");            // invalid byte -> U+FFFD
  CHECK(m::escape_label_value("\xE5\xAE") == "\xEF\xBF\xBD\xEF\xBF\xBD");  // truncated sequence
  CHECK(m::escape_label_value("\xC0\xAF") == "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong
  // HELP escapes backslash and line feed but leaves quotes alone
  CHECK(m::escape_help("a \"b\"\\\nc") == "a \"b\"\\\\\\nc");

  m::TextWriter w;
  w.family("x_total", "Help with \\ and\nnewline.", m::Type::counter);
  w.sample("x_total", {{"reason", "a\"b\\c\nd"}, {"code", "200"}}, uint64_t{7});
  CHECK(w.text() ==
        "# HELP x_total Help with \\\\ and\\nnewline.\n"
        "# TYPE x_total counter\n"
        "x_total{reason=\"a\\\"b\\\\c\\nd\",code=\"200\"} 7\n");
  auto p = parse(w.text());
  CHECK(p.samples.at(0).labels.at("reason") == "a\"b\\c\nd");  // reads back to the original
}

TEST_CASE("metric and label names are checked") {
  CHECK(m::valid_metric_name("labgate_ingest_records_total"));
  CHECK(m::valid_metric_name("a:b_c1"));
  CHECK_FALSE(m::valid_metric_name("1abc"));
  CHECK_FALSE(m::valid_metric_name("a-b"));
  CHECK_FALSE(m::valid_metric_name(""));
  CHECK(m::valid_label_name("reason"));
  CHECK_FALSE(m::valid_label_name("a:b"));
  CHECK_FALSE(m::valid_label_name("__name__"));
}

TEST_CASE("histogram buckets are cumulative, inclusive and end with +Inf equal to the count") {
  m::Histogram h({0.1, 0.5, 1});
  h.observe(0.05);
  h.observe(0.1);  // on a bound: counted in that bucket (le means <=)
  h.observe(0.3);
  h.observe(2);             // above every bound: only +Inf
  h.observe(std::nan(""));  // ignored
  auto s = h.snapshot();
  CHECK(s.cumulative == std::vector<uint64_t>{2, 3, 3, 4});
  CHECK(s.count == 4);
  CHECK(s.sum == doctest::Approx(2.45));

  m::TextWriter w;
  w.family("lat_seconds", "Latency.", m::Type::histogram);
  m::write_histogram(w, "lat_seconds", {{"op", "x"}}, h);
  CHECK(w.text() ==
        "# HELP lat_seconds Latency.\n"
        "# TYPE lat_seconds histogram\n"
        "lat_seconds_bucket{op=\"x\",le=\"0.1\"} 2\n"
        "lat_seconds_bucket{op=\"x\",le=\"0.5\"} 3\n"
        "lat_seconds_bucket{op=\"x\",le=\"1\"} 3\n"
        "lat_seconds_bucket{op=\"x\",le=\"+Inf\"} 4\n"
        "lat_seconds_sum{op=\"x\"} 2.45\n"
        "lat_seconds_count{op=\"x\"} 4\n");
  parse(w.text());
}

TEST_CASE("the registry writes its metrics in order, children by label values") {
  m::Registry r;
  auto& c = r.counter("a_total", "A.");
  auto& fam = r.counter_family("b_total", "B.", {"code"});
  auto& g = r.gauge("c", "C.");
  r.counter_family("d_total", "D, nothing yet.", {"reason"});
  auto& hf = r.histogram_family("e_seconds", "E.", {"op"}, {1, 2});
  c.inc();
  c.inc(2);
  fam.with({"500"}).inc();
  fam.with({"200"}).inc(4);
  g.set(2.5);
  g.add(-1);
  hf.with({"w"}).observe(1.5);
  m::TextWriter w;
  r.write(w);
  CHECK(w.text() ==
        "# HELP a_total A.\n# TYPE a_total counter\na_total 3\n"
        "# HELP b_total B.\n# TYPE b_total counter\nb_total{code=\"200\"} 4\nb_total{code=\"500\"} 1\n"
        "# HELP c C.\n# TYPE c gauge\nc 1.5\n"
        "# HELP d_total D, nothing yet.\n# TYPE d_total counter\n"
        "# HELP e_seconds E.\n# TYPE e_seconds histogram\n"
        "e_seconds_bucket{op=\"w\",le=\"1\"} 0\ne_seconds_bucket{op=\"w\",le=\"2\"} 1\n"
        "e_seconds_bucket{op=\"w\",le=\"+Inf\"} 1\ne_seconds_sum{op=\"w\"} 1.5\ne_seconds_count{op=\"w\"} 1\n");
  parse(w.text());
  CHECK(&fam.with({"200"}) == &fam.with({"200"}));  // the same child every time
}

TEST_CASE("a terminal is connected while its last state says online and it was heard recently") {
  const int64_t now = 1'000'000'000;
  auto t = [](bool online, std::optional<int64_t> seen) {
    Terminal x;
    x.online = online;
    x.last_seen_ms = seen;
    return x;
  };
  auto c = m::count_terminals({t(true, now - 1000), t(true, now - m::kTerminalRecentMs),
                               t(true, now - m::kTerminalRecentMs - 1), t(false, now), t(true, std::nullopt)},
                              now);
  CHECK(c.enrolled == 5);
  CHECK(c.connected == 2);
}

TEST_CASE("GET /metrics answers the text format without a token, and counts move with ingest") {
  AppFixture f;
  auto r = f.scrape();
  REQUIRE(r.status == 200);
  CHECK(f.content_type(r) == "text/plain; version=0.0.4; charset=utf-8");
  auto before = parse(r.body);
  CHECK(before.types.at("labgate_ingest_records_total") == "counter");
  CHECK(before.types.at("labgate_db_transaction_seconds") == "histogram");
  CHECK(before.value("labgate_ingest_records_total") == 0);
  CHECK(before.value("labgate_build_info", {{"version", "1.2.3"}}) == 1);
  CHECK(before.value("labgate_database_up") == 1);
  CHECK(before.value("labgate_terminals_enrolled") == 1);
  CHECK(before.value("labgate_terminals_connected") == 0);  // no state heard yet
  CHECK(before.value("labgate_db_transaction_seconds_count", {{"op", "commit_batch"}}) == 0);
  CHECK(before.value("labgate_ingest_queue_depth") == 0);
  CHECK(before.value("labgate_ingest_lag_seconds") == 0);

  // a batch of two records, one of them again (duplicate), a malformed payload, a state
  f.app.on_mqtt_message("lg/v1/demo/t1/evt",
                        sealed(batch("t1", {access(1, "r1", "04AA"), access(2, "r2", "04BB")}), f.term_key, "t1"));
  f.app.on_mqtt_message("lg/v1/demo/t1/evt", sealed(batch("t1", {access(2, "r2", "04BB")}), f.term_key, "t1"));
  f.app.on_mqtt_message("lg/v1/demo/t1/evt", "hello, broker");
  proto::State st;
  st.terminal = "t1";
  st.online = true;
  st.boot = 1;
  st.acl_version = 0;
  st.resource = "inst-xrd";
  f.app.on_mqtt_message("lg/v1/demo/t1/state", *proto::seal(proto::encode(st), "t1", f.term_key));
  f.app.dirty().mark("inst-xrd");

  r = f.scrape();
  REQUIRE(r.status == 200);
  auto after = parse(r.body);
  CHECK(after.value("labgate_ingest_batches_total") == 2);
  CHECK(after.value("labgate_ingest_records_total") == 2);
  CHECK(after.value("labgate_ingest_duplicates_total") == 1);
  CHECK(after.value("labgate_ingest_acks_total") == 2);
  CHECK(after.value("labgate_ingest_rejections_total", {{"reason", "malformed"}}) == 1);
  CHECK(after.value("labgate_db_transaction_seconds_count", {{"op", "commit_batch"}}) == 2);
  CHECK(after.value("labgate_db_transaction_seconds_bucket", {{"op", "commit_batch"}, {"le", "+Inf"}}) == 2);
  CHECK(after.value("labgate_db_transaction_seconds_count", {{"op", "apply_state"}}) == 1);
  CHECK(after.value("labgate_ingest_failures_total") == 0);
  CHECK(after.value("labgate_terminals_connected") == 1);
  CHECK(after.value("labgate_sync_dirty_pending") == 1);
  CHECK(after.value("labgate_http_requests_total", {{"code", "200"}}) == 1);  // the first scrape
  CHECK(after.value("labgate_http_request_duration_seconds_count") == 1);
  // the same numbers as /api/stats
  auto stats = nlohmann::json::parse(f.app.handle_http(http::make_request("GET", "/api/stats", "Bearer t", "")).body);
  CHECK(stats.at("ingest").at("records").get<int64_t>() == 2);
  CHECK(stats.at("rejected").at("malformed").get<int64_t>() == 1);

  // no card UID, user or terminal id is in it: counts only
  for (const char* secret : {"04AA", "04BB", "alice", "bob", "t1", "r1"}) {
    INFO(secret);
    CHECK(r.body.find(secret) == std::string::npos);
  }

  // the terminal goes quiet: not connected once its last state is older than the window
  f.now += m::kTerminalRecentMs + 1;
  CHECK(parse(f.scrape().body).value("labgate_terminals_connected") == 0);
}

TEST_CASE("a failed commit counts as an ingest failure, and /metrics is GET only") {
  AppFixture f;
  if (f.store->sqlite()) {
    REQUIRE(f.store->exec(
        "CREATE TRIGGER fail_access BEFORE INSERT ON access_events BEGIN SELECT RAISE(ABORT, 'disk on fire'); END;"));
  } else {
    REQUIRE(f.store->exec(
        "CREATE FUNCTION disk_on_fire() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'disk on fire'; "
        "END $$; CREATE TRIGGER fail_access BEFORE INSERT ON access_events FOR EACH ROW EXECUTE FUNCTION "
        "disk_on_fire();"));
  }
  f.app.on_mqtt_message("lg/v1/demo/t1/evt", sealed(batch("t1", {access(1, "r1", "04AA")}), f.term_key, "t1"));
  auto p = parse(f.scrape().body);
  CHECK(p.value("labgate_ingest_failures_total") == 1);
  CHECK(p.value("labgate_db_transaction_seconds_count", {{"op", "commit_batch"}}) == 1);  // timed all the same
  CHECK(f.app.handle_http(http::make_request("POST", "/metrics", "", "")).status == 405);
  CHECK(p.value("labgate_database_up") == 1);  // the reads /metrics makes still work
}
