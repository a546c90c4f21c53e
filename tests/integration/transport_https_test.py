#!/usr/bin/env python3
"""HTTPS and web hardening of the real server (issue 9, docs/SERVER.md "HTTPS and web hardening").

Each run makes its own certificates with `labgate-server --make-self-signed` (checked with the
openssl CLI) and starts a server with http.tls_cert/tls_key. A Python client that verifies the
server against the run's CA then sees:
- HTTPS answers with Strict-Transport-Security; a client trusting another CA is refused by its
  own verification; a TLS 1.2 client offering only CBC ciphers cannot connect;
- plain HTTP on the TLS port: one plain 400 saying the port speaks HTTPS only, then closed;
- sign-in sets lg_session (HttpOnly, Secure, SameSite=Strict, Path=/, Max-Age of the session) and
  lg_csrf (readable, Secure) and returns csrf_token; the cookie signs reads in; a cookie write
  without X-CSRF-Token (or with a wrong one) is 403 and changes nothing, with it it is done; a
  bearer write needs no CSRF header; sign-out clears both cookies and the cookie is then refused;
- past an address's burst, 429 with Retry-After, while another address is served.
And the real binary refuses a config with tls_cert but no tls_key (exit 2, naming tls_key), one
with a key that is not the certificate's, and a non-loopback listen address without TLS.
"""
import ssl
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import BIN, run, wait_until  # noqa: E402
from tls_support import (TlsServer, call, client_context, header, make_certificates, on_campus_broker,  # noqa: E402
                         raw_exchange)

SESSION_S = 12 * 3600  # [auth] session_hours default


def tls_server(campus, name, http_toml="", hosts=("127.0.0.1", "localhost")):
    """Replaces the campus's plain server by an HTTPS one in its own folder."""
    ca, cert, key = make_certificates(campus.dir / f"{name}-tls", hosts)
    campus.server.stop()
    toml = f'tls_cert = "{cert}"\ntls_key = "{key}"\n{http_toml}'
    server = campus.add(TlsServer(campus.dir / name, campus.broker.uri, toml, cafile=ca,
                                  **on_campus_broker(campus))).start()
    assert "listening on https://127.0.0.1:" in server.log_text(), server.log_text()[-2000:]
    return server, ca


def cookie_attrs(set_cookie):
    """'name=value; A; B=c' -> (name, value, {attribute lower-case: value or True})."""
    parts = [p.strip() for p in set_cookie.split(";")]
    name, _, value = parts[0].partition("=")
    attrs = {}
    for p in parts[1:]:
        k, eq, v = p.partition("=")
        attrs[k.lower()] = v if eq else True
    return name, value, attrs


def test_https_hsts_and_plain_http_refused(campus):
    server, ca = tls_server(campus, "https")
    status, headers, body = server.call("GET", "/api/health")
    assert status == 200 and body["ok"] is True, (status, body)
    assert header(headers, "Strict-Transport-Security") == ["max-age=31536000"], headers
    assert header(headers, "X-Content-Type-Options") == ["nosniff"], headers

    # A client that trusts another CA refuses the server (its certificate is really the run's).
    other_ca, _, _ = make_certificates(campus.dir / "other-tls")
    try:
        call("127.0.0.1", server.port, "GET", "/api/health", context=client_context(other_ca))
        raise AssertionError("a client trusting another CA connected")
    except ssl.SSLCertVerificationError:
        pass

    # TLS 1.2 with an AEAD cipher works; a client offering only CBC ciphers gets no handshake.
    st, _, _ = call("127.0.0.1", server.port, "GET", "/api/health",
                    context=client_context(ca, maximum_version=ssl.TLSVersion.TLSv1_2))
    assert st == 200
    cbc = client_context(ca, maximum_version=ssl.TLSVersion.TLSv1_2)
    cbc.set_ciphers("ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA")
    try:
        call("127.0.0.1", server.port, "GET", "/api/health", context=cbc)
        raise AssertionError("a CBC-only TLS 1.2 client connected")
    except ssl.SSLError:
        pass

    # Plain HTTP on the TLS port: told so in plain text, never served.
    answer = raw_exchange(server.port, b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n").decode(errors="replace")
    assert answer.startswith("HTTP/1.1 400"), answer
    assert "HTTPS only" in answer and "Strict-Transport-Security" not in answer, answer
    assert server.alive()


def test_cookies_and_csrf(campus):
    server, _ = tls_server(campus, "cookies")
    for path, body in [("/api/units", {"id": "chem", "name": "Chemistry"}),
                       ("/api/users", {"id": "alice", "name": "Alice", "unit": "chem", "category": "internal_staff"})]:
        st, out = server.request("POST", path, body)
        assert st == 201, (path, st, out)
    st, out = server.request("PUT", "/api/users/alice/password", {"password": "alice password"})
    assert st in (200, 204), (st, out)

    st, headers, login = server.call("POST", "/api/login", {"user": "alice", "password": "alice password"})
    assert st == 201, (st, login)
    cookies = {n: (v, a) for n, v, a in map(cookie_attrs, header(headers, "Set-Cookie"))}
    assert set(cookies) == {"lg_session", "lg_csrf"}, headers
    session, sattrs = cookies["lg_session"]
    csrf, cattrs = cookies["lg_csrf"]
    assert session == login["token"] and csrf == login["csrf_token"], (cookies, login)
    for attrs in (sattrs, cattrs):
        assert attrs.get("secure") is True and attrs.get("samesite") == "Strict", attrs
        assert attrs.get("path") == "/" and attrs.get("max-age") == str(SESSION_S), attrs
    assert sattrs.get("httponly") is True and "httponly" not in cattrs, (sattrs, cattrs)
    jar = {"Cookie": f"lg_session={session}; lg_csrf={csrf}"}

    st, _, me = server.call("GET", "/api/me", headers=jar)
    assert st == 200 and me["user"] == "alice", (st, me)

    def tokens():
        s, _, out = server.call("GET", "/api/me/tokens", token=session)
        assert s == 200, (s, out)
        return [t["name"] for t in out]

    # A cookie-signed write without the CSRF header, or with a wrong one: 403, nothing made.
    st, _, out = server.call("POST", "/api/me/tokens", {"name": "forged", "days": 1}, headers=jar)
    assert st == 403 and "CSRF" in out["error"] and "X-CSRF-Token" in out["error"], (st, out)
    st, _, out = server.call("POST", "/api/me/tokens", {"name": "forged", "days": 1},
                             headers={**jar, "X-CSRF-Token": "0" * 64})
    assert st == 403, (st, out)
    assert tokens() == [], tokens()
    # With the header: done.
    st, _, out = server.call("POST", "/api/me/tokens", {"name": "mine", "days": 1},
                             headers={**jar, "X-CSRF-Token": csrf})
    assert st == 201, (st, out)
    # A bearer write needs no CSRF header.
    st, _, out = server.call("POST", "/api/me/tokens", {"name": "script", "days": 1}, token=session)
    assert st == 201, (st, out)
    assert sorted(tokens()) == ["mine", "script"], tokens()

    # Sign-out clears both cookies; the cookie is refused afterwards.
    st, headers, out = server.call("POST", "/api/logout", headers={**jar, "X-CSRF-Token": csrf})
    assert st == 200, (st, out)
    cleared = {n: a for n, v, a in map(cookie_attrs, header(headers, "Set-Cookie")) if v == ""}
    assert set(cleared) == {"lg_session", "lg_csrf"}, headers
    assert all(a.get("max-age") == "0" for a in cleared.values()), cleared
    st, _, out = server.call("GET", "/api/me", headers=jar)
    assert st == 401 and "lg_session" in out["error"], (st, out)


def test_rate_limit_429_per_address(campus):
    # One token per 20 s after a burst of 5: none comes back during the test.
    server, _ = tls_server(campus, "rate", "rate_per_s = 0.05\nrate_burst = 5\n")
    answers = [server.call("GET", "/api/health", source="127.0.0.3") for _ in range(6)]
    assert [a[0] for a in answers[:5]] == [200] * 5, [a[0] for a in answers]
    st, headers, out = answers[5]
    assert st == 429, (st, out)
    retry = header(headers, "Retry-After")
    assert len(retry) == 1 and 1 <= int(retry[0]) <= 20, headers
    assert "rate_per_s" in out["error"], out
    assert header(headers, "Strict-Transport-Security"), headers  # an HTTPS answer like any other
    # Another address has its own bucket.
    st, _, _ = server.call("GET", "/api/health", source="127.0.0.5")
    assert st == 200
    wait_until(lambda: "above http.rate_per_s" in server.log_text(), 20, what="the rate warning")


def refused_config(campus, name, http_toml, listen=None):
    """Runs the real binary on the campus's config with lines added to [http]; (exit, stderr)."""
    probe = TlsServer(campus.dir / name, campus.broker.uri, http_toml, **on_campus_broker(campus))
    if listen:
        probe.conf.write_text(probe.conf.read_text().replace('listen = "127.0.0.1"', f'listen = "{listen}"'))
    out = subprocess.run([str(BIN / "labgate-server"), "--config", str(probe.conf)], capture_output=True,
                         text=True, timeout=30)
    return out.returncode, out.stderr


def test_tls_config_refusals(campus):
    ca, cert, key = make_certificates(campus.dir / "refusals-tls")
    code, err = refused_config(campus, "cert_only", f'tls_cert = "{cert}"')
    assert code == 2 and "http.tls_key" in err, (code, err)
    code, err = refused_config(campus, "key_only", f'tls_key = "{key}"')
    assert code == 2 and "http.tls_cert" in err, (code, err)
    other_ca, other_cert, other_key = make_certificates(campus.dir / "refusals-other")
    code, err = refused_config(campus, "mismatch", f'tls_cert = "{cert}"\ntls_key = "{other_key}"')
    assert code == 2 and "http.tls_key" in err, (code, err)
    code, err = refused_config(campus, "campus_plain", "", listen="0.0.0.0")
    assert code == 2 and "http.listen" in err and "tls_cert" in err, (code, err)


if __name__ == "__main__":
    run([test_https_hsts_and_plain_http_refused, test_cookies_and_csrf, test_rate_limit_429_per_address,
         test_tls_config_refusals])
