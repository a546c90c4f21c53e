"""Training to qualification on real processes (server, broker, terminal): a lab safety course
and an XRD course (safety a prerequisite, one seat per session). A user without the safety
record is refused naming the rule; two trainees pass safety, enrol in the XRD session (the
second is waitlisted), the first cancels and the second is promoted and told so
(training_waitlist_promoted in the outbox); attendance and a passing score give the trainee a
qualification on the XRD with the course's level and source, and the XRD's terminal applies a
new bundle. And 24 enrolments at once into a session of 3 seats: never more than 3 seated.
"""
import threading
import time

from harness import TOKEN, iso_ms, run


def login(server, user, password):
    status, out = server.request("PUT", f"/api/users/{user}/password", {"password": password})
    assert status == 200, (status, out)
    status, out = server.request("POST", "/api/login", {"user": user, "password": password}, token=None)
    assert status == 201, (status, out)
    return out["token"]


def call(server, method, path, token, body=None, expect=200):
    status, out = server.request(method, path, body, token=token)
    assert status == expect, f"{method} {path} {body} -> {status} {out} (expected {expect})"
    return out


def test_training_to_qualification(campus):
    s = campus.server
    campus.seed()
    for uid, name in (("u-tina", "Tina (trainee)"), ("u-tom", "Tom (trainee)")):
        s.post("/api/users", {"id": uid, "name": name, "category": "internal", "unit": "chem"})
    s.post("/api/cards", {"uid": "70707070", "user": "u-tom"})  # a card: his grant will be in the bundle
    tina = login(s, "u-tina", "tina's long password")
    tom = login(s, "u-tom", "tom's long password")
    eve = login(s, "u-eve", "eve's long password")
    alice = login(s, "u-alice", "alice's long password")
    t = campus.terminal()
    version = campus.wait_synced(t.id)

    # A plain user creates no course; the admin creates both.
    safety = {"id": "safety-chem", "title": "实验室安全 Lab safety", "kind": "safety", "unit": "chem",
              "validity_months": 12, "assessment": "sign_off"}
    call(s, "POST", "/api/courses", alice, safety, expect=403)
    call(s, "POST", "/api/courses", TOKEN, safety, expect=201)
    course = call(s, "POST", "/api/courses", TOKEN, {
        "id": "xrd-course", "title": "Powder XRD operation", "kind": "instrument", "instruments": ["inst-xrd"],
        "prerequisites": ["safety-chem"], "level": "supervised", "validity_months": 12, "assessment": "exam",
        "pass_mark": 60}, expect=201)
    assert course["level"] == "supervised" and course["prerequisites"] == ["safety-chem"], course
    start = time.time() + 2 * 86400  # two days ahead: enrolment is open
    session = call(s, "POST", "/api/courses/xrd-course/sessions", TOKEN, {
        "id": "xrd-s1", "start": iso_ms(start), "end": iso_ms(start + 7200), "location": "Room 101",
        "trainer": "Dr. Wang", "capacity": 1}, expect=201)
    assert session["capacity"] == 1 and session["seats_free"] == 1, session

    # Without the safety record: refused, naming the rule.
    out = call(s, "POST", "/api/training-sessions/xrd-s1/enrolments", eve, expect=422)
    assert out["rule"] == "enrol.prerequisite" and "safety-chem" in out["error"], out

    # Tina and Tom pass lab safety (signed off).
    call(s, "POST", "/api/courses/safety-chem/sessions", TOKEN, {
        "id": "safety-s1", "start": iso_ms(start - 86400), "end": iso_ms(start - 86400 + 3600), "capacity": 10},
        expect=201)
    for uid, token in (("u-tina", tina), ("u-tom", tom)):
        call(s, "POST", "/api/training-sessions/safety-s1/enrolments", token, expect=201)
        call(s, "POST", "/api/training-sessions/safety-s1/attendance", TOKEN, {"user": uid, "attendance": "attended"})
        r = call(s, "POST", "/api/training-sessions/safety-s1/result", TOKEN, {"user": uid, "signed_off": True})
        assert r["passed"] is True and r["record"]["course"] == "safety-chem", r

    # One seat: Tina takes it, Tom is waitlisted.
    first = call(s, "POST", "/api/training-sessions/xrd-s1/enrolments", tina, expect=201)
    assert first["state"] == "enrolled", first
    second = call(s, "POST", "/api/training-sessions/xrd-s1/enrolments", tom, expect=201)
    assert second["state"] == "waitlisted" and second["waitlist_position"] == 1, second
    roster = call(s, "GET", "/api/training-sessions/xrd-s1/roster", TOKEN)
    assert [e["user"] for e in roster["enrolments"]] == ["u-tina"], roster
    assert [(e["user"], e["waitlist_position"]) for e in roster["waitlist"]] == [("u-tom", 1)], roster
    mine = call(s, "GET", "/api/me/trainings", tom)
    assert any(e["session"] == "xrd-s1" and e["waitlist_position"] == 1 for e in mine["enrolments"]), mine

    # Tina cancels: Tom is promoted in the same unit of work and hears of it.
    out = call(s, "DELETE", "/api/training-sessions/xrd-s1/enrolments/u-tina", tina)
    assert out["state"] == "cancelled" and out["promoted"] == ["u-tom"], out
    notices = s.get("/api/notices?user=u-tom&limit=100")
    assert "training_waitlist_promoted" in [n["kind"] for n in notices], notices
    roster = call(s, "GET", "/api/training-sessions/xrd-s1/roster", TOKEN)
    assert [e["user"] for e in roster["enrolments"]] == ["u-tom"] and roster["waitlist"] == [], roster

    # Attendance and a passing score: the qualification, with the course's level and source.
    out = call(s, "POST", "/api/training-sessions/xrd-s1/result", TOKEN, {"user": "u-tom", "score": 80}, expect=422)
    assert out["rule"] == "result.not_attended", out
    call(s, "POST", "/api/training-sessions/xrd-s1/attendance", TOKEN, {"user": "u-tom", "attendance": "attended"})
    result = call(s, "POST", "/api/training-sessions/xrd-s1/result", TOKEN, {"user": "u-tom", "score": 80})
    assert result["passed"] is True and result["record"]["valid_until"] is not None, result
    quals = [q for q in s.get("/api/qualifications?limit=1000") if q["user"] == "u-tom"]
    assert len(quals) == 1, quals
    q = quals[0]
    assert q["instrument"] == "inst-xrd" and q["level"] == "supervised" and q["source"] == "training:xrd-course", q
    assert q["valid_until"] is not None, q
    assert "training_passed" in [n["kind"] for n in s.get("/api/notices?user=u-tom&limit=100")]
    # The XRD's terminal gets a bundle with it (Tom's card now holds a grant there).
    campus.wait_synced(t.id, above=version)
    # Every step is in the audit log.
    actions = sorted(e["action"] for e in s.get("/api/audit?entity=training_enrolment&limit=1000"))
    assert actions.count("enrol") == 4 and "cancel" in actions and "promote" in actions, actions
    assert any(e["entity_id"] == "u-tom/inst-xrd" for e in s.get("/api/audit?entity=qualification&limit=1000"))


def test_capacity_under_concurrency(campus):
    """24 enrolments at once into a session of 3 seats, then 2 cancellations at once: the seats never
    exceed the capacity, the waitlist keeps one place per person (1, 2, 3, ...) and the freed seats go
    to the first two waiting."""
    s = campus.server
    s.post("/api/units", {"id": "chem", "name": "College of Chemistry"})
    s.post("/api/labs", {"id": "lab-xrd", "name": "X-ray lab", "unit": "chem"})
    s.post("/api/instruments", {"id": "inst-xrd", "name": "Powder XRD", "lab": "lab-xrd", "kind": "instrument"})
    users = [f"u-{i:02d}" for i in range(24)]
    for u in users:
        s.post("/api/users", {"id": u, "name": u, "category": "internal", "unit": "chem"})
    s.post("/api/courses", {"id": "xrd-open", "title": "XRD (no prerequisite)", "kind": "instrument",
                            "instruments": ["inst-xrd"], "assessment": "exam"})
    start = time.time() + 2 * 86400
    s.post("/api/courses/xrd-open/sessions", {"id": "race", "start": iso_ms(start), "end": iso_ms(start + 3600),
                                              "capacity": 3})

    def at_once(calls):
        gate = threading.Barrier(len(calls))
        out = [None] * len(calls)

        def one(i, method, path, body):
            gate.wait()
            out[i] = s.request(method, path, body)
        threads = [threading.Thread(target=one, args=(i, *c)) for i, c in enumerate(calls)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return out

    answers = at_once([("POST", "/api/training-sessions/race/enrolments", {"user": u}) for u in users])
    assert all(status == 201 for status, _ in answers), [a for a in answers if a[0] != 201]
    roster = s.get("/api/training-sessions/race/roster")
    seated = [e["user"] for e in roster["enrolments"]]
    assert len(seated) == 3 and roster["seats_free"] == 0, roster
    positions = [e["waitlist_position"] for e in roster["waitlist"]]
    assert positions == list(range(1, 22)), positions
    first_two = [e["user"] for e in roster["waitlist"][:2]]

    answers = at_once([("DELETE", f"/api/training-sessions/race/enrolments/{u}", None) for u in seated[:2]])
    assert all(status == 200 for status, _ in answers), answers
    promoted = sorted(u for _, out in answers for u in out["promoted"])
    assert promoted == sorted(first_two), (promoted, first_two)
    roster = s.get("/api/training-sessions/race/roster")
    assert sorted(e["user"] for e in roster["enrolments"]) == sorted([seated[2]] + first_two), roster
    assert [e["waitlist_position"] for e in roster["waitlist"]] == list(range(1, 20)), roster


if __name__ == "__main__":
    run([test_training_to_qualification, test_capacity_under_concurrency])
