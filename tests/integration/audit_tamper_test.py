"""The audit log against a real server on SQLite (issue 8, "Audit"): writes through the API leave a
hash-chained entry each (who, from where, request id); `labgatectl audit verify` finds the chain
intact; an entry edited in the database file behind the server's back (its append-only trigger
dropped first) makes `labgatectl audit verify` exit 1 naming that entry."""
import sqlite3
import subprocess
import time

from harness import BIN, TOKEN, iso_ms, run

# The tamper step opens the server's SQLite file; on PostgreSQL the test is not registered.


def ctl(campus, *args):
    return subprocess.run([str(BIN / "labgatectl"), "--url", campus.server.url, "--token", TOKEN, *args],
                          capture_output=True, text=True, timeout=30)


def public_key_pem():
    key = subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout"],
                         capture_output=True, check=True).stdout
    return subprocess.run(["openssl", "ec", "-pubout"], input=key, capture_output=True,
                          check=True).stdout.decode()


def test_audit_chain_verifies_and_names_an_edited_entry(campus):
    s = campus.server
    campus.seed()  # units, labs, users, cards (directory: not audited here), a fee standard, qualifications
    s.post("/api/fee-standards", {"instrument": "inst-xrd", "internal_fen_per_hour": 40000,
                                  "external_fen_per_hour": 80000})
    status, body = s.request("POST", "/api/terminals", {"id": "t-audit", "resource": "inst-xrd",
                                                         "public_key": public_key_pem()})
    assert status == 201, body
    tomorrow = (int(time.time()) // 3600 + 24) * 3600  # a booking must start ahead of now (its lead time)
    status, booking = s.request("POST", "/api/bookings", {"instrument": "inst-xrd", "user": "u-alice",
                                                          "start": iso_ms(tomorrow),
                                                          "end": iso_ms(tomorrow + 7200)})
    assert status == 201, booking

    entries = s.get("/api/audit?limit=1000")
    kinds = [e["entity"] for e in reversed(entries)]
    assert kinds.count("fee_standard") == 2 and "terminal" in kinds and "booking" in kinds, kinds
    assert kinds.count("qualification") == 2, kinds
    assert [e["seq"] for e in entries] == list(range(len(entries), 0, -1)), entries
    fee = [e for e in entries if e["entity"] == "fee_standard"]
    assert fee[0]["action"] == "update" and fee[0]["before"]["internal_fen_per_hour"] == 36000, fee[0]
    assert fee[0]["after"]["internal_fen_per_hour"] == 40000, fee[0]
    b = [e for e in entries if e["entity"] == "booking"][0]
    assert b["entity_id"] == booking["id"] and b["actor"] == "admin-token", b
    assert b["source"] == "127.0.0.1" and b["request_id"], b
    only = s.get("/api/audit?entity=booking")
    assert [e["seq"] for e in only] == [b["seq"]], only

    out = ctl(campus, "audit", "verify")
    assert out.returncode == 0, (out.stdout, out.stderr)
    assert f"audit chain: {len(entries)} entries, intact" in out.stdout, out.stdout
    listed = ctl(campus, "audit", "list", "--entity", "terminal")
    assert listed.returncode == 0 and "t-audit" in listed.stdout and "booking" not in listed.stdout, listed

    # The log refuses an UPDATE while its trigger stands.
    target = fee[0]["seq"]
    s.stop()
    db = sqlite3.connect(s.dir / "labgate.db")
    try:
        try:
            db.execute("UPDATE audit_log SET after = '{}' WHERE seq = ?", (target,))
            raise AssertionError("audit_log accepted an UPDATE")
        except sqlite3.DatabaseError as e:
            assert "append-only" in str(e), e
        db.rollback()
        # A tamperer who drops the trigger and lowers a rate in one entry.
        db.execute("DROP TRIGGER audit_log_no_update")
        db.execute("UPDATE audit_log SET after = replace(after, '40000', '4000') WHERE seq = ?", (target,))
        db.commit()
    finally:
        db.close()
    s.start()

    out = ctl(campus, "audit", "verify")
    assert out.returncode == 1, (out.stdout, out.stderr)
    assert f"BROKEN at entry {target}:" in out.stdout, out.stdout
    j = ctl(campus, "--json", "audit", "verify")
    assert j.returncode == 1 and f'"first_broken": {target}' in j.stdout, j.stdout


if __name__ == "__main__":
    run([test_audit_chain_verifies_and_names_an_edited_entry])
