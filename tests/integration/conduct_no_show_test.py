"""A no-show costs credit, on real processes (issue 10, "Conduct and credit"): the server's periodic
scan (every 10 s here) finds that Alice never came to her booking, while Bob, who swiped in at the
terminal during his, is not charged; Alice's score drops below the line, she is blocked from booking (422 rule "blocked")
and told by a notice; an instrument admin waives the no-show with a reason (audited), which lifts
the block, and she is told that it ended."""
import time

from harness import iso_ms, run, wait_until

CONDUCT = "\n[conduct]\nno_show_after_min = 1\nlate_after_min = 0\nblock_below = 90\n"


def credit(s, user):
    return s.get(f"/api/users/{user}/credit")


def test_a_no_show_blocks_booking_until_waived(campus):
    campus.seed()
    s = campus.server
    status, policy = s.request("PUT", "/api/instruments/inst-xrd/booking-policy", {"min_length_s": 1})
    assert status == 200, (status, policy)
    t = campus.terminal()
    v = campus.wait_synced(t.id)
    now = time.time()
    # Bob's booking begins in half a minute; he comes early (early start is allowed) and swipes in
    bob = s.post("/api/bookings", {"instrument": "inst-xrd", "user": "u-bob",
                                   "start": iso_ms(now + 30), "end": iso_ms(now + 60)})
    campus.wait_synced(t.id, above=v)
    r = t.swipe("B2B2B2B2")
    assert (r["decision"], r["reason"], r["action"]) == ("granted", "qualified", "start"), r
    # Alice's begins as his ends, and she never comes
    alice = s.post("/api/bookings", {"instrument": "inst-xrd", "user": "u-alice",
                                     "start": iso_ms(now + 60), "end": iso_ms(now + 1800)})
    assert credit(s, "u-alice")["score"] == 100

    missed = wait_until(lambda: [e for e in credit(s, "u-alice")["events"] if e["kind"] == "no_show"], 180,
                        what="the no-show recorded by the scan")
    assert missed[0]["booking"] == alice["id"] and missed[0]["points"] == 20, missed
    c = credit(s, "u-alice")
    assert c["score"] == 80 and c["blocked"] is not None, c
    assert "below 90" in c["blocked"]["reason"], c

    status, out = s.request("POST", "/api/bookings", {"instrument": "inst-xrd", "user": "u-alice",
                                                      "start": iso_ms(now + 7200), "end": iso_ms(now + 9000)})
    assert status == 422 and out["rule"] == "blocked", (status, out)
    notices = s.get("/api/notices?user=u-alice")
    assert any(n["kind"] == "blocked" for n in notices), notices
    events = s.get("/api/conduct-events?instrument=inst-xrd")
    assert [e["id"] for e in events] == [missed[0]["id"]], events
    wait_until(lambda: bob["id"] in {x["booking"] for x in s.get("/api/sessions?instrument=inst-xrd")}, 30,
               what="Bob's session on the server")
    assert credit(s, "u-bob")["score"] == 100 and credit(s, "u-bob")["events"] == []

    # a waiver needs a reason, then lifts the block
    status, bad = s.request("POST", f"/api/conduct-events/{missed[0]['id']}/waive", {})
    assert status in (400, 422), (status, bad)
    status, w = s.request("POST", f"/api/conduct-events/{missed[0]['id']}/waive",
                          {"reason": "the XRD's door was jammed"})
    assert status == 200 and w["score"] == 100 and w["block_lifted"] is True, (status, w)
    status, again = s.request("POST", f"/api/conduct-events/{missed[0]['id']}/waive", {"reason": "twice"})
    assert status == 409, (status, again)
    audit = s.get(f"/api/audit?entity=conduct_event&entity_id={missed[0]['id']}")
    assert [a["action"] for a in audit] == ["waive"], audit
    assert credit(s, "u-alice")["blocked"] is None
    status, out = s.request("POST", "/api/bookings", {"instrument": "inst-xrd", "user": "u-alice",
                                                      "start": iso_ms(now + 7200), "end": iso_ms(now + 9000)})
    assert status == 201, (status, out)
    wait_until(lambda: any(n["kind"] == "block_ended" for n in s.get("/api/notices?user=u-alice")), 60,
               what="the block_ended notice")
    r = t.swipe("A1A1A1A1")  # a block stops booking; the door was never closed to her
    assert r["decision"] == "granted" or r["reason"] == "in_use", r


if __name__ == "__main__":
    run([test_a_no_show_blocks_booking_until_waived], server_toml="sync_refresh_s = 10", extra_toml=CONDUCT)
