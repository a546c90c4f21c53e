"""A session's energy is the difference of the meter's own readings, rounded once to whole Wh, on a
real terminal against the simulated SDM120, also when the terminal is killed mid-session and
recovers it (the starting reading is kept at the meter's resolution in the open-session row).

The simulated counter stands at 1.4 Wh and the instrument draws nothing except 43.2 kW from 0.5 s to
0.6 s after switch-on: exactly 1.2 Wh, so the counter ends at 2.6 Wh. Subtracting the readings and
rounding once gives 1 Wh; rounding each reading first (1 and 3 Wh) gives 2."""
from harness import ModbusSim, run, wait_until

CARD = "A1A1A1A1"


def burst_terminal(campus):
    campus.seed()
    sim = campus.add(ModbusSim(campus.dir, name="t-xrd-01-modbus", profile="0:0,0.5:43200,0.6:0",
                               extra=("--idle-w", "0", "--initial-kwh", "0.0014"))).start()
    t = campus.terminal(sim=sim)
    assert t.swipe(CARD)["action"] == "start"
    wait_until(lambda: sim.state()["energy_kwh"] >= 0.0026 - 1e-9, 10, what="the simulated 1.2 Wh burst")
    return t


def closed_session(campus):
    return wait_until(lambda: campus.server.closed_sessions() or None, 20, what="usage session on the server")[0]


def test_session_energy_is_the_reading_difference_rounded_once(campus):
    t = burst_terminal(campus)
    assert t.swipe(CARD)["action"] == "end"
    s = closed_session(campus)
    assert s["energy_wh"] == 1 and s["flags"] in ([], ["clock_unsynced"]), s


def test_a_recovered_session_keeps_the_precise_starting_reading(campus):
    t = burst_terminal(campus)
    boot = campus.terminal_info(t.id)["boot"]
    t.kill9()
    t.start()
    wait_until(lambda: (lambda i: i.get("online") and i.get("boot") == boot + 1)(campus.terminal_info(t.id)), 20,
               what="birth message of the next boot")
    assert t.swipe(CARD)["action"] == "end"
    s = closed_session(campus)
    assert "recovered" in s["flags"], s
    assert s["energy_wh"] == 1, s


if __name__ == "__main__":
    run([test_session_energy_is_the_reading_difference_rounded_once,
         test_a_recovered_session_keeps_the_precise_starting_reading])
