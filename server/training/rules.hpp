// The training rules as functions of plain values: what a course and a session must be, who may
// enrol (prerequisites, the session's time, its capacity: a seat or the waitlist), who is
// promoted when a seat frees up, what a result is, and what a pass does to the trainee's
// qualifications. training::Service loads the facts and applies what these return.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "server/qualification/model.hpp"
#include "server/training/model.hpp"

namespace lg::server::training {

/// A reminder goes out this long before a session starts (training_reminder).
inline constexpr int64_t kReminderAheadMs = 24LL * 3600 * 1000;
/// The most a session may hold.
inline constexpr int64_t kMaxCapacity = 10'000;
/// The longest validity of a pass, in months (100 years).
inline constexpr int64_t kMaxValidityMonths = 1200;

/// A rule's refusal: rule names it ("enrol.prerequisite"), reason says it to people. An empty
/// rule is no refusal.
struct Refusal {
  std::string rule;
  std::string reason;
  bool ok() const { return rule.empty(); }
};

/// Why a course is not valid ("field: why"), or nullopt. Safety courses name their unit and no
/// instruments; instrument courses at least one instrument; no course is its own prerequisite;
/// an exam's pass mark is 0..100.
std::optional<std::string> validate(const Course& c);
/// Why a session is not valid ("field: why"), or nullopt: end after start, capacity 1..kMaxCapacity.
std::optional<std::string> validate(const Session& s);

/// The end of a pass at from_ms valid for `months` calendar months (the same UTC time of day,
/// the day clamped to the month's last); nullopt for 0 months (no end).
std::optional<int64_t> valid_until(int64_t from_ms, int64_t months);
/// True when r is still valid at now_ms (no end, or it ends after now).
bool record_valid(const Record& r, int64_t now_ms);

/// enrol.prerequisite naming the first prerequisite of c without a passed and still valid
/// record among `records` (the user's), or no refusal.
Refusal prerequisite_refusal(const Course& c, const std::vector<Record>& records, int64_t now_ms);

/// What enrol() decides from.
struct EnrolFacts {
  Course course;
  Session session;
  std::optional<Enrolment> existing;  ///< the user's enrolment in this session, if any
  int64_t seats_taken = 0;            ///< enrolled (not waitlisted, not cancelled) in the session
  std::vector<Record> records;        ///< the user's training records
  int64_t now_ms = 0;
};

/// The verdict on one enrolment: refused (enrol.session_cancelled, enrol.session_started,
/// enrol.already_enrolled, enrol.prerequisite, checked in that order), or the state it gets:
/// enrolled while seats are free, waitlisted when the session is full.
struct EnrolVerdict {
  Refusal refusal;
  EnrolmentState state = EnrolmentState::enrolled;
};
EnrolVerdict enrol(const EnrolFacts& f);

/// session.cancelled (already), session.started (a session is called off only before it starts),
/// or no refusal.
Refusal session_cancel_refusal(const Session& s, int64_t now_ms);

/// cancel.not_enrolled (no enrolment, or cancelled already), cancel.session_started (a seat is
/// given back only before the session starts), or no refusal.
Refusal cancel_refusal(const std::optional<Enrolment>& e, const Session& s, int64_t now_ms);

/// Who takes the free seats of a session of `capacity` whose enrolments are `all`: the
/// waitlisted users by seq (first come, first served), as many as seats are free; in order.
std::vector<std::string> promotions(const std::vector<Enrolment>& all, int64_t capacity);

/// The user's place on the session's waitlist (1 = next), 0 when they are not waitlisted.
int64_t waitlist_position(const std::vector<Enrolment>& all, const std::string& user);

/// attendance.not_enrolled (no seat: absent, waitlisted or cancelled), attendance.session_cancelled,
/// attendance.result_recorded (a result is final), or no refusal.
Refusal attendance_refusal(const std::optional<Enrolment>& e, const Session& s);

/// A result as the trainer gives it: a score (exam) or a sign-off (sign_off).
struct ResultInput {
  std::optional<int64_t> score;
  bool signed_off = false;
};

/// True when the input passes course c: score >= pass_mark (exam), signed off (sign_off).
bool passes(const Course& c, const ResultInput& in);

/// The verdict on a result: refused (result.not_enrolled, result.session_cancelled,
/// result.not_attended: only who attended has a result, result.recorded: once,
/// result.assessment: a score for an exam course, a sign-off for a sign_off course) or passed
/// or not.
struct ResultVerdict {
  Refusal refusal;
  bool passed = false;
};
ResultVerdict result(const Course& c, const Session& s, const std::optional<Enrolment>& e, const ResultInput& in);

/// What a pass of an instrument course does to the trainee's qualification on one instrument.
struct QualificationEffect {
  std::string instrument;
  std::optional<Qualification> before;  ///< what the trainee held there
  Qualification after;                  ///< what they hold afterwards (== *before when kept)
  bool kept = false;                    ///< true: the existing one stays (see qualification_effects)
  std::string why;                      ///< kept: why
};

/// For a pass of course c by user at now_ms: on each of the course's instruments a
/// qualification at the course's level, valid from now for its validity months, source
/// "training:<course id>". An existing qualification that is still valid is kept instead when
/// it is of a higher level (a training never lowers a level), or of the same level and valid
/// at least as long (never shortened). existing[i] is the user's qualification on
/// c.instruments[i] (nullopt: none). Safety courses: no effects.
std::vector<QualificationEffect> qualification_effects(const Course& c, const std::string& user,
                                                       const std::vector<std::optional<Qualification>>& existing,
                                                       int64_t now_ms);

/// True when enrolled users of s are due their reminder at now_ms: s is not cancelled, has not
/// started, and starts within kReminderAheadMs.
bool reminder_due(const Session& s, int64_t now_ms);

/// "training:<course id>": the source of the qualifications a course grants.
std::string source_of(const std::string& course);

}  // namespace lg::server::training
