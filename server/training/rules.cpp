#include "server/training/rules.hpp"

#include <algorithm>

#include "server/qualification/rules.hpp"

namespace lg::server::training {

namespace {

template <typename E>
struct Names {
  E value;
  const char* name;
};

constexpr Names<CourseKind> kKinds[] = {{CourseKind::safety, "safety"}, {CourseKind::instrument, "instrument"}};
constexpr Names<Assessment> kAssessments[] = {{Assessment::exam, "exam"}, {Assessment::sign_off, "sign_off"}};
constexpr Names<EnrolmentState> kStates[] = {{EnrolmentState::enrolled, "enrolled"},
                                             {EnrolmentState::waitlisted, "waitlisted"},
                                             {EnrolmentState::cancelled, "cancelled"}};
constexpr Names<Attendance> kAttendance[] = {
    {Attendance::unknown, "unknown"}, {Attendance::attended, "attended"}, {Attendance::absent, "absent"}};

template <typename E, std::size_t N>
const char* name_of(const Names<E> (&table)[N], E v) {
  for (const auto& n : table)
    if (n.value == v) return n.name;
  return "?";
}

template <typename E, std::size_t N>
std::optional<E> value_of(const Names<E> (&table)[N], std::string_view s) {
  for (const auto& n : table)
    if (s == n.name) return n.value;
  return std::nullopt;
}

Refusal refuse(std::string rule, const std::string& text) {
  std::string reason = "training rule " + rule + ": " + text;
  return Refusal{std::move(rule), std::move(reason)};
}

// Civil dates (Howard Hinnant's algorithms): days since 1970-01-01 and back.
int64_t days_from_civil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

void civil_from_days(int64_t z, int64_t& y, int64_t& m, int64_t& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = yoe + era * 400;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp + (mp < 10 ? 3 : -9);
  y += m <= 2;
}

int64_t days_in_month(int64_t y, int64_t m) {
  static constexpr int64_t kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

constexpr int64_t kDayMs = 86'400'000;

}  // namespace

const char* to_string(CourseKind k) { return name_of(kKinds, k); }
const char* to_string(Assessment a) { return name_of(kAssessments, a); }
const char* to_string(EnrolmentState s) { return name_of(kStates, s); }
const char* to_string(Attendance a) { return name_of(kAttendance, a); }
std::optional<CourseKind> course_kind_from(std::string_view s) { return value_of(kKinds, s); }
std::optional<Assessment> assessment_from(std::string_view s) { return value_of(kAssessments, s); }
std::optional<EnrolmentState> enrolment_state_from(std::string_view s) { return value_of(kStates, s); }
std::optional<Attendance> attendance_from(std::string_view s) { return value_of(kAttendance, s); }

std::optional<std::string> validate(const Course& c) {
  if (c.title.empty()) return "title: must not be empty";
  switch (c.kind) {
    case CourseKind::safety:
      if (c.unit.empty()) return "unit: a safety course names the unit that runs it";
      if (!c.instruments.empty()) return "instruments: a safety course qualifies for no instrument";
      break;
    case CourseKind::instrument:
      if (c.instruments.empty()) return "instruments: an instrument course names at least one instrument";
      if (!c.unit.empty())
        return "unit: only safety courses name a unit (an instrument course belongs to its instruments)";
      break;
  }
  for (std::size_t i = 0; i < c.instruments.size(); ++i)
    for (std::size_t j = i + 1; j < c.instruments.size(); ++j)
      if (c.instruments[i] == c.instruments[j]) return "instruments: '" + c.instruments[i] + "' is named twice";
  for (std::size_t i = 0; i < c.prerequisites.size(); ++i) {
    if (c.prerequisites[i] == c.id) return "prerequisites: a course is not its own prerequisite";
    for (std::size_t j = i + 1; j < c.prerequisites.size(); ++j)
      if (c.prerequisites[i] == c.prerequisites[j]) return "prerequisites: '" + c.prerequisites[i] + "' is named twice";
  }
  if (c.validity_months < 0 || c.validity_months > kMaxValidityMonths)
    return "validity_months: must be 0.." + std::to_string(kMaxValidityMonths) + " (0 = no end)";
  if (c.assessment == Assessment::exam && (c.pass_mark < 0 || c.pass_mark > 100)) return "pass_mark: must be 0..100";
  return std::nullopt;
}

std::optional<std::string> validate(const Session& s) {
  if (s.end_ms <= s.start_ms) return "end: must be after start";
  if (s.capacity < 1 || s.capacity > kMaxCapacity) return "capacity: must be 1.." + std::to_string(kMaxCapacity);
  return std::nullopt;
}

std::optional<int64_t> valid_until(int64_t from_ms, int64_t months) {
  if (months <= 0) return std::nullopt;
  const int64_t day = (from_ms >= 0 ? from_ms : from_ms - (kDayMs - 1)) / kDayMs;
  const int64_t ms_of_day = from_ms - day * kDayMs;
  int64_t y = 0, m = 0, d = 0;
  civil_from_days(day, y, m, d);
  const int64_t total = y * 12 + (m - 1) + months;
  const int64_t ny = total / 12;
  const int64_t nm = total % 12 + 1;
  const int64_t nd = std::min(d, days_in_month(ny, nm));
  return days_from_civil(ny, nm, nd) * kDayMs + ms_of_day;
}

bool record_valid(const Record& r, int64_t now_ms) { return !r.valid_until_ms || *r.valid_until_ms > now_ms; }

Refusal prerequisite_refusal(const Course& c, const std::vector<Record>& records, int64_t now_ms) {
  for (const auto& p : c.prerequisites) {
    const Record* found = nullptr;
    for (const auto& r : records)
      if (r.course == p) found = &r;
    if (!found) return refuse("enrol.prerequisite", "course " + c.id + " needs a pass of course " + p + " first");
    if (!record_valid(*found, now_ms))
      return refuse("enrol.prerequisite", "course " + c.id + " needs a valid pass of course " + p +
                                              ": the pass has expired; take " + p + " again");
  }
  return {};
}

EnrolVerdict enrol(const EnrolFacts& f) {
  EnrolVerdict v;
  if (f.session.cancelled) {
    v.refusal = refuse("enrol.session_cancelled", "session " + f.session.id + " is cancelled");
    return v;
  }
  if (f.now_ms >= f.session.start_ms) {
    v.refusal = refuse("enrol.session_started", "session " + f.session.id + " has started already");
    return v;
  }
  if (f.existing && f.existing->state != EnrolmentState::cancelled) {
    v.refusal = refuse("enrol.already_enrolled", f.existing->user + " is " + to_string(f.existing->state) +
                                                     " in session " + f.session.id + " already");
    return v;
  }
  v.refusal = prerequisite_refusal(f.course, f.records, f.now_ms);
  if (!v.refusal.ok()) return v;
  v.state = f.seats_taken < f.session.capacity ? EnrolmentState::enrolled : EnrolmentState::waitlisted;
  return v;
}

Refusal session_cancel_refusal(const Session& s, int64_t now_ms) {
  if (s.cancelled) return refuse("session.cancelled", "session " + s.id + " is cancelled already");
  if (now_ms >= s.start_ms) return refuse("session.started", "session " + s.id + " has started already");
  return {};
}

Refusal cancel_refusal(const std::optional<Enrolment>& e, const Session& s, int64_t now_ms) {
  if (!e || e->state == EnrolmentState::cancelled)
    return refuse("cancel.not_enrolled", "no enrolment in session " + s.id + " to cancel");
  if (now_ms >= s.start_ms) return refuse("cancel.session_started", "session " + s.id + " has started already");
  return {};
}

std::vector<std::string> promotions(const std::vector<Enrolment>& all, int64_t capacity) {
  int64_t taken = 0;
  std::vector<const Enrolment*> waiting;
  for (const auto& e : all) {
    if (e.state == EnrolmentState::enrolled) ++taken;
    if (e.state == EnrolmentState::waitlisted) waiting.push_back(&e);
  }
  std::sort(waiting.begin(), waiting.end(), [](const Enrolment* a, const Enrolment* b) { return a->seq < b->seq; });
  std::vector<std::string> out;
  for (const Enrolment* e : waiting) {
    if (taken >= capacity) break;
    out.push_back(e->user);
    ++taken;
  }
  return out;
}

int64_t waitlist_position(const std::vector<Enrolment>& all, const std::string& user) {
  const Enrolment* mine = nullptr;
  for (const auto& e : all)
    if (e.user == user && e.state == EnrolmentState::waitlisted) mine = &e;
  if (!mine) return 0;
  int64_t ahead = 0;
  for (const auto& e : all)
    if (e.state == EnrolmentState::waitlisted && e.seq < mine->seq) ++ahead;
  return ahead + 1;
}

Refusal attendance_refusal(const std::optional<Enrolment>& e, const Session& s) {
  if (!e || e->state != EnrolmentState::enrolled)
    return refuse("attendance.not_enrolled", "only who holds a seat in session " + s.id + " attends it");
  if (s.cancelled) return refuse("attendance.session_cancelled", "session " + s.id + " is cancelled");
  if (e->passed) return refuse("attendance.result_recorded", e->user + "'s result in session " + s.id + " is recorded");
  return {};
}

bool passes(const Course& c, const ResultInput& in) {
  switch (c.assessment) {
    case Assessment::exam: return in.score && *in.score >= c.pass_mark;
    case Assessment::sign_off: return in.signed_off;
  }
  return false;
}

ResultVerdict result(const Course& c, const Session& s, const std::optional<Enrolment>& e, const ResultInput& in) {
  ResultVerdict v;
  if (!e || e->state != EnrolmentState::enrolled) {
    v.refusal = refuse("result.not_enrolled", "only who holds a seat in session " + s.id + " has a result");
    return v;
  }
  if (s.cancelled) {
    v.refusal = refuse("result.session_cancelled", "session " + s.id + " is cancelled");
    return v;
  }
  if (e->attendance != Attendance::attended) {
    v.refusal = refuse("result.not_attended", e->user + " is not recorded as attending session " + s.id);
    return v;
  }
  if (e->passed) {
    v.refusal = refuse("result.recorded", e->user + "'s result in session " + s.id + " is recorded already");
    return v;
  }
  switch (c.assessment) {
    case Assessment::exam:
      if (!in.score) {
        v.refusal = refuse("result.assessment", "course " + c.id + " is assessed by an exam: give the score");
        return v;
      }
      if (*in.score < 0 || *in.score > 100) {
        v.refusal = refuse("result.assessment", "a score is 0..100");
        return v;
      }
      break;
    case Assessment::sign_off:
      if (in.score) {
        v.refusal = refuse("result.assessment", "course " + c.id + " is signed off by an admin, not scored");
        return v;
      }
      break;
  }
  v.passed = passes(c, in);
  return v;
}

std::vector<QualificationEffect> qualification_effects(const Course& c, const std::string& user,
                                                       const std::vector<std::optional<Qualification>>& existing,
                                                       int64_t now_ms) {
  std::vector<QualificationEffect> out;
  if (c.kind != CourseKind::instrument) return out;
  const std::optional<int64_t> until = valid_until(now_ms, c.validity_months);
  for (std::size_t i = 0; i < c.instruments.size(); ++i) {
    QualificationEffect fx;
    fx.instrument = c.instruments[i];
    if (i < existing.size()) fx.before = existing[i];
    fx.after = Qualification{user, c.instruments[i], now_ms, until, c.level, source_of(c.id)};
    if (fx.before) {
      const Qualification& b = *fx.before;
      const bool valid = b.valid_from_ms <= now_ms && (!b.valid_until_ms || *b.valid_until_ms > now_ms);
      const bool higher = valid && b.level != c.level && qualification::at_least(b.level, c.level);
      const bool as_long = !b.valid_until_ms || (until && *b.valid_until_ms >= *until);
      if (higher) {
        fx.kept = true;
        fx.why = std::string("holds ") + qualification::to_string(b.level) + ", higher than the course's " +
                 qualification::to_string(c.level) + ": a training never lowers a level";
      } else if (valid && b.level == c.level && as_long) {
        fx.kept = true;
        fx.why = std::string("holds ") + qualification::to_string(b.level) + " valid at least as long: not shortened";
      }
      if (fx.kept) fx.after = b;
    }
    out.push_back(std::move(fx));
  }
  return out;
}

bool reminder_due(const Session& s, int64_t now_ms) {
  return !s.cancelled && now_ms < s.start_ms && s.start_ms - now_ms <= kReminderAheadMs;
}

std::string source_of(const std::string& course) { return "training:" + course; }

}  // namespace lg::server::training
