#!/usr/bin/env python3
"""Scripted demo campus for labgate (run through tools/demo, which builds first).

Starts Mosquitto on a free port, labgate-server on var/demo/server/labgate.db (or, with
--store postgres, on a PostgreSQL cluster in var/demo/pg started by tools/pg_cluster), three
terminals (XRD over Modbus TCP, TEM over Modbus RTU on a pty, the EM lab door) with their
simulators, imports a campus with labgatectl, plays a morning of swipes, then waits.
"""
import argparse
import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "integration"))
import harness  # noqa: E402
from harness import BIN, Campus, ModbusSim, Mosquitto, PgStore, Terminal, TOKEN, wait_until  # noqa: E402

SITE = "demo-u"
DAY = 24 * 3600


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def campus_data(now):
    units = [{"id": "chem", "name": "College of Chemistry"},
             {"id": "mse", "name": "School of Materials Science"}]
    labs = [{"id": "lab-xrd", "name": "X-ray Diffraction Lab", "unit": "chem"},
            {"id": "lab-nmr", "name": "NMR and Mass Spectrometry Lab", "unit": "chem"},
            {"id": "lab-em", "name": "Electron Microscopy Centre", "unit": "mse"}]
    instruments = [
        {"id": "inst-xrd", "name": "Powder X-ray Diffractometer", "lab": "lab-xrd", "kind": "instrument", "asset_no": "2019-0412"},
        {"id": "inst-nmr", "name": "600 MHz NMR Spectrometer", "lab": "lab-nmr", "kind": "instrument", "asset_no": "2017-0031"},
        {"id": "inst-icp", "name": "ICP Mass Spectrometer", "lab": "lab-nmr", "kind": "instrument", "asset_no": "2021-1107"},
        {"id": "inst-tem", "name": "Transmission Electron Microscope", "lab": "lab-em", "kind": "instrument",
         "asset_no": "2020-0007", "require_booking": True},
        {"id": "inst-sem", "name": "Scanning Electron Microscope", "lab": "lab-em", "kind": "instrument", "asset_no": "2018-0220"},
        {"id": "door-em", "name": "Electron Microscopy Centre door", "lab": "lab-em", "kind": "door"},
    ]
    fees = [{"instrument": i, "internal_fen_per_hour": a, "external_fen_per_hour": b} for i, a, b in [
        ("inst-xrd", 8000, 20000), ("inst-nmr", 15000, 40000), ("inst-icp", 12000, 30000),
        ("inst-tem", 60000, 150000), ("inst-sem", 20000, 50000), ("door-em", 0, 0)]]
    names = ["Li Wei", "Wang Fang", "Zhang Min", "Liu Yang", "Chen Jing", "Yang Lei", "Zhao Qiang", "Huang Li",
             "Zhou Tao", "Wu Xia", "Xu Jun", "Sun Hao", "Ma Lin", "Zhu Hong", "Hu Bin", "Guo Ping",
             "He Yan (visitor, Sinopec)", "Lin Feng (visitor, BGI)", "Luo Qing (visitor)", "Gao Shan (technician)"]
    # Who they are to the site (prices and rules follow): staff (PIs, the technician), students,
    # two enterprise visitors and an academic from another institution, with their contact details.
    staff = {1, 4, 8, 11, 20}
    outside = {17: ("enterprise", "中国石化北京化工研究院 (Sinopec)", "he.yan@sinopec.example.com"),
               18: ("enterprise", "深圳华大基因 (BGI)", "lin.feng@bgi.example.com"),
               19: ("external_academic", "中国科学院化学研究所", "luo.qing@iccas.example.ac.cn")}
    users, cards = [], []
    for n, name in enumerate(names, 1):
        uid = f"u{n:02d}"
        user = {"id": uid, "name": name, "unit": "chem" if n % 2 else "mse", "admin": n == 20,
                "category": "internal_staff" if n in staff else "internal_student",
                "email": f"{uid}@chem.example.edu.cn"}
        if n in outside:
            user["category"], user["organisation"], user["email"] = outside[n]
            user["phone"] = f"+86 138 0000 00{n:02d}"
        users.append(user)
        cards.append({"uid": f"C0DE{n:04X}", "user": uid})
    quals = []
    plan = {"inst-xrd": [1, 2, 5, 6, 7, 17], "inst-nmr": [2, 8, 9, 18], "inst-icp": [8, 10, 11],
            "inst-tem": [3, 4, 12, 19], "inst-sem": [3, 12, 13, 14], "door-em": [2, 3, 4, 12, 13, 14, 19]}
    for inst, who in plan.items():
        for n in who:
            q = {"user": f"u{n:02d}", "instrument": inst}
            if n == 7:
                q["valid_until"] = iso(now - DAY)   # lapsed training
            quals.append(q)
    bookings = [{"instrument": "inst-tem", "user": "u03", "start": iso(now - 600), "end": iso(now + 2 * 3600)},
                {"instrument": "inst-tem", "user": "u12", "start": iso(now + 3 * 3600), "end": iso(now + 5 * 3600)},
                {"instrument": "inst-sem", "user": "u13", "start": iso(now + DAY), "end": iso(now + DAY + 7200)}]
    return {"units": units, "labs": labs, "instruments": instruments, "fee_standards": fees, "users": users,
            "cards": cards, "qualifications": quals, "bookings": bookings}


def ctl(campus, *args, check=True):
    argv = [str(BIN / "labgatectl"), "--url", campus.server.url, "--token", TOKEN, *args]
    out = subprocess.run(argv, capture_output=True, text=True)
    if check and out.returncode != 0:
        raise RuntimeError(f"labgatectl {' '.join(args)} failed: {out.stdout}{out.stderr}")
    return out.stdout


def say(text):
    print(text, flush=True)


def swipe(term, card, who, note=""):
    r = term.swipe(card)
    mark = "GRANTED" if r.get("decision") == "granted" else "DENIED "
    say(f"  {term.id:<10} {who:<28} {mark} {r.get('reason', ''):<14} {r.get('action', ''):<6} {note}")
    return r


def retained_version(campus, topic):
    """Version of the bundle the broker holds on a retained sync topic (0 if none)."""
    out = subprocess.run(["mosquitto_sub", *campus.mqtt_cli(), "-t", topic, "-C", "1",
                          "-W", "2", "--retained-only"], capture_output=True, text=True)
    text = out.stdout.strip()
    return json.loads(json.loads(text)["body"])["version"] if text else 0


def provision(campus, terms):
    """07:45: each device enrols with a one-time token; its key never leaves it."""
    say("\n== 07:45  a technician provisions the three terminals (a one-time token each; keys made on the devices)")
    for tid, t in terms.items():
        res = t.conf.read_text().split('resource = "', 1)[1].split('"', 1)[0]
        tok = json.loads(ctl(campus, "--format", "json", "terminal", "enrol-token", "--id", tid, "--resource", res))["token"]
        said = t.enrol(campus.server.url, tok).splitlines()[0]
        say(f"  labgatectl terminal enrol-token --id {tid} --resource {res}; on the device: labgate-terminal enrol ...")
        say(f"    {said}")
    say(f"  the broker ({campus.broker.uri}) admits only certificates of the site CA; each terminal only to its own topics")


def stolen_door(campus, terms, root):
    """08:35: a door controller is stolen; it is revoked and its replacement enrolled (a new epoch)."""
    say("\n== 08:35  the EM door controller is stolen from the corridor")
    door = terms["t-door-em"]
    say("  " + ctl(campus, "terminal", "revoke", door.id, "--reason", "stolen from the corridor").strip())
    args = ["-h", "127.0.0.1", "-p", str(campus.broker.port), "--cafile", str(campus.pki_dir / "ca.crt"),
            "--cert", str(door.dir / "terminal.crt"), "--key", str(door.dir / "terminal.key")]
    wait_until(lambda: subprocess.run(["mosquitto_sub", *args, "-t", f"lg/v1/{SITE}/{door.id}/sync", "-C", "1", "-W", "2"],
                                      capture_output=True).returncode != 0, 30, what="the stolen certificate refused")
    say("  its certificate is on the CRL: the broker refuses it at the TLS handshake; the ACL denies its name every topic")
    door.kill9()
    before = campus.terminal_info(door.id).get("sync_version", 0)
    old_sim = door.sim
    shutil.rmtree(door.dir)
    new = campus.add(Terminal(root, door.id, "door-em", campus.broker.uri, campus.server.public_key_path,
                              {"port": old_sim.port}, site=SITE, output="door", meter=False))
    new.sim = old_sim
    tok = json.loads(ctl(campus, "--format", "json", "terminal", "enrol-token", "--id", door.id, "--resource", "door-em"))["token"]
    say("  the replacement: " + new.enrol(campus.server.url, tok).splitlines()[0])
    new.start()
    # Its bundle is new too: the card digests are keyed by the new device's key.
    campus.wait_synced(door.id, above=before)
    terms["t-door-em"] = new
    swipe(new, "C0DE0003", "u03 Zhang Min", "the new controller opens the door")
    say("  its records continue the id's sequence after the stolen one's: none collides, none is lost")
    say("  " + ctl(campus, "terminal", "certificates", door.id).strip().replace("\n", "\n  "))


def remote_resync(campus, x):
    """08:40: a technician asks a terminal, from the office, to apply its authorization bundle again
    (a signed remote command on its cmd topic; its answer comes back on cmdres)."""
    say("\n== 08:40  a remote command: the XRD terminal re-applies its lists")
    say("  " + ctl(campus, "terminal", "command", x.id, "resync").strip())
    answer = wait_until(lambda: (lambda out: out if ": done" in out else None)(
        ctl(campus, "terminal", "command-result", x.id, check=False)), 30, interval=0.5, what="the terminal's answer")
    say("  " + answer.strip())
    say("  (commands are signed by the server key, expire, are never replayed, and only the server may publish on cmd)")


def booking_rules(campus):
    """08:45: the NMR's admin sets its booking rules; a booking off the grid is refused with the rule
    named, an enterprise visitor's booking waits for approval and is approved, and a maintenance
    window cancels the booking it covers."""
    say("\n== 08:45  booking rules on the NMR (opening hours, 30-minute grid, approval for external users)")
    s = campus.server
    policy = {"opening": {d: ["08:00-20:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
              "slot_s": 1800, "min_length_s": 1800, "max_length_s": 4 * 3600, "user_week_bookings": 3,
              "approval": "external", "cancel_free_s": 24 * 3600}
    status, out = s.request("PUT", "/api/instruments/inst-nmr/booking-policy", policy)
    assert status == 200, out
    say("  PUT /api/instruments/inst-nmr/booking-policy: open 08:00-20:00, 30-min slots, 30 min to 4 h, 3 a week each,")
    say("  external users wait for approval, free cancellation until 24 h before")
    tomorrow = (int(time.time() + 8 * 3600) // DAY + 1) * DAY - 8 * 3600  # local midnight (Asia/Shanghai)
    at = lambda h: iso(tomorrow + int(h * 3600))  # noqa: E731
    status, out = s.request("POST", "/api/bookings", {"instrument": "inst-nmr", "user": "u02",
                                                     "start": at(9.25), "end": at(10)})
    say(f"  u02 Wang Fang books 09:15-10:00 tomorrow -> {status} {out.get('rule')}: {out.get('error')}")
    status, out = s.request("POST", "/api/bookings", {"instrument": "inst-nmr", "user": "u02",
                                                     "start": at(9), "end": at(10.5), "account": "grant-nsfc-2231"})
    assert status == 201, out
    mine = out["id"]
    say(f"  u02 books 09:00-10:30 on grant-nsfc-2231 -> {status} {out['status']}")
    status, out = s.request("POST", "/api/bookings", {"instrument": "inst-nmr", "user": "u18",
                                                     "start": at(14), "end": at(16)})
    assert status == 201 and out["status"] == "pending", out
    visitor = out["id"]
    say(f"  u18 Lin Feng (BGI, enterprise) books 14:00-16:00 -> {status} {out['status']}: holds the slot, opens nothing yet")
    status, out = s.request("POST", f"/api/bookings/{visitor}/approve")
    say(f"  the NMR admin approves it -> {status} {out.get('status')}")
    status, out = s.request("POST", "/api/closures", {"instrument": "inst-nmr", "kind": "maintenance",
                                                     "start": at(10), "end": at(12), "reason": "probe tuning"})
    assert status == 201, out
    gone = [b["id"] for b in out["cancelled_bookings"]]
    say(f"  maintenance 10:00-12:00 tomorrow (probe tuning) -> cancels {len(gone)} booking(s)"
        f"{' (u02' + chr(39) + 's)' if mine in gone else ''}: 'maintenance: probe tuning'")
    # a waiting list: u09 queues for u02's late-afternoon slot and gets it when u02 cancels
    status, out = s.request("POST", "/api/bookings", {"instrument": "inst-nmr", "user": "u02",
                                                     "start": at(16.5), "end": at(17.5)})
    assert status == 201, out
    slot = out["id"]
    status, wait = s.request("POST", "/api/waitlist", {"instrument": "inst-nmr", "user": "u09",
                                                      "start": at(16.5), "end": at(17.5)})
    assert status == 201, wait
    say(f"  u02 books 16:30-17:30; u09 Zhou Tao joins its waiting list -> {status}, position {wait['position']}")
    status, _ = s.request("DELETE", f"/api/bookings/{slot}")
    entry = next(e for e in s.get("/api/waitlist?instrument=inst-nmr") if e["id"] == wait["id"])
    say(f"  u02 cancels -> {status}; u09's entry is {entry['status']}: booking {str(entry['booking'])[:8]}... is theirs,"
        " with a waitlist_promoted notice")
    say("  the rules are public: curl " + s.url + "/api/instruments/inst-nmr/booking-policy ; closures: /api/closures")
    told = [n for n in s.get("/api/notices?limit=100") if n["kind"].startswith("booking_")]
    say(f"  {len(told)} notices in the outbox for the people concerned, e.g. "
        + ", ".join(sorted({f"{n['kind']} to {n['user']}" for n in told if n["user"] in ("u02", "u18")}))
        + " (mailed once [smtp] names a mail server; GET /api/notices)")


def sample_order(campus):
    """08:50: a sample order (网络送样) through all its states, with a refused upload."""
    say("\n== 08:50  a sample order: u02 sends two powders to the XRD service")
    s = campus.server
    status, out = s.request("POST", "/api/orders", {
        "instrument": "inst-xrd", "user": "u02",
        "samples": {"count": 2, "names": ["TiO2-a", "TiO2-b"], "form": "powder", "hazards": "none known"},
        "tests": "powder XRD, phase identification", "parameters": {"range": "10-80", "step": "0.02"},
        "delivery": "internal_mail", "account": "grant-nsfc-2231",
        "fee_lines": [{"code": "xrd-sample", "quantity": 2}, {"code": "xrd-report", "quantity": 1}]})
    assert status == 201, out
    oid = out["id"]
    path = [out.get("state", "submitted")]

    def upload(name, data, ctype, result=False):
        q = f"name={name}" + ("&result=true" if result else "")
        return s.request("POST", f"/api/orders/{oid}/attachments?{q}", raw=data, headers={"Content-Type": ctype})

    status, _ = upload("sample-sheet.txt", "TiO2-a, TiO2-b: anatase/rutile mix, dry\n".encode(), "text/plain")
    bad, why = upload("x.html", b"<script>alert(1)</script>", "text/html")
    say(f"  sample sheet attached ({status}); an HTML file is refused ({bad}: {why.get('error', '')[:70]})")
    for step in ("accept", "receive"):
        status, out = s.request("POST", f"/api/orders/{oid}/{step}")
        assert status == 200, out
        path.append(out["state"])
    sessions = [x for x in s.get("/api/sessions?instrument=inst-xrd&limit=20") if x["status"] == "closed"]
    if sessions:
        status, out = s.request("POST", f"/api/orders/{oid}/session", {"session": sessions[0]["id"]})
        assert status == 200, out
        path.append(out["state"])
        status, out = upload("result.csv", b"sample,phase,2theta\nTiO2-a,anatase,25.3\nTiO2-b,rutile,27.4\n",
                             "text/csv", result=True)
        assert status == 201, out
        order = s.get(f"/api/orders/{oid}")
        path.append(order["state"])
        for step in ("complete", "confirm"):
            status, out = s.request("POST", f"/api/orders/{oid}/{step}")
            assert status == 200, out
            path.append(out["state"])
    say("  " + " -> ".join(path) + f"  (the operator's XRD session linked; history and audit: GET /api/orders/{oid})")


def levels_and_credit(campus, x):
    """08:55: qualification levels at the XRD door (an independent user outside the staffed hours is
    denied by the terminal itself), and a no-show that costs credit."""
    say("\n== 08:55  qualification levels and staffed hours at the XRD; a no-show costs credit")
    s = campus.server
    days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    other_day = days[(time.gmtime(time.time() + 8 * 3600).tm_wday + 3) % 7]  # not today (Asia/Shanghai)
    s.post("/api/qualifications", {"user": "u06", "instrument": "inst-xrd", "level": "independent"})
    v = campus.terminal_info("t-xrd").get("sync_version", 0)
    status, out = s.request("PUT", "/api/instruments/inst-xrd/booking-policy",
                            {"staffed": {d: (["08:00-18:00"] if d == other_day else []) for d in days}})
    assert status == 200, out
    wait_until(lambda: campus.terminal_info("t-xrd").get("acl_version", 0) > v, 30, what="t-xrd new bundle")
    say(f"  u06 Yang Lei is now qualified 'independent'; the XRD is staffed only on {other_day} 08:00-18:00 this week")
    swipe(x, "C0DE0006", "u06 Yang Lei", "independent, outside the staffed hours: the terminal decides alone")
    status, out = s.request("PUT", "/api/instruments/inst-xrd/booking-policy", {})
    assert status == 200, out
    say("  (the XRD's rules back to the defaults: staffed Monday to Friday 08:00-18:00, 'after_hours' users any time)")
    start = time.time() - 61
    b = s.post("/api/bookings", {"instrument": "inst-sem", "user": "u14", "start": iso(start), "end": iso(start + 3600)})
    say(f"  u14 Zhu Hong booked the SEM from a minute ago ({b['id'][:8]}...) and does not come")
    missed = wait_until(lambda: [e for e in s.get("/api/users/u14/credit")["events"] if e["kind"] == "no_show"], 60,
                        what="the no-show")
    c = s.get("/api/users/u14/credit")
    say(f"  the server's scan records a no-show ({missed[0]['detail']}): u14's credit {c['start_score']} -> {c['score']}"
        f" (below {c['block_below']} blocks booking); GET /api/users/u14/credit, /api/conduct-events")


def training_session(campus):
    """08:35: a training session on the ICP-MS (one seat): a refusal without lab safety, enrolment,
    the waitlist, a promotion with its notice, attendance, the exam and the qualification it gives."""
    say("\n== 08:35  training: the ICP-MS course (one seat per session; lab safety first)")
    s = campus.server
    s.post("/api/courses", {"id": "safety-chem", "title": "实验室安全 Lab safety", "kind": "safety", "unit": "chem",
                            "validity_months": 12, "assessment": "sign_off"})
    s.post("/api/courses", {"id": "icp-basic", "title": "ICP-MS operation", "kind": "instrument",
                            "instruments": ["inst-icp"], "prerequisites": ["safety-chem"], "level": "independent",
                            "validity_months": 12, "assessment": "exam", "pass_mark": 60})
    start = time.time() + 3 * 3600
    s.post("/api/courses/safety-chem/sessions", {"id": "safety-1", "start": iso(start - 3600), "end": iso(start),
                                                 "location": "Chemistry A-101", "capacity": 30})
    s.post("/api/courses/icp-basic/sessions", {"id": "icp-1", "start": iso(start), "end": iso(start + 7200),
                                               "location": "NMR and MS Lab", "trainer": "u08 Huang Li", "capacity": 1})
    enrol = "/api/training-sessions/icp-1/enrolments"
    status, out = s.request("POST", enrol, {"user": "u15"})
    say(f"  u15 Hu Bin enrols before lab safety -> {status} {out.get('rule')}")
    for u in ("u15", "u16"):
        s.post("/api/training-sessions/safety-1/enrolments", {"user": u})
        s.post("/api/training-sessions/safety-1/attendance", {"user": u, "attendance": "attended"})
        s.post("/api/training-sessions/safety-1/result", {"user": u, "signed_off": True})
    say("  u15 Hu Bin and u16 Guo Ping pass lab safety (signed off)")
    a, b = s.post(enrol, {"user": "u15"}), s.post(enrol, {"user": "u16"})
    say(f"  u15 -> {a['state']}; u16 -> {b['state']} (position {b['waitlist_position']})")
    status, out = s.request("DELETE", "/api/training-sessions/icp-1/enrolments/u15")
    kinds = [n["kind"] for n in s.get("/api/notices?user=u16&limit=100")]
    say(f"  u15 cancels -> {status}, promoted {out['promoted']}; u16's notices: {', '.join(reversed(kinds))}")
    s.post("/api/training-sessions/icp-1/attendance", {"user": "u16", "attendance": "attended"})
    r = s.post("/api/training-sessions/icp-1/result", {"user": "u16", "score": 85})
    q = [q for q in s.get("/api/qualifications?limit=1000") if q["user"] == "u16" and q["instrument"] == "inst-icp"][0]
    say(f"  u16 attends and scores 85 (pass mark 60): passed={r['passed']} -> qualified on {q['instrument']} "
        f"'{q['level']}' until {q['valid_until'][:10]} (source {q['source']}); GET /api/me/trainings")


def health(campus):
    """GET /api/health: (status, body); 503 is an answer too."""
    import urllib.error
    import urllib.request
    try:
        with urllib.request.urlopen(campus.server.url + "/api/health", timeout=10) as r:
            return r.status, json.loads(r.read().decode())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read().decode())


def hostile_moments(campus, x, root):
    """Things that go wrong on a campus network, and what the system does about them."""
    say("\n== 08:30  hostile moments")
    topic = f"lg/v1/{SITE}/{x.id}/sync"
    current = campus.terminal_info(x.id)["sync_version"]
    # Strangers first: the broker takes only certificates of the site CA, and a terminal's only for its own topics.
    anon = subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(campus.broker.port), "--cafile",
                           str(campus.pki_dir / "ca.crt"), "-t", topic, "-r", "-n"], capture_output=True, text=True)
    say(f"  a laptop on the campus network without a certificate tried to delete {x.id}'s bundle: refused at the TLS"
        f" handshake (exit {anon.returncode})")
    spare_cert, spare_key = harness.mint_identity(campus.pki_dir, "t-spare", root / "clients")
    peek = subprocess.run(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(campus.broker.port), "--cafile",
                           str(campus.pki_dir / "ca.crt"), "--cert", str(spare_cert), "--key", str(spare_key),
                           "-t", "lg/v1/#", "-v", "-W", "2"], capture_output=True, text=True)
    say(f"  a laptop with another terminal's certificate (t-spare) subscribed to lg/v1/#: it read "
        f"{len(peek.stdout.splitlines())} message(s); a terminal reads only its own ack, sync and cmd")
    subprocess.run(["mosquitto_pub", *campus.mqtt_cli("server.tester"), "-t", topic, "-r", "-n"], check=True)
    wait_until(lambda: retained_version(campus, topic) == current, 20, what="the server to repair the bundle")
    say(f"  a client with the server's rights deleted {x.id}'s retained authorization bundle: the server noticed and put v{current} back;")
    say(f"  {x.id} never dropped its last good bundle (an empty or older bundle is never applied)")
    import urllib.error
    import urllib.request
    forged = "/api/x%0A2026-01-01T00:00:00.000Z%20ERROR%20server:%20database%20lost"
    try:
        urllib.request.urlopen(urllib.request.Request(campus.server.url + forged,
                                                      headers={"Authorization": f"Bearer {TOKEN}"}), timeout=10)
    except urllib.error.HTTPError:
        pass
    line = wait_until(lambda: next((ln for ln in campus.server.log_text().splitlines() if "/api/x\\n" in ln), None),
                      10, what="the request in the server log")
    say("  a request path tried to forge a log line; the server logged it on one line, escaped:")
    say("    " + line[:140])
    # A stranger on the broker publishes a batch in t-xrd's name, MACed under a key of its own:
    # only t-xrd and the server can derive t-xrd's link key (ECDH of their two key pairs).
    before = campus.server.get("/api/stats")["rejected"].get("bad_signature", 0)
    body = json.dumps({"type": "evt", "terminal": x.id, "boot": 1, "records": []})
    forged_evt = json.dumps({"v": 1, "kid": x.id, "alg": "hs256", "body": body,
                             "sig": base64.b64encode(os.urandom(32)).decode()})
    subprocess.run(["mosquitto_pub", *campus.mqtt_cli("server.tester"), "-q", "1",
                    "-t", f"lg/v1/{SITE}/{x.id}/evt", "-m", forged_evt], check=True)
    wait_until(lambda: campus.server.get("/api/stats")["rejected"].get("bad_signature", 0) > before, 20,
               what="the forged batch to be refused")
    say(f"  a client that may write {x.id}'s topics published a batch in its name with a made-up MAC: refused and"
        f" counted as bad_signature")
    say(f"  (records, state and acks carry a MAC under {x.id}'s own link keys; bundles an ECDSA signature)")


def registrar_csv(campus, root):
    """Issue 8: the registrar's CSV export (GBK, as many campus systems still write it) of 200
    students, a research group and their cards, upserted in one transaction; run twice."""
    surnames, given = "王李张刘陈杨赵黄周吴", "伟芳娜敏静丽强磊军洋"
    users = ["id,name,category,unit,email"] + [f"s2026{i:03d},{surnames[i % 10]}{given[i // 10 % 10]},internal_student,"
                                               f"{'chem' if i % 2 else 'mse'},s2026{i:03d}@stu.example.edu.cn"
                                               for i in range(200)]
    (root / "users.csv").write_bytes(("\n".join(users) + "\n").encode("gbk"))
    (root / "groups.csv").write_text("id,name,pi,unit\ng-li,李伟课题组,u01,chem\n", encoding="utf-8")
    (root / "members.csv").write_text("group,user\n" + "".join(f"g-li,s2026{i:03d}\n" for i in range(0, 20, 2)))
    (root / "cards.csv").write_text("uid,user\n" + "".join(f"{0x5A000000 + i:08X},s2026{i:03d}\n" for i in range(200)))
    files = [a for f in ("users", "groups", "members", "cards") for a in ("--csv", str(root / f"{f}.csv"))]
    out = ctl(campus, "import", *files).strip().splitlines()
    say("  + the registrar's CSV (users.csv in GBK, groups.csv, members.csv, cards.csv), one transaction:")
    for line in out:
        say("    " + line)
    again = ctl(campus, "import", *files).strip().splitlines()
    say("    the same files again: " + "; ".join(a.split(": ", 1)[1] for a in again))


def people_and_cards(campus, x):
    """Issue 8: a card reported lost, a user suspended and an instrument under maintenance reach the
    terminal in its next bundle and are refused there with their own reason."""
    say("\n== 08:27  people and cards")
    def changed(label, change):
        before = campus.terminal_info(x.id)["acl_version"]
        t0 = time.monotonic()
        out = change()
        campus.wait_synced(x.id, above=before)
        say(f"  {label}: {out}  (t-xrd applied the new bundle {time.monotonic() - t0:.2f} s later)")
    def labgatectl(*args):
        return lambda: ctl(campus, *args).strip()
    changed("labgatectl card lost C0DE0002", labgatectl("card", "lost", "C0DE0002"))
    swipe(x, "C0DE0002", "u02 Wang Fang's lost card", "refused at once")
    changed("labgatectl card replace C0DE0002 C0DE1002", labgatectl("card", "replace", "C0DE0002", "C0DE1002"))
    swipe(x, "C0DE1002", "u02 Wang Fang, new card", "XRD power on")
    swipe(x, "C0DE1002", "u02 Wang Fang", "swipe-out")
    changed("labgatectl user suspend u05", labgatectl("user", "suspend", "u05", "--reason", "safety briefing missed"))
    swipe(x, "C0DE0005", "u05 Chen Jing (suspended)", "refused")
    changed("labgatectl user activate u05", labgatectl("user", "activate", "u05"))
    changed("PATCH /api/instruments/inst-xrd status=maintenance",
            lambda: campus.server.patch("/api/instruments/inst-xrd", {"status": "maintenance"})["status"])
    swipe(x, "C0DE0006", "u06 Yang Lei", "XRD under maintenance (维修)")
    swipe(x, "C0DE0014", "u20 Gao Shan (technician, admin)", "admins still get in")
    swipe(x, "C0DE0014", "u20 Gao Shan", "swipe-out")
    changed("PATCH /api/instruments/inst-xrd status=normal",
            lambda: campus.server.patch("/api/instruments/inst-xrd", {"status": "normal"})["status"])
    say("  a known user without the training is listed by the server as not_qualified, an unknown card as unknown_card")


# The demo's people, one per role (docs/RIGHTS.md); each signs in with this password.
PEOPLE = [
    # (user, name, unit, role, scope, password, what they are)
    ("sysadmin", "Site Admin", "chem", "system_admin", None, "sysadmin-demo-pass", "system admin: everything"),
    ("chem-admin", "Chen Hua (化学院 office)", "chem", "unit_admin", "chem", "chem-admin-pass",
     "unit admin of College of Chemistry"),
    ("xrd-admin", "Gao Shan (XRD)", "chem", "instrument_admin", "inst-xrd", "xrd-admin-pass",
     "instrument admin of the XRD"),
    ("finance-chem", "Qian Li (finance)", "chem", "finance", "chem", "finance-chem-pass", "finance of Chemistry"),
    ("u01", None, None, None, None, "li-wei-pass", "PI of 李伟课题组 (g-li)"),
    ("u02", None, None, None, None, "wang-fang-pass", "a user (herself only)"),
]


def people_and_roles(campus):
    """Issue 8: a person in each role signs in with a password (Argon2id) and sees what the role
    lets them see; an external researcher registers and the unit admin approves her."""
    say("\n== 07:50  people and their roles (before the morning: nobody has used an instrument yet)")
    srv = campus.server
    for user, name, unit, role, scope, password, _ in PEOPLE:
        if name:
            srv.post("/api/users", {"id": user, "name": name, "unit": unit, "category": "internal_staff"})
        status, out = srv.request("PUT", f"/api/users/{user}/password", {"password": password})
        assert status == 200, out
        if role:
            body = {"user": user, "role": role}
            if scope:
                body["scope_id"] = scope
            srv.post("/api/roles", body)
    say(f"  {'who':<14} {'role':<36} {'users seen':>10} {'sessions':>8}  may create a unit?")
    for user, _, _, _, _, password, what in PEOPLE:
        status, out = srv.request("POST", "/api/login", {"user": user, "password": password}, token=None)
        assert status == 201, out
        token = out["token"]
        _, users = srv.request("GET", "/api/users?limit=500", token=token)
        _, sessions = srv.request("GET", "/api/sessions?limit=500", token=token)
        status, _ = srv.request("POST", "/api/units", {"id": f"x-{user}", "name": "X", "parent": "chem"}, token=token)
        seen = len(users) if isinstance(users, list) else "-"
        n = len(sessions) if isinstance(sessions, list) else "-"
        say(f"  {user:<14} {what:<36} {seen:>10} {n:>8}  {status}")
    status, _ = srv.request("GET", "/api/users", token=None)
    say(f"  a visitor without a token: GET /api/users -> {status}; the catalogue is open: "
        f"GET /api/instruments -> {srv.request('GET', '/api/instruments', token=None)[0]}")
    status, out = srv.request("POST", "/api/login", {"user": "u02", "password": "guess"}, token=None)
    say(f"  a wrong password -> {status} {out['error']!r} (five in 15 minutes lock the account: 429)")
    # An external researcher registers herself and waits; the chem unit admin approves.
    ext = {"id": "ext-zhou", "name": "周敏 (Sinopec)", "unit": "chem", "category": "enterprise",
           "organisation": "中国石化北京化工研究院", "email": "zhou.min@example.com", "password": "zhou-min-pass"}
    status, out = srv.request("POST", "/api/registrations", ext, token=None)
    assert status == 201, out
    _, login = srv.request("POST", "/api/login", {"user": "ext-zhou", "password": "zhou-min-pass"}, token=None)
    _, me = srv.request("GET", "/api/me", token=login["token"])
    status, _ = srv.request("GET", "/api/sessions", token=login["token"])
    say(f"  ext-zhou registered herself: pending={me['pending']}, rights {me['rights']}, GET /api/sessions -> {status}")
    _, admin = srv.request("POST", "/api/login", {"user": "chem-admin", "password": "chem-admin-pass"}, token=None)
    status, out = srv.request("POST", "/api/registrations/ext-zhou/approve", None, token=admin["token"])
    _, me = srv.request("GET", "/api/me", token=login["token"])
    say(f"  chem-admin approves ({status}, decided_by {out['decided_by']}): ext-zhou pending={me['pending']}")


def fee_standard_approval(campus):
    """Issue 11: the XRD's admin proposes a new fee standard with its cost basis; the unit, finance
    and the fee review committee (收费审核委员会) approve it in turn; it is published from tomorrow,
    while today's sessions keep the imported hourly standard (docs/MONEY.md)."""
    say("\n== 07:55  a new XRD fee standard goes through approval (收费标准审批)")
    srv = campus.server
    srv.post("/api/users", {"id": "fee-committee", "name": "Zhou Jie (收费审核委员会)", "unit": "chem",
                            "category": "internal_staff"})
    status, out = srv.request("PUT", "/api/users/fee-committee/password", {"password": "fee-committee-pass"})
    assert status == 200, out
    srv.post("/api/roles", {"user": "fee-committee", "role": "fee_committee"})

    def token(user, password):
        status, out = srv.request("POST", "/api/login", {"user": user, "password": password}, token=None)
        assert status == 201, out
        return out["token"]
    xrd = token("xrd-admin", "xrd-admin-pass")
    prices = lambda i, o, e, x: {"internal": i, "other_campus": o, "external_academic": e, "enterprise": x}
    draft = {"note": "new detector: depreciation over 6 years, 1800 machine hours a year",
             "cost": {"energy_fen": 1_200_000, "consumables_fen": 600_000, "maintenance_fen": 3_000_000,
                      "depreciation_fen": 30_000_000, "labour_fen": 9_000_000, "hours_per_year": 1800},
             "lines": [{"code": "xrd-hour", "name": "XRD machine time", "kind": "hour", "prices": prices(15000, 20000, 30000, 45000),
                        "unit_minutes": 15, "rounding": "up", "booked": "larger", "overtime_bp": 5000,
                        "night_factor_bp": 15000},
                       {"code": "xrd-sample", "name": "Powder sample", "kind": "sample", "prices": prices(8000, 10000, 15000, 20000)},
                       {"code": "xrd-report", "name": "Report", "kind": "item", "unit": "report",
                        "prices": prices(5000, 5000, 8000, 10000), "min_fee_fen": 0}]}
    status, v = srv.request("POST", "/api/instruments/inst-xrd/fee-versions", draft, token=xrd)
    assert status == 201, v
    at = f"/api/fee-versions/{v['id']}"
    status, out = srv.request("POST", at + "/submit", {"comment": "for the unit's review"}, token=xrd)
    assert status == 200, out
    # finance may not take the unit's turn
    status, out = srv.request("POST", at + "/approve", None, token=token("finance-chem", "finance-chem-pass"))
    say(f"  xrd-admin drafts version {v['number']} and submits it; finance tries the unit's review first -> {status} ({out['rule']})")
    tomorrow = time.strftime("%Y-%m-%dT00:00:00+08:00", time.gmtime(time.time() + 8 * 3600 + 86400))
    for user, password, body in [("chem-admin", "chem-admin-pass", None), ("finance-chem", "finance-chem-pass", None),
                                 ("fee-committee", "fee-committee-pass", {"effective_from": tomorrow})]:
        status, out = srv.request("POST", at + "/approve", body, token=token(user, password))
        assert status == 200, out
        say(f"  {user:<14} approves -> {out['state']}")
    _, now_in_force = srv.request("GET", "/api/instruments/inst-xrd/fee-standard", token=None)
    _, quote = srv.request("POST", at + "/quote", {"category": "enterprise", "lines": [
        {"code": "xrd-sample", "quantity": 2}, {"code": "xrd-report", "quantity": 1}]}, token=xrd)
    say(f"  in force today: version {now_in_force['number']} (imported); version {v['number']} from {tomorrow}; "
        f"an enterprise order of 2 samples and a report would cost {quote['total_fen'] / 100:.2f} yuan")


def money(campus, root):
    """Issue 11: accounts and the double-entry ledger; the morning's charges reviewed (one adjusted
    with a reason) and confirmed; an external deposit used down to a block and topped up again; last
    month settled, exported as XLSX, reconciled with one mismatch; revenue allocated; the ledger
    checked (docs/MONEY.md)."""
    say("\n== 12:00  money: accounts, the charges' review, a prepaid deposit, last month settled")
    srv = campus.server
    srv.post("/api/accounts", {"id": "grant-nsfc-2231", "kind": "grant", "name": "NSFC 22175001 (李伟课题组)",
                               "unit": "chem", "group": "g-li", "owner": "u01", "project_code": "22175001"})
    srv.post("/api/accounts/grant-nsfc-2231/budget", {"ref": "NSFC-22175001-2026", "amount_fen": 2_000_000})
    for u in ("u01", "u03", "u06"):
        srv.post("/api/accounts/grant-nsfc-2231/members", {"user": u})
    srv.post("/api/accounts", {"id": "dep-iccas", "kind": "deposit", "name": "中国科学院化学研究所 prepaid",
                               "unit": "chem", "organisation": "中国科学院化学研究所"})
    srv.post("/api/accounts/dep-iccas/members", {"user": "u19"})
    srv.post("/api/accounts/dep-iccas/top-ups", {"receipt": "R-2026-1129-01", "amount_fen": 50_000})
    say("  finance opens grant-nsfc-2231 (budget 20,000.00 yuan; u01, u03, u06 approved to charge it) and a "
        "prepaid deposit of 500.00 for 中国科学院化学研究所 (u19)")
    # the morning's sessions were taken in for review; those of people without an account then get one
    wait_until(lambda: srv.get("/api/postings?state=review") or None, 30, what="the morning's charges in review")
    review = srv.get("/api/postings?state=review")
    for p in review:
        if not p["account"] and p["user"] in ("u01", "u03", "u06"):
            srv.request("PUT", f"/api/postings/{p['charge']}/account", {"account": "grant-nsfc-2231"})
    first = review[-1]
    status, adj = srv.request("PUT", f"/api/postings/{first['charge']}/adjustment",
                              {"amount_fen": first["amount_fen"] // 2, "reason": "the X-ray tube tripped after half the run"})
    assert status == 200, adj
    say(f"  {len(review)} charges of the morning in their 72 h review; xrd-admin halves {first['user']}'s "
        f"({first['charged_fen'] / 100:.2f} -> {adj['amount_fen'] / 100:.2f}, reason kept and audited)")
    confirmed = 0
    for p in srv.get("/api/postings?state=review"):
        if p["account"]:
            status, _ = srv.request("POST", f"/api/postings/{p['charge']}/confirm")
            confirmed += status == 200
    say(f"  {confirmed} confirmed: internal ones wait for November's settlement (GET /api/postings)")

    # an external user's prepaid deposit used down to a block
    if srv.request("GET", "/api/accounts/rev-lab-xrd")[0] == 404:  # made by the intake of the first XRD charge
        srv.post("/api/accounts", {"id": "rev-lab-xrd", "kind": "lab_revenue", "name": "X-ray Diffraction Lab revenue",
                                   "unit": "chem", "lab": "lab-xrd"})
    until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 6 * 3600))
    status, out = srv.request("POST", "/api/holds", {"key": "hold:u19-xrd-1", "account": "dep-iccas", "revenue": "rev-lab-xrd",
                                                     "amount_fen": 80_000, "until": until})
    say(f"  u19 books 4 h of XRD (800.00 at the external rate): the hold is refused -> {status} "
        f"({out.get('error', '')[:60]})")
    status, out = srv.request("POST", "/api/holds", {"key": "hold:u19-xrd-2", "account": "dep-iccas", "revenue": "rev-lab-xrd",
                                                     "amount_fen": 45_000, "until": until})
    assert status == 201, out
    hold = out["transfers"][0]["id"]
    status, out = srv.request("POST", f"/api/holds/{hold}/post", {"amount_fen": 52_000, "charge": "u19-xrd-2"})
    assert status == 200, out
    acct = srv.get("/api/accounts/dep-iccas")
    say(f"  a 450.00 hold for 2.25 h; u19 used 520.00: the hold posts, 50.00 more from the deposit, "
        f"{acct['owes_fen'] / 100:.2f} to arrears -> blocked: {acct['blocked']}")
    status, out = srv.request("POST", "/api/holds", {"key": "hold:u19-xrd-3", "account": "dep-iccas", "revenue": "rev-lab-xrd",
                                                     "amount_fen": 100, "until": until})
    say(f"  the next booking's hold -> {status} ({out.get('error', '')[:70]})")
    srv.post("/api/accounts/dep-iccas/top-ups", {"receipt": "R-2026-1129-02", "amount_fen": 10_000})
    acct = srv.get("/api/accounts/dep-iccas")
    say(f"  a 100.00 top-up pays the arrears off first: available {acct['available_fen'] / 100:.2f}, "
        f"{'blocked: ' + acct['blocked'] if acct['blocked'] else 'no longer blocked'}")

    if campus.server.store is not None:
        say("  (last month's settlement is shown on SQLite: `tools/demo` without --store postgres)")
    else:
        db = campus.server.dir / "labgate.db"
        fill = subprocess.run([str(BIN / "labgate-bench-settle"), "--db", str(db), "--charges", "3000", "--accounts", "6",
                               "--labs", "3", "--fill-only"], capture_output=True, text=True, timeout=300)
        assert fill.returncode == 0, fill.stderr
        say("  October 2026: 3,000 confirmed charges of 6 grants at 3 labs (a synthetic month, loaded by "
            "labgate-bench-settle --fill-only)")
        status, out = srv.request("POST", "/api/settlements", {"month": "2026-10"})
        assert status == 201, out
        say(f"  POST /api/settlements 2026-10 -> {out['charges']} charges, {out['total']} yuan, "
            f"{out['statements']} statements; the month is locked")
        for what, path in (("statements", "/api/statements?month=2026-10&format=xlsx"),
                           ("vouchers", "/api/settlements/2026-10/vouchers?format=xlsx")):
            req = urllib.request.Request(srv.url + path, headers={"Authorization": f"Bearer {TOKEN}"})
            with urllib.request.urlopen(req, timeout=30) as r:
                (root / f"{what}-2026-10.xlsx").write_bytes(r.read())
        say(f"  exported: {root / 'statements-2026-10.xlsx'}, {root / 'vouchers-2026-10.xlsx'} (the finance hand-over)")
        statements = srv.get("/api/statements?month=2026-10")
        lines = ["ref,statement,amount"] + [f"V-{i:04d},{s['id']},{s['total']}" for i, s in enumerate(statements)]
        lines[-1] = lines[-1].rsplit(",", 1)[0] + ",1.00"  # finance booked one of them wrong
        status, rec = srv.request("POST", "/api/reconciliations", raw=("\n".join(lines) + "\n").encode(),
                                  headers={"Content-Type": "text/csv"})
        assert status == 201, rec
        bad = [r for r in rec["rows"] if r["outcome"] != "matched"]
        say(f"  平账: the finance system's {len(lines) - 1} transfers -> {rec['matched']} matched (marked paid), "
            f"{rec['mismatches']} mismatch: {bad[0]['statement']} {bad[0]['outcome']} ({bad[0]['detail']})")
        status, alloc = srv.request("POST", "/api/allocations", {"ref": "2026-10"})
        assert status == 201, alloc
        for u in alloc["units"]:
            say(f"  拨款 unit {u['unit'] or '-'}: collected {u['collected_fen'] / 100:.2f} -> unit {u['to_unit_fen'] / 100:.2f}, "
                f"platform {u['to_platform_fen'] / 100:.2f}, labs keep {u['kept_by_labs_fen'] / 100:.2f}")
    say("  labgatectl ledger check: " + ctl(campus, "ledger", "check", check=False).strip().splitlines()[0])


def pg_cluster(*args, check=True):
    """tools/pg_cluster with args; returns its stdout (the conninfo for start)."""
    out = subprocess.run([sys.executable, str(ROOT / "tools" / "pg_cluster"), *args], capture_output=True, text=True)
    if check and out.returncode != 0:
        raise RuntimeError(f"tools/pg_cluster {' '.join(args)} failed:\n{out.stderr}{out.stdout}")
    return out.stdout.strip()


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--no-wait", action="store_true", help="exit after the scripted morning (for CI smoke runs)")
    ap.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite",
                    help="the server's database: a SQLite file (default) or a PostgreSQL cluster in var/demo/pg, "
                         "started with tools/pg_cluster and stopped at the end")
    args = ap.parse_args()

    root = ROOT / "var" / "demo"
    pg_dir = root / "pg"
    if (pg_dir / "data").exists():  # a cluster left running by an earlier demo that did not finish
        pg_cluster("stop", "--dir", str(pg_dir), check=False)
    if root.exists():
        shutil.rmtree(root)
    say(f"labgate demo: data and logs under {root}")
    store = None
    if args.store == "postgres":
        # durable settings (no --fast): the demo runs the server as it would run on a campus
        store = PgStore(pg_cluster("start", "--dir", str(pg_dir)).splitlines()[-1])
        say(f"  PostgreSQL {pg_dir / 'data'} (tools/pg_cluster; log {pg_dir / 'postgres.log'})")
    try:
        # the server's periodic work every 10 s and no-shows after a minute: the demo's compressed time
        campus = Campus("demo", root=root, site=SITE, store=store, server_toml="sync_refresh_s = 10",
                        extra_toml="\n[conduct]\nno_show_after_min = 1\nlate_after_min = 0\n"
                                   "\n[settlement]\nsettle_day = 0\n")
    except BaseException:
        if store:
            pg_cluster("stop", "--dir", str(pg_dir), check=False)
        raise
    stopping = False

    def on_signal(*_):
        nonlocal stopping
        stopping = True
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        say(f"  broker  {campus.broker.uri}\n  server  {campus.server.url} ({campus.server.database()})")
        now = time.time()
        data = campus_data(now)

        # three terminals: XRD on Modbus TCP, TEM on Modbus RTU over a pty, the EM door on TCP
        sims = {
            "t-xrd": campus.add(ModbusSim(root, name="t-xrd-modbus", profile="0:300,5:2400,60:1800")).start(),
            "t-tem": campus.add(ModbusSim(root, name="t-tem-modbus", profile="0:1500,10:3200",
                                          rtu_link=root / "t-tem.pty")).start(),
            "t-door-em": campus.add(ModbusSim(root, name="t-door-em-modbus", profile="0:0")).start(),
        }
        terms = {}
        for tid, res, out in [("t-xrd", "inst-xrd", "power"), ("t-tem", "inst-tem", "power"),
                              ("t-door-em", "door-em", "door")]:
            sim = sims[tid]
            relay = {"device": str(sim.rtu_link)} if sim.rtu_link else {"port": sim.port}
            t = Terminal(root, tid, res, campus.broker.uri, campus.server.public_key_path, relay, site=SITE,
                         output=out, meter=(out == "power"))
            t.sim = sim
            terms[tid] = campus.add(t)
        (root / "campus.json").write_text(json.dumps(data, indent=2, ensure_ascii=False))
        say("\n== importing the campus with labgatectl (2 units, 3 labs, 5 instruments + a door, 20 users)")
        say("  " + ctl(campus, "import", str(root / "campus.json")).rstrip().splitlines()[-1])
        registrar_csv(campus, root)
        people_and_roles(campus)
        fee_standard_approval(campus)
        provision(campus, terms)
        for t in terms.values():
            t.start()
        for tid in terms:
            wait_until(lambda: campus.terminal_info(tid).get("acl_version", 0) > 0, 30, what=f"{tid} sync")
        say("  all three terminals online and holding a signed authorization bundle")

        x, tem, door = terms["t-xrd"], terms["t-tem"], terms["t-door-em"]
        say("\n== 08:00  the morning begins (in compressed time: sessions last seconds, not hours)")
        swipe(door, "C0DE0003", "u03 Zhang Min", "door strike pulses 3 s")
        swipe(door, "DEADBEEF", "unknown card (visitor)", "door stays locked")
        swipe(x, "C0DE0007", "u07 Zhao Qiang", "XRD training lapsed yesterday")
        swipe(x, "C0DE0001", "u01 Li Wei", "XRD power on")
        swipe(x, "C0DE0005", "u05 Chen Jing", "XRD busy")
        swipe(tem, "C0DE0004", "u04 Liu Yang", "TEM needs a booking")
        swipe(tem, "C0DE0003", "u03 Zhang Min", "booked 07:50-10:00")
        time.sleep(3)
        say("\n== 08:20  the campus network drops (broker stopped)")
        port = campus.broker.port
        campus.broker.stop()
        time.sleep(1)
        swipe(x, "C0DE0001", "u01 Li Wei", "swipe-out, recorded offline")
        swipe(x, "C0DE000B", "u11 Xu Jun", "not qualified for XRD")
        swipe(x, "C0DE0006", "u06 Yang Lei", "granted from the cached list")
        time.sleep(3)
        swipe(x, "C0DE0006", "u06 Yang Lei", "swipe-out")
        status, body = wait_until(lambda: (lambda h: h if h[0] == 503 else None)(health(campus)), 30,
                                  what="health to notice the broker is gone")
        say(f"  /api/health answers {status}: " + "; ".join(body["problems"]))
        depth = x.dir / "terminal.db"
        say(f"  t-xrd keeps its records in its outbox ({depth}) until the server acks them")
        say("\n== 08:25  network back")
        campus.broker = campus.add(Mosquitto(root, port)).start()
        wait_until(lambda: all(campus.terminal_info(t).get("online") and campus.terminal_info(t).get("outbox_depth") == 0
                               for t in terms), 60, what="terminals to reconnect and drain")
        say("  terminals reconnected; every offline record arrived exactly once")
        status, body = health(campus)
        say(f"  /api/health answers {status}: broker connected, ingest lag {body['ingest']['lag_ms']} ms, database ok")
        time.sleep(2)
        swipe(tem, "C0DE0003", "u03 Zhang Min", "TEM session ends")
        swipe(x, "C0DE000B".lower(), "u11 again (lower-case uid)", "still denied")
        time.sleep(2)
        people_and_cards(campus, x)
        hostile_moments(campus, x, root)
        stolen_door(campus, terms, root)
        training_session(campus)
        remote_resync(campus, x)
        booking_rules(campus)
        sample_order(campus)
        levels_and_credit(campus, x)
        money(campus, root)
        say("\n== what the server knows now")
        say(ctl(campus, "terminals").rstrip())
        say("")
        say(ctl(campus, "report", "--by", "user").rstrip())
        say("")
        say(ctl(campus, "report", "--by", "instrument").rstrip())
        say("")
        say("  ingest counters and what was refused, by reason:")
        say(ctl(campus, "stats").rstrip())
        say("")
        say("  the last sessions, with times in the site's zone (the wire and the database stay UTC):")
        say(ctl(campus, "sessions", "--limit", "5").rstrip())
        say("")
        say("  the audit log (every audited write of the morning, hash-chained): labgatectl audit verify")
        say("    " + ctl(campus, "audit", "verify", check=False).strip())
        say("")
        say("  what an operator's Prometheus scrapes from /metrics (no token; counts only):")
        try:
            with urllib.request.urlopen(campus.server.url + "/metrics", timeout=10) as r:
                text = r.read().decode()
            for line in text.splitlines():
                if line.startswith(("labgate_ingest_records_total", "labgate_ingest_batches_total",
                                    "labgate_terminals_connected", "labgate_ingest_lag_seconds")):
                    say("    " + line)
        except OSError as e:
            say(f"    (not read: {e})")
        if store:
            server_db = f"psql '{store.conninfo}' (or tools/pg_cluster psql --dir {pg_dir})"
        else:
            server_db = f"{campus.server.dir / 'labgate.db'}"
        say(f"""
== where to look
  sign in      curl -d '{{"user":"chem-admin","password":"chem-admin-pass"}}' {campus.server.url}/api/login   (a session token; people and passwords in README "Sign in")
  API          curl -H 'Authorization: Bearer {TOKEN}' {campus.server.url}/api/sessions   (the bootstrap admin token)
  OpenAPI      curl {campus.server.url}/api/openapi.json
  CLI          {BIN}/labgatectl --url {campus.server.url} --token {TOKEN} terminals | report | sessions | access | stats | audit verify | audit list
  swipe        {BIN}/labgate-swipe --socket {x.socket_path} C0DE0002
  MQTT         mosquitto_sub {' '.join(campus.mqtt_cli())} -t 'lg/v1/{SITE}/#' -v   (mutual TLS; an observer identity from the site CA)
  PKI          {campus.pki_dir} (the site terminal CA, ca.key mode 0600), {root / 'broker'} (mosquitto.conf, acl, crl.pem: written by the server)
  databases    {server_db}, {x.dir / 'terminal.db'} (sqlite3)
  relay state  {sims['t-xrd'].state_file}
  health       curl {campus.server.url}/api/health   (503 with the reason when the broker, the database or ingest is not right)
  metrics      curl {campus.server.url}/metrics   (Prometheus text: ingest rate and lag, rejections, queues, database time)
  store        this run: {'PostgreSQL; tools/demo for SQLite' if store else 'SQLite; tools/demo --store postgres for PostgreSQL'} (docs/SCALE.md: several nodes)
  fleet        tools/bench/fleet --quick   (thousands of simulated terminals against a real broker and server)
  logs         {root}/*/*.log, {root}/*.log{f", {pg_dir / 'postgres.log'}" if store else ""}
  simulation   {BIN}/labgate-sim --seed 7 --steps 200 --verbose   (terminals and server through a faulty broker; docs/SIMULATION.md)
""")
        if args.no_wait:
            return 0
        say("Running. Swipe more cards with the command above; Ctrl-C stops everything.")
        while not stopping:
            time.sleep(0.5)
        return 0
    finally:
        say("stopping the demo ...")
        campus.close()
        if store:
            pg_cluster("stop", "--dir", str(pg_dir), check=False)


if __name__ == "__main__":
    sys.exit(main())
