"""SNMP notification receiver (v2c traps, v3 traps and informs) feeding the alert engine.

The sender is identified by, in order: the snmpTrapAddress varbind, the source address
(inventory mgmt_ip), the v2c community or v3 context name when it names a device (the
simulator does so: every agent shares 127.0.0.1). The trap OID is looked up in the sender's
profile (`traps:` section) and becomes an event for `AlertEngine.on_trap`.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from .profiles import Profile, TrapDef
from .snmp.pysnmp_v3 import AUTH, PRIV, pysnmp_value

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
        self.received: list[TrapEvent] = []
        self._engine = None
        self._transport = None
        self._last_community = ""

    async def start(self) -> None:
        from pysnmp.carrier.asyncio.dgram import udp
        from pysnmp.entity import config, engine
        from pysnmp.entity.rfc3413 import ntfrcv
        from pysnmp.proto.api import v2c

        eng = engine.SnmpEngine()
        self._transport = udp.UdpTransport().open_server_mode((self.host, self.port))
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

    def _callback(self, snmp_engine, state_ref, ctx_engine_id, ctx_name, varbinds, cb_ctx) -> None:
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
        self.received.append(ev)
        del self.received[:-1000]
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
