#!/usr/bin/env python3
"""Slow clients cannot hold the real server (issue 9, docs/SERVER.md "HTTPS and web hardening").

A "slowloris" client opens many connections from one address (127.0.0.2: every 127.x.y.z is this
host) and sends each request header one byte at a time, never finishing it. Meanwhile a normal
client on 127.0.0.1 keeps asking /api/health. The server must
- answer the normal client every time, throughout;
- refuse the slow address's connections above http.max_connections_per_address with 429;
- close every slow connection once http.header_timeout_s has passed since its first byte (never
  before: checked as a lower bound, which slowness cannot break), though bytes keep coming;
- still be alive and serving afterwards, with one throttled warning about the address.
The same over HTTPS, where the handshake counts against the header timeout too.
"""
import socket
import ssl
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import run, wait_until  # noqa: E402
from tls_support import TlsServer, client_context, make_certificates, on_campus_broker  # noqa: E402

HEADER_TIMEOUT_S = 2
PER_ADDRESS = 20
SLOW = 60  # connections the slow client tries: 3x what its address may hold
DRIP_S = 0.05  # the attacker's pace: one byte per connection per round
ROUND_LIMIT = 2000  # bounds the attack (100 s at the pace above) if the server never closed them


class Slow:
    """One slow connection: the time of its first byte, the bytes it sent, how it ended."""

    def __init__(self, port, context=None):
        raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        raw.bind(("127.0.0.2", 0))
        raw.settimeout(10)
        raw.connect(("127.0.0.1", port))
        self.first_byte = time.monotonic()  # before the first byte (or handshake) is sent
        self.sock = context.wrap_socket(raw, server_hostname="127.0.0.1") if context else raw
        self.sock.setblocking(False)
        self.header = b"GET /api/health HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"z" * 100000
        self.sent = 0
        self.ended = None  # time the server closed it
        self.answer = b""

    def drip(self):
        """Sends one more byte unless the server has closed the connection; True while open."""
        if self.ended is not None:
            return False
        try:
            chunk = self.sock.recv(4096)
            if chunk:
                self.answer += chunk  # a refusal (429) comes before the close
                return True
            self.ended = time.monotonic()
            return False
        except (BlockingIOError, ssl.SSLWantReadError):
            pass
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError, OSError):
            self.ended = time.monotonic()
            return False
        try:
            self.sock.send(self.header[self.sent:self.sent + 1])
            self.sent += 1
        except (BlockingIOError, ssl.SSLWantWriteError):
            pass
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError, OSError):
            self.ended = time.monotonic()
            return False
        return True

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def refused_newcomer(server, context):
    """Opens one more connection from the slow address; True when the server refused it: 429 and
    closed on plain HTTP, closed during the handshake on HTTPS (no TLS to answer in yet)."""
    try:
        s = Slow(server.port, context)
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError, OSError):
        return context is not None
    try:
        s.sock.setblocking(True)
        s.sock.settimeout(10)
        answer = b""
        while True:
            chunk = s.sock.recv(4096)
            if not chunk:
                break
            answer += chunk
        return answer.startswith(b"HTTP/1.1 429") and b"max_connections_per_address" in answer
    except (ssl.SSLError, ConnectionResetError, OSError):
        return context is not None
    finally:
        s.close()


def attack(server, context=None):
    # The slow address fills its quota with connections that have begun a request.
    held = [Slow(server.port, context) for _ in range(PER_ADDRESS)]
    health = []
    try:
        for s in held:
            assert s.drip()
        # A normal request answered after those first bytes were sent: the server works through
        # ready sockets in turn, so it has read them and none of the slow connections is idle.
        health.append(server.request("GET", "/api/health", token=None)[0])
        # Every further connection from that address is refused.
        refused = sum(refused_newcomer(server, context) for _ in range(SLOW - PER_ADDRESS))
        assert refused == SLOW - PER_ADDRESS, f"only {refused} of {SLOW - PER_ADDRESS} newcomers refused"
        # The held ones drip on; the normal client keeps asking.
        rounds = 0
        while any(s.ended is None for s in held) and rounds < ROUND_LIMIT:
            for s in held:
                s.drip()
            if rounds % 5 == 0:
                health.append(server.request("GET", "/api/health", token=None)[0])
            time.sleep(DRIP_S)
            rounds += 1
        open_ones = [s for s in held if s.ended is None]
        assert not open_ones, f"{len(open_ones)} slow connections still open after {rounds} rounds"
    finally:
        for s in held:
            s.close()
    # The normal client was answered every time it asked, and it asked during the attack.
    assert len(health) >= 3 and all(st == 200 for st in health), health
    for s in held:
        # closed without an answer, never before the header timeout since its first byte (a lower
        # bound, which a slow machine cannot break), though its header was far from complete
        assert s.answer == b"", s.answer[:200]
        assert s.ended - s.first_byte >= HEADER_TIMEOUT_S, s.ended - s.first_byte
        assert s.sent < len(s.header)
    wait_until(lambda: "http.max_connections_per_address" in server.log_text(), 20,
               what="the per-address warning")
    # Afterwards the server is alive and serves the slow client's address too.
    assert server.alive()
    wait_until(lambda: server.request("GET", "/api/health", token=None)[0] == 200, 20, what="health after")
    return len(held), refused, len(health)


HTTP_TOML = f"header_timeout_s = {HEADER_TIMEOUT_S}\nmax_connections_per_address = {PER_ADDRESS}\n"


def test_slow_headers_plain_http(campus):
    campus.server.stop()
    server = campus.add(TlsServer(campus.dir / "plain", campus.broker.uri, HTTP_TOML,
                                  **on_campus_broker(campus))).start()
    held, refused, asked = attack(server)
    print(f"plain: {held} slow connections held until the header timeout, {refused} refused with 429, "
          f"{asked} health requests answered meanwhile")


def test_slow_headers_https(campus):
    ca, cert, key = make_certificates(campus.dir / "tls")
    campus.server.stop()
    toml = f'tls_cert = "{cert}"\ntls_key = "{key}"\n' + HTTP_TOML
    server = campus.add(TlsServer(campus.dir / "https", campus.broker.uri, toml, cafile=ca,
                                  **on_campus_broker(campus))).start()
    held, refused, asked = attack(server, client_context(ca))
    print(f"https: {held} slow connections held until the header timeout, {refused} refused at the handshake, "
          f"{asked} health requests answered meanwhile")


if __name__ == "__main__":
    run([test_slow_headers_plain_http, test_slow_headers_https])
