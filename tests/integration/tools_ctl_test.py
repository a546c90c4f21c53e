"""labgatectl against the real server: tables a person reads and JSON a script reads agree with
the API; errors are clear and exit non-zero."""
import json
import subprocess
import time

from harness import BIN, TOKEN, parse_iso_ms, run, wait_until


def ctl(campus, *args, token=TOKEN):
    argv = [str(BIN / "labgatectl"), "--url", campus.server.url, *(["--token", token] if token else []), *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=30)


def test_ctl_tables_and_json_match_the_server(campus):
    campus.seed()
    t = campus.terminal()
    assert t.swipe("A1A1A1A1")["action"] == "start"
    wait_until(lambda: t.sim.coil(0), 10, what="coil on")
    assert t.swipe("E5E5E5E5")["decision"] == "denied"
    assert t.swipe("A1A1A1A1")["action"] == "end"
    wait_until(lambda: campus.server.closed_sessions(), 20, what="session on the server")
    wait_until(lambda: campus.terminal_info(t.id).get("outbox_depth") == 0, 20, what="outbox drained")

    out = ctl(campus, "terminals")
    assert out.returncode == 0, out.stderr
    row = [l for l in out.stdout.splitlines() if l.startswith(t.id)]
    assert row and " yes " in row[0], out.stdout

    # the months of the test's run (a run may straddle a month boundary of the site's zone)
    period = dict(kv.split("=") for kv in campus.period().split("&"))
    span = ["--from", period["from"], "--to", period["to"]]
    rep = ctl(campus, "--json", "report", "--by", "user", *span)
    assert rep.returncode == 0, rep.stderr
    data = json.loads(rep.stdout)
    assert data == campus.server.get(f"/api/reports/usage?by=user&{campus.period()}"), data
    assert data["totals"]["sessions"] == 1, data
    table = ctl(campus, "report", "--by", "user", *span)
    alice = [l for l in table.stdout.splitlines() if l.startswith("u-alice")]
    assert alice, table.stdout
    amount = {r["key"]: r for r in data["rows"]}["u-alice"]["amount"]
    assert alice[0].split()[-1] == amount, (alice, amount)

    acc = ctl(campus, "access", "--decision", "denied")
    assert acc.returncode == 0 and "E5E5E5E5" in acc.stdout and "A1A1A1A1" not in acc.stdout, acc.stdout
    sessions = ctl(campus, "sessions")
    assert campus.server.closed_sessions()[0]["id"] in sessions.stdout, sessions.stdout
    charges = ctl(campus, "--json", "charges", *span)
    assert charges.returncode == 0, charges.stderr
    assert json.loads(charges.stdout) == campus.server.get(f"/api/charges?{campus.period()}"), charges.stdout
    # a period longer than the server allows: the server's reason, exit 1
    long = ctl(campus, "report", "--from", "2025-01", "--to", "2026-01")
    assert long.returncode == 1 and "at most 12" in long.stderr, long
    assert ctl(campus, "report", "--month", "2026-01", "--from", "2026-01", "--to", "2026-01").returncode == 2


def test_ctl_lists_follow_the_pages(campus):
    campus.seed()
    t = campus.terminal()
    for _ in range(3):
        assert t.swipe("A1A1A1A1")["action"] == "start"
        assert t.swipe("E5E5E5E5")["decision"] == "denied"
        assert t.swipe("A1A1A1A1")["action"] == "end"
    wait_until(lambda: len(campus.server.closed_sessions()) == 3, 20, what="3 sessions on the server")
    wait_until(lambda: campus.terminal_info(t.id).get("outbox_depth") == 0, 20, what="outbox drained")
    events = campus.server.get(f"/api/access-events?terminal={t.id}&limit=1000")
    assert len(events) >= 9, events
    # one row per request: labgatectl follows each Link rel="next" and gets every row once, in order
    out = ctl(campus, "--json", "--page-size", "1", "access", "--terminal", t.id)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == events
    out = ctl(campus, "--json", "--page-size", "2", "sessions")
    assert out.returncode == 0, out.stderr
    assert [s["id"] for s in json.loads(out.stdout)] == [s["id"] for s in campus.server.get("/api/sessions")]
    # --limit stops early and says that more rows follow
    out = ctl(campus, "--json", "--page-size", "2", "access", "--terminal", t.id, "--limit", "5")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == events[:5]
    assert "more follow" in out.stderr, out.stderr
    out = ctl(campus, "--page-size", "1", "terminals")
    assert out.returncode == 0 and t.id in out.stdout, out


def local(utc_text, offset_h, suffix):
    """An API instant as labgatectl shows it in a zone with a fixed offset: 2026-03-01 16:00:00 +08:00."""
    secs = parse_iso_ms(utc_text) // 1000 + offset_h * 3600
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(secs)) + " " + suffix


def test_ctl_shows_times_in_the_site_zone_and_checks_limits(campus):
    campus.seed()
    t = campus.terminal()
    assert t.swipe("E5E5E5E5")["decision"] == "denied"
    events = wait_until(lambda: campus.server.get(f"/api/access-events?terminal={t.id}"), 20, what="the denial")
    utc = events[0]["time"]   # an RFC 3339 instant as the API sends it (UTC or with an offset)
    # the site's zone (the server's time_zone, Asia/Shanghai here; also the CLI's default)
    out = ctl(campus, "access", "--terminal", t.id)
    assert out.returncode == 0, out.stderr
    assert local(utc, 8, "+08:00") in out.stdout, (utc, out.stdout)
    assert utc not in out.stdout, out.stdout   # never the API's text as is
    # --tz shows the same instant elsewhere; --json keeps what the API sent
    out = ctl(campus, "--tz", "UTC", "access", "--terminal", t.id)
    assert out.returncode == 0 and local(utc, 0, "+00:00") in out.stdout, (utc, out.stdout)
    out = ctl(campus, "--tz", "Asia/Shanghai", "--json", "access", "--terminal", t.id)
    assert json.loads(out.stdout)[0]["time"] == utc, out.stdout
    out = ctl(campus, "--tz", "Mars/Olympus_Mons", "access")
    assert out.returncode == 2 and "Mars/Olympus_Mons" in out.stderr, out
    terms = ctl(campus, "terminals")
    assert terms.returncode == 0 and "+08:00" in terms.stdout, terms.stdout

    # --limit and --page-size within what the server gives at once, refused before asking
    for args in (["access", "--limit", "10001"], ["sessions", "--limit", "0"], ["charges", "--limit", "100000"],
                 ["--page-size", "10001", "terminals"]):
        out = ctl(campus, *args)
        assert out.returncode == 2 and "1..10000" in out.stderr, (args, out)
    assert ctl(campus, "access", "--limit", "10000").returncode == 0

    # no --month: nothing is sent and the server picks its current month in the site's zone
    before = campus.server.get("/api/reports/usage")
    rep = ctl(campus, "--json", "report")
    after = campus.server.get("/api/reports/usage")
    assert rep.returncode == 0, rep.stderr
    assert json.loads(rep.stdout) in (before, after), (rep.stdout, before, after)
    assert before["month"] is not None and before["from"] == before["to"] == before["month"], before
    help_text = ctl(campus, "report", "--help").stdout
    assert "server's current month" in help_text and "site's time zone" in help_text, help_text


def test_ctl_errors_are_clear(campus):
    out = ctl(campus, "terminals", token="wrong-token")
    assert out.returncode == 1, out
    assert "token" in (out.stdout + out.stderr).lower(), out   # the server's reason is shown
    bad = campus.dir / "bad.json"
    bad.write_text(json.dumps({"users": [{"id": "u-ok", "name": "OK", "category": "internal"},
                                         {"id": "u-bad", "name": "Bad", "category": "alien"}]}))
    out = ctl(campus, "import", str(bad))
    assert out.returncode == 1, out
    assert "u-bad" in out.stdout + out.stderr, out
    ids = {u["id"] for u in campus.server.get("/api/users")}
    assert "u-ok" in ids and "u-bad" not in ids
    down = subprocess.run([str(BIN / "labgatectl"), "--url", "http://127.0.0.1:9", "--token", TOKEN, "health"],
                          capture_output=True, text=True, timeout=30)
    assert down.returncode == 1 and down.stderr.strip(), down


if __name__ == "__main__":
    run([test_ctl_tables_and_json_match_the_server, test_ctl_lists_follow_the_pages,
         test_ctl_shows_times_in_the_site_zone_and_checks_limits, test_ctl_errors_are_clear])
