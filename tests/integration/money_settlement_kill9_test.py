"""kill -9 of the server at random points during a monthly settlement of 100,000 charges (issue 11):
in each of 20 trials the settlement either completed or left nothing half-done, a rerun finishes
it, the ledger balances (labgatectl ledger check's invariants: balances equal their transfers,
debits equal credits, no account below its floor, no charge posted twice) and the month's
statements add up to exactly its charges. The month is filled by labgate-bench-settle --fill-only
into the server's own SQLite file (the real schema and migrations)."""
import os
import random
import shutil
import subprocess
import threading
import time
import urllib.request

from harness import BIN, TOKEN, run

CHARGES = int(os.environ.get("LABGATE_SETTLE_CHARGES", "100000"))
TRIALS = int(os.environ.get("LABGATE_SETTLE_TRIALS", "20"))
MONTH = "2026-10"
DB_FILES = ("labgate.db", "labgate.db-wal", "labgate.db-shm")


def copy_db(src, dst):
    for name in DB_FILES:
        if (dst / name).exists():
            (dst / name).unlink()
        if (src / name).exists():
            shutil.copy2(src / name, dst / name)


def month_state(s):
    """(closed month record or None, ledger check)."""
    check = s.get("/api/ledger/check")
    months = [m for m in s.get("/api/settlements") if m["month"] == MONTH]
    return (months[0] if months else None), check


def assert_settled(s, expected):
    closed, check = month_state(s)
    assert check["ok"], check["violations"][:5]
    assert closed is not None
    assert closed["charges"] == expected["charges"], closed
    assert closed["total_fen"] == expected["total_fen"], closed
    statements = s.get(f"/api/statements?month={MONTH}")
    assert sum(x["total_fen"] for x in statements) == expected["total_fen"]
    assert sum(x["charges"] for x in statements) == expected["charges"]
    assert len(statements) == expected["accounts"]


def test_settlement_survives_kill9_at_random_points(campus):
    s = campus.server
    s.stop()
    fill = subprocess.run([str(BIN / "labgate-bench-settle"), "--db", str(s.dir / "labgate.db"), "--charges",
                           str(CHARGES), "--fill-only"], capture_output=True, text=True, timeout=600)
    assert fill.returncode == 0, fill.stderr
    import json
    expected = json.loads(fill.stdout)
    pristine = campus.dir / "pristine"
    pristine.mkdir()
    copy_db(s.dir, pristine)

    # An undisturbed run first: how long a settlement takes here, the window the kills fall in.
    s.start()
    t0 = time.monotonic()
    status, body = s.request("POST", "/api/settlements", {"month": MONTH})
    took = time.monotonic() - t0
    assert status == 201, body
    assert_settled(s, expected)
    # the statements as finance downloads them: a real XLSX that openpyxl (Debian's) reads back
    req = urllib.request.Request(f"{s.url}/api/statements?month={MONTH}&format=xlsx",
                                 headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(req, timeout=30) as r:
        assert r.headers["Content-Type"].startswith("application/vnd.openxmlformats")
        xlsx = campus.dir / "statements.xlsx"
        xlsx.write_bytes(r.read())
    read = subprocess.run(["/usr/bin/python3", "-c",
                           "import openpyxl, sys; rows = list(openpyxl.load_workbook(sys.argv[1]).active.values); "
                           "print(len(rows) - 1, sum(r[6] for r in rows[1:]))", str(xlsx)],
                          capture_output=True, text=True, timeout=60)
    assert read.returncode == 0, read.stderr
    assert read.stdout.split() == [str(expected["accounts"]), str(expected["total_fen"])], read.stdout

    rng = random.Random(int(os.environ.get("LABGATE_SETTLE_SEED", "11")))
    outcomes = {"completed": 0, "nothing": 0}
    for trial in range(TRIALS):
        s.stop()
        copy_db(pristine, s.dir)
        s.start()
        answer = {}

        def settle():
            try:
                answer["r"] = s.request("POST", "/api/settlements", {"month": MONTH})
            except Exception as e:  # the server died under the request
                answer["e"] = e

        th = threading.Thread(target=settle)
        th.start()
        time.sleep(rng.uniform(0, took * 1.2))
        s.kill9()
        th.join(30)
        s.start()
        closed, check = month_state(s)
        assert check["ok"], (trial, check["violations"][:5])
        if closed is None:
            outcomes["nothing"] += 1
            assert s.get(f"/api/statements?month={MONTH}") == [], "statements without their closed month"
            status, body = s.request("POST", "/api/settlements", {"month": MONTH})
            assert status == 201, (trial, body)
        else:
            outcomes["completed"] += 1
            status, body = s.request("POST", "/api/settlements", {"month": MONTH})
            assert status == 409, (trial, status, body)  # settled once: a rerun moves nothing
        assert_settled(s, expected)
    print(f"settlement of {CHARGES} charges takes {took:.2f} s here; {TRIALS} kill -9 trials: {outcomes}")
    assert outcomes["nothing"] + outcomes["completed"] == TRIALS


if __name__ == "__main__":
    run([test_settlement_survives_kill9_at_random_points], extra_toml="\n[settlement]\nsettle_day = 0\n")
