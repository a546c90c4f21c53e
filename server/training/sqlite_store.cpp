#include "server/training/sqlite_store.hpp"

#include <array>
#include <functional>

#include "server/core/sqlite_util.hpp"
#include "server/qualification/rules.hpp"
#include "server/training/rules.hpp"

namespace lg::server::training {

using namespace sqlite;

namespace {

// The rules (training::enrol, promotions, result) decide; the constraints only keep the stored
// names to the known ones, one enrolment per (session, user) and one seq per session.
constexpr std::string_view kV1 = R"sql(
CREATE TABLE training_courses (
  id TEXT PRIMARY KEY,
  title TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('safety', 'instrument')),
  unit TEXT NOT NULL DEFAULT '',
  level TEXT NOT NULL CHECK (level IN ('supervised', 'independent', 'after_hours')),
  validity_months INTEGER NOT NULL CHECK (validity_months >= 0),
  assessment TEXT NOT NULL CHECK (assessment IN ('exam', 'sign_off')),
  pass_mark INTEGER NOT NULL CHECK (pass_mark BETWEEN 0 AND 100),
  created_ms INTEGER NOT NULL
);
CREATE TABLE training_course_instruments (
  course TEXT NOT NULL REFERENCES training_courses(id),
  n INTEGER NOT NULL,
  instrument TEXT NOT NULL REFERENCES instruments(id),
  PRIMARY KEY (course, n),
  UNIQUE (course, instrument)
);
CREATE TABLE training_course_prerequisites (
  course TEXT NOT NULL REFERENCES training_courses(id),
  n INTEGER NOT NULL,
  prerequisite TEXT NOT NULL REFERENCES training_courses(id),
  PRIMARY KEY (course, n),
  UNIQUE (course, prerequisite)
);
CREATE TABLE training_sessions (
  id TEXT PRIMARY KEY,
  course TEXT NOT NULL REFERENCES training_courses(id),
  start_ms INTEGER NOT NULL,
  end_ms INTEGER NOT NULL,
  location TEXT NOT NULL DEFAULT '',
  trainer TEXT NOT NULL DEFAULT '',
  capacity INTEGER NOT NULL CHECK (capacity > 0),
  cancelled INTEGER NOT NULL DEFAULT 0 CHECK (cancelled IN (0, 1)),
  created_ms INTEGER NOT NULL,
  CHECK (end_ms > start_ms)
);
CREATE INDEX training_sessions_by_course ON training_sessions(course, start_ms);
CREATE INDEX training_sessions_by_start ON training_sessions(start_ms);
CREATE TABLE training_enrolments (
  session TEXT NOT NULL REFERENCES training_sessions(id),
  user TEXT NOT NULL REFERENCES users(id),
  state TEXT NOT NULL CHECK (state IN ('enrolled', 'waitlisted', 'cancelled')),
  seq INTEGER NOT NULL CHECK (seq > 0),
  attendance TEXT NOT NULL DEFAULT 'unknown' CHECK (attendance IN ('unknown', 'attended', 'absent')),
  score INTEGER CHECK (score BETWEEN 0 AND 100),
  signed_off INTEGER NOT NULL DEFAULT 0 CHECK (signed_off IN (0, 1)),
  passed INTEGER CHECK (passed IN (0, 1)),
  by_actor TEXT NOT NULL DEFAULT '',
  enrolled_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL,
  PRIMARY KEY (session, user),
  UNIQUE (session, seq)
);
CREATE INDEX training_enrolments_by_user ON training_enrolments(user, enrolled_ms);
CREATE TABLE training_records (
  user TEXT NOT NULL REFERENCES users(id),
  course TEXT NOT NULL REFERENCES training_courses(id),
  session TEXT NOT NULL,
  passed_ms INTEGER NOT NULL,
  valid_until_ms INTEGER,
  PRIMARY KEY (user, course)
);
)sql";

constexpr std::array<db::Migration, 1> kMigrations{
    {{1, "training courses, sessions, enrolments with a waitlist, training records", kV1}}};

constexpr std::string_view kCourseCols =
    "id, title, kind, unit, level, validity_months, assessment, pass_mark, created_ms";

Course course_row(db::Statement& r) {
  Course c;
  c.id = r.column_text(0);
  c.title = r.column_text(1);
  c.kind = course_kind_from(r.column_text(2)).value_or(CourseKind::instrument);
  c.unit = r.column_text(3);
  c.level = qualification::level_from(r.column_text(4)).value_or(QualificationLevel::supervised);
  c.validity_months = r.column_int64(5);
  c.assessment = assessment_from(r.column_text(6)).value_or(Assessment::exam);
  c.pass_mark = r.column_int64(7);
  c.created_ms = r.column_int64(8);
  return c;
}

constexpr std::string_view kSessionCols =
    "id, course, start_ms, end_ms, location, trainer, capacity, cancelled, created_ms";

Session session_row(db::Statement& r) {
  return Session{r.column_text(0), r.column_text(1),  r.column_int64(2),      r.column_int64(3), r.column_text(4),
                 r.column_text(5), r.column_int64(6), r.column_int64(7) != 0, r.column_int64(8)};
}

constexpr std::string_view kEnrolmentCols =
    "session, user, state, seq, attendance, score, signed_off, passed, by_actor, enrolled_ms, updated_ms";

Enrolment enrolment_row(db::Statement& r) {
  Enrolment e;
  e.session = r.column_text(0);
  e.user = r.column_text(1);
  e.state = enrolment_state_from(r.column_text(2)).value_or(EnrolmentState::cancelled);
  e.seq = r.column_int64(3);
  e.attendance = attendance_from(r.column_text(4)).value_or(Attendance::unknown);
  e.score = opt_int(r, 5);
  e.signed_off = r.column_int64(6) != 0;
  if (auto p = opt_int(r, 7)) e.passed = *p != 0;
  e.by = r.column_text(8);
  e.enrolled_ms = r.column_int64(9);
  e.updated_ms = r.column_int64(10);
  return e;
}

Result<std::vector<Session>> read_sessions(db::Database& d, const std::string& sql,
                                           const std::function<void(db::Statement&)>& bind) {
  auto q = d.prepare(sql);
  if (!q) return q.error();
  bind(*q);
  std::vector<Session> out;
  LG_TRY(each_row(*q, [&](db::Statement& r) { out.push_back(session_row(r)); }));
  return out;
}

Result<std::vector<Enrolment>> read_enrolments(db::Database& d, const std::string& sql, const std::string& key) {
  auto q = d.prepare(sql);
  if (!q) return q.error();
  q->bind(1, key);
  std::vector<Enrolment> out;
  LG_TRY(each_row(*q, [&](db::Statement& r) { out.push_back(enrolment_row(r)); }));
  return out;
}

}  // namespace

std::span<const db::Migration> migrations() { return kMigrations; }

Status SqliteStore::insert_course(const Course& c) {
  auto& d = db_.conn();
  LG_TRY(require_absent(d, "training_courses", c.id, "course"));
  if (!c.unit.empty()) LG_TRY(require_ref(d, "units", "unit", c.unit, "unit"));
  for (const auto& i : c.instruments) LG_TRY(require_ref(d, "instruments", "instruments", i, "instrument"));
  for (const auto& p : c.prerequisites) LG_TRY(require_ref(d, "training_courses", "prerequisites", p, "course"));
  auto ins =
      d.prepare("INSERT INTO training_courses(" + std::string(kCourseCols) + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
  if (!ins) return ins.error();
  ins->bind(1, c.id)
      .bind(2, c.title)
      .bind(3, to_string(c.kind))
      .bind(4, c.unit)
      .bind(5, qualification::to_string(c.level))
      .bind(6, c.validity_months)
      .bind(7, to_string(c.assessment))
      .bind(8, c.pass_mark)
      .bind(9, c.created_ms);
  LG_TRY(ins->run());
  auto inst = d.prepare("INSERT INTO training_course_instruments(course, n, instrument) VALUES (?, ?, ?)");
  if (!inst) return inst.error();
  for (std::size_t i = 0; i < c.instruments.size(); ++i) {
    inst->bind(1, c.id).bind(2, static_cast<int64_t>(i + 1)).bind(3, c.instruments[i]);
    LG_TRY(inst->run());
  }
  auto pre = d.prepare("INSERT INTO training_course_prerequisites(course, n, prerequisite) VALUES (?, ?, ?)");
  if (!pre) return pre.error();
  for (std::size_t i = 0; i < c.prerequisites.size(); ++i) {
    pre->bind(1, c.id).bind(2, static_cast<int64_t>(i + 1)).bind(3, c.prerequisites[i]);
    LG_TRY(pre->run());
  }
  return {};
}

Status SqliteStore::load_lists(Course& c) {
  auto& d = db_.conn();
  auto inst = d.prepare("SELECT instrument FROM training_course_instruments WHERE course = ? ORDER BY n");
  if (!inst) return inst.error();
  inst->bind(1, c.id);
  LG_TRY(each_row(*inst, [&](db::Statement& r) { c.instruments.push_back(r.column_text(0)); }));
  auto pre = d.prepare("SELECT prerequisite FROM training_course_prerequisites WHERE course = ? ORDER BY n");
  if (!pre) return pre.error();
  pre->bind(1, c.id);
  return each_row(*pre, [&](db::Statement& r) { c.prerequisites.push_back(r.column_text(0)); });
}

Result<std::optional<Course>> SqliteStore::course(const std::string& id) {
  auto q = db_.conn().prepare("SELECT " + std::string(kCourseCols) + " FROM training_courses WHERE id = ?");
  if (!q) return q.error();
  q->bind(1, id);
  auto row = q->step();
  if (!row) return row.error();
  std::optional<Course> out;
  if (*row) out = course_row(*q);
  q->reset();
  if (out) LG_TRY(load_lists(*out));
  return out;
}

Result<PageOf<Course>> SqliteStore::courses(const Page& p) {
  static constexpr Keyset q = by_id(
      "SELECT id, title, kind, unit, level, validity_months, assessment, pass_mark, created_ms FROM training_courses "
      "WHERE 1");
  auto page = read_all_page<Course>(db_.conn(), q, p, course_row);
  if (!page) return page.error();
  for (auto& c : page->rows) LG_TRY(load_lists(c));
  return page;
}

Status SqliteStore::insert_session(const Session& s) {
  auto& d = db_.conn();
  LG_TRY(require_ref(d, "training_courses", "course", s.course, "course"));
  LG_TRY(require_absent(d, "training_sessions", s.id, "session"));
  auto ins =
      d.prepare("INSERT INTO training_sessions(" + std::string(kSessionCols) + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
  if (!ins) return ins.error();
  ins->bind(1, s.id)
      .bind(2, s.course)
      .bind(3, s.start_ms)
      .bind(4, s.end_ms)
      .bind(5, s.location)
      .bind(6, s.trainer)
      .bind(7, s.capacity)
      .bind(8, b64(s.cancelled))
      .bind(9, s.created_ms);
  return ins->run();
}

Result<std::optional<Session>> SqliteStore::session(const std::string& id) {
  auto got = read_sessions(db_.conn(), "SELECT " + std::string(kSessionCols) + " FROM training_sessions WHERE id = ?",
                           [&](db::Statement& st) { st.bind(1, id); });
  if (!got) return got.error();
  if (got->empty()) return std::optional<Session>();
  return std::optional<Session>(got->front());
}

// SQLite: the unit of work holds the database's write lock from its start (BEGIN IMMEDIATE), so
// every writer is serialized and a plain read is the lock.
Result<std::optional<Session>> SqliteStore::lock_session(const std::string& id) { return session(id); }

Status SqliteStore::set_cancelled(const std::string& id, bool cancelled) {
  auto st = db_.conn().prepare("UPDATE training_sessions SET cancelled = ? WHERE id = ?");
  if (!st) return st.error();
  st->bind(1, b64(cancelled)).bind(2, id);
  LG_TRY(st->run());
  if (db_.conn().changes() == 0) return domain_error(Errc::not_found, "training session: no session '" + id + "'");
  return {};
}

Result<std::vector<Session>> SqliteStore::sessions_of(const std::string& course) {
  return read_sessions(
      db_.conn(),
      "SELECT " + std::string(kSessionCols) + " FROM training_sessions WHERE course = ? ORDER BY start_ms, id",
      [&](db::Statement& st) { st.bind(1, course); });
}

Result<std::vector<Session>> SqliteStore::sessions_starting(int64_t from_ms, int64_t to_ms) {
  return read_sessions(db_.conn(),
                       "SELECT " + std::string(kSessionCols) +
                           " FROM training_sessions WHERE cancelled = 0 AND start_ms > ? AND start_ms <= ? "
                           "ORDER BY start_ms, id",
                       [&](db::Statement& st) { st.bind(1, from_ms).bind(2, to_ms); });
}

Result<std::optional<Enrolment>> SqliteStore::enrolment(const std::string& session, const std::string& user) {
  auto q = db_.conn().prepare("SELECT " + std::string(kEnrolmentCols) +
                              " FROM training_enrolments WHERE session = ? AND user = ?");
  if (!q) return q.error();
  q->bind(1, session).bind(2, user);
  auto row = q->step();
  if (!row) return row.error();
  std::optional<Enrolment> out;
  if (*row) out = enrolment_row(*q);
  q->reset();
  return out;
}

Result<std::vector<Enrolment>> SqliteStore::enrolments(const std::string& session) {
  return read_enrolments(
      db_.conn(), "SELECT " + std::string(kEnrolmentCols) + " FROM training_enrolments WHERE session = ? ORDER BY seq",
      session);
}

Result<std::vector<Enrolment>> SqliteStore::enrolments_of(const std::string& user) {
  return read_enrolments(db_.conn(),
                         "SELECT " + std::string(kEnrolmentCols) +
                             " FROM training_enrolments WHERE user = ? ORDER BY enrolled_ms DESC, session DESC",
                         user);
}

Status SqliteStore::put_enrolment(const Enrolment& e) {
  auto& d = db_.conn();
  LG_TRY(require_ref(d, "training_sessions", "session", e.session, "session"));
  LG_TRY(require_ref(d, "users", "user", e.user, "user"));
  auto st = d.prepare(
      "INSERT INTO training_enrolments(" + std::string(kEnrolmentCols) +
      ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(session, user) DO UPDATE SET state = excluded.state, "
      "seq = excluded.seq, attendance = excluded.attendance, score = excluded.score, signed_off = excluded.signed_off, "
      "passed = excluded.passed, by_actor = excluded.by_actor, enrolled_ms = excluded.enrolled_ms, "
      "updated_ms = excluded.updated_ms");
  if (!st) return st.error();
  st->bind(1, e.session)
      .bind(2, e.user)
      .bind(3, to_string(e.state))
      .bind(4, e.seq)
      .bind(5, to_string(e.attendance))
      .bind(6, e.score)
      .bind(7, b64(e.signed_off));
  if (e.passed)
    st->bind(8, b64(*e.passed));
  else
    st->bind_null(8);
  st->bind(9, e.by).bind(10, e.enrolled_ms).bind(11, e.updated_ms);
  if (auto s = st->run(); !s) {
    if (db::is_constraint(s.error()))
      return domain_error(Errc::conflict, "enrolment " + e.session + "/" + e.user + ": " + s.error().reason);
    return s.error();
  }
  return {};
}

Result<int64_t> SqliteStore::next_seq(const std::string& session) {
  auto q = db_.conn().prepare("SELECT COALESCE(MAX(seq), 0) + 1 FROM training_enrolments WHERE session = ?");
  if (!q) return q.error();
  q->bind(1, session);
  auto row = q->step();
  if (!row) return row.error();
  const int64_t n = q->column_int64(0);
  q->reset();
  return n;
}

Status SqliteStore::put_record(const Record& r) {
  auto& d = db_.conn();
  LG_TRY(require_ref(d, "users", "user", r.user, "user"));
  LG_TRY(require_ref(d, "training_courses", "course", r.course, "course"));
  auto st = d.prepare(
      "INSERT INTO training_records(user, course, session, passed_ms, valid_until_ms) VALUES (?, ?, ?, ?, ?) "
      "ON CONFLICT(user, course) DO UPDATE SET session = excluded.session, passed_ms = excluded.passed_ms, "
      "valid_until_ms = excluded.valid_until_ms");
  if (!st) return st.error();
  st->bind(1, r.user).bind(2, r.course).bind(3, r.session).bind(4, r.passed_ms).bind(5, r.valid_until_ms);
  return st->run();
}

Result<std::vector<Record>> SqliteStore::records_of(const std::string& user) {
  auto q = db_.conn().prepare(
      "SELECT user, course, session, passed_ms, valid_until_ms FROM training_records WHERE user = ? ORDER BY course");
  if (!q) return q.error();
  q->bind(1, user);
  std::vector<Record> out;
  LG_TRY(each_row(*q, [&](db::Statement& r) {
    out.push_back(Record{r.column_text(0), r.column_text(1), r.column_text(2), r.column_int64(3), opt_int(r, 4)});
  }));
  return out;
}

}  // namespace lg::server::training
