"""Several labgate-server nodes on one PostgreSQL share the terminals' traffic (MQTT shared
subscription $share/labgate/...; docs/SCALE.md). kill -9 of one node during a heavy ingest and
during HTTP writes: the other carries on; afterwards nothing is lost, nothing is stored twice,
every closed session is charged once, every acked record is in the database and every write the
API confirmed is there; the killed node, started again, joins and takes its share.

Needs PostgreSQL (registered as pg.integration.scale_multinode_kill, fixture pg). Waits on
observable state (rows in the database, the fleet's exit once every record is acked), never on
time.
"""
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import harness
from harness import Server, wait_until

TERMINALS = 20
HERD_RECORDS = 1500  # per terminal: 30,000 records in the first herd


def fleet(campus, *argv, timeout=900):
    out = subprocess.run([str(harness.BIN / "labgate-fleet"), *argv], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, timeout=timeout)
    (campus.dir / "fleet.log").open("a").write(out.stderr)
    lines = [x for x in out.stdout.splitlines() if x.startswith("{")]
    assert out.returncode == 0 and lines, f"labgate-fleet {argv[0]} rc {out.returncode}\n{out.stderr[-4000:]}"
    return json.loads(lines[-1])


def as_node(server, name):
    """Rewrites a Server's config to join the shared subscription group with a client id of its own."""
    text = server.conf.read_text()
    text = text.replace("[mqtt]\n", '[mqtt]\nshared_group = "labgate"\n', 1)
    lines = [(f'client_id = "labgate-server-{harness.SITE}-{name}-{os.getpid()}"' if x.startswith("client_id")
              else x) for x in text.splitlines()]
    server.conf.write_text("\n".join(lines) + "\n")
    return server


def query(store, sql):
    """psql output of sql run in the store's schema."""
    return store.sql(f'SET search_path TO "{store.schema}"; {sql}')


def scalar(store, sql):
    return int(query(store, sql) or 0)


def node_batches(store, pid):
    """evt batches committed by the node process `pid` (its counter shards are named host:pid:...)."""
    return scalar(store, "SELECT COALESCE(sum(value), 0) FROM ingest_counters "
                         f"WHERE name = 'batches' AND split_part(shard, ':', 2) = '{pid}'")


def test_kill_one_node_mid_ingest_and_mid_writes(campus):
    assert harness.STORE == "postgres", "several nodes share one PostgreSQL: run with LABGATE_TEST_STORE=postgres"
    store = campus.server.store
    # node A: the campus's server, restarted as a member of the group
    a = campus.server
    a.stop()
    as_node(a, "a").start()
    # node B: its own data dir, the same database and the same site key (bundles and acks verify
    # with one server public key whichever node signs them)
    b = campus.add(Server(campus.dir / "node-b", campus.broker.uri, store=store))
    shutil.copy2(a.dir / "server.key", b.dir / "server.key")
    os.chmod(b.dir / "server.key", 0o600)
    as_node(b, "b").start()
    assert (a.dir / "server.pub").read_text() == (b.dir / "server.pub").read_text()

    keys, state, doc = campus.dir / "keys", campus.dir / "fleet-state.json", campus.dir / "fleet.json"
    fleet(campus, "setup", "--terminals", str(TERMINALS), "--keys-dir", str(keys), "--out", str(doc))
    subprocess.run([str(harness.BIN / "labgatectl"), "--url", b.url, "--token", harness.TOKEN, "import", str(doc)],
                   check=True, stdout=subprocess.DEVNULL, timeout=300)
    common = ["--terminals", str(TERMINALS), "--keys-dir", str(keys), "--mqtt", campus.broker.uri, "--site",
              harness.SITE, "--server-pub", str(b.public_key_path), "--state", str(state), "--resend-s", "2"]

    # HTTP writes on both nodes while node A is killed: every write a node confirmed must be there.
    confirmed, stop_writes = {"a": [], "b": []}, threading.Event()

    def writer(node, name):
        i = 0
        while not stop_writes.is_set():
            uid = f"w-{name}-{i}"
            try:
                status, _ = node.request("POST", "/api/users", {"id": uid, "name": uid, "category": "internal"})
            except OSError:
                status = None  # the node is gone (or going): this write may or may not have committed
            if status == 201:
                confirmed[name].append(uid)
            elif name == "a" and not node.alive():
                return
            i += 1

    writers = [threading.Thread(target=writer, args=(a, "a")), threading.Thread(target=writer, args=(b, "b"))]
    for w in writers:
        w.start()

    # the herd drains through both nodes; node A dies when a fifth of it is stored
    total = TERMINALS * HERD_RECORDS
    result = {}
    herd = threading.Thread(target=lambda: result.update(fleet(campus, "herd", *common, "--records",
                                                                str(HERD_RECORDS))))
    herd.start()
    wait_until(lambda: scalar(store, "SELECT count(*) FROM records") >= total // 5, 300, interval=0.1,
               what="a fifth of the herd stored")
    a_batches = node_batches(store, a.p.pid)
    a.kill9()
    herd.join()
    assert result.get("ok") and result["unacked_records"] == 0, result
    assert result["records_acked"] == total, result
    assert a_batches > 0, "node A took no share of the herd before it was killed"
    stop_writes.set()
    for w in writers:
        w.join()

    # nothing lost, nothing stored twice
    assert scalar(store, "SELECT count(*) FROM records") == total
    assert scalar(store, "SELECT count(*) FROM (SELECT DISTINCT terminal, seq FROM records) d") == total
    saved = json.loads(state.read_text())
    acked = dict(x.split("|") for x in query(store, "SELECT id, acked_seq FROM terminals").splitlines())
    for tid, s in saved.items():
        assert int(acked[tid]) == s["seq"], f"{tid}: acked {acked[tid]}, fleet's last seq {s['seq']}"
    # every closed session charged once
    closed = scalar(store, "SELECT count(*) FROM usage_sessions WHERE status = 'closed'")
    assert closed > 0
    assert scalar(store, "SELECT count(*) FROM charges") == closed
    assert scalar(store, "SELECT count(*) FROM usage_sessions s WHERE status = 'closed' AND NOT EXISTS "
                         "(SELECT 1 FROM charges c WHERE c.session = s.id)") == 0
    # every confirmed write is there, on either node's account
    users = set(query(store, "SELECT id FROM users WHERE id LIKE 'w-%'").splitlines())
    assert confirmed["a"] and confirmed["b"], confirmed
    missing = [u for u in confirmed["a"] + confirmed["b"] if u not in users]
    assert not missing, f"confirmed but not stored: {missing[:5]}"

    # node A joins again and takes its share of the next herd
    a.start()
    second = fleet(campus, "herd", *common, "--records", "200")
    assert second["ok"] and second["records_acked"] == TERMINALS * 200, second
    assert scalar(store, "SELECT count(*) FROM records") == total + TERMINALS * 200
    assert node_batches(store, a.p.pid) > 0, "the restarted node A took no share of the second herd"


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    # labgate-fleet speaks for many terminals over few connections, which the real broker forbids
    # (one certificate, one terminal, one connection): the development mode.
    harness.run([test_kill_one_node_mid_ingest_and_mid_writes], tls=False)
