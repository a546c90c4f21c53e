"""Qualification levels and lapse at a real terminal (issue 10): the server's bundle carries each
holder's level, the instrument's staffed hours in the site zone and the lapse of unused
qualifications, and the terminal enforces them by itself. An independent user outside the staffed
hours is denied outside_hours while an after-hours user is granted; a supervised user is denied
needs_staff until an admin marks their booking staffed; a qualification unused for longer than the
instrument's lapse months no longer opens (not_valid_now) and is refused for new bookings until it
is renewed."""
import time
from datetime import datetime, timedelta, timezone

from harness import iso_ms, run, wait_until

DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
SHANGHAI = timezone(timedelta(hours=8))  # the harness's site zone, without daylight saving


def staffed_on(days):
    return {d: (["00:00-24:00"] if d in days else []) for d in DAYS}


def put_policy(campus, body):
    status, out = campus.server.request("PUT", "/api/instruments/inst-xrd/booking-policy", body)
    assert status == 200, (status, out)
    return out


def swipe_reason(t, card):
    r = t.swipe(card)
    if r["decision"] == "granted" and r.get("action") == "start":
        assert t.swipe(card)["action"] == "end"  # leave the instrument free for the next one
    return r["decision"], r["reason"]


def test_levels_hours_staff_and_lapse_at_the_terminal(campus):
    campus.seed()
    s = campus.server
    # Alice independent, Bob after hours, Eve supervised
    for user, level in (("u-alice", "independent"), ("u-bob", "after_hours"), ("u-eve", "supervised")):
        status, out = s.request("POST", "/api/qualifications", {"user": user, "instrument": "inst-xrd", "level": level})
        assert status == 201, (status, out)
    quals = {q["user"]: q for q in s.get("/api/qualifications")}
    assert quals["u-alice"]["level"] == "independent" and quals["u-eve"]["level"] == "supervised", quals
    status, out = s.request("POST", "/api/qualifications", {"user": "u-eve", "instrument": "inst-xrd", "level": "expert"})
    assert status == 422 and "level" in out["error"], (status, out)

    # Staff on duty only three days from now (in the site zone): not today.
    today = datetime.now(SHANGHAI).weekday()
    policy = put_policy(campus, {"staffed": staffed_on({DAYS[(today + 3) % 7]})})
    assert policy["staffed"][DAYS[(today + 3) % 7]] == ["00:00-24:00"], policy
    t = campus.terminal()
    v = campus.wait_synced(t.id)
    assert swipe_reason(t, "A1A1A1A1") == ("denied", "outside_hours")
    assert swipe_reason(t, "B2B2B2B2") == ("granted", "qualified")
    assert swipe_reason(t, "E5E5E5E5") == ("denied", "outside_hours")
    # the server refuses Alice's booking for now with the same rule
    now = time.time()
    status, out = s.request("POST", "/api/bookings", {"instrument": "inst-xrd", "user": "u-alice",
                                                      "start": iso_ms(now + 600), "end": iso_ms(now + 2400)})
    assert status == 422 and out["rule"] == "outside_hours", (status, out)

    # Staff on duty every day, all day: Alice is granted; Eve still needs a staffed booking.
    put_policy(campus, {"staffed": staffed_on(set(DAYS))})
    v = campus.wait_synced(t.id, above=v)
    assert swipe_reason(t, "A1A1A1A1") == ("granted", "qualified")
    assert swipe_reason(t, "E5E5E5E5") == ("denied", "needs_staff")
    booking = s.post("/api/bookings", {"instrument": "inst-xrd", "user": "u-eve",
                                       "start": iso_ms(now), "end": iso_ms(now + 3600)})
    row = next(b for b in s.get("/api/bookings?limit=100") if b["id"] == booking["id"])
    assert row["staffed"] is False, row
    v = campus.wait_synced(t.id, above=v)
    assert swipe_reason(t, "E5E5E5E5") == ("denied", "needs_staff")
    status, out = s.request("PUT", f"/api/bookings/{booking['id']}/staffed", {"staffed": True})
    assert status == 200 and out["staffed"] is True, (status, out)
    status, again = s.request("PUT", f"/api/bookings/{booking['id']}/staffed", {"staffed": True})
    assert status == 409, (status, again)
    status, bad = s.request("PUT", f"/api/bookings/{booking['id']}/staffed", {})
    assert status == 400, (status, bad)
    v = campus.wait_synced(t.id, above=v)
    assert swipe_reason(t, "E5E5E5E5") == ("granted", "qualified")
    audit = s.get(f"/api/audit?entity=booking&entity_id={booking['id']}")
    assert [a["action"] for a in audit].count("staff") == 1, audit

    # Lapse after one month without use. Bob's qualification dates from the seed (long ago) but
    # he used the instrument today; Frank's was granted 40 days ago and never used.
    s.post("/api/users", {"id": "u-frank", "name": "Frank", "category": "internal"})
    s.post("/api/cards", {"uid": "F6F6F6F6", "user": "u-frank"})
    s.post("/api/qualifications", {"user": "u-frank", "instrument": "inst-xrd", "valid_from": iso_ms(now - 40 * 86400)})
    # Bob's session has reached the server (the terminal sends it asynchronously)
    wait_until(lambda: "u-bob" in {x["user"] for x in s.get("/api/sessions?instrument=inst-xrd")}, 30,
               what="Bob's session on the server")
    v = campus.wait_synced(t.id, above=v - 1)
    put_policy(campus, {"staffed": staffed_on(set(DAYS)), "lapse_months": 1})
    v = campus.wait_synced(t.id, above=v)
    assert swipe_reason(t, "F6F6F6F6") == ("denied", "not_valid_now")
    assert swipe_reason(t, "B2B2B2B2") == ("granted", "qualified")
    status, out = s.request("POST", "/api/bookings", {"instrument": "inst-xrd", "user": "u-frank",
                                                      "start": iso_ms(now + 7200), "end": iso_ms(now + 9000)})
    assert status == 422 and "unused for 1 months" in out["error"], (status, out)
    # renewed (a new grant from now): he is in again
    s.post("/api/qualifications", {"user": "u-frank", "instrument": "inst-xrd", "valid_from": iso_ms(now)})
    campus.wait_synced(t.id, above=v)
    assert swipe_reason(t, "F6F6F6F6") == ("granted", "qualified")


if __name__ == "__main__":
    run([test_levels_hours_staff_and_lapse_at_the_terminal])
