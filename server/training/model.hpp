// Training to qualification (issue 10): courses (lab safety, or an instrument or a class of
// instruments), their scheduled sessions, enrolment with a waitlist, attendance, the result (an
// exam score or an admin's sign-off), and the training records a pass leaves. Plain data: no
// I/O, no JSON, no SQL.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/qualification/model.hpp"

namespace lg::server::training {

/// safety: lab safety, a prerequisite of other courses, grants no qualification; instrument:
/// qualifies for each of the course's instruments at the course's level.
enum class CourseKind { safety, instrument };

/// exam: a score 0..100, passed at pass_mark or above; sign_off: an admin signs the trainee off.
enum class Assessment { exam, sign_off };

/// Where one person is in one session: enrolled (holds a seat), waitlisted (waits for one, in
/// the order of seq), cancelled (gave the seat or the waitlist place back).
enum class EnrolmentState { enrolled, waitlisted, cancelled };

/// What the trainer recorded: not yet, present, absent.
enum class Attendance { unknown, attended, absent };

/// Names as on the wire and in storage (rules.cpp holds the one table per enum).
const char* to_string(CourseKind k);
const char* to_string(Assessment a);
const char* to_string(EnrolmentState s);
const char* to_string(Attendance a);
std::optional<CourseKind> course_kind_from(std::string_view s);
std::optional<Assessment> assessment_from(std::string_view s);
std::optional<EnrolmentState> enrolment_state_from(std::string_view s);
std::optional<Attendance> attendance_from(std::string_view s);

struct Course {
  std::string id;
  std::string title;
  CourseKind kind = CourseKind::instrument;
  /// safety: the unit that runs it (its admins manage it); instrument courses: "".
  std::string unit;
  /// instrument: the instruments it qualifies for (one, or several: a class of instruments);
  /// safety: none.
  std::vector<std::string> instruments;
  /// Courses whose passed and still valid record a trainee needs to enrol (normally safety ones).
  std::vector<std::string> prerequisites;
  /// The level of the qualifications it grants (instrument courses).
  QualificationLevel level = QualificationLevel::independent;
  /// How long a pass (its record and its qualifications) is valid: calendar months; 0 = no end.
  int64_t validity_months = 0;
  Assessment assessment = Assessment::exam;
  int64_t pass_mark = 60;  ///< exam: 0..100
  int64_t created_ms = 0;
};

/// One scheduled meeting of a course.
struct Session {
  std::string id;
  std::string course;
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  std::string location;
  std::string trainer;  ///< free text: who teaches (a name, or a user id)
  int64_t capacity = 1;
  bool cancelled = false;
  int64_t created_ms = 0;
};

/// One person in one session.
struct Enrolment {
  std::string session;
  std::string user;
  EnrolmentState state = EnrolmentState::enrolled;
  /// Order of arrival in this session (1, 2, ...): the waitlist is served by it (FIFO). A
  /// re-enrolment after a cancellation takes a new, last seq.
  int64_t seq = 0;
  Attendance attendance = Attendance::unknown;
  std::optional<int64_t> score;  ///< exam: the score recorded
  bool signed_off = false;       ///< sign_off: the admin signed the trainee off
  std::optional<bool> passed;    ///< nullopt until a result is recorded
  std::string by;                ///< actor of the enrolment (the user, or an admin on their behalf)
  int64_t enrolled_ms = 0;
  int64_t updated_ms = 0;
};

/// What a pass leaves: the user passed the course at passed_ms; valid until valid_until_ms
/// (nullopt: no end). One per (user, course): a later pass replaces it.
struct Record {
  std::string user;
  std::string course;
  std::string session;  ///< the session it was passed in
  int64_t passed_ms = 0;
  std::optional<int64_t> valid_until_ms;
};

/// An enrolment with its session, for a person's own list.
struct MyEnrolment {
  Enrolment enrolment;
  Session session;
  int64_t waitlist_position = 0;  ///< 1, 2, ... while waitlisted; 0 otherwise
};

}  // namespace lg::server::training
