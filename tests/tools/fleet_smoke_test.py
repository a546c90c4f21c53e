"""labgate-fleet against a real Mosquitto and labgate-server, small: the CI sample of the fleet
benchmarks (docs/BENCHMARKS.md "Fleet").

50 terminals, enrolled through labgatectl import from the file `labgate-fleet setup` writes, send
3 batches each in steady mode, then lose the network, buffer 200 records each and reconnect at
once (herd), and once more with the backlog sealed during the outage (--presealed, as the
benchmark drains it). For the herds the server runs with room for one buffered MQTT publish
(`mqtt.max_buffered = 1`) and the fleet resends only after 600 s: the herd's acks come in bursts
larger than the client's in-flight window, and the server must wait for room rather than drop
one (a dropped ack would leave its terminal waiting, and the fleet would time out). Both runs publish some batches twice (--duplicate-every, a QoS 1 redelivery), so
the server sees duplicates. Checks: every record acked; the server stored exactly the records
the fleet sent (nothing lost, no duplicate counted as new) and counted at least the injected
duplicates as duplicates, no rejection; per terminal its acked seq is the fleet's last seq;
sessions, closed sessions and access events on the server match what the fleet produced.
Waits on the fleet's exit (it returns once every record is acked) and on server state; no timing
is asserted.
"""
import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
import harness  # noqa: E402

TERMINALS = 100
STEADY_BATCHES = 3
BATCH = 5
HERD_RECORDS = 200


def fleet(campus, *argv, timeout=600):
    out = subprocess.run([str(harness.BIN / "labgate-fleet"), *argv], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, timeout=timeout)
    (campus.dir / "fleet.log").open("a").write(out.stderr)
    lines = [x for x in out.stdout.splitlines() if x.startswith("{")]
    assert out.returncode == 0 and lines, f"labgate-fleet {argv[0]} rc {out.returncode}\n{out.stderr[-4000:]}"
    return json.loads(lines[-1])


def rows(server, path):
    """Every row of a paged list (limit 10000), following Link: rel="next"."""
    target = f"{path}{'&' if '?' in path else '?'}limit=10000"
    while target:
        req = urllib.request.Request(server.url + target, headers={"Authorization": f"Bearer {harness.TOKEN}"})
        with urllib.request.urlopen(req, timeout=30) as r:
            yield from json.loads(r.read())
            link = r.headers.get("Link", "")
        target = link[link.index("<") + 1:link.index(">")] if 'rel="next"' in link else None
        if target and target.startswith("http"):
            target = target[len(server.url):]


def test_fleet_smoke(campus):
    keys = campus.dir / "keys"
    state = campus.dir / "fleet-state.json"
    doc = campus.dir / "fleet-import.json"
    fleet(campus, "setup", "--terminals", str(TERMINALS), "--keys-dir", str(keys), "--out", str(doc))
    subprocess.run([str(harness.BIN / "labgatectl"), "--url", campus.server.url, "--token", harness.TOKEN,
                    "import", str(doc)], check=True, stdout=subprocess.DEVNULL, timeout=300)
    common = ["--terminals", str(TERMINALS), "--keys-dir", str(keys), "--mqtt", campus.broker.uri, "--site",
              harness.SITE, "--server-pub", str(campus.server.public_key_path), "--state", str(state)]

    steady = fleet(campus, "steady", *common, "--interval-s", "1", "--batch", str(BATCH), "--duration-s",
                   str(STEADY_BATCHES), "--warmup-s", "0", "--duplicate-every", "3",
                   "--server-pid", str(campus.server.p.pid))
    assert steady["ok"] and steady["unacked_records"] == 0, steady
    assert steady["records_assigned"] == TERMINALS * STEADY_BATCHES * BATCH, steady
    assert steady["records_acked"] == steady["records_assigned"], steady
    assert steady["acks_rejected"] == 0 and steady["sync_rejected"] == 0, steady
    assert steady["synced_terminals"] == TERMINALS, steady

    campus.server.stop()
    conf = campus.server.conf.read_text()
    campus.server.conf.write_text(conf.replace("[mqtt]\n", "[mqtt]\nmax_buffered = 1\n", 1))
    campus.server.start()
    herd = fleet(campus, "herd", *common, "--records", str(HERD_RECORDS), "--duplicate-every", "1",
                 "--resend-s", "600", "--timeout-s", "300", "--server-pid", str(campus.server.p.pid))
    assert herd["ok"] and herd["unacked_records"] == 0, herd
    assert herd["evt_republished"] == 0, f"a batch had to be published again (an ack was lost): {herd}"
    assert herd["records"] == TERMINALS * HERD_RECORDS, herd
    assert herd["records_acked"] == herd["records"], herd

    # The benchmark's presealed herd (the backlog sealed during the outage, published on reconnect
    # from the sealed envelopes): the same server-side outcome.
    sealed = fleet(campus, "herd", *common, "--records", str(HERD_RECORDS // 2), "--presealed",
                   "--duplicate-every", "2", "--resend-s", "600", "--timeout-s", "300")
    assert sealed["ok"] and sealed["presealed"] and sealed["unacked_records"] == 0, sealed
    assert sealed["evt_republished"] == 0 and sealed["records_acked"] == TERMINALS * (HERD_RECORDS // 2), sealed

    runs = (steady, herd, sealed)
    sent = sum(r["records_acked"] for r in runs)
    kinds = {k: sum(r["records_by_kind"].get(k, 0) for r in runs)
             for k in ("access", "session_start", "session_end", "meter_sample")}
    assert sum(kinds.values()) == sent, (kinds, sent)

    # Everything acked is committed (an ack is sent after the commit); the counters say so at once.
    stats = campus.server.get("/api/stats")
    ing = stats["ingest"]
    print(f"fleet sent {sent} records ({kinds}); server: {ing}; republished by the fleet: "
          f"{sum(r['evt_republished'] for r in runs)} batches, published twice on purpose: "
          f"{sum(r['duplicated_records'] for r in runs)} records", flush=True)
    assert ing["records"] == sent, f"server stored {ing['records']} records, the fleet sent {sent}: {stats}"
    assert stats["rejected"] == {}, stats
    injected = sum(r["duplicated_records"] for r in runs)
    assert injected > 0, (steady, herd)
    assert ing["duplicates"] >= injected, f"{injected} records published twice, server counted {ing['duplicates']}"

    saved = json.loads(state.read_text())
    acked = {t["id"]: t["acked_seq"] for t in rows(campus.server, "/api/terminals")}
    for tid, s in saved.items():
        assert acked.get(tid) == s["seq"], f"{tid}: server acked {acked.get(tid)}, fleet's last seq {s['seq']}"
    assert len(saved) == TERMINALS

    status = [x["status"] for x in rows(campus.server, "/api/sessions")]
    assert len(status) == kinds["session_start"], (len(status), kinds)
    assert status.count("closed") == kinds["session_end"], (status.count("closed"), kinds)
    assert sum(1 for _ in rows(campus.server, "/api/access-events")) == kinds["access"], kinds


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    # labgate-fleet speaks for many terminals over few connections, which the real broker forbids
    # (one certificate, one terminal, one connection): the development mode.
    harness.run([test_fleet_smoke], tls=False)
