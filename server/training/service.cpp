#include "server/training/service.hpp"

#include "labgate/common/log.hpp"
#include "labgate/common/time.hpp"
#include "server/core/errors.hpp"
#include "server/qualification/rules.hpp"

namespace lg::server::training {

namespace {

constexpr std::string_view kLog = "training";

std::string key(std::string_view kind, const Enrolment& e) {
  return std::string(kind) + ":" + e.session + ":" + e.user + ":" + std::to_string(e.seq);
}

}  // namespace

std::string Service::when(int64_t utc_ms) const {
  auto t = time::format_local_offset(utc_ms, time_zone_);
  return t ? *t : time::format_utc(utc_ms);
}

Status Service::notice(const std::string& user, notify::Kind kind, const Course& c, const Session& s,
                       notify::Fields extra, const std::string& dedupe, int64_t now_ms) {
  if (!outbox_) return {};
  extra.emplace("training", c.title);
  extra.emplace("start", when(s.start_ms));
  extra.emplace("place", s.location.empty() ? std::string("-") : s.location);
  auto r = outbox_->enqueue(notify::NoticeRequest{user, kind, std::move(extra), dedupe}, now_ms);
  if (!r) return r.error();
  return {};
}

Status Service::load(const std::string& session, Session& s, Course& c) {
  auto got = store_.lock_session(session);
  if (!got) return got.error();
  if (!*got) return domain_error(Errc::not_found, "training session: no session '" + session + "'");
  s = **got;
  auto course = store_.course(s.course);
  if (!course) return course.error();
  if (!*course) return domain_error(Errc::not_found, "course: no course '" + s.course + "'");
  c = **course;
  return {};
}

Result<Course> Service::create_course(Course c, int64_t now_ms) {
  if (auto why = validate(c)) return domain_error(Errc::not_allowed, "invalid field: " + *why);
  c.created_ms = now_ms;
  return transact<Course>(uow_, [&]() -> Result<Course> {
    LG_TRY(store_.insert_course(c));
    return c;
  });
}

Result<Session> Service::create_session(Session s, int64_t now_ms) {
  if (auto why = validate(s)) return domain_error(Errc::not_allowed, "invalid field: " + *why);
  s.created_ms = now_ms;
  s.cancelled = false;
  return transact<Session>(uow_, [&]() -> Result<Session> {
    auto c = store_.course(s.course);
    if (!c) return c.error();
    if (!*c) return domain_error(Errc::not_found, "course: no course '" + s.course + "'");
    LG_TRY(store_.insert_session(s));
    return s;
  });
}

Result<EnrolOutcome> Service::enrol(const std::string& session, const std::string& user, const std::string& actor,
                                    int64_t now_ms) {
  return transact<EnrolOutcome>(uow_, [&]() -> Result<EnrolOutcome> {
    EnrolFacts f;
    LG_TRY(load(session, f.session, f.course));
    auto existing = store_.enrolment(session, user);
    if (!existing) return existing.error();
    f.existing = *existing;
    auto all = store_.enrolments(session);
    if (!all) return all.error();
    for (const auto& e : *all) f.seats_taken += e.state == EnrolmentState::enrolled ? 1 : 0;
    auto records = store_.records_of(user);
    if (!records) return records.error();
    f.records = std::move(*records);
    f.now_ms = now_ms;
    const EnrolVerdict v = training::enrol(f);
    EnrolOutcome out;
    if (!v.refusal.ok()) {
      out.refusal = v.refusal;
      return out;
    }
    auto seq = store_.next_seq(session);
    if (!seq) return seq.error();
    Enrolment e;
    e.session = session;
    e.user = user;
    e.state = v.state;
    e.seq = *seq;
    e.by = actor;
    e.enrolled_ms = now_ms;
    e.updated_ms = now_ms;
    LG_TRY(store_.put_enrolment(e));
    all->push_back(e);
    out.enrolment = e;
    out.position = waitlist_position(*all, user);
    const std::string status = out.position == 0 ? std::string("已报名 / enrolled")
                                                 : "候补第 " + std::to_string(out.position) +
                                                       " 位 / waitlisted, position " + std::to_string(out.position);
    LG_TRY(notice(user, notify::Kind::training_enrolled, f.course, f.session, {{"status", status}},
                  key("training_enrolled", e), now_ms));
    log::debug(kLog, user + " " + to_string(e.state) + " in " + session + " by " + actor);
    return out;
  });
}

Result<CancelOutcome> Service::cancel(const std::string& session, const std::string& user, const std::string& actor,
                                      int64_t now_ms) {
  return transact<CancelOutcome>(uow_, [&]() -> Result<CancelOutcome> {
    Session s;
    Course c;
    LG_TRY(load(session, s, c));
    auto existing = store_.enrolment(session, user);
    if (!existing) return existing.error();
    CancelOutcome out;
    out.refusal = cancel_refusal(*existing, s, now_ms);
    if (!out.refusal.ok()) return out;
    out.before = **existing;
    Enrolment after = **existing;
    after.state = EnrolmentState::cancelled;
    after.updated_ms = now_ms;
    LG_TRY(store_.put_enrolment(after));
    out.after = after;
    auto all = store_.enrolments(session);
    if (!all) return all.error();
    for (const auto& who : promotions(*all, s.capacity)) {
      for (auto& e : *all) {
        if (e.user != who) continue;
        e.state = EnrolmentState::enrolled;
        e.updated_ms = now_ms;
        LG_TRY(store_.put_enrolment(e));
        LG_TRY(notice(e.user, notify::Kind::training_waitlist_promoted, c, s, {}, key("training_waitlist_promoted", e),
                      now_ms));
        out.promoted.push_back(e);
        log::debug(
            kLog, e.user + " promoted from the waitlist of " + session + " (" + user + " cancelled, by " + actor + ")");
      }
    }
    return out;
  });
}

Result<SessionCancelOutcome> Service::cancel_session(const std::string& session, int64_t now_ms) {
  return transact<SessionCancelOutcome>(uow_, [&]() -> Result<SessionCancelOutcome> {
    Session s;
    Course c;
    LG_TRY(load(session, s, c));
    SessionCancelOutcome out;
    out.refusal = session_cancel_refusal(s, now_ms);
    if (!out.refusal.ok()) return out;
    out.before = s;
    LG_TRY(store_.set_cancelled(session, true));
    auto all = store_.enrolments(session);
    if (!all) return all.error();
    for (const auto& e : *all) {
      if (e.state == EnrolmentState::cancelled) continue;  // whoever holds a seat or waits for one hears of it
      LG_TRY(notice(e.user, notify::Kind::training_cancelled, c, s, {}, key("training_cancelled", e), now_ms));
    }
    s.cancelled = true;
    out.after = s;
    return out;
  });
}

Result<AttendOutcome> Service::attend(const std::string& session, const std::string& user, Attendance a,
                                      int64_t now_ms) {
  return transact<AttendOutcome>(uow_, [&]() -> Result<AttendOutcome> {
    Session s;
    Course c;
    LG_TRY(load(session, s, c));
    auto existing = store_.enrolment(session, user);
    if (!existing) return existing.error();
    AttendOutcome out;
    out.refusal = attendance_refusal(*existing, s);
    if (!out.refusal.ok()) return out;
    out.before = **existing;
    Enrolment after = **existing;
    after.attendance = a;
    after.updated_ms = now_ms;
    LG_TRY(store_.put_enrolment(after));
    out.after = after;
    return out;
  });
}

Result<ResultOutcome> Service::record_result(const std::string& session, const std::string& user, const ResultInput& in,
                                             int64_t now_ms) {
  return transact<ResultOutcome>(uow_, [&]() -> Result<ResultOutcome> {
    Session s;
    Course c;
    LG_TRY(load(session, s, c));
    auto existing = store_.enrolment(session, user);
    if (!existing) return existing.error();
    ResultOutcome out;
    const ResultVerdict v = training::result(c, s, *existing, in);
    if (!v.refusal.ok()) {
      out.refusal = v.refusal;
      return out;
    }
    out.before = **existing;
    Enrolment after = **existing;
    after.score = in.score;
    after.signed_off = in.signed_off;
    after.passed = v.passed;
    after.updated_ms = now_ms;
    LG_TRY(store_.put_enrolment(after));
    out.after = after;
    if (!v.passed) return out;
    Record r{user, c.id, session, now_ms, valid_until(now_ms, c.validity_months)};
    LG_TRY(store_.put_record(r));
    out.record = r;
    std::vector<std::optional<Qualification>> held;
    for (const auto& i : c.instruments) {
      auto q = qualifications_.get(user, i);
      if (!q) return q.error();
      held.push_back(*q);
    }
    out.qualifications = qualification_effects(c, user, held, now_ms);
    std::string granted;
    for (const auto& fx : out.qualifications) {
      if (!fx.kept) LG_TRY(qualifications_.put(fx.after, now_ms));
      granted += (granted.empty() ? "" : ", ") + fx.instrument + " (" + qualification::to_string(fx.after.level) +
                 (fx.kept ? ", kept" : "") + ")";
    }
    LG_TRY(notice(user, notify::Kind::training_passed, c, s,
                  {{"valid_until", r.valid_until_ms ? when(*r.valid_until_ms) : std::string("-")},
                   {"qualifications", granted.empty() ? std::string("-") : granted}},
                  "training_passed:" + session + ":" + user, now_ms));
    return out;
  });
}

Result<int> Service::send_reminders(int64_t now_ms) {
  return transact<int>(uow_, [&]() -> Result<int> {
    auto due = store_.sessions_starting(now_ms, now_ms + kReminderAheadMs);
    if (!due) return due.error();
    int sent = 0;
    for (const auto& s : *due) {
      if (!reminder_due(s, now_ms)) continue;
      auto c = store_.course(s.course);
      if (!c) return c.error();
      if (!*c || !outbox_) continue;
      auto all = store_.enrolments(s.id);
      if (!all) return all.error();
      for (const auto& e : *all) {
        if (e.state != EnrolmentState::enrolled) continue;
        const std::string k = key("training_reminder", e);
        auto fields = notify::Fields{{"training", (*c)->title},
                                     {"start", when(s.start_ms)},
                                     {"place", s.location.empty() ? std::string("-") : s.location}};
        auto r = outbox_->enqueue(notify::NoticeRequest{e.user, notify::Kind::training_reminder, std::move(fields), k},
                                  now_ms);
        if (!r) return r.error();
        sent += *r ? 1 : 0;
      }
    }
    return sent;
  });
}

Result<std::vector<RosterLine>> Service::roster(const std::string& session) {
  auto all = store_.enrolments(session);
  if (!all) return all.error();
  std::vector<RosterLine> out;
  for (const auto& e : *all) out.push_back(RosterLine{e, waitlist_position(*all, e.user)});
  return out;
}

Result<std::vector<MyEnrolment>> Service::enrolments_of(const std::string& user) {
  auto mine = store_.enrolments_of(user);
  if (!mine) return mine.error();
  std::vector<MyEnrolment> out;
  for (const auto& e : *mine) {
    auto s = store_.session(e.session);
    if (!s) return s.error();
    if (!*s) continue;
    int64_t position = 0;
    if (e.state == EnrolmentState::waitlisted) {
      auto all = store_.enrolments(e.session);
      if (!all) return all.error();
      position = waitlist_position(*all, user);
    }
    out.push_back(MyEnrolment{e, **s, position});
  }
  return out;
}

}  // namespace lg::server::training
