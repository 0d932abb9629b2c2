"""One shared UDP socket per event loop; answers are dispatched to their request by request-id / msgID."""
from __future__ import annotations

import asyncio
import random
import weakref

from . import ber


class _Dispatcher(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.pending: dict[int, asyncio.Future] = {}
        self._next = random.randrange(1, 1 << 30)

    def connection_made(self, transport) -> None:
        self.transport = transport

    def next_id(self) -> int:
        self._next = self._next + 1 if self._next < (1 << 31) - 2 else 1
        return self._next

    def datagram_received(self, data: bytes, addr) -> None:
        rid = ber.peek_request_id(data)
        fut = self.pending.get(rid) if rid is not None else None
        if fut is not None and not fut.done() and fut.addr == addr[:2]:
            fut.set_result(data)

    def error_received(self, exc) -> None:  # ICMP port unreachable etc.: let the timeout decide
        pass


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
