// The training use cases, each one unit of work: load the facts, let the rules (rules.hpp)
// decide, store the effects, enqueue the notices (through the outbox, in the same unit of work:
// a notice exists exactly when its change does). A pass of an instrument course puts the
// trainee's qualifications through the qualification store in the same unit of work; the
// caller marks the instruments changed (their terminals get a new bundle).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "server/core/unit_of_work.hpp"
#include "server/notify/outbox.hpp"
#include "server/qualification/store.hpp"
#include "server/training/rules.hpp"
#include "server/training/store.hpp"

namespace lg::server::training {

/// A seat taken or a waitlist place, or the rule that refused it (nothing written).
struct EnrolOutcome {
  std::optional<Enrolment> enrolment;
  int64_t position = 0;  ///< waitlist position (1 = next), 0 when enrolled
  Refusal refusal;
};

/// An enrolment cancelled and who took the seats it freed, or the refusal.
struct CancelOutcome {
  std::optional<Enrolment> before;
  std::optional<Enrolment> after;
  std::vector<Enrolment> promoted;  ///< the waitlisted users now enrolled, in order
  Refusal refusal;
};

/// A session called off, or the refusal.
struct SessionCancelOutcome {
  std::optional<Session> before;
  std::optional<Session> after;
  Refusal refusal;
};

/// Attendance recorded, or the refusal.
struct AttendOutcome {
  std::optional<Enrolment> before;
  std::optional<Enrolment> after;
  Refusal refusal;
};

/// A result recorded and what a pass did, or the refusal.
struct ResultOutcome {
  std::optional<Enrolment> before;
  std::optional<Enrolment> after;
  std::optional<Record> record;                     ///< set when passed
  std::vector<QualificationEffect> qualifications;  ///< instrument courses, when passed
  Refusal refusal;
};

/// One line of a roster: an enrolment and its waitlist position (0 unless waitlisted).
struct RosterLine {
  Enrolment enrolment;
  int64_t position = 0;
};

class Service {
 public:
  /// outbox may be null (no notices). time_zone: how times appear in notices.
  Service(UnitOfWork& uow, Store& store, qualification::Store& qualifications, notify::Outbox* outbox,
          std::string time_zone)
      : uow_(uow), store_(store), qualifications_(qualifications), outbox_(outbox), time_zone_(std::move(time_zone)) {}

  /// Stores a new course (validated by validate(): not_allowed naming the field).
  Result<Course> create_course(Course c, int64_t now_ms);
  /// Stores a new session of an existing course (validated: not_allowed naming the field).
  Result<Session> create_session(Session s, int64_t now_ms);

  /// Enrols user in session (by actor: the user, or an admin on their behalf): a seat while
  /// there is one, else the waitlist's last place; the training_enrolled notice. The session's
  /// row is locked first (Store::lock_session), so its capacity holds under concurrency.
  /// not_found for an unknown session.
  Result<EnrolOutcome> enrol(const std::string& session, const std::string& user, const std::string& actor,
                             int64_t now_ms);
  /// Cancels user's enrolment (seat or waitlist place); the first waitlisted users take the
  /// seats freed (training_waitlist_promoted notice each), in the same unit of work.
  Result<CancelOutcome> cancel(const std::string& session, const std::string& user, const std::string& actor,
                               int64_t now_ms);
  /// Calls session off before it starts (its enrolments stay, and say so through the session);
  /// training_cancelled to each trainee holding a seat or waiting for one.
  Result<SessionCancelOutcome> cancel_session(const std::string& session, int64_t now_ms);
  /// Records whether user attended session.
  Result<AttendOutcome> attend(const std::string& session, const std::string& user, Attendance a, int64_t now_ms);
  /// Records user's result. A pass stores the training record (valid for the course's
  /// validity), puts the qualifications of an instrument course (qualification_effects: never a
  /// lower level, never shorter), and enqueues training_passed.
  Result<ResultOutcome> record_result(const std::string& session, const std::string& user, const ResultInput& in,
                                      int64_t now_ms);

  /// The reminder pass (App::tick): a training_reminder to each enrolled user of every session
  /// that starts within kReminderAheadMs of now; once per enrolment (its dedupe key). Returns
  /// how many notices were enqueued now.
  Result<int> send_reminders(int64_t now_ms);

  Result<std::optional<Course>> course(const std::string& id) { return store_.course(id); }
  Result<PageOf<Course>> courses(const Page& p) { return store_.courses(p); }
  Result<std::optional<Session>> session(const std::string& id) { return store_.session(id); }
  Result<std::vector<Session>> sessions_of(const std::string& course) { return store_.sessions_of(course); }
  /// The session's enrolments by seq with waitlist positions.
  Result<std::vector<RosterLine>> roster(const std::string& session);
  /// The user's enrolments (newest first) with their sessions and waitlist positions.
  Result<std::vector<MyEnrolment>> enrolments_of(const std::string& user);
  Result<std::vector<Record>> records_of(const std::string& user) { return store_.records_of(user); }

 private:
  /// The session (locked) and its course, or not_found.
  Status load(const std::string& session, Session& s, Course& c);
  /// Enqueues a notice about session s of course c to user (nothing when no outbox).
  Status notice(const std::string& user, notify::Kind kind, const Course& c, const Session& s, notify::Fields extra,
                const std::string& dedupe, int64_t now_ms);
  /// A time as people read it in a notice (site zone, with offset).
  std::string when(int64_t utc_ms) const;

  UnitOfWork& uow_;
  Store& store_;
  qualification::Store& qualifications_;
  notify::Outbox* outbox_;
  std::string time_zone_;
};

}  // namespace lg::server::training
