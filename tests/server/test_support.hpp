// Shared fixtures for the server's unit tests: a temp data dir with a migrated store,
// keys, record builders and a publisher that records what would go out.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "labgate/common/crypto.hpp"
#include "labgate/common/protocol.hpp"
#include "labgate/common/time.hpp"
#include "server/booking/service.hpp"
#include "server/core/errors.hpp"
#include "server/core/pg_backend.hpp"
#include "server/core/sqlite_backend.hpp"
#include "server/sync/publisher.hpp"
#include "server/sync/service.hpp"
#include "server/usage/service.hpp"

namespace lg::server::test {

/// True when the store tests run on PostgreSQL (LABGATE_TEST_STORE=postgres, set by ctest for
/// the pg.* copies of these tests; the cluster is tests/CMakeLists.txt's pg fixture).
inline bool on_postgres() {
  const char* s = std::getenv("LABGATE_TEST_STORE");
  return s && std::string_view(s) == "postgres";
}

/// The test cluster's conninfo (LABGATE_TEST_PG_DIR/conninfo, written by tools/pg_cluster).
inline std::string pg_conninfo() {
  const char* dir = std::getenv("LABGATE_TEST_PG_DIR");
  if (!dir) throw std::runtime_error("LABGATE_TEST_PG_DIR is not set (run through ctest: the pg fixture)");
  std::ifstream in(std::filesystem::path(dir) / "conninfo");
  std::string line;
  if (!std::getline(in, line) || line.empty()) {
    throw std::runtime_error(std::string("no conninfo in ") + dir + " (is the pg fixture running?)");
  }
  return line;
}

/// A fresh place for one test's data, removed at the end of the test: a directory and, on
/// PostgreSQL, a schema of its own in the test cluster's database.
struct TempDir {
  std::filesystem::path path;
  std::string id = crypto::uuid4();
  TempDir() {
    path = std::filesystem::temp_directory_path() / ("lg-server-test-" + id);
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
    if (on_postgres()) {
      if (auto c = pg::Conn::connect(pg::ConnectOptions{pg_conninfo(), "", "labgate-test"})) {
        (void)(*c)->script("DROP SCHEMA IF EXISTS " + schema() + " CASCADE");
      }
    }
  }
  std::string db() const { return (path / "labgate.db").string(); }
  /// The PostgreSQL schema of this test ("t_" and the id's hex digits).
  std::string schema() const {
    std::string out = "t_";
    for (char c : id) {
      if (c != '-') out += c;
    }
    return out;
  }
};

/// Records every publish; can be told to fail.
struct RecordingPublisher final : Publisher {
  struct Msg {
    std::string topic;
    std::string payload;
    int qos;
    bool retained;
  };
  std::vector<Msg> sent;
  bool fail = false;
  Status publish(const std::string& topic, const std::string& payload, int qos, bool retained) override {
    if (fail) return Error::invalid("not connected");
    sent.push_back(Msg{topic, payload, qos, retained});
    return {};
  }
  std::vector<Msg> on(const std::string& topic) const {
    std::vector<Msg> out;
    for (const auto& m : sent) {
      if (m.topic == topic) out.push_back(m);
    }
    return out;
  }
};

inline int64_t ms(const char* rfc3339) { return *time::parse_utc(rfc3339); }

/// The stores of one backend behind the calls the tests make, written against the store
/// interfaces and services only (Stores): the same test files run on any backend that provides
/// a Stores. Each call is what the app does for it (a booking goes through booking::Service, a
/// batch through usage::Service).
class TestStore {
 public:
  explicit TestStore(std::unique_ptr<Backend> be) : be_(std::move(be)), s_(be_->stores()) {}

  Stores stores() const { return s_; }
  bool sqlite() const { return be_->kind() == "sqlite"; }
  /// The SQLite connection of this thread (SQLite only).
  db::Database& database() {
    auto* b = dynamic_cast<SqliteBackend*>(be_.get());
    if (!b) throw std::runtime_error("database(): this store is not on SQLite");
    return b->db().conn();
  }
  /// Runs SQL directly (bypassing the stores) on whichever backend this is: for tests that
  /// break things on purpose or check what the stores wrote. The SQL must suit the backend.
  Status exec(const std::string& sql) {
    if (auto* b = dynamic_cast<PgBackend*>(be_.get())) return b->db().conn().script(sql);
    return database().exec(sql);
  }
  /// The integer in the first column of the first row of sql (-1 when there is no row).
  Result<int64_t> scalar(const std::string& sql) {
    if (auto* b = dynamic_cast<PgBackend*>(be_.get())) {
      auto r = b->db().conn().exec(sql);
      if (!r) return r.error();
      return r->empty() || r->null(0, 0) ? int64_t{-1} : r->i64(0, 0);
    }
    auto v = database().query_int(sql);
    if (!v) return v.error();
    return v->value_or(-1);
  }

  Status add_unit(const Unit& u, int64_t now) { return s_.directory.add_unit(u, now); }
  Status add_lab(const Lab& l, int64_t now) { return s_.directory.add_lab(l, now); }
  Status add_instrument(const Instrument& i, int64_t now) { return s_.directory.add_instrument(i, now); }
  Result<Instrument> update_instrument_policy(const std::string& id, const InstrumentPolicyPatch& p, int64_t now) {
    return s_.directory.update_instrument_policy(id, p, now);
  }
  Status put_fee_standard(const FeeStandard& f, int64_t now) { return s_.billing.put_fee_standard(f, now); }
  Status add_user(const User& u, int64_t now) { return s_.directory.add_user(u, now); }
  Status add_card(const Card& c, int64_t now) { return s_.directory.add_card(c, now); }
  Status put_qualification(const Qualification& q, int64_t now) { return s_.qualification.put(q, now); }
  Result<BookingOutcome> create_booking(const Booking& b, int64_t now) {
    return booking::Service(s_.uow, s_.booking, s_.directory, s_.qualification).create(b, now);
  }
  Status add_terminal(const Terminal& t, int64_t now) { return s_.terminals.add(t, now); }

  Result<PageOf<Unit>> units(const Page& p) { return s_.directory.units(p); }
  Result<PageOf<Lab>> labs(const Page& p) { return s_.directory.labs(p); }
  Result<PageOf<Instrument>> instruments(const Page& p) { return s_.directory.instruments(p); }
  Result<PageOf<FeeStandard>> fee_standards(const Page& p) { return s_.billing.fee_standards(p); }
  Result<PageOf<User>> users(const Page& p) { return s_.directory.users(p); }
  Result<PageOf<Card>> cards(const Page& p) { return s_.directory.cards(p); }
  Result<PageOf<Qualification>> qualifications(const Page& p) { return s_.qualification.list(p); }
  Result<PageOf<Booking>> bookings(const Page& p) { return s_.booking.list(p); }
  Result<PageOf<Terminal>> terminals(const Page& p) { return s_.terminals.list(p); }
  Result<std::vector<Terminal>> terminals() { return s_.terminals.all(); }
  Result<std::optional<Terminal>> terminal(const std::string& id) { return s_.terminals.get(id); }

  Result<sync::Inputs> sync_inputs(const Terminal& t, int64_t now) { return s_.sync.inputs(t, now); }
  Result<sync::StoredSync> stored_sync(const std::string& t) { return s_.sync.stored(t); }
  Status save_sync(const std::string& t, const sync::StoredSync& v) { return s_.sync.save(t, v); }

  Result<IngestOutcome> commit_batch(const proto::EventBatch& b, int64_t now, const std::string& currency) {
    return usage::Service(usage::BatchStores{s_.uow, s_.usage, s_.terminals, s_.directory, s_.billing}, currency)
        .commit_batch(b, now);
  }
  Result<StateOutcome> apply_state(const StateUpdate& u) { return s_.terminals.apply_state(u); }
  Status count_rejection(const std::string& reason) { return s_.usage.count_rejection(reason, 1); }
  Status count_ack() { return s_.usage.count("acks", 1); }
  Result<Stats> stats() { return s_.usage.stats(); }

  Result<PageOf<AccessEvent>> access_events(const AccessFilter& f) { return s_.usage.access_events(f); }
  Result<PageOf<UsageSession>> sessions(const SessionFilter& f) { return s_.usage.sessions(f); }
  Result<PageOf<Charge>> charges(int64_t from, int64_t to, const Page& p = {}) { return s_.billing.charges(from, to, p); }
  Result<std::vector<report::GroupSum>> usage_groups(report::GroupBy by, int64_t from, int64_t to) {
    return s_.reports.usage_groups(by, from, to);
  }
  Result<report::GroupSum> usage_total(int64_t from, int64_t to) { return s_.reports.usage_total(from, to); }

 private:
  std::unique_ptr<Backend> be_;
  Stores s_;
};

/// The sync service over a test store.
inline SyncService make_sync(TestStore& st, const crypto::PrivateKey& key, const std::string& site, Publisher& pub) {
  const Stores s = st.stores();
  return SyncService(s.uow, s.sync, s.terminals, s.usage, key, site, pub);
}

/// Opens the migrated store of dir on the backend under test (SQLite: dir's file; PostgreSQL:
/// dir's schema), failing the test on error. Opening the same dir again reaches the same data.
inline std::unique_ptr<TestStore> open_store(const TempDir& dir, std::size_t connections = 1) {
  StoreSettings st;
  if (on_postgres()) {
    st.kind = "postgres";
    st.conninfo = pg_conninfo();
    st.schema = dir.schema();
  } else {
    st.sqlite_path = dir.db();
  }
  st.connections = connections;
  auto s = open_backend(st);
  if (!s) throw std::runtime_error(s.error().message());
  return std::make_unique<TestStore>(std::move(s).value());
}

/// A small directory: unit u, lab l, instrument inst-xrd (fee 12000/30000 fen per hour),
/// door door-1, users alice (internal_student), bob (external_academic), root (internal_staff, admin),
/// carol (internal_staff, no card),
/// cards 04AA->alice, 04BB->bob, 04CC->root.
inline void seed(TestStore& s, int64_t now = 1'700'000'000'000) {
  auto must = [](Status st) {
    if (!st) throw std::runtime_error(st.error().message());
  };
  must(s.add_unit(Unit{"u", "Physics", ""}, now));
  must(s.add_lab(Lab{"l", "XRD lab", "u"}, now));
  must(s.add_instrument(Instrument{"inst-xrd", "XRD", "l", InstrumentKind::instrument, "A-1", true}, now));
  must(s.add_instrument(Instrument{"door-1", "Door 1", "l", InstrumentKind::door, "", false}, now));
  must(s.put_fee_standard(FeeStandard{"inst-xrd", 12000, 30000, "CNY"}, now));
  must(s.add_user(User{"alice", "Alice", UserCategory::internal_student, "u", false}, now));
  must(s.add_user(User{"bob", "Bob", UserCategory::external_academic, "", false}, now));
  must(s.add_user(User{"root", "Root", UserCategory::internal_staff, "", true}, now));
  must(s.add_user(User{"carol", "Carol", UserCategory::internal_staff, "", false}, now));
  must(s.add_card(Card{"04AA", "alice", true}, now));
  must(s.add_card(Card{"04BB", "bob", true}, now));
  must(s.add_card(Card{"04CC", "root", true}, now));
}

/// A terminal to enrol.
inline Terminal terminal(std::string id, std::string resource, std::string pem) {
  Terminal t;
  t.id = std::move(id);
  t.resource = std::move(resource);
  t.public_key = std::move(pem);
  return t;
}

inline proto::Record access(uint64_t seq, std::string id, std::string card, std::string user = "",
                            proto::Decision d = proto::Decision::granted) {
  proto::Record r;
  r.seq = seq;
  r.id = std::move(id);
  r.ts_ms = 1'767'225'600'000;  // 2026-01-01T00:00:00Z
  r.clock_synced = true;
  proto::Access a;
  a.card = std::move(card);
  a.user = std::move(user);
  a.resource = "inst-xrd";
  a.output = "power";
  a.decision = d;
  a.reason = d == proto::Decision::granted ? proto::Reason::qualified : proto::Reason::unknown_card;
  r.body = a;
  return r;
}

inline proto::Record session_start(uint64_t seq, std::string id, std::string session, std::string card,
                                   std::string user, int64_t start_ms, std::string resource = "inst-xrd") {
  proto::Record r;
  r.seq = seq;
  r.id = std::move(id);
  r.ts_ms = start_ms;
  r.clock_synced = true;
  proto::SessionStart s;
  s.session = std::move(session);
  s.card = std::move(card);
  s.user = std::move(user);
  s.resource = std::move(resource);
  r.body = s;
  return r;
}

inline proto::Record session_end(uint64_t seq, std::string id, std::string session, std::string card,
                                 std::string user, int64_t start_ms, int64_t duration_ms,
                                 std::string resource = "inst-xrd") {
  proto::Record r;
  r.seq = seq;
  r.id = std::move(id);
  r.ts_ms = start_ms + duration_ms;
  r.clock_synced = true;
  proto::SessionEnd e;
  e.session = std::move(session);
  e.card = std::move(card);
  e.user = std::move(user);
  e.resource = std::move(resource);
  e.start_ms = start_ms;
  e.end_ms = start_ms + duration_ms;
  e.duration_ms = duration_ms;
  e.end_reason = proto::EndReason::swipe_out;
  r.body = e;
  return r;
}

inline proto::EventBatch batch(const std::string& terminal, std::vector<proto::Record> records) {
  proto::EventBatch b;
  b.terminal = terminal;
  b.boot = 1;
  b.records = std::move(records);
  return b;
}

/// The sealed wire form of a batch signed by key with kid.
inline std::string sealed(const proto::EventBatch& b, const crypto::PrivateKey& key, const std::string& kid) {
  auto w = proto::seal(proto::encode(b), kid, key);
  if (!w) throw std::runtime_error(w.error().message());
  return *w;
}

inline crypto::PrivateKey new_key() {
  auto k = crypto::PrivateKey::generate();
  if (!k) throw std::runtime_error(k.error().message());
  return std::move(k).value();
}

}  // namespace lg::server::test
