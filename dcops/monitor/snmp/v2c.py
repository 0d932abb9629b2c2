"""SNMP v2c on the direct codec: the fast path (shared socket, GET batching, multi-column GETBULK).

An answer counts only if it is a v2c RESPONSE PDU with our request-id and community from the
device's address (RFC 3416 §4.2, RFC 1901); anything else is discarded and counted (transport.py).
"""
from __future__ import annotations

import hmac

from . import ber
from .errors import Discard, pdu_error
from .transport import dispatcher, exchange
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
        self.discarded = 0

    def _accept(self, rid: int, data: bytes) -> tuple[int, int, list]:
        version, community, ptype, got_rid, err, eidx, vbs = ber.decode_message(data)
        if version != 1:
            raise Discard(f"SNMP version {version + 1 if version in (0, 1) else version} answer to a v2c request")
        if not hmac.compare_digest(community, self.community):
            raise Discard("answer with another community")
        if ptype != ber.RESPONSE:
            raise Discard(f"PDU type 0x{ptype:02x} instead of a Response")
        if got_rid != rid:
            raise Discard(f"request-id {got_rid} instead of {rid}")
        return err, eidx, vbs

    async def _request(self, pdu_type: int, oids: list[str], a: int = 0, b: int = 0, values=None) -> list:
        d = await dispatcher()
        rid = d.next_id()
        msg = ber.encode_message(1, self.community, ber.encode_pdu(pdu_type, rid, oids, a, b, values))
        err, eidx, vbs = await exchange(self.addr, msg, rid, lambda data: self._accept(rid, data),
                                        self.timeout, self.retries, self)
        if err:
            raise pdu_error(err, eidx, oids)
        return vbs
