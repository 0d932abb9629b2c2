"""SNMP notification receiver (v2c traps, v3 traps and informs) feeding the alert engine.

The sender is identified by, in order: the snmpTrapAddress varbind, the source address
(inventory mgmt_ip), the v2c community or v3 context name when it names a device (the
simulator does so: every agent shares 127.0.0.1). The trap OID is looked up in the sender's
profile (`traps:` section) and becomes an event for `AlertEngine.on_trap`.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from dataclasses import dataclass, field

from .profiles import Profile, TrapDef
from .snmp.pysnmp_v3 import AUTH, PRIV, pysnmp_value

log = logging.getLogger("dcops.monitor.traps")

#: Notification datagrams of this process by outcome (all receivers), exported on /metrics.
TRAP_STATS: Counter = Counter()

SNMP_TRAP_OID = "1.3.6.1.6.3.1.1.4.1.0"
SNMP_TRAP_ADDRESS = "1.3.6.1.6.3.18.1.3.0"


@dataclass
class TrapUser:
    user: str
    auth_key: str
    priv_key: str
    auth_protocol: str = "SHA256"
    priv_protocol: str = "AES"
    engine_ids: tuple[str, ...] = ()  # hex; a v3 *trap* sender's engine id must be known (informs need none)


@dataclass
class TrapEvent:
    device: str | None
    source: str
    trap_oid: str
    event: str | None
    severity: str
    clears: str | None
    varbinds: dict = field(default_factory=dict)


class _Bucket:
    __slots__ = ("tokens", "last")

    def __init__(self, burst: float, now: float) -> None:
        self.tokens, self.last = burst, now


class RateLimit:
    """Token buckets by key (source address, device): `rate` per second, bursts of `burst`.
    Bounded memory: the table is cleared when it holds `max_keys` keys (a spoofed-source flood)."""

    def __init__(self, rate: float, burst: float, max_keys: int = 10_000) -> None:
        self.rate, self.burst, self.max_keys = rate, burst, max_keys
        self._b: dict = {}

    def admit(self, key, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        b = self._b.get(key)
        if b is None:
            if len(self._b) >= self.max_keys:
                self._b.clear()
            b = self._b[key] = _Bucket(self.burst, now)
        b.tokens = min(self.burst, b.tokens + (now - b.last) * self.rate)
        b.last = now
        if b.tokens >= 1:
            b.tokens -= 1
            return True
        return False


def _guarded_transport(receiver: "TrapReceiver"):
    """pysnmp's UDP server transport with a cheap gate in front: a flood from one source, or bytes
    that are not even a BER SEQUENCE, are counted and dropped before pysnmp spends ~1 ms decoding."""
    from pysnmp.carrier.asyncio.dgram import udp

    class GuardedUdp(udp.UdpTransport):
        def datagram_received(self, datagram, transportAddress):
            if receiver.gate(datagram, transportAddress):
                super().datagram_received(datagram, transportAddress)

    return GuardedUdp()


class TrapReceiver:
    def __init__(self, on_event, host: str = "127.0.0.1", port: int = 162, communities: tuple[str, ...] = (),
                 users: tuple[TrapUser, ...] = (), device_by_addr: dict[str, str] | None = None,
                 profile_of: dict[str, Profile] | None = None, known_devices: set[str] | None = None) -> None:
        self.on_event = on_event
        self.host, self.port = host, port
        self.communities = communities
        self.users = users
        self.device_by_addr = device_by_addr or {}
        self.profile_of = profile_of or {}
        self.known = set(known_devices or ()) | set(self.profile_of)
        self.received: list[TrapEvent] = []  # the last `keep` events (bounded)
        self.keep = 1000
        #: datagrams: received, dropped_rate (source flood), dropped_malformed, dropped_device_rate, errors
        self.stats: Counter = Counter()
        self.by_source = RateLimit(rate=20, burst=40)  # datagrams per source address (pysnmp costs ~1 ms each)
        self.by_device = RateLimit(rate=1, burst=30)  # events handed to the alert engine per device
        self._last_warning: dict[str, float] = {}
        self._engine = None
        self._transport = None
        self._last_community = ""

    async def start(self) -> None:
        from pysnmp.carrier.asyncio.dgram import udp
        from pysnmp.entity import config, engine
        from pysnmp.entity.rfc3413 import ntfrcv
        from pysnmp.proto.api import v2c

        eng = engine.SnmpEngine()
        self._transport = _guarded_transport(self).open_server_mode((self.host, self.port))
        config.add_transport(eng, udp.DOMAIN_NAME, self._transport)
        for i, comm in enumerate(self.communities):
            config.add_v1_system(eng, f"dcops-area-{i}", comm)
        import pysnmp.hlapi.v3arch.asyncio as h
        for u in self.users:
            auth = getattr(h, AUTH[u.auth_protocol.upper()])
            priv = getattr(h, PRIV[u.priv_protocol.upper()])
            config.add_v3_user(eng, u.user, auth, u.auth_key, priv, u.priv_key)  # informs
            for eid in u.engine_ids:
                config.add_v3_user(eng, u.user, auth, u.auth_key, priv, u.priv_key,
                                   securityEngineId=v2c.OctetString(hexValue=eid.removeprefix("0x")))
        def remember_community(_eng, _execpoint, variables, _ctx):
            c = variables.get("communityName", b"")
            self._last_community = bytes(c).decode(errors="replace") if c else ""

        eng.observer.register_observer(remember_community, "rfc2576.processIncomingMsg")
        ntfrcv.NotificationReceiver(eng, self._callback)
        self._engine = eng

    @property
    def bound_port(self) -> int:
        t = self._transport.transport if self._transport else None
        return t.get_extra_info("sockname")[1] if t else self.port

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close_dispatcher()
            self._engine = None

    def gate(self, datagram: bytes, addr) -> bool:
        """First look at a datagram: True to let pysnmp decode it."""
        self._count("received")
        source = str(addr[0])
        if not datagram or datagram[0] != 0x30:
            self._count("dropped_malformed")
            self._warn(source, "malformed datagrams")
            return False
        if not self.by_source.admit(source):
            self._count("dropped_rate")
            self._warn(source, "a trap flood (rate limited)")
            return False
        return True

    def _count(self, what: str) -> None:
        self.stats[what] += 1
        TRAP_STATS[what] += 1

    def _warn(self, key: str, what: str) -> None:
        """At most one log line per source and minute, with the running counts."""
        now = time.monotonic()
        if now - self._last_warning.get(key, -1e9) >= 60:
            if len(self._last_warning) > 10_000:
                self._last_warning.clear()
            self._last_warning[key] = now
            log.warning("trap receiver: %s from %s (counts so far: %s)", what, key, dict(self.stats))

    def _callback(self, snmp_engine, state_ref, ctx_engine_id, ctx_name, varbinds, cb_ctx) -> None:
        try:
            self._handle(snmp_engine, state_ref, ctx_name, varbinds)
        except Exception as e:  # noqa: BLE001 - a trap we cannot read must not kill the receiver
            self._count("errors")
            self._warn("callback", f"an unreadable notification ({type(e).__name__}: {e})")

    def _handle(self, snmp_engine, state_ref, ctx_name, varbinds) -> None:
        try:
            _dom, addr = snmp_engine.message_dispatcher.get_transport_info(state_ref)
            source = str(addr[0])
        except Exception:  # noqa: BLE001
            source = "?"
        vb = {str(o): pysnmp_value(v) for o, v in varbinds}
        trap_oid = str(vb.get(SNMP_TRAP_OID, ""))
        community, self._last_community = self._last_community, ""
        ctx = bytes(ctx_name).decode(errors="replace") if ctx_name else ""
        device = self._device(vb, source, community, ctx)
        tdef = self._trapdef(device, trap_oid)
        ev = TrapEvent(device, source, trap_oid, tdef.event if tdef else None,
                       tdef.severity if tdef else "info", tdef.clears if tdef else None, vb)
        if not self.by_device.admit(device or source):
            self._count("dropped_device_rate")
            self._warn(device or source, "too many notifications for one device (rate limited)")
            return
        self.received.append(ev)
        del self.received[:-self.keep]
        res = self.on_event(ev)
        if asyncio.iscoroutine(res):
            asyncio.ensure_future(res)

    def _device(self, vb: dict, source: str, community: str, ctx: str) -> str | None:
        addr = vb.get(SNMP_TRAP_ADDRESS)
        if isinstance(addr, str) and addr in self.device_by_addr:
            return self.device_by_addr[addr]
        for name in (ctx, community):
            if name and name in self.known:
                return name
        return self.device_by_addr.get(source)

    def _trapdef(self, device: str | None, trap_oid: str) -> TrapDef | None:
        if device and device in self.profile_of:
            t = self.profile_of[device].traps.get(trap_oid)
            if t:
                return t
        for prof in self.profile_of.values():
            if trap_oid in prof.traps:
                return prof.traps[trap_oid]
        return None
