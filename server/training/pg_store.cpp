#include "server/training/pg_store.hpp"

#include <array>

#include "server/core/pg_util.hpp"
#include "server/qualification/rules.hpp"
#include "server/training/rules.hpp"

namespace lg::server::training {

using namespace pgsql;

namespace {

// As the SQLite store's. A session's capacity is kept by locking its row (lock_session: FOR
// UPDATE) in every unit of work that takes or gives back a seat.
constexpr std::string_view kV1 = R"sql(
CREATE TABLE training_courses (
  id TEXT PRIMARY KEY,
  title TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('safety', 'instrument')),
  unit TEXT NOT NULL DEFAULT '',
  level TEXT NOT NULL CHECK (level IN ('supervised', 'independent', 'after_hours')),
  validity_months BIGINT NOT NULL CHECK (validity_months >= 0),
  assessment TEXT NOT NULL CHECK (assessment IN ('exam', 'sign_off')),
  pass_mark BIGINT NOT NULL CHECK (pass_mark BETWEEN 0 AND 100),
  created_ms BIGINT NOT NULL
);
CREATE TABLE training_course_instruments (
  course TEXT NOT NULL REFERENCES training_courses(id),
  n BIGINT NOT NULL,
  instrument TEXT NOT NULL REFERENCES instruments(id),
  PRIMARY KEY (course, n),
  UNIQUE (course, instrument)
);
CREATE TABLE training_course_prerequisites (
  course TEXT NOT NULL REFERENCES training_courses(id),
  n BIGINT NOT NULL,
  prerequisite TEXT NOT NULL REFERENCES training_courses(id),
  PRIMARY KEY (course, n),
  UNIQUE (course, prerequisite)
);
CREATE TABLE training_sessions (
  id TEXT PRIMARY KEY,
  course TEXT NOT NULL REFERENCES training_courses(id),
  start_ms BIGINT NOT NULL,
  end_ms BIGINT NOT NULL,
  location TEXT NOT NULL DEFAULT '',
  trainer TEXT NOT NULL DEFAULT '',
  capacity BIGINT NOT NULL CHECK (capacity > 0),
  cancelled BOOLEAN NOT NULL DEFAULT false,
  created_ms BIGINT NOT NULL,
  CHECK (end_ms > start_ms)
);
CREATE INDEX training_sessions_by_course ON training_sessions(course, start_ms);
CREATE INDEX training_sessions_by_start ON training_sessions(start_ms);
CREATE TABLE training_enrolments (
  session TEXT NOT NULL REFERENCES training_sessions(id),
  user_id TEXT NOT NULL REFERENCES users(id),
  state TEXT NOT NULL CHECK (state IN ('enrolled', 'waitlisted', 'cancelled')),
  seq BIGINT NOT NULL CHECK (seq > 0),
  attendance TEXT NOT NULL DEFAULT 'unknown' CHECK (attendance IN ('unknown', 'attended', 'absent')),
  score BIGINT CHECK (score BETWEEN 0 AND 100),
  signed_off BOOLEAN NOT NULL DEFAULT false,
  passed BOOLEAN,
  by_actor TEXT NOT NULL DEFAULT '',
  enrolled_ms BIGINT NOT NULL,
  updated_ms BIGINT NOT NULL,
  PRIMARY KEY (session, user_id),
  UNIQUE (session, seq)
);
CREATE INDEX training_enrolments_by_user ON training_enrolments(user_id, enrolled_ms);
CREATE TABLE training_records (
  user_id TEXT NOT NULL REFERENCES users(id),
  course TEXT NOT NULL REFERENCES training_courses(id),
  session TEXT NOT NULL,
  passed_ms BIGINT NOT NULL,
  valid_until_ms BIGINT,
  PRIMARY KEY (user_id, course)
);
)sql";

constexpr std::array<db::Migration, 1> kMigrations{
    {{1, "training courses, sessions, enrolments with a waitlist, training records", kV1}}};

constexpr std::string_view kCourseCols =
    "id, title, kind, unit, level, validity_months, assessment, pass_mark, created_ms";

Course course_row(const pg::Rows& r, int i) {
  Course c;
  c.id = r.text(i, 0);
  c.title = r.text(i, 1);
  c.kind = course_kind_from(r.text(i, 2)).value_or(CourseKind::instrument);
  c.unit = r.text(i, 3);
  c.level = qualification::level_from(r.text(i, 4)).value_or(QualificationLevel::supervised);
  c.validity_months = r.i64(i, 5);
  c.assessment = assessment_from(r.text(i, 6)).value_or(Assessment::exam);
  c.pass_mark = r.i64(i, 7);
  c.created_ms = r.i64(i, 8);
  return c;
}

constexpr std::string_view kSessionCols =
    "id, course, start_ms, end_ms, location, trainer, capacity, cancelled, created_ms";

Session session_row(const pg::Rows& r, int i) {
  return Session{r.text(i, 0), r.text(i, 1), r.i64(i, 2),     r.i64(i, 3), r.text(i, 4),
                 r.text(i, 5), r.i64(i, 6),  r.boolean(i, 7), r.i64(i, 8)};
}

constexpr std::string_view kEnrolmentCols =
    "session, user_id, state, seq, attendance, score, signed_off, passed, by_actor, enrolled_ms, updated_ms";

Enrolment enrolment_row(const pg::Rows& r, int i) {
  Enrolment e;
  e.session = r.text(i, 0);
  e.user = r.text(i, 1);
  e.state = enrolment_state_from(r.text(i, 2)).value_or(EnrolmentState::cancelled);
  e.seq = r.i64(i, 3);
  e.attendance = attendance_from(r.text(i, 4)).value_or(Attendance::unknown);
  e.score = r.opt_i64(i, 5);
  e.signed_off = r.boolean(i, 6);
  if (!r.null(i, 7)) e.passed = r.boolean(i, 7);
  e.by = r.text(i, 8);
  e.enrolled_ms = r.i64(i, 9);
  e.updated_ms = r.i64(i, 10);
  return e;
}

Result<std::vector<Session>> sessions(const Result<pg::Rows>& r) {
  if (!r) return r.error();
  std::vector<Session> out;
  for (int i = 0; i < r->size(); ++i) out.push_back(session_row(*r, i));
  return out;
}

Result<std::vector<Enrolment>> enrolment_list(const Result<pg::Rows>& r) {
  if (!r) return r.error();
  std::vector<Enrolment> out;
  for (int i = 0; i < r->size(); ++i) out.push_back(enrolment_row(*r, i));
  return out;
}

Result<std::optional<Session>> first_session(const Result<pg::Rows>& r) {
  auto all = sessions(r);
  if (!all) return all.error();
  if (all->empty()) return std::optional<Session>();
  return std::optional<Session>(all->front());
}

}  // namespace

std::span<const db::Migration> pg_migrations() { return kMigrations; }

Status PgStore::insert_course(const Course& c) {
  auto& conn = db_.conn();
  LG_TRY(require_absent(conn, "training_courses", c.id, "course"));
  if (!c.unit.empty()) LG_TRY(require_ref(conn, "units", "unit", c.unit, "unit"));
  for (const auto& i : c.instruments) LG_TRY(require_ref(conn, "instruments", "instruments", i, "instrument"));
  for (const auto& p : c.prerequisites) LG_TRY(require_ref(conn, "training_courses", "prerequisites", p, "course"));
  pg::Params p;
  p.add(c.id).add(c.title).add(to_string(c.kind)).add(c.unit).add(qualification::to_string(c.level));
  p.add(c.validity_months).add(to_string(c.assessment)).add(c.pass_mark).add(c.created_ms);
  auto r = conn.exec(
      "INSERT INTO training_courses(" + std::string(kCourseCols) + ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)", p);
  if (!r && pg::is_unique_violation(r.error()))
    return domain_error(Errc::conflict, "id: course '" + c.id + "' already exists");
  LG_TRY(done(r));
  for (std::size_t i = 0; i < c.instruments.size(); ++i)
    LG_TRY(done(conn.q("INSERT INTO training_course_instruments(course, n, instrument) VALUES ($1, $2, $3)", c.id,
                       static_cast<int64_t>(i + 1), c.instruments[i])));
  for (std::size_t i = 0; i < c.prerequisites.size(); ++i)
    LG_TRY(done(conn.q("INSERT INTO training_course_prerequisites(course, n, prerequisite) VALUES ($1, $2, $3)", c.id,
                       static_cast<int64_t>(i + 1), c.prerequisites[i])));
  return {};
}

Status PgStore::load_lists(Course& c) {
  auto& conn = db_.conn();
  auto inst = conn.q("SELECT instrument FROM training_course_instruments WHERE course = $1 ORDER BY n", c.id);
  if (!inst) return inst.error();
  for (int i = 0; i < inst->size(); ++i) c.instruments.push_back(inst->text(i, 0));
  auto pre = conn.q("SELECT prerequisite FROM training_course_prerequisites WHERE course = $1 ORDER BY n", c.id);
  if (!pre) return pre.error();
  for (int i = 0; i < pre->size(); ++i) c.prerequisites.push_back(pre->text(i, 0));
  return {};
}

Result<std::optional<Course>> PgStore::course(const std::string& id) {
  auto r = db_.conn().q("SELECT " + std::string(kCourseCols) + " FROM training_courses WHERE id = $1", id);
  if (!r) return r.error();
  std::optional<Course> out;
  if (!r->empty()) {
    out = course_row(*r, 0);
    LG_TRY(load_lists(*out));
  }
  return out;
}

Result<PageOf<Course>> PgStore::courses(const Page& p) {
  static constexpr Keyset q = by_id(
      "SELECT id, title, kind, unit, level, validity_months, assessment, pass_mark, created_ms FROM training_courses "
      "WHERE true");
  auto page = read_all_page<Course>(db_.conn(), q, p, course_row);
  if (!page) return page.error();
  for (auto& c : page->rows) LG_TRY(load_lists(c));
  return page;
}

Status PgStore::insert_session(const Session& s) {
  auto& conn = db_.conn();
  LG_TRY(require_ref(conn, "training_courses", "course", s.course, "course"));
  LG_TRY(require_absent(conn, "training_sessions", s.id, "session"));
  pg::Params p;
  p.add(s.id).add(s.course).add(s.start_ms).add(s.end_ms).add(s.location).add(s.trainer).add(s.capacity);
  p.add(s.cancelled).add(s.created_ms);
  auto r = conn.exec(
      "INSERT INTO training_sessions(" + std::string(kSessionCols) + ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
      p);
  if (!r && pg::is_unique_violation(r.error()))
    return domain_error(Errc::conflict, "id: session '" + s.id + "' already exists");
  return done(r);
}

Result<std::optional<Session>> PgStore::session(const std::string& id) {
  return first_session(
      db_.conn().q("SELECT " + std::string(kSessionCols) + " FROM training_sessions WHERE id = $1", id));
}

Result<std::optional<Session>> PgStore::lock_session(const std::string& id) {
  return first_session(
      db_.conn().q("SELECT " + std::string(kSessionCols) + " FROM training_sessions WHERE id = $1 FOR UPDATE", id));
}

Status PgStore::set_cancelled(const std::string& id, bool cancelled) {
  auto r = db_.conn().q("UPDATE training_sessions SET cancelled = $1 WHERE id = $2", cancelled, id);
  if (!r) return r.error();
  if (r->affected() == 0) return domain_error(Errc::not_found, "training session: no session '" + id + "'");
  return {};
}

Result<std::vector<Session>> PgStore::sessions_of(const std::string& course) {
  return sessions(db_.conn().q(
      "SELECT " + std::string(kSessionCols) + " FROM training_sessions WHERE course = $1 ORDER BY start_ms, id",
      course));
}

Result<std::vector<Session>> PgStore::sessions_starting(int64_t from_ms, int64_t to_ms) {
  return sessions(db_.conn().q("SELECT " + std::string(kSessionCols) +
                                   " FROM training_sessions WHERE NOT cancelled AND start_ms > $1 AND start_ms <= $2 "
                                   "ORDER BY start_ms, id",
                               from_ms, to_ms));
}

Result<std::optional<Enrolment>> PgStore::enrolment(const std::string& session, const std::string& user) {
  auto all = enrolment_list(db_.conn().q(
      "SELECT " + std::string(kEnrolmentCols) + " FROM training_enrolments WHERE session = $1 AND user_id = $2",
      session, user));
  if (!all) return all.error();
  if (all->empty()) return std::optional<Enrolment>();
  return std::optional<Enrolment>(all->front());
}

Result<std::vector<Enrolment>> PgStore::enrolments(const std::string& session) {
  return enrolment_list(db_.conn().q(
      "SELECT " + std::string(kEnrolmentCols) + " FROM training_enrolments WHERE session = $1 ORDER BY seq", session));
}

Result<std::vector<Enrolment>> PgStore::enrolments_of(const std::string& user) {
  return enrolment_list(db_.conn().q("SELECT " + std::string(kEnrolmentCols) +
                                         " FROM training_enrolments WHERE user_id = $1 "
                                         "ORDER BY enrolled_ms DESC, session DESC",
                                     user));
}

Status PgStore::put_enrolment(const Enrolment& e) {
  auto& conn = db_.conn();
  LG_TRY(require_ref(conn, "training_sessions", "session", e.session, "session"));
  LG_TRY(require_ref(conn, "users", "user", e.user, "user"));
  pg::Params p;
  p.add(e.session).add(e.user).add(to_string(e.state)).add(e.seq).add(to_string(e.attendance)).add(e.score);
  p.add(e.signed_off);
  if (e.passed)
    p.add(*e.passed);
  else
    p.add(std::nullopt);
  p.add(e.by).add(e.enrolled_ms).add(e.updated_ms);
  auto r = conn.exec(
      "INSERT INTO training_enrolments(" + std::string(kEnrolmentCols) +
          ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (session, user_id) DO UPDATE SET "
          "state = excluded.state, seq = excluded.seq, attendance = excluded.attendance, score = excluded.score, "
          "signed_off = excluded.signed_off, passed = excluded.passed, by_actor = excluded.by_actor, "
          "enrolled_ms = excluded.enrolled_ms, updated_ms = excluded.updated_ms",
      p);
  if (!r && pg::is_unique_violation(r.error()))
    return domain_error(Errc::conflict, "enrolment " + e.session + "/" + e.user + ": seq " + std::to_string(e.seq) +
                                            " is taken in this session");
  return done(r);
}

Result<int64_t> PgStore::next_seq(const std::string& session) {
  auto r = db_.conn().q("SELECT COALESCE(MAX(seq), 0) + 1 FROM training_enrolments WHERE session = $1", session);
  if (!r) return r.error();
  return r->i64(0, 0);
}

Status PgStore::put_record(const Record& r) {
  auto& conn = db_.conn();
  LG_TRY(require_ref(conn, "users", "user", r.user, "user"));
  LG_TRY(require_ref(conn, "training_courses", "course", r.course, "course"));
  return done(conn.q(
      "INSERT INTO training_records(user_id, course, session, passed_ms, valid_until_ms) VALUES ($1, $2, $3, $4, $5) "
      "ON CONFLICT (user_id, course) DO UPDATE SET session = excluded.session, passed_ms = excluded.passed_ms, "
      "valid_until_ms = excluded.valid_until_ms",
      r.user, r.course, r.session, r.passed_ms, r.valid_until_ms));
}

Result<std::vector<Record>> PgStore::records_of(const std::string& user) {
  auto r = db_.conn().q(
      "SELECT user_id, course, session, passed_ms, valid_until_ms FROM training_records WHERE user_id = $1 ORDER BY "
      "course",
      user);
  if (!r) return r.error();
  std::vector<Record> out;
  for (int i = 0; i < r->size(); ++i)
    out.push_back(Record{r->text(i, 0), r->text(i, 1), r->text(i, 2), r->i64(i, 3), r->opt_i64(i, 4)});
  return out;
}

}  // namespace lg::server::training
