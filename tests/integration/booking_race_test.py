"""No double booking under concurrency (issue 10): 64 clients at once against a real server, in 20
rounds, each round racing to create, then to move, then to book recurring series (3 days each, all
or nothing or skipping conflicts, overlapping the series of the rounds before and after), then to
join waiting lists of taken slots whose holders then cancel at once (promoting the first in line);
finally to create bookings that wait for approval and have them approved, all on one instrument in one window of 30-minute slots. After every
phase the bookings that hold a slot (active and pending) are read back: no two overlap, and the
server answered every request with 201/200 or a reasoned 409/422, never an error."""
import random
import threading
import time

from harness import iso_ms, parse_iso_ms, run

CLIENTS = 64
ROUNDS = 20
SLOT = 1800
USERS = [f"u-r{i}" for i in range(8)]


def race(n, fn):
    """Runs fn(i) for i in range(n) from n threads released together; the results in order."""
    gate = threading.Barrier(n)
    out = [None] * n

    def body(i):
        gate.wait()
        out[i] = fn(i)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def holding(s):
    return [b for b in s.get("/api/bookings?limit=10000")
            if b["instrument"] == "inst-xrd" and b["status"] in ("active", "pending")]


def assert_no_overlap(bookings, what):
    spans = sorted((parse_iso_ms(b["start"]), parse_iso_ms(b["end"]), b["id"]) for b in bookings)
    for (s1, e1, a), (s2, e2, b) in zip(spans, spans[1:]):
        assert e1 <= s2, f"{what}: {a} [{s1}, {e1}) overlaps {b} [{s2}, {e2})"


def test_64_clients_never_double_book(campus):
    campus.seed()
    s = campus.server
    for u in USERS:
        s.post("/api/users", {"id": u, "name": u, "category": "internal_staff", "unit": "chem"})
        s.post("/api/qualifications", {"user": u, "instrument": "inst-xrd"})
    s.request("PUT", "/api/instruments/inst-xrd/booking-policy", {"slot_s": SLOT, "min_length_s": SLOT})
    rng = random.Random(20261129)
    day0 = (int(time.time()) // 86400 + 1) * 86400  # tomorrow 00:00 UTC (08:00 in the site zone): on the grid
    statuses = {}
    made = moved = approved = series_made = 0
    gone = set()  # bookings cancelled to free slots for waiting lists (a promoted one may be among them later)
    for r in range(ROUNDS):
        base = day0 + r * 86400
        window = 12  # slots: six hours

        def interval():
            a = rng.randrange(window)
            return base + a * SLOT, base + (a + rng.randint(1, 4)) * SLOT

        plan = [interval() for _ in range(CLIENTS)]

        def create(i, plan=plan):
            st, out = s.request("POST", "/api/bookings", {"instrument": "inst-xrd", "user": USERS[i % len(USERS)],
                                                         "start": iso_ms(plan[i][0]), "end": iso_ms(plan[i][1])})
            return st, out

        got = race(CLIENTS, create)
        for st, out in got:
            statuses[st] = statuses.get(st, 0) + 1
            assert st in (201, 409), (st, out)
        made += sum(1 for st, _ in got if st == 201)
        now_holding = holding(s)
        assert_no_overlap(now_holding, f"round {r} create")
        assert any(st == 201 for st, _ in got), "nobody got a slot"

        ids = [b["id"] for b in now_holding if parse_iso_ms(b["start"]) >= base * 1000]
        targets = [interval() for _ in range(CLIENTS)]

        def move(i, ids=ids, targets=targets):
            bid = ids[i % len(ids)]
            return s.request("PATCH", f"/api/bookings/{bid}", {"start": iso_ms(targets[i][0]), "end": iso_ms(targets[i][1])})

        got = race(CLIENTS, move)
        for st, out in got:
            statuses[st] = statuses.get(st, 0) + 1
            assert st in (200, 409), (st, out)
        moved += sum(1 for st, _ in got if st == 200)
        assert_no_overlap(holding(s), f"round {r} move")

        # recurring: daily series of 3 from a day of their own (each round's days overlap the next two)
        sbase = day0 + (ROUNDS + 1 + r) * 86400
        splan = [(sbase + (a := rng.randrange(window)) * SLOT, sbase + (a + rng.randint(1, 3)) * SLOT)
                 for _ in range(CLIENTS)]

        def series(i, splan=splan):
            return s.request("POST", "/api/bookings/series", {
                "instrument": "inst-xrd", "user": USERS[i % len(USERS)], "start": iso_ms(splan[i][0]),
                "end": iso_ms(splan[i][1]), "rrule": "FREQ=DAILY;COUNT=3", "skip_conflicts": i % 2 == 1})

        got = race(CLIENTS, series)
        for i, (st, out) in enumerate(got):
            statuses[st] = statuses.get(st, 0) + 1
            assert st in (201, 409), (st, out)
            if st == 201:
                assert len(out["created"]) + len(out["refused"]) == 3, out
                assert i % 2 == 1 or not out["refused"], out  # all or nothing books all three
                series_made += len(out["created"])
        assert_no_overlap(holding(s), f"round {r} recurring")

        # waiting lists: 64 clients queue at once for half the round's taken slots (two users each),
        # then their holders cancel at once; each cancellation books the first in line who fits
        taken = [b for b in holding(s) if b["status"] == "active" and base * 1000 <= parse_iso_ms(b["start"]) < (base + 86400) * 1000]
        rng.shuffle(taken)
        taken = taken[:max(1, len(taken) // 2)]

        def join(i, taken=taken):
            t = taken[i % len(taken)]
            return s.request("POST", "/api/waitlist", {"instrument": "inst-xrd", "user": USERS[(i + i // len(taken)) % len(USERS)],
                                                       "start": t["start"], "end": t["end"]})

        got = race(CLIENTS, join)
        for st, out in got:
            statuses[st] = statuses.get(st, 0) + 1
            assert st in (201, 422), (st, out)
        got = race(len(taken), lambda i, taken=taken: s.request("DELETE", f"/api/bookings/{taken[i]['id']}"))
        assert all(st == 200 for st, _ in got), got
        gone.update(t["id"] for t in taken)
        assert_no_overlap(holding(s), f"round {r} waitlist promotion")

    # approval: bookings wait, holding their slots, and are approved concurrently
    s.request("PUT", "/api/instruments/inst-xrd/booking-policy", {"slot_s": SLOT, "min_length_s": SLOT, "approval": "all"})
    base = day0 + ROUNDS * 86400
    plan = [(base + (i % 12) * SLOT, base + (i % 12 + 1 + i % 3) * SLOT) for i in range(CLIENTS)]
    got = race(CLIENTS, lambda i: s.request("POST", "/api/bookings", {
        "instrument": "inst-xrd", "user": USERS[i % len(USERS)], "start": iso_ms(plan[i][0]), "end": iso_ms(plan[i][1])}))
    pending = [out["id"] for st, out in got if st == 201]
    assert pending and all(out["status"] == "pending" for st, out in got if st == 201), got
    assert_no_overlap(holding(s), "pending")
    got = race(len(pending), lambda i: s.request("POST", f"/api/bookings/{pending[i]}/approve"))
    assert all(st == 200 for st, _ in got), got
    approved = len(got)
    assert_no_overlap(holding(s), "approved")

    final = holding(s)
    assert_no_overlap(final, "approved")
    ids = {b["id"] for b in final}
    promoted = [e for e in s.get("/api/waitlist?instrument=inst-xrd") if e["status"] == "promoted"]
    assert promoted, "nobody on a waiting list was booked"
    assert all(e["booking"] in ids or e["booking"] in gone for e in promoted), promoted
    assert made > ROUNDS and moved > 0 and series_made > 0, (made, moved, series_made)
    print(f"created {made}, moved {moved}, {series_made} booked in series, approved {approved}, "
          f"{len(promoted)} promoted from waiting lists; statuses {statuses}; "
          f"{len(final)} bookings hold slots, none overlapping")


if __name__ == "__main__":
    # one address sends everything here: the per-address request rate limit (http.rate_per_s) off
    run([test_64_clients_never_double_book], http_toml="rate_per_s = 0")
