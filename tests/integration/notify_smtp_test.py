"""Notices mailed to a real SMTP server (issue 10, "Notices and calendars"): a real labgate-server
with [smtp] pointed at an aiosmtpd server (Debian's python3-aiosmtpd, tools/setup) started by this
test on a free port. A booking made through the API enqueues its confirmation in the same unit of
work; the server's sender mails it: the envelope recipient is the user's address, the Subject
decodes (RFC 2047) to the Chinese and English subject, the body (UTF-8, base64) holds both texts.
Then the SMTP server is stopped: the next notice stays pending, its attempts and last error grow
(retried with backoff), and once the SMTP server is back it is delivered. Every wait is on state
(the notice's state and attempts, the mails the SMTP server holds), never on the clock."""
import os
import sys


def _aiosmtpd():
    try:
        from aiosmtpd.controller import Controller
        return Controller
    except ImportError:
        # python3-aiosmtpd is installed for Debian's interpreter; run by another one (a pyenv
        # python3 first on PATH), this test runs again under /usr/bin/python3, once.
        if os.path.exists("/usr/bin/python3") and not os.environ.get("LABGATE_SMTP_REEXEC"):
            os.environ["LABGATE_SMTP_REEXEC"] = "1"
            os.execv("/usr/bin/python3", ["/usr/bin/python3", os.path.abspath(__file__), *sys.argv[1:]])
        raise


Controller = _aiosmtpd()

import threading  # noqa: E402
import time  # noqa: E402
from email import message_from_bytes  # noqa: E402
from email import policy  # noqa: E402

from harness import free_port, iso_ms, run, wait_until  # noqa: E402

ADDRESS = "wang.xm@lab.example.edu"
FROM = "labgate@lab.example.edu"
INSTRUMENT = "粉末衍射仪 Powder XRD"


class Inbox:
    """What the SMTP server was given: (envelope sender, recipients, message bytes)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.mails = []

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.mails.append((envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.original_content
                                                                                  or envelope.content)))
        return "250 OK queued"

    def count(self):
        with self.lock:
            return len(self.mails)

    def get(self, i):
        with self.lock:
            return self.mails[i]


class Smtp:
    """An aiosmtpd server on 127.0.0.1:port that can be stopped and started again."""

    def __init__(self, inbox, port):
        self.inbox, self.port, self.c = inbox, port, None

    def start(self):
        self.c = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.c.start()
        return self

    def stop(self):
        if self.c is not None:
            self.c.stop()
            self.c = None


def notice(server, booking):
    """The notice confirming this booking, as GET /api/notices lists it (None until it exists)."""
    for n in server.get("/api/notices?user=u-wang&limit=100"):
        if n["body"].find(booking) >= 0:
            return n
    return None


def book(server, start_s):
    return server.post("/api/bookings", {"instrument": "inst-xrd", "user": "u-wang",
                                         "start": iso_ms(start_s), "end": iso_ms(start_s + 3600)})["id"]


def check_mail(raw, booking):
    msg = message_from_bytes(raw, policy=policy.default)
    assert str(msg["subject"]) == f"预约已确认：{INSTRUMENT} / Booking confirmed: {INSTRUMENT}", str(msg["subject"])
    assert msg["to"] == ADDRESS, msg["to"]
    assert msg["from"].addresses[0].addr_spec == FROM, msg["from"]
    assert msg.get_content_type() == "text/plain", msg.get_content_type()
    assert msg.get_content_charset() == "utf-8", msg.get_content_charset()
    assert msg["message-id"].endswith("@lab.example.edu>"), msg["message-id"]
    body = msg.get_content()
    zh = body.find("王小明，您好")
    en = body.find("Hello 王小明,")
    assert 0 <= zh < en, body
    assert f"您预约的 {INSTRUMENT}（X-ray lab）已确认。" in body, body
    assert f"Your booking of {INSTRUMENT} (X-ray lab) is confirmed." in body, body
    assert f"Booking: {booking}" in body, body
    # the raw Subject is RFC 2047 encoded words, not 8-bit text
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert b"Subject: =?UTF-8?B?" in head, head
    assert all(b < 0x80 for b in head), "8-bit bytes in the header"


def test_a_booking_is_mailed_and_a_lost_smtp_server_only_delays_it(campus):
    port = free_port()
    inbox = Inbox()
    smtp = Smtp(inbox, port).start()
    try:
        s = campus.server
        s.stop()
        with open(s.conf, "a") as conf:
            conf.write(f"""
[smtp]
enabled = true
host = "127.0.0.1"
port = {port}
from = "{FROM}"
from_name = "实验室 labgate"
timeout_s = 5
poll_ms = 200
retry_base_s = 1
retry_max_s = 2
max_attempts = 100
""")
        s.start()
        s.post("/api/units", {"id": "chem", "name": "化学院"})
        s.post("/api/labs", {"id": "lab-xrd", "name": "X-ray lab", "unit": "chem"})
        s.post("/api/instruments", {"id": "inst-xrd", "name": INSTRUMENT, "lab": "lab-xrd", "kind": "instrument"})
        s.post("/api/users", {"id": "u-wang", "name": "王小明", "category": "internal", "unit": "chem",
                              "email": ADDRESS})
        s.post("/api/qualifications", {"user": "u-wang", "instrument": "inst-xrd"})
        hour = (int(time.time()) // 3600 + 24) * 3600

        # 1. Delivered: the right recipient, subject and body.
        first = book(s, hour)
        n = notice(s, first)
        assert n is not None and n["kind"] == "booking_confirmed" and n["address"] == ADDRESS, n
        wait_until(lambda: inbox.count() >= 1, 30, what="the first mail at the SMTP server")
        mail_from, rcpts, raw = inbox.get(0)
        assert mail_from == FROM, mail_from
        assert rcpts == [ADDRESS], rcpts
        check_mail(raw, first)
        wait_until(lambda: notice(s, first)["state"] == "sent", 30, what="the first notice sent")
        assert notice(s, first)["attempts"] == 1

        # 2. The SMTP server goes away: the next notice stays pending and is retried.
        smtp.stop()
        second = book(s, hour + 7200)
        retried = wait_until(lambda: (lambda x: x if x["attempts"] >= 2 else None)(notice(s, second)), 60,
                             what="the second notice tried twice")
        assert retried["state"] == "pending", retried
        assert retried["last_error"].startswith(f"smtp 127.0.0.1:{port}: cannot connect"), retried
        assert retried["next_attempt"] is not None, retried
        assert inbox.count() == 1

        # 3. Back again: delivered, once.
        smtp.start()
        wait_until(lambda: notice(s, second)["state"] == "sent", 60, what="the second notice sent after the outage")
        wait_until(lambda: inbox.count() >= 2, 10, what="the second mail at the SMTP server")
        _, rcpts, raw = inbox.get(1)
        assert rcpts == [ADDRESS], rcpts
        check_mail(raw, second)
        done = notice(s, second)
        assert done["last_error"] == "" and done["attempts"] >= 2, done
        # Nothing is mailed twice: a third booking's mail is the next one to arrive.
        third = book(s, hour + 14400)
        wait_until(lambda: notice(s, third)["state"] == "sent", 30, what="the third notice sent")
        wait_until(lambda: inbox.count() >= 3, 10, what="the third mail")
        assert inbox.count() == 3, inbox.count()
        assert [m[1] for m in inbox.mails] == [[ADDRESS]] * 3
        assert len(s.get("/api/notices?state=sent")) == 3
    finally:
        smtp.stop()


if __name__ == "__main__":
    run([test_a_booking_is_mailed_and_a_lost_smtp_server_only_delays_it], tls=False)
