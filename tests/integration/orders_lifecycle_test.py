"""A sample order (网络送样) through every state on real processes: the user submits it and adds a
sample sheet, the instrument admin accepts it, receives the samples, runs the instrument (a real
swipe on the terminal: its usage session is linked to the order), uploads the result, completes
it, and the user confirms and downloads the result. Uploads that are too big (the route's own
orders.attachment_limit and the listener's http.body_limit) or of the wrong type are refused
and leave nothing behind."""
import json
import urllib.error
import urllib.request

from harness import TOKEN, run, wait_until

ATTACHMENT_LIMIT = 4096  # [orders] attachment_limit of this server (the harness's http.body_limit is 64 KiB)


def login(server, user, password):
    status, out = server.request("PUT", f"/api/users/{user}/password", {"password": password})
    assert status == 200, (status, out)
    status, out = server.request("POST", "/api/login", {"user": user, "password": password}, token=None)
    assert status == 201, (status, out)
    return out["token"]


def call(server, method, path, token, body=None, expect=200):
    status, out = server.request(method, path, body, token=token)
    assert status == expect, f"{method} {path} {body} -> {status} {out} (expected {expect})"
    return out


def upload(server, order, token, content_type, data, name, result=False):
    q = f"name={urllib.request.quote(name)}" + ("&result=true" if result else "")
    return server.request("POST", f"/api/orders/{order}/attachments?{q}", token=token, raw=data,
                          headers={"Content-Type": content_type})


def download(server, order, att, token):
    """(status, body bytes, headers) of an attachment's download."""
    req = urllib.request.Request(f"{server.url}/api/orders/{order}/attachments/{att}", method="GET")
    req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read(), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read(), dict(e.headers)


def attachment_files(campus):
    root = campus.server.dir / "attachments"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_order_through_every_state(campus):
    s = campus.server
    # A server with a small attachment limit of its own (below the listener's body limit).
    s.stop()
    s.conf.write_text(s.conf.read_text() + f"\n[orders]\nattachment_limit = {ATTACHMENT_LIMIT}\n")
    s.start()
    campus.seed()
    # The instrument's admin, who also operates it (a card and a qualification of their own).
    s.post("/api/users", {"id": "u-ia", "name": "Ivan (XRD admin)", "category": "internal", "unit": "chem"})
    s.post("/api/cards", {"uid": "C3C3C3C3", "user": "u-ia"})
    s.post("/api/qualifications", {"user": "u-ia", "instrument": "inst-xrd"})
    s.post("/api/roles", {"user": "u-ia", "role": "instrument_admin", "scope_id": "inst-xrd"})
    alice = login(s, "u-alice", "alice's long password")
    ia = login(s, "u-ia", "ivan's long password")
    bob = login(s, "u-bob", "bob's long password")
    t = campus.terminal()

    # submitted
    order = call(s, "POST", "/api/orders", alice, {
        "instrument": "inst-xrd",
        "samples": {"count": 2, "names": ["TiO2-a", "TiO2-b"], "form": "powder", "hazards": "none known"},
        "tests": "powder XRD, phase identification",
        "parameters": {"range": "10-80", "step": "0.02", "anode": "Cu"},
        "delivery": "internal_mail",
        "account": "acct-alice-2026",
        "fee_lines": [{"code": "xrd-sample", "quantity": 2}, {"code": "xrd-report", "quantity": 1}]}, expect=201)
    oid = order["id"]
    assert order["state"] == "submitted" and order["user"] == "u-alice", order
    assert call(s, "GET", f"/api/orders/{oid}", bob, expect=404)  # another user may not know of it

    # the sample sheet; refused uploads first: too big for orders.attachment_limit, too big for
    # the listener, a type outside the list, content that is not what it says
    before = attachment_files(campus)
    status, out = upload(s, oid, alice, "text/plain", b"a" * (ATTACHMENT_LIMIT + 1), "big.txt")
    assert status == 413 and "attachment_limit" in out["error"], (status, out)
    status, out = upload(s, oid, alice, "text/plain", b"a" * 70_000, "huge.txt")
    assert status == 413, (status, out)
    status, out = upload(s, oid, alice, "text/html", b"<script>alert(1)</script>", "x.html")
    assert status == 415, (status, out)
    status, out = upload(s, oid, alice, "image/png", b"MZ\x90\x00\x03\x00\x00\x00", "photo.png")
    assert status == 415 and "not image/png" in out["error"], (status, out)
    assert attachment_files(campus) == before == [], attachment_files(campus)
    sheet = b"%PDF-1.4\n% sample sheet: TiO2-a, TiO2-b\n"
    status, att = upload(s, oid, alice, "application/pdf", sheet, "../../sample sheet.pdf")
    assert status == 201 and att["name"] == "sample sheet.pdf" and att["result"] is False, (status, att)
    files = attachment_files(campus)
    assert [p.name for p in files] == [att["id"]] and files[0].parent.name == oid, files
    assert files[0].read_bytes() == sheet

    # accepted, samples_received (the owner may not take the admin's steps)
    call(s, "POST", f"/api/orders/{oid}/accept", alice, expect=403)
    assert call(s, "POST", f"/api/orders/{oid}/accept", ia)["state"] == "accepted"
    assert call(s, "POST", f"/api/orders/{oid}/receive", ia)["state"] == "samples_received"

    # in_testing: the operator's session on the terminal, linked to the order
    r = t.swipe("C3C3C3C3")
    assert r["decision"] == "granted" and r["action"] == "start", r
    r = t.swipe("C3C3C3C3")
    assert r["action"] == "end", r
    sessions = wait_until(lambda: [x for x in s.closed_sessions() if x["user"] == "u-ia"] or None, 20,
                          what="the operator's usage session on the server")
    session = sessions[0]["id"]
    out = call(s, "POST", f"/api/orders/{oid}/session", ia, {"session": "no-such-session"}, expect=422)
    assert out["rule"] == "start_testing.session_known", out
    linked = call(s, "POST", f"/api/orders/{oid}/session", ia, {"session": session})
    assert linked["state"] == "in_testing" and linked["session"] == session, linked

    # results_uploaded: a result by the admin (the owner may not upload one)
    result = b"sample,phase,2theta\nTiO2-a,anatase,25.3\nTiO2-b,rutile,27.4\n"
    status, out = upload(s, oid, alice, "text/csv", result, "mine.csv", result=True)
    assert status == 403, (status, out)
    status, res = upload(s, oid, ia, "text/csv; charset=utf-8", result, "结果.csv", result=True)
    assert status == 201 and res["result"] is True and res["state"] == "results_uploaded", (status, res)

    # completed, then confirmed by the user (not cancellable any more)
    assert call(s, "POST", f"/api/orders/{oid}/complete", ia)["state"] == "completed"
    out = call(s, "POST", f"/api/orders/{oid}/cancel", alice, {"reason": "too late"}, expect=409)
    assert out["rule"] == "cancel.not_after_testing", out
    assert call(s, "POST", f"/api/orders/{oid}/confirm", alice)["state"] == "confirmed"

    # the user downloads the result: its bytes, its recorded type, as an attachment
    status, body, headers = download(s, oid, res["id"], alice)
    assert status == 200 and body == result, (status, body)
    assert headers["Content-Type"] == "text/csv", headers
    assert headers["Content-Disposition"].startswith("attachment; "), headers
    assert "filename*=UTF-8''%E7%BB%93%E6%9E%9C.csv" in headers["Content-Disposition"], headers
    assert download(s, oid, res["id"], bob)[0] == 404
    assert download(s, oid, "..", alice)[0] == 404

    # the history: every state, by whom; and every change in the audit log
    o = call(s, "GET", f"/api/orders/{oid}", TOKEN)
    steps = [(e["from"], e["to"], e["actor"]) for e in o["events"]]
    assert steps == [(None, "submitted", "user:u-alice"), ("submitted", "accepted", "user:u-ia"),
                     ("accepted", "samples_received", "user:u-ia"), ("samples_received", "in_testing", "user:u-ia"),
                     ("in_testing", "results_uploaded", "user:u-ia"), ("results_uploaded", "completed", "user:u-ia"),
                     ("completed", "confirmed", "user:u-alice")], steps
    assert o["session"] == session and len(o["attachments"]) == 2, o
    actions = [e["action"] for e in s.get("/api/audit?entity=order&limit=100") if e["entity_id"] == oid]
    assert sorted(actions) == sorted(["submit", "accept", "receive", "start_testing", "complete", "confirm"]), actions
    uploads = [e["action"] for e in s.get("/api/audit?entity=order_attachment&limit=100")]
    assert sorted(uploads) == ["attach", "upload_result"], uploads
    assert len(attachment_files(campus)) == 2

    # a second order: refused with a reason; a third: cancelled by its user
    body = {"instrument": "inst-xrd", "samples": {"count": 1, "form": "liquid"}, "tests": "XRD of a liquid",
            "delivery": "in_person", "account": "acct-alice-2026"}
    other = call(s, "POST", "/api/orders", alice, body, expect=201)["id"]
    out = call(s, "POST", f"/api/orders/{other}/refuse", ia, {"reason": "no liquid cell"})
    assert out["state"] == "refused" and out["reason"] == "no liquid cell", out
    third = call(s, "POST", "/api/orders", alice, body, expect=201)["id"]
    assert call(s, "POST", f"/api/orders/{third}/cancel", alice)["state"] == "cancelled"
    mine = {x["id"]: x["state"] for x in call(s, "GET", "/api/orders", alice)}
    assert mine == {oid: "confirmed", other: "refused", third: "cancelled"}, mine
    assert call(s, "GET", "/api/orders", bob) == []


if __name__ == "__main__":
    run([test_order_through_every_state])
