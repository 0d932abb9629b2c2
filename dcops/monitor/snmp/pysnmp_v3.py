"""SNMP through pysnmp 7's asyncio API (MIB lookups off): the slow reference engine, used for the
privacy protocols the fast path lacks and, with DCOPS_SNMP_PYSNMP=1, for everything (comparisons)."""
from __future__ import annotations

import asyncio
import weakref

from . import ber
from .ber import ABSENT
from .errors import Credentials, SnmpError, SnmpTimeout, pdu_error
from .verbs import batched_get, multi_walk


AUTH = {"MD5": "usmHMACMD5AuthProtocol", "SHA": "usmHMACSHAAuthProtocol",
         "SHA224": "usmHMAC128SHA224AuthProtocol", "SHA256": "usmHMAC192SHA256AuthProtocol",
         "SHA384": "usmHMAC256SHA384AuthProtocol", "SHA512": "usmHMAC384SHA512AuthProtocol"}
# AES192/AES256: the Blumenthal key extension (net-snmp's); AES192C/AES256C: Reeder's (Cisco's).
# pysnmp names them the other way round: its "usmAesCfb256Protocol" is the Reeder variant.
PRIV = {"DES": "usmDESPrivProtocol", "AES": "usmAesCfb128Protocol", "AES128": "usmAesCfb128Protocol",
        "AES192": "usmAesBlumenthalCfb192Protocol", "AES256": "usmAesBlumenthalCfb256Protocol",
        "AES192C": "usmAesCfb192Protocol", "AES256C": "usmAesCfb256Protocol"}

_ENGINES: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, object]" = weakref.WeakKeyDictionary()


def pysnmp_value(v):
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
        self.discarded = 0  # pysnmp discards bad answers itself, uncounted here
        if creds.version == "3":
            if not (creds.user and creds.auth_key and creds.priv_key):
                raise SnmpError("SNMPv3 authPriv needs a user, an auth key and a priv key")
            self.auth = h.UsmUserData(
                creds.user, authKey=creds.auth_key, privKey=creds.priv_key,
                authProtocol=getattr(h, AUTH[creds.auth_protocol.upper()]),
                privProtocol=getattr(h, PRIV[creds.priv_protocol.upper().replace('-', '')]))
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
            raise pdu_error(int(err_status), int(err_idx), oids)

    async def _get_once(self, oids: list[str]) -> dict[str, object]:
        eng, tgt = await self._engine_target()
        h = self.h
        self.requests += 1
        e, s, i, vbs = await h.get_cmd(eng, self.auth, tgt, self.context,
                                       *[h.ObjectType(h.ObjectIdentity(o)) for o in oids], lookupMib=False)
        self._check(e, s, i, oids)
        return {str(vb[0]): pysnmp_value(vb[1]) for vb in vbs}

    async def _bulk_once(self, oids: list[str], reps: int) -> list:
        eng, tgt = await self._engine_target()
        h = self.h
        self.requests += 1
        e, s, i, vbs = await h.bulk_cmd(eng, self.auth, tgt, self.context, 0, reps,
                                        *[h.ObjectType(h.ObjectIdentity(o)) for o in oids], lookupMib=False)
        self._check(e, s, i, oids)
        return [(str(vb[0]), pysnmp_value(vb[1])) for vb in vbs]

    async def get(self, oids: list[str]) -> dict[str, object]:
        return await batched_get(self, oids)

    async def walk(self, roots: list[str]) -> dict[str, object]:
        return await multi_walk(self, roots)

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
        return {str(vb[0]): pysnmp_value(vb[1]) for vb in vbs}

    def close(self) -> None:
        pass
