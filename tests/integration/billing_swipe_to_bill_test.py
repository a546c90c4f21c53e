"""The whole path of one instrument hour on real processes: swipe -> decision -> coil ->
usage record -> MQTT -> server -> charge -> report, over Modbus TCP and over RTU on a pty."""
import time

from harness import charge_fen, run, wait_until

RATE_INTERNAL = 36000   # 360.00 yuan per hour, fen
RATE_EXTERNAL = 72000
SIM_POWER_W = 1_800_000  # harness ModbusSim default profile "0:1800000" (large, so Wh resolve in 1 s)


def one_session(campus, t, card, user, rate, hold_wh=450):
    """One session that lasts until the simulated meter has counted hold_wh more (at SIM_POWER_W,
    450 Wh is about a second of use; the simulator rewrites its state once a second)."""
    sessions_before = len(campus.server.closed_sessions())
    # time brackets that slowness can only widen: taken before a swipe is sent and after its reply
    before_in = time.monotonic()
    r = t.swipe(card)
    after_in = time.monotonic()
    assert r["decision"] == "granted" and r["action"] == "start", r
    wait_until(lambda: t.sim.coil(0), 5, what="coil 0 on after grant")
    on_kwh = t.sim.state()["energy_kwh"]
    wait_until(lambda: t.sim.state()["energy_kwh"] - on_kwh >= hold_wh / 1000, 30, what=f"{hold_wh} Wh metered")
    assert t.sim.coil(0), "coil switched off during the session"
    before_out = time.monotonic()
    r = t.swipe(card)
    after_out = time.monotonic()
    assert r["action"] == "end", r
    wait_until(lambda: not t.sim.coil(0), 5, what="coil 0 off after swipe-out")
    sessions = wait_until(lambda: (lambda s: s if len(s) > sessions_before else None)(
        campus.server.closed_sessions()), 20, what="usage session on the server")
    mine = [s for s in sessions if s["user"] == user]
    assert len(mine) == 1, sessions
    s = mine[0]
    assert s["instrument"] == "inst-xrd"
    # the session lies between the brackets (2 ms for whole-millisecond readings)
    assert (before_out - after_in) * 1000 - 2 <= s["duration_ms"] <= (after_out - before_in) * 1000 + 2, s
    assert s["amount_fen"] == charge_fen(s["duration_ms"], rate), s
    # the simulated meter draws SIM_POWER_W from switch-on: energy = counter difference over the session
    expected_wh = SIM_POWER_W * s["duration_ms"] / 3_600_000
    assert s["energy_wh"] is not None and abs(s["energy_wh"] - expected_wh) <= 0.15 * expected_wh + 50, (s, expected_wh)
    return s


def check_report(campus, sessions):
    # the site's months (Asia/Shanghai) in which the sessions ended: from the test's start until now
    rep = campus.server.get(f"/api/reports/usage?by=instrument&{campus.period()}")
    rows = {r["key"]: r for r in rep["rows"]}
    assert "inst-xrd" in rows, rep
    row = rows["inst-xrd"]
    assert row["sessions"] == len(sessions)
    assert row["amount_fen"] == sum(s["amount_fen"] for s in sessions)
    by_user = {r["key"]: r for r in campus.server.get(f"/api/reports/usage?by=user&{campus.period()}")["rows"]}
    for s in sessions:
        assert by_user[s["user"]]["amount_fen"] == s["amount_fen"], by_user


def test_swipe_to_bill_over_tcp(campus):
    campus.seed(internal_rate=RATE_INTERNAL, external_rate=RATE_EXTERNAL)
    t = campus.terminal()
    a = one_session(campus, t, "A1A1A1A1", "u-alice", RATE_INTERNAL)
    b = one_session(campus, t, "b2b2b2b2", "u-bob", RATE_EXTERNAL)  # lower-case uid, same card
    check_report(campus, [a, b])
    # the server acked everything: the terminal's outbox drains
    wait_until(lambda: campus.terminal_info(t.id).get("outbox_depth") == 0, 20, what="outbox drained")
    charges = campus.server.get(f"/api/charges?{campus.period()}")
    assert len(charges) == 2, charges


def test_swipe_to_bill_over_rtu_pty(campus):
    campus.seed(internal_rate=RATE_INTERNAL, external_rate=RATE_EXTERNAL)
    t = campus.terminal(rtu=True)
    a = one_session(campus, t, "A1A1A1A1", "u-alice", RATE_INTERNAL, hold_wh=250)
    check_report(campus, [a])


if __name__ == "__main__":
    run([test_swipe_to_bill_over_tcp, test_swipe_to_bill_over_rtu_pty])
