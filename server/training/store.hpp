// The training store: courses (with their instruments and prerequisites), sessions, enrolments
// and training records. It decides nothing: training::Service applies the verdicts of the rules
// (rules.hpp) in one unit of work.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "labgate/common/result.hpp"
#include "server/core/paging.hpp"
#include "server/training/model.hpp"

namespace lg::server::training {

class Store {
 public:
  virtual ~Store() = default;
  /// Stores a new course with its instruments and prerequisites (in the order given); conflict
  /// if the id exists, unknown_reference naming the field for an unknown unit, instrument or
  /// prerequisite course.
  virtual Status insert_course(const Course& c) = 0;
  /// One course; nullopt when there is none with this id.
  virtual Result<std::optional<Course>> course(const std::string& id) = 0;
  /// Courses by id ascending.
  virtual Result<PageOf<Course>> courses(const Page& p) = 0;

  /// Stores a new session; conflict if the id exists, unknown_reference for an unknown course.
  virtual Status insert_session(const Session& s) = 0;
  /// One session; nullopt when there is none with this id.
  virtual Result<std::optional<Session>> session(const std::string& id) = 0;
  /// One session, locked for the rest of the unit of work against every other unit of work that
  /// locks it (PostgreSQL: SELECT ... FOR UPDATE; SQLite's writers are serialized anyway): what
  /// keeps a session's capacity under concurrent enrolments and cancellations. Inside a unit of
  /// work only.
  virtual Result<std::optional<Session>> lock_session(const std::string& id) = 0;
  /// Marks a session cancelled (or not); not_found for an unknown id.
  virtual Status set_cancelled(const std::string& id, bool cancelled) = 0;
  /// The sessions of a course by start (then id).
  virtual Result<std::vector<Session>> sessions_of(const std::string& course) = 0;
  /// The sessions not cancelled that start in (from_ms, to_ms], by start (the reminder pass).
  virtual Result<std::vector<Session>> sessions_starting(int64_t from_ms, int64_t to_ms) = 0;

  /// The user's enrolment in a session; nullopt when they never enrolled there.
  virtual Result<std::optional<Enrolment>> enrolment(const std::string& session, const std::string& user) = 0;
  /// Every enrolment of a session (cancelled ones included) by seq.
  virtual Result<std::vector<Enrolment>> enrolments(const std::string& session) = 0;
  /// Every enrolment of a user, newest first (by enrolled_ms, then session).
  virtual Result<std::vector<Enrolment>> enrolments_of(const std::string& user) = 0;
  /// Creates or replaces the (session, user) enrolment; unknown_reference for an unknown session
  /// or user; conflict when another enrolment of the session has the same seq.
  virtual Status put_enrolment(const Enrolment& e) = 0;
  /// The seq the next enrolment of the session takes (1 + the highest so far).
  virtual Result<int64_t> next_seq(const std::string& session) = 0;

  /// Creates or replaces the user's record of a course.
  virtual Status put_record(const Record& r) = 0;
  /// The user's records, by course.
  virtual Result<std::vector<Record>> records_of(const std::string& user) = 0;
};

}  // namespace lg::server::training
