"""The poller's per-request path kept cheap without losing a check (issue 11, "keep the speed").

Walks remember a table's rows so a steady table is read in one GETBULK; a GETBULK answered with tooBig
is asked again with fewer repetitions; the shared timeout wheel resends and fails exactly as the
per-request timers did, and a cancelled poll leaves nothing behind."""
import asyncio
import bisect
import gc
import socket
import time

import pytest

from dcops.monitor.poller import GC_THRESHOLDS, Poller
from dcops.monitor.snmp import ber, transport
from dcops.monitor.snmp.errors import PduError, SnmpTimeout
from dcops.monitor.snmp.v2c import V2cSession

from .hostile import SYS_UPTIME, FakeAgent

COLUMNS = [f"1.3.6.1.2.1.2.2.1.{c}" for c in (2, 5, 8, 10, 14, 16, 20)] + \
          [f"1.3.6.1.2.1.31.1.1.1.{c}" for c in (1, 6, 10, 15)]  # 11 columns, like the if-mib profile


class Table:
    """A v2c agent serving an ifTable-like MIB of `rows` rows (changeable), GETBULK per RFC 3416 §4.2.3;
    `too_big`: answer tooBig to a GETBULK asking for more varbinds than that."""

    def __init__(self, rows: int, too_big: int | None = None) -> None:
        self.too_big = too_big
        self.bulks: list[tuple[int, int]] = []  # (columns, repetitions) of every GETBULK
        self.set_rows(rows)

    def set_rows(self, rows: int) -> None:
        oids = [f"{c}.{i}" for c in COLUMNS for i in range(1, rows + 1)] + [SYS_UPTIME]
        self.keys = sorted(tuple(map(int, o.split("."))) for o in oids)

    def _next(self, oid: str) -> str | None:
        i = bisect.bisect_right(self.keys, tuple(map(int, oid.split("."))))
        return ".".join(map(str, self.keys[i])) if i < len(self.keys) else None

    def __call__(self, req: bytes) -> list[bytes]:
        _v, _c, ptype, rid, _nr, reps, vbs = ber.decode_message(req)
        cursors = [o for o, _x, _t in vbs]
        if ptype == ber.GETBULK:
            self.bulks.append((len(cursors), reps))
            if self.too_big is not None and len(cursors) * reps > self.too_big:
                return [ber.encode_message(1, b"public", ber.encode_pdu(ber.RESPONSE, rid, cursors, 1, 0))]
        oids, values = [], []
        for _ in range(reps if ptype == ber.GETBULK else 1):
            for k, cur in enumerate(cursors):
                nxt = self._next(cur)
                oids.append(nxt or cur)
                values.append((ber.T_COUNTER32, 7) if nxt else (ber.T_ENDOFMIB, b""))
                cursors[k] = nxt or cur
        return [ber.encode_message(1, b"public", ber.encode_pdu(ber.RESPONSE, rid, oids, values=values))]


def _walk(port: int, session=None):
    s = session or V2cSession("127.0.0.1", port, timeout=1, retries=0)
    before = s.requests
    out = asyncio.run(s.walk(COLUMNS))
    return s, out, s.requests - before


def test_a_steady_table_is_walked_in_one_request_once_its_rows_are_known():
    table = Table(4)
    with FakeAgent(table) as agent:
        s, first, n1 = _walk(agent.port)
        _, second, n2 = _walk(agent.port, s)
        table.set_rows(6)  # the table grows: still read whole, then in one request again
        _, third, n3 = _walk(agent.port, s)
        _, fourth, n4 = _walk(agent.port, s)
    expect4 = {f"{c}.{i}" for c in COLUMNS for i in range(1, 5)}
    expect6 = {f"{c}.{i}" for c in COLUMNS for i in range(1, 7)}
    assert (set(first), set(second), set(third), set(fourth)) == (expect4, expect4, expect6, expect6)
    # 48 varbinds per request: 4 rows of 11 columns, then one more request to see each column end;
    # then rows + 1 repetitions (5 x 11 = 55 varbinds, within 2 x 48) end the walk in one request.
    assert (n1, n2, n3, n4) == (2, 1, 2, 1)
    assert table.bulks == [(11, 4), (11, 4), (11, 5), (11, 5), (11, 4), (11, 7)]


def test_a_big_table_is_not_asked_beyond_the_varbind_ceiling():
    table = Table(40)
    with FakeAgent(table) as agent:
        s, first, _ = _walk(agent.port)
        _, second, n2 = _walk(agent.port, s)
    assert set(first) == set(second) == {f"{c}.{i}" for c in COLUMNS for i in range(1, 41)}
    assert max(cols * reps for cols, reps in table.bulks) <= 2 * V2cSession.max_bulk_varbinds
    assert n2 == 10  # 9 x 4 rows, then the last 4 rows and each column's end (5 x 11 = 55) in one request


def test_getbulk_answered_too_big_is_asked_again_with_fewer_repetitions():
    table = Table(4, too_big=12)
    with FakeAgent(table) as agent:
        _s, out, _n = _walk(agent.port)
    assert set(out) == {f"{c}.{i}" for c in COLUMNS for i in range(1, 5)}
    assert table.bulks[:3] == [(11, 4), (11, 2), (11, 1)]  # halved on each tooBig, down to what fits


def test_too_big_at_one_repetition_is_the_agents_error():
    table = Table(4, too_big=5)
    with FakeAgent(table) as agent, pytest.raises(PduError) as e:
        _walk(agent.port)
    assert (e.value.status, str(e.value)) == (1, "agent error tooBig")
    assert table.bulks == [(11, 4), (11, 2), (11, 1)]


def _silent():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(0.01)
    return s


def _drain(sock) -> int:
    n = 0
    while True:
        try:
            sock.recvfrom(65535)
            n += 1
        except (TimeoutError, socket.timeout):
            return n


def test_timeout_wheel_resends_then_fails_never_early():
    sock = _silent()
    port = sock.getsockname()[1]
    s = V2cSession("127.0.0.1", port, timeout=0.2, retries=2)

    async def run():
        t0 = time.monotonic()
        with pytest.raises(SnmpTimeout) as e:
            await s.get([SYS_UPTIME])
        return time.monotonic() - t0, e.value, len((await transport.dispatcher()).pending)

    took, err, pending = asyncio.run(run())
    try:
        assert str(err) == f"no response from 127.0.0.1:{port}"
        assert (s.requests, _drain(sock), pending) == (3, 3, 0)
        assert 0.599 <= took < 0.6 + 3 * transport.TICK + 0.5  # 3 attempts of 0.2 s, never less
    finally:
        sock.close()


def test_an_answer_to_the_resent_request_is_accepted():
    seen = []

    def second_only(req: bytes) -> list[bytes]:
        seen.append(req)
        if len(seen) < 2:
            return []  # the first datagram is "lost"
        _v, _c, _p, rid, _e, _i, _vbs = ber.decode_message(req)
        return [ber.encode_message(1, b"public", ber.encode_pdu(ber.RESPONSE, rid, [SYS_UPTIME],
                                                                values=[(ber.T_TIMETICKS, 42)]))]

    with FakeAgent(second_only) as agent:
        s = V2cSession("127.0.0.1", agent.port, timeout=0.2, retries=1)
        assert asyncio.run(s.get([SYS_UPTIME])) == {SYS_UPTIME: 42}
    assert (s.requests, len(seen), seen[0] == seen[1]) == (2, 2, True)


def test_a_cancelled_request_leaves_no_waiter_and_is_not_swallowed():
    sock = _silent()
    s = V2cSession("127.0.0.1", sock.getsockname()[1], timeout=5, retries=3)

    async def run():
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.1):  # the poll's deadline
                await s.get([SYS_UPTIME])
        return len((await transport.dispatcher()).pending)

    try:
        assert asyncio.run(run()) == 0
        assert _drain(sock) == 1  # no resend after the cancellation
    finally:
        sock.close()


def test_the_monitor_loop_tunes_the_garbage_collector():
    before = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)

        async def run():
            stop = asyncio.Event()
            stop.set()
            await Poller([]).run(60, lambda polls: None, stop)

        asyncio.run(run())
        assert gc.get_threshold() == GC_THRESHOLDS
    finally:
        gc.set_threshold(*before)
