"""The site CA's key on a separate machine (issue 9), on real processes: labgate-ca holds the key
in its own dir and signs over HTTPS with mutual TLS; labgate-server ([pki] signer_url) keeps none.

- The server's pki dir holds no ca.key (only the CA certificate it cached), and the server will
  not start with one there while signer_url is set.
- A terminal enrols by token through the server: its certificate is the remote CA's, the signer's
  log names it (serial, CN, requester); it works over mutual TLS at the broker. The server's own
  broker identity and the broker's certificate came from the signer too.
- Revoked: the CRL the remote CA signed (in its log) cuts the terminal off at the broker.
- The signer stopped: enrolment with a fresh token answers 503 saying so, /api/health says the
  signer is unreachable, the server keeps serving; the signer back: the same token enrols.
- Clients the signer does not trust get nothing: no certificate or another CA's (refused at the
  handshake), a terminal's certificate of the same CA (403); the server's own identity asking for
  what the signer's policy forbids gets a 4xx; none of it is in the signer's log.
"""
import http.client
import json
import ssl
import subprocess

from harness import SITE, Terminal, make_foreign_ca, mint_identity, run, wait_until


def sub(campus, args, topic, seconds=3, count=None):
    """mosquitto_sub for a few seconds (-W): returns (returncode, output)."""
    argv = ["mosquitto_sub", *args, "-t", topic, "-v", "-W", str(seconds)]
    if count:
        argv += ["-C", str(count)]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 20)
    return out.returncode, out.stdout + out.stderr


def cert_args(campus, cert, key):
    return ["-h", "127.0.0.1", "-p", str(campus.broker.port), "--cafile", str(campus.pki_dir / "ca.crt"),
            "--cert", str(cert), "--key", str(key)]


def openssl(*args):
    return subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=30)


def signer_call(campus, method, path, body=None, cert=None, key=None):
    """One request to labgate-ca with a client certificate (or none): (status, JSON), or raises
    when the TLS handshake is refused."""
    ca, _, _ = campus.signer.client_files()
    ctx = ssl.create_default_context(cafile=str(ca))
    if cert:
        ctx.load_cert_chain(str(cert), str(key))
    conn = http.client.HTTPSConnection("127.0.0.1", campus.signer.port, context=ctx, timeout=20)
    try:
        conn.request(method, path, body=json.dumps(body) if body is not None else None,
                     headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        return r.status, json.loads(r.read().decode())
    finally:
        conn.close()


def refused_at_handshake(campus, cert=None, key=None):
    """True when labgate-ca gives this client no answer at all (TLS 1.3 reports a refused client
    certificate at the client's first read, so the request is made)."""
    try:
        signer_call(campus, "GET", "/v1/ca", cert=cert, key=key)
    except (ssl.SSLError, ConnectionError, http.client.RemoteDisconnected):
        return True
    return False


def by_kind(campus, kind):
    return [e for e in campus.signer.issued() if e["kind"] == kind]


def test_enrol_work_and_revoke_through_the_remote_ca(campus):
    # The key is on the CA "machine" only; the server cached the CA certificate.
    assert not (campus.pki_dir / "ca.key").exists(), list(campus.pki_dir.iterdir())
    assert (campus.ca_dir / "ca.key").stat().st_mode & 0o777 == 0o600
    assert (campus.pki_dir / "ca.crt").read_text() == (campus.ca_dir / "ca.crt").read_text()
    # The server's broker identity and the broker's certificate came from the signer, asked by the server.
    certs = by_kind(campus, "certificate")
    assert {"server", "broker"} <= {e["cn"] for e in certs if e["requester"] == "server"}, certs

    campus.seed()
    t = campus.terminal("t-xrd-01")  # enrolled by token through the server, connected over mutual TLS
    assert t.swipe("A1A1A1A1")["decision"] == "granted"
    check = openssl("verify", "-CAfile", str(campus.ca_dir / "ca.crt"), str(t.dir / "terminal.crt"))
    assert check.returncode == 0, check.stdout + check.stderr
    serial = campus.server.get("/api/terminals/t-xrd-01/certificates")[0]["serial"]
    logged = [e for e in by_kind(campus, "certificate") if e["serial"] == serial]
    assert len(logged) == 1 and logged[0]["cn"] == "t-xrd-01" and logged[0]["requester"] == "server", logged
    assert logged[0]["usage"] == "client" and logged[0]["time"].endswith("Z"), logged

    crls_before = len(by_kind(campus, "crl"))
    status, out = campus.server.request("POST", "/api/terminals/t-xrd-01/revoke", {"reason": "stolen from lab 3"})
    assert status == 200, out
    crls = by_kind(campus, "crl")
    assert len(crls) > crls_before and serial in crls[-1]["serials"], crls
    # The broker's CRL is the one the remote CA signed.
    crl = campus.dir / "broker" / "crl.pem"
    check = openssl("crl", "-in", str(crl), "-CAfile", str(campus.ca_dir / "ca.crt"), "-noout", "-text")
    assert check.returncode == 0 and "verify OK" in check.stderr + check.stdout, check.stdout + check.stderr
    assert f"{int(serial):X}" in check.stdout.replace(":", "").upper(), check.stdout
    # ... and it cuts the terminal off at the handshake.
    args = cert_args(campus, t.dir / "terminal.crt", t.dir / "terminal.key")
    t.stop()
    wait_until(lambda: sub(campus, args, f"lg/v1/{SITE}/t-xrd-01/sync", seconds=2, count=1)[0] != 0, 30,
               what="the revoked certificate to be refused by the broker")
    assert "certificate verify failed" in campus.broker.log_text() or "revoked" in campus.broker.log_text()


def test_signer_down_enrolment_503_and_the_token_kept(campus):
    campus.seed()
    token = campus.enrol_token("t-xrd-02", "inst-xrd")
    device = campus.add(Terminal(campus.dir, "t-xrd-02", "inst-xrd", campus.broker.uri,
                                 campus.server.public_key_path, {"port": 1}))
    campus.signer.stop()
    # The device's enrolment: the server answers 503 with the reason; the device says so.
    out = subprocess.run(device.argv + ["enrol", "--server", campus.server.url, "--token", token],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0, out
    assert "503" in out.stderr or "cannot be reached" in out.stderr, out.stderr
    # The same through the API directly: 503, a JSON error naming the signer.
    key = campus.dir / "probe.key"
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(key))
    csr = openssl("req", "-new", "-key", str(key), "-subj", "/CN=t-xrd-02").stdout
    status, body = campus.server.request("POST", "/api/enrol", {"token": token, "csr": csr}, token=None)
    assert status == 503, (status, body)
    assert "signer" in body["error"] and "cannot be reached" in body["error"], body
    # Health says so; the server keeps serving everything else.
    status, health = campus.server.request("GET", "/api/health")
    assert health["signer"]["reachable"] is False and health["signer"]["error"], health
    assert status == 200 and health["ok"] is True, health
    assert campus.server.alive()
    assert len(campus.server.get("/api/terminals")) == 0
    # Nothing stored: the token is unused, and works once the signer is back.
    campus.signer.start()
    device.enrol(campus.server.url, token)
    certificates = campus.server.get("/api/terminals/t-xrd-02/certificates")
    assert len(certificates) == 1, certificates
    assert any(e["cn"] == "t-xrd-02" for e in by_kind(campus, "certificate"))
    status, health = campus.server.request("GET", "/api/health")
    assert health["signer"]["reachable"] is True, health


def test_the_signer_answers_only_its_clients_and_its_policy(campus):
    before = campus.signer.issued()
    ca, cert, key = campus.signer.client_files()
    # The server's own identity: answered.
    status, body = signer_call(campus, "GET", "/v1/ca", cert=cert, key=key)
    assert status == 200 and body["site"] == SITE, body
    # No client certificate, and one of another CA: no answer at all.
    assert refused_at_handshake(campus)
    make_foreign_ca(campus.dir / "foreign")
    fcert, fkey = mint_identity(campus.dir / "foreign", "server", campus.dir / "foreign" / "clients")
    assert refused_at_handshake(campus, fcert, fkey)
    # A terminal's certificate of the same CA: 403, a JSON reason.
    tcert, tkey = mint_identity(campus.ca_dir, "t-xrd-09", campus.dir / "clients")
    k = campus.dir / "asked.key"
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(k))
    public = openssl("ec", "-in", str(k), "-pubout").stdout
    ask = {"public_key": public, "cn": "t-xrd-09", "usage": "client", "days": 30, "hosts": []}
    status, body = signer_call(campus, "POST", "/v1/certificates", ask, tcert, tkey)
    assert status == 403 and "policy.clients" in body["error"], (status, body)
    # The server's identity asking for what the policy forbids: 4xx naming why.
    for changed, says in [({"cn": "server.evil"}, "policy.server_identities"), ({"days": 4000}, "days"),
                          ({"usage": "ca"}, "CA"), ({"usage": "server", "cn": "broker", "hosts": ["evil.example"]},
                                                    "policy.tls_hosts")]:
        status, body = signer_call(campus, "POST", "/v1/certificates", {**ask, **changed}, cert, key)
        assert 400 <= status < 500 and says in body["error"], (changed, status, body)
    assert campus.signer.issued() == before  # nothing signed
    # The server will not run with a CA key in its pki dir while the signer keeps it.
    stray = campus.pki_dir / "ca.key"
    stray.write_bytes((campus.ca_dir / "ca.key").read_bytes())
    stray.chmod(0o600)
    try:
        out = subprocess.run(campus.server.argv + ["--write-broker-files"], capture_output=True, text=True, timeout=60)
    finally:
        stray.unlink()
    assert out.returncode != 0 and "signer_url" in out.stderr and "ca.key" in out.stderr, out.stderr


if __name__ == "__main__":
    run([test_enrol_work_and_revoke_through_the_remote_ca,
         test_signer_down_enrolment_503_and_the_token_kept,
         test_the_signer_answers_only_its_clients_and_its_policy], remote_ca=True)
