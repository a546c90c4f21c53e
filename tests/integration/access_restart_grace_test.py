"""A terminal restarted while the broker is up must keep its cache current for as long as it stays
online: the retained bundle it receives again (possibly before its client reports the connection)
proves the cache current, so a broker outage long after the restart still admits qualified cards
within the offline grace. Both a clean restart (SIGTERM) and a crash (kill -9) are tried."""
from harness import run, wait_cache_expired, wait_until

# The grace must cover the few steps between the terminal noticing the outage and the swipe;
# generous, so a slow machine does not fail the test.
GRACE_S = 5


def restart_then_outage(campus, crash):
    campus.seed()
    s = campus.server
    s.patch("/api/instruments/inst-xrd", {"offline_grace_s": GRACE_S})
    t = campus.terminal()
    campus.wait_synced(t.id)
    boots = campus.terminal_info(t.id)["boot"]
    if crash:
        t.kill9()
    else:
        t.stop()
    t.start()
    wait_until(lambda: campus.terminal_info(t.id).get("boot", 0) > boots and campus.terminal_info(t.id)["online"],
               30, what="the restarted terminal's birth")
    # stay online for more than the grace (heartbeats seen by the server span it): the cache is
    # known current all the while
    campus.wait_heartbeats(t.id, GRACE_S + 1)
    assert campus.terminal_info(t.id)["online"]
    lost = t.log_text().count("connection to ")
    campus.broker.stop()
    wait_until(lambda: t.log_text().count("connection to ") > lost, 20, what="the terminal to notice the outage")
    r = t.swipe("A1A1A1A1")
    assert (r["decision"], r["reason"]) == ("granted", "qualified"), r
    assert t.swipe("A1A1A1A1")["action"] == "end"
    # and the grace still runs out: offline longer than it, the cache is stale
    wait_cache_expired(t)
    r = t.swipe("A1A1A1A1")
    assert (r["decision"], r["reason"]) == ("denied", "cache_expired"), r


def test_clean_restart_keeps_the_offline_grace(campus):
    restart_then_outage(campus, crash=False)


def test_crash_restart_keeps_the_offline_grace(campus):
    restart_then_outage(campus, crash=True)


if __name__ == "__main__":
    run([test_clean_restart_keeps_the_offline_grace, test_crash_restart_keeps_the_offline_grace])
