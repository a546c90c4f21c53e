"""Heavy ingest while people use the HTTP API: four terminals stream 25,000 records each (batches
of 50, signed, over the real broker) while a client polls /api/health and /api/stats.

What must hold, and is asserted: every poll is answered (200), the counters only grow, every
record is committed exactly once and billed once, and every stream ends fully acked.

What is measured and printed, not asserted (timing belongs to benchmarks): how long the health
and stats answers took while the ingest ran. With HTTP and ingest on one thread they wait behind
the queued batches; the reshape (one thread for ingest, others for HTTP) has to bring the worst
case down, and this test's output is where that shows (docs/BENCHMARKS.md, "HTTP under ingest").
"""
import json
import os
import sqlite3
import statistics
import subprocess
import threading
import time
import urllib.error
import urllib.request

from harness import BIN, SITE, TOKEN, run, wait_until

TERMINALS = int(os.environ.get("LABGATE_STALL_TERMINALS", "4"))
RECORDS = int(os.environ.get("LABGATE_STALL_RECORDS", "25000"))
BATCH = 50


def timed_get(url, path, token=None):
    req = urllib.request.Request(url + path)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    t0 = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=300) as r:
            body = json.loads(r.read().decode())
            return r.status, body, (time.monotonic() - t0) * 1000.0
    except urllib.error.HTTPError as e:  # 503 from health is an answer too
        return e.code, json.loads(e.read().decode()), (time.monotonic() - t0) * 1000.0


def summary(ms):
    if not ms:
        return "no samples"
    s = sorted(ms)
    return (f"n={len(s)} median={statistics.median(s):.1f} ms p90={s[int(0.9 * (len(s) - 1))]:.1f} ms "
            f"max={s[-1]:.1f} ms")


def test_health_and_stats_answer_during_heavy_ingest(campus):
    campus.seed()
    s = campus.server
    procs = []
    for i in range(TERMINALS):
        tid = f"t-load-{i + 1}"
        key = campus.dir / f"{tid}.key"
        pem = subprocess.run([str(BIN / "labgate-bench-ingest"), "--key", str(key), "--print-public-key"],
                             capture_output=True, text=True, timeout=20, check=True).stdout
        s.post("/api/terminals", {"id": tid, "resource": "inst-xrd", "public_key": pem})
        argv = [str(BIN / "labgate-bench-ingest"), "--key", str(key), "--mqtt", campus.broker.uri, "--site", SITE,
                "--terminal", tid, "--resource", "inst-xrd", "--user", "u-alice", "--card", "A1A1A1A1",
                "--server-pub", str(s.public_key_path), "--records", str(RECORDS), "--batch", str(BATCH),
                "--skip-raw", "--timeout-s", "900"]
        procs.append((tid, subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=open(campus.dir / f"{tid}.log", "wb"),
                                            text=True)))

    health_ms, stats_ms, seen_records, failures, lag_answers = [], [], [], [], []
    done = threading.Event()

    def poll():
        while not done.is_set():
            try:
                st, body, ms = timed_get(s.url, "/api/health")
                health_ms.append(ms)
                # Health tells the truth: while ingest is more than health.max_ingest_lag_s behind
                # it answers 503 naming the lag, and nothing else may be wrong.
                lagging = st == 503 and body.get("problems") and all(
                    p.startswith("ingest:") for p in body["problems"])
                if lagging:
                    lag_answers.append(body["ingest"]["lag_ms"])
                elif st != 200 or body.get("ok") is not True:
                    failures.append(("health", st, body))
                st, body, ms = timed_get(s.url, "/api/stats", TOKEN)
                stats_ms.append(ms)
                if st != 200:
                    failures.append(("stats", st, body))
                else:
                    seen_records.append(body["ingest"]["records"])
            except Exception as e:  # an unanswered request is exactly what this test looks for
                failures.append(("exception", repr(e)))
            time.sleep(0.05)

    poller = threading.Thread(target=poll)
    poller.start()
    outputs = {}
    try:
        for tid, p in procs:
            out, _ = p.communicate(timeout=1800)
            outputs[tid] = (p.returncode, out)
    finally:
        done.set()
        poller.join()

    for tid, (rc, out) in outputs.items():
        assert rc == 0, f"{tid}: bench exited {rc}: {out}\n{(campus.dir / f'{tid}.log').read_text()[-2000:]}"
    assert not failures, failures[:5]
    assert len(seen_records) >= 2, "the poller must have seen the ingest in progress"
    assert seen_records == sorted(seen_records), "counters never go back"

    total = TERMINALS * RECORDS
    final = wait_until(lambda: (lambda st: st if st["ingest"]["records"] >= total else None)(s.get("/api/stats")),
                       60, what="every record counted")
    assert final["ingest"]["records"] == total, final
    for i in range(TERMINALS):
        info = campus.terminal_info(f"t-load-{i + 1}")
        assert info["acked_seq"] == RECORDS, info
    db = sqlite3.connect(f"file:{s.dir / 'labgate.db'}?mode=ro", uri=True)
    try:
        n_records, = db.execute("SELECT count(*) FROM records").fetchone()
        n_charges, n_sessions = db.execute(
            "SELECT count(*), count(DISTINCT session) FROM charges").fetchone()
    finally:
        db.close()
    assert n_records == total
    assert n_charges == n_sessions == total, (n_charges, n_sessions)

    print(f"ingest of {TERMINALS} x {RECORDS} records (batch {BATCH}) while polling:")
    print(f"  /api/health {summary(health_ms)}")
    print(f"  /api/stats  {summary(stats_ms)}")
    print(f"  /api/health answered 503 (ingest lag above the limit) {len(lag_answers)} times")


if __name__ == "__main__":
    # labgate-bench-ingest speaks for its terminal over a plain connection: the development mode.
    run([test_health_and_stats_answer_during_heavy_ingest], tls=False)
