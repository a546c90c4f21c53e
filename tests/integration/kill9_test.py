"""kill -9 of the terminal mid-session and of the server mid-ingest: after restart nothing is
lost and nothing is charged twice."""
import time

from harness import charge_fen, run, wait_until


def test_terminal_killed_mid_session_recovers_it(campus):
    campus.seed()
    t = campus.terminal()
    t_in = time.monotonic()
    assert t.swipe("A1A1A1A1")["action"] == "start"
    wait_until(lambda: t.sim.coil(0), 5, what="coil on")
    time.sleep(1.5)
    boot = campus.terminal_info(t.id)["boot"]
    t.kill9()
    assert t.sim.coil(0), "the relay keeps its state while the agent is down"
    time.sleep(1.0)  # the instrument keeps running while the agent is down
    # the broker publishes the terminal's Last Will: the server shows it offline, same boot
    info = wait_until(lambda: (lambda i: i if i.get("online") is False else None)(campus.terminal_info(t.id)), 20,
                      what="Last Will marks the terminal offline")
    assert info["boot"] == boot, info
    t.start()
    wait_until(lambda: (lambda i: i.get("online") and i.get("boot") == boot + 1)(campus.terminal_info(t.id)), 20,
               what="birth message of the next boot")
    # the restarted agent read the coil back and recovered the session: the holder can end it
    r = t.swipe("A1A1A1A1")
    t_out = time.monotonic()
    assert r["action"] == "end", r
    wait_until(lambda: not t.sim.coil(0), 5, what="coil off")
    sessions = wait_until(lambda: campus.server.closed_sessions() or None, 20, what="session on server")
    time.sleep(2.5)
    sessions = campus.server.closed_sessions()
    assert len(sessions) == 1, sessions
    s = sessions[0]
    assert "recovered" in s["flags"], s
    # the whole time the instrument was on is billed: before the crash, while the agent was down, after
    held_ms = (t_out - t_in) * 1000
    assert held_ms - 300 <= s["duration_ms"] <= held_ms + 300, (s, held_ms)
    assert s["amount_fen"] == charge_fen(s["duration_ms"], 36000)
    assert len(campus.server.get(f"/api/charges?{campus.period()}")) == 1


def test_terminal_killed_with_relay_off_closes_session_with_flag(campus):
    campus.seed()
    t = campus.terminal()
    assert t.swipe("A1A1A1A1")["action"] == "start"
    wait_until(lambda: t.sim.coil(0), 5, what="coil on")
    time.sleep(2.5)
    t.kill9()
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
    # closed at the last checkpoint (heartbeat_s = 1): between 1.5 s and the 2.5 s it really ran
    assert 1400 <= s["duration_ms"] <= 2600, s
    assert not t.sim.coil(0)


def test_server_killed_mid_ingest_loses_and_doubles_nothing(campus):
    campus.seed()
    t = campus.terminal()
    cycles = 25
    for _ in range(cycles):
        assert t.swipe("A1A1A1A1")["action"] == "start"
        assert t.swipe("A1A1A1A1")["action"] == "end"
    campus.server.kill9()           # while the batches are being ingested
    time.sleep(0.5)
    for _ in range(5):             # more work while the server is down
        assert t.swipe("B2B2B2B2")["action"] == "start"
        assert t.swipe("B2B2B2B2")["action"] == "end"
    campus.server.start()
    wait_until(lambda: len(campus.server.closed_sessions("?limit=1000")) >= cycles + 5, 60,
               what="all sessions after server restart")
    wait_until(lambda: campus.terminal_info(t.id).get("outbox_depth") == 0, 40, what="outbox drained")
    time.sleep(2.5)
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
