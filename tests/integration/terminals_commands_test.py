"""Signed remote commands on real processes (issue 9; docs/PROTOCOL.md "Remote commands").

- A terminal whose cached bundle was damaged on disk (its grants deleted while it was stopped)
  denies a qualified card: the retained bundle has the applied version, so it is not written
  again. A `resync` sent through the API (POST /api/terminals/{id}/commands) is answered `done`
  on cmdres (GET .../commands/last), the terminal re-applies its bundle and grants the card
  again. The send is audited. labgatectl terminal command / command-result do the same.
- Commands to an unknown terminal (404) or a revoked one (409) are refused and nothing is
  sent; a revoked terminal's cmdres (its own authentic answer, replayed) is refused and counted
  as revoked_terminal.
- Only the server's identities may publish on a terminal's cmd topic: neither the terminal's own
  identity nor another terminal's gets a message through the broker's ACL.
"""
import json
import os
import sqlite3
import subprocess
import threading

from harness import BIN, SITE, TOKEN, mint_identity, run, wait_until

TERM = "t-xrd-01"
TOPIC = f"lg/v1/{SITE}/{TERM}"


def ctl(campus, *args):
    env = {k: v for k, v in os.environ.items() if k not in ("LABGATE_TOKEN", "LABGATE_URL", "LABGATE_TZ")}
    env["LABGATE_TOKEN_FILE"] = str(campus.dir / "no-token-file")
    argv = [str(BIN / "labgatectl"), "--url", campus.server.url, "--token", TOKEN, *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, env=env)


def last_answer(campus, term_id=TERM):
    status, body = campus.server.request("GET", f"/api/terminals/{term_id}/commands/last")
    return body if status == 200 else None


def wait_answer(campus, command_id, term_id=TERM):
    """Waits until the server holds the terminal's answer to command_id; returns it."""
    return wait_until(lambda: (lambda a: a if a and a["id"] == command_id else None)(last_answer(campus, term_id)),
                      30, what=f"{term_id}'s answer to command {command_id}")


def reapplied(t):
    return t.log_text().count("re-applied sync bundle version")


def pub(args, topic, payload):
    return subprocess.run(["mosquitto_pub", *args, "-q", "1", "-t", topic, "-m", payload], capture_output=True,
                          text=True, timeout=20)


def test_resync_rewrites_a_damaged_cache(campus):
    campus.seed()
    t = campus.terminal(TERM)
    assert t.swipe("A1A1A1A1")["action"] == "start"
    assert t.swipe("A1A1A1A1")["action"] == "end"
    campus.settle(t)
    version = campus.terminal_info(TERM)["acl_version"]
    assert version > 0
    status, none = campus.server.request("GET", f"/api/terminals/{TERM}/commands/last")
    assert status == 404, (status, none)

    # The cache is damaged on disk while the terminal is stopped: its grants are gone.
    t.stop()
    with sqlite3.connect(t.dir / "terminal.db") as db:
        db.execute("DELETE FROM acl_grants")
    t.start()
    # settle: the retained bundle of the new connection came and went before the markers did; it
    # has the applied version, so it was not written again and the damage stays.
    campus.settle(t)
    assert campus.terminal_info(TERM)["acl_version"] == version
    denied = t.swipe("A1A1A1A1")
    assert denied["decision"] == "denied", denied
    assert reapplied(t) == 0

    # resync through the API: 202 with the command; the terminal answers done and writes the bundle again.
    status, cmd = campus.server.request("POST", f"/api/terminals/{TERM}/commands", {"kind": "resync", "ttl_s": 120})
    assert status == 202, (status, cmd)
    assert cmd["kind"] == "resync" and cmd["terminal"] == TERM and cmd["expires"], cmd
    answer = wait_answer(campus, cmd["id"])
    assert answer["outcome"] == "done" and answer["kind"] == "resync", answer
    wait_until(lambda: reapplied(t) >= 1, 30, what=f"{TERM} to re-apply its bundle")
    granted = t.swipe("A1A1A1A1")
    assert granted["decision"] == "granted" and granted["action"] == "start", granted
    assert t.swipe("A1A1A1A1")["action"] == "end"
    assert campus.terminal_info(TERM)["acl_version"] == version  # the same bundle, written again

    # Audited: who sent which command.
    entries = campus.server.get(f"/api/audit?entity=terminal&entity_id={TERM}")
    sent = [e for e in entries if e["action"] == "command"]
    assert len(sent) == 1 and sent[0]["after"]["id"] == cmd["id"] and sent[0]["actor"] == "admin-token", sent

    # The same through labgatectl.
    out = ctl(campus, "terminal", "command", TERM, "resync", "--ttl", "60")
    assert out.returncode == 0, out
    assert "resync command " in out.stdout and f"sent to {TERM}" in out.stdout, out.stdout
    out_json = ctl(campus, "--json", "terminal", "command", TERM, "resync")
    assert out_json.returncode == 0, out_json
    second = json.loads(out_json.stdout)
    wait_answer(campus, second["id"])
    res = ctl(campus, "terminal", "command-result", TERM)
    assert res.returncode == 0, res
    assert f"{TERM} answered resync command {second['id']}: done" in res.stdout, res.stdout
    wait_until(lambda: reapplied(t) >= 2, 30, what=f"{TERM} to re-apply its bundle again")
    bad = ctl(campus, "terminal", "command", TERM, "reboot")
    assert bad.returncode == 2 and "reboot" in bad.stderr, bad


class Watcher:
    """mosquitto_sub as one of the server's identities on some topics, its lines read by a thread."""

    def __init__(self, campus, *topics):
        argv = ["mosquitto_sub", *campus.mqtt_cli(), "-v"]
        for topic in topics:
            argv += ["-t", topic]
        self.p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines = []
        self.reader = threading.Thread(target=lambda: self.lines.extend(iter(self.p.stdout.readline, "")), daemon=True)
        self.reader.start()

    def text(self):
        return "".join(list(self.lines))

    def wait_subscribed(self, campus, topic):
        """server.tester publishes markers on topic until one arrives: the subscription is in."""
        n = [0]

        def arrived():
            n[0] += 1
            pub(campus.mqtt_cli("server.tester"), topic, f"subscribed-marker-{n[0]}")
            return "subscribed-marker-" in self.text()
        wait_until(arrived, 30, interval=0.3, what=f"a subscription to {topic}")

    def close(self):
        self.p.terminate()
        self.p.wait(timeout=10)


def test_commands_to_unknown_or_revoked_terminals_are_refused(campus):
    campus.seed()
    t = campus.terminal(TERM)
    # The terminal's answer as it went over the broker, seen by the server's observer identity.
    watcher = Watcher(campus, f"{TOPIC}/cmdres")
    try:
        watcher.wait_subscribed(campus, f"{TOPIC}/cmdres")
        status, cmd = campus.server.request("POST", f"/api/terminals/{TERM}/commands", {"kind": "resync"})
        assert status == 202, (status, cmd)
        wait_answer(campus, cmd["id"])
        line = wait_until(lambda: next((l for l in list(watcher.lines)
                                        if l.startswith(f"{TOPIC}/cmdres {{") and cmd["id"] in l), None),
                          30, what="the terminal's cmdres on the broker")
        authentic = line.split(" ", 1)[1].strip()
    finally:
        watcher.close()

    status, body = campus.server.request("POST", "/api/terminals/t-nobody/commands", {"kind": "resync"})
    assert status == 404 and "t-nobody" in body["error"], (status, body)
    status, body = campus.server.request("POST", f"/api/terminals/{TERM}/commands", {"kind": "reboot"})
    assert status == 422 and "kind" in body["error"], (status, body)

    status, out = campus.server.request("POST", f"/api/terminals/{TERM}/revoke", {"reason": "stolen from lab 3"})
    assert status == 200, out
    status, body = campus.server.request("POST", f"/api/terminals/{TERM}/commands", {"kind": "resync"})
    assert status == 409 and "revoked" in body["error"], (status, body)
    entries = campus.server.get(f"/api/audit?entity=terminal&entity_id={TERM}")
    assert len([e for e in entries if e["action"] == "command"]) == 1, entries  # only the one that was sent

    # The revoked terminal's authentic answer, published again on its cmdres topic: refused, counted.
    before = campus.server.get("/api/stats")["rejected"].get("revoked_terminal", 0)
    pub(campus.mqtt_cli("server.tester"), f"{TOPIC}/cmdres", authentic)
    wait_until(lambda: campus.server.get("/api/stats")["rejected"].get("revoked_terminal", 0) > before, 30,
               what="the revoked terminal's cmdres to be refused and counted")
    assert f"rejected revoked_terminal on {TOPIC}/cmdres" in campus.server.log_text()


def test_only_server_identities_publish_on_a_terminal_cmd_topic(campus):
    campus.seed()
    campus.terminal(TERM)
    # The terminal's own name (a second certificate for it) and another terminal's name.
    own_cert, own_key = mint_identity(campus.pki_dir, TERM, campus.dir / "twin")
    other_cert, other_key = mint_identity(campus.pki_dir, "t-xrd-02", campus.dir / "other")

    def cert_args(cert, key):
        return ["-h", "127.0.0.1", "-p", str(campus.broker.port), "--cafile", str(campus.pki_dir / "ca.crt"),
                "--cert", str(cert), "--key", str(key)]

    watcher = Watcher(campus, f"{TOPIC}/cmd")
    try:
        watcher.wait_subscribed(campus, f"{TOPIC}/cmd")
        # What a server identity publishes there reaches the terminal: it refuses the markers as unsigned.
        wait_until(lambda: (lambda a: a and a["outcome"] == "refused" and a["reason"] == "unsigned")(
            last_answer(campus)), 30, what=f"{TERM} to refuse the unsigned markers")
        # (The broker takes a client's name from its certificate: the twin's connection closes the
        # terminal's own, which reconnects.)
        pub(cert_args(own_cert, own_key), f"{TOPIC}/cmd", "forged-by-the-terminal-itself")
        pub(cert_args(other_cert, other_key), f"{TOPIC}/cmd", "forged-by-another-terminal")
        pub(campus.mqtt_cli("server.tester"), f"{TOPIC}/cmd", "last-marker")
        wait_until(lambda: "last-marker" in watcher.text(), 30, what="the observer to see the last marker")
    finally:
        watcher.close()
    observed = watcher.text()
    assert "forged-by" not in observed, observed


if __name__ == "__main__":
    run([test_resync_rewrites_a_damaged_cache,
         test_commands_to_unknown_or_revoked_terminals_are_refused,
         test_only_server_identities_publish_on_a_terminal_cmd_topic])
