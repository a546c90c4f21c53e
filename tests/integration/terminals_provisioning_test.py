"""Provisioning and transport security on real processes (issue 9).

- A terminal enrols with a one-time token (its key made on the device), works over mutual TLS,
  and the token cannot be used again.
- The broker admits only certificates of the site CA: an anonymous client and a certificate of
  another CA are refused; a client holding another terminal's certificate can neither read this
  terminal's topics nor write to them (an empty retained sync, a forged evt): checked with
  Mosquitto's own mosquitto_sub/mosquitto_pub and openssl-made certificates.
- What a terminal's identity can read on the broker holds no card UID, user id or name.
- A revoked terminal is cut off: its certificate is refused at the TLS handshake (CRL), and a
  connection with the same name that was open before is denied every topic (ACL); the server
  refuses its messages.
- A replaced device (a new key, enrolled again under the id) is a new epoch: its records follow
  the old device's and none is lost or taken for a duplicate.
"""
import json
import shutil
import subprocess

from harness import SITE, Terminal, make_foreign_ca, mint_identity, run, wait_until


def sub(campus, args, topic, seconds=3, count=None):
    """mosquitto_sub for a few seconds (-W): returns (returncode, output)."""
    argv = ["mosquitto_sub", *args, "-t", topic, "-v", "-W", str(seconds)]
    if count:
        argv += ["-C", str(count)]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 20)
    return out.returncode, out.stdout + out.stderr


def pub(args, topic, payload=None, retain=False):
    argv = ["mosquitto_pub", *args, "-q", "1", "-t", topic]
    argv += ["-r"] if retain else []
    argv += ["-m", payload] if payload is not None else ["-n"]
    return subprocess.run(argv, capture_output=True, text=True, timeout=20)


def cert_args(campus, cert, key, ca=None):
    return ["-h", "127.0.0.1", "-p", str(campus.broker.port), "--cafile", str(ca or campus.pki_dir / "ca.crt"),
            "--cert", str(cert), "--key", str(key)]


def test_enrolled_terminal_over_mtls_and_strangers_locked_out(campus):
    campus.seed()
    t = campus.terminal("t-xrd-01")
    assert t.swipe("A1A1A1A1")["decision"] == "granted"
    enrolled = (t.dir / "enrolled.toml").read_text()
    assert 'id = "t-xrd-01"' in enrolled and "epoch = 1" in enrolled, enrolled
    # The token was used up: a second device cannot enrol with it.
    token = campus.enrol_token("t-xrd-02", "inst-xrd")
    other = Terminal(campus.dir, "t-xrd-02", "inst-xrd", campus.broker.uri, campus.server.public_key_path,
                     {"port": t.sim.port})
    other.enrol(campus.server.url, token)
    again = subprocess.run(other.argv + ["enrol", "--server", campus.server.url, "--token", token],
                           capture_output=True, text=True, timeout=60)
    assert again.returncode != 0 and "unknown, used or expired" in again.stderr, again

    topic_root = f"lg/v1/{SITE}/t-xrd-01"
    # Anonymous (no client certificate) and a certificate of another CA: refused at the handshake.
    rc, out = sub(campus, ["-h", "127.0.0.1", "-p", str(campus.broker.port), "--cafile",
                           str(campus.pki_dir / "ca.crt")], "lg/v1/#", seconds=2)
    assert rc != 0, out
    foreign_ca, foreign_key = make_foreign_ca(campus.dir / "foreign")
    fcert, fkey = mint_identity(campus.dir / "foreign", "t-xrd-01", campus.dir / "foreign" / "clients")
    rc, out = sub(campus, cert_args(campus, fcert, fkey), "lg/v1/#", seconds=2)
    assert rc != 0, out
    # The plain-TCP way in does not exist: the TLS port does not speak MQTT in the clear.
    rc, out = sub(campus, ["-h", "127.0.0.1", "-p", str(campus.broker.port)], "lg/v1/#", seconds=2)
    assert rc != 0, out

    # Another terminal's certificate (t-xrd-02, enrolled above): it watches everything it may while
    # t-xrd-01 works and the server republishes its bundle; it sees nothing of t-xrd-01.
    cert2, key2 = other.dir / "terminal.crt", other.dir / "terminal.key"
    watcher = subprocess.Popen(["mosquitto_sub", *cert_args(campus, cert2, key2), "-t", "lg/v1/#", "-v"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    observer = subprocess.Popen(["mosquitto_sub", *campus.mqtt_cli(), "-t", f"{topic_root}/#", "-v"],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        # Its attacks: an empty retained sync (denial) and a forged evt, both on t-xrd-01's topics.
        pub(cert_args(campus, cert2, key2), f"{topic_root}/sync", None, retain=True)
        pub(cert_args(campus, cert2, key2), f"{topic_root}/evt", '{"forged":true}')
        r = t.swipe("A1A1A1A1")  # ends the session the first swipe started: evt and ack flow
        assert r["decision"] == "granted" and r["action"] == "end", r
        # The marker, published last by the observer's identity, ends the observation.
        pub(campus.mqtt_cli("server.tester"), f"{topic_root}/evt", "marker-after-the-attacks")
        seen = []
        wait_until(lambda: (seen.append(observer.stdout.readline()) or "marker-after-the-attacks" in seen[-1]), 30,
                   what="the observer to see the marker")
    finally:
        observer.terminate()
        watcher.terminate()
    observed = "".join(seen)
    watched = watcher.communicate(timeout=10)[0]
    assert f"{topic_root}/evt" in observed, observed            # t-xrd-01's traffic was there to see ...
    assert "forged" not in observed, observed                    # ... but not the forged evt
    assert "t-xrd-01" not in watched, watched                    # and the other terminal saw none of it
    # The retained bundle survived the empty retained publish: a restart of the terminal syncs.
    rc, out = sub(campus, campus.mqtt_cli(), f"{topic_root}/sync", seconds=5, count=1)
    assert rc == 0 and '"body"' in out, out


def test_the_broker_holds_no_card_uid_or_name_for_a_terminal_identity(campus):
    campus.seed()
    t = campus.terminal("t-xrd-01")
    assert t.swipe("A1A1A1A1")["decision"] == "granted"
    t.stop()  # its identity is used below (one connection per identity)
    rc, out = sub(campus, cert_args(campus, t.dir / "terminal.crt", t.dir / "terminal.key"), "lg/v1/#", seconds=3)
    assert f"lg/v1/{SITE}/t-xrd-01/sync" in out, out  # it does read its own bundle ...
    for secret in ["A1A1A1A1", "B2B2B2B2", "E5E5E5E5", "u-alice", "u-bob", "Alice", "Bob"]:
        assert secret.lower() not in out.lower(), (secret, out)  # ... which names no card and no person


def test_revoked_terminal_is_cut_off(campus):
    campus.seed()
    t = campus.terminal("t-xrd-01")
    # A second certificate under the same name, made before the revocation: like a connection that
    # was open when the terminal was revoked (the CRL lists only the serials the server issued).
    twin_cert, twin_key = mint_identity(campus.pki_dir, "t-xrd-01", campus.dir / "twin")
    status, out = campus.server.request("POST", "/api/terminals/t-xrd-01/revoke", {"reason": "stolen from lab 3"})
    assert status == 200, out
    acl = (campus.dir / "broker" / "acl").read_text()
    assert "user t-xrd-01\ntopic deny #" in acl, acl
    # Its own certificate no longer gets through the TLS handshake (the broker re-read its CRL).
    args = cert_args(campus, t.dir / "terminal.crt", t.dir / "terminal.key")
    t.stop()
    wait_until(lambda: sub(campus, args, f"lg/v1/{SITE}/t-xrd-01/sync", seconds=2, count=1)[0] != 0, 30,
               what="the revoked certificate to be refused")
    # The same name by another certificate: connected, but denied every topic, its own bundle too.
    rc, out = sub(campus, cert_args(campus, twin_cert, twin_key), f"lg/v1/{SITE}/t-xrd-01/sync", seconds=3, count=1)
    assert '"body"' not in out, out
    rc, out = sub(campus, campus.mqtt_cli(), f"lg/v1/{SITE}/t-xrd-01/sync", seconds=5, count=1)
    assert '"body"' in out, out  # the bundle is there; only the revoked terminal may not read it
    # The restarted terminal cannot reconnect: it says so and keeps deciding offline.
    refused = campus.broker.log_text().count("certificate verify failed")
    warned = t.log_text().count("WARN terminal: MQTT: cannot connect")
    t.start()
    wait_until(lambda: campus.broker.log_text().count("certificate verify failed") > refused, 30,
               what="the broker to refuse the restarted revoked terminal's certificate")
    wait_until(lambda: t.log_text().count("WARN terminal: MQTT: cannot connect") > warned, 30,
               what="the revoked terminal to say at WARN why it cannot connect")
    warning = [l for l in t.log_text().splitlines() if "WARN terminal: MQTT: cannot connect" in l][-1]
    assert "enrol the device again" in warning, warning
    assert t.swipe("A1A1A1A1")["decision"] == "granted"  # offline, from its cached bundle
    assert campus.terminal_info("t-xrd-01")["online"] is False


def test_a_replaced_device_is_a_new_epoch_and_nothing_is_lost(campus):
    campus.seed()
    old = campus.terminal("t-xrd-01")
    for _ in range(2):
        assert old.swipe("A1A1A1A1")["action"] in ("start", "end")
    campus.settle(old)
    before = campus.server.get("/api/sessions")
    version = campus.terminal_info("t-xrd-01")["sync_version"]
    old.kill9()  # the old device is gone (broken, stolen, swapped)
    # The new device: a fresh data dir, a new key, the same id, a new token.
    shutil.rmtree(old.dir)
    new = campus.add(Terminal(campus.dir, "t-xrd-01", "inst-xrd", campus.broker.uri, campus.server.public_key_path,
                              {"port": old.sim.port}))
    said = new.enrol(campus.server.url, campus.enrol_token("t-xrd-01", "inst-xrd"))
    assert "epoch 2" in said and "a new device" in said, said
    enrolled = (new.dir / "enrolled.toml").read_text()
    assert "epoch = 2" in enrolled, enrolled
    new.start()
    new.sim = old.sim
    # A bundle of its own: the card digests are keyed by the new device's key.
    campus.wait_synced("t-xrd-01", above=version)
    for _ in range(2):
        assert new.swipe("B2B2B2B2")["action"] in ("start", "end")
    campus.settle(new)
    after = campus.server.get("/api/sessions")
    # Every record of both devices is there: the old device's session and the new one's.
    assert len(after) == len(before) + 1, (before, after)
    audit = campus.server.get("/api/audit?entity=terminal")
    actions = [e.get("action") for e in (audit if isinstance(audit, list) else audit.get("entries", []))]
    assert "re-enrol" in actions, actions


if __name__ == "__main__":
    run([test_enrolled_terminal_over_mtls_and_strangers_locked_out,
         test_the_broker_holds_no_card_uid_or_name_for_a_terminal_identity,
         test_revoked_terminal_is_cut_off,
         test_a_replaced_device_is_a_new_epoch_and_nothing_is_lost])
