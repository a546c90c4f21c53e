"""Malformed, oversized and forged payloads published with mosquitto_pub are rejected, logged
and counted, and change nothing; bad HTTP requests get 4xx with a reason; bad config is refused."""
import base64
import json
import subprocess
import time

from harness import BIN, SITE, iso_ms, run, wait_until


def pub(campus, topic, payload=None, file=None):
    argv = ["mosquitto_pub", *campus.mqtt_cli(), "-q", "1", "-t", topic]
    argv += ["-f", str(file)] if file else ["-m", payload]
    subprocess.run(argv, check=True, timeout=10)


def rejected(campus):
    return campus.server.get("/api/stats")["rejected"]


def openssl_sign(key_path, body):
    out = subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(key_path)], input=body.encode(),
                         capture_output=True, check=True, timeout=10)
    return base64.b64encode(out.stdout).decode()


def test_mqtt_garbage_is_rejected_and_counted(campus):
    campus.seed()
    t = campus.terminal()
    topic = f"lg/v1/{SITE}/{t.id}/evt"
    good_body = json.dumps({"type": "evt", "terminal": t.id, "boot": 1, "records": [{
        "seq": 999, "id": "f0f0f0f0-0000-4000-8000-000000000001", "kind": "session_end",
        "ts": "2026-11-27T01:00:00.000Z", "synced": True, "session": "forged-1", "card": "A1A1A1A1",
        "user": "u-alice", "resource": "inst-xrd", "booking": "", "start": "2026-11-27T00:00:00.000Z",
        "end": "2026-11-27T01:00:00.000Z", "duration_ms": 3600000, "end_reason": "swipe_out", "flags": []}]})
    # 1. not JSON  2. JSON but not an envelope  3. wrong protocol version
    pub(campus, topic, "hello, broker")
    pub(campus, topic, json.dumps({"v": 1, "kid": t.id}))
    pub(campus, topic, json.dumps({"v": 9, "kid": t.id, "body": good_body, "sig": "AAAA"}))
    # 4. oversized (300 KiB)
    big = campus.dir / "big.json"
    big.write_text(json.dumps({"v": 1, "kid": t.id, "body": "x" * (300 * 1024), "sig": "AAAA"}))
    pub(campus, topic, file=big)
    # 5. forged: a free-hour session signed by a key that is not the terminal's
    subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out",
                    str(campus.dir / "evil.pem")], check=True, capture_output=True)
    forged = {"v": 1, "kid": t.id, "body": good_body, "sig": openssl_sign(campus.dir / "evil.pem", good_body)}
    pub(campus, topic, json.dumps(forged))
    # 6. unknown terminal's topic
    pub(campus, f"lg/v1/{SITE}/t-ghost/evt", json.dumps(forged))
    # 7. a state message from nobody
    pub(campus, f"lg/v1/{SITE}/{t.id}/state", "{}")
    total = wait_until(lambda: (lambda r: r if sum(r.values()) >= 7 else None)(rejected(campus)), 20,
                       what="7 rejections counted")
    assert sum(total.values()) >= 7, total
    assert campus.server.request("GET", "/api/health")[0] == 200, "server must keep running"
    assert campus.server.closed_sessions() == [], "a forged session must not be stored"
    assert campus.server.get("/api/charges") == []
    # the real terminal still works end to end after the garbage
    assert t.swipe("A1A1A1A1")["action"] == "start"
    assert t.swipe("A1A1A1A1")["action"] == "end"
    wait_until(lambda: len(campus.server.closed_sessions()) == 1, 20, what="real session")
    assert "reject" in campus.server.log_text().lower()


def test_forged_ack_does_not_make_the_terminal_drop_records(campus):
    campus.seed()
    t = campus.terminal()
    campus.server.kill9()          # no real acks for now
    assert t.swipe("A1A1A1A1")["action"] == "start"
    assert t.swipe("A1A1A1A1")["action"] == "end"
    body = json.dumps({"type": "ack", "terminal": t.id, "seq": 1000000})
    subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out",
                    str(campus.dir / "evil.pem")], check=True, capture_output=True)
    pub(campus, f"lg/v1/{SITE}/{t.id}/ack",
        json.dumps({"v": 1, "kid": "server", "body": body, "sig": openssl_sign(campus.dir / "evil.pem", body)}))
    # the terminal has seen the forged ack (and refused it) before the real server returns
    wait_until(lambda: "rejected ack: bad signature" in t.log_text(), 20, what="the terminal to refuse the forged ack")
    campus.server.start()
    wait_until(lambda: len(campus.server.closed_sessions()) == 1, 30, what="session survives a forged ack")


def test_bad_http_requests_get_4xx_with_reason(campus):
    campus.seed()
    s = campus.server
    def check(status_expected, method, path, body=None, raw=None, token="test-admin-token"):
        status, out = s.request(method, path, body, raw=raw, token=token)
        assert status == status_expected, (method, path, status, out)
        assert isinstance(out, dict) and out.get("error"), (method, path, out)
        return out["error"]
    check(401, "GET", "/api/terminals", token=None)
    check(401, "GET", "/api/terminals", token="wrong")
    check(404, "GET", "/api/nothing-here")
    check(405, "DELETE", "/api/health")
    check(400, "POST", "/api/users", raw=b"{not json")
    err = check(400, "POST", "/api/users", {"id": "u-x", "category": "internal"})
    assert "name" in err, err
    err = check(422, "POST", "/api/users", {"id": "u x", "name": "X", "category": "internal"})
    assert "id" in err, err
    check(422, "POST", "/api/cards", {"uid": "CAFE0001", "user": "u-nobody"})
    check(413, "POST", "/api/users", raw=json.dumps({"id": "u-big", "name": "x" * 100000,
                                                     "category": "internal"}).encode())
    tomorrow = (int(time.time()) // 3600 + 24) * 3600
    check(422, "POST", "/api/bookings", {"instrument": "inst-xrd", "user": "u-alice",
                                         "start": iso_ms(tomorrow + 3600), "end": iso_ms(tomorrow)})
    users_before = s.get("/api/users")
    check(409, "POST", "/api/users", {"id": "u-alice", "name": "Alice again", "category": "internal"})
    assert s.get("/api/users") == users_before, "bad input changes nothing"


def test_concurrent_overlapping_bookings_admit_exactly_one(campus):
    import threading
    campus.seed()
    s = campus.server
    results = []
    day = (int(time.time()) // 86400 + 2) * 86400  # the day after tomorrow, 00:00 UTC
    def book(i):
        status, out = s.request("POST", "/api/bookings", {
            "instrument": "inst-xrd", "user": "u-alice" if i % 2 else "u-bob",
            "start": iso_ms(day + (1 + i % 3) * 3600), "end": iso_ms(day + 5 * 3600)})
        results.append(status)
    threads = [threading.Thread(target=book, args=(i,)) for i in range(16)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert results.count(201) == 1, results
    assert results.count(409) == 15, results
    assert len(s.get("/api/bookings")) == 1


def test_bad_config_is_refused_naming_the_key(campus):
    bad = campus.dir / "bad-server.toml"
    bad.write_text(campus.server.conf.read_text().replace("port = 0", "prot = 0"))
    out = subprocess.run([str(BIN / "labgate-server"), "--config", str(bad)], capture_output=True, text=True,
                         timeout=20)
    assert out.returncode == 2, out
    assert "http.prot" in out.stderr, out.stderr
    bad2 = campus.dir / "bad-server2.toml"
    bad2.write_text(campus.server.conf.read_text().replace("port = 0", 'port = "eighty"'))
    out = subprocess.run([str(BIN / "labgate-server"), "--config", str(bad2)], capture_output=True, text=True,
                         timeout=20)
    assert out.returncode == 2 and "http.port" in out.stderr, out.stderr
    campus.seed()
    t = campus.terminal()
    badt = campus.dir / "bad-terminal.toml"
    badt.write_text(t.conf.read_text().replace('transport = "tcp"', 'transport = "carrier-pigeon"', 1))
    out = subprocess.run([str(BIN / "labgate-terminal"), "--config", str(badt)], capture_output=True, text=True,
                         timeout=20)
    assert out.returncode == 2 and "relay.transport" in out.stderr, out.stderr


if __name__ == "__main__":
    run([test_mqtt_garbage_is_rejected_and_counted, test_forged_ack_does_not_make_the_terminal_drop_records,
         test_bad_http_requests_get_4xx_with_reason, test_concurrent_overlapping_bookings_admit_exactly_one,
         test_bad_config_is_refused_naming_the_key])
