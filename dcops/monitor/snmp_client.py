"""SNMP sessions with one interface — get / walk / set — for the poller, the probe and tests.

* `V2cSession`: the fast path. One shared UDP socket per event loop, requests dispatched by
  request-id, the direct BER codec of `ber.py`; GET batching and multi-column GETBULK walks.
* `V3Session`: SNMPv3 USM (authPriv by default) through pysnmp 7's asyncio API, with MIB
  lookups switched off (the poller works on numeric OIDs only) and the same batching.
"""
from __future__ import annotations

import asyncio
import os
import random
import weakref
from dataclasses import dataclass

from . import ber
from .profiles import ABSENT


class SnmpError(Exception):
    pass


class SnmpTimeout(SnmpError):
    pass


@dataclass(frozen=True)
class Credentials:
    version: str = "3"  # "3" | "2c"
    community: str | None = None
    user: str | None = None
    auth_key: str | None = None
    priv_key: str | None = None
    auth_protocol: str = "SHA256"
    priv_protocol: str = "AES"
    context: str | None = None


def _oid_key(oid: str) -> tuple[int, ...]:
    return tuple(int(x) for x in oid.split("."))


# ---------------------------------------------------------------- the shared socket

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


async def _dispatcher() -> _Dispatcher:
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


class _PduVerbs:
    """GET/GETBULK/walk/SET over a session's `_request` (the v2c and v3 codecs differ only there)."""

    async def get(self, oids: list[str]) -> dict[str, object]:
        return await _batched_get(self, oids)

    async def _get_once(self, oids: list[str]) -> dict[str, object]:
        return {oid: val for oid, val, _t in await self._request(ber.GET, oids)}

    async def _bulk_once(self, oids: list[str], reps: int) -> list:
        return [(o, v) for o, v, _t in await self._request(ber.GETBULK, oids, 0, reps)]

    async def walk(self, roots: list[str]) -> dict[str, object]:
        return await _multi_walk(self, roots)

    async def set(self, pairs: list[tuple[str, object]]) -> dict[str, object]:
        vbs = await self._request(ber.SET, [o for o, _ in pairs], values=[v for _, v in pairs])
        return {o: v for o, v, _t in vbs}

    def close(self) -> None:
        pass


# ---------------------------------------------------------------- v2c

class V2cSession(_PduVerbs):
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
        d = await _dispatcher()
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
            raise _pdu_error(err, eidx, oids)
        return vbs

class PduError(SnmpError):
    def __init__(self, status: int, index: int, msg: str) -> None:
        super().__init__(msg)
        self.status = status
        self.index = index


_ERRORS = {1: "tooBig", 2: "noSuchName", 3: "badValue", 4: "readOnly", 5: "genErr", 6: "noAccess",
           7: "wrongType", 8: "wrongLength", 9: "wrongEncoding", 10: "wrongValue", 11: "noCreation",
           12: "inconsistentValue", 13: "resourceUnavailable", 14: "commitFailed", 15: "undoFailed",
           16: "authorizationError", 17: "notWritable", 18: "inconsistentName"}


def _pdu_error(err: int, eidx: int, oids: list[str]) -> PduError:
    where = f" at {oids[eidx - 1]}" if 0 < eidx <= len(oids) else ""
    return PduError(err, eidx, f"agent error {_ERRORS.get(err, err)}{where}")


async def _batched_get(session, oids: list[str]) -> dict[str, object]:
    out: dict[str, object] = {}
    size = session.max_get
    chunks = [oids[i:i + size] for i in range(0, len(oids), size)]
    while chunks:
        chunk = chunks.pop()
        try:
            out.update(await session._get_once(chunk))
        except PduError as e:
            if e.status == 1 and len(chunk) > 1:  # tooBig: halve the batch
                half = len(chunk) // 2
                chunks += [chunk[:half], chunk[half:]]
            elif e.status == 2 and len(chunk) > 1:  # v1-style noSuchName: drop the culprit
                bad = chunk[e.index - 1] if 0 < e.index <= len(chunk) else None
                out[bad] = ABSENT
                chunks.append([o for o in chunk if o != bad])
            elif e.status == 2:
                out[chunk[0]] = ABSENT
            else:
                raise
    return out


async def _multi_walk(session, roots: list[str]) -> dict[str, object]:
    """Walk several table columns at once: one GETBULK carries every unfinished column."""
    out: dict[str, object] = {}
    cursor = {r: r for r in roots}
    prefix = {r: r + "." for r in roots}
    while cursor:
        active = list(cursor)
        reps = max(1, session.max_bulk_varbinds // len(active))
        vbs = await session._bulk_once([cursor[r] for r in active], reps)
        n = len(active)
        done: set[str] = set()
        for i, (oid, val) in enumerate(vbs):
            root = active[i % n]
            if root in done:
                continue
            if val is ABSENT or not oid.startswith(prefix[root]) or oid in out:
                done.add(root)  # left the column, end of MIB, or an agent going round in circles
                continue
            out[oid] = val
            cursor[root] = oid
        if not vbs:
            done.update(active)
        for r in done:
            cursor.pop(r, None)
    return out


# ---------------------------------------------------------------- v3 (pysnmp)

_AUTH = {"MD5": "usmHMACMD5AuthProtocol", "SHA": "usmHMACSHAAuthProtocol",
         "SHA224": "usmHMAC128SHA224AuthProtocol", "SHA256": "usmHMAC192SHA256AuthProtocol",
         "SHA384": "usmHMAC256SHA384AuthProtocol", "SHA512": "usmHMAC384SHA512AuthProtocol"}
_PRIV = {"DES": "usmDESPrivProtocol", "AES": "usmAesCfb128Protocol", "AES128": "usmAesCfb128Protocol",
         "AES192": "usmAesCfb192Protocol", "AES256": "usmAesCfb256Protocol"}

_ENGINES: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, object]" = weakref.WeakKeyDictionary()


def _pysnmp_value(v):
    from pyasn1.type import univ
    from pysnmp.proto import rfc1902, rfc1905
    if isinstance(v, rfc1905.NoSuchObject | rfc1905.NoSuchInstance | rfc1905.EndOfMibView):
        return ABSENT
    if isinstance(v, univ.ObjectIdentifier):
        return str(v)
    if isinstance(v, rfc1902.IpAddress):
        return ".".join(str(b) for b in v.asOctets())
    if isinstance(v, univ.OctetString):
        return v.asOctets()
    if isinstance(v, univ.Integer):
        return int(v)
    if isinstance(v, univ.Null):
        return None
    return ABSENT


class V3Session:
    max_get = 40
    max_bulk_varbinds = 48

    def __init__(self, host: str, port: int, creds: Credentials, timeout: float = 2.0, retries: int = 1) -> None:
        import pysnmp.hlapi.v3arch.asyncio as h
        self.h = h
        self.host, self.port = host, port
        self.timeout, self.retries = timeout, retries
        self.requests = 0
        if creds.version == "3":
            if not (creds.user and creds.auth_key and creds.priv_key):
                raise SnmpError("SNMPv3 authPriv needs a user, an auth key and a priv key")
            self.auth = h.UsmUserData(
                creds.user, authKey=creds.auth_key, privKey=creds.priv_key,
                authProtocol=getattr(h, _AUTH[creds.auth_protocol.upper()]),
                privProtocol=getattr(h, _PRIV[creds.priv_protocol.upper()]))
        else:
            self.auth = h.CommunityData(creds.community or "public", mpModel=1)
        self.context = h.ContextData(contextName=(creds.context or "").encode())
        self._target = None

    async def _engine_target(self):
        loop = asyncio.get_running_loop()
        eng = _ENGINES.get(loop)
        if eng is None:
            eng = _ENGINES[loop] = self.h.SnmpEngine()
        if self._target is None:
            self._target = await self.h.UdpTransportTarget.create(
                (self.host, self.port), timeout=self.timeout, retries=self.retries)
        return eng, self._target

    def _check(self, err_ind, err_status, err_idx, oids):
        if err_ind:
            text = str(err_ind)
            if "timeout" in text.lower() or "No SNMP response" in text:
                raise SnmpTimeout(f"no response from {self.host}:{self.port}")
            raise SnmpError(f"{self.host}:{self.port}: {text}")
        if err_status:
            raise _pdu_error(int(err_status), int(err_idx), oids)

    async def _get_once(self, oids: list[str]) -> dict[str, object]:
        eng, tgt = await self._engine_target()
        h = self.h
        self.requests += 1
        e, s, i, vbs = await h.get_cmd(eng, self.auth, tgt, self.context,
                                       *[h.ObjectType(h.ObjectIdentity(o)) for o in oids], lookupMib=False)
        self._check(e, s, i, oids)
        return {str(vb[0]): _pysnmp_value(vb[1]) for vb in vbs}

    async def _bulk_once(self, oids: list[str], reps: int) -> list:
        eng, tgt = await self._engine_target()
        h = self.h
        self.requests += 1
        e, s, i, vbs = await h.bulk_cmd(eng, self.auth, tgt, self.context, 0, reps,
                                        *[h.ObjectType(h.ObjectIdentity(o)) for o in oids], lookupMib=False)
        self._check(e, s, i, oids)
        return [(str(vb[0]), _pysnmp_value(vb[1])) for vb in vbs]

    async def get(self, oids: list[str]) -> dict[str, object]:
        return await _batched_get(self, oids)

    async def walk(self, roots: list[str]) -> dict[str, object]:
        return await _multi_walk(self, roots)

    async def set(self, pairs: list[tuple[str, object]]) -> dict[str, object]:
        eng, tgt = await self._engine_target()
        h = self.h
        from pysnmp.proto import rfc1902
        vbs_in = []
        for o, v in pairs:
            if isinstance(v, tuple):
                tag, v = v
                v = {ber.T_INT: rfc1902.Integer32, ber.T_GAUGE32: rfc1902.Gauge32,
                     ber.T_COUNTER32: rfc1902.Counter32, ber.T_TIMETICKS: rfc1902.TimeTicks,
                     ber.T_OCTETS: rfc1902.OctetString}[tag](v)
            elif isinstance(v, int):
                v = rfc1902.Integer32(v)
            else:
                v = rfc1902.OctetString(v)
            vbs_in.append(h.ObjectType(h.ObjectIdentity(o), v))
        e, s, i, vbs = await h.set_cmd(eng, self.auth, tgt, self.context, *vbs_in, lookupMib=False)
        self._check(e, s, i, [o for o, _ in pairs])
        return {str(vb[0]): _pysnmp_value(vb[1]) for vb in vbs}

    def close(self) -> None:
        pass


def open_session(host: str, port: int, creds: Credentials, timeout: float = 2.0, retries: int = 1):
    """v2c and v3 authPriv with AES-128 use the direct codec; other v3 privacy protocols use pysnmp."""
    if os.environ.get("DCOPS_SNMP_PYSNMP") == "1":  # the pysnmp engine for everything (comparison, debugging)
        return V3Session(host, port, creds, timeout, retries)
    if creds.version == "2c":
        return V2cSession(host, port, creds.community or "public", timeout, retries)
    from . import usm
    if usm.supports(creds.auth_protocol, creds.priv_protocol):
        return usm.V3FastSession(host, port, creds, timeout, retries)
    return V3Session(host, port, creds, timeout, retries)
