"""kill -9 of the terminal mid-session and of the server mid-ingest: after restart nothing is
lost and nothing is charged twice."""
import sqlite3
import time

from harness import charge_fen, parse_iso_ms, run, wait_until


def open_session_checkpoint(t):
    """(checkpoint_ms, checkpoint_elapsed_ms) of the terminal's open session, read from its
    database (read-only), or None: the last point the terminal committed, at a heartbeat."""
    db = sqlite3.connect(f"file:{t.dir / 'terminal.db'}?mode=ro", uri=True, timeout=10)
    try:
        return db.execute("SELECT checkpoint_ms, checkpoint_elapsed_ms FROM open_sessions").fetchone()
    finally:
        db.close()


def test_terminal_killed_mid_session_recovers_it(campus):
    campus.seed()
    t = campus.terminal()
    # time brackets that slowness can only widen: taken before a swipe is sent and after its reply
    before_in = time.monotonic()
    assert t.swipe("A1A1A1A1")["action"] == "start"
    after_in = time.monotonic()
    wait_until(lambda: t.sim.coil(0), 5, what="coil on")
    # mid-session as the server sees it: the session's start has arrived there
    wait_until(lambda: [x for x in campus.server.get("/api/sessions") if x["status"] == "open"], 20,
               what="the open session on the server")
    boot = campus.terminal_info(t.id)["boot"]
    t.kill9()
    assert t.sim.coil(0), "the relay keeps its state while the agent is down"
    # the broker publishes the terminal's Last Will: the server shows it offline, same boot
    info = wait_until(lambda: (lambda i: i if i.get("online") is False else None)(campus.terminal_info(t.id)), 20,
                      what="Last Will marks the terminal offline")
    assert info["boot"] == boot, info
    t.start()
    wait_until(lambda: (lambda i: i.get("online") and i.get("boot") == boot + 1)(campus.terminal_info(t.id)), 20,
               what="birth message of the next boot")
    # the restarted agent read the coil back and recovered the session: the holder can end it
    before_out = time.monotonic()
    r = t.swipe("A1A1A1A1")
    after_out = time.monotonic()
    assert r["action"] == "end", r
    wait_until(lambda: not t.sim.coil(0), 5, what="coil off")
    wait_until(lambda: campus.server.closed_sessions() or None, 20, what="session on server")
    campus.settle(t)  # a duplicate, if any, has been through the server by now
    sessions = campus.server.closed_sessions()
    assert len(sessions) == 1, sessions
    s = sessions[0]
    assert "recovered" in s["flags"], s
    # the whole time the instrument was on is billed: before the crash, while the agent was down,
    # after. The session lies between the brackets (2 ms for whole-millisecond readings).
    shortest_ms = (before_out - after_in) * 1000
    longest_ms = (after_out - before_in) * 1000
    assert shortest_ms - 2 <= s["duration_ms"] <= longest_ms + 2, (s, shortest_ms, longest_ms)
    assert s["amount_fen"] == charge_fen(s["duration_ms"], 36000)
    assert len(campus.server.get(f"/api/charges?{campus.period()}")) == 1


def test_terminal_killed_with_relay_off_closes_session_with_flag(campus):
    campus.seed()
    t = campus.terminal()
    assert t.swipe("A1A1A1A1")["action"] == "start"
    wait_until(lambda: t.sim.coil(0), 5, what="coil on")
    # a heartbeat has checkpointed the session after more than a second of use
    wait_until(lambda: (open_session_checkpoint(t) or (0, 0))[1] >= 1000, 20, what="a checkpoint after 1 s")
    t.kill9()
    checkpoint_ms, checkpoint_elapsed_ms = open_session_checkpoint(t)  # the last one before the crash
    # power to the relay board was lost too: the coil is off when the agent comes back
    t.sim.stop()
    t.sim.start()
    assert not t.sim.coil(0)
    t.start()
    sessions = wait_until(lambda: campus.server.closed_sessions() or None, 20, what="closed session on server")
    s = sessions[0]
    assert len(sessions) == 1
    assert s["end_reason"] == "crash_recovered", s
    assert "crash_closed" in s["flags"], s
    # closed at the last checkpoint the terminal committed before it died, not later, not earlier
    assert s["duration_ms"] == checkpoint_elapsed_ms >= 1000, (s, checkpoint_elapsed_ms)
    assert parse_iso_ms(s["end"]) == checkpoint_ms, (s, checkpoint_ms)
    assert not t.sim.coil(0)


def test_server_killed_mid_ingest_loses_and_doubles_nothing(campus):
    campus.seed()
    t = campus.terminal()
    cycles = 25
    for _ in range(cycles):
        assert t.swipe("A1A1A1A1")["action"] == "start"
        assert t.swipe("A1A1A1A1")["action"] == "end"
    campus.server.kill9()           # while the batches are being ingested
    for _ in range(5):             # more work while the server is down
        assert t.swipe("B2B2B2B2")["action"] == "start"
        assert t.swipe("B2B2B2B2")["action"] == "end"
    campus.server.start()
    wait_until(lambda: len(campus.server.closed_sessions("?limit=1000")) >= cycles + 5, 60,
               what="all sessions after server restart")
    wait_until(lambda: campus.terminal_info(t.id).get("outbox_depth") == 0, 40, what="outbox drained")
    campus.settle(t)  # resends and duplicates, if any, have been through the server by now
    sessions = campus.server.closed_sessions("?limit=1000")
    assert len(sessions) == cycles + 5, len(sessions)
    assert len({s["id"] for s in sessions}) == cycles + 5
    charges = campus.server.get(f"/api/charges?{campus.period()}&limit=1000")
    assert len(charges) == cycles + 5
    rep = campus.server.get(f"/api/reports/usage?by=user&{campus.period()}")
    total = sum(r["sessions"] for r in rep["rows"])
    assert total == cycles + 5, rep
    stats = campus.server.get("/api/stats")
    assert stats["ingest"]["records"] >= 4 * (cycles + 5), stats


if __name__ == "__main__":
    run([test_terminal_killed_mid_session_recovers_it, test_terminal_killed_with_relay_off_closes_session_with_flag,
         test_server_killed_mid_ingest_loses_and_doubles_nothing])
