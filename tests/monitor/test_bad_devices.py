"""One bad device never hurts the others: bounded walks, the per-device deadline, device states, and
`dcops monitor` polling healthy devices on time while hostile agents misbehave (then SIGTERM < 2 s)."""
import asyncio
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time


from dcops.monitor.poller import Poller
from dcops.monitor.snmp import ber
from dcops.monitor.snmp.errors import Credentials
from dcops.monitor.targets import Target

from .hostile import BASE, FakeAgent, backwards_rows, endless_rows, v2c_agent

V2C = Credentials("2c", community="public")


def _t(name, port, profile="if-mib"):
    return Target(name, "127.0.0.1", port, profile, V2C)


def _poll(targets, **kw):
    kw.setdefault("timeout", 0.3)
    kw.setdefault("retries", 0)
    return asyncio.run(Poller(targets, **kw).poll_all())


def test_endless_walk_stops_at_the_request_bound():
    with FakeAgent(v2c_agent(endless_rows)) as agent:
        [p] = _poll([_t("endless", agent.port)], walk_max_requests=30)
    assert p.reachable and p.state == "ok"
    assert any("stopped after 30 requests (walk_max_requests)" in w for w in p.warnings), p.warnings
    assert p.requests <= 32


def test_endless_walk_stops_at_the_row_bound():
    with FakeAgent(v2c_agent(endless_rows)) as agent:
        [p] = _poll([_t("endless", agent.port)], walk_max_rows=100, walk_max_requests=10_000)
    assert any("stopped after 100 rows (walk_max_rows)" in w for w in p.warnings), p.warnings
    rows = [s for s in p.samples if s.metric == "if_in_bytes_total"]
    assert 0 < len(rows) <= 100


def test_backwards_walk_stops_and_says_so():
    with FakeAgent(v2c_agent(backwards_rows)) as agent:
        [p] = _poll([_t("backwards", agent.port)])
    assert p.reachable
    assert any("(OID not increasing)" in w and "1.3.6.1.2.1.2.2.1.2.1000004 after 1.3.6.1.2.1.2.2.1.2.1000005" in w
               for w in p.warnings), p.warnings
    assert agent.requests < 10


def test_deadline_bounds_a_slow_endless_agent_and_healthy_devices_stay_on_time():
    with FakeAgent(v2c_agent(endless_rows, delay=0.05)) as slow, FakeAgent(v2c_agent()) as healthy:
        start = time.monotonic()
        polls = _poll([_t("slow", slow.port), _t("ok", healthy.port)], deadline=2.0, timeout=1.0,
                      walk_max_requests=10_000, walk_max_rows=10**6)
        took = time.monotonic() - start
    by = {p.device: p for p in polls}
    assert by["slow"].state == "deadline" and not by["slow"].reachable
    assert by["slow"].error == "poll deadline of 2 s exceeded during the walk of the table columns"
    assert by["ok"].reachable and by["ok"].duration < 1.5  # not held back by the slow one
    assert took < 3.5  # the deadline, plus scheduling slack on a loaded 2-core machine


def test_garbage_is_malformed_and_silence_is_unreachable():
    with FakeAgent(v2c_agent(garbage=lambda req: req[:12] + b"\xff" * 20)) as bad:
        [p] = _poll([_t("garbage", bad.port)])
    assert (p.reachable, p.state) == (False, "malformed")
    assert p.error.startswith(f"malformed response from 127.0.0.1:{bad.port}: ")
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    try:
        [p] = _poll([_t("silent", silent.getsockname()[1])])
    finally:
        silent.close()
    assert (p.reachable, p.state) == (False, "unreachable")


def test_oversized_counter_is_malformed_not_a_value():
    def huge(oid):
        return f"{oid}.{BASE + 1}", (ber.T_COUNTER64, 1 << 70)  # our encoder writes what a broken agent would
    with FakeAgent(v2c_agent(huge)) as agent:
        [p] = _poll([_t("huge", agent.port)])
    assert p.state == "malformed" and not p.samples
    assert "Counter64 above 2^64-1" in p.error


# ---------------------------------------------------------------- the monitor process

def _sim_target(name, port, profile="if-mib"):
    return dict(device=name, host="127.0.0.1", port=port, profile=profile, version="2c", community="public",
                user=None, context=None, auth_protocol="SHA256", priv_protocol="AES")


def _free_tcp() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_monitor_keeps_polling_healthy_devices_while_others_misbehave(tmp_path):
    agents = {
        "healthy": FakeAgent(v2c_agent()),
        "garbage": FakeAgent(v2c_agent(garbage=lambda req: b"\x30\x84\xff\xff\xff\xff" + req)),
        "endless": FakeAgent(v2c_agent(endless_rows, delay=0.01)),
        "backwards": FakeAgent(v2c_agent(backwards_rows)),
        "oversized": FakeAgent(v2c_agent(lambda oid: (f"{oid}.{BASE + 1}", (ber.T_INT, 1 << 80)))),
    }
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    targets = [_sim_target(n, a.port) for n, a in agents.items()] + [_sim_target("silent", silent.getsockname()[1])]
    (tmp_path / "targets.json").write_text(json.dumps(targets))
    trap_port = _free_udp()
    db = tmp_path / "m.db"
    proc = subprocess.Popen(
        [sys.executable, "-m", "dcops.cli", "monitor", "--sim", str(tmp_path / "targets.json"), "--db", str(db),
         "--interval", "2", "--timeout", "1", "--retries", "0", "--trap-port", str(trap_port),
         "--metrics-port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=dict(os.environ, DCOPS_STATE_DIR=str(tmp_path)))
    try:
        up = time.monotonic() + 90  # start-up on a loaded 2-core machine can take a while
        while not any(d == "healthy" and lp for d, _r, _e, lp in _polls_of(db)):
            assert proc.poll() is None and time.monotonic() < up, proc.stderr.read() if proc.poll() else "no poll"
            time.sleep(0.2)
        flood = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        window = time.monotonic() + 10
        sent = 0
        seen_polls: set[float] = set()
        next_look = 0.0
        while time.monotonic() < window:  # traps and garbage at the trap port all along
            flood.sendto(_trap(sent), ("127.0.0.1", trap_port))
            flood.sendto(b"\x30\x82\xff\xff garbage", ("127.0.0.1", trap_port))
            flood.sendto(b"\xff not even BER", ("127.0.0.1", trap_port))
            sent += 1
            time.sleep(0.005)  # ~600 datagrams/s: 30x the per-source limit
            if time.monotonic() > next_look:
                next_look = time.monotonic() + 0.25
                seen_polls |= {lp for d, _r, _e, lp in _polls_of(db) if d == "healthy" and lp}
        flood.close()
        window_end_wall = time.time()
        polls = _polls_of(db)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
        stopped_in = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for a in agents.values():
            a.stop()
        silent.close()
    err = proc.stderr.read()
    assert stopped_in < 2.0, stopped_in
    assert "Traceback" not in err, err[-3000:]
    st = {d: (r, e) for d, r, e, _lp in polls}
    assert "healthy" in st, err[-3000:]
    assert st["healthy"][0] == 1
    assert st["garbage"][0] == 0 and st["garbage"][1].startswith("malformed response from")
    assert st["oversized"][0] == 0 and "INTEGER of 11 bytes" in st["oversized"][1]
    assert st["silent"][0] == 0 and st["silent"][1].startswith("unreachable: no response")
    assert st["backwards"][0] == 1
    # Healthy device: a fresh poll every cycle (2 s) despite the others, from the first to the last
    # second of the window; slack for a 2-core machine shared with other work.
    ts = sorted(seen_polls)
    assert len(ts) >= 3, ts
    assert max(b - a for a, b in zip(ts, ts[1:])) < 5, ts  # at most one cycle late, never stalled
    assert window_end_wall - ts[-1] < 5, (window_end_wall, ts)


def _free_udp() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _trap(i: int) -> bytes:
    pdu = ber.encode_pdu(ber.TRAPV2, i + 1, ["1.3.6.1.2.1.1.3.0", "1.3.6.1.6.3.1.1.4.1.0"],
                         values=[(ber.T_TIMETICKS, i), (ber.T_OID, "1.3.6.1.6.3.1.1.5.3")])
    return ber.encode_message(1, b"public", pdu)


def _polls_of(db):
    try:
        with sqlite3.connect(db) as c:
            return c.execute("SELECT name, reachable, error, last_poll FROM devices").fetchall()
    except sqlite3.OperationalError:  # the monitor is still creating its tables
        return []


def test_trap_flood_is_rate_limited_counted_and_bounded(caplog):
    from dcops.monitor.traps import TrapReceiver

    events = []

    async def run():
        port = _free_udp()
        r = TrapReceiver(events.append, "127.0.0.1", port, communities=("public",), device_by_addr={},
                         known_devices={"public"})
        await r.start()
        await asyncio.sleep(0.2)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for i in range(1500):
            s.sendto(_trap(i), ("127.0.0.1", port))
            s.sendto(b"\xff\x00 garbage", ("127.0.0.1", port))
            if i % 10 == 0:  # let the receiver read: the kernel would drop the rest (not our count)
                await asyncio.sleep(0.002)
        await asyncio.sleep(1.0)
        s.close()
        r.close()
        return r

    r = asyncio.run(run())
    assert r.stats["received"] >= 1500  # the socket buffer may drop some: that is the kernel's count
    assert r.stats["dropped_malformed"] >= 700
    assert r.stats["dropped_rate"] + r.stats["dropped_device_rate"] > 500
    assert 0 < len(events) <= 40  # the device's burst, then ~1 per second
    assert len(r.received) <= r.keep
    warnings = [m for m in caplog.messages if "trap receiver" in m]
    assert len(warnings) <= 3 and not any("Traceback" in m for m in caplog.messages)
