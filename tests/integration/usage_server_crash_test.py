"""kill -9 of the server again and again while a terminal streams thousands of records: every
record, usage session and charge ends up stored exactly once, and the final ack covers them all.

The stream comes from labgate-bench-ingest (an enrolled terminal that signs real batches and
republishes whatever is not acked), so the server dies in the middle of real ingest transactions.
"""
import subprocess

from harness import BIN, SITE, run, wait_until

RECORDS = 3000


def test_server_killed_three_times_during_a_stream(campus):
    campus.seed()
    key = campus.dir / "t-stream.key"
    tool = str(BIN / "labgate-bench-ingest")
    pub = subprocess.run([tool, "--key", str(key), "--print-public-key"], capture_output=True, text=True,
                         check=True, timeout=20).stdout
    campus.server.post("/api/terminals", {"id": "t-stream", "resource": "inst-xrd", "public_key": pub})
    log = open(campus.dir / "stream.log", "wb")
    stream = subprocess.Popen(
        [tool, "--key", str(key), "--mqtt", campus.broker.uri, "--site", SITE, "--terminal", "t-stream",
         "--resource", "inst-xrd", "--user", "u-alice", "--card", "A1A1A1A1",
         "--server-pub", str(campus.server.public_key_path), "--records", str(RECORDS), "--batch", "20",
         "--window", "8", "--resend-s", "2", "--timeout-s", "240", "--skip-raw"],
        stdout=subprocess.PIPE, stderr=log, text=True)
    kills = 0
    for _ in range(3):
        # let some batches commit, then kill the server in the middle of the stream
        before = campus.server.get("/api/stats")["ingest"]["records"] if campus.server.alive() else 0
        wait_until(lambda: campus.server.get("/api/stats")["ingest"]["records"] > before + 200, 60,
                   what="ingest progress before the kill")
        campus.server.kill9()
        kills += 1
        campus.server.start()
    out, _ = stream.communicate(timeout=300)
    assert stream.returncode == 0, (stream.returncode, out, (campus.dir / "stream.log").read_text()[-3000:])
    assert kills == 3
    wait_until(lambda: campus.terminal_info("t-stream").get("acked_seq") == RECORDS, 30, what="final ack")
    sessions = campus.server.closed_sessions(f"?limit={RECORDS + 100}")
    assert len(sessions) == RECORDS, len(sessions)
    assert len({s["id"] for s in sessions}) == RECORDS
    charges = campus.server.get(f"/api/charges?{campus.period()}&limit={RECORDS + 100}")
    assert len(charges) == RECORDS, len(charges)
    rep = campus.server.get(f"/api/reports/usage?by=user&{campus.period()}")
    row = {r["key"]: r for r in rep["rows"]}["u-alice"]
    assert row["sessions"] == RECORDS, row
    assert row["amount_fen"] == sum(c["amount_fen"] for c in charges)


if __name__ == "__main__":
    # labgate-bench-ingest speaks for its terminal over a plain connection: the development mode.
    run([test_server_killed_three_times_during_a_stream], tls=False)
