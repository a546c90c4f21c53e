"""Hostile conditions on the real processes: a deleted or rolled-back retained sync bundle is
repaired by the server and never adopted by the terminal; signed records a buggy or compromised
terminal might send (seq 2^63, another instrument, an impossible duration) are refused and
counted; duplicate JSON keys are refused on MQTT and HTTP; request paths cannot forge log lines;
databases are not world-readable."""
import base64
import json
import os
import re
import stat
import subprocess
import urllib.request

from harness import SITE, TOKEN, run, wait_until


def pub(campus, topic, payload, retain=False):
    argv = ["mosquitto_pub", *campus.mqtt_cli(), "-q", "1", "-t", topic]
    if retain:
        argv.append("-r")
    if payload == "":
        argv.append("-n")  # a zero-length message: on a retained topic it deletes what the broker holds
    else:
        argv += ["-m", payload]
    subprocess.run(argv, check=True, timeout=10)


def retained(campus, topic):
    """What the broker holds on a retained topic ('' when nothing)."""
    out = subprocess.run(["mosquitto_sub", *campus.mqtt_cli(), "-t", topic,
                          "-C", "1", "-W", "2", "--retained-only"], capture_output=True, text=True, timeout=10)
    return out.stdout.rstrip("\n")


def bundle_version(payload):
    return json.loads(json.loads(payload)["body"])["version"] if payload else 0


def rejected(campus, reason):
    return campus.server.get("/api/stats")["rejected"].get(reason, 0)


def sign_as(terminal, body):
    """Seals body with the terminal's own key (what a compromised or buggy terminal can do)."""
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(terminal.dir / "terminal.key")],
                         input=body.encode(), capture_output=True, check=True, timeout=10).stdout
    return json.dumps({"v": 1, "kid": terminal.id, "body": body, "sig": base64.b64encode(sig).decode()})


def record(seq, kind, **fields):
    r = {"seq": seq, "id": f"0000dead-0000-4000-8000-{seq % 10**12:012d}", "kind": kind,
         "ts": "2026-11-27T01:00:00.000Z", "synced": True}
    r.update(fields)
    return r


def session_end(seq, session, resource, start, end, duration_ms):
    return record(seq, "session_end", session=session, card="A1A1A1A1", user="u-alice", resource=resource,
                  booking="", start=start, end=end, duration_ms=duration_ms, end_reason="swipe_out", flags=[])


def test_deleted_or_rolled_back_bundle_is_repaired(campus):
    campus.seed()
    t = campus.terminal()
    topic = f"lg/v1/{SITE}/{t.id}/sync"
    v1 = campus.wait_synced(t.id)
    old = wait_until(lambda: (lambda p: p if bundle_version(p) == v1 else None)(retained(campus, topic)), 10,
                     what="the broker to hold v1")
    campus.server.post("/api/qualifications", {"user": "u-eve", "instrument": "inst-xrd"})
    v2 = campus.wait_synced(t.id, above=v1)

    # someone deletes the retained bundle: the server notices and publishes v2 again
    pub(campus, topic, "", retain=True)
    wait_until(lambda: bundle_version(retained(campus, topic)) == v2, 20, what="deleted bundle republished")
    # someone replays the genuine, older v1 as the retained message: rolled forward again
    pub(campus, topic, old, retain=True)
    wait_until(lambda: bundle_version(retained(campus, topic)) == v2, 20, what="rolled-back bundle repaired")
    wait_until(lambda: rejected(campus, "sync_overwritten") >= 2, 10, what="both overwrites counted")
    # the terminal kept its last good bundle throughout: Eve (qualified in v2) is let in
    assert campus.terminal_info(t.id)["acl_version"] == v2
    r = t.swipe("E5E5E5E5")
    assert (r["decision"], r["reason"]) == ("granted", "qualified"), r
    assert t.swipe("E5E5E5E5")["action"] == "end"
    assert "older than applied" in t.log_text()


def test_signed_records_the_server_must_refuse(campus):
    campus.seed()
    s = campus.server
    s.post("/api/instruments", {"id": "inst-tem", "name": "TEM", "lab": "lab-xrd", "kind": "instrument"})
    s.post("/api/fee-standards", {"instrument": "inst-tem", "internal_fen_per_hour": 90000,
                                  "external_fen_per_hour": 180000})
    s.post("/api/qualifications", {"user": "u-alice", "instrument": "inst-tem"})
    t = campus.terminal()
    t.stop()  # its key signs what follows; its own outbox stays out of the way
    topic = f"lg/v1/{SITE}/{t.id}/evt"
    acked = campus.terminal_info(t.id)["acked_seq"]

    def batch(*records):
        return sign_as(t, json.dumps({"type": "evt", "terminal": t.id, "boot": 1, "records": list(records)}))

    # 1. seq 2^63 does not fit a signed 64-bit integer: the batch is refused whole
    pub(campus, topic, batch(record(2**63, "alarm", code="x", detail="")))
    wait_until(lambda: rejected(campus, "bad_body") == 1, 20, what="seq 2^63 refused")
    # 2. a session on an instrument this terminal does not control (billed at the TEM's rate before)
    n = acked + 1
    pub(campus, topic, batch(
        record(n, "session_start", session="s-tem", card="A1A1A1A1", user="u-alice", resource="inst-tem",
               booking=""),
        session_end(n + 1, "s-tem", "inst-tem", "2026-11-27T00:00:00.000Z", "2026-11-27T01:00:00.000Z", 3600000)))
    wait_until(lambda: rejected(campus, "resource_mismatch") == 2, 20, what="resource mismatch refused")
    # 3. start == end but 366 days of duration (316,224,000 fen before)
    pub(campus, topic, batch(session_end(n + 2, "s-long", "inst-xrd", "2026-11-27T00:00:00.000Z",
                                         "2026-11-27T00:00:00.000Z", 366 * 24 * 3600 * 1000)))
    wait_until(lambda: rejected(campus, "bad_duration") == 1, 20, what="impossible duration refused")
    # 4. a duplicate key: two readers could see two different seqs
    dup = json.dumps({"type": "evt", "terminal": t.id, "boot": 1, "records": [
        record(n + 3, "alarm", code="x", detail="")]}).replace('"seq": ', '"seq": 1, "seq": ', 1)
    pub(campus, topic, sign_as(t, dup))
    wait_until(lambda: rejected(campus, "bad_body") == 2, 20, what="duplicate key refused")

    assert s.get("/api/charges") == [], "nothing refused may be billed"
    assert s.closed_sessions() == []
    # the refused records are kept as evidence, so the terminal's outbox can drain past them
    assert campus.terminal_info(t.id)["acked_seq"] == n + 2
    log = s.log_text()
    assert "names resource inst-tem, terminal is enrolled for inst-xrd" in log, log[-3000:]
    assert "longer than the 744.0 h" in log


def test_duplicate_keys_nul_and_log_injection_over_http(campus):
    campus.seed()
    s = campus.server
    status, out = s.request("POST", "/api/users", raw=b'{"id":"u-x","name":"X","category":"internal",'
                                                      b'"category":"external"}')
    assert status == 400 and "duplicate key" in out["error"], (status, out)
    status, out = s.request("POST", "/api/users", {"id": "u-x", "name": "X\u0000Y", "category": "internal"})
    assert status == 422 and "control characters" in out["error"], (status, out)
    assert all(u["id"] != "u-x" for u in s.get("/api/users"))
    # a forged log line in the request path, and a NUL
    forged = "2026-11-27T00:00:00.000Z ERROR server: database corrupted"
    for path in ["/api/x%0A" + forged.replace(" ", "%20"), "/api/y%00z", "/api/w%0D%0A%1B[31m"]:
        req = urllib.request.Request(s.url + path, headers={"Authorization": f"Bearer {TOKEN}"})
        try:
            urllib.request.urlopen(req, timeout=10)
        except urllib.error.HTTPError as e:
            assert e.code == 404, e.code
    wait_until(lambda: "/api/y\\x00z" in s.log_text(), 10, what="the NUL request logged, escaped")
    raw = (s.dir / "server.log").read_bytes()
    assert b"\x00" not in raw and b"\x1b" not in raw
    line_start = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO|WARN|ERROR) ")
    for line in raw.decode().splitlines():
        assert line_start.match(line), f"a log line that the server did not write: {line!r}"
        assert not line.startswith(forged)
    assert "/api/x\\n" + forged in raw.decode()


def test_data_files_are_not_world_readable(campus):
    campus.seed()
    t = campus.terminal()
    for path in [campus.server.dir / "labgate.db", t.dir / "terminal.db", campus.server.dir / "server.key",
                 t.dir / "terminal.key"]:
        mode = stat.S_IMODE(os.stat(path).st_mode)
        assert mode & 0o077 == 0, f"{path} has mode {oct(mode)}"
    for path in [campus.server.dir / "labgate.db-wal", t.dir / "terminal.db-wal"]:
        if path.exists():
            assert stat.S_IMODE(os.stat(path).st_mode) & 0o007 == 0, path
    # the harness made both data dirs with the usual 0755; the programs restricted them at start
    for d, proc in [(campus.server.dir, campus.server), (t.dir, t)]:
        assert stat.S_IMODE(os.stat(d).st_mode) == 0o700, f"{d} has mode {oct(stat.S_IMODE(os.stat(d).st_mode))}"
        assert "to its owner (mode 0700)" in proc.log_text()


if __name__ == "__main__":
    run([test_deleted_or_rolled_back_bundle_is_repaired, test_signed_records_the_server_must_refuse,
         test_duplicate_keys_nul_and_log_injection_over_http, test_data_files_are_not_world_readable])
