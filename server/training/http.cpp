#include "server/training/http.hpp"

#include "server/audit/http.hpp"
#include "server/audit/record.hpp"
#include "server/identity/rules.hpp"
#include "server/qualification/rules.hpp"
#include "server/transport/http/json_api.hpp"

namespace lg::server::training {

using namespace http;
using identity::Kind;
using identity::Right;

namespace {

json course_json(const Course& c, const ApiContext& ctx) {
  json j{{"id", c.id},
         {"title", c.title},
         {"kind", to_string(c.kind)},
         {"unit", c.unit.empty() ? json(nullptr) : json(c.unit)},
         {"instruments", c.instruments},
         {"prerequisites", c.prerequisites},
         {"level", qualification::to_string(c.level)},
         {"validity_months", c.validity_months},
         {"assessment", to_string(c.assessment)},
         {"pass_mark", c.assessment == Assessment::exam ? json(c.pass_mark) : json(nullptr)},
         {"created", ctx.time(c.created_ms)}};
  return j;
}

json session_json(const Session& s, const ApiContext& ctx) {
  return json{{"id", s.id},
              {"course", s.course},
              {"start", ctx.time(s.start_ms)},
              {"end", ctx.time(s.end_ms)},
              {"location", s.location},
              {"trainer", s.trainer},
              {"capacity", s.capacity},
              {"cancelled", s.cancelled},
              {"created", ctx.time(s.created_ms)}};
}

json enrolment_json(const Enrolment& e, int64_t position, const ApiContext& ctx) {
  return json{{"session", e.session},
              {"user", e.user},
              {"state", to_string(e.state)},
              {"seq", e.seq},
              {"waitlist_position", e.state == EnrolmentState::waitlisted ? json(position) : json(nullptr)},
              {"attendance", to_string(e.attendance)},
              {"score", int_or_null(e.score)},
              {"signed_off", e.signed_off},
              {"passed", e.passed ? json(*e.passed) : json(nullptr)},
              {"by", e.by},
              {"enrolled", ctx.time(e.enrolled_ms)},
              {"updated", ctx.time(e.updated_ms)}};
}

json record_json(const Record& r, const ApiContext& ctx) {
  return json{{"user", r.user},
              {"course", r.course},
              {"session", r.session},
              {"passed", ctx.time(r.passed_ms)},
              {"valid_until", ctx.time_or_null(r.valid_until_ms)}};
}

json qualification_json(const Qualification& q, const ApiContext& ctx) {
  return json{{"user", q.user},
              {"instrument", q.instrument},
              {"valid_from", ctx.time(q.valid_from_ms)},
              {"valid_until", ctx.time_or_null(q.valid_until_ms)},
              {"level", qualification::to_string(q.level)},
              {"source", q.source}};
}

/// A rule's refusal: 422 with {error, rule}.
Response refusal(const Refusal& r) { return reply(422, json{{"error", r.reason}, {"rule", r.rule}}); }

/// True when the caller manages course c: instrument_write over every instrument of an
/// instrument course (its instrument admins, the unit admins above, system admins);
/// instrument_write over the unit of a safety course (its unit admins and system admins: an
/// instrument admin's grant covers one instrument, not a unit).
bool manages(const Request& req, const ApiContext& ctx, const Course& c) {
  switch (c.kind) {
    case CourseKind::safety: return ctx.may(req, Right::instrument_write, {{Kind::unit, c.unit}});
    case CourseKind::instrument:
      for (const auto& i : c.instruments)
        if (!ctx.may(req, Right::instrument_write, {{Kind::instrument, i}})) return false;
      return !c.instruments.empty();
  }
  return false;
}

std::string who_manages(const Course& c) {
  return c.kind == CourseKind::safety ? "instrument_write over unit " + c.unit
                                      : std::string("instrument_write over each of the course's instruments");
}

/// Reads an optional array of ids into out; false with bad set when it is not one.
bool read_ids(const json& body, const char* key, std::vector<std::string>& out, Response& bad) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return true;
  if (!it->is_array()) {
    bad = error(422, std::string("invalid field: ") + key + ": must be an array of ids");
    return false;
  }
  for (const auto& v : *it) {
    if (!v.is_string() || !proto::valid_id(v.get<std::string>())) {
      bad = error(422, std::string("invalid field: ") + key + ": each must be 1..64 of [A-Za-z0-9_.:-]");
      return false;
    }
    out.push_back(v.get<std::string>());
  }
  return true;
}

bool read_course(const json& body, Course& c, Response& bad) {
  Fields f(body, {"id", "title", "kind", "unit", "instruments", "prerequisites", "level", "validity_months",
                  "assessment", "pass_mark"});
  c.id = f.id("id");
  c.title = f.text("title");
  const std::string kind = f.one_of("kind", {"safety", "instrument"});
  c.unit = f.id("unit", false);
  const std::string level = f.text("level", false);
  c.validity_months = f.opt_integer("validity_months", 0, kMaxValidityMonths).value_or(0);
  const std::string assessment = f.one_of("assessment", {"exam", "sign_off"});
  const auto pass_mark = f.opt_integer("pass_mark", 0, 100);
  if (!level.empty() && !qualification::level_from(level))
    f.invalid("level", "must be supervised, independent or after_hours");
  if (!f.ok()) {
    bad = f.response();
    return false;
  }
  c.kind = course_kind_from(kind).value_or(CourseKind::instrument);
  c.level = qualification::level_from(level).value_or(QualificationLevel::independent);
  c.assessment = assessment_from(assessment).value_or(Assessment::exam);
  if (c.assessment == Assessment::sign_off && pass_mark) {
    bad = error(422, "invalid field: pass_mark: a sign_off course has no pass mark");
    return false;
  }
  c.pass_mark = pass_mark.value_or(60);
  if (!read_ids(body, "instruments", c.instruments, bad) || !read_ids(body, "prerequisites", c.prerequisites, bad))
    return false;
  if (auto why = validate(c)) {
    bad = error(422, "invalid field: " + *why);
    return false;
  }
  return true;
}

/// The session and its course, or the answer that says why not (404).
bool session_and_course(Service& service, const std::string& id, Session& s, Course& c, Response& bad) {
  auto got = service.session(id);
  if (!got) {
    bad = failure(got.error());
    return false;
  }
  if (!*got) {
    bad = error(404, "training session: no session '" + id + "'");
    return false;
  }
  s = **got;
  auto course = service.course(s.course);
  if (!course) {
    bad = failure(course.error());
    return false;
  }
  if (!*course) {
    bad = error(404, "course: no course '" + s.course + "'");
    return false;
  }
  c = **course;
  return true;
}

/// The trainee a request names (body field `user`, or the caller) and whether the caller may act
/// for them: themselves or whom they hold Right::self over (a PI, a unit admin), or as a manager of
/// the course. bad is set when not.
std::optional<std::string> trainee(const Request& req, const ApiContext& ctx, const Course& c, const std::string& named,
                                   Response& bad) {
  const std::string user = named.empty() ? req.who().user : named;
  if (user.empty()) {
    bad = error(422, "invalid field: user: the caller is no user (the bootstrap token): name the trainee");
    return std::nullopt;
  }
  if (!ctx.may(req, Right::self, {{Kind::user, user}}) && !manages(req, ctx, c)) {
    bad = error(403, "forbidden: a user enrols themselves; for " + user + " it takes Right::self over them or " +
                         who_manages(c));
    return std::nullopt;
  }
  return user;
}

/// The counts of a session's roster.
json counts(const std::vector<RosterLine>& lines, int64_t capacity) {
  int64_t enrolled = 0, waitlisted = 0;
  for (const auto& l : lines) {
    enrolled += l.enrolment.state == EnrolmentState::enrolled ? 1 : 0;
    waitlisted += l.enrolment.state == EnrolmentState::waitlisted ? 1 : 0;
  }
  return json{
      {"enrolled", enrolled}, {"waitlisted", waitlisted}, {"seats_free", std::max<int64_t>(0, capacity - enrolled)}};
}

/// A manager's change to one trainee of a session (attendance, result): the session's course is
/// managed by the caller (403 otherwise).
bool managed_session(const Request& req, const ApiContext& ctx, Service& service, const std::string& id, Session& s,
                     Course& c, Response& bad) {
  if (!session_and_course(service, id, s, c, bad)) return false;
  if (!manages(req, ctx, c)) {
    bad = error(403, "forbidden: session " + id + " of course " + c.id + " is managed with " + who_manages(c));
    return false;
  }
  return true;
}

}  // namespace

void add_routes(Router& router, const ApiContext& ctx, Service& service, UnitOfWork& uow, audit::Store& audit) {
  // Courses: created by whom manages them (manages()); read by every signed-in user.
  router.add({"POST", "/api/courses", Access::any(Right::instrument_write),
              [&](const Request& req, const PathParams&) {
                Response bad;
                auto body = parse_body(req, bad);
                if (!body) return bad;
                Course c;
                if (!read_course(*body, c, bad)) return bad;
                if (!manages(req, ctx, c))
                  return error(403, "forbidden: course " + c.id + " is created with " + who_manages(c));
                const int64_t now = ctx.now();
                std::optional<Course> made;
                auto s = audit::record(
                    uow, audit, audit::request_context(req), now, [&]() -> Result<std::optional<audit::Change>> {
                      auto r = service.create_course(c, now);
                      if (!r) return r.error();
                      made = *r;
                      return audit::changed(
                          audit::Change{"create", "training_course", made->id, "", course_json(*made, ctx).dump()});
                    });
                if (!s) return failure(s.error());
                return reply(201, course_json(*made, ctx));
              },
              "Create a training course: safety (a unit's) or for one or several instruments, with prerequisites, "
              "the level it grants, validity and assessment"});
  router.add({"GET", "/api/courses", Access::any(Right::self),
              [&](const Request& req, const PathParams&) {
                Response bad;
                auto page = page_param(req, "courses", ctx, bad);
                if (!page) return bad;
                return page_reply<Course>(req, "courses", ctx, page->limit, service.courses(*page),
                                          [&](const Course& c) { return course_json(c, ctx); });
              },
              "Training courses by id, paged"});
  router.add({"GET", "/api/courses/{id}", Access::any(Right::self),
              [&](const Request&, const PathParams& pp) {
                auto c = service.course(pp.at("id"));
                if (!c) return failure(c.error());
                if (!*c) return error(404, "course: no course '" + pp.at("id") + "'");
                return reply(200, course_json(**c, ctx));
              },
              "One training course"});
  router.add(
      {"POST", "/api/courses/{id}/sessions", Access::any(Right::instrument_write),
       [&](const Request& req, const PathParams& pp) {
         auto c = service.course(pp.at("id"));
         if (!c) return failure(c.error());
         if (!*c) return error(404, "course: no course '" + pp.at("id") + "'");
         if (!manages(req, ctx, **c))
           return error(403, "forbidden: sessions of course " + (*c)->id + " are scheduled with " + who_manages(**c));
         Response bad;
         auto body = parse_body(req, bad);
         if (!body) return bad;
         Fields f(*body, {"id", "start", "end", "location", "trainer", "capacity"});
         Session s;
         s.id = f.id("id");
         s.course = (*c)->id;
         s.start_ms = f.time("start", true).value_or(0);
         s.end_ms = f.time("end", true).value_or(0);
         s.location = f.opt_text("location");
         s.trainer = f.opt_text("trainer");
         s.capacity = f.integer("capacity", 1, kMaxCapacity);
         if (!f.ok()) return f.response();
         if (auto why = validate(s)) return error(422, "invalid field: " + *why);
         const int64_t now = ctx.now();
         std::optional<Session> made;
         auto st =
             audit::record(uow, audit, audit::request_context(req), now, [&]() -> Result<std::optional<audit::Change>> {
               auto r = service.create_session(s, now);
               if (!r) return r.error();
               made = *r;
               return audit::changed(
                   audit::Change{"create", "training_session", made->id, "", session_json(*made, ctx).dump()});
             });
         if (!st) return failure(st.error());
         json j = session_json(*made, ctx);
         j.update(counts({}, made->capacity));
         return reply(201, j);
       },
       "Schedule a session of a course (start, end, location, trainer, capacity)"});
  router.add({"GET", "/api/courses/{id}/sessions", Access::any(Right::self),
              [&](const Request&, const PathParams& pp) {
                auto c = service.course(pp.at("id"));
                if (!c) return failure(c.error());
                if (!*c) return error(404, "course: no course '" + pp.at("id") + "'");
                auto all = service.sessions_of((*c)->id);
                if (!all) return failure(all.error());
                json arr = json::array();
                for (const auto& s : *all) {
                  auto lines = service.roster(s.id);
                  if (!lines) return failure(lines.error());
                  json j = session_json(s, ctx);
                  j.update(counts(*lines, s.capacity));
                  arr.push_back(std::move(j));
                }
                return reply(200, arr);
              },
              "A course's sessions by start, with seats taken, free and waitlisted"});

  // Enrolment: the trainee themself, someone holding Right::self over them, or the course's managers.
  router.add({"POST", "/api/training-sessions/{id}/enrolments", Access::any(Right::self),
              [&](const Request& req, const PathParams& pp) {
                const std::string& id = pp.at("id");
                std::string named;
                if (!req.body.empty()) {
                  Response bad;
                  auto body = parse_body(req, bad);
                  if (!body) return bad;
                  Fields f(*body, {"user"});
                  named = f.id("user", false);
                  if (!f.ok()) return f.response();
                }
                Session s;
                Course c;
                Response bad;
                if (!session_and_course(service, id, s, c, bad)) return bad;
                auto user = trainee(req, ctx, c, named, bad);
                if (!user) return bad;
                const int64_t now = ctx.now();
                std::optional<EnrolOutcome> out;
                auto st = audit::record(
                    uow, audit, audit::request_context(req), now, [&]() -> Result<std::optional<audit::Change>> {
                      auto r = service.enrol(id, *user, req.who().actor(), now);
                      if (!r) return r.error();
                      out = std::move(*r);
                      if (!out->enrolment) return audit::unchanged();
                      return audit::changed(audit::Change{"enrol", "training_enrolment", id + "/" + *user, "",
                                                          enrolment_json(*out->enrolment, out->position, ctx).dump()});
                    });
                if (!st) return failure(st.error());
                if (!out->enrolment) return refusal(out->refusal);
                return reply(201, enrolment_json(*out->enrolment, out->position, ctx));
              },
              "Enrol in a training session ({user} for someone else): a seat, or the waitlist when it is full; "
              "422 {error, rule} when a rule refuses"});
  router.add({"DELETE", "/api/training-sessions/{id}/enrolments/{user}", Access::any(Right::self),
              [&](const Request& req, const PathParams& pp) {
                const std::string& id = pp.at("id");
                Session s;
                Course c;
                Response bad;
                if (!session_and_course(service, id, s, c, bad)) return bad;
                auto user = trainee(req, ctx, c, pp.at("user"), bad);
                if (!user) return bad;
                const int64_t now = ctx.now();
                const audit::Context actx = audit::request_context(req);
                std::optional<CancelOutcome> out;
                auto st = audit::record(uow, audit, actx, now, [&]() -> Result<std::optional<audit::Change>> {
                  auto r = service.cancel(id, *user, req.who().actor(), now);
                  if (!r) return r.error();
                  out = std::move(*r);
                  if (!out->after) return audit::unchanged();
                  for (const auto& p : out->promoted) {
                    json before = enrolment_json(p, 1, ctx);
                    before["state"] = "waitlisted";
                    auto e = audit.append(actx,
                                          audit::Change{"promote", "training_enrolment", id + "/" + p.user,
                                                        before.dump(), enrolment_json(p, 0, ctx).dump()},
                                          now);
                    if (!e) return e.error();
                  }
                  return audit::changed(audit::Change{"cancel", "training_enrolment", id + "/" + *user,
                                                      enrolment_json(*out->before, 0, ctx).dump(),
                                                      enrolment_json(*out->after, 0, ctx).dump()});
                });
                if (!st) return failure(st.error());
                if (!out->after) return refusal(out->refusal);
                json j = enrolment_json(*out->after, 0, ctx);
                j["promoted"] = json::array();
                for (const auto& p : out->promoted) j["promoted"].push_back(p.user);
                return reply(200, j);
              },
              "Cancel an enrolment (a seat or a waitlist place); the first waitlisted take the seats it frees"});
  router.add(
      {"POST", "/api/training-sessions/{id}/cancel", Access::any(Right::instrument_write),
       [&](const Request& req, const PathParams& pp) {
         const std::string& id = pp.at("id");
         Session s;
         Course c;
         Response bad;
         if (!managed_session(req, ctx, service, id, s, c, bad)) return bad;
         const int64_t now = ctx.now();
         std::optional<SessionCancelOutcome> out;
         auto st =
             audit::record(uow, audit, audit::request_context(req), now, [&]() -> Result<std::optional<audit::Change>> {
               auto r = service.cancel_session(id, now);
               if (!r) return r.error();
               out = std::move(*r);
               if (!out->after) return audit::unchanged();
               return audit::changed(audit::Change{"cancel", "training_session", id,
                                                   session_json(*out->before, ctx).dump(),
                                                   session_json(*out->after, ctx).dump()});
             });
         if (!st) return failure(st.error());
         if (!out->after) return refusal(out->refusal);
         return reply(200, session_json(*out->after, ctx));
       },
       "Call a session off before it starts (the course's managers); its enrolments stay, marked by the session"});
  router.add({"GET", "/api/training-sessions/{id}/roster", Access::any(Right::instrument_write),
              [&](const Request& req, const PathParams& pp) {
                Session s;
                Course c;
                Response bad;
                if (!managed_session(req, ctx, service, pp.at("id"), s, c, bad)) return bad;
                auto lines = service.roster(s.id);
                if (!lines) return failure(lines.error());
                json j = session_json(s, ctx);
                j.update(counts(*lines, s.capacity));
                j["enrolments"] = json::array();
                j["waitlist"] = json::array();
                for (const auto& l : *lines) {
                  if (l.enrolment.state == EnrolmentState::enrolled)
                    j["enrolments"].push_back(enrolment_json(l.enrolment, 0, ctx));
                  if (l.enrolment.state == EnrolmentState::waitlisted)
                    j["waitlist"].push_back(enrolment_json(l.enrolment, l.position, ctx));
                }
                return reply(200, j);
              },
              "A session's roster: who holds a seat, and the waitlist with positions (the course's managers)"});
  router.add({"POST", "/api/training-sessions/{id}/attendance", Access::any(Right::instrument_write),
              [&](const Request& req, const PathParams& pp) {
                const std::string& id = pp.at("id");
                Session s;
                Course c;
                Response bad;
                if (!managed_session(req, ctx, service, id, s, c, bad)) return bad;
                auto body = parse_body(req, bad);
                if (!body) return bad;
                Fields f(*body, {"user", "attendance"});
                const std::string user = f.id("user");
                const std::string a = f.one_of("attendance", {"attended", "absent"});
                if (!f.ok()) return f.response();
                const int64_t now = ctx.now();
                std::optional<AttendOutcome> out;
                auto st = audit::record(
                    uow, audit, audit::request_context(req), now, [&]() -> Result<std::optional<audit::Change>> {
                      auto r = service.attend(id, user, attendance_from(a).value_or(Attendance::unknown), now);
                      if (!r) return r.error();
                      out = std::move(*r);
                      if (!out->after) return audit::unchanged();
                      return audit::changed(audit::Change{"attendance", "training_enrolment", id + "/" + user,
                                                          enrolment_json(*out->before, 0, ctx).dump(),
                                                          enrolment_json(*out->after, 0, ctx).dump()});
                    });
                if (!st) return failure(st.error());
                if (!out->after) return refusal(out->refusal);
                return reply(200, enrolment_json(*out->after, 0, ctx));
              },
              "Record a trainee's attendance (attended | absent) (the course's managers)"});
  router.add({"POST", "/api/training-sessions/{id}/result", Access::any(Right::instrument_write),
              [&](const Request& req, const PathParams& pp) {
                const std::string& id = pp.at("id");
                Session s;
                Course c;
                Response bad;
                if (!managed_session(req, ctx, service, id, s, c, bad)) return bad;
                auto body = parse_body(req, bad);
                if (!body) return bad;
                Fields f(*body, {"user", "score", "signed_off"});
                const std::string user = f.id("user");
                ResultInput in;
                in.score = f.opt_integer("score", 0, 100);
                in.signed_off = f.flag("signed_off", false);
                if (!f.ok()) return f.response();
                const int64_t now = ctx.now();
                const audit::Context actx = audit::request_context(req);
                std::optional<ResultOutcome> out;
                auto st = audit::record(uow, audit, actx, now, [&]() -> Result<std::optional<audit::Change>> {
                  auto r = service.record_result(id, user, in, now);
                  if (!r) return r.error();
                  out = std::move(*r);
                  if (!out->after) return audit::unchanged();
                  // Each qualification the pass set, or kept (not lowered, not shortened), has its own entry.
                  for (const auto& fx : out->qualifications) {
                    const std::string key = user + "/" + fx.instrument;
                    json after = qualification_json(fx.after, ctx);
                    if (fx.kept) after["kept"] = fx.why;
                    auto e = audit.append(
                        actx,
                        audit::Change{fx.kept ? "keep" : (fx.before ? "update" : "create"), "qualification", key,
                                      fx.before ? qualification_json(*fx.before, ctx).dump() : "", after.dump()},
                        now);
                    if (!e) return e.error();
                  }
                  json after = enrolment_json(*out->after, 0, ctx);
                  if (out->record) after["record"] = record_json(*out->record, ctx);
                  return audit::changed(audit::Change{"result", "training_enrolment", id + "/" + user,
                                                      enrolment_json(*out->before, 0, ctx).dump(), after.dump()});
                });
                if (!st) return failure(st.error());
                if (!out->after) return refusal(out->refusal);
                json j = enrolment_json(*out->after, 0, ctx);
                j["record"] = out->record ? record_json(*out->record, ctx) : json(nullptr);
                j["qualifications"] = json::array();
                for (const auto& fx : out->qualifications) {
                  json q = qualification_json(fx.after, ctx);
                  q["kept"] = fx.kept;
                  if (fx.kept) q["why"] = fx.why;
                  j["qualifications"].push_back(std::move(q));
                  if (!fx.kept) ctx.changed(fx.instrument);  // its terminals get a new bundle
                }
                return reply(200, j);
              },
              "Record a trainee's result: {score} for an exam course, {signed_off: true} for a sign-off; a pass "
              "leaves a training record and, for an instrument course, the qualifications (the course's managers)"});
  router.add({"GET", "/api/me/trainings", Access::signed_in(),
              [&](const Request& req, const PathParams&) {
                json j{{"enrolments", json::array()}, {"records", json::array()}};
                const std::string& user = req.who().user;
                if (user.empty()) return reply(200, j);  // the bootstrap token is nobody
                auto mine = service.enrolments_of(user);
                if (!mine) return failure(mine.error());
                for (const auto& m : *mine) {
                  json e = enrolment_json(m.enrolment, m.waitlist_position, ctx);
                  e["course"] = m.session.course;
                  e["start"] = ctx.time(m.session.start_ms);
                  e["end"] = ctx.time(m.session.end_ms);
                  e["location"] = m.session.location;
                  e["session_cancelled"] = m.session.cancelled;
                  j["enrolments"].push_back(std::move(e));
                }
                auto records = service.records_of(user);
                if (!records) return failure(records.error());
                const int64_t now = ctx.now();
                for (const auto& r : *records) {
                  json rj = record_json(r, ctx);
                  rj["valid"] = record_valid(r, now);
                  j["records"].push_back(std::move(rj));
                }
                return reply(200, j);
              },
              "The caller's training: enrolments (newest first, with waitlist positions) and training records"});
}

}  // namespace lg::server::training
