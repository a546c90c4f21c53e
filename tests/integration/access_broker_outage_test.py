"""Broker stopped in the middle of a session: the terminal keeps enforcing and buffers; after
the broker returns every record arrives exactly once."""
from harness import Mosquitto, not_marker, run, wait_until


def test_broker_down_mid_session(campus):
    campus.seed()
    t = campus.terminal()
    assert t.swipe("A1A1A1A1")["action"] == "start"
    wait_until(lambda: t.sim.coil(0), 5, what="coil on")
    port = campus.broker.port
    lost = t.log_text().count("connection to ")
    campus.broker.stop()
    wait_until(lambda: t.log_text().count("connection to ") > lost, 20, what="the terminal to notice the outage")
    # offline: swipe-out still switches off, a new qualified swipe is still granted from cache
    assert t.swipe("A1A1A1A1")["action"] == "end"
    wait_until(lambda: not t.sim.coil(0), 5, what="coil off while offline")
    r = t.swipe("B2B2B2B2")
    assert r["decision"] == "granted", r
    wait_until(lambda: t.sim.coil(0), 5, what="coil on while offline")
    assert t.swipe("E5E5E5E5")["decision"] == "denied"     # still enforcing
    assert t.swipe("B2B2B2B2")["action"] == "end"
    wait_until(lambda: not t.sim.coil(0), 5, what="coil off")
    # broker back on the same port
    campus.broker = campus.add(Mosquitto(campus.dir, port)).start()
    sessions = wait_until(lambda: (lambda s: s if len(s) >= 2 else None)(campus.server.closed_sessions()),
                          40, what="both sessions after reconnect")
    wait_until(lambda: campus.terminal_info(t.id).get("outbox_depth") == 0, 30, what="outbox drained")
    campus.settle(t)  # resends and duplicates, if any, have been through the server by now
    sessions = campus.server.closed_sessions()
    assert sorted(s["user"] for s in sessions) == ["u-alice", "u-bob"], sessions
    assert len(campus.server.get(f"/api/charges?{campus.period()}")) == 2
    events = not_marker(campus.server.get(f"/api/access-events?terminal={t.id}&limit=100"))
    # 3 grants/denials at the door + 2 swipe-outs, each exactly once
    ids = [e["id"] for e in events]
    assert len(ids) == len(set(ids)), events
    assert sum(1 for e in events if e["decision"] == "denied") == 1, events


if __name__ == "__main__":
    run([test_broker_down_mid_session])
