"""Offline beyond the instrument's offline_grace_s: a fail-closed output refuses ordinary cards
(cache_expired) but still admits an admin; a fail-open output admits anyone (fail_open). The
offline decisions reach the server after the broker returns, marked mode "offline"."""
from harness import MARKER_CARD, Mosquitto, not_marker, run, wait_cache_expired, wait_until

OFFLINE_GRACE_S = 2
ADMIN_CARD = "AD00AD00"


def test_cache_expires_offline_except_admin_and_fail_open(campus):
    campus.seed()
    s = campus.server
    # an admin has no qualification on the instrument: the server puts admins' cards in every bundle
    s.post("/api/users", {"id": "u-root", "name": "Root (technician)", "category": "internal", "admin": True})
    s.post("/api/cards", {"uid": ADMIN_CARD, "user": "u-root"})
    inst = s.patch("/api/instruments/inst-xrd", {"offline_grace_s": OFFLINE_GRACE_S})
    assert inst["offline_grace_s"] == OFFLINE_GRACE_S, inst
    assert [i["offline_grace_s"] for i in s.get("/api/instruments")] == [OFFLINE_GRACE_S]

    closed = campus.terminal("t-xrd-01")   # board default: power fails closed
    opened = campus.terminal("t-xrd-02", extra_toml='[outputs.power]\nfail_mode = "open"\n')
    for t in (closed, opened):
        campus.wait_synced(t.id)

    # online the cache is used whatever its age: Alice is qualified
    r = closed.swipe("A1A1A1A1")
    assert (r["decision"], r["reason"]) == ("granted", "qualified"), r
    assert closed.swipe("A1A1A1A1")["action"] == "end"
    wait_until(lambda: not closed.sim.coil(0), 5, what="coil off")

    port = campus.broker.port
    campus.broker.stop()
    for t in (closed, opened):
        wait_until(lambda t=t: f"{t.id}: connection to " in t.log_text(), 15, what=f"{t.id} to notice the outage")
    # each terminal's own answer says when its cached lists are older than offline_grace_s
    r = wait_cache_expired(closed)
    assert (r["decision"], r["reason"]) == ("denied", "cache_expired"), r
    r = wait_cache_expired(opened)
    assert (r["decision"], r["reason"], r["action"]) == ("granted", "fail_open", "start"), r
    assert opened.swipe(MARKER_CARD)["action"] == "end"
    wait_until(lambda: not opened.sim.coil(0), 5, what="coil off")

    # fail-closed output: a qualified ordinary card is refused, the admin still gets in
    r = closed.swipe("A1A1A1A1")
    assert (r["decision"], r["reason"]) == ("denied", "cache_expired"), r
    assert not closed.sim.coil(0)
    r = closed.swipe(ADMIN_CARD)
    assert (r["decision"], r["reason"], r["action"]) == ("granted", "admin", "start"), r
    assert r["user"].startswith("p-"), r  # the bundle's pseudonym of u-root (PROTOCOL.md, issue 9)
    wait_until(lambda: closed.sim.coil(0), 5, what="coil on for the admin")
    assert closed.swipe(ADMIN_CARD)["action"] == "end"
    wait_until(lambda: not closed.sim.coil(0), 5, what="coil off")

    # fail-open output: a card is admitted because the terminal cannot know better
    r = opened.swipe("B2B2B2B2")
    assert (r["decision"], r["reason"], r["action"]) == ("granted", "fail_open", "start"), r
    wait_until(lambda: opened.sim.coil(0), 5, what="coil on (fail open)")
    assert opened.swipe("B2B2B2B2")["action"] == "end"
    wait_until(lambda: not opened.sim.coil(0), 5, what="coil off")

    # broker back: the offline decisions arrive, marked offline
    campus.broker = campus.add(Mosquitto(campus.dir, port)).start()

    def offline_events(term_id, n):
        ev = [e for e in not_marker(s.get(f"/api/access-events?terminal={term_id}&limit=10000"))
              if e["mode"] == "offline"]
        return ev if len(ev) >= n else None

    ev1 = wait_until(lambda: offline_events(closed.id, 3), 40, what="t-xrd-01 offline records")
    got1 = sorted((e["card"], e["decision"], e["reason"]) for e in ev1)
    assert got1 == [("A1A1A1A1", "denied", "cache_expired"), (ADMIN_CARD, "granted", "admin"),
                    (ADMIN_CARD, "granted", "swipe_out")], got1
    ev2 = wait_until(lambda: offline_events(opened.id, 2), 40, what="t-xrd-02 offline records")
    got2 = sorted((e["card"], e["decision"], e["reason"]) for e in ev2)
    assert got2 == [("B2B2B2B2", "granted", "fail_open"), ("B2B2B2B2", "granted", "swipe_out")], got2
    assert all(e["user"] == "u-bob" for e in ev2), ev2

    # the marker's fail-open session on t-xrd-02 has no user (nobody holds the card)
    sessions = wait_until(lambda: (lambda x: x if len(x) >= 4 else None)(s.closed_sessions()), 40,
                          what="the sessions after reconnect")
    assert [x["card"] for x in sessions if x["user"] is None] == [MARKER_CARD], sessions
    by_terminal = sorted((x["terminal"], x["user"]) for x in sessions if x["user"] is not None)
    assert by_terminal == [("t-xrd-01", "u-alice"), ("t-xrd-01", "u-root"), ("t-xrd-02", "u-bob")], by_terminal
    for t in (closed, opened):
        wait_until(lambda t=t: campus.terminal_info(t.id).get("outbox_depth") == 0, 30, what=f"{t.id} outbox drained")


if __name__ == "__main__":
    run([test_cache_expires_offline_except_admin_and_fail_open])
