"""Health tells the truth, and the log says what an operator acts on.

- A server whose broker is unreachable logs each failed connect at WARN with the reason and
  answers /api/health with 503 naming the broker; it turns 200 once the broker is there.
- A broker that goes away mid-run turns health to 503 at once, and back when it returns.
- Heartbeats are routine: a terminal that stays connected adds no INFO line per heartbeat.
"""
import json
import urllib.error
import urllib.request

from harness import Mosquitto, Proc, Server, free_port, run, wait_until


def health(server):
    try:
        with urllib.request.urlopen(server.url + "/api/health", timeout=10) as r:
            return r.status, json.loads(r.read().decode())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read().decode())


def test_unreachable_broker_is_logged_with_the_reason_and_health_is_503(campus):
    port = free_port()  # nothing listens here yet
    s = Server(campus.dir / "lonely", f"tcp://127.0.0.1:{port}", site="lonely")
    campus.add(s)
    Proc.start(s)  # Server.start would wait for a healthy server
    port_file = s.dir / "http.port"
    s.port = int(wait_until(lambda: port_file.exists() and port_file.read_text().strip(), 20, what="http.port"))
    status, body = wait_until(lambda: (lambda h: h if h[0] == 503 and "cannot connect" in (
        h[1]["broker"]["error"] or "") else None)(health(s)), 30, what="health 503 naming the broker")
    assert body["ok"] is False and body["broker"]["connected"] is False, body
    assert f"127.0.0.1:{port}" in body["broker"]["error"], body
    assert body["database"]["ok"] is True, body
    assert any(p.startswith("broker: ") for p in body["problems"]), body
    log = wait_until(lambda: (lambda t: t if "WARN server: MQTT: cannot connect to" in t else None)(s.log_text()),
                     20, what="a WARN line with the reason")
    line = next(l for l in log.splitlines() if "WARN server: MQTT: cannot connect to" in l)
    assert f"tcp://127.0.0.1:{port}" in line and "retrying" in line, line

    # the broker appears on that port: the server connects and health turns 200
    (campus.dir / "late-broker").mkdir(parents=True, exist_ok=True)
    campus.add(Mosquitto(campus.dir / "late-broker", port=port)).start()
    status, body = wait_until(lambda: (lambda h: h if h[0] == 200 else None)(health(s)), 90, interval=0.2,
                              what="health 200 after the broker came up")
    assert body["ok"] is True and body["broker"]["connected"] is True and body["problems"] == [], body


def test_broker_loss_turns_health_503_and_back(campus):
    s = campus.server
    assert health(s)[0] == 200
    campus.broker.stop()
    status, body = wait_until(lambda: (lambda h: h if h[0] == 503 else None)(health(s)), 30,
                              what="health 503 after the broker stopped")
    assert body["broker"]["connected"] is False, body
    campus.broker.start()
    wait_until(lambda: health(s)[0] == 200, 90, interval=0.2, what="health 200 after the broker returned")


def test_heartbeats_are_not_info_lines(campus):
    campus.seed()
    t = campus.terminal()  # the harness sets heartbeat_s = 1
    campus.wait_heartbeats(t.id, 5)  # at least five heartbeats reached the server
    info = [l for l in campus.server.log_text().splitlines() if " INFO " in l and t.id in l and " boot " in l]
    # the terminal came online once (and may have reported its first state twice while connecting)
    assert len(info) <= 2, info


if __name__ == "__main__":
    run([test_unreachable_broker_is_logged_with_the_reason_and_health_is_503, test_broker_loss_turns_health_503_and_back,
         test_heartbeats_are_not_info_lines])
