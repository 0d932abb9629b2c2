"""The poller against real snmpsim agents on 127.0.0.1 (v3 authPriv and v2c)."""
import asyncio

from dcops.monitor.poller import Poller
from dcops.monitor.snmp.errors import Credentials
from dcops.monitor.snmp.session import open_session
from dcops.monitor.snmp.v2c import V2cSession
from dcops.monitor.sim import free_port
from dcops.monitor.targets import Target, credentials_of


def _targets(sim):
    return [Target(t.device, t.host, t.port, t.profile, credentials_of(t)) for t in sim.targets]


def _values(poll):
    return {(s.metric, tuple(sorted(s.labels.items()))): s for s in poll.samples}


def test_every_simulated_device_polls_with_units(sim):
    async def run():
        p = Poller(_targets(sim), timeout=2)
        first = {x.device: x for x in await p.poll_all()}
        await asyncio.sleep(1.2)
        return first, {x.device: x for x in await p.poll_all()}

    first, second = asyncio.run(run())
    assert all(x.reachable for x in second.values()), {k: v.error for k, v in second.items()}
    ups = _values(second["ups-80kva"])
    assert ups[("ups_output_source", ())].state in ("normal", "battery")
    assert 0 <= ups[("ups_battery_charge_ratio", ())].value <= 1
    assert ups[("ups_output_load_ratio", (("phase", "1"),))].unit == "ratio"
    lb = [s for s in second["lb-1"].samples if s.metric == "if_in_bytes_per_second"]
    assert len(lb) == 3 and all(s.value > 0 for s in lb)  # counters move: rates from the 2nd poll
    assert not any(s.metric == "if_in_bytes_per_second" for s in first["lb-1"].samples)
    env = _values(second["env-1"])
    assert any(k[0] == "env_contact_alarm" and dict(k[1]).get("contact") == "Rò rỉ nước sàn nâng" for k in env)


def test_silent_device_is_unreachable_not_zero():
    port = free_port()  # nothing listens there
    t = Target("ghost", "127.0.0.1", port, "ups-rfc1628", Credentials("2c", community="x"))
    poll = asyncio.run(Poller([t], timeout=0.3, retries=1).poll_all())[0]
    assert not poll.reachable and "unreachable" in poll.error and poll.samples == []


def test_missing_objects_are_absent(sim):
    t = sim.target("lb-1")
    s = V2cSession(t.host, t.port, t.community, timeout=1)
    vb = asyncio.run(s.get(["1.3.6.1.2.1.1.3.0", "1.3.6.1.2.1.33.1.2.3.0"]))
    from dcops.monitor.profiles import ABSENT
    assert vb["1.3.6.1.2.1.33.1.2.3.0"] is ABSENT and isinstance(vb["1.3.6.1.2.1.1.3.0"], int)


def test_set_through_writecache_v3(sim):
    t = sim.target("ups-80kva")
    oid = "1.3.6.1.2.1.33.1.2.7.0"  # battery temperature: a test-only knob nobody else reads

    async def run():
        s = open_session(t.host, t.port, credentials_of(t), timeout=2)
        await s.set([(oid, 31)])
        return await s.get([oid])

    assert asyncio.run(run())[oid] == 31


def test_agent_without_ifxtable_is_polled_with_32bit_counters(tmp_path):
    """A recording with ifTable only: the poller walks the 32-bit fallback columns and computes rates."""
    from dcops.monitor.sim import SimDevice, start_agents
    rec = tmp_path / "old.snmprec"
    rec.write_text("\n".join([
        "1.3.6.1.2.1.1.3.0|67:numeric|rate=100,initial=5000",
        "1.3.6.1.2.1.1.5.0|4|old-router",
        "1.3.6.1.2.1.2.2.1.2.1|4|eth0", "1.3.6.1.2.1.2.2.1.5.1|66|100000000", "1.3.6.1.2.1.2.2.1.8.1|2|1",
        "1.3.6.1.2.1.2.2.1.10.1|65:numeric|rate=500000,wrap=1,initial=4294000000",
    ]) + "\n")
    with start_agents([SimDevice("old", "if-mib", "2c", recording=str(rec))], workdir=tmp_path / "w") as h:
        t = h.target("old")

        async def run():
            p = Poller([Target("old", t.host, t.port, "if-mib", credentials_of(t))], timeout=2)
            await p.poll_all()
            await asyncio.sleep(2.5)  # the 32-bit counter wraps in between
            return (await p.poll_all())[0]

        poll = asyncio.run(run())
    by = {s.metric: s for s in poll.samples}
    assert by["if_in_bytes_total"].bits == 32
    assert 400_000 < by["if_in_bytes_per_second"].value < 600_000  # across the wrap, no spike, no gap
    assert by["if_speed_bits_per_second"].value == 100_000_000


def test_agent_restart_never_produces_a_spike(tmp_path):
    """The agent restarts between polls (sysUpTime and a 32-bit counter start again): no rate spike."""
    from dcops.monitor.sim import SimDevice, free_port, start_agents
    rec = tmp_path / "r.snmprec"
    rec.write_text("\n".join([  # no ifSpeed: no line-rate ceiling, only the sysUpTime logic protects
        "1.3.6.1.2.1.1.3.0|67:numeric|rate=100,initial=100000",
        "1.3.6.1.2.1.2.2.1.2.1|4|eth0",
        "1.3.6.1.2.1.2.2.1.10.1|65:numeric|rate=1000,initial=3000000000",
    ]) + "\n")
    dev = [SimDevice("r", "if-mib", "2c", recording=str(rec))]
    port = free_port()

    async def poll_twice(p, gap):
        await p.poll_all()
        await asyncio.sleep(gap)
        return (await p.poll_all())[0]

    async def one(p):
        return (await p.poll_all())[0]

    h = start_agents(dev, workdir=tmp_path / "a", ports={"r": port})
    t = h.target("r")
    poller = Poller([Target("r", t.host, t.port, "if-mib", credentials_of(t))], timeout=2)
    try:
        before = asyncio.run(poll_twice(poller, 1.5))
    finally:
        h.stop()
    assert 800 < {s.metric: s for s in before.samples}["if_in_bytes_per_second"].value < 1200
    with start_agents(dev, workdir=tmp_path / "b", ports={"r": port}):
        after = asyncio.run(one(poller))
        assert after.restarted
        assert "if_in_bytes_per_second" not in {s.metric for s in after.samples}
        import time as _t
        _t.sleep(1.5)
        again = asyncio.run(one(poller))
    rate = {s.metric: s for s in again.samples}["if_in_bytes_per_second"].value
    assert 800 < rate < 1200 and not again.restarted


def test_a_port_taken_between_pick_and_bind_gets_one_more_start(monkeypatch):
    """The race on a busy machine: the free port we picked is taken before snmpsim binds it."""
    import socket

    from dcops.monitor import sim as simmod
    from dcops.monitor.sim import SimDevice, start_agents

    squatter = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    squatter.bind(("127.0.0.1", 0))
    taken = squatter.getsockname()[1]
    real, calls = simmod.free_port, []

    def first_one_taken():
        calls.append(1)
        return taken if len(calls) == 1 else real()

    monkeypatch.setattr(simmod, "free_port", first_one_taken)
    try:
        h = start_agents([SimDevice("ups-x", "ups-rfc1628")], wait=5)
        try:
            assert h.targets[0].port != taken and len(calls) == 2
        finally:
            h.stop()
    finally:
        squatter.close()
