"""GET /metrics speaks the Prometheus text format and counts what really happened.

- Without a token, the answer is text/plain; version=0.0.4 and parses as the text format (a
  strict little parser below: HELP and TYPE once per family and before its samples, escaped label
  values, histogram buckets cumulative and ending with +Inf equal to _count).
- After a few swipes through a real terminal, the records are counted (the same numbers as
  /api/stats), the terminal is connected, and each ingest transaction was timed.
- A malformed payload published on the terminal's evt topic shows up under the rejections with
  its reason.
- No card UID or user id appears in it: counts only.
"""
import math
import re
import subprocess
import urllib.error
import urllib.request

from harness import SITE, run, wait_until

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"
SAMPLE = re.compile(rf"^({NAME})(?:\{{(.*)\}})? (\S+)$")
LABEL_PAIR = re.compile(rf'({LABEL})="((?:[^"\\\n]|\\[\\"n])*)"(,|$)')


def unescape(v):
    return re.sub(r"\\([\\\"n])", lambda m: "\n" if m.group(1) == "n" else m.group(1), v)


def parse_value(text):
    if text in ("+Inf", "-Inf", "NaN"):
        return float(text.replace("Inf", "inf").replace("NaN", "nan"))
    return float(text)  # raises on anything that is not a number


def parse_prometheus(text):
    """Parses text format 0.0.4 strictly; returns {family: {"type", "help", "samples": [(name, labels, value)]}}."""
    assert text.endswith("\n"), "the exposition ends with a line feed"
    families, current = {}, None
    for line in text[:-1].split("\n"):
        assert line, "no empty lines"
        if line.startswith("# HELP "):
            name, _, help_text = line[7:].partition(" ")
            assert re.fullmatch(NAME, name), line
            assert name not in families or "help" not in families[name], f"HELP twice: {line}"
            families.setdefault(name, {"samples": []})["help"] = help_text
            continue
        if line.startswith("# TYPE "):
            name, kind = line[7:].split(" ")
            assert re.fullmatch(NAME, name), line
            assert kind in ("counter", "gauge", "histogram", "summary", "untyped"), line
            fam = families.setdefault(name, {"samples": []})
            assert "type" not in fam and not fam["samples"], f"TYPE twice or after samples: {line}"
            fam["type"] = kind
            current = name
            continue
        assert not line.startswith("#"), line
        m = SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        name, raw_labels, value = m.group(1), m.group(2), m.group(3)
        labels = {}
        if raw_labels:
            pos = 0
            while pos < len(raw_labels):
                lm = LABEL_PAIR.match(raw_labels, pos)
                assert lm, f"bad labels in {line!r}"
                assert lm.group(1) not in labels, line
                labels[lm.group(1)] = unescape(lm.group(2))
                pos = lm.end()
        assert current is not None, f"sample before any TYPE: {line}"
        kind = families[current]["type"]
        if kind == "histogram":
            assert name in (current + "_bucket", current + "_sum", current + "_count"), line
            if name.endswith("_bucket"):
                assert "le" in labels, line
        else:
            assert name == current, f"{name} outside its family {current}"
        families[current]["samples"].append((name, labels, parse_value(value)))
    for name, fam in families.items():
        assert "help" in fam and "type" in fam, f"{name} lacks HELP or TYPE"
        if fam["type"] == "histogram":
            check_histogram(name, fam["samples"])
    return families


def check_histogram(name, samples):
    """Per label set: bucket counts grow with le, the last is +Inf and equals _count."""
    series = {}
    for sample_name, labels, value in samples:
        key = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
        s = series.setdefault(key, {"buckets": [], "count": None, "sum": None})
        if sample_name.endswith("_bucket"):
            s["buckets"].append((parse_value(labels["le"]), value))
        elif sample_name.endswith("_count"):
            s["count"] = value
        else:
            s["sum"] = value
    for key, s in series.items():
        les = [le for le, _ in s["buckets"]]
        counts = [c for _, c in s["buckets"]]
        assert les == sorted(les) and les[-1] == math.inf, f"{name}{key}: buckets {les}"
        assert counts == sorted(counts), f"{name}{key}: buckets not cumulative {counts}"
        assert counts[-1] == s["count"], f"{name}{key}: +Inf {counts[-1]} != _count {s['count']}"
        assert s["sum"] is not None and s["sum"] >= 0, f"{name}{key}: _sum"


def scrape(server):
    """GET /metrics without a token: (content type, text)."""
    with urllib.request.urlopen(server.url + "/metrics", timeout=10) as r:
        assert r.status == 200
        return r.headers.get("Content-Type"), r.read().decode()


def value(families, family, name=None, **labels):
    for sample_name, sample_labels, v in families[family]["samples"]:
        if sample_name == (name or family) and sample_labels == labels:
            return v
    return None


def metrics(server):
    return parse_prometheus(scrape(server)[1])


def pub(campus, topic, payload):
    argv = ["mosquitto_pub", *campus.mqtt_cli(), "-q", "1", "-t", topic, "-m", payload]
    subprocess.run(argv, check=True, timeout=10)


def test_metrics_count_swipes_and_rejections(campus):
    s = campus.server
    content_type, text = scrape(s)
    assert content_type == "text/plain; version=0.0.4; charset=utf-8", content_type
    fams = parse_prometheus(text)
    version = s.request("GET", "/api/health", token=None)[1]["version"]
    assert value(fams, "labgate_build_info", version=version) == 1
    assert value(fams, "labgate_mqtt_connected") == 1
    assert value(fams, "labgate_database_up") == 1
    assert fams["labgate_ingest_records_total"]["type"] == "counter"
    assert fams["labgate_db_transaction_seconds"]["type"] == "histogram"

    campus.seed()
    t = campus.terminal()
    assert t.swipe("A1A1A1A1")["action"] == "start"
    assert t.swipe("A1A1A1A1")["action"] == "end"
    assert t.swipe("E5E5E5E5")["decision"] == "denied"  # untrained
    campus.settle(t)  # every record of those swipes (and two markers) is through ingest

    # the records are counted: at least the three swipes, and the same numbers as /api/stats
    def same_as_stats():
        before = s.get("/api/stats")["ingest"]
        fams = metrics(s)
        after = s.get("/api/stats")["ingest"]
        got = {k: value(fams, f"labgate_ingest_{k}_total") for k in ("batches", "records", "duplicates", "acks")}
        return fams if before == after and got == {k: float(v) for k, v in after.items()} else None
    fams = wait_until(same_as_stats, 30, what="/metrics to show the ingest counters of /api/stats")
    assert value(fams, "labgate_ingest_records_total") >= 3
    assert value(fams, "labgate_ingest_batches_total") >= 1
    assert value(fams, "labgate_db_transaction_seconds", "labgate_db_transaction_seconds_count",
                 op="commit_batch") >= 1
    assert value(fams, "labgate_db_transaction_seconds", "labgate_db_transaction_seconds_count",
                 op="apply_state") >= 1
    assert value(fams, "labgate_terminals_enrolled") == 1
    assert value(fams, "labgate_terminals_connected") == 1  # heartbeats every second (harness)
    assert value(fams, "labgate_ingest_failures_total") == 0
    assert value(fams, "labgate_ingest_queue_depth") >= 0 and value(fams, "labgate_ingest_lag_seconds") >= 0
    assert value(fams, "labgate_http_requests_total", code="200") >= 1
    assert value(fams, "labgate_ingest_rejections_total", reason="malformed") is None

    # a malformed payload on the terminal's evt topic: counted under its reason
    pub(campus, f"lg/v1/{SITE}/{t.id}/evt", "hello, broker")
    fams = wait_until(lambda: (lambda f: f if value(f, "labgate_ingest_rejections_total", reason="malformed") == 1
                               else None)(metrics(s)), 30, what="the malformed payload among the rejections")
    assert s.get("/api/stats")["rejected"].get("malformed") == 1

    # counts only: no card UID, user id or name
    _, text = scrape(s)
    for secret in ("A1A1A1A1", "E5E5E5E5", "u-alice", "u-eve", "Alice"):
        assert secret not in text, secret
    # open, but GET only
    req = urllib.request.Request(s.url + "/metrics", data=b"", method="POST")
    try:
        urllib.request.urlopen(req, timeout=10)
        raise AssertionError("POST /metrics must not succeed")
    except urllib.error.HTTPError as e:
        assert e.code == 405, e.code


if __name__ == "__main__":
    run([test_metrics_count_swipes_and_rejections])
