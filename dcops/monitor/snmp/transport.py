"""One shared UDP socket per event loop; answers are dispatched to their request by request-id / msgID.

Each outstanding request has a `Waiter` whose `accept(data)` decodes and checks an answer right
where it arrives. An answer that fails a check (wrong address, community, PDU type, security
level, digest, engine, malformed BER) is discarded and counted; the request keeps waiting for a
valid one until its timeout, so a spoofed or garbled datagram can neither set a value nor end
the wait of the genuine answer. When only discarded answers came, the error says why.
"""
from __future__ import annotations

import asyncio
import random
import weakref
from collections import Counter

from . import ber
from .errors import Discard, SnmpError, SnmpMalformed, SnmpRejected, SnmpTimeout

#: Answers thrown away, by reason kind, for this process: "malformed", "rejected", "unmatched"
#: (no outstanding request: late answers, strays), "wrong_source". Exported on /metrics.
DISCARDED: Counter = Counter()


class Waiter:
    """One outstanding request: its future, its answer check, and what its timer needs to resend it."""

    __slots__ = ("addr", "fut", "accept", "why", "kind", "discarded", "msg", "tries", "timeout", "session", "due")

    def __init__(self, addr: tuple[str, int], fut: asyncio.Future, accept, msg: bytes = b"", retries: int = 0,
                 timeout: float = 0.0, session=None) -> None:
        self.addr, self.fut, self.accept = addr, fut, accept
        self.why: str | None = None
        self.kind = ""
        self.discarded = 0
        self.msg, self.tries, self.timeout, self.session = msg, retries, timeout, session
        self.due = 0  # the timer tick of the attempt in flight

    def discard(self, kind: str, why: str) -> None:
        DISCARDED[kind] += 1
        self.discarded += 1
        # a malformed answer says more about the device than a forged one says about the network
        if self.kind != "malformed":
            self.kind, self.why = kind, why

    def failure(self) -> SnmpError:
        h, p = self.addr
        if not self.discarded:
            return SnmpTimeout(f"no response from {h}:{p}")
        n = f"{self.discarded} answer{'s' if self.discarded > 1 else ''}"
        if self.kind == "malformed":
            return SnmpMalformed(f"malformed response from {h}:{p}: {self.why} ({n} discarded)")
        return SnmpRejected(f"no valid response from {h}:{p}: {n} rejected: {self.why}")


#: Granularity of the shared request timer: a request times out between `timeout` and `timeout + TICK`
#: seconds after it was sent (never earlier). One loop timer per tick serves every request due in it.
TICK = 0.02


class _Dispatcher(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.pending: dict[int, Waiter] = {}
        self._next = random.randrange(1, 1 << 30)
        self.loop = asyncio.get_running_loop()
        # The timeout wheel: tick number -> requests whose attempt ends in it. One loop timer per tick,
        # not a timer, a timeout context and a shielding future per request.
        self._wheel: dict[int, list[Waiter]] = {}

    def connection_made(self, transport) -> None:
        self.transport = transport

    def next_id(self) -> int:
        self._next = self._next + 1 if self._next < (1 << 31) - 2 else 1
        return self._next

    def datagram_received(self, data: bytes, addr) -> None:
        rid = ber.peek_request_id(data)
        if rid is None:  # not even a request-id: garbage, which a device waiting here is answering with
            self._undecodable(data, addr[:2])
            return
        w = self.pending.get(rid)
        if w is None or w.fut.done():
            DISCARDED["unmatched"] += 1
            return
        if w.addr != addr[:2]:
            w.discard("wrong_source", f"answer from {addr[0]}:{addr[1]}, not the device")
            return
        try:
            res = w.accept(data)
        except Discard as e:
            w.discard(e.kind, str(e))
        except ber.BerError as e:
            w.discard("malformed", str(e))
        except SnmpError as e:  # an authentic answer that is an error (agent report, error-status)
            w.fut.set_exception(e)
        except Exception as e:  # noqa: BLE001 - never let one datagram break the shared socket
            w.discard("malformed", f"{type(e).__name__}: {e}")
        else:
            w.fut.set_result(res)

    def _undecodable(self, data: bytes, addr: tuple) -> None:
        waiting = [w for w in self.pending.values() if w.addr == addr and not w.fut.done()]
        if not waiting:
            DISCARDED["unmatched"] += 1
            return
        for w in waiting:
            w.discard("malformed", f"undecodable datagram of {len(data)} bytes (no SNMP header)")

    def send(self, w: Waiter) -> None:
        """Send (or resend) `w`'s request and arm its timeout on the wheel."""
        self.transport.sendto(w.msg, w.addr)
        if w.session is not None:
            w.session.requests += 1
        tick = -int(-(self.loop.time() + w.timeout) // TICK)  # ceil: never earlier than the timeout
        w.due = tick
        bucket = self._wheel.get(tick)
        if bucket is None:
            self._wheel[tick] = [w]
            self.loop.call_at(tick * TICK, self._expire, tick)
        else:
            bucket.append(w)

    def _expire(self, tick: int) -> None:
        for w in self._wheel.pop(tick, ()):
            if w.fut.done() or w.due != tick:
                continue
            if w.tries > 0:
                w.tries -= 1
                try:
                    self.send(w)
                except OSError as e:  # e.g. no route: the request fails as the first send would have
                    w.fut.set_exception(e)
            else:
                w.fut.set_exception(w.failure())

    def error_received(self, exc) -> None:  # ICMP port unreachable etc.: let the timeout decide
        pass


async def exchange(addr: tuple[str, int], msg: bytes, rid: int, accept, timeout: float, retries: int,
                   session=None):
    """Send `msg` (resent on timeout) and return `accept(answer)` of the first valid answer.

    One future per request, resolved by the first valid answer (datagram_received) or by the timeout
    wheel (_expire: resend, or fail with why the answers that came were discarded). A cancellation of
    the awaiting task (the poll's deadline) cancels the future and is never swallowed."""
    d = _DISPATCHERS.get(asyncio.get_running_loop())
    if d is None or d.transport is None or d.transport.is_closing():
        d = await dispatcher()
    w = Waiter(addr, d.loop.create_future(), accept, msg, retries, timeout, session)
    d.pending[rid] = w
    try:
        d.send(w)
        return await w.fut
    finally:
        if d.pending.get(rid) is w:
            del d.pending[rid]
        if session is not None:
            session.discarded += w.discarded
        if not w.fut.done():
            w.fut.cancel()
        w.msg = w.accept = None  # the wheel keeps the waiter until its tick: not the message


# Per event loop (a finished loop's entry goes with it).
_DISPATCHERS: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Dispatcher]" = weakref.WeakKeyDictionary()


async def dispatcher() -> _Dispatcher:
    loop = asyncio.get_running_loop()
    d = _DISPATCHERS.get(loop)
    if d is None or d.transport is None or d.transport.is_closing():
        _, d = await loop.create_datagram_endpoint(_Dispatcher, local_addr=("0.0.0.0", 0))
        _DISPATCHERS[loop] = d
        # Large receive buffer: a poll cycle of thousands of agents answers in bursts.
        sock = d.transport.get_extra_info("socket")
        try:
            import socket
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        except OSError:
            pass
    return d
