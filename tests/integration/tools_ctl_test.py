"""labgatectl against the real server: tables a person reads, CSV a spreadsheet reads and JSON a
script reads agree with the API; errors are clear and exit non-zero."""
import csv
import io
import json
import os
import subprocess
import time

from harness import BIN, TOKEN, parse_iso_ms, run, wait_until


def ctl(campus, *args, token=TOKEN, stdin=None, token_file=None):
    """Runs labgatectl; token=None sends no --token (the token file, if any, is used); stdin is fed
    to it (passwords are read from stdin when it is not a terminal)."""
    env = {k: v for k, v in os.environ.items() if k not in ("LABGATE_TOKEN", "LABGATE_URL", "LABGATE_TZ")}
    env["LABGATE_TOKEN_FILE"] = str(token_file or campus.dir / "no-token-file")
    argv = [str(BIN / "labgatectl"), "--url", campus.server.url, *(["--token", token] if token else []), *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, input=stdin or "", env=env)


def csv_rows(text):
    """The rows of labgatectl's CSV (RFC 4180, "\\n" line ends): a list of dicts by header."""
    return list(csv.DictReader(io.StringIO(text, newline="")))


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


def test_ctl_groups_people_and_csv(campus):
    campus.seed()
    s = campus.server
    s.post("/api/users", {"id": "u-li", "name": "李雷, \"小李\"", "category": "internal", "unit": "chem"})

    out = ctl(campus, "group", "create", "g-xrd", "--name", "X射线课题组", "--pi", "u-alice", "--unit", "chem")
    assert out.returncode == 0 and "g-xrd" in out.stdout, out
    for user in ("u-bob", "u-li"):
        out = ctl(campus, "group", "add", "g-xrd", user)
        assert out.returncode == 0 and f"{user} added to group g-xrd" in out.stdout, out
    members = {m["user"] for m in s.get("/api/groups/g-xrd/members")}
    assert members == {"u-alice", "u-bob", "u-li"}, members
    out = ctl(campus, "group", "show", "g-xrd")
    assert out.returncode == 0 and all(u in out.stdout for u in members), out.stdout
    out = ctl(campus, "--format", "csv", "group", "show", "g-xrd")
    assert out.returncode == 0, out.stderr
    assert {r["user"] for r in csv_rows(out.stdout)} == members, out.stdout
    assert "+08:00" in out.stdout, out.stdout  # "since" in the site's zone, as in the table
    out = ctl(campus, "group", "remove", "g-xrd", "u-bob")
    assert out.returncode == 0, out
    assert {m["user"] for m in s.get("/api/groups/g-xrd/members")} == {"u-alice", "u-li"}

    # a list as CSV: a header row, one row per entity, a name holding a comma and quotes quoted
    out = ctl(campus, "--format", "csv", "users")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0].startswith("id,name,category,unit"), out.stdout
    rows = {r["id"]: r for r in csv_rows(out.stdout)}
    assert set(rows) == {u["id"] for u in s.get("/api/users")}, out.stdout
    assert rows["u-li"]["name"] == '李雷, "小李"' and rows["u-bob"]["unit"] == "-", rows
    assert '"李雷, ""小李"""' in out.stdout, out.stdout
    out = ctl(campus, "--format", "csv", "group", "list")
    assert [r["id"] for r in csv_rows(out.stdout)] == ["g-xrd"] and "X射线课题组" in out.stdout, out.stdout
    cards = ctl(campus, "--format", "csv", "cards")
    assert {r["uid"] for r in csv_rows(cards.stdout)} == {c["uid"] for c in s.get("/api/cards")}, cards.stdout
    # --json is --format json; the two disagreeing is a usage error
    out = ctl(campus, "--json", "users")
    assert out.returncode == 0 and json.loads(out.stdout) == s.get("/api/users"), out
    assert json.loads(ctl(campus, "--format", "json", "group", "list").stdout) == s.get("/api/groups")
    out = ctl(campus, "--json", "--format", "csv", "users")
    assert out.returncode == 2 and "--format" in out.stderr, out
    assert ctl(campus, "--format", "xml", "users").returncode == 2
    # older lists honour --format csv too
    out = ctl(campus, "--format", "csv", "stats")
    assert out.returncode == 0 and out.stdout.startswith("key,value\n"), out

    out = ctl(campus, "group", "retire", "g-xrd")
    assert out.returncode == 0 and "retired" in out.stdout, out
    assert s.get("/api/groups")[0]["retired"], s.get("/api/groups")

    # a refused command: exit 1 and one clear line naming what was asked and why
    out = ctl(campus, "group", "add", "g-none", "u-alice")
    assert out.returncode == 1 and out.stdout == "", out
    line = out.stderr.strip()
    assert line.startswith("labgatectl: group add g-none u-alice: HTTP 4"), line
    assert "\n" not in line, line


def test_ctl_sign_in_roles_and_registrations(campus):
    """The identity routes through labgatectl: the bootstrap admin token sets a password and grants a
    role; the user signs in (token file), sees who they are, approves an applicant, makes and revokes
    a personal token, changes their password and signs out; throttled sign-ins say when to retry."""
    campus.seed()
    s = campus.server
    tf = campus.dir / "cfg" / "labgate" / "token"

    def alice(*args, **kw):
        return ctl(campus, *args, token=None, token_file=tf, **kw)

    out = ctl(campus, "user", "password", "u-alice", stdin="Alice-pass-2026\n")
    assert out.returncode == 0 and "password of u-alice set" in out.stdout, out
    out = alice("login", "u-alice", stdin="Alice-pass-2026\n")
    assert out.returncode == 0, out
    assert out.stdout.startswith("signed in as u-alice until ") and "+08:00" in out.stdout, out.stdout
    assert "Alice-pass" not in out.stdout + out.stderr
    assert tf.stat().st_mode & 0o777 == 0o600 and tf.parent.stat().st_mode & 0o777 == 0o700
    secret = tf.read_text().strip()
    assert secret and secret not in out.stdout

    who = alice("whoami")
    assert who.returncode == 0, who
    assert "u-alice" in who.stdout and "Alice" in who.stdout and "user self (implied)" in who.stdout, who.stdout
    # --token comes before the token file
    assert json.loads(ctl(campus, "--json", "whoami", token_file=tf).stdout)["kind"] == "bootstrap"

    # not an admin yet: the grant is refused with the server's reason, exit 1
    out = alice("role", "grant", "u-bob", "instrument_admin", "--scope", "inst-xrd")
    assert out.returncode == 1 and "labgatectl: role grant u-bob instrument_admin: HTTP 4" in out.stderr, out
    assert ctl(campus, "role", "grant", "u-bob", "unit_admin").returncode == 2  # needs --scope
    assert ctl(campus, "role", "grant", "u-bob", "system_admin", "--scope", "chem").returncode == 2
    out = ctl(campus, "role", "grant", "u-alice", "unit_admin", "--scope", "chem")
    assert out.returncode == 0 and "granted unit_admin unit:chem to u-alice" in out.stdout, out
    rows = csv_rows(alice("--format", "csv", "whoami").stdout)
    assert {"key": "role", "value": "unit_admin unit:chem"} in rows, rows
    grants = json.loads(ctl(campus, "--json", "role", "list").stdout)
    assert [(g["user"], g["role"], g["scope_id"]) for g in grants] == [("u-alice", "unit_admin", "chem")], grants
    assert ctl(campus, "role", "list").stdout.count("unit_admin") == 1

    # an external applicant, approved by the unit's admin
    out = ctl(campus, "register", "--id", "u-ext", "--name", "张三", "--unit", "chem", "--category", "enterprise",
              "--organisation", "ACME", "--email", "zhang@example.com", token=None, stdin="Ext-pass-2026\n")
    assert out.returncode == 0 and "pending" in out.stdout, out
    out = alice("--format", "csv", "approvals")
    assert out.returncode == 0, out
    assert [(r["user"], r["decision"]) for r in csv_rows(out.stdout)] == [("u-ext", "pending")], out.stdout
    out = alice("approve", "u-ext")
    assert out.returncode == 0 and "u-ext approved" in out.stdout, out
    assert csv_rows(alice("--format", "csv", "approvals").stdout) == []
    decided = csv_rows(alice("--format", "csv", "approvals", "--all").stdout)
    assert [(r["user"], r["decision"], r["decided by"]) for r in decided] == [("u-ext", "approved", "user:u-alice")], decided
    ext = ctl(campus, "login", "u-ext", token=None, token_file=campus.dir / "ext-token", stdin="Ext-pass-2026\n")
    assert ext.returncode == 0 and "pending" not in ext.stdout, ext

    # a personal token: shown once, listed, used, revoked
    out = alice("token", "create", "nightly", "--days", "7", "--right", "usage_read")
    assert out.returncode == 0 and "shown only" in out.stderr, out
    personal = out.stdout.splitlines()[1].strip()
    listed = json.loads(alice("--json", "token", "list").stdout)
    assert [(t["name"], t["rights"]) for t in listed] == [("nightly", ["usage_read"])], listed
    assert json.loads(ctl(campus, "--json", "whoami", token=personal).stdout)["kind"] == "personal"
    assert alice("token", "revoke", listed[0]["id"]).returncode == 0
    out = ctl(campus, "whoami", token=personal)
    assert out.returncode == 1 and "HTTP 401" in out.stderr, out
    sessions = alice("session", "list")
    assert sessions.returncode == 0 and any(l.startswith("*") for l in sessions.stdout.splitlines()), sessions.stdout

    out = alice("password", stdin="Alice-pass-2026\nAlice-pass-2027\n")
    assert out.returncode == 0 and "changed" in out.stdout, out

    # repeated wrong passwords: the server throttles and labgatectl says when to try again
    def throttled():
        out = ctl(campus, "login", "u-bob", token=None, token_file=campus.dir / "bob-token", stdin="wrong\n")
        assert out.returncode == 1 and "HTTP 4" in out.stderr, out
        return out if "HTTP 429" in out.stderr else None
    out = wait_until(throttled, 60, interval=0, what="a throttled sign-in")
    assert "try again in" in out.stderr, out

    out = alice("logout")
    assert out.returncode == 0 and "signed out" in out.stdout and not tf.exists(), out
    out = alice("whoami")
    assert out.returncode == 1 and "HTTP 401" in out.stderr and "labgatectl login USER" in out.stderr, out


if __name__ == "__main__":
    run([test_ctl_tables_and_json_match_the_server, test_ctl_lists_follow_the_pages,
         test_ctl_shows_times_in_the_site_zone_and_checks_limits, test_ctl_errors_are_clear,
         test_ctl_groups_people_and_csv, test_ctl_sign_in_roles_and_registrations])
