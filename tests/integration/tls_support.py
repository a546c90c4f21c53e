"""HTTPS helpers for the integration tests (docs/SERVER.md, "HTTPS and web hardening").

- make_certificates(dir): a demo CA and server certificate made by the real binary
  (`labgate-server --make-self-signed DIR`), checked with the openssl CLI.
- TlsServer: harness.Server with extra [http] keys (tls_cert/tls_key and limits); its request()
  speaks HTTPS verified against the CA it was given, from a chosen client address.
- call(): one request on a fresh connection, with the response headers (cookies, HSTS,
  Retry-After), from any 127.x.y.z (all of them are this host: a second client for per-address
  limits).

Only the Python standard library is used.
"""
import http.client
import json
import socket
import ssl
import subprocess
from pathlib import Path

from harness import BIN, TOKEN, Server


def make_certificates(directory, hosts=("127.0.0.1", "localhost")):
    """Runs labgate-server --make-self-signed into directory; returns (ca.pem, cert.pem, key.pem)."""
    directory = Path(directory)
    argv = [str(BIN / "labgate-server"), "--make-self-signed", str(directory)]
    for h in hosts:
        argv += ["--tls-host", h]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, f"--make-self-signed: {out.returncode} {out.stderr}"
    ca, cert, key = directory / "ca.pem", directory / "cert.pem", directory / "key.pem"
    assert (key.stat().st_mode & 0o077) == 0, oct(key.stat().st_mode)
    # OpenSSL (what the listener and the clients use) accepts what Mbed TLS wrote.
    check = subprocess.run(["openssl", "verify", "-CAfile", str(ca), str(cert)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    return ca, cert, key


def client_context(cafile, **kw):
    """A TLS client context that verifies the server against cafile (host name checked)."""
    ctx = ssl.create_default_context(cafile=str(cafile))
    for k, v in kw.items():
        setattr(ctx, k, v)
    return ctx


def patch_http(server, http_toml):
    """Adds lines to the [http] table of a harness.Server's config (the table the harness writes
    ends with body_limit); lets the broker be plain tcp:// (the harness's Mosquitto) when the
    config does not say so already."""
    text = server.conf.read_text()
    anchor = "body_limit = 65536\n"
    assert anchor in text, "harness [http] table changed: update tls_support.patch_http"
    if http_toml:
        text = text.replace(anchor, anchor + http_toml.rstrip("\n") + "\n", 1)
    mqtt_at = text.find("[mqtt]\n")
    next_table = text.find("\n[", mqtt_at + 1)
    mqtt_table = text[mqtt_at:next_table if next_table >= 0 else len(text)]
    if 'uri = "tcp://' in mqtt_table and "allow_plain" not in mqtt_table:
        text = text.replace("[mqtt]\n", "[mqtt]\nallow_plain = true\n", 1)
    server.conf.write_text(text)


def call(host, port, method, path, body=None, headers=None, token=None, source="127.0.0.1", context=None,
         timeout=10):
    """One request on a new connection (HTTPS when context is given) from the address source.
    Returns (status, headers as a list of (name, value), parsed JSON or text)."""
    if context is not None:
        conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=context,
                                           source_address=(source, 0))
    else:
        conn = http.client.HTTPConnection(host, port, timeout=timeout, source_address=(source, 0))
    h = dict(headers or {})
    if token:
        h["Authorization"] = f"Bearer {token}"
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    try:
        conn.request(method, path, body=data, headers=h)
        r = conn.getresponse()
        text = r.read().decode()
        status, got = r.status, r.getheaders()
    finally:
        conn.close()
    try:
        return status, got, json.loads(text)
    except ValueError:
        return status, got, text


def header(headers, name):
    """The values of one response header (case-insensitive), in order."""
    return [v for k, v in headers if k.lower() == name.lower()]


class TlsServer(Server):
    """A harness.Server with extra [http] keys. With cafile it serves HTTPS (the config must name
    tls_cert and tls_key) and request() verifies it against cafile; requests come from `source`."""

    def __init__(self, workdir, mqtt_uri, http_toml="", cafile=None, source="127.0.0.1", **server_kw):
        super().__init__(workdir, mqtt_uri, **server_kw)
        patch_http(self, http_toml)
        self.cafile = cafile
        self.source = source
        self.context = client_context(cafile) if cafile else None

    @property
    def url(self):
        return f"{'https' if self.context else 'http'}://127.0.0.1:{self.port}"

    def request(self, method, path, body=None, token=TOKEN, raw=None, headers=None):
        """As harness.Server.request: (status, parsed JSON or text)."""
        if raw is not None:
            raise NotImplementedError("TlsServer.request: raw bodies are not needed here")
        status, _, out = call("127.0.0.1", self.port, method, path, body, headers, token, self.source, self.context)
        return status, out

    def call(self, method, path, body=None, headers=None, token=None, source=None):
        """(status, headers, body) of one request, anonymous unless token is given."""
        return call("127.0.0.1", self.port, method, path, body, headers, token, source or self.source, self.context)


def on_campus_broker(campus):
    """The Server keywords that let another server use the campus's broker: on a broker over
    mutual TLS, the campus's site CA (its pki dir), which issues the server's identity."""
    if getattr(campus, "tls", False) and getattr(campus, "pki_dir", None) is not None:
        return {"pki_dir": campus.pki_dir}
    return {}


def raw_exchange(port, data, timeout=10):
    """Sends bytes on a plain TCP connection and reads until the server closes (or timeout)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        out = b""
        while True:
            try:
                chunk = s.recv(4096)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            out += chunk
        return out
