"""An instrument that needs a booking: the booked user gets power for the booking plus the grace
period and the terminal switches it off by itself; nobody without a booking gets in; a booking
made while the terminal runs reaches it and grants."""
import time

from harness import iso_ms, parse_iso_ms, run, wait_until

GRACE_S = 2


def book(campus, user, start_s, end_s):
    return campus.server.post("/api/bookings", {"instrument": "inst-xrd", "user": user,
                                                "start": iso_ms(start_s), "end": iso_ms(end_s)})["id"]


def test_booked_session_ends_by_itself_after_booking_end_plus_grace(campus):
    campus.seed(require_booking=True)
    inst = campus.server.patch("/api/instruments/inst-xrd", {"early_start_s": 0, "grace_after_end_s": GRACE_S})
    assert inst["require_booking"] is True and inst["grace_after_end_s"] == GRACE_S, inst
    # bookings of a few seconds, so that the test sees one end: below the default 15-minute minimum
    status, policy = campus.server.request("PUT", "/api/instruments/inst-xrd/booking-policy", {"min_length_s": 1})
    assert status == 200 and policy["min_length_s"] == 1, (status, policy)
    t = campus.terminal()
    v0 = campus.wait_synced(t.id)

    # qualified, but no booking
    r = t.swipe("B2B2B2B2")
    assert (r["decision"], r["reason"]) == ("denied", "no_booking"), r

    # a booking from now for a few seconds, made while the terminal runs: a new bundle version
    # reaches it and grants. Bookings are wall-clock times by nature; if getting the bundle there
    # outlasted the booking, book again for twice as long (a slow machine only makes it longer).
    length_s = 4.0
    version = v0
    while True:
        start = time.time()
        end = start + length_s
        booking = book(campus, "u-alice", start, end)
        version = campus.wait_synced(t.id, above=version)
        before_in = time.monotonic()
        r = t.swipe("A1A1A1A1")
        after_in, after_in_wall = time.monotonic(), time.time()
        if r["decision"] == "granted" or time.time() < end or length_s > 200:
            break
        assert (r["decision"], r["reason"]) == ("denied", "no_booking"), r
        length_s *= 2
    assert (r["decision"], r["reason"], r["action"]) == ("granted", "booked", "start"), r
    wait_until(lambda: t.sim.coil(0), 5, what="coil on")

    # qualified Bob still has no booking (and Alice holds the instrument)
    assert t.swipe("B2B2B2B2")["decision"] == "denied"

    # no swipe-out: the terminal switches off by itself after booking end + grace
    wait_until(lambda: not t.sim.coil(0), length_s + GRACE_S + 60, what="coil off after end + grace")
    off_seen = time.monotonic()

    sessions = wait_until(lambda: campus.server.closed_sessions(), 20, what="closed session on the server")
    assert len(sessions) == 1, sessions
    s = sessions[0]
    assert s["user"] == "u-alice" and s["booking"] == booking, s
    assert s["end_reason"] == "booking_end", s
    # the session ran from the swipe until booking end + grace at the earliest (checked once a
    # second), and ended before the coil was seen off: brackets that slowness can only widen
    assert parse_iso_ms(s["end"]) >= int((end + GRACE_S) * 1000) - 1, (s["end"], iso_ms(end + GRACE_S))
    assert (end + GRACE_S - after_in_wall) * 1000 - 5 <= s["duration_ms"] <= (off_seen - before_in) * 1000 + 2, (
        s["duration_ms"], end + GRACE_S - after_in_wall, off_seen - before_in)
    assert s["charge"] is not None and s["charge"]["amount_fen"] >= 0, s

    # after the booking (and the grace) Alice is refused again
    r = t.swipe("A1A1A1A1")
    assert (r["decision"], r["reason"]) == ("denied", "no_booking"), r
    assert not t.sim.coil(0)


def test_a_booking_made_after_the_terminal_started_grants(campus):
    campus.seed(require_booking=True)
    campus.server.patch("/api/instruments/inst-xrd", {"early_start_s": 0, "grace_after_end_s": GRACE_S})
    t = campus.terminal()
    v0 = campus.wait_synced(t.id)
    r = t.swipe("B2B2B2B2")
    assert (r["decision"], r["reason"]) == ("denied", "no_booking"), r

    now = time.time()
    booking = book(campus, "u-bob", now, now + 3600)  # long: only bounds a hang
    v1 = campus.wait_synced(t.id, above=v0)
    assert v1 > v0
    r = t.swipe("B2B2B2B2")
    assert (r["decision"], r["reason"], r["action"]) == ("granted", "booked", "start"), r
    wait_until(lambda: t.sim.coil(0), 5, what="coil on")
    # a qualified user without a booking is still refused
    assert t.swipe("A1A1A1A1")["decision"] == "denied"
    r = t.swipe("B2B2B2B2")
    assert r["action"] == "end", r
    wait_until(lambda: not t.sim.coil(0), 5, what="coil off")

    # an untrained user cannot book at all
    status, out = campus.server.request("POST", "/api/bookings", {
        "instrument": "inst-xrd", "user": "u-eve", "start": iso_ms(now + 7200), "end": iso_ms(now + 7300)})
    assert status == 422 and "u-eve" in out["error"] and "inst-xrd" in out["error"], (status, out)

    events = wait_until(lambda: (lambda e: e if len(e) >= 4 else None)(
        campus.server.get(f"/api/access-events?terminal={t.id}")), 20, what="access events on the server")
    granted = [e for e in events if e["decision"] == "granted" and e["reason"] == "booked"]
    assert len(granted) == 1 and granted[0]["booking"] == booking, events
    sessions = wait_until(lambda: campus.server.closed_sessions(), 20, what="closed session")
    assert sessions[0]["booking"] == booking and sessions[0]["end_reason"] == "swipe_out", sessions


def test_a_pending_booking_opens_nothing_until_approved(campus):
    """Under an approval policy a booking waits, holding its slot; the terminal's next bundle has
    no booking for it, so the card is refused; once the instrument admin approves it, a new
    bundle reaches the terminal and the same card opens."""
    campus.seed(require_booking=True)
    campus.server.patch("/api/instruments/inst-xrd", {"early_start_s": 0, "grace_after_end_s": GRACE_S})
    status, policy = campus.server.request("PUT", "/api/instruments/inst-xrd/booking-policy", {"approval": "all"})
    assert status == 200 and policy["approval"] == "all", (status, policy)
    t = campus.terminal()
    v0 = campus.wait_synced(t.id)
    now = time.time()
    status, out = campus.server.request("POST", "/api/bookings", {"instrument": "inst-xrd", "user": "u-bob",
                                                                 "start": iso_ms(now), "end": iso_ms(now + 3600)})
    assert status == 201 and out["status"] == "pending", (status, out)
    booking = out["id"]
    # someone else cannot take the slot meanwhile
    status, clash = campus.server.request("POST", "/api/bookings", {"instrument": "inst-xrd", "user": "u-alice",
                                                                   "start": iso_ms(now + 60), "end": iso_ms(now + 1800)})
    assert status == 409 and clash["conflict"] == booking, (status, clash)
    r = t.swipe("B2B2B2B2")
    assert (r["decision"], r["reason"]) == ("denied", "no_booking"), r
    v1 = campus.wait_synced(t.id, above=v0 - 1)  # whatever it holds now (a pending booking changes no grant)
    status, out = campus.server.request("POST", f"/api/bookings/{booking}/approve")
    assert status == 200 and out["status"] == "active", (status, out)
    campus.wait_synced(t.id, above=v1)
    r = t.swipe("B2B2B2B2")
    assert (r["decision"], r["reason"], r["action"]) == ("granted", "booked", "start"), r
    wait_until(lambda: t.sim.coil(0), 5, what="coil on")
    r = t.swipe("B2B2B2B2")
    assert r["action"] == "end", r


if __name__ == "__main__":
    run([test_booked_session_ends_by_itself_after_booking_end_plus_grace,
         test_a_booking_made_after_the_terminal_started_grants,
         test_a_pending_booking_opens_nothing_until_approved])
