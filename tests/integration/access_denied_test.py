"""An unauthorized card is denied, the coil stays off, and the denial is visible on the server."""
from harness import run, wait_until


def test_unqualified_and_unknown_cards_are_denied(campus):
    campus.seed()
    t = campus.terminal()
    writes_before = t.sim.state()["writes"]
    r = t.swipe("E5E5E5E5")          # known user, no qualification
    assert r["decision"] == "denied", r
    r2 = t.swipe("DEADBEEF")         # card unknown to everyone
    assert r2["decision"] == "denied", r2
    events = wait_until(lambda: (lambda e: e if len(e) >= 2 else None)(
        campus.server.get(f"/api/access-events?terminal={t.id}&decision=denied")), 20, what="denials on server")
    # the terminal has moved on past the denials (later swipes, heartbeats, acks): anything they
    # could have done to the relay has happened by now
    campus.settle(t)
    st = t.sim.state()
    assert st["coils"][0] is False, st
    assert st["writes"] == writes_before, "a denied swipe must not touch the relay"
    by_card = {e["card"]: e for e in events}
    assert by_card["E5E5E5E5"]["user"] == "u-eve", by_card   # server resolves the card's owner
    assert by_card["E5E5E5E5"]["reason"] == "not_qualified"   # known holder, not qualified here
    assert by_card["DEADBEEF"]["reason"] == "unknown_card"
    assert by_card["DEADBEEF"]["decision"] == "denied"
    assert campus.server.closed_sessions() == []
    assert campus.server.get("/api/charges") == []


def test_another_user_cannot_take_over_a_running_session(campus):
    campus.seed()
    t = campus.terminal()
    assert t.swipe("A1A1A1A1")["action"] == "start"
    wait_until(lambda: t.sim.coil(0), 5, what="coil on")
    r = t.swipe("B2B2B2B2")
    assert r["decision"] == "denied" and r["reason"] == "in_use", r
    assert t.sim.coil(0), "coil must stay on for the session holder"
    assert t.swipe("A1A1A1A1")["action"] == "end"
    wait_until(lambda: not t.sim.coil(0), 5, what="coil off")


if __name__ == "__main__":
    run([test_unqualified_and_unknown_cards_are_denied, test_another_user_cannot_take_over_a_running_session])
