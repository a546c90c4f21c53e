"""What the broker keeps for a terminal holds no personal data in the clear (issue 9).

- The retained sync bundle a real server publishes names cards by keyed digest and users by
  pseudonym: no seeded card uid (in any letter case), user id or name appears in it, read with
  Mosquitto's own mosquitto_sub as an observer of the broker.
- Swipes still grant and deny as before, online and from the cache offline, and the sessions
  and charges are the seeded users' (ingest maps the pseudonyms back).
- The terminal's cached bundle in its SQLite store holds digests only, and its log names no
  other person's card.
- A forged remote command is refused and answered on cmdres with its reason.
"""
import json
import sqlite3
import subprocess
import threading

from harness import SITE, run, wait_until

SEEDED_CARDS = ["A1A1A1A1", "B2B2B2B2", "E5E5E5E5"]
SEEDED_USERS = ["u-alice", "u-bob", "u-eve", "Alice", "Bob", "Eve"]


def retained_sync(campus, term_id):
    """The retained message on the terminal's sync topic, as the broker holds it."""
    out = subprocess.run(["mosquitto_sub", *campus.mqtt_cli(), "-t", f"lg/v1/{SITE}/{term_id}/sync", "-C", "1",
                          "-W", "10"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and out.stdout.strip(), out.stdout + out.stderr
    return out.stdout.strip()


def test_no_personal_data_in_the_bundle(campus):
    campus.seed()
    # A denial too: Eve's qualification is irrelevant, but a lost card of a granted user is listed.
    campus.server.post("/api/cards", {"uid": "C3C3C3C3", "user": "u-alice"})
    t = campus.terminal("t-xrd-01")
    campus.server.request("POST", "/api/cards/C3C3C3C3/lost")
    campus.wait_synced("t-xrd-01", above=1)

    wire = retained_sync(campus, "t-xrd-01")
    body = json.loads(json.loads(wire)["body"])
    assert body["card_digest"] == "hmac-sha256-128", body
    assert len(body["grants"]) >= 2 and body.get("denials"), body
    for g in body["grants"] + body.get("denials", []):
        assert len(g["card"]) == 32 and g["user"].startswith("p-"), g
    for b in body["bookings"]:
        assert b["user"].startswith("p-"), b
    for secret in SEEDED_CARDS + ["C3C3C3C3"]:
        assert secret not in wire and secret.lower() not in wire, secret
    for secret in SEEDED_USERS:
        assert secret not in wire, secret

    # Swipes decide as before, and usage is the seeded users'.
    assert t.swipe("A1A1A1A1")["decision"] == "granted"   # alice, qualified: starts
    assert t.swipe("A1A1A1A1")["reason"] == "swipe_out"   # and ends her session
    assert t.swipe("E5E5E5E5")["reason"] == "unknown_card"  # eve: not qualified here
    assert t.swipe("C3C3C3C3")["reason"] == "card_revoked"  # the lost card, by its own reason
    assert t.swipe("b2b2b2b2")["decision"] == "granted"   # bob, the reader's letter case ignored
    assert t.swipe("B2B2B2B2")["reason"] == "swipe_out"
    campus.settle(t)
    users = sorted(s["user"] for s in campus.server.get("/api/sessions"))
    assert users == ["u-alice", "u-bob"], users
    events = {e["card"]: e for e in campus.server.get(f"/api/access-events?terminal={t.id}&limit=100")}
    assert events["E5E5E5E5"]["user"] == "u-eve" and events["E5E5E5E5"]["reason"] == "not_qualified", events
    assert events["C3C3C3C3"]["user"] == "u-alice", events

    # Offline, from the cache alone: the same answers.
    campus.broker.stop()
    wait_until(lambda: "broker connection lost" in t.log_text(), 30, what="the terminal to notice the broker is gone")
    assert t.swipe("A1A1A1A1")["decision"] == "granted"
    assert t.swipe("A1A1A1A1")["reason"] == "swipe_out"
    assert t.swipe("E5E5E5E5")["reason"] == "unknown_card"

    # The terminal's cached bundle holds digests and pseudonyms only; its log names no other person's card.
    db = sqlite3.connect(f"file:{t.dir / 'terminal.db'}?mode=ro", uri=True)
    try:
        cached = db.execute("SELECT card, user FROM acl_grants UNION ALL SELECT card, user FROM acl_denials").fetchall()
        form = db.execute("SELECT card_form FROM acl_policy").fetchone()[0]
    finally:
        db.close()
    assert form == "hmac-sha256-128" and cached, (form, cached)
    for card, user in cached:
        assert len(card) == 32 and user.startswith("p-"), (card, user)
    log = t.log_text()
    assert "B2B2B2B2" in log  # bob swiped here: his own swipe is in the log
    assert "C3C3C3C3" in log  # so was the lost card
    assert "u-alice" not in log and "u-bob" not in log, "directory ids in the terminal log"


def test_forged_command_refused(campus):
    campus.seed()
    t = campus.terminal("t-xrd-01")
    topic = f"lg/v1/{SITE}/t-xrd-01"
    lines = []
    watcher = subprocess.Popen(["mosquitto_sub", *campus.mqtt_cli(), "-t", f"{topic}/cmdres", "-v"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    reader = threading.Thread(target=lambda: lines.extend(iter(watcher.stdout.readline, "")), daemon=True)
    reader.start()
    try:
        n = [0]

        def forge():
            # A command nobody signed: the server's commands come only from the server's key. Sent
            # again until the watcher (whose subscription may come after the first) sees an answer.
            n[0] += 1
            forged = json.dumps({"v": 1, "kid": "server", "body": json.dumps(
                {"type": "cmd", "id": f"c-forged-{n[0]}", "kind": "unlock", "terminal": "t-xrd-01",
                 "issued": "2026-01-01T00:00:00.000Z", "expires": "2026-01-01T00:05:00.000Z"}),
                "sig": "MEUCIQD0"})
            subprocess.run(["mosquitto_pub", *campus.mqtt_cli("server.tester"), "-q", "1", "-t", f"{topic}/cmd",
                            "-m", forged], check=True, timeout=20)
            return any("bad_signature" in line for line in lines)

        wait_until(forge, 60, interval=0.5, what="a cmdres refusing the forged command")
    finally:
        watcher.terminate()
        watcher.wait(timeout=10)
    assert "refused command c-forged-1: bad_signature" in t.log_text()
    assert t.swipe("A1A1A1A1")["decision"] == "granted"  # nothing was unlocked; the door decides as before


if __name__ == "__main__":
    run([test_no_personal_data_in_the_bundle,
         test_forged_command_refused])
