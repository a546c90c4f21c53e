"""The bookings feed as a calendar app reads it (issue 13's "iCal link"): GET /api/bookings.ics of a
real server process, parsed by a real RFC 5545 parser (Debian's python3-icalendar, tools/setup), its
events compared field by field with GET /api/bookings; the octets themselves checked for what the
parser forgives (CRLF, lines of at most 75 octets, folds between whole UTF-8 characters); a
signed-in user's feed holds their own bookings, a visitor's is refused."""
import os
import sys


def _icalendar():
    try:
        import icalendar
        return icalendar
    except ImportError:
        # python3-icalendar is installed for Debian's interpreter; run by another one (a pyenv
        # python3 first on PATH), this test runs again under /usr/bin/python3, once.
        if os.path.exists("/usr/bin/python3") and not os.environ.get("LABGATE_ICAL_REEXEC"):
            os.environ["LABGATE_ICAL_REEXEC"] = "1"
            os.execv("/usr/bin/python3", ["/usr/bin/python3", os.path.abspath(__file__), *sys.argv[1:]])
        raise


icalendar = _icalendar()

import time  # noqa: E402
import urllib.error  # noqa: E402
import urllib.request  # noqa: E402
from datetime import datetime, timezone  # noqa: E402

from harness import TOKEN, iso_ms, parse_iso_ms, run  # noqa: E402

# A name that needs escaping (';' and ',') and, in UTF-8, folding.
NAME = "Powder XRD; Bruker D8, 粉末衍射仪 二楼 201 室 (the long name a calendar line has to fold)"
REASON = "sample not ready, sorry; later \\ 改期"


def feed(server, token):
    """(status, Content-Type, body bytes) of GET /api/bookings.ics with a bearer token (None: none)."""
    req = urllib.request.Request(server.url + "/api/bookings.ics", method="GET")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers.get("Content-Type"), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read()


def check_octets(raw):
    """What RFC 5545 3.1 asks of the text, which a lenient parser would not tell us."""
    assert raw.endswith(b"\r\n"), raw[-20:]
    lines = raw[:-2].split(b"\r\n")
    for line in lines:
        assert b"\r" not in line and b"\n" not in line, line
        assert len(line) <= 75, (len(line), line)
        line.decode("utf-8")  # a fold never splits a character
    assert any(line.startswith(b" ") for line in lines), "nothing was folded"


def utc(text):
    return datetime.fromtimestamp(parse_iso_ms(text) / 1000, timezone.utc)


def test_the_feed_parses_and_says_what_the_list_says(campus):
    campus.seed()
    s = campus.server
    s.patch("/api/instruments/inst-xrd", {"name": NAME})
    hour = (int(time.time()) // 3600 + 24) * 3600  # tomorrow, on the hour
    a = s.post("/api/bookings", {"instrument": "inst-xrd", "user": "u-alice",
                                 "start": iso_ms(hour), "end": iso_ms(hour + 5400)})["id"]
    b = s.post("/api/bookings", {"instrument": "inst-xrd", "user": "u-bob",
                                 "start": iso_ms(hour + 7200), "end": iso_ms(hour + 9000)})["id"]
    status, out = s.request("DELETE", f"/api/bookings/{b}", {"reason": REASON})
    assert status == 200, out

    status, ctype, raw = feed(s, TOKEN)
    assert status == 200, raw
    assert ctype == "text/calendar; charset=utf-8", ctype
    check_octets(raw)
    cal = icalendar.Calendar.from_ical(raw.decode("utf-8"))
    assert str(cal["VERSION"]) == "2.0" and str(cal["PRODID"]).startswith("-//labgate//labgate "), cal
    assert str(cal["X-WR-CALNAME"]) == f"labgate {campus.site} bookings", cal
    events = cal.walk("VEVENT")
    listed = s.get("/api/bookings")
    assert [str(e["UID"]) for e in events] == [f"{row['id']}@{campus.site}" for row in listed], (events, listed)
    assert {row["id"] for row in listed} == {a, b}
    for ev, row in zip(events, listed):
        assert ev.decoded("DTSTART") == utc(row["start"]), (ev.decoded("DTSTART"), row)
        assert ev.decoded("DTEND") == utc(row["end"]), (ev.decoded("DTEND"), row)
        assert ev.decoded("DTSTART").utcoffset().total_seconds() == 0  # UTC on the wire
        assert str(ev["SUMMARY"]) == NAME, ev["SUMMARY"]
        assert str(ev["LOCATION"]) == "X-ray lab", ev["LOCATION"]
        assert str(ev["STATUS"]) == {"active": "CONFIRMED", "cancelled": "CANCELLED"}[row["status"]], row
        description = f"Booking {row['id']}\nInstrument: inst-xrd\nUser: {row['user']}"
        if row["status"] == "cancelled":
            description += f"\nCancelled: {row['cancel_reason']}"
        assert str(ev["DESCRIPTION"]) == description, (str(ev["DESCRIPTION"]), description)
    assert listed[1]["cancel_reason"] == REASON

    # Alice, signed in, sees her own booking only; a visitor gets nothing.
    status, out = s.request("PUT", "/api/users/u-alice/password", {"password": "alice password 1"})
    assert status in (200, 204), out
    status, out = s.request("POST", "/api/login", {"user": "u-alice", "password": "alice password 1"}, token=None)
    assert status == 201, out
    status, _, raw = feed(s, out["token"])
    assert status == 200, raw
    mine = icalendar.Calendar.from_ical(raw.decode("utf-8")).walk("VEVENT")
    assert [str(e["UID"]) for e in mine] == [f"{a}@{campus.site}"], mine
    status, _, raw = feed(s, None)
    assert status == 401, raw


if __name__ == "__main__":
    run([test_the_feed_parses_and_says_what_the_list_says], tls=False)
