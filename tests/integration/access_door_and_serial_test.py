"""A door terminal releases the strike for the board's pulse and records only the access (no
usage session, nothing billed); a terminal reading cards from a serial reader (a pty here)
decides and switches exactly like one on the card socket, also fed by labgate-swipe --serial."""
import os
import select
import subprocess
import time
import tty

from harness import BIN, run, wait_until

FRAME = b"\x02%s\r\n\x03"
PULSE_S = 3.0  # boards/sim-x86/board.toml: the door output's pulse_ms


def test_door_pulses_the_strike_and_records_no_session(campus):
    campus.seed()
    s = campus.server
    s.post("/api/instruments", {"id": "door-xrd", "name": "X-ray lab door", "lab": "lab-xrd", "kind": "door"})
    s.post("/api/qualifications", {"user": "u-alice", "instrument": "door-xrd"})
    t = campus.terminal("t-door-01", resource="door-xrd", output="door", meter=False)

    r = t.swipe("E5E5E5E5")  # Eve may not enter
    assert (r["decision"], r["action"]) == ("denied", "none"), r
    assert t.sim.state()["coils"][1] is False

    # a bracket that slowness can only widen: from before the swipe is sent until the strike is
    # seen locked again; it holds the whole pulse
    before = time.monotonic()
    r = t.swipe("A1A1A1A1")
    assert (r["decision"], r["reason"], r["action"]) == ("granted", "qualified", "pulse"), r
    assert r["session"] == "", r
    wait_until(lambda: t.sim.coil(1), 5, what="strike (coil 1) released")
    wait_until(lambda: not t.sim.coil(1), 20, what="strike locked again by itself")
    held = time.monotonic() - before
    assert held >= PULSE_S - 0.002, f"strike locked again {held:.3f} s after the swipe; the board's pulse is {PULSE_S} s"
    assert t.sim.coil(0) is False, "the door terminal must not touch the instrument power coil"

    events = wait_until(lambda: (lambda e: e if len(e) >= 2 else None)(
        s.get(f"/api/access-events?terminal={t.id}")), 20, what="door access events on the server")
    by_card = {e["card"]: e for e in events}
    assert by_card["A1A1A1A1"]["decision"] == "granted" and by_card["A1A1A1A1"]["output"] == "door", events
    assert by_card["A1A1A1A1"]["resource"] == "door-xrd", events
    assert by_card["E5E5E5E5"]["decision"] == "denied", events
    wait_until(lambda: campus.terminal_info(t.id).get("outbox_depth") == 0, 20, what="outbox drained")
    assert s.get("/api/sessions") == [], "a door opening is not a usage session"
    assert s.get("/api/charges") == []


def read_frame(fd, timeout=10.0):
    """Reads one STX..ETX frame from a pty master."""
    buf = b""
    deadline = time.monotonic() + timeout
    while not buf.endswith(b"\x03"):
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no complete frame from labgate-swipe (got {buf!r})")
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            buf += os.read(fd, 256)
    return buf


def test_serial_card_reader_on_a_pty(campus):
    campus.seed()
    s = campus.server
    reader_master, reader_slave = os.openpty()      # the terminal's card reader
    tool_master, tool_slave = os.openpty()          # where labgate-swipe --serial writes
    try:
        tty.setraw(reader_slave)
        tty.setraw(tool_slave)
        t = campus.terminal(card_device=os.ttyname(reader_slave))

        # a reader sends STX uid CR LF ETX; there is no reply, the coil tells
        os.write(reader_master, FRAME % b"A1A1A1A1")
        wait_until(lambda: t.sim.coil(0), 10, what="coil on after a serial swipe")
        open_sessions = wait_until(lambda: [x for x in s.get("/api/sessions") if x["status"] == "open"], 20,
                                   what="open session on the server")
        assert open_sessions[0]["user"] == "u-alice", open_sessions
        os.write(reader_master, FRAME % b"A1A1A1A1")  # swipe out
        wait_until(lambda: not t.sim.coil(0), 10, what="coil off after the serial swipe-out")

        # an untrained card on the reader changes nothing
        writes = t.sim.state()["writes"]
        os.write(reader_master, FRAME % b"E5E5E5E5")
        wait_until(lambda: any(e["card"] == "E5E5E5E5" for e in s.get(f"/api/access-events?terminal={t.id}")),
                   20, what="the denial on the server")
        assert t.sim.state()["writes"] == writes and t.sim.coil(0) is False

        # labgate-swipe --serial writes exactly a reader's frame; pass it on to the reader pty
        for expect_on in (True, False):
            out = subprocess.run([str(BIN / "labgate-swipe"), "--serial", os.ttyname(tool_slave), "b2b2b2b2"],
                                 capture_output=True, text=True, timeout=20)
            assert out.returncode == 0, out.stderr
            frame = read_frame(tool_master)
            assert frame == FRAME % b"b2b2b2b2", frame
            os.write(reader_master, frame)
            wait_until(lambda: t.sim.coil(0) is expect_on, 10, what=f"coil {'on' if expect_on else 'off'} (Bob)")

        sessions = wait_until(lambda: (lambda x: x if len(x) >= 2 else None)(s.closed_sessions()), 20,
                              what="both sessions closed on the server")
        assert sorted(x["user"] for x in sessions) == ["u-alice", "u-bob"], sessions
        assert all(x["end_reason"] == "swipe_out" for x in sessions), sessions
        granted = [e for e in s.get(f"/api/access-events?terminal={t.id}&decision=granted")]
        assert sorted((e["card"], e["reason"]) for e in granted) == [
            ("A1A1A1A1", "qualified"), ("A1A1A1A1", "swipe_out"),
            ("B2B2B2B2", "qualified"), ("B2B2B2B2", "swipe_out")], granted
    finally:
        for fd in (reader_master, reader_slave, tool_master, tool_slave):
            os.close(fd)


if __name__ == "__main__":
    run([test_door_pulses_the_strike_and_records_no_session, test_serial_card_reader_on_a_pty])
