"""SNMP v2c on the direct codec: the fast path (shared socket, GET batching, multi-column GETBULK)."""
from __future__ import annotations

import asyncio

from . import ber
from .errors import SnmpError, SnmpTimeout, pdu_error
from .transport import dispatcher
from .verbs import PduVerbs


class V2cSession(PduVerbs):
    max_get = 40  # varbinds per GET PDU
    max_bulk_varbinds = 48  # varbinds per GETBULK response (repetitions x columns)

    def __init__(self, host: str, port: int = 161, community: str = "public", timeout: float = 2.0,
                 retries: int = 1) -> None:
        self.addr = (host, port)
        self.community = community.encode()
        self.timeout = timeout
        self.retries = retries
        self.requests = 0

    async def _request(self, pdu_type: int, oids: list[str], a: int = 0, b: int = 0, values=None) -> list:
        d = await dispatcher()
        loop = asyncio.get_running_loop()
        rid = d.next_id()
        msg = ber.encode_message(1, self.community, ber.encode_pdu(pdu_type, rid, oids, a, b, values))
        fut = loop.create_future()
        fut.addr = self.addr
        d.pending[rid] = fut
        try:
            for _attempt in range(self.retries + 1):
                d.transport.sendto(msg, self.addr)
                self.requests += 1
                try:
                    data = await asyncio.wait_for(asyncio.shield(fut), self.timeout)
                    break
                except asyncio.TimeoutError:
                    continue
            else:
                raise SnmpTimeout(f"no response from {self.addr[0]}:{self.addr[1]}")
        finally:
            d.pending.pop(rid, None)
        try:
            _v, _c, _t, _rid, err, eidx, vbs = ber.decode_message(data)
        except ber.BerError as e:
            raise SnmpError(f"bad response from {self.addr[0]}:{self.addr[1]}: {e}") from e
        if err:
            raise pdu_error(err, eidx, oids)
        return vbs
